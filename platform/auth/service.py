"""Signing in and out, refreshing, changing passwords, and turning a token into an ``Actor``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from licheng.auth import passwords, tokens
from licheng.auth.models import Account, ExternalSession, RefreshToken
from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.settings import Settings
from licheng.tenants import audit
from licheng.tenants.actor import ANONYMOUS, Actor
from licheng.tenants.models import Person, Role, School

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


async def _issue(
    settings: Settings, account: Account, school_id: int | None, family: str | None = None,
    *, password_change_only: bool | None = None, pinned: frozenset[int] | None = None,
) -> TokenPair:
    restricted = account.must_change_password if password_change_only is None else password_change_only
    scopes = frozenset({PASSWORD_CHANGE_SCOPE}) if restricted else None
    access, expires_at = tokens.issue_access_token(settings, account.id, school_id, scopes, pinned)
    refresh, refresh_hash = tokens.new_refresh_token()
    family = family or secrets.token_hex(16)
    await RefreshToken.create(
        account_id=account.id,
        school_id=school_id,
        family=family,
        token_hash=refresh_hash,
        expires_at=_now() + timedelta(days=settings.refresh_token_days),
    )
    if pinned is not None:
        await ExternalSession.get_or_create(family=family, defaults={
            "account_id": account.id, "school_ids": ",".join(str(i) for i in sorted(pinned))})  # fmt: skip
    return TokenPair(access, refresh, expires_at, school_id, restricted)


async def issue_tokens(
    settings: Settings, account: Account, school_id: int, *, password_change_only: bool, pinned: frozenset[int] | None = None
) -> TokenPair:
    """Tokens for a sign-in another service proved (single sign-on, a directory): the one place they are minted.

    ``pinned``: the schools that proof vouched for; the session (its refreshes, a
    ``switch_school``) never leaves them.
    """
    return await _issue(settings, account, school_id, password_change_only=password_change_only, pinned=pinned)


async def _pinned_family(family: str) -> frozenset[int] | None:
    row = await ExternalSession.get_or_none(family=family)
    return None if row is None else frozenset(int(i) for i in row.school_ids.split(",") if i)


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
            # A session an external sign-in began stays pinned to the schools it vouched for.
            # It was proven by the provider, not by an initial password: it stays unrestricted too.
            pinned = await _pinned_family(row.family)
            external = False if pinned is not None else None
            return await _issue(settings, account, row.school_id, family=row.family, password_change_only=external, pinned=pinned)
    # Reuse of a used token means it leaked: end the whole family (committed before refusing).
    await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=_now())
    await audit.record(None, "refresh_token_reused", "account", row.account_id)
    raise invalid


async def sign_out(refresh_token: str) -> None:
    row = await RefreshToken.get_or_none(token_hash=tokens.hash_refresh_token(refresh_token))
    if row is not None:
        await RefreshToken.filter(family=row.family, revoked_at=None).update(revoked_at=_now())


async def switch_school(settings: Settings, actor: Actor, school_code: str, *, access_token: str | None) -> TokenPair:
    """A person in several schools chooses where to act.

    ``access_token``: the caller's token. One an external sign-in issued is pinned to
    the schools its provider vouched for: another school is refused like a school the
    account does not reach (a bureau's provider never opens another bureau's school).
    """
    actor.require_signed_in()
    account = await Account.get(id=actor.account_id)
    school_id = await _choose_school(account, school_code)
    claims = tokens.read_access_token(settings, access_token) if access_token else None
    pinned = claims.pinned if claims is not None and claims.account_id == account.id else None
    if pinned is not None and school_id not in pinned:
        raise SignInFailed()
    return await _issue(settings, account, school_id, password_change_only=False if pinned is not None else None, pinned=pinned)


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
    """The actor a request runs as; anonymous for a missing or invalid token.

    One statement per request (``_ACTOR_SQL``), not cached: a removed role, a
    deactivated account or person stops working on the very next request.
    """
    if not bearer:
        return ANONYMOUS
    claims = tokens.read_access_token(settings, bearer)
    if claims is None:
        return ANONYMOUS
    return await _resolve_actor(claims.account_id, claims.school_id, claims.scopes, active_only=True) or ANONYMOUS


async def build_actor(account: Account, school_id: int | None, scopes: frozenset[str] | None = None) -> Actor:
    """The actor of an account already loaded (sign-in flows, download tickets, the demo)."""
    actor = await _resolve_actor(account.id, school_id, scopes, active_only=False)
    if actor is None:  # deleted since the caller loaded it
        raise NotFound("account", "帳號")
    return actor


# Account, its active person in the school with his memberships, and the bureaus he administers,
# in one statement (four ORM queries before: ~1 ms of query building per request).
# Rows: kind 0 = the account (with person and one membership per row, if any), kind 1 = a bureau.
_ACTOR_SQL = (
    'SELECT 0 AS kind, a."display_name" AS display_name, a."is_platform_admin" AS admin, p."id" AS person_id, '
    'm."role" AS role, m."school_class_id" AS ref FROM "account" a '
    'LEFT JOIN "person" p ON p."account_id" = a."id" AND p."school_id" = {school} AND p."active" = {true} '
    'LEFT JOIN "membership" m ON m."person_id" = p."id" '
    'WHERE a."id" = {account}{active} '
    'UNION ALL SELECT 1, NULL, NULL, NULL, NULL, b."bureau_id" FROM "bureau_admin" b WHERE b."account_id" = {account}'
)


async def _resolve_actor(account_id: int, school_id: int | None, scopes: frozenset[str] | None, *, active_only: bool) -> Actor | None:
    """None when the account does not exist (or is inactive with ``active_only``)."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return f"${len(values)}" if postgres else "?"

    school, true, account = param(school_id), param(True), param(account_id)
    active = f' AND a."active" = {true}' if active_only else ""
    if not postgres:  # "?" marks bind in order of appearance
        values = [school_id, True, account_id] + ([True] if active_only else []) + [account_id]
    _, rows = await conn.execute_query(_ACTOR_SQL.format(school=school, true=true, account=account, active=active), values)
    own = [r for r in rows if r["kind"] == 0]
    if not own:
        return None
    # One active person per account and school; should data ever hold two, the first one acts.
    person_id = min((r["person_id"] for r in own if r["person_id"] is not None), default=None)
    roles: set[Role] = set()
    homeroom: set[int] = set()
    for r in own:
        if r["person_id"] == person_id and r["role"] is not None:
            roles.add(Role(r["role"]))
            if r["role"] == Role.HOMEROOM and r["ref"]:
                homeroom.add(int(r["ref"]))
    return Actor(
        account_id=account_id,
        school_id=school_id if person_id is not None else None,
        person_id=person_id,
        roles=frozenset(roles),
        homeroom_class_ids=frozenset(homeroom),
        bureau_ids=frozenset(int(r["ref"]) for r in rows if r["kind"] == 1),
        is_platform_admin=bool(own[0]["admin"]),
        scopes=scopes,
        display_name=own[0]["display_name"],
    )
