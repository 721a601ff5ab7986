"""Tenant isolation: every query and mutation, tried by school A against school B.

The operations are enumerated from the schema itself: a new operation without
a case in some ``tests/**/isolation_cases.py`` (a ``CASES`` dict keyed
"Query.field" / "Mutation.field") fails ``test_every_operation_has_an_isolation_case``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest

from licheng.graphql.schema import build_schema
from licheng.tenants.models import Role
from tests.graphql.isolation import ALL_SCHOOL_ROLES, Case, World

TESTS = Path(__file__).resolve().parent.parent


def _collect_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for path in sorted(TESTS.rglob("isolation_cases.py")):
        module_name = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)
        module = importlib.import_module(module_name)
        for key, case in module.CASES.items():
            assert key not in cases, f"two isolation cases for {key}"
            cases[key] = case
    return cases


CASES = _collect_cases()


def _operations() -> list[str]:
    schema = build_schema()._schema
    names = [f"Query.{name}" for name in schema.query_type.fields]
    names += [f"Mutation.{name}" for name in schema.mutation_type.fields]
    return sorted(names)


def test_every_operation_has_an_isolation_case():
    missing = [op for op in _operations() if op not in CASES]
    assert not missing, f"operations without an isolation case: {missing}"
    stale = [op for op in CASES if op not in _operations()]
    assert not stale, f"isolation cases for operations that no longer exist: {stale}"


@pytest.fixture
async def world(factory) -> World:
    bureau_a, bureau_b = await factory.bureau(), await factory.bureau()
    school_a, school_b = await factory.school(bureau_a), await factory.school(bureau_b)
    class_a = await factory.school_class(school_a)
    class_b = await factory.school_class(school_b)
    intruder = await factory.member(school_a, *ALL_SCHOOL_ROLES, Role.HOMEROOM, homeroom_of=class_a, school_class=class_a)
    from licheng.tenants.models import BureauAdmin

    await BureauAdmin.create(bureau=bureau_a, account=intruder.account)
    student_b = await factory.member(school_b, Role.STUDENT, school_class=class_b, name=f"乙校學生{school_b.code}")
    staff_b = await factory.member(school_b, Role.STAFF, name=f"乙校註冊組{school_b.code}")
    return World(bureau_a, bureau_b, school_a, school_b, class_b, student_b, staff_b, intruder, factory)


@pytest.mark.parametrize("operation", sorted(CASES))
async def test_school_a_cannot_reach_school_b(operation, world, gql):
    case = CASES[operation]
    await gql.sign_in_as(world.intruder, world.school_a.code)
    variables = await case.variables(world) if case.variables else {}
    result = await gql.execute(case.query, variables)
    text = json.dumps(result, ensure_ascii=False)
    for secret in case.secrets(world):
        assert secret not in text, f"{operation} leaked {secret!r}: {text}"
    if operation.startswith("Mutation.") and not result.get("errors"):
        assert case.check is not None, f"{operation} succeeded across schools and has no check: {text}"
    if case.check:
        await case.check(world)
