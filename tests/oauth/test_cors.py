"""CORS: only approved clients' origins may call the API from a browser, and never with cookies."""

from __future__ import annotations

from licheng.auth.oauth import registry
from tests.oauth.conftest import bureau_admin_actor, register_client

PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type"}


async def test_an_approved_clients_origin_passes_the_preflight_without_credentials(factory, browser):
    await register_client(factory, await factory.bureau(), redirect_uris=("https://portal.example.tw/oauth/cb",))
    for path in ("/graphql", "/oauth/token"):
        response = await browser.http.options(path, headers={"origin": "https://portal.example.tw", **PREFLIGHT})
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "https://portal.example.tw"
        assert "authorization" in response.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in response.headers


async def test_other_origins_get_no_cors_headers(factory, browser):
    preflight = await browser.http.options("/graphql", headers={"origin": "https://evil.example", **PREFLIGHT})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    response = await browser.http.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


async def test_api_responses_carry_the_origin_and_never_set_cookies(factory, browser):
    await register_client(factory, await factory.bureau(), redirect_uris=("https://m.example.tw/cb",))
    response = await browser.http.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://m.example.tw"})
    assert response.headers["access-control-allow-origin"] == "https://m.example.tw"
    assert "Origin" in response.headers["vary"] and "set-cookie" not in response.headers
    token = await browser.http.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"origin": "https://m.example.tw"})
    assert token.headers["access-control-allow-origin"] == "https://m.example.tw" and "set-cookie" not in token.headers


async def test_a_suspended_clients_origin_is_dropped_at_once(factory, browser):
    bureau = await factory.bureau()
    client = await register_client(factory, bureau, redirect_uris=("https://gone.example.tw/cb",))
    headers = {"origin": "https://gone.example.tw", **PREFLIGHT}
    assert (await browser.http.options("/graphql", headers=headers)).status_code == 204
    await registry.suspend_client(await bureau_admin_actor(factory, bureau), client.row.id, "停權")
    assert (await browser.http.options("/graphql", headers=headers)).status_code == 403
