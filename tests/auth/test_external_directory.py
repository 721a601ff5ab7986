"""Sign-in against a plugin's directory through GraphQL (signInMethods, signInWithDirectory,
completeExternalSignIn), with a small DirectoryProvider from a test plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from licheng.auth import directory as auth_directory
from licheng.auth import external
from licheng.auth.models import DirectoryThrottle, ExternalLogin
from licheng.plugins import DirectoryProvider, ExternalIdentity, Plugin, PluginSettings, hookimpl
from licheng.plugins.manager import get_manager
from licheng.plugins.models import InstalledPlugin, PluginHealth
from licheng.plugins.service import set_enabled, sync_catalogue
from licheng.tenants import nationalid
from licheng.tenants.models import Guardianship, Membership, Role


def _valid(value: str) -> bool:
    try:
        nationalid.normalise(value)
    except Exception:  # noqa: BLE001
        return False
    return True


def _protect(settings: Any, value: str) -> dict[str, Any]:
    return nationalid.protect(value, data_key=settings.data_key_bytes, lookup_key=settings.lookup_key_bytes)

METHODS = "query($s: String!) { signInMethods(schoolCode: $s) { providerId labelZh labelEn kind startUrl } }"
SIGN_IN = """mutation($s: String!, $p: String!, $l: String!, $w: String!) {
  signInWithDirectory(schoolCode: $s, providerId: $p, login: $l, password: $w) {
    tokens { accessToken } choices { code name } choiceToken } }"""
COMPLETE = "mutation($t: String!, $s: String!) { completeExternalSignIn(choiceToken: $t, schoolCode: $s) { accessToken } }"
VIEWER = "{ viewer { roles school { code } } }"


class Directory(Plugin):
    """A directory of (login, password) -> identity the tests fill; ``down`` makes it fail."""

    id = "test_directory"
    name = "Directory"
    settings_model = PluginSettings

    def __init__(self) -> None:
        self.people: dict[tuple[str, str], ExternalIdentity] = {}
        self.down = False
        self.delay = 0.0
        self.asked = 0

    async def authenticate(self, login: str, password: str) -> ExternalIdentity | None:
        self.asked += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionRefusedError("directory at 127.0.0.1:1 refused")
        return self.people.get((login, password))

    @hookimpl
    def licheng_identity_providers(self, config: PluginSettings) -> list[DirectoryProvider]:
        return [DirectoryProvider("ldap", "校園目錄", "School directory", self.authenticate)]


@pytest.fixture
def directory(app: Any) -> Iterator[Directory]:
    plugin = Directory()
    manager = get_manager()
    manager.register(plugin)
    yield plugin
    manager.unregister(plugin.id)


async def _schools(factory: Any, count: int = 2) -> list[Any]:
    manager = get_manager()
    await sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id="test_directory").update(available=True)
    bureau = await factory.bureau()
    schools = [await factory.school(bureau) for _ in range(count + 1)]
    admin = await factory.bureau_admin(bureau)
    await set_enabled(await admin.actor(), manager, bureau.id, "test_directory", enabled=True, school_ids=[s.id for s in schools[:count]])
    return schools


def _student(school: Any, number: str, subject: str) -> ExternalIdentity:
    return ExternalIdentity(subject=subject, login=subject, name="王小明", roles=("student",),
                            school_codes=(school.code,), student_number=number)  # fmt: skip


async def test_a_school_lists_the_methods_its_plugins_offer_and_others_list_none(directory: Directory, factory, gql) -> None:
    a, b, off = await _schools(factory)
    methods = (await gql.ok(METHODS, {"s": a.code}))["signInMethods"]
    assert methods == [{"providerId": "ldap", "labelZh": "校園目錄", "labelEn": "School directory", "kind": "DIRECTORY", "startUrl": None}]
    assert (await gql.ok(METHODS, {"s": off.code}))["signInMethods"] == []
    assert (await gql.ok(METHODS, {"s": "nope"}))["signInMethods"] == []


async def test_directory_sign_in_links_the_student_and_issues_our_tokens(directory: Directory, factory, gql) -> None:
    a, _, _ = await _schools(factory)
    member = await factory.member(a, Role.STUDENT, name="王小明")
    directory.people[("wang", "right")] = _student(a, member.person.student_number, "dir-wang-" + a.code)
    data = await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": "wang", "w": "right"})
    tokens = data["signInWithDirectory"]["tokens"]
    gql.token = tokens["accessToken"]
    viewer = (await gql.ok(VIEWER))["viewer"]
    assert viewer == {"roles": ["STUDENT"], "school": {"code": a.code}}
    assert await ExternalLogin.exists(provider_id="ldap", person_id=member.person.id)


async def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_login(directory: Directory, factory, gql, settings) -> None:
    a, _, _ = await _schools(factory)
    variables = {"s": a.code, "p": "ldap", "l": "guess", "w": "wrong"}
    for _ in range(settings.max_failed_sign_ins):
        assert await gql.error_code(SIGN_IN, variables) == "SIGN_IN_FAILED"
    assert await gql.error_code(SIGN_IN, variables) == "ACCOUNT_LOCKED"
    # Another login at the same school is not locked by it.
    assert await gql.error_code(SIGN_IN, {**variables, "l": "other"}) == "SIGN_IN_FAILED"
    # The count lives in the database (every web pod sees it), under a keyed hash: no login in the clear.
    assert await DirectoryThrottle.exists(failures=settings.max_failed_sign_ins)
    assert not await DirectoryThrottle.filter(key__contains="guess").exists()


async def test_the_lock_counts_one_login_across_every_school_of_the_bureau(directory: Directory, factory, gql, settings) -> None:
    a, b, _ = await _schools(factory)
    for i in range(settings.max_failed_sign_ins):
        school = (a, b)[i % 2]  # the directory is city-wide: switching schools does not give fresh attempts
        assert await gql.error_code(SIGN_IN, {"s": school.code, "p": "ldap", "l": "roam", "w": "wrong"}) == "SIGN_IN_FAILED"
    for school in (a, b):
        assert await gql.error_code(SIGN_IN, {"s": school.code, "p": "ldap", "l": "ROAM", "w": "wrong"}) == "ACCOUNT_LOCKED"


async def test_concurrent_guesses_cannot_pass_the_limit(directory: Directory, factory, gql, settings) -> None:
    a, _, _ = await _schools(factory)
    directory.delay = 0.05  # every guess is in flight at the same time
    variables = {"s": a.code, "p": "ldap", "l": "burst", "w": "wrong"}
    codes = await asyncio.gather(*(gql.error_code(SIGN_IN, variables) for _ in range(settings.max_failed_sign_ins + 4)))
    assert codes.count("SIGN_IN_FAILED") == settings.max_failed_sign_ins and codes.count("ACCOUNT_LOCKED") == 4
    assert directory.asked == settings.max_failed_sign_ins  # the locked ones never reached the directory


async def test_one_address_spraying_many_logins_is_locked(directory: Directory, factory, gql, monkeypatch) -> None:
    a, _, _ = await _schools(factory)
    monkeypatch.setattr(auth_directory, "MAX_ADDRESS_FAILURES", 3)
    codes = [await gql.error_code(SIGN_IN, {"s": a.code, "p": "ldap", "l": f"spray{i}", "w": "wrong"}) for i in range(4)]
    assert codes == ["SIGN_IN_FAILED"] * 3 + ["ACCOUNT_LOCKED"]


async def test_a_failing_directory_is_a_clear_error_and_recorded_in_the_plugin_health(directory: Directory, factory, gql) -> None:
    a, _, _ = await _schools(factory)
    directory.down = True
    result = await gql.execute(SIGN_IN, {"s": a.code, "p": "ldap", "l": "wang", "w": "secret-pass-9"})
    error = result["errors"][0]
    assert error["extensions"]["code"] == "EXTERNAL_PROVIDER_UNAVAILABLE" and "secret-pass-9" not in str(result)
    health = await PluginHealth.get(plugin_id="test_directory", hook="identity_provider:ldap", school_id=a.id)
    assert not health.ok and "secret-pass-9" not in health.error_message


async def test_a_provider_not_offered_at_the_school_is_not_found(directory: Directory, factory, gql) -> None:
    _, _, off = await _schools(factory)
    assert await gql.error_code(SIGN_IN, {"s": off.code, "p": "ldap", "l": "a", "w": "b"}) == "NOT_FOUND"


async def test_a_student_number_is_not_linked_when_the_identity_names_two_schools(directory: Directory, factory, gql) -> None:
    # A student number is unique only inside a school: school B's student with the same number is someone else.
    a, b, _ = await _schools(factory)
    first = await factory.member(a, Role.STUDENT, name="王")
    second = await factory.member(b, Role.STUDENT, name="王", student_number=first.person.student_number)
    directory.people[("two", "pw")] = ExternalIdentity(subject="dir-two-" + a.code, login="two", name="王", roles=("student",),
                                                       school_codes=(a.code, b.code), student_number=first.person.student_number)  # fmt: skip
    assert await gql.error_code(SIGN_IN, {"s": a.code, "p": "ldap", "l": "two", "w": "pw"}) == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert not await ExternalLogin.filter(person_id__in=[first.person.id, second.person.id]).exists()


async def _teacher_in_two_schools(directory: Directory, factory, settings, a, b, **identity: Any) -> tuple[Any, Any, str]:
    idno = next(f"A1{n:08d}" for n in range(a.id, a.id + 100) if _valid(f"A1{n:08d}"))
    first = await factory.member(a, Role.TEACHER, name="兩校老師", **_protect(settings, idno))
    second = await factory.member(b, Role.TEACHER, name="兩校老師", **_protect(settings, idno))
    subject = "dir-t-" + a.code
    directory.people[(subject, "pw")] = ExternalIdentity(subject=subject, login=subject, name="兩校老師", roles=("teacher",),
                                                         school_codes=(a.code, b.code), national_id=idno, **identity)  # fmt: skip
    return first, second, subject


async def test_a_teacher_in_two_schools_chooses_through_graphql_once(directory: Directory, factory, gql, settings) -> None:
    a, b, _ = await _schools(factory)
    first, second, login = await _teacher_in_two_schools(directory, factory, settings, a, b)
    result = (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": login, "w": "pw"}))["signInWithDirectory"]
    assert result["tokens"] is None and sorted(c["code"] for c in result["choices"]) == sorted([a.code, b.code])
    token = result["choiceToken"]
    assert await gql.error_code(COMPLETE, {"t": token, "s": "999999"}) == "EXTERNAL_CHOICE_INVALID"
    assert await gql.error_code(COMPLETE, {"t": token + "x", "s": b.code}) == "EXTERNAL_CHOICE_INVALID"
    gql.token = (await gql.ok(COMPLETE, {"t": token, "s": b.code}))["completeExternalSignIn"]["accessToken"]
    assert (await gql.ok(VIEWER))["viewer"] == {"roles": ["TEACHER"], "school": {"code": b.code}}
    gql.token = None
    assert await gql.error_code(COMPLETE, {"t": token, "s": a.code}) == "EXTERNAL_CHOICE_INVALID"


async def test_a_choice_naming_a_school_outside_the_token_or_expired_is_refused(directory: Directory, factory, gql, settings, monkeypatch) -> None:
    a, b, c = await _schools(factory)
    await set_enabled(await (await factory.bureau_admin(await a.bureau)).actor(), get_manager(), a.bureau_id, "test_directory",
                      enabled=True, school_ids=[a.id, b.id, c.id])  # fmt: skip
    first, _, login = await _teacher_in_two_schools(directory, factory, settings, a, b)
    await factory.member(c, Role.TEACHER, name="兩校老師")  # c: same bureau, never vouched for
    token = (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": login, "w": "pw"}))["signInWithDirectory"]["choiceToken"]
    assert await gql.error_code(COMPLETE, {"t": token, "s": c.code}) == "EXTERNAL_CHOICE_INVALID"
    monkeypatch.setattr(external, "CHOICE_SECONDS", -1)
    expired = (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": login, "w": "pw"}))["signInWithDirectory"]["choiceToken"]
    assert await gql.error_code(COMPLETE, {"t": expired, "s": a.code}) == "EXTERNAL_CHOICE_INVALID"


async def test_a_choice_at_a_school_that_stopped_offering_the_provider_is_refused(directory: Directory, factory, gql, settings) -> None:
    a, b, _ = await _schools(factory)
    _, _, login = await _teacher_in_two_schools(directory, factory, settings, a, b)
    token = (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": login, "w": "pw"}))["signInWithDirectory"]["choiceToken"]
    admin = await (await factory.bureau_admin(await a.bureau)).actor()
    await set_enabled(admin, get_manager(), a.bureau_id, "test_directory", enabled=True, school_ids=[a.id])
    assert await gql.error_code(COMPLETE, {"t": token, "s": b.code}) == "EXTERNAL_CHOICE_INVALID"


async def test_a_tutor_class_is_never_a_homeroom_when_the_identity_names_two_schools(directory: Directory, factory, gql, settings) -> None:
    a, b, _ = await _schools(factory)
    classes = [await factory.school_class(s, code="101") for s in (a, b)]
    first, second, login = await _teacher_in_two_schools(directory, factory, settings, a, b, tutor_class="101")
    token = (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": login, "w": "pw"}))["signInWithDirectory"]["choiceToken"]
    assert (await gql.ok(COMPLETE, {"t": token, "s": a.code}))["completeExternalSignIn"]["accessToken"]
    assert not await Membership.filter(role=Role.HOMEROOM, school_class_id__in=[c.id for c in classes]).exists()


async def test_a_tutor_class_in_one_school_moves_the_homeroom_it_granted(directory: Directory, factory, gql, settings) -> None:
    a, _, _ = await _schools(factory)
    old, new = await factory.school_class(a, code="101"), await factory.school_class(a, code="102")
    teacher = await factory.member(a, Role.TEACHER, **_protect(settings, "F131104093"))
    identity = dict(subject="dir-h-" + a.code, login="h", name="導師", roles=("teacher",), school_codes=(a.code,), national_id="F131104093")
    directory.people[("h", "pw")] = ExternalIdentity(**identity, tutor_class="101")
    assert (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": "h", "w": "pw"}))["signInWithDirectory"]["tokens"]
    directory.people[("h", "pw")] = ExternalIdentity(**identity, tutor_class="102")
    assert (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": "h", "w": "pw"}))["signInWithDirectory"]["tokens"]
    rows = await Membership.filter(person_id=teacher.person.id, role=Role.HOMEROOM).values_list("school_class_id", flat=True)
    assert rows == [new.id] and old.id not in rows


async def test_a_parents_child_linked_in_another_school_gives_no_guardianship_here(directory: Directory, factory, gql, settings) -> None:
    a, b, _ = await _schools(factory)
    child = await factory.member(b, Role.STUDENT)
    await ExternalLogin.create(school=b, person=child.person, provider_id="ldap", subject="kid-" + b.code, linked_by="student_number")
    parent = await factory.member(a, Role.PARENT, **_protect(settings, "A123456789"))
    directory.people[("p", "pw")] = ExternalIdentity(subject="par-" + a.code, login="p", name="家長", roles=("parent",),
                                                     school_codes=(a.code,), children=("kid-" + b.code,), national_id="A123456789")  # fmt: skip
    assert (await gql.ok(SIGN_IN, {"s": a.code, "p": "ldap", "l": "p", "w": "pw"}))["signInWithDirectory"]["tokens"]
    assert not await Guardianship.filter(parent_id=parent.person.id).exists()


async def test_concurrent_first_sign_ins_of_a_person_without_an_account_share_one_new_account(directory: Directory, factory, gql) -> None:
    from licheng.auth.models import Account
    from licheng.tenants.models import Person

    a, _, _ = await _schools(factory)
    person = await Person.create(school=a, name="併發新生" + a.code, student_number="R" + a.code)
    await Membership.create(school=a, person=person, role=Role.STUDENT)
    directory.people[("race", "pw")] = ExternalIdentity(subject="race-" + a.code, login="race", name=person.name, roles=("student",),
                                                        school_codes=(a.code,), student_number=person.student_number)  # fmt: skip
    directory.delay = 0.02
    results = await asyncio.gather(*(gql.execute(SIGN_IN, {"s": a.code, "p": "ldap", "l": "race", "w": "pw"}) for _ in range(3)))
    assert all((r.get("data") or {}).get("signInWithDirectory") for r in results), results  # nobody gets a 500
    account_id = (await Person.get(id=person.id)).account_id
    assert await Account.filter(display_name=person.name).values_list("id", flat=True) == [account_id]
