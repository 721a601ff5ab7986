"""Per-caller rate limits for the API: a token bucket per valid bearer token, else per address.

Pure ASGI so that streaming uploads pass untouched. In-process: with N web pods a
caller gets up to N times the rate, which is the intent (a guard against runaway
clients and credential stuffing, not a billing meter). A bearer token counts as
the caller only once its signature and expiry check out (``licheng.auth.tokens``):
otherwise a made-up header per request would get a fresh bucket each time. Keys
are hashes, so no token is kept in memory in the clear. The sign-in routes
(``/auth/sso``) are limited too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from licheng.auth import tokens
from licheng.settings import Settings

LIMITED_PREFIXES = ("/graphql", "/oauth/token", "/uploads", "/auth/sso")
MAX_KEYS = 20_000  # least recently seen callers are forgotten first


class TokenBuckets:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed; otherwise the seconds until one request is allowed again."""
        now = time.monotonic() if now is None else now
        tokens, seen = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - seen) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > MAX_KEYS:
            self.buckets.popitem(last=False)
        return wait


def caller_key(scope: Scope, settings: Settings | None) -> str:
    """The bearer token when it is one of ours and valid, else the client's address."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer " and settings is not None:
            if tokens.read_access_token(settings, value[7:].strip().decode("latin-1")) is not None:
                return "t:" + hashlib.sha256(value[7:].strip()).hexdigest()[:32]
    client = scope.get("client") or ("unknown", 0)
    return "a:" + str(client[0])


def _settings(scope: Scope) -> Settings | None:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return settings if isinstance(settings, Settings) else None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(per_minute, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIXES) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(caller_key(scope, _settings(scope)))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, int(wait + 0.999))
        body = json.dumps(
            {
                "code": "RATE_LIMITED",
                "message_zh": f"請求過於頻繁，請於 {retry_after} 秒後再試",
                "message_en": f"Too many requests: try again in {retry_after} s",
                "details": {"retry_after": retry_after},
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"retry-after", str(retry_after).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
