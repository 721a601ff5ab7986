"""Accounts and sign-in: argon2id, the password rule, lockout, rotated refresh tokens, first-login change."""

from __future__ import annotations

import pytest

from licheng.auth import passwords, service
from licheng.auth.models import Account, RefreshToken
from licheng.errors import InvalidInput, LichengError
from licheng.tenants.models import Role
from tests.conftest import PASSWORD

SIGN_IN = 'mutation($l: String!, $p: String!) { signIn(login: $l, password: $p) { accessToken refreshToken mustChangePassword } }'


def test_passwords_are_hashed_with_argon2id():
    hashed = passwords.hash_password("Abcdefg1")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "Abcdefg1")
    assert not passwords.verify_password(hashed, "abcdefg1")


@pytest.mark.parametrize("bad", ["Short1A", "alllowercase1", "ALLUPPER1", "NoDigitsHere", "A1" + "a" * 63])
def test_password_rule_is_stated_in_the_error(bad):
    with pytest.raises(InvalidInput) as caught:
        passwords.check_rule(bad)
    assert "8 to 64 characters" in caught.value.message_en
    assert "8 到 64" in caught.value.message_zh


def test_initial_passwords_satisfy_the_rule():
    for _ in range(20):
        passwords.check_rule(passwords.initial_password())


async def test_unknown_login_and_wrong_password_get_the_same_answer(factory, gql):
    school = await factory.school()
    member = await factory.member(school, Role.STUDENT)
    wrong = await gql.execute(SIGN_IN, {"l": member.login, "p": "Wrong-passw0rd"})
    unknown = await gql.execute(SIGN_IN, {"l": "nobody-here", "p": "Wrong-passw0rd"})
    assert wrong["errors"][0]["extensions"] == unknown["errors"][0]["extensions"]
    assert wrong["errors"][0]["extensions"]["code"] == "SIGN_IN_FAILED"


async def test_repeated_failures_lock_the_account(factory, settings):
    school = await factory.school()
    member = await factory.member(school, Role.STUDENT)
    for _ in range(settings.max_failed_sign_ins - 1):
        with pytest.raises(LichengError, match="Wrong account name"):
            await service.sign_in(settings, member.login, "Wrong-passw0rd")
    with pytest.raises(LichengError) as caught:
        await service.sign_in(settings, member.login, "Wrong-passw0rd")
    assert caught.value.code == "ACCOUNT_LOCKED"
    # Even the right password is refused while locked.
    with pytest.raises(LichengError) as caught:
        await service.sign_in(settings, member.login, PASSWORD)
    assert caught.value.code == "ACCOUNT_LOCKED"


async def test_a_success_resets_the_failure_count(factory, settings):
    school = await factory.school()
    member = await factory.member(school, Role.STUDENT)
    with pytest.raises(LichengError):
        await service.sign_in(settings, member.login, "Wrong-passw0rd")
    await service.sign_in(settings, member.login, PASSWORD)
    assert (await Account.get(id=member.account.id)).failed_sign_ins == 0


async def test_refresh_rotates_and_reuse_revokes_the_family(factory, settings):
    school = await factory.school()
    member = await factory.member(school, Role.TEACHER)
    first = await service.sign_in(settings, member.login, PASSWORD)
    second = await service.refresh(settings, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(LichengError) as caught:
        await service.refresh(settings, first.refresh_token)  # stolen old token replayed
    assert caught.value.code == "REFRESH_TOKEN_INVALID"
    with pytest.raises(LichengError):
        await service.refresh(settings, second.refresh_token)  # the whole family is gone
    assert not await RefreshToken.filter(account_id=member.account.id, revoked_at=None).exists()


async def test_sign_out_ends_the_session(factory, settings, gql):
    school = await factory.school()
    member = await factory.member(school, Role.TEACHER)
    pair = await service.sign_in(settings, member.login, PASSWORD)
    assert (await gql.ok('mutation($r: String!) { signOut(refreshToken: $r) }', {"r": pair.refresh_token}))["signOut"]
    code = await gql.error_code('mutation($r: String!) { refreshTokens(refreshToken: $r) { accessToken } }', {"r": pair.refresh_token})
    assert code == "REFRESH_TOKEN_INVALID"


async def test_imported_account_must_change_its_password_first(factory, gql):
    school = await factory.school()
    member = await factory.member(school, Role.STUDENT)
    await Account.filter(id=member.account.id).update(must_change_password=True)
    data = await gql.ok(SIGN_IN, {"l": member.login, "p": PASSWORD})
    assert data["signIn"]["mustChangePassword"] is True
    gql.token = data["signIn"]["accessToken"]
    assert await gql.error_code("{ people { edges { node { name } } } }") == "PASSWORD_CHANGE_REQUIRED"
    weak = await gql.execute('mutation { changePassword(currentPassword: "Passw0rdOK", newPassword: "weak") { accessToken } }')
    assert weak["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "8 to 64" in weak["errors"][0]["extensions"]["message_en"]
    changed = await gql.ok('mutation { changePassword(currentPassword: "Passw0rdOK", newPassword: "N3wPassword") { accessToken mustChangePassword } }')
    assert changed["changePassword"]["mustChangePassword"] is False
    gql.token = changed["changePassword"]["accessToken"]
    assert (await gql.ok("{ people { edges { node { name } } } }"))["people"]["edges"]


async def test_a_person_in_two_schools_chooses_where_to_act(factory, gql):
    first, second = await factory.school(), await factory.school()
    member = await factory.member(first, Role.TEACHER)
    from licheng.tenants.models import Membership, Person

    other = await Person.create(school=second, account=member.account, name="兼課老師")
    await Membership.create(school=second, person=other, role=Role.TEACHER)
    data = await gql.ok(SIGN_IN, {"l": member.login, "p": PASSWORD})
    gql.token = data["signIn"]["accessToken"]
    viewer = (await gql.ok("{ viewer { school { code } schools { code } } }"))["viewer"]
    assert viewer["school"] is None
    assert {s["code"] for s in viewer["schools"]} == {first.code, second.code}
    switched = await gql.ok("mutation($s: String!) { switchSchool(schoolCode: $s) { accessToken } }", {"s": second.code})
    gql.token = switched["switchSchool"]["accessToken"]
    assert (await gql.ok("{ viewer { school { code } } }"))["viewer"]["school"]["code"] == second.code


async def test_an_invalid_token_is_anonymous(gql):
    gql.token = "not-a-token"
    assert (await gql.ok("{ viewer { login } }"))["viewer"] is None
    assert await gql.error_code("{ schools { edges { node { name } } } }") == "UNAUTHENTICATED"
