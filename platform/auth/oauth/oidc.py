"""OpenID Connect on top of the code flow: id_token (RS256, or ES256), userinfo, discovery and JWKS.

id_tokens are signed RS256 with the RSA key of ``licheng.auth.oauth.keys`` (or
ES256 with the P-256 key derived from ``LICHENG_SECRET_KEY`` when
``LICHENG_OIDC_ID_TOKEN_ALG=ES256``); the JWKS publishes both, and a
rotated-out key, each with its ``kid``.
id_tokens say who signed in (``sub`` is the account); the school the person
acts in is a ``school_code`` claim under ``profile``.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import ECKey, RSAKey
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from licheng.auth import tokens
from licheng.auth.oauth import keys
from licheng.auth.models import Account
from licheng.auth.oauth.models import OAuthCode
from licheng.auth.oauth.store import GrantUser, RegisteredClient, on_loop, token_is_live
from licheng.settings import Settings
from licheng.tenants.models import School

ALGS = ["RS256", "ES256"]
ID_TOKEN_SECONDS = 3600


def jwks(settings: Settings) -> dict[str, Any]:
    return dict(keys.key_ring(settings).public_jwks())


async def user_claims(account_id: int, school_id: int | None, scope: str) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": str(account_id)}
    if "profile" in scope.split():
        account = await Account.get(id=account_id)
        claims |= {"name": account.display_name, "preferred_username": account.login}
        school = await School.get_or_none(id=school_id) if school_id else None
        if school is not None:
            claims |= {"school_code": school.code, "school_name": school.name}
    return claims


async def _nonce_used(client_pk: int, nonce: str) -> bool:
    return await OAuthCode.exists(client_id=client_pk, nonce=nonce)


class LichengOpenIDCode(OpenIDCode):
    """authlib's OIDC extension of the code grant, with our key, issuer and claims."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(require_nonce=False)
        self.settings = settings

    def resolve_client_private_key(self, client: RegisteredClient) -> RSAKey | ECKey:
        return keys.key_ring(self.settings).signing_key(self.settings.oidc_id_token_alg)

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return self.settings.oidc_id_token_alg

    def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.settings.oidc_id_token_alg, "kid": key.kid or ""}

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        return {"iss": self.settings.base_url.rstrip("/"), "aud": [client.get_client_id()], "exp": int(time.time()) + ID_TOKEN_SECONDS}

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        client = self.server_client(request)
        return client is not None and on_loop(_nonce_used, client.row.id, nonce)

    def generate_user_info(self, user: GrantUser, scope: str) -> UserInfo:
        return UserInfo(on_loop(user_claims, user.account_id, user.school_id, scope))

    @staticmethod
    def server_client(request: Any) -> RegisteredClient | None:
        return request.client if isinstance(request.client, RegisteredClient) else None


def discovery(settings: Settings, oauth_metadata: dict[str, Any]) -> dict[str, Any]:
    base = settings.base_url.rstrip("/")
    return oauth_metadata | {
        "jwks_uri": f"{base}/oauth/jwks",
        "userinfo_endpoint": f"{base}/oauth/userinfo",
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ALGS,
        "claims_supported": ["sub", "name", "preferred_username", "school_code", "school_name", "nonce", "auth_time"],
    }


async def userinfo(settings: Settings, request: Request) -> Response:
    """OIDC userinfo for an access token with ``openid`` (and ``profile`` for names)."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    claims = tokens.read_access_token(settings, bearer) if bearer else None
    if claims is None or claims.scopes is None or "openid" not in claims.scopes or not await token_is_live(bearer):
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not await Account.exists(id=claims.account_id, active=True):
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return JSONResponse(await user_claims(claims.account_id, claims.school_id, " ".join(claims.scopes)))
