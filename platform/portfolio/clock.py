"""The portfolio's clock: every window decision asks ``now()`` here, so tests can move time.

Aware datetimes only (UTC); school calendars are turned into instants with the
school's time zone (Asia/Taipei) in ``licheng.portfolio.windows``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

_fixed: datetime | None = None


def now() -> datetime:
    """The current instant, or the one a test set."""
    return _fixed if _fixed is not None else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at an aware instant (``None`` releases it). For tests and the demo."""
    global _fixed
    if value is not None and value.tzinfo is None:
        raise ValueError("the clock takes aware datetimes")
    _fixed = value.astimezone(UTC) if value is not None else None


def academic_year_of(day: date) -> int:
    """The ROC academic year (學年度) a day falls in: August to July; 2026-09-01 is in 115."""
    return day.year - 1911 if day.month >= 8 else day.year - 1912
