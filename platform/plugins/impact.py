"""Impact counters built on the portfolio's tables, for previews of cap changes.

Interim home: counting is the portfolio's knowledge, and these belong behind a
portfolio service function (``students_above_cap``). Until it exists, they read
the portfolio models read-only, and register themselves only when those models
are part of the database (``licheng.db.MODEL_APPS``). A counter the portfolio
registers under the same key wins (``setdefault``).

"Sent for certification" (提交認證) counts every outcome that was ever sent:
``first_sent_at`` is set, whatever the result, because the cap counts sendings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from tortoise.functions import Count


async def _students_above(
    school_ids: Sequence[int], limit: int, academic_year: int, term: int, *group_by: str
) -> Mapping[int, int]:
    """Per school: students with more than ``limit`` outcomes sent for certification in one group."""
    from licheng.portfolio.models import CourseOutcome

    rows = (
        await CourseOutcome.filter(
            school_id__in=list(school_ids), academic_year=academic_year, term=term, first_sent_at__isnull=False
        )
        .annotate(sent=Count("id"))
        .group_by("school_id", "student_id", *group_by)
        .filter(sent__gt=limit)
        .values_list("school_id", "student_id")
    )
    return Counter(school_id for school_id, _ in set(rows))  # a student counts once per school


async def students_above_outcomes_per_term(
    school_ids: Sequence[int], *, limit: int, academic_year: int, term: int
) -> Mapping[int, int]:
    """Per school: students who sent more than ``limit`` outcomes for certification this term."""
    return await _students_above(school_ids, limit, academic_year, term)


async def students_above_outcomes_per_subject(
    school_ids: Sequence[int], *, limit: int, academic_year: int, term: int
) -> Mapping[int, int]:
    """Per school: students who sent more than ``limit`` outcomes of one subject this term."""
    return await _students_above(school_ids, limit, academic_year, term, "course_record__subject_name")


def register_defaults() -> None:
    """Register the counters above when the portfolio's tables exist in this deployment."""
    from licheng.db import MODEL_APPS
    from licheng.plugins.preview import IMPACT_COUNTERS

    if "licheng.portfolio.models" not in MODEL_APPS.get("portfolio", []):
        return
    IMPACT_COUNTERS.setdefault("outcomes_per_term", students_above_outcomes_per_term)
    IMPACT_COUNTERS.setdefault("outcomes_per_subject_per_term", students_above_outcomes_per_subject)
