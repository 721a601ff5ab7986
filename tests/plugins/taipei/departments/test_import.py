"""Importing the bureau's department list (申請校系分則): CSV (UTF-8, Big5) and JSON, all or nothing, idempotent."""

from __future__ import annotations

import base64
import json

from licheng.graphql.relay import to_global_id
from licheng.tenants.audit import AuditEntry
from taipei_coolcloud.models.departments import ApplicationDepartment, TargetDepartment

HEADER = "department_code,university,department_name,item_codes,outcome_cap,performance_cap,weights,notes\n"
CSV = HEADER + (
    '001012,國立臺灣大學,資訊工程學系,"B-1;B-2;C-5;C-7;D-1",3,10,"B-1:30;C-5:40",重視競賽\n'
    "001022,國立臺灣大學,電機工程學系,course_outcome competition,3,5,,\n"
    "102032,國立臺北科技大學,機械工程系,B-1|C-7,3,10,B-1:50,\n"
)
IMPORT = """
mutation($b: ID!, $y: Int!, $f: DepartmentFileFormat!, $file: String, $json: String, $dry: Boolean! = false,
         $allow: Boolean! = false) {
  importApplicationDepartments(bureauId: $b, academicYear: $y, format: $f, fileBase64: $file, json: $json, dryRun: $dry,
                               allowRemovals: $allow) {
    ok encoding rows created updated unchanged removed targetsRemoved errors { row column code messageZh messageEn }
  }
}"""


def b64(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode()


def import_variables(taipei, *, csv: str | None = None, json_text: str | None = None, year: int = 115,
                     encoding: str = "utf-8", dry: bool = False, allow: bool = False) -> dict:  # fmt: skip
    return {"b": to_global_id("Bureau", taipei.bureau.id), "y": year, "f": "CSV" if csv is not None else "JSON",
            "file": b64(csv, encoding) if csv is not None else None, "json": json_text, "dry": dry, "allow": allow}  # fmt: skip


async def run_import(gql, taipei, **options) -> dict:
    await gql.sign_in_as(taipei.admin)
    return (await gql.ok(IMPORT, import_variables(taipei, **options)))["importApplicationDepartments"]


async def test_csv_import_creates_the_years_departments_with_codes_caps_and_weights(gql, taipei):
    report = await run_import(gql, taipei, csv=CSV)
    assert report == {"ok": True, "encoding": "utf-8", "rows": 3, "created": 3, "updated": 0, "unchanged": 0,
                      "removed": 0, "targetsRemoved": 0, "errors": []}  # fmt: skip
    csie = await ApplicationDepartment.get(bureau_id=taipei.bureau.id, academic_year=115, code="001012")
    assert csie.university == "國立臺灣大學" and csie.name == "資訊工程學系"
    assert csie.item_codes == ["B-1", "B-2", "C-5", "C-7", "D-1"]
    assert csie.weights == {"B-1": 30, "C-5": 40} and (csie.outcome_cap, csie.performance_cap) == (3, 10)
    ee = await ApplicationDepartment.get(bureau_id=taipei.bureau.id, code="001022")
    assert ee.item_codes == ["course_outcome", "competition"] and ee.performance_cap == 5
    entry = await AuditEntry.filter(bureau_id=taipei.bureau.id, action="import_application_departments").first()
    assert entry is not None and entry.changes["created"] == 3


async def test_big5_csv_is_read(gql, taipei):
    report = await run_import(gql, taipei, csv=CSV, encoding="cp950")
    assert report["ok"] and report["encoding"] == "big5" and report["created"] == 3
    assert await ApplicationDepartment.get(bureau_id=taipei.bureau.id, code="102032").values_list("university", flat=True) == "國立臺北科技大學"


async def test_json_import_takes_lists_and_objects(gql, taipei):
    departments = [
        {"department_code": "001012", "university": "國立臺灣大學", "department_name": "資訊工程學系",
         "item_codes": ["B-1", "C-5"], "weights": {"C-5": 60}, "performance_cap": 8, "academic_year": 115},
        {"department_code": "T01", "university": "國立臺灣科技大學", "department_name": "電子工程系", "track": "technical",
         "item_codes": "B-1;C-7"},
    ]  # fmt: skip
    report = await run_import(gql, taipei, json_text=json.dumps({"departments": departments}, ensure_ascii=False))
    assert report["ok"] and report["created"] == 2
    row = await ApplicationDepartment.get(bureau_id=taipei.bureau.id, code="001012")
    assert row.weights == {"C-5": 60} and row.performance_cap == 8 and row.outcome_cap == 3
    assert (await ApplicationDepartment.get(bureau_id=taipei.bureau.id, code="T01")).track == "technical"


async def test_bad_rows_are_refused_with_their_line_numbers_and_nothing_is_imported(gql, taipei):
    bad = HEADER + (
        "001012,國立臺灣大學,資訊工程學系,B-1;C-5,3,10,,\n"  # line 2: fine
        "001022,國立臺灣大學,,B-1,3,10,,\n"  # line 3: no department name
        "001032,國立臺灣大學,數學系,B-9;Z-1,3,10,,\n"  # line 4: unknown codes
        "001042,國立臺灣大學,物理學系,B-1,11,10,,\n"  # line 5: cap out of range
        "001052,國立臺灣大學,化學系,B-1,3,10,C-5:20,\n"  # line 6: weight of a code not weighed
        "001012,國立臺灣大學,資訊工程學系,B-1,3,10,,\n"  # line 7: duplicate code
    )
    report = await run_import(gql, taipei, csv=bad)
    assert not report["ok"] and report["created"] == 0
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "department_name", "REQUIRED"), (4, "item_codes", "UNKNOWN_ITEM_CODE"), (5, "outcome_cap", "OUT_OF_RANGE"),
        (6, "weights", "INVALID_WEIGHTS"), (7, "department_code", "DUPLICATE"),
    ]  # fmt: skip
    assert all(e["messageZh"] and e["messageEn"] for e in report["errors"])
    assert "B-9" in report["errors"][1]["messageEn"]
    assert not await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).exists()


async def test_json_rows_are_numbered_from_one(gql, taipei):
    rows = [{"department_code": "A1", "university": "甲大學", "department_name": "甲系", "item_codes": ["B-1"]},
            {"department_code": "A2", "university": "甲大學", "department_name": "乙系", "item_codes": []}]  # fmt: skip
    report = await run_import(gql, taipei, json_text=json.dumps(rows))
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "item_codes")]
    assert not await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).exists()


async def test_rows_of_another_year_are_refused(gql, taipei):
    rows = [{"department_code": "A1", "university": "甲大學", "department_name": "甲系", "item_codes": ["B-1"], "academic_year": 114}]
    report = await run_import(gql, taipei, json_text=json.dumps(rows))
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(1, "WRONG_YEAR")]


async def test_reimporting_the_same_file_changes_nothing_and_a_new_file_replaces_the_year(gql, taipei, factory):
    await run_import(gql, taipei, csv=CSV)
    ids = sorted(await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).values_list("id", flat=True))
    again = await run_import(gql, taipei, csv=CSV)
    assert (again["created"], again["updated"], again["unchanged"], again["removed"]) == (0, 0, 3, 0)
    assert sorted(await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).values_list("id", flat=True)) == ids
    # The student aims at the department that the next list drops: the dry run says so, the import
    # refuses until the admin allows removals, then his target goes with the department.
    dropped = await ApplicationDepartment.get(bureau_id=taipei.bureau.id, code="102032")
    await TargetDepartment.create(school=taipei.school, student=taipei.student.person, department=dropped, rank=1)
    changed = HEADER + (
        '001012,國立臺灣大學,資訊工程學系,"B-1;B-2;C-5;C-7;D-1",3,10,"B-1:30;C-5:40",重視競賽\n'
        "001022,國立臺灣大學,電機工程學系,course_outcome competition,3,6,,\n"  # cap changed
        "001099,國立臺灣大學,新設學系,C-1,3,10,,\n"
    )
    preview = await run_import(gql, taipei, csv=changed, dry=True)
    assert (preview["created"], preview["updated"], preview["unchanged"], preview["removed"], preview["targetsRemoved"]) == (1, 1, 1, 1, 1)
    assert await gql.error_code(IMPORT, import_variables(taipei, csv=changed)) == "DEPARTMENT_REMOVAL_UNCONFIRMED"
    assert await TargetDepartment.filter(student_id=taipei.student.person.id).exists()
    assert await ApplicationDepartment.filter(bureau_id=taipei.bureau.id, academic_year=115).count() == 3
    report = await run_import(gql, taipei, csv=changed, allow=True)
    assert (report["created"], report["updated"], report["unchanged"], report["removed"], report["targetsRemoved"]) == (1, 1, 1, 1, 1)
    codes = set(await ApplicationDepartment.filter(bureau_id=taipei.bureau.id, academic_year=115).values_list("code", flat=True))
    assert codes == {"001012", "001022", "001099"}
    assert not await TargetDepartment.filter(student_id=taipei.student.person.id).exists()


async def test_another_years_list_is_left_alone(gql, taipei):
    await run_import(gql, taipei, csv=CSV, year=114)
    await run_import(gql, taipei, csv=HEADER + "X1,甲大學,甲系,B-1,3,10,,\n", year=115)
    assert await ApplicationDepartment.filter(bureau_id=taipei.bureau.id, academic_year=114).count() == 3


async def test_dry_run_writes_nothing(gql, taipei):
    report = await run_import(gql, taipei, csv=CSV, dry=True)
    assert report["ok"] and report["rows"] == 3
    assert not await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).exists()


async def test_a_bureau_without_the_plugin_cannot_import(gql, factory, manager):
    from tests.plugins.conftest import make_available

    bureau = await factory.bureau()
    await factory.school(bureau)
    admin = await factory.bureau_admin(bureau)
    await make_available(manager, "taipei_coolcloud")
    await gql.sign_in_as(admin)
    variables = {"b": to_global_id("Bureau", bureau.id), "y": 115, "f": "CSV", "file": b64(CSV), "json": None}
    assert await gql.error_code(IMPORT, variables) == "NOT_FOUND"
    assert not await ApplicationDepartment.filter(bureau_id=bureau.id).exists()


async def test_only_the_bureaus_admins_import(gql, taipei, factory):
    other_admin = await factory.bureau_admin(await factory.bureau())
    variables = {"b": to_global_id("Bureau", taipei.bureau.id), "y": 115, "f": "CSV", "file": b64(CSV), "json": None}
    for member in (other_admin, taipei.district.staff, taipei.student):
        await gql.sign_in_as(member)
        assert await gql.error_code(IMPORT, variables) == "NOT_FOUND"
    assert not await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).exists()


async def test_removing_departments_nobody_targets_needs_no_confirmation(gql, taipei):
    await run_import(gql, taipei, csv=CSV)
    report = await run_import(gql, taipei, csv=HEADER + "001012,國立臺灣大學,資訊工程學系,B-1,3,10,,\n")
    assert (report["removed"], report["targetsRemoved"]) == (2, 0)


async def test_the_upload_is_not_read_before_the_caller_is_known_to_be_the_bureaus_admin(gql, taipei, factory):
    variables = {"b": to_global_id("Bureau", taipei.bureau.id), "y": 115, "f": "CSV", "file": "%%% not base64", "json": None}
    await gql.sign_in_as(taipei.student)
    assert await gql.error_code(IMPORT, variables) == "NOT_FOUND"  # not INVALID_INPUT: the file was never decoded
    await gql.sign_in_as(taipei.admin)
    assert await gql.error_code(IMPORT, variables) == "INVALID_INPUT"


async def test_a_platform_admin_reads_the_list_but_does_not_write_it(gql, taipei, factory):
    await run_import(gql, taipei, csv=CSV)
    operator = await factory.platform_admin()
    await gql.sign_in_as(operator)
    assert await gql.error_code(IMPORT, import_variables(taipei, csv=HEADER + "X1,甲大學,甲系,B-1,3,10,,\n")) == "NOT_FOUND"
    assert await ApplicationDepartment.filter(bureau_id=taipei.bureau.id, academic_year=115).count() == 3
    listed = await gql.ok("query($b: ID) { applicationDepartments(bureauId: $b) { edges { node { code } } } }",
                          {"b": to_global_id("Bureau", taipei.bureau.id)})  # fmt: skip
    assert len(listed["applicationDepartments"]["edges"]) == 3


async def test_digits_that_are_not_ascii_are_a_row_error_not_a_crash(gql, taipei):
    for cap in ("²", "１０", "3.0", "-1"):
        report = await run_import(gql, taipei, csv=HEADER + f"X1,甲大學,甲系,B-1,{cap},10,,\n")
        assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [(2, "outcome_cap", "OUT_OF_RANGE")], cap
    assert not await ApplicationDepartment.filter(bureau_id=taipei.bureau.id).exists()


async def test_malformed_json_and_bad_base64_are_input_errors(gql, taipei):
    await gql.sign_in_as(taipei.admin)
    bureau = to_global_id("Bureau", taipei.bureau.id)
    assert await gql.error_code(IMPORT, {"b": bureau, "y": 115, "f": "JSON", "json": "{not json"}) == "INVALID_INPUT"
    assert await gql.error_code(IMPORT, {"b": bureau, "y": 115, "f": "CSV", "file": "%%%"}) == "INVALID_INPUT"
    assert await gql.error_code(IMPORT, {"b": bureau, "y": 115, "f": "CSV", "file": b64("code,name\n")}) == "INVALID_INPUT"
