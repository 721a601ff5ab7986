"""Staff late additions (補件) carry files: DOMAIN.md "Calendar and windows" — performances cannot be
added retroactively except as an explicit, flagged late addition, and Taipei keeps such additions."""

from __future__ import annotations

from licheng.graphql.relay import pk_of, to_global_id
from licheng.portfolio.files import storage_used
from licheng.portfolio.models import DiversePerformance
from licheng.tenants.models import Role
from tests.portfolio.conftest import AFTER_PERFORMANCES, pdf_bytes

LATE = """
mutation($s: ID!, $doc: ID) {
  addLatePerformance(studentId: $s, reason: "證明文件延後核發", input: {
    academicYear: 115, kind: COMPETITION, title: "全國科展", brief: "物理組佳作", documentUpload: $doc,
    details: {competition_name: "全國科展", level: "national", award: "佳作", announced_on: "2026-11-02"}
  }) { id lateAddition document { kind sha256 } }
}
"""


async def _upload_for(gql, member, student_person_id: int) -> tuple[int, dict]:
    await gql.sign_in_as(member)
    response = await gql.http.post(
        "/uploads", params={"category": "document", "filename": "獎狀.pdf", "student": to_global_id("Person", student_person_id)},
        content=pdf_bytes(), headers={"authorization": f"Bearer {gql.token}"},
    )  # fmt: skip
    return response.status_code, response.json()


async def test_staff_attach_a_file_to_a_late_performance_charged_to_the_student(scene, clock, gql):
    clock.set(AFTER_PERFORMANCES)
    before = (await storage_used([scene.student.person.id]))[scene.student.person.id]
    status, sent = await _upload_for(gql, scene.staff, scene.student.person.id)
    assert status == 201, sent
    data = (await gql.ok(LATE, {"s": to_global_id("Person", scene.student.person.id), "doc": sent["uploadId"]}))["addLatePerformance"]
    assert data["lateAddition"] is True and data["document"]["kind"] == "pdf"
    row = await DiversePerformance.get(id=pk_of(data["id"], "DiversePerformance"))
    assert row.student_id == scene.student.person.id and row.document_id is not None
    after = (await storage_used([scene.student.person.id]))[scene.student.person.id]
    assert after - before == len(pdf_bytes())


async def test_only_staff_upload_for_another_person(scene, gql):
    for member in (scene.teacher, scene.homeroom):
        status, answer = await _upload_for(gql, member, scene.student.person.id)
        assert status == 403 and answer["code"] == "FORBIDDEN"
    classmate = await scene.add_student("同學")
    status, answer = await _upload_for(gql, classmate, scene.student.person.id)
    assert status == 404


async def test_staff_cannot_upload_for_a_student_of_another_school(scene, gql, factory):
    other = await factory.member(await factory.school(), Role.STUDENT)
    status, answer = await _upload_for(gql, scene.staff, other.person.id)
    assert status == 404 and answer["code"] == "NOT_FOUND"
