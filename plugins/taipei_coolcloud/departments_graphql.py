"""GraphQL for application-department rules (申請校系分則): the list, the import, targets and matching.

Thin: each resolver parses, calls ``taipei_coolcloud.departments`` or
``department_matching`` (which check the plugin is enabled, the role and the
school), and shapes the answer.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.imports import ImportRowError, decode_file
from licheng.graphql.permissions import SignedIn
from licheng.graphql.relay import Connection, connection, pk_of, to_global_id
from licheng.pagination import paginate
from taipei_coolcloud import department_matching as matching
from taipei_coolcloud import departments
from taipei_coolcloud.cabinet_graphql import student_pk
from taipei_coolcloud.models.departments import ApplicationDepartment as Row

MAX_JSON = 5 * 1024 * 1024


@strawberry.enum(description="The format of a department list file.")
class DepartmentFileFormat(Enum):
    CSV = "csv"
    JSON = "json"


@strawberry.type(description="A code a department weighs (參採項目) and how our items answer it.")
class DepartmentItemCode:
    code: str
    label_zh: str
    label_en: str
    matches: str = strawberry.field(description="outcome, performance, or none (prepared at application time).")

    @staticmethod
    def of(code: departments.ItemCode) -> DepartmentItemCode:
        return DepartmentItemCode(code=code.code, label_zh=code.label_zh, label_en=code.label_en, matches=code.matches)


@strawberry.type(description="A university or technical-college department of one academic year (校系分則).")
class ApplicationDepartment:
    id: strawberry.ID
    academic_year: int
    code: str
    university: str
    name: str
    track: str = strawberry.field(description="university or technical")
    item_codes: list[str]
    weights: JSON
    outcome_cap: int
    performance_cap: int
    notes: str

    @staticmethod
    def of(row: Row) -> ApplicationDepartment:
        return ApplicationDepartment(
            id=to_global_id("ApplicationDepartment", row.id), academic_year=row.academic_year, code=row.code,
            university=row.university, name=row.name, track=row.track, item_codes=list(row.item_codes),
            weights=dict(row.weights),  # type: ignore[arg-type]
            outcome_cap=row.outcome_cap, performance_cap=row.performance_cap, notes=row.notes,
        )  # fmt: skip


@strawberry.type
class DepartmentImportReport:
    academic_year: int
    dry_run: bool
    ok: bool
    encoding: str
    rows: int
    created: int
    updated: int
    unchanged: int
    removed: int
    targets_removed: int = strawberry.field(description="Students' target choices on the removed departments (gone with them).")
    errors: list[ImportRowError] = strawberry.field(description="Row: CSV line (header = 1) or JSON element (first = 1).")

    @staticmethod
    def of(report: departments.DepartmentImportReport) -> DepartmentImportReport:
        return DepartmentImportReport(
            academic_year=report.academic_year, dry_run=report.dry_run, ok=report.ok, encoding=report.encoding,
            rows=report.rows, created=report.created, updated=report.updated, unchanged=report.unchanged,
            removed=report.removed, targets_removed=report.targets_removed,
            errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message_zh=e.message_zh, message_en=e.message_en)
                    for e in report.errors],
        )  # fmt: skip


@strawberry.type(description="A portfolio item a department would take, and the code it counts under.")
class MatchedPortfolioItem:
    item_id: strawberry.ID
    item_type: str = strawberry.field(description="outcome or performance")
    academic_year: int
    title: str = strawberry.field(description="The subject of an outcome, the title of a performance.")
    brief: str
    kind: str | None
    selected: bool = strawberry.field(description="Selected (勾選) for the central database.")
    code: str
    weight: float

    @staticmethod
    def of(m: matching.MatchedItem) -> MatchedPortfolioItem:
        item = m.item
        type_name = "CourseOutcome" if item.item_type == "outcome" else "DiversePerformance"
        return MatchedPortfolioItem(
            item_id=to_global_id(type_name, item.id), item_type=item.item_type, academic_year=item.academic_year,
            title=item.title, brief=item.brief, kind=item.kind, selected=item.selected, code=m.code, weight=m.weight,
        )  # fmt: skip


@strawberry.type
class DepartmentCodeCoverage:
    code: DepartmentItemCode
    weight: float
    candidates: int = strawberry.field(description="The student's items that answer this code.")
    chosen: int = strawberry.field(description="Of the chosen items, those counted under this code.")


@strawberry.type(description="One target department against the student's portfolio.")
class DepartmentMatch:
    department: ApplicationDepartment
    outcomes: list[MatchedPortfolioItem] = strawberry.field(description="At most the department's outcome cap.")
    performances: list[MatchedPortfolioItem] = strawberry.field(description="At most the department's performance cap.")
    codes: list[DepartmentCodeCoverage]
    missing: list[DepartmentItemCode] = strawberry.field(description="Weighed codes nothing of the student answers yet.")
    at_application: list[DepartmentItemCode] = strawberry.field(description="Prepared when applying (自述, 修課紀錄).")
    left_out: int = strawberry.field(description="Matching items beyond the caps.")

    @staticmethod
    def of(m: matching.DepartmentMatch) -> DepartmentMatch:
        return DepartmentMatch(
            department=ApplicationDepartment.of(m.department),
            outcomes=[MatchedPortfolioItem.of(i) for i in m.outcomes],
            performances=[MatchedPortfolioItem.of(i) for i in m.performances],
            codes=[DepartmentCodeCoverage(code=DepartmentItemCode.of(c.code), weight=c.weight, candidates=c.candidates,
                                          chosen=c.chosen) for c in m.codes],
            missing=[DepartmentItemCode.of(c) for c in m.missing],
            at_application=[DepartmentItemCode.of(c) for c in m.at_application], left_out=m.left_out,
        )  # fmt: skip


@strawberry.type
class DepartmentQuery:
    licheng_scopes = {
        "Query.applicationDepartments": "portfolio:read",
        "Query.departmentItemCodes": "portfolio:read",
        "Query.targetDepartments": "portfolio:read",
        "Query.departmentMatches": "portfolio:read",
    }

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: the bureau's department list (school members: their bureau's).")
    async def application_departments(
        self, info: Info, bureau_id: strawberry.ID | None = None, search: str | None = None,
        academic_year: int | None = None, first: int | None = 50, after: str | None = None,
    ) -> Connection[ApplicationDepartment]:  # fmt: skip
        query = await departments.departments_query(
            info.context.actor, bureau_id=pk_of(bureau_id, "Bureau") if bureau_id else None, search=search,
            academic_year=academic_year,
        )  # fmt: skip
        return connection(await paginate(query, first=first, after=after), ApplicationDepartment.of)

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: the item codes a department may weigh.")
    async def department_item_codes(self, info: Info) -> list[DepartmentItemCode]:
        return [DepartmentItemCode.of(c) for c in await departments.item_codes(info.context.actor)]

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: a student's target departments (yourself by default).")
    async def target_departments(self, info: Info, student_id: strawberry.ID | None = None) -> list[ApplicationDepartment]:
        rows = await matching.target_departments(info.context.actor, student_pk(student_id))
        return [ApplicationDepartment.of(r) for r in rows]

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: per target department, the items it would take and what is missing.")
    async def department_matches(self, info: Info, student_id: strawberry.ID | None = None) -> list[DepartmentMatch]:
        return [DepartmentMatch.of(m) for m in await matching.department_matches(info.context.actor, student_pk(student_id))]


@strawberry.type
class DepartmentMutation:
    licheng_scopes = {"Mutation.importApplicationDepartments": "first-party", "Mutation.setTargetDepartments": "portfolio:write"}

    @strawberry.mutation(
        permission_classes=[SignedIn],
        description="臺北市教育局: replace one academic year's department list. CSV: fileBase64 (UTF-8 or Big5). JSON: json.",
    )
    async def import_application_departments(
        self, info: Info, bureau_id: strawberry.ID, academic_year: int, format: DepartmentFileFormat,
        file_base64: str | None = None, json: str | None = None, dry_run: bool = False,
        allow_removals: Annotated[
            bool, strawberry.argument(description="Needed when the new list drops departments that students chose as targets.")
        ] = False,
    ) -> DepartmentImportReport:  # fmt: skip
        data: bytes | str
        bureau_pk = pk_of(bureau_id, "Bureau")
        await departments.require_list_editor(info.context.actor, bureau_pk)  # before decoding up to 15 MB for anyone
        if format == DepartmentFileFormat.CSV:
            if not file_base64:
                raise InvalidInput("file_base64", "請附上 CSV 檔案", "Send the CSV file as fileBase64")
            data = decode_file(file_base64)
        else:
            if json is None or len(json) > MAX_JSON:
                raise InvalidInput("json", "請附上 JSON（上限 5 MB）", "Send the JSON text (5 MB at most)")
            data = json
        report = await departments.import_departments(
            info.context.actor, bureau_pk, academic_year, data, format.value, dry_run=dry_run, allow_removals=allow_removals
        )
        return DepartmentImportReport.of(report)

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: choose target departments, in order (at most 10).")
    async def set_target_departments(self, info: Info, department_ids: list[strawberry.ID]) -> list[ApplicationDepartment]:
        rows = await departments.set_targets(info.context.actor, [pk_of(i, "ApplicationDepartment") for i in department_ids])
        return [ApplicationDepartment.of(r) for r in rows]


QUERY_TYPES = [DepartmentQuery]
MUTATION_TYPES = [DepartmentMutation]
