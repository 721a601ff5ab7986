"""Access tokens (short-lived JWTs, signed with joserfc: the JOSE library authlib moved to)
and refresh tokens (opaque, rotated).

Access tokens carry only ids (account, school) and scopes: roles are read from
the database on each request so that a removed role stops working at once.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from licheng.settings import Settings

ISSUER = "licheng"


@dataclass(frozen=True)
class AccessClaims:
    account_id: int
    school_id: int | None
    scopes: frozenset[str] | None
    expires_at: int
    # Schools an external sign-in vouched for; None for a session not pinned (password sign-in).
    pinned: frozenset[int] | None = None


_REQUIRED_CLAIMS = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": ISSUER}, exp={"essential": True}, sub={"essential": True}, leeway=5
)


def _signing_key(settings: Settings) -> OctKey:
    """A 256-bit HMAC key derived from the secret, whatever the secret's length."""
    return _key_for(settings.secret_key)


@functools.lru_cache(maxsize=4)
def _key_for(secret: str) -> OctKey:
    # Derived once per secret, not on every request (~40 us each); keyed by the secret itself, so
    # a rotated secret takes effect at once.
    return OctKey.import_key(hashlib.sha256(("access-token:" + secret).encode()).digest())


def issue_access_token(
    settings: Settings, account_id: int, school_id: int | None, scopes: frozenset[str] | None = None,
    pinned: frozenset[int] | None = None,
) -> tuple[str, int]:
    now = int(time.time())
    expires_at = now + settings.access_token_minutes * 60
    payload: dict[str, object] = {
        "iss": ISSUER,
        "sub": str(account_id),
        "iat": now,
        "exp": expires_at,
        # token_urlsafe, not hex: an all-digit jti can look like a card number and authlib refuses to sign it.
        "jti": secrets.token_urlsafe(12),
    }
    if school_id is not None:
        payload["sch"] = school_id
    if scopes is not None:
        payload["scope"] = " ".join(sorted(scopes))
    if pinned is not None:
        payload["pin"] = sorted(pinned)
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, _signing_key(settings)), expires_at


def read_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired token of ours; None for anything else."""
    try:
        claims = jwt.decode(token, _signing_key(settings), algorithms=["HS256"]).claims
        _REQUIRED_CLAIMS.validate(claims)
        scope = claims.get("scope")
        pin = claims.get("pin")
        return AccessClaims(
            account_id=int(claims["sub"]),
            school_id=claims.get("sch"),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else None,
            expires_at=int(claims["exp"]),
            pinned=frozenset(int(i) for i in pin) if isinstance(pin, list) else None,
        )
    except (JoseError, ValueError, KeyError, TypeError):
        return None


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, hash to store). Only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
