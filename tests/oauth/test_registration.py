"""Client registration: apply, approve (secret once, stored hashed), reject, suspend; all audited."""

from __future__ import annotations

import hashlib

import pytest

from licheng.auth.oauth.models import OAuthClient
from licheng.auth.oauth.registry import check_redirect_uri
from licheng.errors import InvalidInput
from licheng.graphql.relay import to_global_id
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role

APPLY = """mutation($b: ID!, $uris: [String!]!, $public: Boolean!, $kind: OAuthClientKind!) {
  applyForOauthClient(input: {bureauId: $b, organisation: "好學科技", name: "小幫手", purpose: "查看學習歷程",
    redirectUris: $uris, kind: $kind, public: $public, scopes: ["profile", "portfolio:read"]}) {
    id status clientId scopes { name descriptionZh } } }"""
APPROVE = "mutation($id: ID!) { approveOauthClient(id: $id) { clientSecret client { clientId status } } }"


@pytest.mark.parametrize("uri", ["https://app.example.org/cb", "http://127.0.0.1:8765/cb", "http://localhost/cb", "https://x.tw/cb?a=1"])
def test_redirect_uris_that_are_accepted(uri):
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri", ["http://app.example.org/cb", "ftp://x/cb", "https://app.example.org/cb#frag", "javascript:alert(1)", "https://u:p@x.tw/cb", "/cb"]
)
def test_redirect_uris_that_are_refused(uri):
    with pytest.raises(InvalidInput):
        check_redirect_uri(uri)


async def _apply(gql, bureau, *, public=False, uris=("https://app.example.org/cb",), kind="VENDOR"):
    variables = {"b": to_global_id("Bureau", bureau.id), "uris": list(uris), "public": public, "kind": kind}
    return await gql.execute(APPLY, variables)


async def test_a_developer_applies_and_the_bureau_approves_with_a_secret_shown_once(factory, gql):
    bureau = await factory.bureau()
    developer = await factory.member(await factory.school(), Role.TEACHER)
    await gql.sign_in_as(developer)
    applied = (await _apply(gql, bureau))["data"]["applyForOauthClient"]
    assert applied["status"] == "PENDING" and applied["clientId"] is None
    assert applied["scopes"][1] == {"name": "portfolio:read", "descriptionZh": "讀取學習歷程檔案（課程學習成果、多元表現）"}
    await gql.sign_in_as(await factory.bureau_admin(bureau))
    approved = (await gql.ok(APPROVE, {"id": applied["id"]}))["approveOauthClient"]
    secret = approved["clientSecret"]
    assert approved["client"]["status"] == "APPROVED" and approved["client"]["clientId"].startswith("lc_")
    row = await OAuthClient.get(client_id=approved["client"]["clientId"])
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(row.__dict__.values())
    listed = await gql.ok("{ oauthClients { edges { node { clientId status bureau { code } } } } }")
    assert {"clientId": row.client_id, "status": "APPROVED", "bureau": {"code": bureau.code}} in [e["node"] for e in listed["oauthClients"]["edges"]]
    assert await gql.error_code(APPROVE, {"id": applied["id"]}) == "CLIENT_STATUS"  # no second secret
    actions = await AuditEntry.filter(record_type="oauth_client", record_id=str(row.id)).values_list("action", flat=True)
    assert {"oauth_client_applied", "oauth_client_approved"} <= set(actions)


async def test_public_clients_get_no_secret(factory, gql):
    bureau = await factory.bureau()
    await gql.sign_in_as(await factory.member(await factory.school(), Role.STUDENT))
    applied = (await _apply(gql, bureau, public=True, uris=("http://127.0.0.1:9999/cb",)))["data"]["applyForOauthClient"]
    await gql.sign_in_as(await factory.bureau_admin(bureau))
    assert (await gql.ok(APPROVE, {"id": applied["id"]}))["approveOauthClient"]["clientSecret"] is None


async def test_an_insecure_redirect_uri_is_refused_at_application(factory, gql):
    await gql.sign_in_as(await factory.member(await factory.school(), Role.STUDENT))
    result = await _apply(gql, await factory.bureau(), uris=("http://app.example.org/cb",))
    assert result["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_applying_needs_a_signed_in_account(factory, gql):
    result = await _apply(gql, await factory.bureau())
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_school_integration_must_come_from_the_schools_staff(factory, gql):
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    await gql.sign_in_as(await factory.member(school, Role.TEACHER))
    assert (await _apply(gql, bureau, kind="SCHOOL"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await gql.sign_in_as(await factory.member(school, Role.STAFF))
    assert (await _apply(gql, bureau, kind="SCHOOL"))["data"]["applyForOauthClient"]["status"] == "PENDING"


async def test_another_bureau_cannot_decide_and_a_rejection_is_final(factory, gql):
    bureau, other = await factory.bureau(), await factory.bureau()
    await gql.sign_in_as(await factory.member(await factory.school(), Role.STUDENT))
    applied = (await _apply(gql, bureau))["data"]["applyForOauthClient"]
    await gql.sign_in_as(await factory.bureau_admin(other))
    assert await gql.error_code(APPROVE, {"id": applied["id"]}) == "NOT_FOUND"
    await gql.sign_in_as(await factory.bureau_admin(bureau))
    rejected = await gql.ok('mutation($id: ID!) { rejectOauthClient(id: $id, reason: "用途不明") { status reason } }', {"id": applied["id"]})
    assert rejected["rejectOauthClient"] == {"status": "REJECTED", "reason": "用途不明"}
    assert await gql.error_code(APPROVE, {"id": applied["id"]}) == "CLIENT_STATUS"


async def test_suspending_is_audited_and_needs_a_reason(factory, gql):
    bureau = await factory.bureau()
    await gql.sign_in_as(await factory.member(await factory.school(), Role.STUDENT))
    applied = (await _apply(gql, bureau))["data"]["applyForOauthClient"]
    await gql.sign_in_as(await factory.bureau_admin(bureau))
    await gql.ok(APPROVE, {"id": applied["id"]})
    suspend = 'mutation($id: ID!, $r: String!) { suspendOauthClient(id: $id, reason: $r) { status } }'
    assert await gql.error_code(suspend, {"id": applied["id"], "r": " "}) == "INVALID_INPUT"
    assert (await gql.ok(suspend, {"id": applied["id"], "r": "外洩"}))["suspendOauthClient"]["status"] == "SUSPENDED"
    assert await AuditEntry.exists(action="oauth_client_suspended", bureau_id=bureau.id)
