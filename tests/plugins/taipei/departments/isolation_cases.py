"""Isolation cases for the department rules' operations (see tests/graphql/test_isolation.py).

Taipei CoolCloud is enabled in both bureaus, so school A's intruder gets past the
plugin check and meets the school and bureau checks. Bureau B has a department
list; school B's student targets one of its departments.
"""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.plugins import service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import InstalledPlugin
from taipei_coolcloud.models.departments import ApplicationDepartment, TargetDepartment
from tests.graphql.isolation import Case, World

PLUGIN = "taipei_coolcloud"
DEPARTMENT_B = "乙局專屬學系"


async def enable_in_both_bureaus(w: World) -> None:
    if "taipei_both" in w.extra:
        return
    manager = get_manager()
    await service.sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id=PLUGIN).update(available=True)
    for bureau in (w.bureau_a, w.bureau_b):
        admin = await (await w.factory.bureau_admin(bureau)).actor()
        await service.set_enabled(admin, manager, bureau.id, PLUGIN, enabled=True, all_schools=True)
    w.extra["taipei_both"] = True


async def _b(w: World) -> dict:
    await enable_in_both_bureaus(w)
    if "departments_b" not in w.extra:
        department = await ApplicationDepartment.create(bureau=w.bureau_b, academic_year=115, code="B0001", university="乙大學",
                                                        name=DEPARTMENT_B, item_codes=["B-1", "C-5"])  # fmt: skip
        await TargetDepartment.create(school=w.school_b, student=w.student_b.person, department=department, rank=1)
        w.extra["departments_b"] = department
    department = w.extra["departments_b"]
    return {"b": to_global_id("Bureau", w.bureau_b.id), "s": to_global_id("Person", w.student_b.person.id),
            "d": to_global_id("ApplicationDepartment", department.id)}  # fmt: skip


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.student_b.person.name, DEPARTMENT_B]


async def _b_unchanged(w: World) -> None:
    rows = await ApplicationDepartment.filter(bureau_id=w.bureau_b.id)
    assert [(r.code, r.name, r.item_codes) for r in rows] == [("B0001", DEPARTMENT_B, ["B-1", "C-5"])]
    targets = await TargetDepartment.filter(department_id=rows[0].id).values_list("student_id", flat=True)
    assert targets == [w.student_b.person.id]


CASES: dict[str, Case] = {
    "Query.applicationDepartments": Case(
        "query($b: ID) { applicationDepartments(bureauId: $b) { edges { node { code name university } } } }", _b, _secrets
    ),
    "Query.departmentItemCodes": Case("{ departmentItemCodes { code labelZh } }", _b, _secrets),
    "Query.targetDepartments": Case("query($s: ID) { targetDepartments(studentId: $s) { code name } }", _b, _secrets),
    "Query.departmentMatches": Case(
        "query($s: ID) { departmentMatches(studentId: $s) { department { name } outcomes { brief } missing { code } } }", _b, _secrets
    ),
    "Mutation.importApplicationDepartments": Case(
        'mutation($b: ID!) { importApplicationDepartments(bureauId: $b, academicYear: 115, format: JSON, json: '
        '"[{\\"department_code\\": \\"B0001\\", \\"university\\": \\"x\\", \\"department_name\\": \\"x\\", \\"item_codes\\": [\\"C-7\\"]}]")'
        " { ok created updated removed } }",
        _b, _secrets, check=_b_unchanged,
    ),
    "Mutation.setTargetDepartments": Case(
        "mutation($d: ID!) { setTargetDepartments(departmentIds: [$d]) { code name } }", _b, _secrets, check=_b_unchanged
    ),
}
