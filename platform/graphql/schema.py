"""The schema: every feature's Query and Mutation merged, with limits and typed errors.

Feature modules add their root types to ``QUERIES`` / ``MUTATIONS``. The SDL is
exported to ``schema.graphql`` (``licheng schema``); a test fails when it is stale.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from licheng.graphql.auth import AuthMutation, AuthQuery
from licheng.graphql.context import Info
from licheng.graphql.errors import TypedErrors, domain_error, log
from licheng.graphql.imports import ImportMutation
from licheng.graphql.relay import NODE_RESOLVERS, Node, from_global_id
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


QUERIES: list[type] = [AuthQuery, NodeQuery, TenantQuery]
MUTATIONS: list[type] = [AuthMutation, TenantMutation, ImportMutation]

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000


class LichengSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Refusals are normal answers; only unexpected errors deserve a traceback in the log.
        for error in errors:
            if domain_error(error) is None and error.original_error is not None:
                log.error("graphql error", exc_info=error.original_error)


def build_schema(debug: bool = False) -> strawberry.Schema:
    Query = merge_types("Query", tuple(QUERIES))
    Mutation = merge_types("Mutation", tuple(MUTATIONS))
    # Factories: strawberry builds fresh extension instances per request.
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: TypedErrors(debug=debug),
    ]
    return LichengSchema(query=Query, mutation=Mutation, extensions=extensions)


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
