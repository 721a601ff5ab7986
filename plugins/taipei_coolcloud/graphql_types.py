"""The plugin's GraphQL root types, gathered from its feature modules.

Each feature module (departments, cabinet, early_warnings, sso...) that has
GraphQL fields exposes ``QUERY_TYPES`` / ``MUTATION_TYPES``; a type may carry
``licheng_scopes`` (see ``licheng.graphql.schema.plugin_root_types``).
"""

from __future__ import annotations

import importlib

FEATURE_MODULES = ("departments", "cabinet", "early_warnings", "sso", "sync")


def root_types() -> list[type]:
    types: list[type] = []
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(f"taipei_coolcloud.{name}_graphql")
        except ModuleNotFoundError as error:
            if error.name != f"taipei_coolcloud.{name}_graphql":
                raise
            continue
        types += [*getattr(module, "QUERY_TYPES", ()), *getattr(module, "MUTATION_TYPES", ())]
    return types
