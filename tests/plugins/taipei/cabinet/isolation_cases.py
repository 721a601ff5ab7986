"""Isolation cases for the cabinet extras (see tests/graphql/test_isolation.py).

Taipei CoolCloud is on in both bureaus. School B's student has an
autobiography, a learning plan awaiting review and a share link; school A's
intruder (every school role, homeroom teacher, bureau A's admin) tries them.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from licheng.graphql.relay import to_global_id
from taipei_coolcloud.cabinet_sharing import token_hash
from taipei_coolcloud.models.cabinet import CabinetStatement, LearningPlan, PlanState, ShareLink, ShareLinkView, StatementKind
from tests.graphql.isolation import Case, World
from tests.plugins.taipei.departments.isolation_cases import enable_in_both_bureaus

AUTOBIOGRAPHY_B = "乙校學生的自傳內文"
PLAN_B = "乙校自主學習計畫"


async def _b(w: World) -> dict:
    await enable_in_both_bureaus(w)
    if "cabinet_b" not in w.extra:
        student = w.student_b.person
        await CabinetStatement.create(school=w.school_b, student=student, kind=StatementKind.AUTOBIOGRAPHY, version=1, text=AUTOBIOGRAPHY_B)
        plan = await LearningPlan.create(school=w.school_b, student=student, reviewer=w.staff_b.person, academic_year=115, title=PLAN_B,
                                         goals="g", schedule="s", method="m", expected_outcome="e", state=PlanState.SUBMITTED)  # fmt: skip
        token = secrets.token_urlsafe(32)  # B's student shared his portfolio (statements not included)
        link = await ShareLink.create(school=w.school_b, student=student, token_hash=token_hash(token),
                                      expires_at=datetime.now(UTC) + timedelta(days=7))  # fmt: skip
        w.extra["cabinet_b"] = {"plan": plan, "link": link, "token": token}
    b = w.extra["cabinet_b"]
    return {"s": to_global_id("Person", w.student_b.person.id), "p": to_global_id("LearningPlan", b["plan"].id),
            "l": to_global_id("ShareLink", b["link"].id), "r": to_global_id("Person", w.staff_b.person.id)}  # fmt: skip


async def _b_token(w: World) -> dict:
    await _b(w)
    return {"t": w.extra["cabinet_b"]["token"]}


def _beyond_the_summary(w: World) -> list[str]:
    """A shared link is public by design (B's student name and school are its content); nothing else of B may show."""
    return [AUTOBIOGRAPHY_B, PLAN_B, w.staff_b.person.name, w.student_b.person.student_number or "-no-number-"]


async def _viewed_as_anonymous_in_b(w: World) -> None:
    """The intruder's session adds nothing: one anonymous view counted on B's link, in B, and B otherwise unchanged."""
    await _b_unchanged(w)
    link = w.extra["cabinet_b"]["link"]
    assert await ShareLinkView.filter(link_id=link.id).values_list("school_id", "views") == [(w.school_b.id, 1)]
    assert not await ShareLinkView.filter(school_id=w.school_a.id).exists()


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.student_b.person.name, AUTOBIOGRAPHY_B, PLAN_B]


async def _b_unchanged(w: World) -> None:
    student_id = w.student_b.person.id
    statement = await CabinetStatement.get(student_id=student_id, kind=StatementKind.AUTOBIOGRAPHY)
    assert (statement.version, statement.text) == (1, AUTOBIOGRAPHY_B)
    plan = await LearningPlan.get(student_id=student_id)
    assert (plan.title, plan.state, plan.reviewer_id) == (PLAN_B, PlanState.SUBMITTED, w.staff_b.person.id)
    links = await ShareLink.filter(student_id=student_id)
    assert len(links) == 1 and links[0].revoked_at is None
    assert not await ShareLink.filter(school_id=w.school_b.id).exclude(student_id=student_id).exists()


async def _saved_in_a_only(w: World) -> None:
    """The intruder's save went to his own school (the plugin is on in A), and B is unchanged."""
    await _b_unchanged(w)
    own = await CabinetStatement.get(student_id=w.intruder.person.id, kind=StatementKind.AUTOBIOGRAPHY)
    assert own.school_id == w.school_a.id and own.text == "甲校自己的自傳"


PLAN_FIELDS = "{ id title state comment }"
CASES: dict[str, Case] = {
    "Query.cabinetStatement": Case(
        "query($s: ID) { cabinetStatement(kind: AUTOBIOGRAPHY, studentId: $s) { text versions { text } } }", _b, _secrets
    ),
    "Query.learningPlans": Case(f"query($s: ID) {{ learningPlans(studentId: $s) {PLAN_FIELDS} }}", _b, _secrets),
    "Query.learningPlansToReview": Case(f"{{ learningPlansToReview {PLAN_FIELDS} }}", _b, _secrets),
    "Query.myShareLinks": Case("{ myShareLinks { id label } }", _b, _secrets),
    "Query.sharedPortfolio": Case(
        "query($t: String!) { sharedPortfolio(token: $t) { studentName schoolName autobiography studyPlan years { outcomes { brief } } } }",
        _b_token, _beyond_the_summary, check=_viewed_as_anonymous_in_b,
    ),
    "Mutation.saveCabinetStatement": Case(
        "mutation { saveCabinetStatement(kind: AUTOBIOGRAPHY, text: \"甲校自己的自傳\") { version text } }", _b, _secrets,
        check=_saved_in_a_only,
    ),
    "Mutation.saveLearningPlan": Case(
        f'mutation($p: ID) {{ saveLearningPlan(input: {{id: $p, academicYear: 115, title: "改寫"}}) {PLAN_FIELDS} }}',
        _b, _secrets, check=_b_unchanged,
    ),
    "Mutation.submitLearningPlan": Case(
        f"mutation($p: ID!, $r: ID) {{ submitLearningPlan(id: $p, reviewerId: $r) {PLAN_FIELDS} }}", _b, _secrets, check=_b_unchanged
    ),
    "Mutation.reviewLearningPlan": Case(
        f'mutation($p: ID!) {{ reviewLearningPlan(id: $p, approve: false, comment: "退回") {PLAN_FIELDS} }}',
        _b, _secrets, check=_b_unchanged,
    ),
    "Mutation.createShareLink": Case("mutation { createShareLink(days: 3) { link { id } } }", _b, _secrets, check=_b_unchanged),
    "Mutation.revokeShareLink": Case("mutation($l: ID!) { revokeShareLink(id: $l) { revokedAt } }", _b, _secrets, check=_b_unchanged),
}
