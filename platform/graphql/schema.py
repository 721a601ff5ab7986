"""The schema: every feature's Query and Mutation merged, with limits and typed errors.

Feature modules add their root types to ``QUERIES`` / ``MUTATIONS``. The SDL is
exported to ``schema.graphql`` (``licheng schema``); a test fails when it is stale.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from licheng.graphql.auth import AuthMutation, AuthQuery
from licheng.graphql.clients import ClientMutation, ClientQuery
from licheng.graphql.context import Info
from licheng.graphql.errors import TypedErrors, domain_error, log
from licheng.graphql.external_auth import ExternalAuthMutation, ExternalAuthQuery
from licheng.graphql.imports import ImportMutation
from licheng.graphql.jobs import JobQuery
from licheng.graphql.portfolio import PortfolioQuery
from licheng.graphql.portfolio_outcomes import OutcomeMutation, OutcomeQuery
from licheng.graphql.portfolio_records import RecordMutation, RecordQuery
from licheng.graphql.portfolio_restore import RestoreMutation
from licheng.graphql.portfolio_selection import SelectionMutation
from licheng.graphql.portfolio_submission import SubmissionMutation, SubmissionQuery
from licheng.graphql.metrics import OperationMetrics
from licheng.graphql.plugins import PluginMutation, PluginQuery
from licheng.graphql.relay import NODE_RESOLVERS, Node, from_global_id
from licheng.graphql.scopes import FIELD_SCOPES, ScopeGuard
from licheng.graphql.storage import StorageMutation, StorageQuery
from licheng.graphql.sync import SyncMutation
from licheng.graphql.tenants import TenantMutation, TenantQuery


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Fetch any object by its global ID (Relay).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(id)
        resolver = NODE_RESOLVERS.get(type_name)
        if resolver is None:
            return None
        info.context.actor.require_signed_in()
        return await resolver(info, pk)


QUERIES: list[type] = [AuthQuery, NodeQuery, TenantQuery, PluginQuery, StorageQuery, ClientQuery]
MUTATIONS: list[type] = [AuthMutation, TenantMutation, ImportMutation, PluginMutation, StorageMutation, ClientMutation]
QUERIES += [PortfolioQuery, OutcomeQuery, RecordQuery, SubmissionQuery, JobQuery]
MUTATIONS += [OutcomeMutation, RecordMutation, SelectionMutation, SubmissionMutation, RestoreMutation]
QUERIES += [ExternalAuthQuery]  # sign-in methods of identity-provider plugins
MUTATIONS += [ExternalAuthMutation]  # directory sign-in, school choice after an external sign-in
MUTATIONS += [SyncMutation]  # school-system sync (licheng.tenants.sync)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000


class LichengSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Refusals are normal answers; only unexpected errors deserve a traceback in the log.
        for error in errors:
            if domain_error(error) is None and error.original_error is not None:
                log.error("graphql error", exc_info=error.original_error)


def plugin_root_types() -> tuple[list[type], list[type]]:
    """Root types plugins contribute (``licheng_graphql_types``), split into queries and mutations.

    A type named ``...Mutation`` extends ``Mutation``; others extend ``Query``. A type
    may carry ``licheng_scopes = {"Query.field": "portfolio:read", ...}``: its entries
    join ``FIELD_SCOPES`` (a field without one is first-party only). A plugin whose
    hook raises is left out of the schema, and the rest still builds.
    """
    from licheng.plugins.manager import get_manager

    queries: list[type] = []
    mutations: list[type] = []
    manager = get_manager()
    for plugin in manager.plugins():
        if not manager.implements(plugin.id, "licheng_graphql_types"):
            continue
        try:
            types = list(plugin.licheng_graphql_types() or ())  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - one plugin's fields must not take the API down
            log.exception("plugin %s: licheng_graphql_types failed; its fields are left out", plugin.id)
            continue
        for root in types:
            (mutations if root.__name__.endswith("Mutation") else queries).append(root)
            for field, scope in getattr(root, "licheng_scopes", {}).items():
                FIELD_SCOPES.setdefault(field, scope)
    return queries, mutations


def build_schema(debug: bool = False) -> strawberry.Schema:
    plugin_queries, plugin_mutations = plugin_root_types()
    Query = merge_types("Query", tuple(QUERIES + plugin_queries))
    Mutation = merge_types("Mutation", tuple(MUTATIONS + plugin_mutations))
    # Factories: strawberry builds fresh extension instances per request. The limiters' rules are
    # built once: ValidationCache keys on the rule objects, so fresh ones would never hit the cache.
    limit_rules = [
        *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    extensions: list[Any] = [
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        ScopeGuard,  # third-party tokens: the operation's root fields need their scopes
        lambda: TypedErrors(debug=debug),
        OperationMetrics,
    ]
    return LichengSchema(query=Query, mutation=Mutation, extensions=extensions)


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
