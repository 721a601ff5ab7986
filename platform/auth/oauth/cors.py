"""CORS for browser clients: only the origins of approved clients' redirect URIs, never credentials.

A pure ASGI middleware (no per-request Starlette objects) on the API paths:
browsers at an approved client's origin may call /graphql and the token
endpoints with a bearer token; every other origin gets no CORS headers. Those
paths never set cookies: an API call is authorised by its bearer token only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licheng.auth.oauth import registry

API_PATHS = frozenset({"/graphql", "/oauth/token", "/oauth/revoke", "/oauth/userinfo"})
RELOAD_SECONDS = 30.0


@dataclass(frozen=True)
class CorsRule:
    """What a browser at an approved origin may send to a path, and which response headers it may read."""

    methods: tuple[str, ...]
    request_headers: str
    exposed: str | None = None


API_RULE = CorsRule(("GET", "POST"), "authorization, content-type")


class ClientOriginCORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._origins: set[str] = set()
        self._loaded_at = 0.0
        self._version = -1

    async def origins(self) -> set[str]:
        """Cached for a while; reloaded at once after an approval or suspension in this process."""
        if self._version != registry.origins_version or time.monotonic() - self._loaded_at > RELOAD_SECONDS:
            self._version = registry.origins_version
            self._origins = await registry.allowed_origins()
            self._loaded_at = time.monotonic()
        return self._origins

    def rule_for(self, path: str) -> CorsRule | None:
        """The CORS rule of a path, or None: not a path browsers of other origins may call."""
        return API_RULE if path in API_PATHS else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.rule_for(scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = bool(origin) and origin in await self.origins()
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed or headers["access-control-request-method"].upper() not in rule.methods:
                refusal = PlainTextResponse("Origin not allowed", status_code=403, headers={"Vary": "Origin"})
                await refusal(scope, receive, send)
                return
            preflight = PlainTextResponse("", status_code=204, headers={
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Methods": ", ".join(rule.methods),
                "Access-Control-Allow-Headers": rule.request_headers,
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
                    if rule.exposed:
                        response_headers["Access-Control-Expose-Headers"] = rule.exposed
            await send(message)

        await self.app(scope, receive, send_with_cors)
