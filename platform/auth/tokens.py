"""Access tokens (short-lived JWTs signed with authlib's JOSE) and refresh tokens (opaque, rotated).

Access tokens carry only ids (account, school) and scopes: roles are read from
the database on each request so that a removed role stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import warnings

with warnings.catch_warnings():
    # authlib points at joserfc for the future; authlib.jose is the API this project standardises on for now.
    warnings.simplefilter("ignore")
    from authlib.jose import JoseError, JsonWebToken

from licheng.settings import Settings

_jwt = JsonWebToken(["HS256"])
ISSUER = "licheng"


@dataclass(frozen=True)
class AccessClaims:
    account_id: int
    school_id: int | None
    scopes: frozenset[str] | None
    expires_at: int


def issue_access_token(
    settings: Settings, account_id: int, school_id: int | None, scopes: frozenset[str] | None = None
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
    token = _jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, settings.secret_key.encode())
    return token.decode(), expires_at


def read_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired token of ours; None for anything else."""
    try:
        claims = _jwt.decode(
            token,
            settings.secret_key.encode(),
            claims_options={"iss": {"essential": True, "value": ISSUER}, "exp": {"essential": True}},
        )
        claims.validate(now=int(time.time()), leeway=5)
        scope = claims.get("scope")
        return AccessClaims(
            account_id=int(claims["sub"]),
            school_id=claims.get("sch"),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else None,
            expires_at=int(claims["exp"]),
        )
    except (JoseError, ValueError, KeyError, TypeError):
        return None


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, hash to store). Only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
