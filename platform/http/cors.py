"""CORS on the storage edges: the rule of /graphql (`licheng.auth.oauth.cors`) for /uploads and /files/{id}.

Browsers at an approved OAuth client's origin (its redirect URIs) may upload
(`POST /uploads` with `Authorization`, `Content-Type`, `X-Filename`; the direct
upload's `/uploads/direct` and `/uploads/{id}/complete`) and
download (`GET /files/{id}`, reading `Content-Disposition` and `Repr-Digest`);
never with credentials (the endpoints take a bearer token or a ticket, never
a cookie), and every other origin gets no CORS headers at all. The origins
and their reloading are those of `ClientOriginCORS` (one cache, one rule).
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from licheng.auth.oauth.cors import ClientOriginCORS

_ROUTES = (
    (re.compile(r"/uploads\Z"), "POST", "authorization, content-type, x-filename"),
    (re.compile(r"/uploads/(direct|[A-Za-z0-9=_-]+/complete)\Z"), "POST", "authorization, x-filename"),
    (re.compile(r"/files/\d+\Z"), "GET", "authorization"),
)
EXPOSED = "Content-Disposition, Repr-Digest, Retry-After"


def _route(path: str) -> tuple[str, str] | None:
    for pattern, method, headers in _ROUTES:
        if pattern.match(path):
            return method, headers
    return None


class StorageCORS(ClientOriginCORS):
    """`ClientOriginCORS` with the storage paths, their method and their request headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        method, allowed_headers = route
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = bool(origin) and origin in await self.origins()
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed or headers["access-control-request-method"].upper() != method:
                await PlainTextResponse("Origin not allowed", status_code=403, headers={"Vary": "Origin"})(
                    scope, receive, send
                )
                return
            preflight = PlainTextResponse("", status_code=204, headers={
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Methods": method,
                "Access-Control-Allow-Headers": allowed_headers,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            })  # fmt: skip
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                del response_headers["set-cookie"]
                response_headers.add_vary_header("Origin")
                if allowed:
                    response_headers["Access-Control-Allow-Origin"] = origin or ""
                    response_headers["Access-Control-Expose-Headers"] = EXPOSED
            await send(message)

        await self.app(scope, receive, send_with_cors)
