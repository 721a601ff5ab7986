"""The OAuth2 HTTP edge: /oauth/authorize (sign-in and consent), token, revoke, introspect, metadata.

The authorize page keeps a short signed session cookie (path ``/oauth``) so a
remembered consent can skip the page; API calls never use cookies. The form
carries a CSRF token: an HMAC of a random cookie and the OAuth query string,
so a forged post cannot ride on the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from licheng.auth import service as auth_service
from licheng.auth import tokens
from licheng.auth.oauth import keys, oidc, pages, registry
from licheng.auth.oauth.cors import ClientOriginCORS
from licheng.auth.oauth.provider import ALL_CLIENT_AUTH, SECRET_CLIENT_AUTH, LichengAuthorizationServer, run
from licheng.auth.oauth.scopes import SCOPES
from licheng.auth.oauth.store import GrantUser, RequestData
from licheng.auth.models import Account
from licheng.errors import LichengError
from licheng.settings import Settings
from licheng.tenants.actor import Actor

SESSION_COOKIE = "licheng_oauth_session"
CSRF_COOKIE = "licheng_oauth_csrf"
SESSION_SECONDS = 3600
_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"}


class OAuthEndpoints:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = LichengAuthorizationServer(settings)
        self.secure = settings.base_url.startswith("https://")

    # --- signed values ---

    def _sign(self, value: str) -> str:
        return hmac.new(self.settings.secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()

    def _session(self, request: Request) -> GrantUser | None:
        try:
            account, school, expires, signature = request.cookies.get(SESSION_COOKIE, "").split(".")
            if hmac.compare_digest(signature, self._sign(f"session:{account}.{school}.{expires}")) and int(expires) > time.time():
                return GrantUser(int(account), int(school) if school else None)
        except ValueError:
            pass
        return None

    def _set_session(self, response: Response, user: GrantUser) -> None:
        value = f"{user.account_id}.{user.school_id or ''}.{int(time.time()) + SESSION_SECONDS}"
        response.set_cookie(
            SESSION_COOKIE, f"{value}.{self._sign('session:' + value)}", max_age=SESSION_SECONDS, path="/oauth",
            httponly=True, secure=self.secure, samesite="lax",
        )  # fmt: skip

    def _csrf_for(self, cookie: str, request: Request) -> str:
        return self._sign(f"csrf:{cookie}:{request.url.query}")

    # --- /oauth/authorize ---

    async def authorize(self, request: Request) -> Response:
        data = await RequestData.read(request, self.settings.base_url)
        user = self._session(request)
        if user is not None and not await Account.exists(id=user.account_id, active=True):
            user = None  # deactivated since the session began
        try:
            grant = await run(self.server.get_consent_grant, data, user)
        except OAuth2Error as error:
            if error.redirect_uri:
                return self.server.handle_error_response(None, error)
            return HTMLResponse(pages.error_page(
                "應用程式或轉址網址不正確", f"{error.error}: {error.description or 'invalid request'}"
            ), status_code=400, headers=_NO_STORE)  # fmt: skip
        client = grant.client.row
        scopes = (grant.request.scope or "").split()
        if request.method == "GET":
            prompt = grant.request.payload.data.get("prompt", "")
            if user and prompt != "consent" and await registry.may_serve(client, user.school_id):
                if await registry.has_consent(user.account_id, user.school_id, client, scopes):
                    return await run(self.server.create_authorization_response, grant.request, user, grant)
            if prompt == "none":  # the client asked not to show any page
                refusal: OAuth2Error = LoginRequiredError() if user is None else ConsentRequiredError()
                refusal.redirect_uri = grant.request.payload.redirect_uri or grant.client.get_default_redirect_uri()
                refusal.state = grant.request.payload.state
                return self.server.handle_error_response(None, refusal)
            return await self._page(request, client, scopes, user)
        form = dict(data.form)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(form.get("csrf_token", ""), self._csrf_for(cookie, request)):
            return await self._page(request, client, scopes, user, ("表單已過期，請再試一次", "The form expired: try again"), 400)
        if form.get("decision") != "allow":
            return await run(self.server.create_authorization_response, grant.request, None, grant)
        if form.get("login"):
            try:
                pair = await auth_service.sign_in(self.settings, form["login"], form.get("password", ""), form.get("school_code") or None)
            except LichengError as error:
                return await self._page(request, client, scopes, None, (error.message_zh, error.message_en), 401)
            await auth_service.sign_out(pair.refresh_token)  # only the identity was needed, not a session
            claims = tokens.read_access_token(self.settings, pair.access_token)
            if pair.must_change_password or claims is None:
                return await self._page(request, client, scopes, None, ("請先在歷程登入並變更初始密碼", "Sign in to Licheng and change your initial password first"), 403)
            user = GrantUser(claims.account_id, claims.school_id)
        if user is None:
            return await self._page(request, client, scopes, None, ("請先登入", "Sign in first"), 401)
        if not await registry.may_serve(client, user.school_id):
            return await self._page(request, client, scopes, None, (
                "此應用程式未獲你學校的教育局核准（有多所學校時請填寫學校代碼）",
                "This application is not approved for your school (give the school code if you belong to several)",
            ), 403)  # fmt: skip
        await registry.remember_consent(Actor(account_id=user.account_id, school_id=user.school_id), client, scopes)
        response: Response = await run(self.server.create_authorization_response, grant.request, user, grant)
        self._set_session(response, user)
        return response

    async def _page(
        self, request: Request, client: registry.OAuthClient, scopes: list[str], user: GrantUser | None,
        error: tuple[str, str] | None = None, status: int = 200,
    ) -> Response:  # fmt: skip
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        who = None
        if user is not None:
            account = await Account.get_or_none(id=user.account_id, active=True)
            who = account.display_name if account else None
        html = pages.consent_page(
            app_name=client.name, organisation=client.organisation, scopes=scopes,
            csrf=self._csrf_for(cookie, request), signed_in_as=who, error=error,
        )  # fmt: skip
        response = HTMLResponse(html, status_code=status, headers=_NO_STORE)
        response.set_cookie(CSRF_COOKIE, cookie, path="/oauth/authorize", httponly=True, secure=self.secure, samesite="strict")
        return response

    # --- token, revocation, introspection ---

    async def token(self, request: Request) -> Response:
        data = await RequestData.read(request, self.settings.base_url)
        return await run(self.server.create_token_response, data)

    async def revoke(self, request: Request) -> Response:
        data = await RequestData.read(request, self.settings.base_url)
        return await run(self.server.create_endpoint_response, "revocation", data)

    async def introspect(self, request: Request) -> Response:
        data = await RequestData.read(request, self.settings.base_url)
        return await run(self.server.create_endpoint_response, "introspection", data)


    async def metadata(self, request: Request) -> Response:
        """RFC 8414 authorization server metadata, so clients can configure themselves."""
        return JSONResponse(self._metadata())

    async def openid_configuration(self, request: Request) -> Response:
        return JSONResponse(oidc.discovery(self.settings, self._metadata()))

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(oidc.jwks(self.settings))

    async def userinfo(self, request: Request) -> Response:
        return await oidc.userinfo(self.settings, request)

    def _metadata(self) -> dict[str, object]:
        base = self.settings.base_url.rstrip("/")
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ALL_CLIENT_AUTH,
            "revocation_endpoint_auth_methods_supported": ALL_CLIENT_AUTH,
            "introspection_endpoint_auth_methods_supported": SECRET_CLIENT_AUTH,
            "ui_locales_supported": ["zh-TW", "en"],
        }


def mount(app: Starlette, settings: Settings) -> None:
    """Add the OAuth routes and the client-origin CORS layer to the app."""
    keys.key_ring(settings)  # a missing or bad key file fails at start-up, not at the first sign-in
    endpoints = OAuthEndpoints(settings)
    app.router.routes.extend([
        Route("/oauth/authorize", endpoints.authorize, methods=["GET", "POST"]),
        Route("/oauth/token", endpoints.token, methods=["POST"]),
        Route("/oauth/revoke", endpoints.revoke, methods=["POST"]),
        Route("/oauth/introspect", endpoints.introspect, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", endpoints.metadata),
        Route("/.well-known/openid-configuration", endpoints.openid_configuration),
        Route("/oauth/jwks", endpoints.jwks),
        Route("/oauth/userinfo", endpoints.userinfo, methods=["GET", "POST"]),
    ])  # fmt: skip
    app.add_middleware(ClientOriginCORS)
