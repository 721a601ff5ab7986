"""Warnings in GraphQL: my warnings, read marks, the school's list for staff, e-mail preferences."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from taipei_coolcloud.models.early_warnings import WarningKind
from tests.plugins.taipei.warnings.conftest import NEAR_UPLOAD_DEADLINE, make_taipei_school
from tests.plugins.taipei.warnings.helpers import run, warnings_of

MINE = """
query($u: Boolean!, $first: Int, $after: String) {
  myWarnings(unreadOnly: $u, first: $first, after: $after) {
    edges { cursor node { id kind period recipientName subjectZh bodyEn readAt emailState deadlineAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
MARK = "mutation($id: ID!) { markWarningRead(id: $id) { id readAt } }"
SCHOOL = "query($k: EarlyWarningKind) { schoolWarnings(kind: $k) { edges { node { kind recipientName recipientId } } } }"
PREFERENCE = "{ myWarningEmailPreference { allKinds kinds } }"
OPT_OUT = "mutation($o: Boolean!, $k: EarlyWarningKind) { setWarningEmailOptOut(optOut: $o, kind: $k) { allKinds kinds } }"
NODE = "query($id: ID!) { node(id: $id) { ... on EarlyWarning { kind recipientName } } }"


async def _warned(taipei, clock) -> None:
    clock.set(NEAR_UPLOAD_DEADLINE)
    await run(taipei, WarningKind.OUTCOMES_NOT_SENT)
    await run(taipei, WarningKind.CLASS_SUMMARY)


async def test_a_student_reads_his_warnings_and_marks_them_read(taipei, clock, gql):
    await _warned(taipei, clock)
    await gql.sign_in_as(taipei.scene.student)
    [edge] = (await gql.ok(MINE, {"u": True}))["myWarnings"]["edges"]
    node = edge["node"]
    assert node["kind"] == "OUTCOMES_NOT_SENT" and node["recipientName"] == "王小明" and node["readAt"] is None
    assert node["subjectZh"].startswith("【預警】") and "Dear 王小明" in node["bodyEn"] and node["period"] == "115-1@2027-02-03"
    read = (await gql.ok(MARK, {"id": node["id"]}))["markWarningRead"]
    assert read["readAt"] is not None
    again = (await gql.ok(MARK, {"id": node["id"]}))["markWarningRead"]
    assert again["readAt"] == read["readAt"]  # the first reading is kept
    assert (await gql.ok(MINE, {"u": True}))["myWarnings"]["edges"] == []
    assert len((await gql.ok(MINE, {"u": False}))["myWarnings"]["edges"]) == 1


async def test_nobody_marks_or_reads_another_persons_warning(taipei, clock, gql):
    await _warned(taipei, clock)
    summary = (await warnings_of(taipei, WarningKind.CLASS_SUMMARY))[0]
    await gql.sign_in_as(taipei.scene.student)
    assert await gql.error_code(MARK, {"id": to_global_id("EarlyWarning", summary.id)}) == "NOT_FOUND"
    assert await gql.error_code(NODE, {"id": to_global_id("EarlyWarning", summary.id)}) == "NOT_FOUND"
    assert (await warnings_of(taipei, WarningKind.CLASS_SUMMARY))[0].read_at is None
    assert await gql.error_code(MARK, {"id": to_global_id("Person", summary.id)}) == "INVALID_INPUT"


async def test_staff_list_the_schools_warnings_by_kind_and_others_may_not(taipei, clock, gql):
    await _warned(taipei, clock)
    await gql.sign_in_as(taipei.scene.staff)
    every = (await gql.ok(SCHOOL, {}))["schoolWarnings"]["edges"]
    assert sorted(e["node"]["kind"] for e in every) == ["CLASS_SUMMARY", "OUTCOMES_NOT_SENT"]
    [summary] = (await gql.ok(SCHOOL, {"k": "CLASS_SUMMARY"}))["schoolWarnings"]["edges"]
    assert summary["node"]["recipientName"] == "黃導師"
    assert summary["node"]["recipientId"] == to_global_id("Person", taipei.scene.homeroom.person.id)
    warning_id = to_global_id("EarlyWarning", (await warnings_of(taipei, WarningKind.CLASS_SUMMARY))[0].id)
    assert (await gql.ok(NODE, {"id": warning_id}))["node"] == {"kind": "CLASS_SUMMARY", "recipientName": "黃導師"}
    for member in (taipei.scene.student, taipei.scene.homeroom, taipei.scene.parent):
        await gql.sign_in_as(member)
        assert await gql.error_code(SCHOOL, {}) == "FORBIDDEN"


async def test_pages_of_my_warnings(taipei, clock, gql):
    await _warned(taipei, clock)
    await gql.sign_in_as(taipei.scene.homeroom)
    first = (await gql.ok(MINE, {"u": False, "first": 0}))["myWarnings"]
    assert first["edges"] == [] and first["pageInfo"]["hasNextPage"] is True
    page = (await gql.ok(MINE, {"u": False, "first": 1}))["myWarnings"]
    assert [e["node"]["kind"] for e in page["edges"]] == ["CLASS_SUMMARY"] and page["pageInfo"]["hasNextPage"] is False
    assert await gql.error_code(MINE, {"u": False, "first": 500}) == "INVALID_INPUT"


async def test_email_preference_round_trip(taipei, gql):
    await gql.sign_in_as(taipei.scene.homeroom)
    assert (await gql.ok(PREFERENCE))["myWarningEmailPreference"] == {"allKinds": False, "kinds": []}
    await gql.ok(OPT_OUT, {"o": True, "k": "CLASS_SUMMARY"})
    assert (await gql.ok(OPT_OUT, {"o": True}))["setWarningEmailOptOut"] == {"allKinds": True, "kinds": ["CLASS_SUMMARY"]}
    assert (await gql.ok(OPT_OUT, {"o": False}))["setWarningEmailOptOut"] == {"allKinds": False, "kinds": ["CLASS_SUMMARY"]}
    assert (await gql.ok(OPT_OUT, {"o": False, "k": "CLASS_SUMMARY"}))["setWarningEmailOptOut"]["kinds"] == []


async def test_where_the_plugin_is_not_enabled_the_fields_are_not_found(factory, manager, smtp_server, clock, gql):
    school = await make_taipei_school(factory, manager, smtp_server.port, enable=False)
    await gql.sign_in_as(school.scene.student)
    for query, variables in ((MINE, {"u": False}), (PREFERENCE, {}), (OPT_OUT, {"o": True})):
        assert await gql.error_code(query, variables) == "NOT_FOUND"
    await gql.sign_in_as(school.scene.staff)
    assert await gql.error_code(SCHOOL, {}) == "NOT_FOUND"


async def test_staff_reading_students_warnings_is_audited_once_per_student(taipei, clock, gql):
    from licheng.tenants.audit import AuditEntry

    await _warned(taipei, clock)
    student, homeroom = taipei.scene.student.person.id, taipei.scene.homeroom.person.id
    await gql.sign_in_as(taipei.scene.staff)
    await gql.ok(SCHOOL, {})
    reads = await AuditEntry.filter(school_id=taipei.school_id, action="read_portfolio").values_list("record_id", "student_id")
    assert reads == [(str(student), student)]  # the student's warning; the homeroom teacher's summary is no student's data
    warning = (await warnings_of(taipei, WarningKind.OUTCOMES_NOT_SENT))[0]
    await gql.ok(NODE, {"id": to_global_id("EarlyWarning", warning.id)})
    assert await AuditEntry.filter(school_id=taipei.school_id, action="read_portfolio", student_id=student).count() == 2
    assert not await AuditEntry.filter(school_id=taipei.school_id, action="read_portfolio", record_id=str(homeroom)).exists()
    await gql.sign_in_as(taipei.scene.student)  # reading one's own warnings is no PDPA read
    await gql.ok(MINE, {"u": False})
    await gql.ok(NODE, {"id": to_global_id("EarlyWarning", warning.id)})
    assert await AuditEntry.filter(school_id=taipei.school_id, action="read_portfolio").count() == 2
