"""Matching a student's items against his target departments: what each takes (within caps) and what is missing."""

from __future__ import annotations

from taipei_coolcloud.department_matching import Candidate, match
from taipei_coolcloud.models.departments import ApplicationDepartment


def dept(codes: list[str], weights: dict | None = None, outcome_cap: int = 3, performance_cap: int = 10) -> ApplicationDepartment:
    return ApplicationDepartment(code="001012", university="國立臺灣大學", name="資訊工程學系", academic_year=115,
                                 item_codes=codes, weights=weights or {}, outcome_cap=outcome_cap,
                                 performance_cap=performance_cap)  # fmt: skip


def outcome(pk: int, year: int = 115, selected: bool = False) -> Candidate:
    return Candidate("outcome", pk, year, "數學", f"成果{pk}", None, selected)


def performance(pk: int, kind: str, year: int = 115, selected: bool = False) -> Candidate:
    return Candidate("performance", pk, year, f"表現{pk}", f"簡述{pk}", kind, selected)


def test_outcomes_are_capped_at_three_for_a_university_department():
    # DOMAIN.md "University admission": universities take at most 3 course outcomes per department.
    result = match(dept(["B-1"]), [outcome(i) for i in range(1, 6)])
    assert len(result.outcomes) == 3 and result.left_out == 2


def test_performances_are_capped_by_the_department():
    items = [performance(i, "competition") for i in range(1, 13)]
    assert len(match(dept(["C-5"]), items).performances) == 10  # DOMAIN.md: up to 10 performances
    assert len(match(dept(["C-5"], performance_cap=4), items).performances) == 4


def test_only_weighed_kinds_match_and_unanswered_codes_are_missing():
    items = [performance(1, "competition"), performance(2, "club"), outcome(3)]
    result = match(dept(["C-5", "C-7", "D-1"]), items)
    assert [m.item.id for m in result.performances] == [1]
    assert result.outcomes == []  # the department weighs no course outcome
    assert [c.code for c in result.missing] == ["C-7"]
    assert [c.code for c in result.at_application] == ["D-1"]
    coverage = {c.code.code: (c.candidates, c.chosen) for c in result.codes}
    assert coverage == {"C-5": (1, 1), "C-7": (0, 0)}


def test_every_code_gets_an_item_before_the_best_fill_the_cap():
    # Six competitions and one certificate, cap 3: the certificate is not crowded out by the heavier competitions.
    items = [performance(i, "competition") for i in range(1, 7)] + [performance(9, "certificate")]
    result = match(dept(["C-5", "C-7"], {"C-5": 50, "C-7": 10}, performance_cap=3), items)
    assert sorted(m.item.id for m in result.performances) == [1, 2, 9]
    assert {m.item.id: m.code for m in result.performances}[9] == "C-7"


def test_the_choice_is_deterministic_weight_then_selected_then_recent_then_oldest():
    items = [outcome(1, 114), outcome(2, 115), outcome(3, 113, selected=True), outcome(4, 115)]
    first = match(dept(["course_outcome"], outcome_cap=3), items)
    again = match(dept(["course_outcome"], outcome_cap=3), list(reversed(items)))
    assert [m.item.id for m in first.outcomes] == [m.item.id for m in again.outcomes] == [3, 2, 4]


def test_a_performance_counts_under_its_heaviest_code():
    result = match(dept(["performance", "C-5"], {"performance": 5, "C-5": 40}), [performance(1, "competition")])
    assert [(m.code, m.weight) for m in result.performances] == [("C-5", 40.0)]
