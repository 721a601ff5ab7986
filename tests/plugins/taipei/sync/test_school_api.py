"""The simulated school data API answers like tpeduSSO, quirks included (reference: taipei-sso.md)."""

from __future__ import annotations

import httpx
import pytest

from licheng.errors import LichengError
from licheng.settings import Settings
from licheng.tenants import sync
from tests.plugins.taipei.sync.conftest import DC, Simulator, TaipeiSchool

JSON = {"Accept": "application/json"}


def bearer(sim: Simulator, scopes: list[str]) -> dict[str, str]:
    token = sim.state.issue("1", "", scopes, "client_credentials", refresh=False)["access_token"]
    return {**JSON, "Authorization": f"Bearer {token}"}


async def test_lists_are_uuids_and_an_empty_one_is_a_404_with_an_error(taipei: TaipeiSchool) -> None:
    sim = taipei.sim
    async with httpx.AsyncClient(base_url=sim.url, headers=bearer(sim, ["school"])) as http:
        students = await http.get(f"/api/v2/school/{DC}/class/101/students")
        assert students.status_code == 200 and sorted(students.json()) == ["s-hua", "s-ming"]
        empty = await http.get(f"/api/v2/school/{DC}/class/103/students")
        assert empty.status_code == 404 and empty.json() == {"error": "該班級查無學生"}
        assert (await http.get(f"/api/v2/school/{DC}/class/101/teachers")).json() == ["t-lee"]
        assert sorted((await http.get(f"/api/v2/school/{DC}/class/102/subjects")).json()) == ["subj02", "subj16"]
        person = (await http.get(f"/api/v2/school/{DC}/people/s-ming")).json()
        assert (person["employeeType"], person["employeeNumber"], person["tpClass"], person["tpSeat"]) == ("學生", "112001", "101", "7")
        assert "tpTutorClass" not in person  # keys appear only when set
        assert (await http.get("/api/v2/school/nosuch/class")).status_code == 404
        assert (await http.get(f"/api/v2/school/{DC}/people/s-other")).status_code == 404  # another school's person
        assert (await http.get(f"/api/v2/school/{DC}/people")).status_code == 500  # a search needs a condition


async def test_auth_quirks_redirect_401_and_403(taipei: TaipeiSchool) -> None:
    sim = taipei.sim
    async with httpx.AsyncClient(base_url=sim.url) as http:
        redirect = await http.get(f"/api/v2/school/{DC}/class")  # no Accept: application/json
        assert redirect.status_code == 302 and redirect.headers["location"].endswith("/login")
        assert (await http.get(f"/api/v2/school/{DC}/class", headers=JSON)).status_code == 401
        no_scope = await http.get(f"/api/v2/school/{DC}/class", headers=bearer(sim, ["me"]))
        assert no_scope.status_code == 403 and no_scope.json()["error"] == "invalid_scope"


async def test_a_token_the_api_rejects_midway_is_a_clear_auth_failure(settings: Settings, taipei: TaipeiSchool) -> None:
    taipei.sim.state.stale_grants.add("client_credentials")
    try:
        with pytest.raises(LichengError) as failed:
            await sync.sync_school_people(settings, await taipei.staff_actor())
    finally:
        taipei.sim.state.stale_grants.discard("client_credentials")
    assert failed.value.code == "SYNC_AUTH_FAILED" and failed.value.details == {"status": 401}


async def test_health_says_whether_the_sync_client_gets_a_token(taipei: TaipeiSchool) -> None:
    from taipei_coolcloud import sync as adapter
    from taipei_coolcloud.plugin import plugin

    values = {"sync_enabled": True, "sso_base_url": taipei.sim.url, "sso_client_id": taipei.client_id}
    good = plugin.settings_model(**values, sso_client_secret=taipei.client_secret)
    report = await adapter.sync_health(good)
    assert report is not None and report.ok
    bad = plugin.settings_model(**values, sso_client_secret="f" * 40)
    failing = await plugin.licheng_health_check(bad)
    assert not failing.ok and "refused the sync client" in failing.detail_en
    assert await adapter.sync_health(plugin.settings_model()) is None
