"""Jobs in GraphQL: staff see status, attempts and the last error; others are refused."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.jobs import Worker, enqueue
from licheng.tenants.models import Role

QUERY = """query($kind: String) { jobs(kind: $kind) { edges { node { id kind status attempts maxAttempts lastError finishedAt } } } }"""


async def test_staff_follow_a_failing_job_in_graphql(factory, gql, register, settings):
    school = await factory.school()
    staff = await factory.member(school, Role.STAFF)

    async def broken(actor, payload, context):
        raise RuntimeError("central endpoint down")

    kind = register(broken, max_attempts=3)
    job = await enqueue(kind, {}, school_id=school.id)
    await Worker(settings, kinds=[kind]).run_one()
    await gql.sign_in_as(staff, school.code)
    data = await gql.ok(QUERY, {"kind": kind})
    assert [e["node"] for e in data["jobs"]["edges"]] == [
        {"id": to_global_id("Job", job.id), "kind": kind, "status": "FAILED", "attempts": 1, "maxAttempts": 3,
         "lastError": "RuntimeError", "finishedAt": None}
    ]  # fmt: skip
    one = await gql.ok("query($id: ID!) { job(id: $id) { status } }", {"id": to_global_id("Job", job.id)})
    assert one["job"]["status"] == "FAILED"


async def test_students_and_teachers_may_not_see_jobs(factory, gql):
    school = await factory.school()
    for role in (Role.STUDENT, Role.TEACHER):
        await gql.sign_in_as(await factory.member(school, role), school.code)
        assert await gql.error_code("{ jobs { edges { node { id } } } }") == "FORBIDDEN"
