"""A student's certified outcomes and performances by year: what the share link and the department matching show.

One read for both (through the portfolio's public batch reads, four statements
whatever the portfolio's size), so they cannot drift apart on what counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from licheng.portfolio import views
from licheng.portfolio.models import CourseOutcome, DiversePerformance, OutcomeStatus
from licheng.portfolio.reads import OutcomeRow, PerformanceRow


@dataclass(frozen=True)
class YearItems:
    academic_year: int
    outcomes: list[OutcomeRow]  # passed (certified) only
    performances: list[PerformanceRow]


async def items_by_year(student_id: int) -> list[YearItems]:
    """Every academic year the student has an outcome or a performance in, oldest first."""
    outcome_years: list[int] = await CourseOutcome.filter(student_id=student_id).distinct().values_list("academic_year", flat=True)  # type: ignore[assignment]
    performance_years: list[int] = await DiversePerformance.filter(student_id=student_id).distinct().values_list("academic_year", flat=True)  # type: ignore[assignment]
    years = sorted({*outcome_years, *performance_years})
    if not years:
        return []
    keys = [(student_id, year) for year in years]
    outcomes, performances = await views.outcomes_for(keys), await views.performances_for(keys)
    return [
        YearItems(year, [o for o in year_outcomes if o.status == OutcomeStatus.PASSED], list(year_performances))
        for year, year_outcomes, year_performances in zip(years, outcomes, performances, strict=True)
    ]
