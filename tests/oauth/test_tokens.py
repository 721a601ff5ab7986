"""Refresh rotation and reuse detection, client credentials, revocation, introspection, suspension."""

from __future__ import annotations

from licheng.auth.oauth import registry
from licheng.auth.oauth.models import ClientKind, OAuthToken
from licheng.tenants.models import Role
from tests.oauth.conftest import bureau_admin_actor, register_client

VIEWER = "{ viewer { login } }"


async def test_refresh_rotates_and_reuse_revokes_the_family(factory, browser, gql):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    first = await browser.tokens_for(client, student)
    second = (await browser.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"] and second["scope"] == first["scope"]
    gql.token = second["access_token"]
    await gql.ok(VIEWER)
    reused = await browser.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The leak ended the whole family: the newest refresh token and its access token stop too.
    latest = await browser.token(client, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert latest.json()["error"] == "invalid_grant"
    assert await gql.error_code(VIEWER) == "TOKEN_REVOKED"


async def test_refresh_may_narrow_but_never_widen_the_scope(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    first = await browser.tokens_for(client, student)
    wider = await browser.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"], scope="profile school:admin")
    assert wider.json()["error"] == "invalid_scope"
    narrower = await browser.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"], scope="profile")
    assert narrower.json()["scope"] == "profile"


async def test_client_credentials_act_in_the_school_as_its_applicant(factory, browser, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    staff = await factory.member(school, Role.STAFF)
    client = await register_client(factory, bureau, kind=ClientKind.SCHOOL, applicant=staff, scopes=("school:read",))
    response = await browser.token(client, grant_type="client_credentials", scope="school:read")
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    gql.token = response.json()["access_token"]
    data = await gql.ok("{ schools { edges { node { code } } } }")
    assert [e["node"]["code"] for e in data["schools"]["edges"]] == [school.code]


async def test_vendor_clients_cannot_use_client_credentials(factory, browser):
    client = await register_client(factory, await factory.bureau())
    response = await browser.token(client, grant_type="client_credentials")
    assert response.json()["error"] == "unauthorized_client"


async def test_revoking_a_refresh_token_ends_its_access_token_at_once(factory, browser, gql):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    tokens = await browser.tokens_for(client, student)
    gql.token = tokens["access_token"]
    await gql.ok(VIEWER)
    response = await browser.http.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}, auth=(client.client_id, client.secret)
    )
    assert response.status_code == 200
    assert await gql.error_code(VIEWER) == "TOKEN_REVOKED"
    refreshed = await browser.token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


async def test_introspection_answers_a_client_about_its_own_tokens_only(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client, other = await register_client(factory, bureau), await register_client(factory, bureau)
    tokens = await browser.tokens_for(client, student)
    mine = await browser.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, auth=(client.client_id, client.secret))
    body = mine.json()
    assert body["active"] is True and body["client_id"] == client.client_id and body["scope"] == "profile school:read"
    theirs = await browser.http.post("/oauth/introspect", data={"token": tokens["access_token"]}, auth=(other.client_id, other.secret))
    assert theirs.json() == {"active": False}
    await browser.http.post("/oauth/revoke", data={"token": tokens["access_token"]}, auth=(client.client_id, client.secret))
    after = await browser.http.post("/oauth/introspect", data={"token": tokens["refresh_token"]}, auth=(client.client_id, client.secret))
    assert after.json() == {"active": False}


async def test_a_suspended_client_is_refused_everywhere(factory, browser, gql):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    tokens = await browser.tokens_for(client, student)
    await registry.suspend_client(await bureau_admin_actor(factory, bureau), client.row.id, "資安事件")
    gql.token = tokens["access_token"]
    assert await gql.error_code(VIEWER) == "TOKEN_REVOKED"
    refreshed = await browser.token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_client"
    page = await browser.http.get(browser.authorize_url(client.client_id, "x" * 43))
    assert page.status_code == 400
    assert await OAuthToken.filter(client_id=client.row.id, revoked_at=None).count() == 0


async def test_a_wrong_client_secret_is_refused(factory, browser):
    client = await register_client(factory, await factory.bureau())
    response = await browser.http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_server_metadata_is_valid_rfc_8414(browser, settings):
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    response = await browser.http.get("/.well-known/oauth-authorization-server")
    metadata = AuthorizationServerMetadata(response.json())
    metadata.validate()
    assert metadata["issuer"] == settings.base_url and metadata["code_challenge_methods_supported"] == ["S256"]


async def test_two_racing_refreshes_cannot_both_win(factory, browser):
    import asyncio

    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau)
    tokens = await browser.tokens_for(client, student)
    answers = await asyncio.gather(*[
        browser.token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]) for _ in range(4)
    ])  # fmt: skip
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) <= 1
    assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code != 200)
