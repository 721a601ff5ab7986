"""Refusals of the portfolio domain, each with a stable code and the numbers behind it.

The codes are part of the API contract (clients switch on them); the
messages may change. Window refusals name the window and its dates so that a
student can see when it was (or will be) open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from licheng.errors import LichengError

if TYPE_CHECKING:
    from licheng.portfolio.windows import Window


class WindowClosed(LichengError):
    """An action outside its window (時程): says which window and its dates."""

    def __init__(self, window: Window) -> None:
        super().__init__(
            "WINDOW_CLOSED",
            f"不在「{window.name_zh}」期間（{window.opens_on} 至 {window.closes_on}）",
            f"Outside the {window.name_en} window ({window.opens_on} to {window.closes_on})",
            window=window.name,
            window_zh=window.name_zh,
            window_en=window.name_en,
            opens_on=window.opens_on.isoformat(),
            closes_on=window.closes_on.isoformat(),
            academic_year=window.academic_year,
            term=window.term,
        )


class Immutable(LichengError):
    """What a closed window or a submission covered cannot change: corrections are 補件 records."""

    def __init__(self, what_en: str, what_zh: str, reason: str) -> None:
        super().__init__(
            "IMMUTABLE",
            f"{what_zh}已定案，不可修改或刪除（如需更正請以補件辦理）",
            f"The {what_en} is final and cannot be changed or deleted (use a late addition to correct it)",
            reason=reason,
        )


class CapReached(LichengError):
    def __init__(self, code: str, zh: str, en: str, *, cap: int, count: int, **details: Any) -> None:
        super().__init__(code, zh, en, cap=cap, count=count, **details)


def outcome_cap(cap: int, count: int, term: int) -> CapReached:
    return CapReached(
        "OUTCOME_CAP_REACHED",
        f"本學期提交認證的課程學習成果已達上限 {cap} 件",
        f"You have sent the term's maximum of {cap} course outcomes for certification",
        cap=cap, count=count, term=term,
    )  # fmt: skip


def subject_cap(cap: int, count: int, subject: str) -> CapReached:
    return CapReached(
        "OUTCOME_SUBJECT_CAP_REACHED",
        f"「{subject}」本學期提交認證的成果已達每科上限 {cap} 件",
        f"You have sent the maximum of {cap} outcomes of {subject} this term",
        cap=cap, count=count, subject=subject,
    )  # fmt: skip


def performance_cap(cap: int, count: int) -> CapReached:
    return CapReached(
        "PERFORMANCE_CAP_REACHED",
        f"本學年度多元表現已達上限 {cap} 件",
        f"You have reached the year's maximum of {cap} diverse performances",
        cap=cap, count=count,
    )  # fmt: skip


def selection_cap(cap: int, count: int, what: str) -> CapReached:
    zh = "課程學習成果" if what == "outcome" else "多元表現"
    return CapReached(
        "SELECTION_CAP_REACHED",
        f"本學年度勾選的{zh}已達上限 {cap} 件",
        f"You have selected the year's maximum of {cap} {what}s",
        cap=cap, count=count, item=what,
    )  # fmt: skip


class NotTheTeacher(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "NOT_THE_TEACHER",
            "只有該課程的任課教師或其代理人可以認證",
            "Only the course's subject teacher or his substitute may certify it",
        )


class OutcomeNotOpened(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "OUTCOME_NOT_OPENED", "請先開啟檔案閱讀後再認證", "Open and read the file before certifying it"
        )


class NotCertified(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "NOT_CERTIFIED",
            "只能勾選已認證通過的課程學習成果",
            "Only course outcomes that passed certification can be selected",
        )


class InvalidState(LichengError):
    """The item is not in a state that allows this step (e.g. sending twice)."""

    def __init__(self, state: str, action_en: str, action_zh: str) -> None:
        super().__init__(
            "INVALID_STATE", f"目前狀態（{state}）不能{action_zh}", f"Cannot {action_en} in state {state}", state=state
        )


def brief_too_long(limit: int, length: int) -> LichengError:
    return LichengError(
        "BRIEF_TOO_LONG",
        f"簡述不可超過 {limit} 字（目前 {length} 字）",
        f"The brief is at most {limit} characters (now {length})",
        limit=limit, length=length,
    )  # fmt: skip


def brief_required() -> LichengError:
    return LichengError("BRIEF_REQUIRED", "請填寫簡述", "A brief description is required")


def invalid_url() -> LichengError:
    return LichengError(
        "INVALID_URL", "外部連結須為 http:// 或 https:// 開頭的有效網址", "The external link must be a valid http(s) URL"
    )


def term_not_set(academic_year: int, term: int) -> LichengError:
    return LichengError(
        "TERM_NOT_SET",
        f"學校尚未設定 {academic_year} 學年度第 {term} 學期的行事曆",
        f"The school has not set the calendar of {academic_year}-{term}",
        academic_year=academic_year, term=term,
    )  # fmt: skip
