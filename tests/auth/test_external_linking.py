"""The core's linking rules for an external identity, at the service level (one school, no plugin)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from licheng.auth import external, sealed, service, tokens
from licheng.auth.models import Account, ExternalLogin
from licheng.errors import LichengError
from licheng.plugins import DirectoryProvider, ExternalIdentity
from licheng.tenants import nationalid
from licheng.tenants.models import BureauAdmin, Membership, Person, Role
from tests.conftest import PASSWORD


async def _never(login: str, password: str) -> None:
    return None


def _at(school: Any, provider_id: str = "sso") -> external.ProviderAt:
    return external.ProviderAt(school, "test", DirectoryProvider(provider_id, "目錄", "Directory", _never))


def _identity(school: Any, subject: str, name: str = "測試人員", **fields: Any) -> ExternalIdentity:
    """``name`` is the factory's default person name: a student number links only with the same name."""
    return ExternalIdentity(subject=subject, login=subject, name=name, school_codes=(school.code,), **fields)


async def _code(coro: Any) -> str:
    with pytest.raises(LichengError) as caught:
        await coro
    return caught.value.code


async def test_a_student_number_links_only_a_person_who_is_a_student(factory, settings) -> None:
    school = await factory.school()
    teacher = await factory.member(school, Role.TEACHER, student_number="T-0001")
    identity = _identity(school, "s-teacher-" + school.code, roles=("student",), student_number="T-0001")
    assert await _code(external.sign_in_external(settings, _at(school), identity)) == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert not await ExternalLogin.exists(person_id=teacher.person.id)


async def test_a_student_number_is_not_used_for_an_identity_that_is_not_a_student(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    identity = _identity(school, "s-par-" + school.code, roles=("parent",), student_number=student.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(school), identity)) == "EXTERNAL_ACCOUNT_UNKNOWN"


async def test_a_person_linked_to_one_subject_is_never_taken_over_by_another(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    first = _identity(school, "first-" + school.code, roles=("student",), student_number=student.person.student_number)
    assert (await external.sign_in_external(settings, _at(school), first)).tokens is not None
    second = _identity(school, "second-" + school.code, roles=("student",), student_number=student.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(school), second)) == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert await ExternalLogin.filter(person_id=student.person.id).values_list("subject", flat=True) == [first.subject]


async def test_a_deactivated_person_can_no_longer_sign_in_through_the_link(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    identity = _identity(school, "gone-" + school.code, roles=("student",), student_number=student.person.student_number)
    await external.sign_in_external(settings, _at(school), identity)
    await Person.filter(id=student.person.id).update(active=False)
    assert await _code(external.sign_in_external(settings, _at(school), identity)) == "EXTERNAL_ACCOUNT_UNKNOWN"


async def test_the_same_provider_id_in_another_bureau_does_not_reach_its_schools(factory, settings) -> None:
    here, there = await factory.school(), await factory.school()  # two bureaus
    student = await factory.member(there, Role.STUDENT)
    identity = _identity(there, "far-" + there.code, roles=("student",), student_number=student.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(here), identity)) == "EXTERNAL_WRONG_SCHOOL"


async def test_a_malformed_national_id_links_nobody_and_is_not_echoed(factory, settings) -> None:
    school = await factory.school()
    identity = _identity(school, "bad-" + school.code, roles=("teacher",), national_id="Z99999999X")
    with pytest.raises(LichengError) as caught:
        await external.sign_in_external(settings, _at(school), identity)
    assert caught.value.code == "EXTERNAL_ACCOUNT_UNKNOWN" and "Z99999999X" not in str(caught.value.__dict__)


def test_sealed_values_are_opaque_and_refuse_tampering_another_purpose_and_expiry(settings) -> None:
    value = sealed.seal(settings, "sso-choice", {"s": "subject-uuid-1", "name": "王小明"}, 60)
    assert sealed.unseal(settings, "sso-choice", value)["s"] == "subject-uuid-1"
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert b"subject-uuid-1" not in raw and "王小明".encode() not in raw  # encrypted, not only signed
    flipped = bytearray(raw)
    flipped[-1] ^= 1
    assert sealed.unseal(settings, "sso-choice", base64.urlsafe_b64encode(bytes(flipped)).decode()) is None
    assert sealed.unseal(settings, "sso-state", value) is None
    assert sealed.unseal(settings, "sso-choice", sealed.seal(settings, "sso-choice", {}, -1)) is None
    assert sealed.unseal(settings, "sso-choice", "garbage") is None


async def test_an_imported_initial_password_does_not_restrict_a_single_sign_on_session(factory, settings) -> None:
    from licheng.auth.models import Account
    from licheng.auth.service import actor_for_token

    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    await Account.filter(id=student.account.id).update(must_change_password=True)
    identity = _identity(school, "init-" + school.code, roles=("student",), student_number=student.person.student_number)
    pair = (await external.sign_in_external(settings, _at(school), identity)).tokens
    assert pair is not None and not pair.must_change_password
    actor = await actor_for_token(settings, pair.access_token)
    assert actor.scopes is None and Role.STUDENT in actor.roles
    refreshed = await service.refresh(settings, pair.refresh_token)  # and a refresh of that session neither
    assert not refreshed.must_change_password and (await actor_for_token(settings, refreshed.access_token)).scopes is None
    assert (await Account.get(id=student.account.id)).must_change_password  # the password sign-in still asks


def _hash(settings: Any, value: str) -> dict[str, Any]:
    return nationalid.protect(value, data_key=settings.data_key_bytes, lookup_key=settings.lookup_key_bytes)


async def test_a_student_number_without_a_national_id_links_only_when_the_name_matches_too(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT, name="王小明")
    stranger = _identity(school, "nm-x-" + school.code, name="陳大文", roles=("student",), student_number=student.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(school), stranger)) == "EXTERNAL_ACCOUNT_UNKNOWN"
    assert not await ExternalLogin.exists(person_id=student.person.id)
    himself = _identity(school, "nm-y-" + school.code, name="王 小明", roles=("student",), student_number=student.person.student_number)
    assert (await external.sign_in_external(settings, _at(school), himself)).tokens is not None


async def test_a_student_number_with_equal_national_id_hashes_links_whatever_the_name(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT, name="王小明", **_hash(settings, "A123456789"))
    identity = _identity(school, "nid-" + school.code, name="王曉明", roles=("student",),
                         student_number=student.person.student_number, national_id="A123456789")  # fmt: skip
    assert (await external.sign_in_external(settings, _at(school), identity)).tokens is not None
    assert await ExternalLogin.exists(person_id=student.person.id)


async def test_a_pre_created_login_is_never_reused_for_a_person_without_an_account(factory, settings) -> None:
    school = await factory.school()
    subject = "victim-uuid-" + school.code
    squatted = await factory.account(login=f"sso:{subject}"[:64])  # as an import could have made it, with a password
    legacy = await factory.account(login=f"sso:{subject}".replace("sso:", "tpedu:")[:64])  # the old scheme's login
    person = await Person.create(school=school, name="新生", student_number="N" + school.code)
    await Membership.create(school=school, person=person, role=Role.STUDENT)
    identity = _identity(school, subject, name="新生", roles=("student",), student_number=person.student_number)
    pair = (await external.sign_in_external(settings, _at(school), identity)).tokens
    account = await Account.get(id=(await Person.get(id=person.id)).account_id)
    assert account.id not in (squatted.id, legacy.id) and account.password_hash is None
    assert account.login.startswith("sso:") and len(account.login) <= 64
    assert pair is not None and tokens.read_access_token(settings, pair.access_token).account_id == account.id


async def test_an_account_shared_by_two_people_of_one_school_or_inactive_is_refused(factory, settings) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    await Person.create(school=school, name="同帳號", account=student.account)
    identity = _identity(school, "shared-" + school.code, roles=("student",), student_number=student.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(school), identity)) == "EXTERNAL_ACCOUNT_UNKNOWN"
    other = await factory.member(school, Role.STUDENT)
    await Account.filter(id=other.account.id).update(active=False)
    again = _identity(school, "inactive-" + school.code, roles=("student",), student_number=other.person.student_number)
    assert await _code(external.sign_in_external(settings, _at(school), again)) == "EXTERNAL_ACCOUNT_UNKNOWN"


async def test_platform_and_bureau_admin_accounts_cannot_sign_in_externally(factory, settings) -> None:
    school = await factory.school()
    for make_admin in ("platform", "bureau"):
        teacher = await factory.member(school, Role.TEACHER)
        if make_admin == "platform":
            await Account.filter(id=teacher.account.id).update(is_platform_admin=True)
        else:
            await BureauAdmin.create(bureau_id=school.bureau_id, account_id=teacher.account.id)
        await ExternalLogin.create(school=school, person=teacher.person, provider_id="sso", subject=f"adm-{make_admin}-{school.code}",
                                   linked_by="national_id")  # fmt: skip
        identity = _identity(school, f"adm-{make_admin}-{school.code}", roles=("teacher",))
        with pytest.raises(LichengError) as caught:
            await external.sign_in_external(settings, _at(school), identity)
        assert caught.value.code == "EXTERNAL_ADMIN_REFUSED" and "管理者" in caught.value.message_zh and "administrator" in caught.value.message_en


async def test_an_external_session_cannot_switch_or_refresh_into_a_school_the_provider_did_not_vouch_for(factory, settings, gql) -> None:
    here, elsewhere = await factory.school(), await factory.school()  # two bureaus
    student = await factory.member(here, Role.STUDENT)
    await Person.create(school=elsewhere, name="他校身分", account=student.account)  # the same account, another bureau
    identity = _identity(here, "pin-" + here.code, roles=("student",), student_number=student.person.student_number)
    pair = (await external.sign_in_external(settings, _at(here), identity)).tokens
    assert pair is not None
    gql.token = pair.access_token  # through the API, as a client would
    switch = "mutation($s: String!) { switchSchool(schoolCode: $s) { accessToken } }"
    assert await gql.error_code(switch, {"s": elsewhere.code}) == "SIGN_IN_FAILED"
    actor = await service.actor_for_token(settings, pair.access_token)
    with pytest.raises(LichengError) as caught:
        await service.switch_school(settings, actor, elsewhere.code, access_token=pair.access_token)
    assert caught.value.code == "SIGN_IN_FAILED"
    refreshed = await service.refresh(settings, pair.refresh_token)  # a refreshed session keeps its pin
    assert tokens.read_access_token(settings, refreshed.access_token).pinned == frozenset({here.id})
    with pytest.raises(LichengError):
        await service.switch_school(settings, actor, elsewhere.code, access_token=refreshed.access_token)
    assert (await service.switch_school(settings, actor, here.code, access_token=refreshed.access_token)).school_id == here.id
    # The same account signed in with its password may switch (only the external proof is bound).
    password = await service.sign_in(settings, student.login, PASSWORD, here.code)
    assert (await service.switch_school(settings, actor, elsewhere.code, access_token=password.access_token)).school_id == elsewhere.id


async def test_an_import_cannot_create_a_login_in_the_single_sign_on_namespace(factory, settings) -> None:
    from licheng.tenants.importer import ImportKind, import_people

    school = await factory.school()
    staff = await factory.member(school, Role.STAFF)
    kid = (await factory.member(school, Role.STUDENT)).person.student_number
    csv = f"login,name,student_numbers\ntpedu:victim-uuid,家長,{kid}\nsso:0123456789abcdef,家長二,{kid}\n".encode()
    report = await import_people(settings, await staff.actor(), ImportKind.PARENTS, csv)
    assert [(e.column, e.code) for e in report.errors] == [("login", "LOGIN_INVALID")] * 2
    assert not report.credentials and not await Account.filter(login__in=["tpedu:victim-uuid", "sso:0123456789abcdef"]).exists()


async def test_school_staff_remove_a_wrong_link_audited_and_the_next_sign_in_links_afresh(factory, settings) -> None:
    from licheng.auth import external_links
    from licheng.errors import Forbidden, NotFound
    from licheng.tenants.audit import AuditEntry

    school, other = await factory.school(), await factory.school()
    wrong = await factory.member(school, Role.STUDENT, name="測試人員")
    identity = _identity(school, "fix-" + school.code, roles=("student",), student_number=wrong.person.student_number)
    await external.sign_in_external(settings, _at(school), identity)
    (link,) = await external_links.external_logins_of(await (await factory.member(school, Role.STAFF)).actor(), wrong.person.id)
    with pytest.raises(NotFound):  # another school's staff: not found
        await external_links.unlink_external_login(await (await factory.member(other, Role.STAFF)).actor(), link.id)
    with pytest.raises(Forbidden):
        await external_links.unlink_external_login(await (await factory.member(school, Role.TEACHER)).actor(), link.id)
    staff = await factory.member(school, Role.STAFF)
    await external_links.unlink_external_login(await staff.actor(), link.id)
    assert not await ExternalLogin.exists(id=link.id)
    assert await AuditEntry.exists(action="external_login_unlinked", school_id=school.id, account_id=staff.account.id)
    assert (await external.sign_in_external(settings, _at(school), identity)).tokens is not None
    assert await ExternalLogin.exists(person_id=wrong.person.id, subject=identity.subject)
