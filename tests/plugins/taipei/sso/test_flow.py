"""The browser-free redirect sign-in through our app and the tpeduSSO simulator, end to end."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

from licheng.auth.models import ExternalLogin
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role
from tests.plugins.taipei.sso.conftest import Flow, Taipei, unique_login

VIEWER = "{ viewer { login roles school { code } person { name } } }"


async def _student(taipei: Taipei, factory, school_index: int = 0, **profile):
    school = taipei.schools[school_index]
    member = await factory.member(school, Role.STUDENT, name="王小明")
    login = unique_login("stu")
    user = taipei.sim.state.add_user(
        "學生", "王小明", login, "pw-student", o=taipei.codes[school_index],
        studentId=member.person.student_number, **profile,
    )  # fmt: skip
    return member, user, login


async def test_a_student_signs_in_through_the_single_sign_on_and_the_api_knows_him(taipei: Taipei, factory, flow: Flow, gql) -> None:
    member, user, login = await _student(taipei, factory, **{"class": "101", "seat": "7"})
    response = await flow.sign_in(taipei.schools[0], login, "pw-student")
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    gql.token = tokens["access_token"]
    viewer = (await gql.ok(VIEWER))["viewer"]
    assert viewer["login"] == member.login and viewer["roles"] == ["STUDENT"]
    assert viewer["school"]["code"] == taipei.schools[0].code and viewer["person"]["name"] == "王小明"
    link = await ExternalLogin.get(provider_id="tpedu", subject=user.uuid)
    assert (link.person_id, link.school_id, link.linked_by) == (member.person.id, taipei.schools[0].id, "student_number")
    assert await AuditEntry.exists(action="sign_in_external", account_id=member.account.id, school_id=taipei.schools[0].id)
    # The second sign-in uses the link (and the refresh token works like any other).
    again = await flow.sign_in(taipei.schools[0], login, "pw-student")
    assert again.status_code == 200 and await ExternalLogin.filter(subject=user.uuid).count() == 1
    refreshed = await gql.ok("mutation($r: String!) { refreshTokens(refreshToken: $r) { accessToken } }", {"r": tokens["refresh_token"]})
    assert refreshed["refreshTokens"]["accessToken"]


async def test_state_and_pkce_are_sent_and_the_verifier_matches_the_challenge(taipei: Taipei, factory, flow: Flow) -> None:
    _, _, login = await _student(taipei, factory)
    started = await flow.start(taipei.schools[0])
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"][0] and query["client_id"] == [taipei.sim.client.id]
    assert set(query["scope"][0].split()) == {"user", "profile", "idno"}
    assert "licheng_sso" in started.headers["set-cookie"] and "HttpOnly" in started.headers["set-cookie"]
    redirect = await flow.at_provider(started.headers["location"], login, "pw-student")
    assert parse_qs(urlsplit(redirect).query)["state"] == query["state"]  # echoed
    assert (await flow.callback(redirect)).status_code == 200
    sent = next(r for r in reversed(taipei.sim.state.token_requests) if r.get("grant_type") == "authorization_code")
    digest = base64.urlsafe_b64encode(hashlib.sha256(sent["code_verifier"].encode()).digest()).rstrip(b"=").decode()
    assert digest == query["code_challenge"][0]


async def test_a_browser_sign_in_returns_to_next_with_the_tokens_in_the_fragment(taipei: Taipei, factory, flow: Flow, gql) -> None:
    _, _, login = await _student(taipei, factory)
    response = await flow.sign_in(taipei.schools[0], login, "pw-student", next_path="/console/", accept="text/html")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/console/#") and "?" not in location.split("#")[0]
    fragment = parse_qs(location.split("#", 1)[1])
    gql.token = fragment["access_token"][0]
    assert (await gql.ok(VIEWER))["viewer"]["roles"] == ["STUDENT"]
    assert response.headers["cache-control"] == "no-store"


BAD_NEXT = ("https://evil.example/", "//evil.example/x", "/\\evil", "/auth/sso/choose", "/console/#x", "/console/../auth/",
            "/console/%2e%2e/auth/", "/graphql", "/")  # fmt: skip


async def test_next_must_be_a_page_of_the_app_on_start_choose_and_logout(taipei: Taipei, flow: Flow) -> None:
    school = taipei.schools[0].code
    for bad in BAD_NEXT:
        for response in (
            await flow.app.get("/auth/sso/tpedu/start", params={"school": school, "next": bad}, headers={"accept": "application/json"}),
            await flow.app.get("/auth/sso/tpedu/logout", params={"school": school, "next": bad}, headers={"accept": "application/json"}),
            await flow.app.post("/auth/sso/choose", json={"choice_token": "x", "school": school, "next": bad},
                                headers={"accept": "application/json"}),  # fmt: skip
        ):
            assert response.status_code == 400 and response.json()["code"] == "INVALID_INPUT", (bad, response.text)


async def test_a_callback_whose_state_does_not_match_is_refused(taipei: Taipei, factory, flow: Flow) -> None:
    _, user, login = await _student(taipei, factory)
    started = await flow.start(taipei.schools[0])
    redirect = await flow.at_provider(started.headers["location"], login, "pw-student")
    forged = redirect.replace("state=", "state=x")
    response = await flow.callback(forged)
    assert response.status_code == 400 and response.json()["code"] == "EXTERNAL_STATE_MISMATCH"
    assert response.json()["message_zh"] and response.json()["message_en"]
    # Without our cookie (another browser replaying the redirect) it is refused too, as a page for a browser.
    flow.app.cookies.clear()
    page = await flow.callback(redirect, accept="text/html")
    assert page.status_code == 400 and "重新登入" in page.text and "sign in again" in page.text
    assert not await ExternalLogin.exists(subject=user.uuid)


async def test_a_refused_consent_is_a_clear_error(taipei: Taipei, factory, flow: Flow) -> None:
    _, _, login = await _student(taipei, factory)
    started = await flow.start(taipei.schools[0])
    redirect = await flow.at_provider(started.headers["location"], login, "pw-student", decision="deny")
    response = await flow.callback(redirect)
    assert response.status_code == 403 and response.json()["code"] == "EXTERNAL_ACCESS_DENIED"


async def test_an_unknown_provider_or_a_school_without_the_plugin_is_not_found(taipei: Taipei, factory, flow: Flow) -> None:
    other = await factory.school()  # another bureau: no plugin
    for school_code, provider in ((other.code, "tpedu"), (taipei.schools[0].code, "nope")):
        response = await flow.app.get(f"/auth/sso/{provider}/start", params={"school": school_code}, headers={"accept": "application/json"})
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


async def test_logout_sends_the_browser_to_the_provider_and_back_to_our_path(taipei: Taipei, flow: Flow) -> None:
    response = await flow.app.get("/auth/sso/tpedu/logout", params={"school": taipei.schools[0].code, "next": "/console/"})
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{taipei.sim.base_url}/api/v2/logout"
    assert parse_qs(target.query)["redirect"][0].endswith("/console/")


def test_on_https_the_choice_cookie_is_secure_strict_and_scoped_to_the_sign_in_paths(settings) -> None:
    from licheng.auth.external import ExternalSignIn, SchoolChoice
    from licheng.http import sso

    result = ExternalSignIn(None, (SchoolChoice(1, "000001", "甲"), SchoolChoice(2, "000002", "乙")), "token", "nonce-hash")
    for base, secure in (("https://licheng.example.tw", True), ("http://127.0.0.1:8000", False)):
        page = sso._choices(settings.model_copy(update={"base_url": base}), result, "/console/", as_json=False)
        cookie = next(v for k, v in page.headers.items() if k == "set-cookie" and v.startswith("licheng_sso_choice=nonce-hash"))
        assert ("Secure" in cookie) is secure and "samesite=strict" in cookie.lower() and "Path=/auth/sso/" in cookie
        assert "HttpOnly" in cookie
