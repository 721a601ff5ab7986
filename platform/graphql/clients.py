"""GraphQL for third-party clients: apply, approve/reject/suspend (bureau admins), connected apps.

The OAuth protocol itself is HTTP (``licheng.auth.oauth.routes``); these are
the administrative steps around it, for Licheng's own console only (their
``FIELD_SCOPES`` entry is ``first-party``, so no third-party token reaches them).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from licheng.auth.oauth import models, registry
from licheng.auth.oauth.scopes import SCOPES, describe
from licheng.graphql.context import Info
from licheng.graphql.loaders import by_id, loader
from licheng.graphql.permissions import SignedIn
from licheng.graphql.relay import Connection, Node, connection, node_resolver, pk_of, to_global_id
from licheng.graphql.tenants import Bureau
from licheng.tenants.models import Bureau as BureauRow

OAuthClientKind = strawberry.enum(models.ClientKind, name="OAuthClientKind")
OAuthClientStatus = strawberry.enum(models.ClientStatus, name="OAuthClientStatus")


@strawberry.type(description="A scope a third-party client may ask for, in plain words.")
class OAuthScope:
    name: str
    description_zh: str
    description_en: str


def _scopes(names: list[str]) -> list[OAuthScope]:
    return [OAuthScope(name=n, description_zh=zh, description_en=en) for n, zh, en in describe(names)]


@strawberry.type(description="A third-party application and where it stands (申請、核准、停權).")
class OAuthClient(Node):
    pk: strawberry.Private[int]
    bureau_pk: strawberry.Private[int]
    client_id: str | None = strawberry.field(description="Issued on approval.")
    organisation: str
    name: str
    purpose: str
    redirect_uris: list[str]
    scopes: list[OAuthScope]
    kind: OAuthClientKind  # type: ignore[valid-type]
    public: bool = strawberry.field(description="A browser or mobile app without a secret; must use PKCE (S256).")
    status: OAuthClientStatus  # type: ignore[valid-type]
    reason: str = strawberry.field(description="Why it was rejected or suspended.")
    created_at: datetime

    @staticmethod
    def of(row: models.OAuthClient) -> OAuthClient:
        return OAuthClient(
            id=to_global_id("OAuthClient", row.id), pk=row.id, bureau_pk=row.bureau_id, client_id=row.client_id,
            organisation=row.organisation, name=row.name, purpose=row.purpose, redirect_uris=list(row.redirect_uris),
            scopes=_scopes(row.scopes), kind=row.kind, public=row.public, status=row.status, reason=row.reason,
            created_at=row.created_at,
        )  # fmt: skip

    @strawberry.field(description="The bureau that decides on this client for its schools.")
    async def bureau(self, info: Info) -> Bureau:
        return Bureau.of(await loader(info, "bureau", by_id(BureauRow)).load(self.bureau_pk))


@strawberry.type
class ApprovedOAuthClient:
    client: OAuthClient
    client_secret: str | None = strawberry.field(
        description="Shown once, never again (only a hash is kept); null for public clients."
    )


@strawberry.type(description="An application the viewer allowed to act for them (已連結的應用程式).")
class ConnectedApp:
    client: OAuthClient
    scopes: list[OAuthScope]
    granted_at: datetime


@strawberry.input
class OAuthClientApplicationInput:
    bureau_id: strawberry.ID = strawberry.field(description="The bureau whose schools the client will serve.")
    organisation: str
    name: str
    purpose: str
    redirect_uris: list[str] = strawberry.field(description="https, or http only to 127.0.0.1 / localhost.")
    kind: OAuthClientKind  # type: ignore[valid-type]
    scopes: list[str]
    public: bool = False


@node_resolver("OAuthClient")
async def _client_node(info: Info, pk: int) -> OAuthClient | None:
    row = await models.OAuthClient.filter(registry.visible_clients(info.context.actor), id=pk).first()
    return OAuthClient.of(row) if row else None


@strawberry.type
class ClientQuery:
    @strawberry.field(description="Every scope a client may ask for.")
    def oauth_scopes(self) -> list[OAuthScope]:
        return _scopes(list(SCOPES))

    @strawberry.field(
        permission_classes=[SignedIn], description="Your applications, and those of the bureaus you administer."
    )
    async def oauth_clients(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[OAuthClient]:
        return connection(await registry.list_clients(info.context.actor, first=first, after=after), OAuthClient.of)

    @strawberry.field(permission_classes=[SignedIn], description="Applications you allowed to act for you.")
    async def connected_apps(self, info: Info) -> list[ConnectedApp]:
        rows = await registry.connected_apps(info.context.actor)
        return [ConnectedApp(client=OAuthClient.of(r.client), scopes=_scopes(r.scope.split()), granted_at=r.created_at) for r in rows]


@strawberry.type
class ClientMutation:
    @strawberry.mutation(permission_classes=[SignedIn], description="Apply for a client; a bureau admin decides.")
    async def apply_for_oauth_client(self, info: Info, input: OAuthClientApplicationInput) -> OAuthClient:
        application = registry.Application(
            organisation=input.organisation, name=input.name, purpose=input.purpose, redirect_uris=input.redirect_uris,
            kind=models.ClientKind(input.kind), public=input.public, scopes=input.scopes,
        )  # fmt: skip
        row = await registry.apply_for_client(info.context.actor, pk_of(input.bureau_id, "Bureau"), application)
        return OAuthClient.of(row)

    @strawberry.mutation(permission_classes=[SignedIn], description="Bureau admins: approve; returns the secret once.")
    async def approve_oauth_client(self, info: Info, id: strawberry.ID) -> ApprovedOAuthClient:
        row, secret = await registry.approve_client(info.context.actor, pk_of(id, "OAuthClient"))
        return ApprovedOAuthClient(client=OAuthClient.of(row), client_secret=secret)

    @strawberry.mutation(permission_classes=[SignedIn], description="Bureau admins: reject an application, with a reason.")
    async def reject_oauth_client(self, info: Info, id: strawberry.ID, reason: str) -> OAuthClient:
        return OAuthClient.of(await registry.reject_client(info.context.actor, pk_of(id, "OAuthClient"), reason))

    @strawberry.mutation(
        permission_classes=[SignedIn], description="Bureau admins: stop a client at once (its tokens stop working)."
    )
    async def suspend_oauth_client(self, info: Info, id: strawberry.ID, reason: str) -> OAuthClient:
        return OAuthClient.of(await registry.suspend_client(info.context.actor, pk_of(id, "OAuthClient"), reason))

    @strawberry.mutation(
        permission_classes=[SignedIn], description="Disconnect an app: forget your consent and end its sessions."
    )
    async def revoke_connected_app(self, info: Info, client_id: strawberry.ID) -> bool:
        await registry.revoke_connected_app(info.context.actor, pk_of(client_id, "OAuthClient"))
        return True
