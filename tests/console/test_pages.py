"""The console's shells: served at /console, zh-TW first, English on request, no inline script."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_the_console_opens_on_the_plugin_admin_in_traditional_chinese(http) -> None:
    response = await http.get("/console/", follow_redirects=True)
    assert response.status_code == 200 and str(response.url).endswith("/console/plugins/")
    assert '<html lang="zh-TW">' in response.text and "外掛管理" in response.text
    assert 'for="login"' in response.text and 'for="password"' in response.text


async def test_english_is_available_and_remembered(http) -> None:
    response = await http.get("/console/onboarding/?lang=en")
    assert '<html lang="en">' in response.text and "Create a school" in response.text
    assert response.cookies.get("licheng_lang") == "en"
    again = await http.get("/console/imports/", cookies={"licheng_lang": "en"})
    assert "Upload a CSV" in again.text


async def test_pages_run_no_inline_script_and_send_a_strict_policy(http) -> None:
    response = await http.get("/console/plugins/taipei_coolcloud")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert all('type="application/json"' in attrs or ("src=" in attrs and not body) for attrs, body in scripts)
    assert 'data-plugin-id="taipei_coolcloud"' in response.text


async def test_the_scripts_and_styles_are_served(http) -> None:
    for name in ("console.js", "plugins.js", "onboarding.js", "imports.js", "apps.js", "console.css"):
        response = await http.get(f"/console/static/{name}")
        assert response.status_code == 200 and response.content


async def test_the_scripts_speak_only_to_the_public_graphql_endpoint(http) -> None:
    for name in ("console.js", "plugins.js", "onboarding.js", "imports.js", "apps.js"):
        text = (await http.get(f"/console/static/{name}")).text
        assert ".innerHTML" not in text and "insertAdjacentHTML" not in text
        assert set(re.findall(r'fetch\(\s*"([^"]+)"', text)) <= {"/graphql"}


async def test_a_malformed_plugin_id_is_not_found(http) -> None:
    assert (await http.get("/console/plugins/Bad%20Id")).status_code == 404


async def test_the_applications_page_is_labelled_in_both_languages(http) -> None:
    zh = (await http.get("/console/apps/")).text
    assert "已連結的應用程式" in zh and 'for="client-secret"' in zh and "/console/static/apps.js" in zh
    assert 'aria-current="page">第三方應用程式<' in zh
    en = (await http.get("/console/apps/?lang=en")).text
    assert "Connected apps" in en and "Review applications" in en
