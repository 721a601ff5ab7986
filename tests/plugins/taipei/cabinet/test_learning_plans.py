"""Self-directed learning plans (自主學習計畫): filled by the student, approved or returned by a teacher."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.tenants.models import Role

FIELDS = "id state comment reviewerId title goals events { action state actorId comment at }"
SAVE = f"mutation($i: LearningPlanInput!) {{ saveLearningPlan(input: $i) {{ {FIELDS} }} }}"
SUBMIT = f"mutation($id: ID!, $r: ID) {{ submitLearningPlan(id: $id, reviewerId: $r) {{ {FIELDS} }} }}"
REVIEW = f"mutation($id: ID!, $ok: Boolean!, $c: String) {{ reviewLearningPlan(id: $id, approve: $ok, comment: $c) {{ {FIELDS} }} }}"
QUEUE = "{ learningPlansToReview { id title studentId } }"
FULL = {"academicYear": 115, "title": "Python 資料分析", "goals": "學會 pandas", "schedule": "每週三小時，十週",
        "method": "線上課程與實作", "expectedOutcome": "一份分析報告"}  # fmt: skip


def person(member) -> str:
    return to_global_id("Person", member.person.id)


async def test_plan_goes_draft_submitted_returned_resubmitted_approved_with_every_step_recorded(gql, cab):
    await gql.sign_in_as(cab.student)
    plan = (await gql.ok(SAVE, {"i": {"academicYear": 115, "title": "Python 資料分析"}}))["saveLearningPlan"]
    assert plan["state"] == "DRAFT"
    assert await gql.error_code(SUBMIT, {"id": plan["id"]}) == "INVALID_INPUT"  # goals, schedule... still empty
    await gql.ok(SAVE, {"i": {**FULL, "id": plan["id"]}})
    sent = (await gql.ok(SUBMIT, {"id": plan["id"], "r": person(cab.counselor)}))["submitLearningPlan"]
    assert sent["state"] == "SUBMITTED" and sent["reviewerId"] == person(cab.counselor)
    assert await gql.error_code(SAVE, {"i": {**FULL, "id": plan["id"]}}) == "PLAN_LOCKED"

    await gql.sign_in_as(cab.counselor)
    assert [p["id"] for p in (await gql.ok(QUEUE))["learningPlansToReview"]] == [plan["id"]]
    assert await gql.error_code(REVIEW, {"id": plan["id"], "ok": False}) == "INVALID_INPUT"  # returning needs a reason
    returned = (await gql.ok(REVIEW, {"id": plan["id"], "ok": False, "c": "請寫明每週進度"}))["reviewLearningPlan"]
    assert returned["state"] == "RETURNED" and returned["comment"] == "請寫明每週進度"

    await gql.sign_in_as(cab.student)
    await gql.ok(SAVE, {"i": {**FULL, "id": plan["id"], "schedule": "第1-5週基礎，第6-10週專題"}})
    await gql.ok(SUBMIT, {"id": plan["id"]})
    await gql.sign_in_as(cab.homeroom)  # the homeroom teacher may review his class's plans too
    approved = (await gql.ok(REVIEW, {"id": plan["id"], "ok": True}))["reviewLearningPlan"]
    assert approved["state"] == "APPROVED"
    steps = [(e["action"], e["state"], e["actorId"]) for e in approved["events"]]
    assert steps == [
        ("created", "DRAFT", person(cab.student)), ("saved", "DRAFT", person(cab.student)),
        ("submitted", "SUBMITTED", person(cab.student)), ("returned", "RETURNED", person(cab.counselor)),
        ("saved", "RETURNED", person(cab.student)), ("submitted", "SUBMITTED", person(cab.student)),
        ("approved", "APPROVED", person(cab.homeroom)),
    ]  # fmt: skip
    assert approved["events"][3]["comment"] == "請寫明每週進度" and all(e["at"] for e in approved["events"])
    await gql.sign_in_as(cab.student)
    assert await gql.error_code(SAVE, {"i": {**FULL, "id": plan["id"]}}) == "PLAN_LOCKED"
    assert await gql.error_code(REVIEW, {"id": plan["id"], "ok": True}) == "NOT_FOUND"  # students do not review


async def test_only_the_assigned_reviewer_or_the_homeroom_teacher_reviews(gql, cab, factory):
    await gql.sign_in_as(cab.student)
    plan = (await gql.ok(SAVE, {"i": FULL}))["saveLearningPlan"]
    await gql.ok(SUBMIT, {"id": plan["id"], "r": person(cab.teacher)})
    other_class = await factory.school_class(cab.school)
    outsiders = [cab.counselor, await factory.member(cab.school, Role.TEACHER, Role.HOMEROOM, homeroom_of=other_class),
                 cab.parent, await factory.member(cab.district.schools[1], Role.TEACHER)]  # fmt: skip
    for outsider in outsiders:
        await gql.sign_in_as(outsider)
        assert await gql.error_code(REVIEW, {"id": plan["id"], "ok": True}) == "NOT_FOUND"
        assert plan["id"] not in str(await gql.execute(QUEUE))
    await gql.sign_in_as(cab.teacher)
    assert (await gql.ok(REVIEW, {"id": plan["id"], "ok": True}))["reviewLearningPlan"]["state"] == "APPROVED"
    assert await gql.error_code(REVIEW, {"id": plan["id"], "ok": False, "c": "再改"}) == "PLAN_NOT_SUBMITTED"


async def test_the_reviewer_must_be_a_teacher_of_the_school(gql, cab, factory):
    await gql.sign_in_as(cab.student)
    plan = (await gql.ok(SAVE, {"i": FULL}))["saveLearningPlan"]
    elsewhere = await factory.member(cab.district.schools[1], Role.TEACHER)
    for reviewer in (cab.parent, elsewhere):
        assert await gql.error_code(SUBMIT, {"id": plan["id"], "r": person(reviewer)}) == "NOT_FOUND"


async def test_readers_see_the_plans_and_another_student_cannot_touch_them(gql, cab, factory):
    await gql.sign_in_as(cab.student)
    plan = (await gql.ok(SAVE, {"i": FULL}))["saveLearningPlan"]
    query = "query($s: ID) { learningPlans(studentId: $s) { id title } }"
    for reader in (cab.parent, cab.homeroom, cab.counselor):
        await gql.sign_in_as(reader)
        assert [p["id"] for p in (await gql.ok(query, {"s": person(cab.student)}))["learningPlans"]] == [plan["id"]]
        assert await gql.error_code(SAVE, {"i": {**FULL, "id": plan["id"]}}) == "FORBIDDEN"
    classmate = await factory.member(cab.school, Role.STUDENT, school_class=cab.school_class)
    await gql.sign_in_as(classmate)
    assert await gql.error_code(query, {"s": person(cab.student)}) == "NOT_FOUND"
    assert await gql.error_code(SAVE, {"i": {**FULL, "id": plan["id"], "title": "改掉"}}) == "NOT_FOUND"
    assert await gql.error_code(SUBMIT, {"id": plan["id"]}) == "NOT_FOUND"
    assert (await gql.ok("{ learningPlans { id } }"))["learningPlans"] == []


async def test_plan_fields_are_bounded(gql, cab):
    await gql.sign_in_as(cab.student)
    assert await gql.error_code(SAVE, {"i": {**FULL, "goals": "目" * 1001}}) == "INVALID_INPUT"
    assert await gql.error_code(SAVE, {"i": {**FULL, "title": " "}}) == "INVALID_INPUT"
    assert await gql.error_code(SAVE, {"i": {**FULL, "academicYear": 2026}}) == "INVALID_INPUT"


async def test_reading_the_review_queue_and_reviewing_are_audited_per_student(gql, cab):
    from licheng.tenants.audit import AuditEntry

    await gql.sign_in_as(cab.student)
    plan = (await gql.ok(SAVE, {"i": FULL}))["saveLearningPlan"]
    await gql.ok(SUBMIT, {"id": plan["id"], "r": person(cab.counselor)})
    student = cab.student.person.id
    await gql.sign_in_as(cab.counselor)
    await gql.ok(QUEUE)
    reads = await AuditEntry.filter(school_id=cab.school.id, action="read_portfolio").values_list("account_id", "student_id")
    assert reads == [(cab.counselor.account.id, student)]
    await gql.ok(REVIEW, {"id": plan["id"], "ok": True})
    assert await AuditEntry.filter(school_id=cab.school.id, action="read_portfolio", student_id=student).count() == 2
