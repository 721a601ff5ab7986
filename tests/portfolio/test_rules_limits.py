"""One test per rule of DOMAIN.md's "Limits" table (lines 42-58), each citing its line and source."""

from __future__ import annotations

import pytest

from licheng.errors import LichengError
from licheng.portfolio import counseling, outcomes, performances, records, selection
from licheng.portfolio.files import attach_file
from licheng.portfolio.models import CourseOutcome, DiversePerformance, ItemVersion, OutcomeStatus, PerformanceKind
from licheng.portfolio.policy import national_policy, policy_for, set_school_policy
from tests.portfolio.conftest import IN_SELECTION, IN_TERM_1, MB, YEAR


async def _refused(code: str, work) -> LichengError:  # noqa: ANN001
    with pytest.raises(LichengError) as caught:
        await work
    assert caught.value.code == code, caught.value.as_extensions()
    return caught.value


async def _passed_outcomes(scene, n: int) -> list[int]:  # noqa: ANN001
    """n outcomes of the scene's student, certified and published (set directly: the workflow is tested elsewhere)."""
    ids = []
    for index in range(n):
        record = await scene.course_record(scene.student, f"{50 + index:02d}", subject=f"科目{index}")
        row = await CourseOutcome.create(
            school=scene.school, student_id=scene.student.person.id, course_record=record, academic_year=YEAR, term=1,
            brief="作品", status=OutcomeStatus.PASSED, first_sent_at=IN_TERM_1, sent_at=IN_TERM_1, published_at=IN_TERM_1,
        )  # fmt: skip
        ids.append(row.id)
    return ids


async def _performances(scene, n: int, student=None) -> list[int]:  # noqa: ANN001
    student = student or scene.student
    rows = [
        await DiversePerformance.create(school=scene.school, student_id=student.person.id, academic_year=YEAR,
                                        kind=PerformanceKind.OTHER, title=f"表現{i}", brief="表現", details={"starts_on": "2026-09-01"})
        for i in range(n)
    ]  # fmt: skip
    return [r.id for r in rows]


async def test_document_kinds_are_pdf_jpg_png_and_media_kinds_mp3_mp4(scene):
    """DOMAIN.md l.45-46: document kinds pdf, jpg, png; media kinds mp3, mp4 [seed, pub]."""
    policy = await policy_for(scene.school.id, YEAR)
    assert policy.document_kinds == {"pdf", "jpeg", "png"} and policy.media_kinds == {"mp3", "mp4"}
    student = await scene.student.actor()
    ref = await scene.file(scene.student, kind="mp3", category="document")
    await _refused("FILE_KIND_NOT_ALLOWED", attach_file(student, student_id=scene.student.person.id, category="document", upload_ref=ref))
    ok = await attach_file(student, student_id=scene.student.person.id, category="media",
                           upload_ref=await scene.file(scene.student, kind="mp4", category="media"))  # fmt: skip
    assert ok.kind == "mp4"


async def test_document_size_is_4_mb_from_109_and_2_mb_before(scene):
    """DOMAIN.md l.47: document size 2 MB (MOE 108 edition), 4 MB from term 109-1 [pub]."""
    assert (await policy_for(scene.school.id, 108)).document_max_bytes == 2 * MB
    assert (await policy_for(scene.school.id, 109)).document_max_bytes == 4 * MB
    student, sid = await scene.student.actor(), scene.student.person.id
    three_mb = await scene.file(scene.student, size=3 * MB)
    error = await _refused("FILE_TOO_LARGE", attach_file(student, student_id=sid, category="document", upload_ref=three_mb, academic_year=108))
    assert error.details["limit"] == 2 * MB
    assert (await attach_file(student, student_id=sid, category="document", upload_ref=three_mb, academic_year=109)).size == 3 * MB
    await _refused("FILE_TOO_LARGE", attach_file(student, student_id=sid, category="document",
                                                 upload_ref=await scene.file(scene.student, size=4 * MB + 1), academic_year=YEAR))  # fmt: skip


async def test_media_size_is_10_mb_from_109_and_5_mb_before(scene):
    """DOMAIN.md l.48: media size 5 MB (MOE 108 edition), 10 MB from 109-1 [pub]."""
    assert (await policy_for(scene.school.id, 108)).media_max_bytes == 5 * MB
    assert (await policy_for(scene.school.id, YEAR)).media_max_bytes == 10 * MB
    student, sid = await scene.student.actor(), scene.student.person.id
    eight_mb = await scene.file(scene.student, kind="mp4", category="media", size=8 * MB)
    await _refused("FILE_TOO_LARGE", attach_file(student, student_id=sid, category="media", upload_ref=eight_mb, academic_year=108))
    assert (await attach_file(student, student_id=sid, category="media", upload_ref=eight_mb, academic_year=YEAR)).size == 8 * MB


async def test_counseling_record_files_are_at_most_2_mb(scene):
    """DOMAIN.md l.49: counseling record file 2 MB (MOE 108 edition)."""
    counselor = await scene.counselor.actor()
    big = await scene.file(scene.student, size=2 * MB + 1, category="counseling")
    common = {"student_id": scene.student.person.id, "academic_year": YEAR, "term": 1, "held_on": IN_TERM_1.date(), "topic": "選課", "notes": "討論選修"}
    await _refused("FILE_TOO_LARGE", counseling.write_counseling_record(counselor, **common, file_ref=big))
    row = await counseling.write_counseling_record(counselor, **common, file_ref=await scene.file(scene.student, size=MB, category="counseling"))
    assert row.file_id is not None


async def test_the_brief_is_required_and_at_most_100_characters(scene):
    """DOMAIN.md l.50: brief description, 100 characters, required [pub]."""
    student = await scene.student.actor()
    record = scene.records["math"].id
    error = await _refused("BRIEF_TOO_LONG", outcomes.create_outcome(student, course_record_id=record, brief="字" * 101, document_ref=await scene.file(scene.student)))
    assert error.details == {"limit": 100, "length": 101}
    await _refused("BRIEF_REQUIRED", outcomes.create_outcome(student, course_record_id=record, brief="  ", document_ref=await scene.file(scene.student)))
    row = await outcomes.create_outcome(student, course_record_id=record, brief="字" * 100, document_ref=await scene.file(scene.student))
    assert len(row.brief) == 100


async def test_an_item_holds_one_document_and_one_media_file(scene):
    """DOMAIN.md l.51: files per item, one document and one media file [seed]. A new document
    replaces the item's document (the old one stays in the version history), never adds a second."""
    student = await scene.student.actor()
    row = await outcomes.create_outcome(
        student, course_record_id=scene.records["math"].id, brief="作品",
        document_ref=await scene.file(scene.student), media_ref=await scene.file(scene.student, kind="mp3", category="media"),
    )  # fmt: skip
    first_document = row.document_id
    row = await outcomes.revise_outcome(student, row.id, document_ref=await scene.file(scene.student, size=60_000))
    assert row.document_id != first_document and row.media_id is not None
    versions = await ItemVersion.filter(item_type="outcome", item_id=row.id).order_by("number")
    assert [v.document_id for v in versions] == [first_document, row.document_id]


async def test_an_external_link_is_for_performances_only_and_must_be_a_valid_url(scene, gql):
    """DOMAIN.md l.52: external link, performances only [seed]."""
    schema = await gql.anonymous().execute('{ __type(name: "CreateOutcomeInput") { inputFields { name } } }')
    assert "externalUrl" not in {f["name"] for f in schema["data"]["__type"]["inputFields"]}
    student = await scene.student.actor()
    common = {"academic_year": YEAR, "kind": PerformanceKind.WORK, "title": "作品集", "brief": "網頁作品", "details": {"completed_on": "2026-10-01"}}
    row = await performances.create_performance(student, **common, external_url="https://example.org/works/1")
    assert row.external_url == "https://example.org/works/1"
    for bad in ("javascript:alert(1)", "ftp://example.org/x", "https://", "not a url", "https://user:pw@example.org/"):
        await _refused("INVALID_URL", performances.create_performance(student, **common, external_url=bad))


async def test_twelve_outcomes_per_term_at_most_three_per_subject(scene):
    """DOMAIN.md l.53: outcomes sent for certification per term, 12, at most 3 per subject [seed]."""
    student = await scene.student.actor()
    subjects = [await scene.course_record(scene.student, f"{10 + i:02d}", subject=f"科目{i}") for i in range(5)]

    async def send(record) -> CourseOutcome:  # noqa: ANN001
        row = await outcomes.create_outcome(student, course_record_id=record.id, brief="作品", document_ref=await scene.file(scene.student))
        return await outcomes.send_for_certification(student, row.id)

    for _ in range(3):
        await send(subjects[0])
    error = await _refused("OUTCOME_SUBJECT_CAP_REACHED", send(subjects[0]))
    assert error.details["cap"] == 3 and error.details["subject"] == "科目0"
    for record in subjects[1:4]:
        for _ in range(3):
            await send(record)
    error = await _refused("OUTCOME_CAP_REACHED", send(subjects[4]))
    assert error.details == {"cap": 12, "count": 12, "term": 1}


async def test_performances_are_unlimited_unless_the_school_caps_them(scene):
    """DOMAIN.md l.54: performances uploaded, unlimited (school may cap); 20 per year at one school [seed]."""
    assert (await policy_for(scene.school.id, YEAR)).performances_per_year is None
    student, staff = await scene.student.actor(), await scene.staff.actor()
    await _performances(scene, 20)
    common = {"academic_year": YEAR, "kind": PerformanceKind.OTHER, "title": "表現", "brief": "表現", "details": {"starts_on": "2026-09-01"}}
    await performances.create_performance(student, **common)  # the 21st: no cap yet
    await set_school_policy(staff, YEAR, {"performances_per_year": 21})
    error = await _refused("PERFORMANCE_CAP_REACHED", performances.create_performance(student, **common))
    assert error.details["cap"] == 21


async def test_six_outcomes_are_selected_per_academic_year(scene, clock):
    """DOMAIN.md l.55 and l.35: outcomes selected per academic year, 6."""
    ids = await _passed_outcomes(scene, 7)
    clock.set(IN_SELECTION)
    student = await scene.student.actor()
    assert (await selection.select_items(student, YEAR, outcome_ids=ids[:6])).outcome_ids == ids[:6]
    error = await _refused("SELECTION_CAP_REACHED", selection.select_items(student, YEAR, outcome_ids=[ids[6]]))
    assert error.details["cap"] == 6


async def test_ten_performances_are_selected_per_academic_year(scene, clock):
    """DOMAIN.md l.56 and l.36: performances selected per academic year, 10."""
    ids = await _performances(scene, 11)
    clock.set(IN_SELECTION)
    student = await scene.student.actor()
    await selection.select_items(student, YEAR, performance_ids=ids[:10])
    error = await _refused("SELECTION_CAP_REACHED", selection.select_items(student, YEAR, performance_ids=[ids[10]]))
    assert error.details["cap"] == 10


async def test_storage_per_student_is_150_mb_for_all_three_years(scene):
    """DOMAIN.md l.57: storage per student, all three years, 150 MB [seed: "5.08mb/150.0mb"].
    The policy's number is what storage's upload limits use."""
    from licheng.http.limits import limits_provider

    assert (await policy_for(scene.school.id, YEAR)).quota_bytes == 150 * MB
    assert (await limits_provider()(scene.school.id, scene.student.person.id)).quota_bytes == (
        await policy_for(scene.school.id, YEAR)
    ).quota_bytes


async def test_old_years_are_judged_by_the_rules_of_their_year(scene):
    """DOMAIN.md l.58: old years are judged by the rules of their year (policy versioned by academic year)."""
    staff = await scene.staff.actor()
    await set_school_policy(staff, 116, {"outcomes_per_term": 6})
    assert (await policy_for(scene.school.id, 115)).outcomes_per_term == 12
    assert (await policy_for(scene.school.id, 116)).outcomes_per_term == 6
    assert (await policy_for(scene.school.id, 117)).outcomes_per_term == 6  # until a later layer
    assert national_policy(108).document_max_bytes == 2 * MB and national_policy(109).document_max_bytes == 4 * MB
