"""Portfolio data for warning tests, made through the portfolio's own services."""

from __future__ import annotations

from typing import Any

from licheng.portfolio import certification, outcomes, performances
from licheng.portfolio.models import CourseOutcome, CourseRecord, DiversePerformance, PerformanceKind
from taipei_coolcloud.early_warnings import RunReport, run_kind
from taipei_coolcloud.models.early_warnings import EarlyWarning, WarningKind
from tests.plugins.taipei.warnings.conftest import TaipeiSchool
from tests.portfolio.conftest import YEAR


async def sent_outcome(school: TaipeiSchool, student: Any, record: CourseRecord, brief: str = "課堂作品") -> CourseOutcome:
    """Upload a file, create the outcome and send it for certification, as the student."""
    actor = await student.actor()
    row = await outcomes.create_outcome(
        actor, course_record_id=record.id, brief=brief, document_ref=await school.scene.file(student)
    )  # fmt: skip
    return await outcomes.send_for_certification(actor, row.id)


async def passed_outcome(school: TaipeiSchool, student: Any, record: CourseRecord) -> CourseOutcome:
    row = await sent_outcome(school, student, record)
    teacher = await school.scene.teacher.actor()
    await certification.open_outcome_file(teacher, row.id)
    await certification.certify_outcome(teacher, row.id, True, "確為本課程作品")
    await certification.publish_certifications(teacher, [row.id])
    return await CourseOutcome.get(id=row.id)


async def performance(student: Any, title: str = "社區服務") -> DiversePerformance:
    return await performances.create_performance(
        await student.actor(), academic_year=YEAR, kind=PerformanceKind.OTHER, title=title, brief="每週一次社區服務",
        details={"starts_on": "2026-09-01"},
    )  # fmt: skip


async def run(school: TaipeiSchool, kind: WarningKind) -> RunReport:
    return await run_kind(kind, school.school_id, await school.config())


async def warnings_of(school: TaipeiSchool, kind: WarningKind | None = None) -> list[EarlyWarning]:
    query = EarlyWarning.filter(school_id=school.school_id)
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.order_by("id")
