"""Directory sign-in end to end: GraphQL ``signInWithDirectory`` -> the core -> the LDAP provider -> slapd."""

from __future__ import annotations

import time
from typing import Any

import pytest

from licheng.auth.models import ExternalLogin
from licheng.plugins import configs, service
from licheng.plugins.manager import PluginManager
from licheng.tenants.models import Role
from taipei_coolcloud.ldap import PROVIDER_ID
from tests.plugins.conftest import make_available
from tests.plugins.taipei.ldap import slapd
from tests.plugins.taipei.ldap.conftest import Directory

SIGN_IN = """mutation($school: String!, $provider: String!, $login: String!, $password: String!) {
  signInWithDirectory(schoolCode: $school, providerId: $provider, login: $login, password: $password) {
    tokens { accessToken } choices { code } } }"""
PLUGIN = "taipei_coolcloud"


@pytest.fixture
async def school(factory: Any, manager: PluginManager, directory: Directory) -> Any:
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    admin = await (await factory.bureau_admin(bureau)).actor()
    await make_available(manager, PLUGIN)
    await service.set_enabled(admin, manager, bureau.id, PLUGIN, enabled=True, school_ids=[school.id])
    await configs.update_settings(admin, manager, PLUGIN, {
        "ldap_servers": directory.server.uri, "ldap_bind_dn": slapd.READER_DN, "ldap_bind_password": directory.reader_password,
        "ldap_receive_timeout": 1, "ldap_connect_timeout": 1.0, "sso_school_codes": f"tpsh={school.code}",
    }, bureau_id=bureau.id)  # fmt: skip
    school.admin = admin
    return school


def variables(school: Any, login: str, password: str) -> dict[str, str]:
    return {"school": school.code, "provider": PROVIDER_ID, "login": login, "password": password}


async def test_a_student_signs_in_with_the_directory_and_is_linked_by_student_number(
    gql: Any, factory: Any, school: Any, directory: Directory
) -> None:
    member = await factory.member(school, Role.STUDENT, student_number="112001", name="王小明")
    who = directory.people["student"]
    data = await gql.anonymous().ok(SIGN_IN, variables(school, who.login, who.password))
    token = data["signInWithDirectory"]["tokens"]["accessToken"]
    client = gql.anonymous()
    client.token = token
    viewer = (await client.ok("{ viewer { roles school { code } } }"))["viewer"]
    assert viewer == {"roles": ["STUDENT"], "school": {"code": school.code}}
    assert await ExternalLogin.filter(person_id=member.person.id, provider_id=PROVIDER_ID).exists()


async def test_a_wrong_password_over_graphql_is_the_ordinary_sign_in_failure(gql: Any, school: Any, directory: Directory) -> None:
    who = directory.people["student"]
    code = await gql.anonymous().error_code(SIGN_IN, variables(school, who.login, "wrong-" + who.password))
    assert code == "SIGN_IN_FAILED"


async def test_an_inactive_person_over_graphql_is_refused_with_the_directorys_reason(gql: Any, school: Any, directory: Directory) -> None:
    who = directory.people["inactive"]
    assert await gql.anonymous().error_code(SIGN_IN, variables(school, who.login, who.password)) == "DIRECTORY_ACCOUNT_REFUSED"


async def test_a_directory_that_is_down_is_a_clear_error_over_graphql(
    gql: Any, school: Any, manager: PluginManager, directory: Directory
) -> None:
    await configs.update_settings(school.admin, manager, PLUGIN, {"ldap_servers": f"ldap://127.0.0.1:{slapd.free_port()}"},
                                  bureau_id=school.bureau_id)  # fmt: skip
    started = time.monotonic()
    result = await gql.anonymous().execute(SIGN_IN, variables(school, "stu1001", "some-password"))
    assert result["errors"][0]["extensions"]["code"] == "DIRECTORY_UNAVAILABLE" and time.monotonic() - started < 3
    assert "some-password" not in str(result)
