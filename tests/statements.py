"""Counting the SQL statements a piece of code sends (query-count tests), on either backend."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Statements(logging.Handler):
    """Collects what Tortoise's clients log at DEBUG: one record per statement sent."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@contextmanager
def counting() -> Iterator[Statements]:
    """Every SQL statement Tortoise sends inside the block (``.seen``)."""
    logger = logging.getLogger("tortoise.db_client")
    handler, level = Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
