"""Errors as values: a stable code, a zh-TW and an English message, the numbers.

Services raise these; the GraphQL layer turns them into ``extensions`` and the
CLI prints them. Nothing personal (national IDs, passwords, tokens) goes in a
message or in ``details``.
"""

from __future__ import annotations

from typing import Any


class LichengError(Exception):
    """A refusal the caller can act on. ``code`` is stable; messages may change."""

    code: str = "ERROR"

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(f"{message_en} ({message_zh})")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def as_extensions(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            **({"details": self.details} if self.details else {}),
        }


class NotFound(LichengError):
    """Also what an actor of another school sees: existence is not revealed."""

    def __init__(self, what: str = "record", what_zh: str = "資料") -> None:
        super().__init__("NOT_FOUND", f"找不到{what_zh}", f"{what} not found")


class Forbidden(LichengError):
    def __init__(self, action_en: str = "do this", action_zh: str = "執行此操作") -> None:
        super().__init__("FORBIDDEN", f"你沒有權限{action_zh}", f"You are not allowed to {action_en}")


class Unauthenticated(LichengError):
    def __init__(self) -> None:
        super().__init__("UNAUTHENTICATED", "請先登入", "Sign in first")


class InvalidInput(LichengError):
    def __init__(self, field: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__("INVALID_INPUT", message_zh, message_en, field=field, **details)
