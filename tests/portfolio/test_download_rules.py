"""Who may open a student's file: the portfolio's roles, not every teacher of the school
(DOMAIN.md, "Actors" and "Personal data": least privilege)."""

from __future__ import annotations

from licheng.portfolio import certification
from licheng.storage.service import upload_pk
from licheng.tenants.models import Role
from tests.portfolio import ops
from tests.portfolio.conftest import IN_TERM_1, pdf_bytes, upload


async def _files(scene, clock, gql) -> tuple[int, int]:
    """An outcome of the math course and a performance, each with a document: their blob ids."""
    clock.set(IN_TERM_1)
    await gql.sign_in_as(scene.student)
    outcome_upload = await upload(gql, pdf_bytes())
    await gql.ok(ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "函數報告", "d": outcome_upload})
    performance_upload = await upload(gql, pdf_bytes())
    await gql.ok(ops.CREATE_PERFORMANCE, {**ops.competition("全國科展"), "doc": performance_upload})
    return upload_pk(outcome_upload), upload_pk(performance_upload)


async def _status(gql, member, blob_id: int) -> int:
    await gql.sign_in_as(member)
    response = await gql.http.get(f"/files/{blob_id}", headers={"authorization": f"Bearer {gql.token}"})
    return response.status_code


async def test_the_subject_teacher_opens_his_courses_outcome_files_only(scene, clock, gql):
    outcome, performance = await _files(scene, clock, gql)
    assert await _status(gql, scene.teacher, outcome) == 200
    assert await _status(gql, scene.teacher, performance) == 404  # no teacher certifies performances
    assert await _status(gql, scene.other_teacher, outcome) == 404


async def test_a_substitute_opens_the_files_of_the_teacher_he_stands_in_for(scene, clock, gql):
    outcome, _ = await _files(scene, clock, gql)
    assert await _status(gql, scene.other_teacher, outcome) == 404
    await certification.assign_substitute(await scene.staff.actor(), scene.teacher.person.id, scene.other_teacher.person.id, 115, 1)
    assert await _status(gql, scene.other_teacher, outcome) == 200


async def test_the_homeroom_teacher_opens_his_class_files_and_not_another_class(scene, clock, gql):
    outcome, performance = await _files(scene, clock, gql)
    assert await _status(gql, scene.homeroom, outcome) == 200
    assert await _status(gql, scene.homeroom, performance) == 200
    other_class = await scene.factory.school_class(scene.school, code="102", grade=10)
    other_homeroom = await scene.factory.member(scene.school, Role.TEACHER, Role.HOMEROOM, homeroom_of=other_class)
    assert await _status(gql, other_homeroom, performance) == 404


async def test_staff_and_counselors_open_every_portfolio_file(scene, clock, gql):
    outcome, performance = await _files(scene, clock, gql)
    for member in (scene.staff, scene.counselor):
        assert await _status(gql, member, outcome) == 200
        assert await _status(gql, member, performance) == 200
