"""Course-counseling records stay on the school platform (DOMAIN.md, "The four categories"):
their author may correct or remove them, audited, and nobody else may."""

from __future__ import annotations

from datetime import date

from licheng.graphql.relay import to_global_id
from licheng.portfolio import counseling
from licheng.portfolio.models import CounselingRecord
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role
from tests.portfolio.conftest import YEAR

UPDATE = """
mutation($id: ID!, $t: String, $n: String, $f: ID) {
  updateCounselingRecord(input: {id: $id, topic: $t, notes: $n, fileUpload: $f}) { topic notes file { kind } }
}
"""
DELETE = "mutation($id: ID!) { deleteCounselingRecord(id: $id) }"


async def _record(scene) -> CounselingRecord:
    return await counseling.write_counseling_record(
        await scene.counselor.actor(), student_id=scene.student.person.id, academic_year=YEAR, term=1,
        held_on=date(2026, 10, 1), topic="選修規劃", notes="建議選修物理",
    )  # fmt: skip


async def test_the_author_corrects_a_record_and_the_audit_names_fields_not_text(scene, gql):
    row = await _record(scene)
    await gql.sign_in_as(scene.counselor)
    file_ref = await scene.file(scene.student, size=100_000, category="counseling")
    data = await gql.ok(UPDATE, {"id": to_global_id("CounselingRecord", row.id), "n": "建議選修物理與化學", "f": file_ref})
    assert data["updateCounselingRecord"] == {"topic": "選修規劃", "notes": "建議選修物理與化學", "file": {"kind": "pdf"}}
    assert (await CounselingRecord.get(id=row.id)).notes == "建議選修物理與化學"
    entry = await AuditEntry.get(action="update_counseling", record_id=str(row.id))
    assert entry.changes == {"fields": ["notes", "file"]}
    assert "化學" not in str(entry.changes)


async def test_a_note_over_the_limit_is_refused_and_nothing_changes(scene, gql):
    row = await _record(scene)
    await gql.sign_in_as(scene.counselor)
    assert await gql.error_code(UPDATE, {"id": to_global_id("CounselingRecord", row.id), "n": "字" * 4001}) == "INVALID_INPUT"
    assert (await CounselingRecord.get(id=row.id)).notes == "建議選修物理"


async def test_another_counselor_staff_and_the_student_may_not_change_it(scene, gql):
    row = await _record(scene)
    other = await scene.factory.member(scene.school, Role.COUNSELOR, name="另一位諮詢老師")
    for member in (other, scene.staff, scene.student):
        await gql.sign_in_as(member)
        assert await gql.error_code(UPDATE, {"id": to_global_id("CounselingRecord", row.id), "t": "改"}) == "FORBIDDEN"
        assert await gql.error_code(DELETE, {"id": to_global_id("CounselingRecord", row.id)}) == "FORBIDDEN"
    assert (await CounselingRecord.get(id=row.id)).topic == "選修規劃"


async def test_the_author_removes_a_record(scene, gql):
    row = await _record(scene)
    await gql.sign_in_as(scene.counselor)
    assert (await gql.ok(DELETE, {"id": to_global_id("CounselingRecord", row.id)}))["deleteCounselingRecord"] is True
    assert not await CounselingRecord.exists(id=row.id)
    assert await AuditEntry.filter(action="delete_counseling", record_id=str(row.id)).count() == 1
