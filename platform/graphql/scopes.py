"""Scopes in GraphQL: one table for every root field, enforced once per operation.

``FIELD_SCOPES`` maps "Query.field" / "Mutation.field" to the scope a
third-party token needs (``None``: public; ``first-party``: Licheng's own
console only). ``ScopeGuard`` reads the operation's root selections before it
executes (no per-field hook, so leaves cost nothing) and refuses the whole
operation with ``INSUFFICIENT_SCOPE`` (or ``TOKEN_REVOKED`` once the token's
authorization was revoked or its client suspended), by the rule in
``licheng.auth.oauth.guard``. First-party sessions (``Actor.scopes`` is None)
pass; the first-login password-change token is left to the permission
classes. A field missing from the table is first-party: new fields fail
closed, and ``tests/oauth/test_scopes.py`` lists them. Feature modules may add
their entries (``licheng.graphql.portfolio_scopes`` does).

Scopes only narrow: the services still check the person's roles, so a token
never does more than both its scopes and its person allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from licheng.auth.oauth.guard import is_third_party, require_scopes
from licheng.auth.oauth.scopes import FIRST_PARTY
from licheng.errors import LichengError
from licheng.tenants.actor import Actor

FIELD_SCOPES: dict[str, str | None] = {
    # auth
    "Query.viewer": "profile",
    "Mutation.signIn": None,
    "Mutation.refreshTokens": None,
    "Mutation.signOut": None,
    "Mutation.changePassword": FIRST_PARTY,
    "Mutation.switchSchool": FIRST_PARTY,  # would mint a first-party token
    "Query.signInMethods": None,  # external sign-in (identity-provider plugins), public like signIn
    "Mutation.signInWithDirectory": None,
    "Mutation.completeExternalSignIn": None,
    # tenants
    "Query.node": "school:read",
    # jobs: staff only (the service checks the role)
    "Query.jobs": "school:admin",
    "Query.job": "school:admin",
    "Query.bureaus": "school:read",
    "Query.schools": "school:read",
    "Query.terms": "school:read",
    "Query.classes": "school:read",
    "Query.people": "school:read",
    "Mutation.setTerm": "school:admin",
    "Mutation.importPeople": "school:admin",
    "Mutation.syncSchoolPeople": "school:admin",
    "Mutation.createBureau": FIRST_PARTY,
    "Mutation.addBureauAdmin": FIRST_PARTY,
    "Mutation.createSchool": FIRST_PARTY,
    "Mutation.inviteStaff": FIRST_PARTY,
    # plugins: bureau administration from the console
    "Query.plugins": FIRST_PARTY,
    "Query.pluginConfiguration": FIRST_PARTY,
    "Query.pluginAuditLog": FIRST_PARTY,
    "Query.previewPluginSettings": FIRST_PARTY,
    "Mutation.setPluginAvailability": FIRST_PARTY,
    "Mutation.enablePlugin": FIRST_PARTY,
    "Mutation.disablePlugin": FIRST_PARTY,
    "Mutation.updatePluginSettings": FIRST_PARTY,
    "Mutation.checkPluginHealth": FIRST_PARTY,
    # storage (uploads belong to the portfolio)
    "Query.storageUsage": "portfolio:read",
    "Query.pendingUploads": "portfolio:read",
    "Mutation.discardUpload": "portfolio:write",
    # OAuth clients and connected apps
    "Query.oauthScopes": None,
    "Query.oauthClients": FIRST_PARTY,
    "Query.connectedApps": FIRST_PARTY,
    "Mutation.applyForOauthClient": FIRST_PARTY,
    "Mutation.approveOauthClient": FIRST_PARTY,
    "Mutation.rejectOauthClient": FIRST_PARTY,
    "Mutation.suspendOauthClient": FIRST_PARTY,
    "Mutation.revokeConnectedApp": FIRST_PARTY,
}


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """``Type.field`` for every root selection of the operation that runs, through fragments."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    type_name = operation.operation.value.capitalize()  # "query" -> "Query"
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: list[str] = []

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    names.append(f"{type_name}.{selection.name.value}")
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, seen | {selection.name.value})

    walk(operation.selection_set, frozenset())
    return list(dict.fromkeys(names))


class ScopeGuard(SchemaExtension):
    """Refuses an operation whose root fields a third-party token's scopes do not cover."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        ctx = self.execution_context
        actor = getattr(ctx.context, "actor", None)
        if isinstance(actor, Actor) and is_third_party(actor) and ctx.graphql_document is not None:
            fields = root_fields(ctx.graphql_document, ctx.operation_name)
            try:
                # A field missing from the table is first-party: new fields fail closed.
                await require_scopes(actor, _bearer(ctx.context), {f: FIELD_SCOPES.get(f, FIRST_PARTY) for f in fields})
            except LichengError as error:
                # A result set before execution makes strawberry skip executing the operation.
                ctx.result = ExecutionResult(data=None, errors=[GraphQLError(error.message_en, original_error=error)])
        yield


def _bearer(context: object) -> str:
    request = getattr(context, "request", None)
    header = request.headers.get("authorization", "") if request is not None else ""
    return header[7:].strip() if header[:7].lower() == "bearer " else ""
