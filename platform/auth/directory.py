"""Directory sign-in: a login and password checked by a plugin's directory (e.g. Taipei's LDAP), then
linked like single sign-on (``licheng.auth.external``).

Why a throttle of its own: directory logins are not our accounts, so the
lockout of password sign-in (``Account.failed_sign_ins``) cannot count them.
Failures are counted in the database (every web pod sees the same numbers) per
bureau and login (the directory is city-wide: one count for all of a bureau's
schools) and per client address, under keyed hashes (no login in the clear). An
attempt is counted *before* the directory is asked, with a conditional update,
so concurrent guesses cannot all pass; a success or a failing directory gives
the attempt back. Rows whose window has passed are deleted.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from licheng.auth.external import ExternalSignIn, find_provider, provider_failed, provider_unavailable, sign_in_external
from licheng.auth.models import DirectoryThrottle
from licheng.auth.service import AccountLocked, SignInFailed
from licheng.errors import LichengError, NotFound
from licheng.plugins.contracts import DirectoryProvider
from licheng.settings import Settings
from licheng.tenants import audit

# Failures one client address may cause across every login of a bureau in a lockout window (a spray of
# logins). High on purpose: a whole school's classrooms may share one address behind NAT.
MAX_ADDRESS_FAILURES = 100


def _key(settings: Settings, value: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"directory-throttle|{value}".encode(), hashlib.sha256).hexdigest()


async def _take(key: str, limit: int, window: timedelta) -> None:
    """Count one attempt under ``key``, or raise ``AccountLocked`` when ``limit`` are already counted."""
    now = datetime.now(timezone.utc)
    if not await DirectoryThrottle.exists(key=key):
        try:
            await DirectoryThrottle.create(key=key, failures=0, window_start=now)
        except IntegrityError:
            pass  # a concurrent attempt created it
    await DirectoryThrottle.filter(key=key, window_start__lt=now - window).update(failures=0, window_start=now)
    if not await DirectoryThrottle.filter(key=key, failures__lt=limit).update(failures=F("failures") + 1):
        row = await DirectoryThrottle.get(key=key)
        raise AccountLocked(row.window_start + window)


async def _give_back(key: str) -> None:
    await DirectoryThrottle.filter(key=key, failures__gt=0).update(failures=F("failures") - 1)


async def sign_in_with_directory(
    settings: Settings, school_code: str, provider_id: str, login: str, password: str, *, address: str | None = None
) -> ExternalSignIn:
    """Check a login and password against a plugin's directory, then link like single sign-on.

    ``address``: the client's address, for the per-address limit. One message for an
    unknown login and a wrong password; the directory's own policy applies on top.
    """
    if not login.strip() or not password or len(login) > 128 or len(password) > 256:
        raise SignInFailed()
    at = await find_provider(school_code, provider_id)
    if not isinstance(at.provider, DirectoryProvider):
        raise NotFound("identity_provider", "登入方式")
    window = timedelta(minutes=settings.lockout_minutes)
    login_key = _key(settings, f"login|{at.school.bureau_id}|{provider_id}|{login.strip().lower()}")
    await _take(login_key, settings.max_failed_sign_ins, window)
    taken = [login_key]
    try:
        if address:  # per bureau too: each bureau's directory is its own target
            address_key = _key(settings, f"address|{at.school.bureau_id}|{address}")
            await _take(address_key, MAX_ADDRESS_FAILURES, window)
            taken.append(address_key)
        identity = await at.provider.authenticate(login.strip(), password)
    except LichengError:  # locked by address, or the directory refused with its own reason: not a guess
        for key in taken:
            await _give_back(key)
        raise
    except Exception as error:  # noqa: BLE001 - the directory failed: a clear error, recorded in health
        for key in taken:
            await _give_back(key)
        await provider_failed(at, RuntimeError(f"directory failed: {type(error).__name__}"), [password])
        raise provider_unavailable() from None
    if identity is None:  # a wrong password: the attempt stays counted
        await DirectoryThrottle.filter(window_start__lt=datetime.now(timezone.utc) - window).delete()
        await audit.record(None, "sign_in_external_failed", "school", at.school.id, school_id=at.school.id,
                           changes={"provider": provider_id})  # fmt: skip
        raise SignInFailed()
    await DirectoryThrottle.filter(key=login_key).delete()
    for key in taken[1:]:
        await _give_back(key)
    return await sign_in_external(settings, at, identity)
