"""Target departments through GraphQL: the student picks, his readers see the matching, others see nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from licheng.graphql.relay import to_global_id
from licheng.portfolio.models import CourseOutcome, CourseRecord, DiversePerformance, OutcomeStatus, PerformanceKind
from licheng.tenants.models import Role
from taipei_coolcloud.models.departments import ApplicationDepartment

SET = "mutation($ids: [ID!]!) { setTargetDepartments(departmentIds: $ids) { code name } }"
MATCHES = """
query($s: ID) { departmentMatches(studentId: $s) {
  department { code } leftOut
  outcomes { itemId title brief code weight selected } performances { itemId title kind code }
  missing { code labelZh } atApplication { code } codes { code { code } candidates chosen }
} }"""
LIST = "query($q: String, $y: Int) { applicationDepartments(search: $q, academicYear: $y) { edges { node { id code name } } } }"


@pytest.fixture
async def listed(taipei) -> dict[str, ApplicationDepartment]:
    bureau = taipei.bureau
    rows = [
        ApplicationDepartment(bureau=bureau, academic_year=115, code="001012", university="國立臺灣大學", name="資訊工程學系",
                              item_codes=["B-1", "C-5", "C-7", "D-1"], weights={"B-1": 30, "C-5": 40}),
        ApplicationDepartment(bureau=bureau, academic_year=115, code="001022", university="國立臺灣大學", name="電機工程學系",
                              item_codes=["course_outcome", "volunteer"], outcome_cap=1),
    ]  # fmt: skip
    for row in rows:
        await row.save()
    return {row.code: row for row in rows}


async def portfolio(taipei, factory) -> dict[str, int]:
    """Two passed outcomes, a draft, a competition and a club performance."""
    school, student = taipei.school, taipei.student.person
    teacher = await factory.member(school, Role.TEACHER)
    record = await CourseRecord.create(school=school, student=student, teacher_id=teacher.person.id, academic_year=115, term=1,
                                       course_code=f"115{school.code}ABCDEFGHIJKL01", subject_name="數學", grade=10, credits=4)  # fmt: skip
    common = {"school": school, "student": student, "course_record": record, "academic_year": 115, "term": 1}
    now = datetime.now(UTC)
    a = await CourseOutcome.create(**common, brief="數學小論文", status=OutcomeStatus.PASSED, published_at=now)
    b = await CourseOutcome.create(**common, brief="統計報告", status=OutcomeStatus.PASSED, published_at=now, selected_at=now)
    draft = await CourseOutcome.create(**common, brief="未送出草稿")
    contest = await DiversePerformance.create(school=school, student=student, academic_year=115, kind=PerformanceKind.COMPETITION,
                                              title="全國科展", brief="第二名", details={})  # fmt: skip
    club = await DiversePerformance.create(school=school, student=student, academic_year=115, kind=PerformanceKind.CLUB,
                                           title="熱音社", brief="社長", details={})  # fmt: skip
    return {"a": a.id, "b": b.id, "draft": draft.id, "contest": contest.id, "club": club.id}


async def test_student_lists_searches_and_picks_targets_in_order(gql, taipei, listed):
    await gql.sign_in_as(taipei.student)
    edges = (await gql.ok(LIST, {"q": "電機", "y": 115}))["applicationDepartments"]["edges"]
    assert [e["node"]["code"] for e in edges] == ["001022"]
    ids = [to_global_id("ApplicationDepartment", listed[c].id) for c in ("001022", "001012")]
    assert [d["code"] for d in (await gql.ok(SET, {"ids": ids}))["setTargetDepartments"]] == ["001022", "001012"]
    mine = await gql.ok("{ targetDepartments { code } }")
    assert [d["code"] for d in mine["targetDepartments"]] == ["001022", "001012"]
    await gql.ok(SET, {"ids": ids[1:]})  # a new choice replaces the old one
    assert [d["code"] for d in (await gql.ok("{ targetDepartments { code } }"))["targetDepartments"]] == ["001012"]


async def test_matches_show_what_each_department_takes_and_what_is_missing(gql, taipei, listed, factory):
    items = await portfolio(taipei, factory)
    await gql.sign_in_as(taipei.student)
    await gql.ok(SET, {"ids": [to_global_id("ApplicationDepartment", listed[c].id) for c in ("001012", "001022")]})
    csie, ee = (await gql.ok(MATCHES))["departmentMatches"]
    assert csie["department"]["code"] == "001012"
    # Both passed outcomes (the draft is not certified); the selected one first.
    assert [o["itemId"] for o in csie["outcomes"]] == [to_global_id("CourseOutcome", items[i]) for i in ("b", "a")]
    assert {o["code"] for o in csie["outcomes"]} == {"B-1"} and csie["outcomes"][0]["selected"] is True
    assert [(p["title"], p["code"]) for p in csie["performances"]] == [("全國科展", "C-5")]
    assert [m["code"] for m in csie["missing"]] == ["C-7"] and csie["missing"][0]["labelZh"] == "檢定證照"
    assert [c["code"] for c in csie["atApplication"]] == ["D-1"]
    # Cap 1 for outcomes: one taken, one left out; no volunteer service yet.
    assert len(ee["outcomes"]) == 1 and ee["leftOut"] == 1 and [m["code"] for m in ee["missing"]] == ["volunteer"]


async def test_parent_and_homeroom_teacher_read_the_matches_but_cannot_choose(gql, taipei, listed):
    await gql.sign_in_as(taipei.student)
    await gql.ok(SET, {"ids": [to_global_id("ApplicationDepartment", listed["001012"].id)]})
    student = to_global_id("Person", taipei.student.person.id)
    for reader in (taipei.parent, taipei.homeroom):
        await gql.sign_in_as(reader)
        assert [m["department"]["code"] for m in (await gql.ok(MATCHES, {"s": student}))["departmentMatches"]] == ["001012"]
        assert await gql.error_code(SET, {"ids": []}) == "FORBIDDEN"


async def test_reading_another_students_targets_is_audited(gql, taipei, listed):
    from licheng.tenants.audit import AuditEntry

    student = taipei.student.person.id
    await gql.sign_in_as(taipei.homeroom)
    query = "query($s: ID) { targetDepartments(studentId: $s) { code } }"
    await gql.ok(query, {"s": to_global_id("Person", student)})
    reads = await AuditEntry.filter(school_id=taipei.student.person.school_id, action="read_portfolio").values_list("account_id", "student_id")
    assert reads == [(taipei.homeroom.account.id, student)]


async def test_other_teachers_parents_and_schools_see_nothing(gql, taipei, listed, factory):
    student = to_global_id("Person", taipei.student.person.id)
    other_class = await factory.school_class(taipei.school)
    outsiders = [
        await factory.member(taipei.school, Role.TEACHER, Role.HOMEROOM, homeroom_of=other_class),
        await factory.member(taipei.school, Role.PARENT),
        await factory.member(taipei.school, Role.STUDENT),
        await factory.member(taipei.district.schools[1], Role.STAFF),  # same bureau, another school
    ]
    for outsider in outsiders:
        await gql.sign_in_as(outsider)
        assert await gql.error_code(MATCHES, {"s": student}) == "NOT_FOUND"
        assert await gql.error_code("query($s: ID) { targetDepartments(studentId: $s) { code } }", {"s": student}) == "NOT_FOUND"


async def test_departments_of_another_bureau_cannot_be_targeted(gql, taipei, factory):
    other = await ApplicationDepartment.create(bureau=await factory.bureau(), academic_year=115, code="999", university="外縣市大學",
                                               name="外系", item_codes=["B-1"])  # fmt: skip
    await gql.sign_in_as(taipei.student)
    assert await gql.error_code(SET, {"ids": [to_global_id("ApplicationDepartment", other.id)]}) == "NOT_FOUND"


async def test_at_most_ten_targets(gql, taipei):
    rows = [await ApplicationDepartment.create(bureau=taipei.bureau, academic_year=115, code=f"D{i}", university="大學", name=f"系{i}",
                                               item_codes=["B-1"]) for i in range(11)]  # fmt: skip
    await gql.sign_in_as(taipei.student)
    assert await gql.error_code(SET, {"ids": [to_global_id("ApplicationDepartment", r.id) for r in rows]}) == "TOO_MANY_TARGETS"


async def test_schools_where_the_plugin_is_off_get_not_found(gql, factory, manager):
    school = await factory.school(await factory.bureau())
    student = await factory.member(school, Role.STUDENT)
    await gql.sign_in_as(student)
    for query in (LIST, MATCHES, "{ targetDepartments { code } }", "{ departmentItemCodes { code } }"):
        assert await gql.error_code(query) == "NOT_FOUND"


async def test_the_bureau_admin_reads_his_list_by_bureau(gql, taipei, listed):
    await gql.sign_in_as(taipei.admin)
    query = "query($b: ID) { applicationDepartments(bureauId: $b) { edges { node { code } } } }"
    edges = (await gql.ok(query, {"b": to_global_id("Bureau", taipei.bureau.id)}))["applicationDepartments"]["edges"]
    assert sorted(e["node"]["code"] for e in edges) == ["001012", "001022"]


async def test_item_codes_are_served_to_enabled_schools_and_bureau_admins(gql, taipei, factory):
    query = "{ departmentItemCodes { code labelZh matches } }"
    for member in (taipei.student, taipei.admin):
        await gql.sign_in_as(member)
        codes = {c["code"]: c for c in (await gql.ok(query))["departmentItemCodes"]}
        assert codes["B-1"]["matches"] == "outcome" and codes["C-7"]["labelZh"] == "檢定證照" and codes["D-1"]["matches"] == "none"
    await gql.sign_in_as(await factory.bureau_admin(await factory.bureau()))
    assert await gql.error_code(query) == "NOT_FOUND"


async def test_after_the_years_selection_closed_only_selected_items_are_proposed(gql, taipei, listed, factory):
    """Universities read the central copy: once year 115's selection closed (2027-09-30), unselected items are out of reach."""
    from licheng.portfolio import clock

    items = await portfolio(taipei, factory)
    await gql.sign_in_as(taipei.student)
    await gql.ok(SET, {"ids": [to_global_id("ApplicationDepartment", listed["001012"].id)]})
    clock.set_now(datetime(2027, 10, 15, 2, tzinfo=UTC))
    try:
        [csie] = (await gql.ok(MATCHES))["departmentMatches"]
    finally:
        clock.set_now(None)
    assert [o["itemId"] for o in csie["outcomes"]] == [to_global_id("CourseOutcome", items["b"])]  # "a" was never selected
    assert csie["performances"] == [] and [m["code"] for m in csie["missing"]] == ["C-5", "C-7"]
