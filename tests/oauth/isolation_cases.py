"""Isolation cases for OAuth client and connected-app operations (see tests/graphql/test_isolation.py).

School B's bureau has its own clients; the intruder (staff in school A, admin
of bureau A) must neither see, decide on, suspend nor disconnect them.
"""

from __future__ import annotations

from licheng.auth.oauth import registry
from licheng.auth.oauth.models import ClientKind, ClientStatus, OAuthClient, OAuthConsent
from licheng.graphql.relay import to_global_id
from licheng.tenants.actor import Actor
from tests.graphql.isolation import Case, World


async def _client_of_b(w: World, *, approve: bool = False, consent: bool = False) -> dict:
    application = registry.Application(
        organisation=f"乙局廠商{w.school_b.code}", name=f"乙局應用{w.school_b.code}", purpose="乙校專用",
        redirect_uris=["https://b.example.org/cb"], kind=ClientKind.VENDOR, public=False, scopes=["profile"],
    )  # fmt: skip
    row = await registry.apply_for_client(await w.student_b.actor(), w.bureau_b.id, application)
    if approve or consent:
        admin = await w.factory.bureau_admin(w.bureau_b)
        row, _ = await registry.approve_client(await admin.actor(), row.id)
    if consent:
        student = Actor(account_id=w.student_b.account.id, school_id=w.school_b.id)
        await registry.remember_consent(student, row, ["profile"])
    w.extra["client"] = row
    return {"id": to_global_id("OAuthClient", row.id)}


def _secrets(w: World) -> list[str]:
    client = w.extra.get("client")
    return [w.school_b.name, w.student_b.person.name] + ([client.name, client.organisation] if client else [])


async def _status_is(w: World, status: ClientStatus) -> None:
    assert (await OAuthClient.get(id=w.extra["client"].id)).status == status


async def _pending(w: World) -> None:
    await _status_is(w, ClientStatus.PENDING)


async def _approved(w: World) -> None:
    await _status_is(w, ClientStatus.APPROVED)


async def _consent_kept(w: World) -> None:
    assert await OAuthConsent.exists(account_id=w.student_b.account.id, revoked_at=None)


async def _only_a_pending_application(w: World) -> None:
    rows = await OAuthClient.filter(bureau_id=w.bureau_b.id, applicant_id=w.intruder.account.id)
    assert all(r.status == ClientStatus.PENDING and r.school_id is None and r.client_id is None for r in rows)


CASES: dict[str, Case] = {
    "Query.oauthScopes": Case("{ oauthScopes { name } }"),
    "Query.oauthClients": Case(
        "{ oauthClients { edges { node { name organisation } } } }", lambda w: _client_of_b(w), secrets=_secrets
    ),
    "Query.connectedApps": Case(
        "{ connectedApps { client { name } } }", lambda w: _client_of_b(w, consent=True), secrets=_secrets
    ),
    "Mutation.applyForOauthClient": Case(
        'mutation($b: ID!) { applyForOauthClient(input: {bureauId: $b, organisation: "x", name: "x", purpose: "x",'
        ' redirectUris: ["https://x.example/cb"], kind: SCHOOL, scopes: ["profile"]}) { status } }',
        lambda w: _async({"b": to_global_id("Bureau", w.bureau_b.id)}),
        check=_only_a_pending_application,
    ),
    "Mutation.approveOauthClient": Case(
        "mutation($id: ID!) { approveOauthClient(id: $id) { clientSecret client { name } } }",
        lambda w: _client_of_b(w), secrets=_secrets, check=_pending,
    ),  # fmt: skip
    "Mutation.rejectOauthClient": Case(
        'mutation($id: ID!) { rejectOauthClient(id: $id, reason: "x") { name } }',
        lambda w: _client_of_b(w), secrets=_secrets, check=_pending,
    ),  # fmt: skip
    "Mutation.suspendOauthClient": Case(
        'mutation($id: ID!) { suspendOauthClient(id: $id, reason: "x") { name } }',
        lambda w: _client_of_b(w, approve=True), secrets=_secrets, check=_approved,
    ),  # fmt: skip
    "Mutation.revokeConnectedApp": Case(
        "mutation($id: ID!) { revokeConnectedApp(clientId: $id) }",
        lambda w: _client_of_b(w, consent=True), secrets=_secrets, check=_consent_kept,
    ),  # fmt: skip
}


async def _async(value: dict) -> dict:
    return value
