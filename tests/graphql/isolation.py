"""The contract of an isolation case, and the world every case runs in.

``World`` holds two schools in two bureaus. The intruder is a member of school A
with every school role, who also administers bureau A; each case tries to reach
school B. A case returns the variables that point at B and the strings that
must never appear in the answer (B's names, codes, IDs); ``check`` may verify
afterwards that B is unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from licheng.tenants.models import Bureau, Role, School, SchoolClass


@dataclass
class World:
    bureau_a: Bureau
    bureau_b: Bureau
    school_a: School
    school_b: School
    class_b: SchoolClass
    student_b: Any  # tests.conftest.Member
    staff_b: Any
    intruder: Any
    factory: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    """One operation tried by school A's intruder against school B."""

    query: str
    variables: Callable[[World], Awaitable[dict[str, Any]]] | None = None
    # Strings of school B that must not appear in the response (names, codes...).
    secrets: Callable[[World], list[str]] = lambda w: [w.school_b.name, w.student_b.person.name]
    # Optional: assert B is unchanged after the attempt.
    check: Callable[[World], Awaitable[None]] | None = None


ALL_SCHOOL_ROLES = (Role.STAFF, Role.TEACHER, Role.COUNSELOR, Role.STUDENT, Role.PARENT)
