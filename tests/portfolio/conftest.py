"""Portfolio fixtures: a controllable clock, a school with its 115 calendar and people, files.

Dates of academic year 115 (this school's calendar):
term 1: 2026-08-31 .. 休業式 2027-01-20 -> upload until 2027-02-03, certification until 2027-02-10;
term 2: 2027-02-11 .. 休業式 2027-06-30 -> upload until 2027-07-14 (grade 12: 2027-06-30);
performances until 2027-07-31; selection 2027-09-01..09-30; submission 2027-10-01..10-31.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfWriter

from licheng.portfolio import clock as portfolio_clock
from licheng.portfolio.files import file_reference
from licheng.portfolio.models import CourseRecord, PortfolioFile
from licheng.portfolio.submission_port import (
    BatchSnapshot,
    ReceiptLine,
    SubmissionStatus,
    SubmissionTicket,
    register_adapter,
    unregister_adapter,
)
from licheng.tenants.models import Role, School, SchoolClass, SchoolTerm
from tests.conftest import Factory, Member

TAIPEI = ZoneInfo("Asia/Taipei")
YEAR = 115
MB = 1024 * 1024


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """An instant in Taipei."""
    return datetime(year, month, day, hour, tzinfo=TAIPEI)


IN_TERM_1 = at(2026, 10, 15)
CERTIFYING_AFTER_UPLOAD = at(2027, 2, 6)  # upload closed 02-03, certification open until 02-10
AFTER_CERTIFICATION = at(2027, 2, 12)
IN_TERM_2 = at(2027, 3, 15)
AFTER_PERFORMANCES = at(2027, 8, 10)
IN_SELECTION = at(2027, 9, 10)
IN_SUBMISSION = at(2027, 10, 5)


class Clock:
    def set(self, value: datetime) -> None:
        portfolio_clock.set_now(value)


@pytest.fixture
def clock() -> Iterator[Clock]:
    handle = Clock()
    handle.set(IN_TERM_1)
    yield handle
    portfolio_clock.set_now(None)


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def mp3_bytes(frames: int = 40) -> bytes:
    body = b"TIT2" + struct.pack(">I", 7) + b"\x00\x00" + b"\x03" + b"song\x00"
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, len(body)]) + body
    return tag + (b"\xff\xfb\x90\x00" + b"\x00" * 413) * frames


@dataclass
class Scene:
    """One school in year 115: a class 101 (grade 10), its people, and two course records each term."""

    factory: Factory
    school: School
    school_class: SchoolClass
    student: Member
    teacher: Member
    other_teacher: Member
    homeroom: Member
    staff: Member
    parent: Member
    counselor: Member
    records: dict[str, CourseRecord] = field(default_factory=dict)

    async def add_student(self, name: str = "學生") -> Member:
        return await self.factory.member(self.school, Role.STUDENT, school_class=self.school_class, name=name, seat=2)

    async def course_record(self, student: Member, code_suffix: str = "01", *, term: int = 1, subject: str = "數學",
                            teacher: Member | None = None, grade: int = 10, year: int = YEAR) -> CourseRecord:  # fmt: skip
        return await CourseRecord.create(
            school=self.school, student_id=student.person.id, teacher_id=(teacher or self.teacher).person.id,
            academic_year=year, term=term, course_code=f"115{self.school.code}1A1B2C3D4E5F{code_suffix}",
            subject_name=subject, grade=grade, credits=4,
        )  # fmt: skip

    async def file(self, student: Member, *, kind: str = "pdf", size: int = 50_000, category: str = "document") -> str:
        """A pending file on the minimal path (no blob): its upload reference."""
        row = await PortfolioFile.create(
            school=self.school, student_id=student.person.id, category=category, kind=kind, size=size,
            sha256=f"{size:064x}", display_filename=f"work.{kind}",
        )  # fmt: skip
        return file_reference(row.id)


async def make_scene(factory: Factory) -> Scene:
    school = await factory.school()
    await SchoolTerm.create(school=school, academic_year=YEAR, term=1, starts_on=date(2026, 8, 31), ceremony_on=date(2027, 1, 20))
    await SchoolTerm.create(school=school, academic_year=YEAR, term=2, starts_on=date(2027, 2, 11), ceremony_on=date(2027, 6, 30))
    school_class = await factory.school_class(school, code="101", grade=10)
    scene = Scene(
        factory=factory, school=school, school_class=school_class,
        student=await factory.member(school, Role.STUDENT, school_class=school_class, name="王小明", seat=1),
        teacher=await factory.member(school, Role.TEACHER, name="林老師"),
        other_teacher=await factory.member(school, Role.TEACHER, name="陳老師"),
        homeroom=await factory.member(school, Role.TEACHER, Role.HOMEROOM, homeroom_of=school_class, name="黃導師"),
        staff=await factory.member(school, Role.STAFF, name="註冊組"),
        parent=await factory.member(school, Role.PARENT, name="王爸爸"),
        counselor=await factory.member(school, Role.COUNSELOR, name="諮詢老師"),
    )  # fmt: skip
    from licheng.tenants.models import Guardianship

    await Guardianship.create(school=school, parent=scene.parent.person, student=scene.student.person)
    scene.records["math"] = await scene.course_record(scene.student, "01", subject="數學")
    scene.records["chinese"] = await scene.course_record(scene.student, "02", subject="國語文")
    scene.records["math2"] = await scene.course_record(scene.student, "03", term=2, subject="數學")
    return scene


@pytest.fixture
async def scene(factory: Factory, clock: Clock) -> Scene:
    return await make_scene(factory)


class FakeCentral:
    """A submission adapter standing in for the moe_central plugin: keeps what it got."""

    name = "fake-central"

    def __init__(self) -> None:
        self.received: list[BatchSnapshot] = []

    async def submit(self, snapshot: BatchSnapshot) -> SubmissionTicket:
        self.received.append(snapshot)
        return SubmissionTicket(external_ref=f"fake-{snapshot.batch_id}", message="accepted")

    async def poll(self, ticket: SubmissionTicket) -> SubmissionStatus:
        snapshot = next(s for s in self.received if f"fake-{s.batch_id}" == ticket.external_ref)
        lines = tuple(ReceiptLine(i.student_id, i.item_type, i.item_id, "received") for i in snapshot.items)
        return SubmissionStatus(done=True, receipts=lines)


@pytest.fixture
def central() -> Iterator[FakeCentral]:
    adapter = FakeCentral()
    register_adapter(adapter)
    yield adapter
    unregister_adapter(adapter.name)


async def upload(gql: Any, data: bytes, *, category: str = "document", filename: str = "作品.pdf") -> str:
    """POST /uploads as the signed-in client; the uploadId to attach."""
    response = await gql.http.post(
        f"/uploads?category={category}&filename={filename}", content=data,
        headers={"authorization": f"Bearer {gql.token}"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()["uploadId"]
