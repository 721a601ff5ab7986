"""Application-department rules (申請校系分則): the bureau's list, imports, and a student's targets.

Taipei compiles which items each department weighs (參採項目); the bureau
imports that list once per academic year (CSV in UTF-8 or Big5, or JSON), all
rows or none. Students pick target departments; ``department_matching`` says
which of their items each one would take. Everything is refused with
``NotFound`` where the plugin is not enabled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.plugins import runtime
from licheng.plugins.manager import get_manager
from licheng.portfolio.access import require_student
from licheng.portfolio.models import PerformanceKind as K
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.importer import RowError, RowInvalid, read_csv
from licheng.tenants.models import School
from taipei_coolcloud.ids import PLUGIN_ID
from taipei_coolcloud.models.departments import ApplicationDepartment, TargetDepartment

MAX_TARGETS = 10
MAX_ROWS = 5000
TRACKS = ("university", "technical")  # 大學 | 技專校院


@dataclass(frozen=True)
class ItemCode:
    """A code a department may weigh, and which portfolio items answer it.

    ``matches``: "outcome" (any certified course outcome), "performance" (performances
    of ``kinds``; every kind if empty) or "none" (prepared at application time:
    course records, self-statements).
    """

    code: str
    label_zh: str
    label_en: str
    matches: str
    kinds: frozenset[str] = frozenset()  # performance kinds (PerformanceKind values)


def _codes() -> dict[str, ItemCode]:
    codes = [ItemCode("course_outcome", "課程學習成果", "course outcome", "outcome"),
             ItemCode("performance", "多元表現（任一類）", "diverse performance (any kind)", "performance")]  # fmt: skip
    from licheng.portfolio.kinds import KIND_NAMES

    codes += [ItemCode(k.value, zh, en, "performance", frozenset({k.value})) for k, (zh, en) in KIND_NAMES.items()]
    # The admission committees' item codes (參採項目代碼) [inferred from public guides: see docs/taipei-cabinet.md].
    codes += [
        ItemCode("A-1", "修課紀錄", "course records", "none"),
        ItemCode("B-1", "書面報告／專題實作及實習科目學習成果", "written report / project and practice outcome", "outcome"),
        ItemCode("B-2", "實作作品／其他課程學習成果", "practical work / other course outcome", "outcome"),
        ItemCode("B-3", "自然科學領域探究與實作成果", "science inquiry outcome", "outcome"),
        ItemCode("B-4", "社會領域探究活動成果", "social-studies inquiry outcome", "outcome"),
        ItemCode("B-5", "其他課程學習成果", "other course outcome", "outcome"),
        ItemCode("C-1", "自主學習計畫與成果", "self-directed learning", "performance", frozenset({K.SELF_DIRECTED.value})),
        ItemCode("C-2", "社團活動經驗", "club activities", "performance", frozenset({K.CLUB.value})),
        ItemCode("C-3", "幹部經驗", "cadre posts", "performance", frozenset({K.CADRE.value})),
        ItemCode("C-4", "服務學習經驗", "volunteer service", "performance", frozenset({K.VOLUNTEER.value})),
        ItemCode("C-5", "競賽表現", "competitions", "performance", frozenset({K.COMPETITION.value})),
        ItemCode("C-6", "非修課紀錄之成果作品", "works outside courses", "performance", frozenset({K.WORK.value})),
        ItemCode("C-7", "檢定證照", "certificates", "performance", frozenset({K.CERTIFICATE.value})),
        ItemCode("C-8", "特殊優良表現證明", "outstanding performance", "performance", frozenset({K.OTHER.value})),
        ItemCode("C-9", "多元表現綜整心得", "reflection on performances", "none"),
        ItemCode("D-1", "學習歷程反思", "learning reflection", "none"),
        ItemCode("D-2", "就讀動機", "motivation", "none"),
        ItemCode("D-3", "未來學習計畫與生涯規劃", "study and career plan", "none"),
    ]
    return {c.code: c for c in codes}


ITEM_CODES: dict[str, ItemCode] = _codes()


@dataclass
class DepartmentImportReport:
    academic_year: int
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    targets_removed: int = 0  # students' target choices on the removed departments
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


# --- who may act -------------------------------------------------------------------------------


async def _enabled_bureau(actor: Actor, bureau_id: int, *, write: bool = False) -> int:
    """A bureau the actor administers and that enabled the plugin; otherwise ``NotFound``.

    Reading: the bureau's admins and platform admins. Writing the list: the bureau's own
    admins only (decision: the list is the bureau's publication; a platform operator does not edit it).
    """
    actor.require_signed_in()
    allowed = bureau_id in actor.bureau_ids if write else actor.can_admin_bureau(bureau_id)
    if not allowed or PLUGIN_ID not in await runtime.bureau_configs(get_manager(), bureau_id):
        raise NotFound("bureau", "教育局")
    return bureau_id


async def require_list_editor(actor: Actor, bureau_id: int) -> None:
    """Check before reading an upload: an admin of this bureau, where the plugin is enabled."""
    await _enabled_bureau(actor, bureau_id, write=True)


async def school_bureau(actor: Actor) -> tuple[int, int]:
    """(school_id, bureau_id) of the actor's school, where the plugin is enabled."""
    school_id = actor.require_school()
    await runtime.require_enabled(school_id, PLUGIN_ID)
    school = await School.get(id=school_id)
    return school_id, school.bureau_id


async def item_codes(actor: Actor) -> list[ItemCode]:
    """The codes a department may weigh: for members of an enabled school, and for the admins of an
    enabled bureau (who prepare the files)."""
    if actor.school_id is not None:
        await school_bureau(actor)
        return list(ITEM_CODES.values())
    actor.require_signed_in()
    for bureau_id in sorted(actor.bureau_ids):
        if PLUGIN_ID in await runtime.bureau_configs(get_manager(), bureau_id):
            return list(ITEM_CODES.values())
    raise NotFound("plugin", "外掛")


# --- parsing -----------------------------------------------------------------------------------

COLUMNS = (["department_code", "university", "department_name", "item_codes"],
           ["academic_year", "track", "outcome_cap", "performance_cap", "weights", "notes"])  # fmt: skip
_CODE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
_SPLIT = re.compile(r"[;|、,，\s]+")


def _text(row: dict[str, Any], column: str, max_len: int, *, required: bool = True) -> str:
    value = str(row.get(column) or "").strip()
    if required and not value:
        raise RowInvalid(column, "REQUIRED", "此欄必填", "This column is required")
    if len(value) > max_len:
        raise RowInvalid(column, "TOO_LONG", f"不可超過 {max_len} 字", f"At most {max_len} characters")
    return value


def _int(row: dict[str, Any], column: str, default: int, low: int, high: int) -> int:
    value = row.get(column)
    if value is None or value == "":
        return default
    text = str(value).strip()
    # ASCII digits only: "²".isdigit() is True but int("²") fails, and "１０" should not pass silently
    if isinstance(value, bool) or not re.fullmatch(r"\d{1,6}", text, re.ASCII) or not low <= int(text) <= high:
        raise RowInvalid(column, "OUT_OF_RANGE", f"須為 {low} 到 {high} 的整數", f"Must be a whole number from {low} to {high}")
    return int(text)


def _item_codes(row: dict[str, Any]) -> list[str]:
    raw = row.get("item_codes")
    items = [str(v).strip() for v in raw] if isinstance(raw, list) else _SPLIT.split(str(raw or "").strip())
    codes = list(dict.fromkeys(c for c in items if c))
    if not codes:
        raise RowInvalid("item_codes", "REQUIRED", "請列出至少一個參採項目", "List at least one item code")
    if unknown := [c for c in codes if c not in ITEM_CODES]:
        raise RowInvalid("item_codes", "UNKNOWN_ITEM_CODE", f"不認得的參採項目：{', '.join(unknown[:5])}",
                   f"Unknown item codes: {', '.join(unknown[:5])}")  # fmt: skip
    return codes


def _weights(row: dict[str, Any], codes: list[str]) -> dict[str, float]:
    raw = row.get("weights")
    bad = RowInvalid("weights", "INVALID_WEIGHTS", "權重格式須為「代碼:數字」，數字 0 到 100，代碼須在參採項目中",
               "Weights are code:number pairs, numbers 0 to 100, codes among the item codes")  # fmt: skip
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        try:
            pairs = [tuple(part.split(":", 1)) for part in re.split(r"[;|\s]+", str(raw).strip()) if part]
        except ValueError:
            raise bad from None
    out: dict[str, float] = {}
    for pair in pairs:
        if len(pair) != 2 or str(pair[0]).strip() not in codes or isinstance(pair[1], bool):
            raise bad
        try:
            weight = float(str(pair[1]).strip())
        except ValueError:
            raise bad from None
        if not 0 <= weight <= 100:
            raise bad
        out[str(pair[0]).strip()] = weight
    return out


def clean_row(row: dict[str, Any], academic_year: int) -> dict[str, Any]:
    """One department, validated and normalised, or ``RowInvalid`` naming the column."""
    code = _text(row, "department_code", 20)
    if not _CODE.match(code):
        raise RowInvalid("department_code", "INVALID_CODE", "校系代碼只能有英數字與連字號", "Department codes are letters, digits and hyphens")
    year = row.get("academic_year")
    if year not in (None, "") and str(year).strip() != str(academic_year):
        raise RowInvalid("academic_year", "WRONG_YEAR", f"學年度須為 {academic_year}", f"The academic year must be {academic_year}")
    track = _text(row, "track", 12, required=False) or "university"
    if track not in TRACKS:
        raise RowInvalid("track", "UNKNOWN_VALUE", "須為 university 或 technical", "Must be university or technical")
    codes = _item_codes(row)
    return {
        "code": code, "university": _text(row, "university", 100), "name": _text(row, "department_name", 100),
        "track": track, "item_codes": codes, "weights": _weights(row, codes),
        "outcome_cap": _int(row, "outcome_cap", 3, 0, 10), "performance_cap": _int(row, "performance_cap", 10, 0, 30),
        "notes": _text(row, "notes", 500, required=False),
    }  # fmt: skip


def parse_file(data: bytes | str, format: str) -> tuple[list[dict[str, Any]], int, str]:
    """Rows of a CSV (bytes, UTF-8 or Big5) or JSON (a list, or {"departments": [...]}), the line
    number of the first row (CSV: 2, after the header; JSON: element 1) and the encoding."""
    if format == "csv":
        rows, encoding = read_csv(data if isinstance(data, bytes) else data.encode(), *COLUMNS)
        return rows, 2, encoding
    if format != "json":
        raise InvalidInput("format", "格式須為 csv 或 json", "The format is csv or json")
    try:
        loaded = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("json", "JSON 格式錯誤", "The JSON is malformed") from None
    if isinstance(loaded, dict):
        loaded = loaded.get("departments")
    if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
        raise InvalidInput("json", "JSON 須為校系物件的陣列", "The JSON must be a list of department objects")
    if len(loaded) > MAX_ROWS:
        raise InvalidInput("json", f"一次最多匯入 {MAX_ROWS} 筆", f"At most {MAX_ROWS} departments per import", limit=MAX_ROWS)
    return loaded, 1, "utf-8"


# --- import ------------------------------------------------------------------------------------

_COMPARED = ("university", "name", "track", "item_codes", "weights", "outcome_cap", "performance_cap", "notes")


async def import_departments(
    actor: Actor, bureau_id: int, academic_year: int, data: bytes | str, format: str, *,
    dry_run: bool = False, allow_removals: bool = False,
) -> DepartmentImportReport:  # fmt: skip
    """Bureau admins replace one academic year's list. Any bad row writes nothing; the same file
    twice changes nothing (rows are matched by department code); departments no longer listed
    are removed, with the students' targets on them: the report (dry run too) counts those
    targets, and removing any needs ``allow_removals``."""
    await _enabled_bureau(actor, bureau_id, write=True)
    if not 100 <= academic_year <= 200:
        raise InvalidInput("academic_year", "學年度須為民國年（例如 115）", "The academic year is a ROC year (e.g. 115)")
    rows, first_line, encoding = parse_file(data, format)
    report = DepartmentImportReport(academic_year=academic_year, dry_run=dry_run, rows=len(rows), encoding=encoding)
    if not rows:
        raise InvalidInput("file", "檔案沒有任何校系", "The file lists no department")
    cleaned: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        try:
            values = clean_row(row, academic_year)
            if values["code"] in cleaned:
                raise RowInvalid("department_code", "DUPLICATE", "校系代碼重複", "This department code appears twice")
            cleaned[values["code"]] = values
        except RowInvalid as bad:
            report.errors.append(RowError(index + first_line, *bad.error))
    if report.errors:
        return report
    async with in_transaction():
        existing = {d.code: d for d in await ApplicationDepartment.filter(bureau_id=bureau_id, academic_year=academic_year)}
        gone = [d.id for code, d in existing.items() if code not in cleaned]
        report.removed = len(gone)
        report.targets_removed = await TargetDepartment.filter(department_id__in=gone).count() if gone else 0
        for code, values in cleaned.items():
            current = existing.get(code)
            if current is None:
                report.created += 1
            elif all(getattr(current, k) == values[k] for k in _COMPARED):
                report.unchanged += 1
            else:
                report.updated += 1
        if dry_run:
            return report
        if report.targets_removed and not allow_removals:
            raise LichengError(
                "DEPARTMENT_REMOVAL_UNCONFIRMED",
                f"此名單將刪除 {report.removed} 個校系及 {report.targets_removed} 筆學生的目標校系，請確認後再匯入（allowRemovals）",
                f"This list removes {report.removed} departments and {report.targets_removed} students' target choices: "
                "confirm with allowRemovals",
                removed=report.removed, targets_removed=report.targets_removed,
            )  # fmt: skip
        for code, values in cleaned.items():
            current = existing.get(code)
            if current is None:
                await ApplicationDepartment.create(bureau_id=bureau_id, academic_year=academic_year, **values)
            elif any(getattr(current, k) != values[k] for k in _COMPARED):
                current.update_from_dict({k: values[k] for k in _COMPARED})
                await current.save()
        if gone:
            await ApplicationDepartment.filter(id__in=gone).delete()  # CASCADE: the targets on them too
        counts = {"rows": report.rows, "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                  "removed": report.removed, "targets_removed": report.targets_removed, "format": format}  # fmt: skip
        await audit.record(actor, "import_application_departments", "application_department_list",
                           f"{bureau_id}:{academic_year}", bureau_id=bureau_id, changes=counts)  # fmt: skip
    return report


# --- reading the list --------------------------------------------------------------------------


async def departments_query(
    actor: Actor, *, bureau_id: int | None = None, search: str | None = None, academic_year: int | None = None
) -> QuerySet[ApplicationDepartment]:
    """The list a school's members read (their bureau's), or a bureau admin reads (``bureau_id``)."""
    if actor.school_id is not None:
        _, own = await school_bureau(actor)
        if bureau_id is not None and bureau_id != own:
            raise NotFound("bureau", "教育局")
        bureau_id = own
    elif bureau_id is None:
        raise InvalidInput("bureau_id", "請指定教育局", "Choose a bureau")
    else:
        await _enabled_bureau(actor, bureau_id)
    query = ApplicationDepartment.filter(bureau_id=bureau_id)
    if academic_year is not None:
        query = query.filter(academic_year=academic_year)
    if search := (search or "").strip()[:50]:
        query = query.filter(Q(code__icontains=search) | Q(university__icontains=search) | Q(name__icontains=search))
    return query


# --- targets -----------------------------------------------------------------------------------


async def set_targets(actor: Actor, department_ids: list[int]) -> list[ApplicationDepartment]:
    """The student's target departments, in his order, replacing the earlier choice."""
    school_id, student_id = require_student(actor)
    _, bureau_id = await school_bureau(actor)
    ids = list(dict.fromkeys(department_ids))
    if len(ids) > MAX_TARGETS:
        raise LichengError("TOO_MANY_TARGETS", f"目標校系最多 {MAX_TARGETS} 個", f"At most {MAX_TARGETS} target departments",
                           cap=MAX_TARGETS)  # fmt: skip
    found = {d.id: d for d in await ApplicationDepartment.filter(id__in=ids, bureau_id=bureau_id)}
    if len(found) != len(ids):
        raise NotFound("department", "校系")
    async with in_transaction():
        await TargetDepartment.filter(school_id=school_id, student_id=student_id).delete()
        for rank, department_id in enumerate(ids, start=1):
            await TargetDepartment.create(school_id=school_id, student_id=student_id, department_id=department_id, rank=rank)
        await audit.record(actor, "set_target_departments", "person", student_id, student_id=student_id,
                           changes={"departments": [found[i].code for i in ids]})  # fmt: skip
    return [found[i] for i in ids]


async def targets_of(school_id: int, student_id: int) -> list[ApplicationDepartment]:
    rows = await TargetDepartment.filter(school_id=school_id, student_id=student_id).select_related("department").order_by("rank")
    return [row.department for row in rows]
