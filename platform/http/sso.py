"""Single sign-on routes: ``/auth/sso/{provider}/start`` -> provider -> ``/auth/sso/{provider}/callback``.

``start?school=<our code>&next=<path>`` redirects to the provider's authorize URL
with ``state`` and PKCE (authlib's Starlette client). What the callback needs
back (state, code verifier, school, next) travels in a sealed cookie that lives
10 minutes on ``/auth/sso/`` only: no server-side session, so any web pod can
answer the callback. The callback exchanges the code, reads the provider's user
APIs, links the identity (``licheng.auth.external``) and answers:

- browser sign-in (``next`` given): a redirect to ``next`` with our tokens in the
  URL *fragment* (never sent to a server, never in an access log);
- API clients (no ``next``): JSON ``{access_token, refresh_token, token_type, expires_at}``;
- a person in several schools: the schools and a one-time ``choice_token`` (an HTML
  page of buttons for the browser, with a SameSite=Strict cookie against login
  CSRF), completed by ``POST /auth/sso/choose``.

``next`` may only name a page of the app (``NEXT_PREFIXES``): it receives the tokens.

Every refusal is a clear zh-TW/English page or JSON with a stable code; codes,
tokens and secrets never reach a log line or a message.
"""

from __future__ import annotations

import hmac
import html
import json
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from licheng.auth import external, sealed
from licheng.auth.service import TokenPair
from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.http import sso_client
from licheng.http.errors import error_response
from licheng.plugins.contracts import OAuthProvider
from licheng.settings import Settings

COOKIE = "licheng_sso"
COOKIE_PATH = "/auth/sso/"
COOKIE_SECONDS = 600
# Holds the choice nonce's hash while a browser picks a school: a choice posted from elsewhere lacks it.
CHOICE_COOKIE = "licheng_sso_choice"
# Where a browser sign-in may return (tokens ride in the fragment): the app's pages, never /auth/ or an API.
NEXT_PREFIXES = ("/console/",)
NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
_STATUS = {"EXTERNAL_ACCOUNT_UNKNOWN": 403, "EXTERNAL_WRONG_SCHOOL": 403, "EXTERNAL_STATE_MISMATCH": 400,
           "EXTERNAL_PROVIDER_ERROR": 502, "EXTERNAL_ACCESS_DENIED": 403, "EXTERNAL_PROVIDER_UNAVAILABLE": 503,
           "EXTERNAL_CHOICE_INVALID": 400, "EXTERNAL_ADMIN_REFUSED": 403}  # fmt: skip


def state_mismatch() -> LichengError:
    return LichengError("EXTERNAL_STATE_MISMATCH", "登入驗證已逾時或不一致，請重新登入。",
                        "The sign-in could not be verified (expired or mismatched state): sign in again.")  # fmt: skip


def _safe_next(value: str | None) -> str | None:
    """Only a page of our app (``NEXT_PREFIXES``): no scheme, host, fragment, ``..`` or /auth/ path.

    The tokens are appended as the fragment, so ``next`` decides which page receives them.
    """
    if not value:
        return None
    lowered = value.lower()
    if (not (value.startswith(NEXT_PREFIXES) or value + "/" in NEXT_PREFIXES) or "\\" in value or "#" in value
            or ".." in value or "%2e" in lowered or "%2f" in lowered or "%5c" in lowered or len(value) > 500
            or any(ord(c) < 33 for c in value)):  # fmt: skip
        raise InvalidInput("next", "next 須為本站的頁面路徑（例如 /console/）", "next must be a page of this site (e.g. /console/)")
    return value


def _wants_json(request: Request, next_path: str | None) -> bool:
    return next_path is None or "application/json" in request.headers.get("accept", "")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=zh-Hant><meta charset=utf-8><title>{html.escape(title)}</title>"
                        f"<body>{body}</body></html>", status, headers=NO_STORE)  # fmt: skip


def _refusal(request: Request, error: LichengError, as_json: bool) -> Response:
    status = _STATUS.get(error.code)
    if as_json:
        response: Response = error_response(error, status)
    else:
        body = (f"<h1>{html.escape(error.message_zh)}</h1><p lang=en>{html.escape(error.message_en)}</p>"
                f"<p><small>{html.escape(error.code)}</small></p>")  # fmt: skip
        response = _page("無法登入 Sign-in failed", body, status or 400)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    response.delete_cookie(CHOICE_COOKIE, path=COOKIE_PATH)
    return response


def _token_body(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "token_type": "Bearer",
            "expires_at": pair.expires_at}  # fmt: skip


def _signed_in(pair: TokenPair, next_path: str | None, as_json: bool) -> Response:
    if as_json or next_path is None:
        response: Response = JSONResponse(_token_body(pair), headers=NO_STORE)
    else:
        response = RedirectResponse(f"{next_path}#{urlencode(_token_body(pair))}", 303, headers=NO_STORE)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    response.delete_cookie(CHOICE_COOKIE, path=COOKIE_PATH)
    return response


def _choices(settings: Settings, result: external.ExternalSignIn, next_path: str | None, as_json: bool) -> Response:
    if as_json:
        body = {"choices": [{"school_code": c.code, "school_name": c.name} for c in result.choices],
                "choice_token": result.choice_token}  # fmt: skip
        response: Response = JSONResponse(body, headers=NO_STORE)
    else:
        hidden = {"choice_token": result.choice_token or "", "next": next_path or ""}
        fields = "".join(f'<input type=hidden name="{k}" value="{html.escape(v)}">' for k, v in hidden.items())
        buttons = "".join(f'<button name=school value="{html.escape(c.code)}">{html.escape(c.name)}</button>' for c in result.choices)
        response = _page("選擇學校 Choose a school", f"<h1>請選擇要登入的學校</h1><p lang=en>Choose the school to sign in to</p>"
                         f"<form method=post action=/auth/sso/choose>{fields}{buttons}</form>")  # fmt: skip
        response.set_cookie(CHOICE_COOKIE, result.choice_nonce_hash or "", max_age=external.CHOICE_SECONDS, path=COOKIE_PATH,
                            httponly=True, secure=settings.base_url.startswith("https://"), samesite="strict")  # fmt: skip
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _origin(url: str) -> str:
    parts = url.split("/")
    return "/".join(parts[:3]).lower()


def _cross_site(request: Request, settings: Settings) -> bool:
    """A browser tells where a request comes from: anything but our own origin is refused."""
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != _origin(settings.base_url):
        return True
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def _oauth_provider(school_code: str | None, provider_id: str) -> external.ProviderAt:
    at = await external.find_provider(school_code or "", provider_id)
    if not isinstance(at.provider, OAuthProvider):
        raise NotFound("identity_provider", "登入方式")
    return at


async def start(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    as_json = "application/json" in request.headers.get("accept", "")
    try:
        next_path = _safe_next(request.query_params.get("next"))
        school_code = request.query_params.get("school", "")
        at = await _oauth_provider(school_code, request.path_params["provider"])
    except LichengError as error:
        return _refusal(request, error, as_json)
    assert isinstance(at.provider, OAuthProvider)
    redirect_uri = f"{settings.base_url.rstrip('/')}/auth/sso/{at.provider.id}/callback"
    session: dict[str, Any] = {}
    request.scope["session"] = session
    response = await sso_client.oauth_client(at.provider).authorize_redirect(request, redirect_uri)
    state = sealed.seal(settings, "sso-state", {"session": session, "school": at.school.code, "next": next_path}, COOKIE_SECONDS)
    response.set_cookie(COOKIE, state, max_age=COOKIE_SECONDS, path=COOKIE_PATH, httponly=True,
                        secure=settings.base_url.startswith("https://"), samesite="lax")  # fmt: skip
    response.headers.update(NO_STORE)
    return response


async def callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    saved = sealed.unseal(settings, "sso-state", request.cookies.get(COOKIE))
    next_path = saved.get("next") if saved else None
    as_json = _wants_json(request, next_path)
    provider_id = request.path_params["provider"]
    state = request.query_params.get("state", "")
    if saved is None or not state or f"_state_{provider_id}_{state}" not in saved.get("session", {}):
        return _refusal(request, state_mismatch(), as_json)
    try:
        at = await _oauth_provider(saved.get("school"), provider_id)
    except LichengError as error:
        return _refusal(request, error, as_json)
    provider = at.provider
    assert isinstance(provider, OAuthProvider)
    request.scope["session"] = dict(saved["session"])
    try:
        try:
            token = await sso_client.oauth_client(provider).authorize_access_token(request)
            data = await sso_client.read_identity_data(provider, token)
        except MismatchingStateError:
            raise state_mismatch() from None
        except OAuthError as error:
            raise sso_client.provider_error(str(error.error or "oauth_error")) from None
        except (sso_client.ProviderUnavailable, httpx.HTTPError) as error:
            reason = str(error) if isinstance(error, sso_client.ProviderUnavailable) else type(error).__name__
            await external.provider_failed(at, RuntimeError(f"provider unreachable: {reason}"), [provider.client_secret])
            raise external.provider_unavailable() from None
        await external.provider_ok(at)
        identity = (provider.identity_of or sso_client.default_identity)(data)
        result = await external.sign_in_external(settings, at, identity)
    except LichengError as error:
        return _refusal(request, error, as_json)
    if result.tokens is None:
        return _choices(settings, result, next_path, as_json)
    return _signed_in(result.tokens, next_path, as_json)


async def choose(request: Request) -> Response:
    """Second step for a person in several schools: form or JSON ``{choice_token, school, next}``.

    Login CSRF: a page elsewhere could post its own choice token and sign the victim's
    browser in as someone else. A browser's request must come from our origin, and a
    form must carry the cookie set with the choice page (SameSite=Strict: never sent
    from another site). JSON needs ``Content-Type: application/json``, which no plain
    cross-site form can send.
    """
    settings: Settings = request.app.state.settings
    is_json = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
    if _cross_site(request, settings):
        return _refusal(request, state_mismatch(), is_json)
    if is_json:
        try:
            data: dict[str, Any] = json.loads(await request.body())
        except ValueError:
            data = {}
    else:
        data = {k: str(v) for k, v in (await request.form()).items()}
    data = data if isinstance(data, dict) else {}
    as_json = not data.get("next") or "application/json" in request.headers.get("accept", "")
    token = str(data.get("choice_token") or "")
    try:
        next_path = _safe_next(str(data.get("next") or "") or None)
        if not is_json:
            expected = external.choice_nonce_hash(settings, token) or ""
            if not expected or not hmac.compare_digest(request.cookies.get(CHOICE_COOKIE, ""), expected):
                raise state_mismatch()
        pair = await external.complete_choice(settings, token, str(data.get("school") or ""))
    except LichengError as error:
        return _refusal(request, error, as_json)
    return _signed_in(pair, next_path, as_json)


async def logout(request: Request) -> Response:
    """Send the browser to the provider's logout (it clears the provider's session, not our tokens)."""
    settings: Settings = request.app.state.settings
    try:
        at = await _oauth_provider(request.query_params.get("school"), request.path_params["provider"])
        back = _safe_next(request.query_params.get("next")) or "/"
    except LichengError as error:
        return _refusal(request, error, "application/json" in request.headers.get("accept", ""))
    provider = at.provider
    assert isinstance(provider, OAuthProvider)
    if not provider.logout_url:
        return RedirectResponse(back, 303)
    target = f"{provider.logout_url}?{urlencode({'redirect': settings.base_url.rstrip('/') + back})}"
    return RedirectResponse(target, 303)


def sso_routes() -> list[BaseRoute]:
    return [
        Route("/auth/sso/choose", choose, methods=["POST"], name="sso_choose"),
        Route("/auth/sso/{provider}/start", start, methods=["GET"], name="sso_start"),
        Route("/auth/sso/{provider}/callback", callback, methods=["GET"], name="sso_callback"),
        Route("/auth/sso/{provider}/logout", logout, methods=["GET"], name="sso_logout"),
    ]
