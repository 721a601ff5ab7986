"""Typed GraphQL errors: ``extensions.code`` plus zh-TW and English messages; the rest masked.

One operation-level extension (not a per-field hook) rewrites the error list
once the operation is done, so leaves cost nothing.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from licheng.errors import LichengError

log = logging.getLogger("licheng.graphql")

INTERNAL_ZH = "系統發生錯誤，請稍後再試"
INTERNAL_EN = "Internal server error"


def domain_error(error: GraphQLError) -> LichengError | None:
    original = error.original_error
    return original if isinstance(original, LichengError) else None


class TypedErrors(MaskErrors):
    """Domain errors get their code and both messages; unexpected ones are masked unless debug."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(error_message=INTERNAL_EN)
        self.debug = debug

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            domain = domain_error(error)
            if domain is not None:
                error.message = domain.message_en
                error.extensions = domain.as_extensions()
                out.append(error)
            elif error.original_error is None:
                # Syntax and validation errors: the client's mistake, safe to show.
                error.extensions = {"code": "GRAPHQL_VALIDATION", **(error.extensions or {})}
                out.append(error)
            elif self.debug:
                error.extensions = {"code": "INTERNAL", "message_zh": INTERNAL_ZH, "message_en": INTERNAL_EN}
                out.append(error)
            else:
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL", "message_zh": INTERNAL_ZH, "message_en": INTERNAL_EN}
                out.append(masked)
        return out
