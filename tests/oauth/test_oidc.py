"""OpenID Connect: discovery, JWKS, an RS256 id_token with the nonce, userinfo."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import KeySet

from licheng.tenants.models import Role
from tests.oauth.conftest import pkce_pair, redirect_params, register_client

OIDC_SCOPES = ("openid", "profile", "school:read")


async def test_discovery_is_valid_and_offers_rs256(browser, settings):
    from authlib.oidc.discovery import OpenIDProviderMetadata

    metadata = OpenIDProviderMetadata((await browser.http.get("/.well-known/openid-configuration")).json())
    metadata.validate()  # every Discovery 1.0 rule, including "RS256 MUST be included"
    assert metadata["issuer"] == settings.base_url and metadata["jwks_uri"].endswith("/oauth/jwks")
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]


async def test_the_code_flow_with_openid_returns_a_signed_id_token(factory, browser, settings):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    student = await factory.member(school, Role.STUDENT)
    client = await register_client(factory, bureau, scopes=OIDC_SCOPES)
    tokens = await browser.tokens_for(client, student, scope="openid profile", state="n1")
    keys = KeySet.import_key_set((await browser.http.get("/oauth/jwks")).json())
    token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and keys.get_by_kid(token.header["kid"]).key_type == "RSA"
    claims = token.claims
    assert claims["iss"] == settings.base_url and claims["aud"] == [client.client_id]
    assert claims["sub"] == str(student.account.id) and claims["school_code"] == school.code and claims["at_hash"]


async def test_the_nonce_is_echoed_and_cannot_be_replayed(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, scopes=OIDC_SCOPES)
    verifier, challenge = pkce_pair()
    url = browser.authorize_url(client.client_id, challenge, scope="openid") + "&nonce=abc123"
    response = await browser.consent(url, student)
    code = redirect_params(response)["code"]
    token = await browser.token(client, grant_type="authorization_code", code=code, redirect_uri=client.row.redirect_uris[0], code_verifier=verifier)
    id_token = jwt.decode(token.json()["id_token"], KeySet.import_key_set((await browser.http.get("/oauth/jwks")).json()))
    assert id_token.claims["nonce"] == "abc123"
    replay = await browser.http.get(url)
    assert redirect_params(replay)["error"] == "invalid_request"


async def test_userinfo_needs_the_openid_scope(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT, name="林同學")
    client = await register_client(factory, bureau, scopes=OIDC_SCOPES)
    with_openid = await browser.tokens_for(client, student, scope="openid profile")
    info = await browser.http.get("/oauth/userinfo", headers={"authorization": f"Bearer {with_openid['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == str(student.account.id) and info.json()["name"] == "測試"
    browser.http.cookies.clear()  # a new sign-in, so the remembered consent does not apply
    without = await browser.tokens_for(client, student, scope="profile")
    refused = await browser.http.get("/oauth/userinfo", headers={"authorization": f"Bearer {without['access_token']}"})
    assert refused.status_code == 401


async def test_prompt_none_never_shows_a_page(factory, browser):
    bureau = await factory.bureau()
    student = await factory.member(await factory.school(bureau), Role.STUDENT)
    client = await register_client(factory, bureau, scopes=OIDC_SCOPES)
    _, challenge = pkce_pair()
    url = browser.authorize_url(client.client_id, challenge, scope="openid profile", state="p") + "&prompt=none"
    assert redirect_params(await browser.http.get(url))["error"] == "login_required"
    await browser.tokens_for(client, student, scope="openid")
    assert redirect_params(await browser.http.get(url))["error"] == "consent_required"
    await browser.tokens_for(client, student, scope="openid profile", state="p2")
    silent = redirect_params(await browser.http.get(url))
    assert "code" in silent and silent["state"] == "p"
