"""The authorization server: authorization code + PKCE (S256), refresh rotation, client credentials.

``LichengAuthorizationServer`` subclasses authlib's ``AuthorizationServer`` and
implements the three framework methods for Starlette. Every authlib call runs
in a worker thread (``run``) because authlib is synchronous; its callbacks
reach the database through ``store`` on the event loop. Tokens are our own
access tokens with a ``scope`` claim, so ``Actor.scopes`` carries them; with
``openid`` the code flow adds an id_token (``licheng.auth.oauth.oidc``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import JsonRequest, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from starlette.responses import JSONResponse, RedirectResponse, Response

from licheng.auth import tokens
from licheng.auth.oauth import store
from licheng.auth.oauth.oidc import LichengOpenIDCode
from licheng.auth.oauth.scopes import SCOPES
from licheng.auth.oauth.store import GrantUser, IssuedCode, IssuedToken, RegisteredClient, RequestData, on_loop
from licheng.settings import Settings

T = TypeVar("T")
ALL_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]
SECRET_CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]


class S256Required(CodeChallenge):
    """PKCE for every client (OAuth 2.1), and only S256: ``plain`` would leak the verifier."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_CLIENT_AUTH

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        on_loop(store.save_code, code, request)

    def query_authorization_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        return on_loop(store.claim_code, code, client)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing to do: the code was used up when it was claimed."""

    def authenticate_user(self, authorization_code: IssuedCode) -> GrantUser | None:
        row = authorization_code.row
        return on_loop(store.active_user, row.account_id, row.school_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        return on_loop(store.find_refresh, refresh_token)

    def authenticate_user(self, refresh_token: IssuedToken) -> GrantUser | None:
        return on_loop(store.active_user, refresh_token.row.account_id, refresh_token.row.school_id)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        """Rotation: claim the old token; losing a race to another use means it leaked."""
        if not on_loop(store.claim_refresh, refresh_token):
            raise InvalidGrantError("The refresh token was already used")


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_CLIENT_AUTH


class _TokenLookup:
    server: LichengAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return on_loop(store.find_token, self.server.settings, token_string, token_type_hint)


class Revocation(_TokenLookup, RevocationEndpoint):
    """RFC 7009: revoking either token ends its whole family (its access tokens stop at once)."""

    CLIENT_AUTH_METHODS = ALL_CLIENT_AUTH

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        on_loop(store.revoke_family, token.row.family)


class Introspection(_TokenLookup, IntrospectionEndpoint):
    """RFC 7662 for confidential clients, about their own tokens only."""

    CLIENT_AUTH_METHODS = SECRET_CLIENT_AUTH

    def check_permission(self, token: IssuedToken, client: RegisteredClient, request: OAuth2Request) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        return {
            "active": True,
            "client_id": token.row.client.client_id,
            "scope": token.row.scope,
            "sub": str(token.row.account_id),
            "exp": token.expires_at,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "iss": tokens.ISSUER,
        }


class LichengAuthorizationServer(AuthorizationServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.settings = settings
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [S256Required(required=True), LichengOpenIDCode(settings)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # --- what authlib asks of a framework integration ---

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return store.StarletteOAuth2Request(request)

    def create_json_request(self, request: RequestData) -> JsonRequest:
        json_request = JsonRequest(request.method, request.uri, request.headers)
        json_request.payload = store.JsonBodyPayload(request.json)
        return json_request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        header_map = dict(headers)
        if status in (301, 302, 303) and "Location" in header_map:
            return RedirectResponse(header_map.pop("Location"), status_code=302, headers=header_map)
        if isinstance(body, dict):
            header_map.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=header_map)
        return Response(body or "", status_code=status, headers=header_map)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's hook points; the audit trail is written by the storage functions instead."""

    # --- storage ---

    def query_client(self, client_id: str) -> RegisteredClient | None:
        return on_loop(store.approved_client, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        on_loop(store.store_token, self.settings, token, request)

    def _generate_token(
        self, grant_type: str, client: RegisteredClient, user: GrantUser | None = None, scope: str | None = None,
        expires_in: int | None = None, include_refresh_token: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        user = user or GrantUser(client.row.applicant_id, client.row.school_id)
        scopes = frozenset((scope or "").split())
        access, expires_at = tokens.issue_access_token(self.settings, user.account_id, user.school_id, scopes)
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": self.settings.access_token_minutes * 60,
            "scope": " ".join(sorted(scopes)),
        }
        if include_refresh_token:
            token["refresh_token"], _ = tokens.new_refresh_token()
        return token


async def run(func: Callable[..., T], *args: Any) -> T:
    """Call authlib off the event loop; its callbacks come back through ``store``."""
    return await anyio.to_thread.run_sync(func, *args)
