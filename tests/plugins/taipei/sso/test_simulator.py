"""The simulator keeps tpeduSSO's contract and quirks (../shared/reference/taipei-sso.md), over real HTTP."""

from __future__ import annotations

import re

import httpx
from joserfc import jwt

from tests.plugins.taipei.sso.conftest import Sim, unique_login

JSON = {"accept": "application/json"}


async def _code(sim: Sim, login: str, scope: str = "user profile") -> str:
    params = {"response_type": "code", "client_id": sim.client.id, "redirect_uri": sim.client.redirect_uri, "scope": scope, "state": "st"}
    async with httpx.AsyncClient(base_url=sim.base_url) as browser:
        form = await browser.get("/oauth/authorize", params=params)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
        consent = await browser.post("/oauth/authorize", data={**fields, "username": login, "password": "pw"})
        ticket = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', consent.text))
        back = await browser.post("/oauth/authorize", data={**ticket, "decision": "approve"})
    return re.search(r"code=([0-9a-f]+)", back.headers["location"]).group(1)


async def test_codes_exchange_once_with_basic_or_body_auth_and_an_exact_redirect_uri(sim: Sim) -> None:
    login = unique_login("simu")
    sim.state.add_user("學生", "甲", login, "pw", o="tpsh")
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        code = await _code(sim, login)
        wrong_uri = await http.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": sim.client.redirect_uri + "/x"}, auth=(sim.client.id, sim.client.secret))  # fmt: skip
        assert wrong_uri.status_code == 401 and set(wrong_uri.json()) >= {"error", "error_description", "message"}
        code = await _code(sim, login)
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": sim.client.redirect_uri}
        ok = await http.post("/oauth/token", data={**body, "client_id": sim.client.id, "client_secret": sim.client.secret})
        assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
        replay = await http.post("/oauth/token", data=body, auth=(sim.client.id, sim.client.secret))
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_request"
        bad_secret = await http.post("/oauth/token", data=body, auth=(sim.client.id, "x" * 40))
        assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    claims = jwt.decode(ok.json()["access_token"], sim.state.key, algorithms=["RS256"]).claims
    assert set(claims) == {"aud", "jti", "iat", "nbf", "exp", "sub", "scopes"}
    assert claims["aud"] == sim.client.id and claims["scopes"] == ["user", "profile"]
    assert len(sim.client.secret) == 40 and sim.client.id.isdigit()


async def test_the_api_wants_json_a_scope_and_a_valid_token(sim: Sim) -> None:
    login = unique_login("simu")
    user = sim.state.add_user("家長", "乙", login, "pw", child=["c-1"])
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        code = await _code(sim, login, scope="user")
        token = (await http.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": sim.client.redirect_uri}, auth=(sim.client.id, sim.client.secret))).json()  # fmt: skip
        bearer = {"authorization": f"Bearer {token['access_token']}"}
        html_call = await http.get("/api/v2/user", headers=bearer)
        assert html_call.status_code == 302 and html_call.headers["location"] == "/login"
        assert (await http.get("/api/v2/user", headers={**bearer, **JSON})).json()["uuid"] == user.uuid
        missing_scope = await http.get("/api/v2/profile", headers={**bearer, **JSON})
        assert missing_scope.status_code == 403 and "profile" in missing_scope.json()["hint"]
        assert (await http.get("/api/v2/user", headers={"authorization": "Bearer x.y.z", **JSON})).status_code == 401
        refreshed = await http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                                    auth=(sim.client.id, sim.client.secret))  # fmt: skip
        assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != token["refresh_token"]
        reused = await http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                                 auth=(sim.client.id, sim.client.secret))  # fmt: skip
        assert reused.status_code == 401
        machine = await http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "school"},
                                  auth=(sim.client.id, sim.client.secret))  # fmt: skip
        assert machine.status_code == 200 and "refresh_token" not in machine.json()
        logout = await http.get("/api/v2/logout", params={"redirect": "http://127.0.0.1:8000/"})
        assert logout.status_code == 302 and logout.headers["location"] == "http://127.0.0.1:8000/"
