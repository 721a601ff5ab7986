"""Counts every GraphQL operation by name and outcome, once per operation (not per field)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from licheng.graphql.errors import domain_error
from licheng.observability import observe_graphql_operation


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None) or self.execution_context.pre_execution_errors or []
        status = "ok"
        if errors:
            domain = domain_error(errors[0])
            status = domain.code if domain else ("GRAPHQL_VALIDATION" if errors[0].original_error is None else "INTERNAL")
        observe_graphql_operation(self.execution_context.operation_name, status, time.perf_counter() - started)
