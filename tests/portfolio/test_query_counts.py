"""The SQL statements of 'my portfolio', the certification queue and the class overview do not
grow with the number of items or students (DataLoaders and grouped loads, no N+1)."""

from __future__ import annotations


from licheng.portfolio.models import CourseOutcome, DiversePerformance, OutcomeStatus, PerformanceKind, PortfolioFile
from tests.portfolio import ops
from tests.portfolio.conftest import IN_TERM_1, YEAR, make_scene
from tests.statements import counting


async def _items(scene, student, n: int) -> None:  # noqa: ANN001
    """n outcomes (with files) and n performances for one student, written directly."""
    record = scene.records["math"]
    for i in range(n):
        document = await PortfolioFile.create(school=scene.school, student_id=student.person.id, category="document", kind="pdf",
                                              size=1000 + i, sha256=f"{i:064x}", display_filename=f"{i}.pdf", state="attached")  # fmt: skip
        await CourseOutcome.create(school=scene.school, student_id=student.person.id, course_record=record, academic_year=YEAR,
                                   term=1, brief=f"作品{i}", document=document, status=OutcomeStatus.SENT, first_sent_at=IN_TERM_1,
                                   sent_at=IN_TERM_1)  # fmt: skip
        await DiversePerformance.create(school=scene.school, student_id=student.person.id, academic_year=YEAR, kind=PerformanceKind.OTHER,
                                        title=f"表現{i}", brief="表現", details={"starts_on": "2026-09-01"}, document=document)  # fmt: skip


async def _count(gql, query: str, variables: dict) -> int:  # noqa: ANN001
    await gql.ok(query, variables)  # warm: the first request of a session resolves more (e.g. schema caches)
    with counting() as counter:
        data = await gql.ok(query, variables)
    assert data
    return len(counter.seen)


async def test_my_portfolio_costs_the_same_queries_for_1_and_50_items(factory, gql, clock):
    counts = []
    for n in (1, 50):
        scene = await make_scene(factory)
        await _items(scene, scene.student, n)
        await gql.sign_in_as(scene.student)
        counts.append(await _count(gql, ops.MY_PORTFOLIO, {"y": YEAR}))
        data = await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR})
        assert len(data["myPortfolio"]["outcomes"]) == n and len(data["myPortfolio"]["performances"]) == n
    assert 0 < counts[0] == counts[1], counts
    # The budget, one statement each: the actor, the student, the plugins' rows, the school's year
    # (calendar and policy layer), and the six sections asked for (course records, outcomes,
    # performances, cadre records, receipts, storage used).
    assert counts[0] <= 10, counts


async def test_the_certification_queue_costs_the_same_queries_for_1_and_50_students(factory, gql, clock):
    counts = []
    for n in (1, 50):
        scene = await make_scene(factory)
        for i in range(n):
            student = scene.student if i == 0 else await scene.add_student(f"學生{i}")
            record = scene.records["math"] if i == 0 else await scene.course_record(student, "01")
            await CourseOutcome.create(school=scene.school, student_id=student.person.id, course_record=record, academic_year=YEAR,
                                       term=1, brief=f"作品{i}", status=OutcomeStatus.SENT, first_sent_at=IN_TERM_1, sent_at=IN_TERM_1)  # fmt: skip
        await gql.sign_in_as(scene.teacher)
        counts.append(await _count(gql, ops.QUEUE, {"pending": True}))
        assert len((await gql.ok(ops.QUEUE, {"pending": True}))["certificationQueue"]["edges"]) == n
    assert 0 < counts[0] == counts[1], counts


async def test_the_class_overview_costs_the_same_queries_for_1_and_50_students(factory, gql, clock):
    counts = []
    for n in (1, 50):
        scene = await make_scene(factory)
        for i in range(1, n):
            student = await scene.add_student(f"學生{i}")
            await DiversePerformance.create(school=scene.school, student_id=student.person.id, academic_year=YEAR, kind=PerformanceKind.OTHER,
                                            title="表現", brief="表現", details={})  # fmt: skip
        await gql.sign_in_as(scene.homeroom)
        variables = {"c": ops.gid("SchoolClass", scene.school_class.id)}
        counts.append(await _count(gql, ops.CLASS_OVERVIEW, variables))
        assert len((await gql.ok(ops.CLASS_OVERVIEW, variables))["classOverview"]["students"]) == n
    assert 0 < counts[0] == counts[1], counts
