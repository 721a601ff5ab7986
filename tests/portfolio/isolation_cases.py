"""Isolation cases for every portfolio query and mutation (see tests/graphql/test_isolation.py).

School B gets a calendar, a teacher, a course record, outcomes (a draft and a
sent one), a selected performance, a counseling record, a substitute, a batch
with a receipt and a policy override. Each case points school A's intruder at
one of them; names and texts of B must never come back, and B must be unchanged.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from licheng.graphql.relay import to_global_id
from licheng.portfolio.models import (
    BatchScope,
    BatchStatus,
    CadreRecord,
    CounselingRecord,
    CourseOutcome,
    CourseRecord,
    DiversePerformance,
    EnrolmentRecord,
    OutcomeStatus,
    PerformanceKind,
    Receipt,
    SchoolPolicyOverride,
    SubmissionBatch,
    SubstituteAssignment,
)
from licheng.tenants.models import Role, SchoolTerm
from tests.graphql.isolation import Case, World

BRIEF_B = "乙校成果簡述"
TITLE_B = "乙校多元表現"
TOPIC_B = "乙校諮詢主題"


async def _b(w: World) -> dict[str, Any]:
    """School B's portfolio data, made once per world."""
    if "portfolio" in w.extra:
        return w.extra["portfolio"]
    school = w.school_b
    for term, starts, ends in ((1, date(2026, 8, 31), date(2027, 1, 20)), (2, date(2027, 2, 11), date(2027, 6, 30))):
        await SchoolTerm.get_or_create(school=school, academic_year=115, term=term, defaults={"starts_on": starts, "ceremony_on": ends})
    teacher = await w.factory.member(school, Role.TEACHER, name=f"乙校老師{school.code}")
    substitute = await w.factory.member(school, Role.TEACHER, name=f"乙校代理{school.code}")
    student_id = w.student_b.person.id
    record = await CourseRecord.create(
        school=school, student_id=student_id, teacher_id=teacher.person.id, academic_year=115, term=1,
        course_code=f"115{school.code}ABCDEFGHIJKL01", subject_name="乙校科目", grade=10, credits=2,
    )  # fmt: skip
    common = {"school": school, "student_id": student_id, "course_record": record, "academic_year": 115, "term": 1}
    draft = await CourseOutcome.create(**common, brief=BRIEF_B)
    sent = await CourseOutcome.create(**common, brief=BRIEF_B, status=OutcomeStatus.SENT, first_sent_at=w_now(), sent_at=w_now())
    performance = await DiversePerformance.create(
        school=school, student_id=student_id, academic_year=115, kind=PerformanceKind.OTHER, title=TITLE_B,
        brief=BRIEF_B, details={"starts_on": "2026-09-01"}, selected_at=w_now(),
    )  # fmt: skip
    cadre = await CadreRecord.create(school=school, student_id=student_id, academic_year=115, term=1, level="class",
                                     unit="乙校班級", position="班長", starts_on=date(2026, 9, 1))  # fmt: skip
    enrolment = await EnrolmentRecord.create(school=school, student_id=student_id, academic_year=115, term=1, grade=10, class_code="B01")
    counseling = await CounselingRecord.create(school=school, student_id=student_id, counselor_id=teacher.person.id, academic_year=115,
                                               term=1, held_on=date(2026, 10, 1), topic=TOPIC_B, notes=TOPIC_B)  # fmt: skip
    assignment = await SubstituteAssignment.create(school=school, teacher_id=teacher.person.id, substitute_id=substitute.person.id,
                                                   academic_year=115, term=1)  # fmt: skip
    batch = await SubmissionBatch.create(school=school, academic_year=115, term=0, scope=BatchScope.YEAR, status=BatchStatus.SUBMITTED,
                                         external_ref="b-ref", adapter="fake-central")  # fmt: skip
    receipt = await Receipt.create(school=school, batch=batch, student_id=student_id, lines=[], recorded_at=w_now(),
                                   review_closes_on=date(2099, 1, 1))  # fmt: skip
    override = await SchoolPolicyOverride.create(school=school, from_year=115, values={"outcomes_per_term": 7})
    w.extra["portfolio"] = {
        "teacher": teacher, "substitute": substitute, "record": record, "draft": draft, "sent": sent,
        "performance": performance, "cadre": cadre, "enrolment": enrolment, "counseling": counseling,
        "assignment": assignment, "batch": batch, "receipt": receipt, "override": override,
    }  # fmt: skip
    return w.extra["portfolio"]


def w_now() -> Any:
    from licheng.portfolio import clock

    return clock.now()


def _gid(kind: str, key: str):  # noqa: ANN202
    async def make(w: World) -> dict:
        return {"id": to_global_id(kind, (await _b(w))[key].id)}

    return make


async def _student(w: World) -> dict:
    await _b(w)
    return {"s": to_global_id("Person", w.student_b.person.id)}


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.student_b.person.name, BRIEF_B, TITLE_B, TOPIC_B, "乙校科目", f"乙校老師{w.school_b.code}"]


async def _unchanged(w: World) -> None:
    b = await _b(w)
    draft = await CourseOutcome.get(id=b["draft"].id)
    assert (draft.status, draft.brief, draft.version) == (OutcomeStatus.DRAFT, BRIEF_B, 1)
    sent = await CourseOutcome.get(id=b["sent"].id)
    assert (sent.status, sent.opened_at, sent.decision, sent.published_at) == (OutcomeStatus.SENT, None, None, None)
    performance = await DiversePerformance.get(id=b["performance"].id)
    assert (performance.title, performance.selected_at is not None, performance.version) == (TITLE_B, True, 1)
    assert await CourseOutcome.filter(school_id=w.school_b.id).count() == 2
    assert await DiversePerformance.filter(school_id=w.school_b.id).count() == 1
    record = await CourseRecord.get(id=b["record"].id)
    assert record.superseded_at is None and record.subject_name == "乙校科目"
    assert await CourseRecord.filter(school_id=w.school_b.id).count() == 1
    assert await CadreRecord.filter(school_id=w.school_b.id).count() == 1
    assert await EnrolmentRecord.filter(school_id=w.school_b.id).count() == 1
    assert await CounselingRecord.filter(school_id=w.school_b.id).count() == 1
    assert await SubstituteAssignment.filter(school_id=w.school_b.id).count() == 1
    batches = await SubmissionBatch.filter(school_id=w.school_b.id)
    assert [(b.status, b.external_ref) for b in batches] == [(BatchStatus.SUBMITTED, "b-ref")]
    receipt = await Receipt.get(id=b["receipt"].id)
    assert (receipt.status.value, receipt.lines) == ("pending", [])
    override = await SchoolPolicyOverride.get(id=b["override"].id)
    assert override.values == {"outcomes_per_term": 7}


def case(query: str, variables: Any = None, **extra: Any) -> Case:
    return Case(query, variables or _touch, secrets=_secrets, check=_unchanged, **extra)


async def _touch(w: World) -> dict:
    await _b(w)
    return {}


def _vars(**make: Any):  # noqa: ANN202
    """Variables built from B's rows: name -> (type, key) or a plain value."""

    async def build(w: World) -> dict:
        b = await _b(w)
        out: dict[str, Any] = {}
        for name, spec in make.items():
            if isinstance(spec, tuple):
                kind, key = spec
                out[name] = to_global_id(kind, w.student_b.person.id if key == "student" else b[key].person.id if key in ("teacher", "substitute") else b[key].id)
            elif spec == "class":
                out[name] = to_global_id("SchoolClass", w.class_b.id)
            else:
                out[name] = spec
        return out

    return build


_CSV = base64.b64encode(
    "student_number,academic_year,term,course_code,subject_name,grade,credits\nS1,115,1,11500000000000000000001,入侵,10,2\n".encode()
).decode()

CASES: dict[str, Case] = {
    # --- reading ---
    "Query.myPortfolio": case("{ myPortfolio(academicYear: 115) { student { name } outcomes { brief } performances { title } courseRecords { subjectName } caps { storageUsedBytes } } }"),
    "Query.portfolio": case("query($s: ID!) { portfolio(studentId: $s, academicYear: 115) { outcomes { brief } performances { title } } }", _student),
    "Query.myChildrenPortfolios": case("{ myChildrenPortfolios(academicYear: 115) { student { name } outcomes { brief } } }"),
    "Query.classOverview": case("query($c: ID!) { classOverview(classId: $c, academicYear: 115) { students { name } } }", _vars(c="class")),
    "Query.portfolioProgress": case("{ portfolioProgress(academicYear: 115) { classes { class { name } students sentForCertification } } }"),
    "Query.portfolioPolicy": case("{ portfolioPolicy(academicYear: 115) { outcomesPerTerm sources } }"),
    "Query.performanceKinds": case("{ performanceKinds { kind nameZh } }"),
    "Query.certificationQueue": case("{ certificationQueue(pendingOnly: false) { edges { node { brief student { name } } } } }"),
    "Query.substitutes": case("{ substitutes { teacher { name } substitute { name } } }"),
    "Query.counselingRecords": case("query($s: ID!) { counselingRecords(studentId: $s) { topic notes } }", _student),
    "Query.submissionBatches": case("{ submissionBatches { edges { node { id externalRef receipts { status } } } } }"),
    "Query.myReceipts": case("{ myReceipts { id status } }"),
    "Query.schoolPolicyOverrides": Case("{ schoolPolicyOverrides { fromYear values } }", _touch,
                                        secrets=lambda w: [*_secrets(w), "outcomes_per_term"], check=_unchanged),  # fmt: skip
    # --- course outcomes and certification ---
    "Mutation.createCourseOutcome": case(
        'mutation($r: ID!) { createCourseOutcome(input: {courseRecordId: $r, brief: "入侵"}) { id } }', _vars(r=("CourseRecord", "record"))
    ),
    "Mutation.reviseCourseOutcome": case('mutation($id: ID!) { reviseCourseOutcome(input: {id: $id, brief: "入侵"}) { brief } }', _gid("CourseOutcome", "draft")),
    "Mutation.restoreItemFile": case(
        'mutation($id: ID!) { restoreItemFile(input: {itemId: $id, file: DOCUMENT, uploadId: "VXBsb2FkOjE="}) { fileId } }',
        _gid("CourseOutcome", "sent"),
    ),
    "Mutation.deleteCourseOutcome": case("mutation($id: ID!) { deleteCourseOutcome(id: $id) }", _gid("CourseOutcome", "draft")),
    "Mutation.sendOutcomeForCertification": case("mutation($id: ID!) { sendOutcomeForCertification(id: $id) { status } }", _gid("CourseOutcome", "draft")),
    "Mutation.openOutcomeFile": case("mutation($id: ID!) { openOutcomeFile(id: $id) { outcome { brief } } }", _gid("CourseOutcome", "sent")),
    "Mutation.certifyCourseOutcome": case("mutation($id: ID!) { certifyCourseOutcome(id: $id, passed: true) { status } }", _gid("CourseOutcome", "sent")),
    "Mutation.publishCertifications": case("mutation($id: ID!) { publishCertifications(ids: [$id]) { brief } }", _gid("CourseOutcome", "sent")),
    "Mutation.assignSubstitute": case(
        "mutation($t: ID!, $s: ID!) { assignSubstitute(teacherId: $t, substituteId: $s, academicYear: 115, term: 1) { id } }",
        _vars(t=("Person", "teacher"), s=("Person", "substitute")),
    ),
    "Mutation.removeSubstitute": case("mutation($id: ID!) { removeSubstitute(id: $id) }", _gid("SubstituteAssignment", "assignment")),
    # --- school records ---
    "Mutation.saveCourseRecord": case(
        'mutation($s: ID!) { saveCourseRecord(input: {studentId: $s, academicYear: 115, term: 1, courseCode: "11500000000000000000001", subjectName: "入侵", grade: 10, credits: 2}) { id } }',
        _student,
    ),
    "Mutation.saveCadreRecord": case(
        'mutation($s: ID!) { saveCadreRecord(input: {studentId: $s, academicYear: 115, term: 1, level: CLASS, unit: "x", position: "x", startsOn: "2026-09-01"}) { id } }',
        _student,
    ),
    "Mutation.saveEnrolmentRecord": case(
        'mutation($s: ID!) { saveEnrolmentRecord(input: {studentId: $s, academicYear: 115, term: 2, grade: 10, classCode: "x"}) { id } }',
        _student,
    ),
    "Mutation.deleteSchoolRecord": case("mutation($id: ID!) { deleteSchoolRecord(id: $id) }", _gid("CourseRecord", "record")),
    "Mutation.correctSchoolRecord": case(
        'mutation($id: ID!) { correctSchoolRecord(id: $id, reason: "x", changes: {credits: 9}) { __typename } }', _gid("CourseRecord", "record")
    ),
    "Mutation.importPortfolioRecords": case(
        "mutation($f: String!) { importPortfolioRecords(kind: COURSE_RECORDS, fileBase64: $f) { ok written } }", _vars(f=_CSV)
    ),
    "Mutation.updateCounselingRecord": case(
        'mutation($id: ID!) { updateCounselingRecord(input: {id: $id, topic: "入侵"}) { topic notes } }', _gid("CounselingRecord", "counseling")
    ),
    "Mutation.deleteCounselingRecord": case("mutation($id: ID!) { deleteCounselingRecord(id: $id) }", _gid("CounselingRecord", "counseling")),
    "Mutation.writeCounselingRecord": case(
        'mutation($s: ID!) { writeCounselingRecord(input: {studentId: $s, academicYear: 115, term: 1, heldOn: "2026-10-01", topic: "x", notes: "x"}) { id } }',
        _student,
    ),
    # --- performances and selection ---
    "Mutation.createPerformance": case(
        'mutation { createPerformance(input: {academicYear: 115, kind: OTHER, title: "甲校", brief: "甲校", details: {starts_on: "2026-09-01"}}) { id } }'
    ),
    "Mutation.updatePerformance": case('mutation($id: ID!) { updatePerformance(input: {id: $id, title: "入侵"}) { title } }', _gid("DiversePerformance", "performance")),
    "Mutation.deletePerformance": case("mutation($id: ID!) { deletePerformance(id: $id) }", _gid("DiversePerformance", "performance")),
    "Mutation.addLatePerformance": case(
        'mutation($s: ID!) { addLatePerformance(studentId: $s, reason: "x", input: {academicYear: 115, kind: OTHER, title: "x", brief: "x", details: {starts_on: "2026-09-01"}}) { id } }',
        _student,
    ),
    "Mutation.selectPortfolioItems": case(
        "mutation($id: ID!) { selectPortfolioItems(academicYear: 115, outcomeIds: [$id]) { outcomeIds } }", _gid("CourseOutcome", "sent")
    ),
    "Mutation.unselectPortfolioItems": case(
        "mutation($id: ID!) { unselectPortfolioItems(academicYear: 115, performanceIds: [$id]) { performanceIds } }",
        _gid("DiversePerformance", "performance"),
    ),
    # --- submission and receipts ---
    "Mutation.createSubmissionBatch": case("mutation { createSubmissionBatch(academicYear: 115, term: 1) { itemCount } }"),
    "Mutation.submitBatch": case("mutation($id: ID!) { submitBatch(id: $id) { status } }", _gid("SubmissionBatch", "batch")),
    "Mutation.recordReceipts": case(
        "mutation($id: ID!, $s: ID!, $o: ID!) { recordReceipts(batchId: $id, lines: [{studentId: $s, itemId: $o, status: \"received\"}]) { status } }",
        _vars(id=("SubmissionBatch", "batch"), s=("Person", "student"), o=("CourseOutcome", "sent")),
    ),
    "Mutation.collectReceipts": case("mutation($id: ID!) { collectReceipts(batchId: $id) { status } }", _gid("SubmissionBatch", "batch")),
    "Mutation.resubmitBatch": case("mutation($id: ID!) { resubmitBatch(id: $id) { id } }", _gid("SubmissionBatch", "batch")),
    "Mutation.confirmReceipt": case("mutation($id: ID!) { confirmReceipt(id: $id) { status } }", _gid("Receipt", "receipt")),
    "Mutation.disputeReceipt": case('mutation($id: ID!) { disputeReceipt(id: $id, reason: "x") { status } }', _gid("Receipt", "receipt")),
    "Mutation.setSchoolPolicy": case("mutation { setSchoolPolicy(fromYear: 115, values: {outcomes_per_term: 5}) { outcomesPerTerm } }"),
}  # fmt: skip
