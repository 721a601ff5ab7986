"""The console's routes: page shells and static files, mounted by the app at ``/console``.

No data is served here: every page is a shell whose script talks to the public
``/graphql`` endpoint with the signed-in user's token, like any third-party UI.
The language comes from ``?lang=`` (remembered in a cookie), else zh-TW.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from licheng.console.i18n import pick_lang
from licheng.console.pages import render

STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "licheng_lang"
PLUGIN_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
# The script and styles come from this origin only; nothing inline runs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _version() -> str:
    """Changes when a static file changes, so browsers never run a stale script."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


VERSION = _version()


def _page(request: Request, page: str, plugin_id: str | None = None) -> Response:
    query_lang = request.query_params.get("lang")
    lang = pick_lang(query_lang, request.cookies.get(LANG_COOKIE))
    response = HTMLResponse(render(page, lang, plugin_id=plugin_id, version=VERSION))
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["cache-control"] = "no-store"
    if query_lang == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/console")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/console/plugins/" + (f"?{request.url.query}" if request.url.query else ""), status_code=307)


async def plugins(request: Request) -> Response:
    return _page(request, "plugins")


async def plugin_detail(request: Request) -> Response:
    plugin_id = request.path_params["plugin_id"]
    if not PLUGIN_ID.match(plugin_id):
        return HTMLResponse("not found", status_code=404)
    return _page(request, "plugins", plugin_id)


async def onboarding(request: Request) -> Response:
    return _page(request, "onboarding")


async def imports(request: Request) -> Response:
    return _page(request, "imports")


async def apps(request: Request) -> Response:
    return _page(request, "apps")


def console_app() -> Router:
    """What ``/console`` serves."""
    return Router(
        routes=[
            Route("/", home),
            Route("/plugins/", plugins),
            Route("/plugins/{plugin_id}", plugin_detail),
            Route("/onboarding/", onboarding),
            Route("/imports/", imports),
            Route("/apps/", apps),
            Mount("/static", StaticFiles(directory=STATIC), name="console-static"),
        ]
    )
