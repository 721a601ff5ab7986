"""Rate limits: each caller has its own bucket; past it, 429 with Retry-After and a bilingual code."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from licheng.auth.tokens import issue_access_token
from licheng.http.ratelimit import RateLimitMiddleware, TokenBuckets


def test_a_bucket_refills_at_the_rate():
    buckets = TokenBuckets(per_minute=60, burst=2)
    assert buckets.take("k", now=0.0) == 0 and buckets.take("k", now=0.0) == 0
    assert buckets.take("k", now=0.0) > 0.9  # empty: about a second to the next token
    assert buckets.take("k", now=1.1) == 0


async def _ok(request):
    return JSONResponse({"ok": True})


def _app(burst: int, settings=None) -> Starlette:
    app = Starlette(routes=[Route("/graphql", _ok, methods=["POST"]), Route("/healthz", _ok),
                            Route("/auth/sso/choose", _ok, methods=["POST"])])  # fmt: skip
    app.state.settings = settings
    app.add_middleware(RateLimitMiddleware, per_minute=60, burst=burst)
    return app


async def test_past_the_burst_a_caller_gets_429_and_others_do_not(settings):
    transport = httpx.ASGITransport(app=_app(burst=3, settings=settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        a = {"authorization": f"Bearer {issue_access_token(settings, 1, None)[0]}"}
        statuses = [(await http.post("/graphql", headers=a)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await http.post("/graphql", headers=a)
        assert refused.json()["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert "秒後再試" in refused.json()["message_zh"]
        b = {"authorization": f"Bearer {issue_access_token(settings, 2, None)[0]}"}
        assert (await http.post("/graphql", headers=b)).status_code == 200  # another valid token: its own bucket
        assert (await http.get("/healthz", headers=a)).status_code == 200  # probes are never limited


async def test_a_made_up_bearer_per_request_does_not_get_a_fresh_bucket(settings):
    transport = httpx.ASGITransport(app=_app(burst=3, settings=settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        statuses = [(await http.post("/graphql", headers={"authorization": f"Bearer bogus-{i}"})).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]  # unvalidated tokens count as the address


async def test_the_sign_in_routes_are_limited(settings):
    transport = httpx.ASGITransport(app=_app(burst=2, settings=settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        statuses = [(await http.post("/auth/sso/choose")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_the_real_app_limits_graphql_per_token(settings):
    from licheng.app import create_app

    limited = settings.model_copy(update={"rate_limit_per_minute": 60, "rate_limit_burst": 2})
    transport = httpx.ASGITransport(app=create_app(limited, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        query = {"query": "{ viewer { login } }"}
        statuses = [(await http.post("/graphql", json=query)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
