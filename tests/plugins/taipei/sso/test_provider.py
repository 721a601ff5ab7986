"""Talking to the provider: refresh of an expired token, the provider down, nothing secret in the logs."""

from __future__ import annotations

import logging
import socket
from urllib.parse import parse_qs, urlsplit

import pytest

from licheng.auth.models import ExternalLogin
from licheng.plugins import runtime
from licheng.plugins.models import PluginHealth
from licheng.tenants.models import Role
from tests.plugins.taipei.sso.conftest import Flow, Taipei, unique_login
from tests.plugins.taipei.sso.test_linking import new_national_id, protected


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


async def test_an_access_token_the_provider_calls_expired_is_refreshed_and_the_sign_in_goes_on(taipei: Taipei, factory, flow: Flow) -> None:
    member = await factory.member(taipei.schools[0], Role.STUDENT, name="王小明")
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "王小明", login, "pw", o=taipei.codes[0], studentId=member.person.student_number)
    before = len(taipei.sim.state.token_requests)
    taipei.sim.state.stale_grants.add("authorization_code")  # its tokens get 401 while expires_in says valid
    try:
        response = await flow.sign_in(taipei.schools[0], login, "pw")
    finally:
        taipei.sim.state.stale_grants.discard("authorization_code")
    assert response.status_code == 200, response.text
    grants = [r["grant_type"] for r in taipei.sim.state.token_requests[before:]]
    assert grants == ["authorization_code", "refresh_token"]
    assert ("/api/v2/user", 401) in taipei.sim.state.api_calls


async def test_a_token_already_expired_by_expires_in_is_refreshed_before_the_call(taipei: Taipei, factory, flow: Flow) -> None:
    member = await factory.member(taipei.schools[0], Role.STUDENT, name="王小明")
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "王小明", login, "pw", o=taipei.codes[0], studentId=member.person.student_number)
    before = len(taipei.sim.state.token_requests)
    calls = len(taipei.sim.state.api_calls)
    taipei.sim.state.ttl_by_grant["authorization_code"] = -120  # expires_in is negative: expired on arrival
    try:
        response = await flow.sign_in(taipei.schools[0], login, "pw")
    finally:
        taipei.sim.state.ttl_by_grant.clear()
    assert response.status_code == 200, response.text
    assert [r["grant_type"] for r in taipei.sim.state.token_requests[before:]] == ["authorization_code", "refresh_token"]
    assert taipei.sim.state.api_calls[calls:] == []  # refreshed before calling: no 401 on the way


async def test_the_provider_down_gives_a_clear_error_and_a_failing_plugin_health(taipei: Taipei, factory, flow: Flow) -> None:
    member = await factory.member(taipei.schools[0], Role.STUDENT, name="王小明")
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "王小明", login, "pw", o=taipei.codes[0], studentId=member.person.student_number)
    started = await flow.start(taipei.schools[0])
    redirect = await flow.at_provider(started.headers["location"], login, "pw")
    await taipei.configure(sso_base_url=f"http://127.0.0.1:{_closed_port()}")  # the provider goes away mid-flow
    response = await flow.callback(redirect)
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "EXTERNAL_PROVIDER_UNAVAILABLE" and body["message_zh"] and body["message_en"]
    failure = await PluginHealth.get(plugin_id="taipei_coolcloud", hook="identity_provider:tpedu", school_id=taipei.schools[0].id)
    assert not failure.ok and failure.consecutive_failures == 1 and taipei.sim.client.secret not in failure.error_message
    rows = await runtime.check_health(await taipei.admin.actor(), taipei.manager, taipei.bureau.id, "taipei_coolcloud")
    check = next(r for r in rows if r.hook == "licheng_health_check")
    assert not check.ok and "single sign-on" in check.error_message


async def test_the_health_check_passes_while_the_provider_answers(taipei: Taipei) -> None:
    rows = await runtime.check_health(await taipei.admin.actor(), taipei.manager, taipei.bureau.id, "taipei_coolcloud")
    assert next(r for r in rows if r.hook == "licheng_health_check").ok


async def test_no_secret_code_token_or_national_id_reaches_the_logs(
    taipei: Taipei, factory, flow: Flow, settings, caplog: pytest.LogCaptureFixture
) -> None:
    idno = new_national_id()
    await factory.member(taipei.schools[0], Role.TEACHER, **protected(settings, idno))
    login = unique_login("tea")
    taipei.sim.state.add_user("教師", "李大同", login, "pw-teacher", idno=idno, o=taipei.codes[0])
    with caplog.at_level(logging.DEBUG):
        started = await flow.start(taipei.schools[0])
    # The browser's own steps at the provider are not our logs (the code is in its redirect).
    redirect = await flow.at_provider(started.headers["location"], login, "pw-teacher")
    with caplog.at_level(logging.DEBUG):
        response = await flow.callback(redirect)
        stale = await flow.callback(redirect)  # replayed: refused, and logged no better
        await taipei.configure(sso_base_url=f"http://127.0.0.1:{_closed_port()}")
        started2 = await flow.start(taipei.schools[0])
        old_state = parse_qs(urlsplit(redirect).query)["state"][0]
        new_state = parse_qs(urlsplit(started2.headers["location"]).query)["state"][0]
        down = await flow.callback(redirect.replace(old_state, new_state))  # the code again, at a dead provider
    assert response.status_code == 200 and stale.status_code == 400 and down.status_code == 503
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    tokens = response.json()
    # The test's own browser (an httpx client to http://testserver) logs the URLs it opens: not ours.
    ours = [r for r in caplog.records if not (r.name == "httpx" and "http://testserver/" in r.getMessage())]
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    for secret in (taipei.sim.client.secret, code, idno, tokens["access_token"], tokens["refresh_token"], "pw-teacher"):
        leaks = [line for line in text.splitlines() if secret in line]
        assert not leaks, (secret[:6], [line[:300] for line in leaks][:3])
    for body in (stale.text, down.text):
        assert code not in body and taipei.sim.client.secret not in body


class _Forgetful(dict):
    """The provider's refresh-token store after an early revocation: it keeps none."""

    def __setitem__(self, key: object, value: object) -> None:
        return None


async def test_a_refused_refresh_is_a_provider_error_and_links_nobody(taipei: Taipei, factory, flow: Flow, monkeypatch) -> None:
    member = await factory.member(taipei.schools[0], Role.STUDENT, name="王小明")
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "王小明", login, "pw", o=taipei.codes[0], studentId=member.person.student_number)
    taipei.sim.state.stale_grants.add("authorization_code")  # 401 on the first call: a refresh is needed
    monkeypatch.setattr(taipei.sim.state, "refresh_tokens", _Forgetful())  # ... and refused
    try:
        response = await flow.sign_in(taipei.schools[0], login, "pw")
    finally:
        taipei.sim.state.stale_grants.discard("authorization_code")
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["code"] == "EXTERNAL_PROVIDER_ERROR" and body["details"]["provider_error"] and body["message_zh"]
    assert not await ExternalLogin.exists(person_id=member.person.id)


async def test_a_403_on_the_national_id_api_is_skipped_and_the_student_still_links(taipei: Taipei, factory, flow: Flow) -> None:
    member = await factory.member(taipei.schools[0], Role.STUDENT, name="王小明")
    login = unique_login("stu")
    taipei.sim.state.add_user("學生", "王小明", login, "pw", idno=new_national_id(), o=taipei.codes[0], studentId=member.person.student_number)
    started = await flow.start(taipei.schools[0])
    # The provider grants only user and profile (as when the bureau's client lacks idno): /api/v2/idno answers 403.
    narrowed = started.headers["location"].replace("scope=user+profile+idno", "scope=user+profile")
    assert narrowed != started.headers["location"]
    calls = len(taipei.sim.state.api_calls)
    response = await flow.callback(await flow.at_provider(narrowed, login, "pw"))
    assert response.status_code == 200, response.text
    assert ("/api/v2/idno", 403) in taipei.sim.state.api_calls[calls:]
    assert await ExternalLogin.exists(person_id=member.person.id, linked_by="student_number")
