"""Portfolio data for the demo school: course records, outcomes at every stage, performances.

Called by ``licheng.demo.seed``; idempotent (a school that has course records is
left alone). Rows are written directly, not through the services, so the demo
works whatever today's date is relative to the windows; files go through
storage (a real blob the teacher can open), so downloads work in the demo.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

from licheng.portfolio import clock
from licheng.portfolio.models import (
    CadreLevel,
    CadreRecord,
    CourseOutcome,
    CourseRecord,
    DiversePerformance,
    EnrolmentRecord,
    FileState,
    ItemVersion,
    OutcomeStatus,
    PerformanceKind,
    PortfolioFile,
)
from licheng.tenants.models import Membership, Person, Role, School, SchoolClass

YEAR = 115
SUBJECTS = (("01", "國語文", "T102", 4), ("02", "數學", "T101", 4), ("03", "英語文", "T103", 4))


def _pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _document(settings: object, student: Person, name: str) -> PortfolioFile:
    """A real PDF through storage (blob, checksum, quota), kept as the item's file."""
    from licheng.auth.models import Account
    from licheng.auth.service import build_actor
    from licheng.http.limits import limits_provider
    from licheng.storage.blobstore import make_blob_store
    from licheng.storage.service import claim_upload, receive_upload

    actor = await build_actor(await Account.get(id=student.account_id), student.school_id)
    store = make_blob_store(settings.resolved_storage_url)  # type: ignore[attr-defined]
    limits = await limits_provider()(student.school_id, student.id)
    blob = await receive_upload(actor, store, _chunks(_pdf()), category="document", filename=name, limits=limits)
    await claim_upload(actor, blob.id, student_id=student.id, category="document", attached_to="demo")
    return await PortfolioFile.create(
        school_id=student.school_id, student_id=student.id, category="document", kind=blob.kind, size=blob.size,
        sha256=blob.sha256, display_filename=blob.display_filename, blob_key=blob.key, stored_blob_id=blob.id,
        state=FileState.ATTACHED, uploaded_by_account_id=student.account_id, attached_at=clock.now(),
    )  # fmt: skip


async def seed_portfolio(settings: object, school: School) -> None:
    if await CourseRecord.exists(school_id=school.id):
        return
    teachers = dict(await Person.filter(school_id=school.id, staff_number__isnull=False).values_list("staff_number", "id"))
    classes = {c.id: c for c in await SchoolClass.filter(school_id=school.id)}
    students = await Person.filter(
        school_id=school.id, id__in=await Membership.filter(school_id=school.id, role=Role.STUDENT).values_list("person_id", flat=True)
    ).order_by("student_number")  # fmt: skip
    records: dict[tuple[int, str], CourseRecord] = {}
    for student in students:
        school_class = classes[student.school_class_id]  # type: ignore[index]
        await EnrolmentRecord.create(school_id=school.id, student_id=student.id, academic_year=YEAR, term=1,
                                     grade=school_class.grade, class_code=school_class.code, seat=student.seat)  # fmt: skip
        for suffix, subject, teacher, credits in SUBJECTS:
            records[(student.id, subject)] = await CourseRecord.create(
                school_id=school.id, student_id=student.id, teacher_id=teachers.get(teacher), academic_year=YEAR, term=1,
                course_code=f"{student.entry_year or YEAR}{school.code}1A1B2C3D4E5F{suffix}",
                subject_name=subject, grade=school_class.grade, credits=credits,
            )  # fmt: skip
    first = students[0]
    sent_at = datetime(2026, 10, 12, 2, tzinfo=UTC)
    stages = (("數學", "函數圖形觀察報告", OutcomeStatus.PASSED), ("國語文", "閱讀心得：老人與海", OutcomeStatus.SENT),
              ("英語文", "英語簡報錄影腳本", OutcomeStatus.DRAFT))  # fmt: skip
    for subject, brief, status in stages:
        document = await _document(settings, first, f"{brief}.pdf")
        row = await CourseOutcome.create(
            school_id=school.id, student_id=first.id, course_record=records[(first.id, subject)], academic_year=YEAR, term=1,
            brief=brief, document_id=document.id, status=status,
            sent_at=sent_at if status != OutcomeStatus.DRAFT else None, first_sent_at=sent_at if status != OutcomeStatus.DRAFT else None,
            opened_at=sent_at + timedelta(days=2) if status == OutcomeStatus.PASSED else None,
            decision="passed" if status == OutcomeStatus.PASSED else None,
            published_at=sent_at + timedelta(days=3) if status == OutcomeStatus.PASSED else None,
        )  # fmt: skip
        await ItemVersion.create(school_id=school.id, student_id=first.id, item_type="outcome", item_id=row.id, number=1,
                                 brief=brief, document_id=document.id, result="passed" if status == OutcomeStatus.PASSED else None)  # fmt: skip
    for student in students[1:5]:  # a few classmates sent one, so the homeroom overview has numbers
        await CourseOutcome.create(
            school_id=school.id, student_id=student.id, course_record=records[(student.id, "數學")], academic_year=YEAR,
            term=1, brief="數學學習單", status=OutcomeStatus.SENT, sent_at=sent_at, first_sent_at=sent_at,
        )  # fmt: skip
    await DiversePerformance.create(
        school_id=school.id, student_id=first.id, academic_year=YEAR, kind=PerformanceKind.COMPETITION, title="全國高中英語演講比賽",
        brief="代表學校參加北區複賽，獲優等", external_url="https://example.org/speech-contest",
        details={"competition_name": "全國高中英語演講比賽", "level": "national", "award": "優等", "announced_on": "2026-11-02"},
    )  # fmt: skip
    await DiversePerformance.create(
        school_id=school.id, student_id=first.id, academic_year=YEAR, kind=PerformanceKind.VOLUNTEER, title="社區圖書館志工",
        brief="每週六協助整理書架與說故事活動",
        details={"service_name": "圖書館志工", "unit": "社區圖書館", "starts_on": "2026-09-05", "hours": "24"},
    )  # fmt: skip
    await CadreRecord.create(school_id=school.id, student_id=first.id, academic_year=YEAR, term=1, level=CadreLevel.CLASS,
                             unit=classes[first.school_class_id].name, position="班長", starts_on=date(2026, 9, 1))  # type: ignore[index]  # fmt: skip
