"""Upload limits: the numbers a school's policy sets for files, as storage needs them.

The policy itself (national defaults <- bureau rules <- school overrides,
versioned by academic year) lives in `licheng.portfolio.policy`; storage only
reads the resolved numbers through a `LimitsProvider`, so it never imports
the layer above it. `national_defaults()` are the MOE numbers from term 109-1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadLimits:
    document_max_bytes: int
    media_max_bytes: int
    counseling_max_bytes: int
    quota_bytes: int  # per student, all three years, every stored version counted
    pdf_active_content: Literal["refuse", "flag"] = "refuse"

    def category_limits(self, category: str) -> dict[str, int]:
        """What `store_checked_upload` takes: the file-type classes this category accepts."""
        if category == "document":
            return {"document": self.document_max_bytes}
        if category == "media":
            return {"media": self.media_max_bytes}
        if category == "counseling":
            return {"document": self.counseling_max_bytes}
        raise ValueError(f"unknown category {category!r}")

    def max_bytes(self, category: str) -> int:
        return next(iter(self.category_limits(category).values()))


def national_defaults() -> UploadLimits:
    """4 MB documents, 10 MB media, 2 MB counseling files, 150 MB per student, no PDF scripts."""
    return UploadLimits(
        document_max_bytes=4 * MiB,
        media_max_bytes=10 * MiB,
        counseling_max_bytes=2 * MiB,
        quota_bytes=150 * MiB,
        pdf_active_content="refuse",
    )


# (school_id, student person id or None) -> the limits that apply now.
LimitsProvider = Callable[[int, int | None], Awaitable[UploadLimits]]


async def national_limits(school_id: int, student_id: int | None) -> UploadLimits:
    """A `LimitsProvider` for when no policy is available: the national defaults."""
    return national_defaults()
