"""Isolation cases for external sign-in (see tests/graphql/test_isolation.py).

School B's bureau enables Taipei's single sign-on with a client secret; school A's
intruder asks for B's sign-in methods (public, but never B's secret or people).
Bureau A (the intruder's own) runs a directory it controls: it answers with an
identity naming school B and B's student, which must link nobody in B; and a
valid choice token for two of bureau A's schools must not open school B, even
when B holds a link for the same subject.
"""

from __future__ import annotations

from typing import Any

from licheng.auth import directory
from licheng.auth.models import ExternalLogin
from licheng.plugins import DirectoryProvider, ExternalIdentity, Plugin, PluginSettings, configs, hookimpl, service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import InstalledPlugin
from licheng.tenants import nationalid
from licheng.tenants.models import Role
from tests.graphql.isolation import Case, World

PLUGIN = "taipei_coolcloud"
SECRET = "b" * 30 + "sso-secret"
DIRECTORY = "isolation_directory"
IDNO = "A123456789"


class _Directory(Plugin):
    """Bureau A's own directory: it says whatever bureau A wants."""

    id = DIRECTORY
    name = "Isolation directory"
    settings_model = PluginSettings

    def __init__(self, people: dict[str, ExternalIdentity]) -> None:
        self.people = people

    async def authenticate(self, login: str, password: str) -> ExternalIdentity | None:
        return self.people.get(login)

    @hookimpl
    def licheng_identity_providers(self, config: PluginSettings) -> list[DirectoryProvider]:
        return [DirectoryProvider("tpedu", "目錄", "Directory", self.authenticate)]


async def _sso_at_b(w: World) -> dict:
    if "sso_b" not in w.extra:
        manager = get_manager()
        await service.sync_catalogue(manager)
        await InstalledPlugin.filter(plugin_id=PLUGIN).update(available=True)
        admin_b = await (await w.factory.bureau_admin(w.bureau_b)).actor()
        await service.set_enabled(admin_b, manager, w.bureau_b.id, PLUGIN, enabled=True, school_ids=[w.school_b.id])
        await configs.update_settings(admin_b, manager, PLUGIN, {"sso_client_id": "7", "sso_client_secret": SECRET},
                                      bureau_id=w.bureau_b.id)  # fmt: skip
        w.extra["sso_b"] = True
    return {"s": w.school_b.code, "l": w.student_b.login, "student": w.student_b.person.student_number}


async def _directory_at_a(w: World) -> dict[str, Any]:
    """Bureau A's directory, enabled at A and a second school of A; a teacher of both schools."""
    manager = get_manager()
    people: dict[str, ExternalIdentity] = {}
    plugin = _Directory(people)
    manager.register(plugin)
    w.extra["directory"] = plugin
    await service.sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id=DIRECTORY).update(available=True)
    a2 = await w.factory.school(w.bureau_a)
    admin_a = await (await w.factory.bureau_admin(w.bureau_a)).actor()
    await service.set_enabled(admin_a, manager, w.bureau_a.id, DIRECTORY, enabled=True, school_ids=[w.school_a.id, a2.id])
    hashed = nationalid.protect(IDNO, data_key=w.factory.settings.data_key_bytes, lookup_key=w.factory.settings.lookup_key_bytes)
    for school in (w.school_a, a2):
        await w.factory.member(school, Role.TEACHER, name="甲校老師", **hashed)
    student = w.student_b.person
    people["forged"] = ExternalIdentity(subject="forged-" + w.school_b.code, login="forged", name=student.name, roles=("student",),
                                        school_codes=(w.school_b.code,), student_number=student.student_number)  # fmt: skip
    subject = "teacher-" + w.school_a.code
    people["teacher"] = ExternalIdentity(subject=subject, login="teacher", name="甲校老師", roles=("teacher",),
                                         school_codes=(w.school_a.code, a2.code), national_id=IDNO)  # fmt: skip
    # School B holds a link for the same provider id and subject (another bureau's provider, same ids).
    await ExternalLogin.create(school=w.school_b, person=w.student_b.person, provider_id="tpedu", subject=subject, linked_by="national_id")
    return {"a": w.school_a.code, "b": w.school_b.code}


async def _choice_token_of_a(w: World) -> dict[str, Any]:
    variables = await _directory_at_a(w)
    result = await directory.sign_in_with_directory(w.factory.settings, w.school_a.code, "tpedu", "teacher", "pw")
    assert result.choice_token and len(result.choices) == 2  # a real, unused choice token for A's two schools
    return {**variables, "t": result.choice_token}


def _secrets(w: World) -> list[str]:
    return [SECRET, SECRET[-4:], w.school_b.name, w.student_b.person.name, w.student_b.login]


async def _nothing_linked_in_b(w: World) -> None:
    plugin = w.extra.pop("directory", None)
    if plugin is not None:
        get_manager().unregister(plugin.id)
    links = await ExternalLogin.filter(school_id=w.school_b.id).values_list("subject", flat=True)
    assert all(not str(s).startswith("forged-") for s in links)
    assert not await ExternalLogin.filter(school_id=w.school_b.id, last_sign_in_at__isnull=False).exists()


CASES: dict[str, Case] = {
    "Query.signInMethods": Case(
        "query($s: String!) { signInMethods(schoolCode: $s) { providerId labelZh labelEn kind startUrl } }",
        _sso_at_b, _secrets,
    ),
    "Mutation.signInWithDirectory": Case(
        """mutation($a: String!) { signInWithDirectory(schoolCode: $a, providerId: "tpedu", login: "forged", password: "Passw0rdOK") {
             tokens { accessToken } choices { code name } choiceToken } }""",
        _directory_at_a, _secrets, _nothing_linked_in_b,
    ),
    "Mutation.completeExternalSignIn": Case(
        "mutation($t: String!, $b: String!) { completeExternalSignIn(choiceToken: $t, schoolCode: $b) { accessToken } }",
        _choice_token_of_a, _secrets, _nothing_linked_in_b,
    ),
}
