"""Authorization code with PKCE: the happy path and every way a code request must fail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from licheng.auth.oauth.models import OAuthCode
from licheng.tenants.models import Person, Role
from tests.oauth.conftest import REDIRECT, pkce_pair, redirect_params, register_client


async def test_code_flow_gives_a_token_limited_to_the_granted_scopes(factory, browser, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    student = await factory.member(school, Role.STUDENT, name="王小明")
    client = await register_client(factory, bureau)
    tokens = await browser.tokens_for(client, student)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    assert set(tokens["scope"].split()) == {"profile", "school:read"}
    gql.token = tokens["access_token"]
    data = await gql.ok("{ viewer { person { name } school { code } } }")
    assert data["viewer"]["person"]["name"] == "王小明"
    assert data["viewer"]["school"]["code"] == school.code


async def test_state_is_echoed(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    response = await browser.consent(browser.authorize_url(client.client_id, challenge, state="s-42/ä"), student)
    assert redirect_params(response)["state"] == "s-42/ä"
    assert response.headers["location"].startswith(REDIRECT + "?")


async def test_denying_redirects_with_access_denied_and_the_state(factory, browser):
    bureau = await factory.bureau()
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    response = await browser.consent(browser.authorize_url(client.client_id, challenge, state="st"), None, decision="deny")
    params = redirect_params(response)
    assert (params["error"], params["state"]) == ("access_denied", "st")


async def test_pkce_is_required_and_only_s256(factory, browser):
    bureau = await factory.bureau()
    client = await register_client(factory, bureau)
    for url in (browser.authorize_url(client.client_id, None), browser.authorize_url(client.client_id, "x" * 43, method="plain")):
        response = await browser.http.get(url)
        assert response.status_code == 302
        assert redirect_params(response)["error"] == "invalid_request"


async def test_pkce_mismatch_is_refused(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    code, _ = await browser.code_for(client, student)
    wrong, _ = pkce_pair()
    response = await browser.token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=wrong)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_uri_is_refused_without_redirecting(factory, browser):
    bureau = await factory.bureau()
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    response = await browser.http.get(browser.authorize_url(client.client_id, challenge, redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400 and "location" not in response.headers


async def test_token_request_with_another_redirect_uri_is_refused(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, redirect_uris=(REDIRECT, "https://app.example.org/other"))
    code, verifier = await browser.code_for(client, student)
    response = await browser.token(
        client, grant_type="authorization_code", code=code, redirect_uri="https://app.example.org/other", code_verifier=verifier
    )
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_works_once_and_its_reuse_revokes_what_it_gave(factory, browser, gql):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    code, verifier = await browser.code_for(client, student)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    first = await browser.token(client, **form)
    assert first.status_code == 200
    second = await browser.token(client, **form)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    gql.token = first.json()["access_token"]
    assert await gql.error_code("{ viewer { login } }") == "TOKEN_REVOKED"
    refreshed = await browser.token(client, grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


async def test_an_expired_code_is_refused(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    code, verifier = await browser.code_for(client, student)
    await OAuthCode.filter(client_id=client.row.id).update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    response = await browser.token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_of_one_client_is_useless_to_another(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client, other = await register_client(factory, bureau), await register_client(factory, bureau)
    code, verifier = await browser.code_for(client, student)
    response = await browser.token(other, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert response.json()["error"] == "invalid_grant"


async def test_public_clients_use_pkce_without_a_secret(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, public=True, redirect_uris=("http://127.0.0.1:8765/cb",))
    assert client.secret is None
    tokens = await browser.tokens_for(client, student, redirect_uri="http://127.0.0.1:8765/cb")
    assert tokens["access_token"]


async def test_a_forged_consent_post_is_refused(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    url = browser.authorize_url(client.client_id, challenge)
    response = await browser.http.post(url, data={"decision": "allow", "login": student.login, "password": "Passw0rdOK", "csrf_token": "forged"})
    assert response.status_code == 400 and "location" not in response.headers


async def test_remembered_consent_skips_the_page_until_revoked(factory, browser, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    student = await factory.member(school, Role.STUDENT)
    client = await register_client(factory, bureau)
    await browser.code_for(client, student)
    _, challenge = pkce_pair()
    again = await browser.http.get(browser.authorize_url(client.client_id, challenge))
    assert again.status_code == 302 and "code" in redirect_params(again)
    await gql.sign_in_as(student)
    apps = await gql.ok("{ connectedApps { client { id name } scopes { name } } }")
    assert [s["name"] for s in apps["connectedApps"][0]["scopes"]] == ["profile", "school:read"]
    client_gid = apps["connectedApps"][0]["client"]["id"]
    await gql.ok("mutation($c: ID!) { revokeConnectedApp(clientId: $c) }", {"c": client_gid})
    assert (await gql.ok("{ connectedApps { client { id } } }"))["connectedApps"] == []
    page = await browser.http.get(browser.authorize_url(client.client_id, challenge))
    assert page.status_code == 200 and "csrf_token" in page.text


async def test_a_person_of_a_school_outside_the_bureau_is_refused(factory, browser):
    bureau, other_bureau = await factory.bureau(), await factory.bureau()
    outsider = await factory.member(await factory.school(other_bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    response = await browser.consent(browser.authorize_url(client.client_id, challenge), outsider)
    assert response.status_code == 403 and "location" not in response.headers


async def test_scopes_are_narrowed_to_what_the_bureau_approved(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, scopes=("profile",))
    tokens = await browser.tokens_for(client, student, scope="profile school:admin")
    assert tokens["scope"] == "profile"
    _, challenge = pkce_pair()
    response = await browser.http.get(browser.authorize_url(client.client_id, challenge, scope="school:admin"))
    assert redirect_params(response)["error"] == "invalid_scope"


async def test_a_person_in_several_schools_picks_one_with_the_school_code(factory, browser, gql):
    bureau = await factory.bureau()
    school_a, school_b = await factory.school(bureau), await factory.school(bureau)
    teacher = await factory.member(school_a, Role.TEACHER)
    await Person.create(school=school_b, account=teacher.account, name="兼課老師")
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    unchosen = await browser.consent(browser.authorize_url(client.client_id, challenge), teacher)
    assert unchosen.status_code == 403 and "school code" in unchosen.text
    verifier, challenge = pkce_pair()
    chosen = await browser.consent(browser.authorize_url(client.client_id, challenge), teacher, school_code=school_b.code)
    code = redirect_params(chosen)["code"]
    token = await browser.token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    gql.token = token.json()["access_token"]
    assert (await gql.ok("{ viewer { school { code } } }"))["viewer"]["school"]["code"] == school_b.code


async def test_a_wrong_password_on_the_page_is_answered_in_both_languages(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    _, challenge = pkce_pair()
    url = browser.authorize_url(client.client_id, challenge)
    page = await browser.http.get(url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await browser.http.post(url, data={"csrf_token": csrf, "decision": "allow", "login": student.login, "password": "Wrong-pass1"})
    assert response.status_code == 401 and "帳號或密碼錯誤" in response.text and "Wrong account name or password" in response.text


async def test_the_consent_page_lists_the_scopes_in_plain_words_in_both_languages(factory, browser):
    client = await register_client(factory, await factory.bureau())
    _, challenge = pkce_pair()
    page = await browser.http.get(browser.authorize_url(client.client_id, challenge))
    assert "讀取學校、班級與人員名單" in page.text and "Read the school, its classes and people" in page.text
    assert "學習歷程小幫手" in page.text and page.headers["x-frame-options"] == "DENY"
    assert "school:admin" not in page.text


async def test_someone_else_can_sign_in_over_a_remembered_session(factory, browser, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    first, second = await factory.member(school, Role.STUDENT), await factory.member(school, Role.STUDENT)
    client = await register_client(factory, bureau)
    await browser.code_for(client, first)
    verifier, challenge = pkce_pair()
    page = await browser.consent(browser.authorize_url(client.client_id, challenge) + "&prompt=consent", second)
    code = redirect_params(page)["code"]
    token = await browser.token(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    gql.token = token.json()["access_token"]
    assert (await gql.ok("{ viewer { login } }"))["viewer"]["login"] == second.login
