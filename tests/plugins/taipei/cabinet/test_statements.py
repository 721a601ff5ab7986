"""Autobiography (自傳) and study plan (學習計畫): the student writes versions, his readers read them."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role
from taipei_coolcloud.models.cabinet import CabinetStatementVersion

SAVE = "mutation($k: CabinetStatementKind!, $t: String!) { saveCabinetStatement(kind: $k, text: $t) { version text versions { number text } } }"
READ = "query($k: CabinetStatementKind!, $s: ID) { cabinetStatement(kind: $k, studentId: $s) { version text maxLength versions { number } } }"


async def test_each_save_is_a_new_version_and_earlier_ones_are_kept(gql, cab):
    await gql.sign_in_as(cab.student)
    await gql.ok(SAVE, {"k": "AUTOBIOGRAPHY", "t": "我從小喜歡數學。"})
    saved = (await gql.ok(SAVE, {"k": "AUTOBIOGRAPHY", "t": "我從小喜歡數學與程式。"}))["saveCabinetStatement"]
    assert saved["version"] == 2 and saved["text"] == "我從小喜歡數學與程式。"
    assert [(v["number"], v["text"]) for v in saved["versions"]] == [(2, "我從小喜歡數學與程式。"), (1, "我從小喜歡數學。")]
    same = (await gql.ok(SAVE, {"k": "AUTOBIOGRAPHY", "t": "我從小喜歡數學與程式。 "}))["saveCabinetStatement"]
    assert same["version"] == 2  # nothing changed: no new version
    plan = (await gql.ok(READ, {"k": "STUDY_PLAN"}))["cabinetStatement"]
    assert (plan["version"], plan["text"], plan["maxLength"]) == (0, "", 3000)
    assert await CabinetStatementVersion.filter(student_id=cab.student.person.id).count() == 2


async def test_empty_and_too_long_texts_are_refused(gql, cab):
    await gql.sign_in_as(cab.student)
    assert await gql.error_code(SAVE, {"k": "STUDY_PLAN", "t": "   "}) == "INVALID_INPUT"
    result = await gql.execute(SAVE, {"k": "STUDY_PLAN", "t": "字" * 3001})
    error = result["errors"][0]["extensions"]
    assert error["code"] == "INVALID_INPUT" and error["details"]["limit"] == 3000 and "3000" in error["message_zh"]


async def test_parent_homeroom_and_counselor_read_but_only_the_student_writes(gql, cab):
    await gql.sign_in_as(cab.student)
    await gql.ok(SAVE, {"k": "STUDY_PLAN", "t": "高二加強物理。"})
    student = to_global_id("Person", cab.student.person.id)
    for reader in (cab.parent, cab.homeroom, cab.counselor):
        await gql.sign_in_as(reader)
        assert (await gql.ok(READ, {"k": "STUDY_PLAN", "s": student}))["cabinetStatement"]["text"] == "高二加強物理。"
        assert await gql.error_code(SAVE, {"k": "STUDY_PLAN", "t": "改寫"}) == "FORBIDDEN"
    reads = await AuditEntry.filter(student_id=cab.student.person.id, action="read_portfolio").count()
    assert reads == 3  # PDPA: every other reader leaves a trace


async def test_other_readers_get_not_found(gql, cab, factory):
    await gql.sign_in_as(cab.student)
    await gql.ok(SAVE, {"k": "AUTOBIOGRAPHY", "t": "秘密自傳內容"})
    student = to_global_id("Person", cab.student.person.id)
    other_school = cab.district.schools[1]
    outsiders = [cab.teacher, await factory.member(cab.school, Role.PARENT), await factory.member(cab.school, Role.STUDENT),
                 await factory.member(other_school, Role.COUNSELOR)]  # fmt: skip
    for outsider in outsiders:
        await gql.sign_in_as(outsider)
        result = await gql.execute(READ, {"k": "AUTOBIOGRAPHY", "s": student})
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND" and "秘密自傳內容" not in str(result)


async def test_a_school_without_the_plugin_gets_not_found(gql, factory):
    student = await factory.member(await factory.school(await factory.bureau()), Role.STUDENT)
    await gql.sign_in_as(student)
    assert await gql.error_code(SAVE, {"k": "AUTOBIOGRAPHY", "t": "內容"}) == "NOT_FOUND"
    assert await gql.error_code(READ, {"k": "AUTOBIOGRAPHY"}) == "NOT_FOUND"


async def test_concurrent_saves_each_get_their_own_version_number(cab):
    import asyncio

    from taipei_coolcloud import cabinet
    from taipei_coolcloud.models.cabinet import StatementKind

    actor = await cab.student.actor()
    await asyncio.gather(*(cabinet.save_statement(actor, StatementKind.STUDY_PLAN, f"第{i}版") for i in range(5)))
    numbers = await CabinetStatementVersion.filter(student_id=cab.student.person.id).order_by("number").values_list("number", flat=True)
    assert numbers == [1, 2, 3, 4, 5]
    latest = await cabinet.statement(actor, StatementKind.STUDY_PLAN)
    assert latest.row is not None and latest.row.version == 5 and latest.row.text == latest.versions[0].text
