"""Signing in and out, refreshing, changing passwords, and turning a token into an ``Actor``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tortoise.transactions import in_transaction

from licheng.auth import passwords, tokens
from licheng.auth.models import Account, RefreshToken
from licheng.errors import InvalidInput, LichengError
from licheng.settings import Settings
from licheng.tenants import audit
from licheng.tenants.actor import ANONYMOUS, Actor
from licheng.tenants.models import BureauAdmin, Membership, Person, Role, School

# A token that may only change the password (first sign-in of an imported account).
PASSWORD_CHANGE_SCOPE = "password:change"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: int
    school_id: int | None
    must_change_password: bool


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SignInFailed(LichengError):
    def __init__(self) -> None:
        # One message for unknown login and wrong password: do not reveal which accounts exist.
        super().__init__("SIGN_IN_FAILED", "帳號或密碼錯誤", "Wrong account name or password")


class AccountLocked(LichengError):
    def __init__(self, until: datetime) -> None:
        super().__init__(
            "ACCOUNT_LOCKED",
            "登入失敗次數過多，帳號暫時鎖定，請稍後再試",
            "Too many failed sign-ins: the account is locked for a while, try again later",
            locked_until=until.isoformat(),
        )


async def schools_of(account_id: int) -> list[int]:
    rows = await Person.filter(account_id=account_id, active=True).values_list("school_id", flat=True)
    return sorted({int(row) for row in rows})  # type: ignore[call-overload]


async def _choose_school(account: Account, school_code: str | None) -> int | None:
    school_ids = await schools_of(account.id)
    if school_code:
        school = await School.get_or_none(code=school_code.strip())
        if school is None or school.id not in school_ids:
            raise SignInFailed()
        return school.id
    return school_ids[0] if len(school_ids) == 1 else None


async def _issue(settings: Settings, account: Account, school_id: int | None, family: str | None = None) -> TokenPair:
    scopes = frozenset({PASSWORD_CHANGE_SCOPE}) if account.must_change_password else None
    access, expires_at = tokens.issue_access_token(settings, account.id, school_id, scopes)
    refresh, refresh_hash = tokens.new_refresh_token()
    await RefreshToken.create(
        account_id=account.id,
        school_id=school_id,
        family=family or secrets.token_hex(16),
        token_hash=refresh_hash,
        expires_at=_now() + timedelta(days=settings.refresh_token_days),
    )
    return TokenPair(access, refresh, expires_at, school_id, account.must_change_password)


async def sign_in(settings: Settings, login: str, password: str, school_code: str | None = None) -> TokenPair:
    account = await Account.get_or_none(login=login.strip())
    if account is None or not account.active:
        passwords.burn_time(password)
        raise SignInFailed()
    if account.locked_until and account.locked_until > _now():
        raise AccountLocked(account.locked_until)
    if not passwords.verify_password(account.password_hash, password):
        failures = account.failed_sign_ins + 1
        locked_until = (
            _now() + timedelta(minutes=settings.lockout_minutes) if failures >= settings.max_failed_sign_ins else None
        )
        await Account.filter(id=account.id).update(
            failed_sign_ins=0 if locked_until else failures, locked_until=locked_until
        )
        await audit.record(None, "sign_in_failed", "account", account.id)
        if locked_until:
            raise AccountLocked(locked_until)
        raise SignInFailed()
    await Account.filter(id=account.id).update(failed_sign_ins=0, locked_until=None)
    school_id = await _choose_school(account, school_code)
    await audit.record(
        Actor(account_id=account.id, school_id=school_id), "sign_in", "account", account.id
    )
    return await _issue(settings, account, school_id)


async def refresh(settings: Settings, refresh_token: str) -> TokenPair:
    """Rotate: the old token is used up. Presenting a used one revokes the whole family."""
    invalid = LichengError("REFRESH_TOKEN_INVALID", "登入已失效，請重新登入", "The session has ended: sign in again")
    token_hash = tokens.hash_refresh_token(refresh_token)
    async with in_transaction():
        row = await RefreshToken.filter(token_hash=token_hash).select_for_update().first()
        if row is None or row.revoked_at or row.expires_at < _now():
            raise invalid
        # Claim it: exactly one caller can move used_at from null, even without row locks (SQLite).
        claimed = await RefreshToken.filter(id=row.id, used_at=None).update(used_at=_now())
        account = await Account.get(id=row.account_id)
        if claimed == 1 and account.active:
            return await _issue(settings, account, row.school_id, family=row.family)
    # Reuse of a used token means it leaked: end the whole family (committed before refusing).
    await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=_now())
    await audit.record(None, "refresh_token_reused", "account", row.account_id)
    raise invalid


async def sign_out(refresh_token: str) -> None:
    row = await RefreshToken.get_or_none(token_hash=tokens.hash_refresh_token(refresh_token))
    if row is not None:
        await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=_now())


async def switch_school(settings: Settings, actor: Actor, school_code: str) -> TokenPair:
    """A person in several schools chooses where to act."""
    actor.require_signed_in()
    account = await Account.get(id=actor.account_id)
    school_id = await _choose_school(account, school_code)
    return await _issue(settings, account, school_id)


async def change_password(settings: Settings, actor: Actor, current: str, new: str) -> TokenPair:
    actor.require_signed_in()
    account = await Account.get(id=actor.account_id)
    if not passwords.verify_password(account.password_hash, current):
        raise SignInFailed()
    passwords.check_rule(new)
    if new == current:
        raise InvalidInput("new_password", "新密碼不可與舊密碼相同", "The new password must differ from the current one")
    account.password_hash = passwords.hash_password(new)
    account.must_change_password = False
    account.password_changed_at = _now()
    await account.save(update_fields=["password_hash", "must_change_password", "password_changed_at"])
    await RefreshToken.filter(account_id=account.id, revoked_at=None).update(revoked_at=_now())
    await audit.record(actor, "change_password", "account", account.id)
    return await _issue(settings, account, actor.school_id)


async def actor_for_token(settings: Settings, bearer: str | None) -> Actor:
    """The actor a request runs as; anonymous for a missing or invalid token."""
    if not bearer:
        return ANONYMOUS
    claims = tokens.read_access_token(settings, bearer)
    if claims is None:
        return ANONYMOUS
    account = await Account.get_or_none(id=claims.account_id, active=True)
    if account is None:
        return ANONYMOUS
    return await build_actor(account, claims.school_id, claims.scopes)


async def build_actor(account: Account, school_id: int | None, scopes: frozenset[str] | None = None) -> Actor:
    roles: set[Role] = set()
    homeroom: set[int] = set()
    person_id: int | None = None
    if school_id is not None:
        person = await Person.get_or_none(account_id=account.id, school_id=school_id, active=True)
        if person is None:
            school_id = None
        else:
            person_id = person.id
            for role, class_id in await Membership.filter(person_id=person.id).values_list("role", "school_class_id"):
                roles.add(Role(role))
                if role == Role.HOMEROOM and class_id:
                    homeroom.add(class_id)
    bureau_rows = await BureauAdmin.filter(account_id=account.id).values_list("bureau_id", flat=True)
    bureau_ids = frozenset(int(row) for row in bureau_rows)  # type: ignore[call-overload]
    return Actor(
        account_id=account.id,
        school_id=school_id,
        person_id=person_id,
        roles=frozenset(roles),
        homeroom_class_ids=frozenset(homeroom),
        bureau_ids=bureau_ids,
        is_platform_admin=account.is_platform_admin,
        scopes=scopes,
        display_name=account.display_name,
    )
