"""The actor of a non-GraphQL request, from `Authorization: Bearer` (same rules as GraphQL)."""

from __future__ import annotations

from starlette.requests import Request

from licheng.auth.oauth.guard import require_scopes
from licheng.auth.service import PASSWORD_CHANGE_SCOPE, actor_for_token
from licheng.errors import LichengError, Unauthenticated
from licheng.tenants.actor import Actor


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header[:7].lower() == "bearer " else None


# What a third-party token needs for each non-GraphQL route (the same rule as GraphQL's FIELD_SCOPES).
ROUTE_SCOPES = {"POST /uploads": "portfolio:write", "GET /files": "portfolio:read"}


async def request_actor(request: Request) -> Actor:
    """The signed-in actor, or Unauthenticated; a first-sign-in token may only change its password,
    and a third-party token needs the route's scope."""
    bearer = bearer_token(request)
    actor = await actor_for_token(request.app.state.settings, bearer)
    if not actor.is_authenticated:
        raise Unauthenticated()
    if actor.scopes is not None and PASSWORD_CHANGE_SCOPE in actor.scopes:
        raise LichengError("PASSWORD_CHANGE_REQUIRED", "首次登入請先變更密碼", "Change your initial password first")
    route = "POST /uploads" if request.method == "POST" else "GET /files"
    await require_scopes(actor, bearer, {route: ROUTE_SCOPES[route]})
    return actor
