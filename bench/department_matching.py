"""Matching one student's portfolio against his target departments (Taipei 申請校系分則).

    python bench/department_matching.py [--items 120] [--departments 10] [--rounds 200]

Pure matching (``taipei_coolcloud.department_matching.match``), no database: a
student with ``--items`` items (a quarter certified outcomes, the rest
performances of random kinds over three years) against ``--departments``
departments, each weighing 4 to 8 random codes with random weights and the
default caps (3 outcomes, 10 performances). Prints the time of one student's
``departmentMatches`` (all departments) against a 10 ms target as a ratio, and
how the time grows from 1 to ``--departments`` departments.
"""

from __future__ import annotations

import argparse
import random
import time

from licheng.portfolio.models import PerformanceKind
from taipei_coolcloud.department_matching import Candidate, match
from taipei_coolcloud.departments import ITEM_CODES
from taipei_coolcloud.models.departments import ApplicationDepartment

TARGET_SECONDS = 0.010


def portfolio(rng: random.Random, count: int) -> list[Candidate]:
    kinds = [k.value for k in PerformanceKind]
    items = []
    for pk in range(1, count + 1):
        year = rng.choice((114, 115, 116))
        if pk % 4 == 0:
            items.append(Candidate("outcome", pk, year, "數學", "簡述", None, rng.random() < 0.2))
        else:
            items.append(Candidate("performance", pk, year, "標題", "簡述", rng.choice(kinds), rng.random() < 0.2))
    return items


def departments(rng: random.Random, count: int) -> list[ApplicationDepartment]:
    codes = list(ITEM_CODES)
    out = []
    for i in range(count):
        chosen = rng.sample(codes, rng.randint(4, 8))
        weights = {c: rng.randint(0, 50) for c in chosen if rng.random() < 0.7}
        out.append(ApplicationDepartment(code=f"D{i}", university="大學", name="學系", academic_year=115, item_codes=chosen, weights=weights))
    return out


def timed(items: list[Candidate], depts: list[ApplicationDepartment], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for department in depts:
            match(department, items)
    return (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    items = portfolio(rng, args.items)
    depts = departments(rng, args.departments)
    one = timed(items, depts[:1], args.rounds)
    all_ = timed(items, depts, args.rounds)
    print(f"items={args.items} departments={args.departments} rounds={args.rounds}")
    print(f"one department:   {one * 1000:.3f} ms")
    print(f"all departments:  {all_ * 1000:.3f} ms  ratio to the {TARGET_SECONDS * 1000:.0f} ms target: {all_ / TARGET_SECONDS:.2f}")
    print(f"growth 1 -> {args.departments} departments: {all_ / one:.1f}x")


if __name__ == "__main__":
    main()
