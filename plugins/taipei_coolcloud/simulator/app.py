"""A simulator of Taipei's single sign-on (tpeduSSO), faithful to ../shared/reference/taipei-sso.md.

``create_simulator(state)`` is a Starlette app: the OAuth2 server (a login form,
then a consent step; authorization_code, refresh_token and client_credentials
grants; client authentication in the body or HTTP Basic; exact ``redirect_uri``
match; PKCE accepted and ignored, like the real one), the user APIs
(``/api/v2/user``, ``/profile``, ``/idno``, ``/me``, ``/logout``) with RS256 JWT
access tokens, and the school data API when ``school_api.py`` is present. The
quirks are kept: errors ``{error, error_description, message[, hint]}``, 403 on a
missing scope, a redirect to a login page when a call does not ask for JSON,
keys sent only when set. Tests post the forms themselves (no browser).
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from taipei_coolcloud.simulator import school_api
from taipei_coolcloud.simulator.state import ERRORS, SimClient, SimState, SsoError

CODE_SECONDS = 600


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=zh-Hant><title>{title}</title><body>{body}</body></html>", status)


def _hidden(fields: dict[str, str]) -> str:
    return "".join(f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items())


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode({k: v for k, v in params.items() if v is not None})


def _authorize_params(source: Any) -> dict[str, str]:
    keys = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
    return {k: str(source[k]) for k in keys if source.get(k) is not None}


def _client_for_authorize(state: SimState, params: dict[str, str]) -> SimClient:
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        raise SsoError(401, "invalid_client")
    if params.get("redirect_uri") and params["redirect_uri"] != client.redirect_uri:
        raise SsoError(401, "invalid_client", "The redirect_uri does not match the registered one")
    if params.get("response_type") != "code":
        raise SsoError(400, "unsupported_response_type" if params.get("response_type") else "invalid_request")
    return client


def _login_form(params: dict[str, str], error: str = "") -> HTMLResponse:
    note = f"<p class=error>{html.escape(error)}</p>" if error else ""
    return _page("臺北市單一身分驗證", f"{note}<form method=post action=/oauth/authorize>{_hidden(params)}"
                 "<input name=username><input name=password type=password><button>登入</button></form>",
                 401 if error else 200)  # fmt: skip


def create_simulator(state: SimState) -> Starlette:
    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            params = _authorize_params(request.query_params)
            state.authorize_requests.append(dict(params))
            _client_for_authorize(state, params)
            return _login_form(params)
        form = await request.form()
        if form.get("ticket"):  # the consent step
            ticket = state.tickets.pop(str(form["ticket"]), None)
            if ticket is None:
                raise SsoError(400, "invalid_request", "The login session has expired")
            params, client = ticket["params"], state.clients[ticket["client"]]
            redirect = params.get("redirect_uri") or client.redirect_uri
            if form.get("decision") != "approve":
                denied = ERRORS["access_denied"]
                query = {"error": "access_denied", "error_description": denied, "message": denied, "state": params.get("state")}
                return RedirectResponse(_with_query(redirect, query), 302)
            code = secrets.token_hex(32)
            state.codes[code] = {"client": client.id, "sub": ticket["sub"], "scopes": ticket["scopes"],
                                 "redirect_uri": params.get("redirect_uri"), "exp": time.time() + CODE_SECONDS}  # fmt: skip
            return RedirectResponse(_with_query(redirect, {"code": code, "state": params.get("state")}), 302)
        params = _authorize_params(form)
        client = _client_for_authorize(state, params)
        user = state.user_by_login(str(form.get("username", "")))
        if user is None or not secrets.compare_digest(user.password, str(form.get("password", ""))):
            return _login_form(params, "帳號或密碼錯誤")
        ticket_id = secrets.token_hex(16)
        scopes = [s for s in params.get("scope", "").split() if s]
        state.tickets[ticket_id] = {"params": params, "client": client.id, "sub": user.uuid, "scopes": scopes}
        listed = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        return _page("授權確認", f"<p>{html.escape(client.name)} 要求存取：</p><ul>{listed}</ul>"
                     f"<form method=post action=/oauth/authorize>{_hidden({'ticket': ticket_id})}"
                     "<button name=decision value=approve>同意</button><button name=decision value=deny>拒絕</button></form>")  # fmt: skip

    def _client_auth(request: Request, form: Any) -> SimClient:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                raise SsoError(401, "invalid_client") from None
        client = state.clients.get(str(client_id or ""))
        if client is None or not secrets.compare_digest(client.secret, str(secret or "")):
            raise SsoError(401, "invalid_client")
        return client

    async def token(request: Request) -> Response:
        form = await request.form()
        state.token_requests.append({k: str(v) for k, v in form.items() if k != "client_secret"})
        client = _client_auth(request, form)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = state.codes.pop(str(form.get("code", "")), None)
            if code is None or code["client"] != client.id or code["exp"] < time.time():
                raise SsoError(400, "invalid_request", "Authorization code has expired or was already used")
            if str(form.get("redirect_uri", "")) != client.redirect_uri:
                raise SsoError(401, "invalid_client", "The redirect_uri does not match the registered one")
            return JSONResponse(state.issue(client.id, code["sub"], code["scopes"], "authorization_code"))
        if grant == "refresh_token":
            old = state.refresh_tokens.pop(str(form.get("refresh_token", "")), None)
            if old is None or old["client"] != client.id or old["exp"] < time.time():
                raise SsoError(401, "invalid_request", "The refresh token is invalid.")
            return JSONResponse(state.issue(client.id, old["sub"], old["scopes"], "refresh_token"))
        if grant == "client_credentials":
            scopes = [s for s in str(form.get("scope", "")).split() if s]
            return JSONResponse(state.issue(client.id, "", scopes, "client_credentials", refresh=False))
        raise SsoError(400, "unsupported_grant_type")

    def _user_of(claims: dict[str, Any]) -> Any:
        user = state.users.get(str(claims.get("sub", "")))
        if user is None:
            raise SsoError(401, "access_denied", "The token has no user")
        return user

    def _present(data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v not in (None, "", [], {})}  # keys appear only when set

    async def user(request: Request) -> Response:
        u = _user_of(state.check_bearer(request, "user"))
        return JSONResponse(_present({"role": u.role, "uuid": u.uuid, "name": u.name, "email": u.email,
                                      "email_verified": bool(u.email), "email_login": bool(u.email)}))  # fmt: skip

    async def me(request: Request) -> Response:
        u = _user_of(state.check_bearer(request, "me"))
        return JSONResponse(_present({"name": u.name, "email": u.email}))

    async def profile(request: Request) -> Response:
        u = _user_of(state.check_bearer(request, "profile"))
        return JSONResponse(_present({"role": u.role, "uuid": u.uuid, "name": u.name, "email": u.email, **u.profile}))

    async def idno(request: Request) -> Response:
        u = _user_of(state.check_bearer(request, "idno"))
        return JSONResponse(_present({"idno": u.idno}))

    async def logout(request: Request) -> Response:
        return RedirectResponse(request.query_params.get("redirect") or "/login", 302)

    async def login_page(request: Request) -> Response:
        return _page("臺北市單一身分驗證", "<form method=post action=/login><input name=username><input name=password type=password></form>")

    async def sso_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SsoError)
        state.api_calls.append((request.url.path, exc.status))
        if exc.redirect:
            return RedirectResponse(exc.redirect, 302)
        return JSONResponse(exc.body, exc.status)

    routes: list[BaseRoute] = [
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/api/v2/user", user), Route("/api/v2/me", me), Route("/api/v2/profile", profile),
        Route("/api/v2/idno", idno), Route("/api/v2/logout", logout), Route("/login", login_page),
    ]  # fmt: skip
    routes += school_api.routes(state)  # the school data API (the sync's client-credentials calls)
    return Starlette(routes=routes, exception_handlers={SsoError: sso_error})
