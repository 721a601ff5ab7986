"""The kinds of diverse performance (多元表現) and the roster fields each one needs.

The central database takes performances as one sheet per kind with
kind-specific columns (competition name/level/award/date; certificate
code/score/date/number; cadre unit/dates/position/level; ...). A student's
entry keeps those columns in ``details``; this table says which exist, which
are required and what they may hold, so clients can build the form from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from licheng.errors import InvalidInput
from licheng.portfolio.models import PerformanceKind as K


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label_zh: str
    label_en: str
    type: str  # text | date | int | decimal | choice
    required: bool = False
    max_len: int = 100
    choices: tuple[str, ...] = ()


def _f(name: str, zh: str, en: str, type: str = "text", required: bool = False, **extra: Any) -> FieldSpec:
    return FieldSpec(name, zh, en, type, required, **extra)


START = _f("starts_on", "開始日期", "start date", "date", True)
END = _f("ends_on", "結束日期", "end date", "date")
HOURS = _f("hours", "時數", "hours", "decimal")
UNIT = _f("unit", "單位名稱", "organisation", required=True)
LEVELS = ("school", "county", "regional", "national", "international", "other")  # 校內、縣市、區域、全國、國際、其他

KIND_NAMES: dict[K, tuple[str, str]] = {
    K.SELF_DIRECTED: ("自主學習", "self-directed learning"),
    K.CLUB: ("社團活動", "club activity"),
    K.CADRE: ("幹部經歷", "cadre post"),
    K.COMPETITION: ("競賽參與", "competition"),
    K.CERTIFICATE: ("檢定證照", "certificate"),
    K.VOLUNTEER: ("志工服務", "volunteer service"),
    K.WORK: ("作品成果", "work"),
    K.WORKPLACE: ("職場學習", "workplace learning"),
    K.ADVANCED_PLACEMENT: ("大學及技專校院先修課程", "advanced placement course"),
    K.FLEXIBLE_LEARNING: ("彈性學習時間", "flexible learning time"),
    K.GROUP_ACTIVITY: ("團體活動時間", "group activity time"),
    K.OTHER: ("其他多元表現", "other performance"),
}

KIND_FIELDS: dict[K, tuple[FieldSpec, ...]] = {
    K.SELF_DIRECTED: (START, END, HOURS),
    K.CLUB: (_f("club_name", "社團名稱", "club", required=True), _f("position", "擔任職務", "position"), START, END, HOURS),
    K.CADRE: (
        UNIT, START, END, _f("position", "擔任職務", "position", required=True),
        _f("level", "幹部等級", "level", "choice", True, choices=("school", "class", "club", "other")),
    ),
    K.COMPETITION: (
        _f("competition_name", "競賽名稱", "competition", required=True),
        _f("level", "競賽等級", "level", "choice", True, choices=LEVELS),
        _f("award", "獎項", "award", required=True, max_len=50),
        _f("announced_on", "結果公布日期", "result date", "date", True),
        _f("participation", "參與類型", "participation", "choice", choices=("individual", "team")),
    ),
    K.CERTIFICATE: (
        _f("certificate_code", "證照代碼", "certificate code", required=True, max_len=20),
        _f("certificate_name", "證照名稱", "certificate name"),
        _f("score", "分數", "score", "decimal"),
        _f("sub_results", "分項結果", "sub-results", max_len=200),
        _f("obtained_on", "取得證照日期", "date obtained", "date", True),
        _f("certificate_number", "證照字號", "certificate number", max_len=50),
        _f("group", "檢定組別", "group", max_len=50),
    ),
    K.VOLUNTEER: (_f("service_name", "服務名稱", "service", required=True), UNIT, START, END, _f("hours", "服務時數", "hours", "decimal", True)),
    K.WORK: (_f("completed_on", "完成日期", "completion date", "date", True),),
    K.WORKPLACE: (
        UNIT, START, END, HOURS,
        _f("kind", "職場學習類型", "type", "choice", True, choices=("visit", "internship", "other")),
    ),
    K.ADVANCED_PLACEMENT: (
        _f("course_name", "課程名稱", "course", required=True), _f("institution", "開設學校", "institution", required=True),
        _f("credits", "學分數", "credits", "decimal", True), START, END, _f("score", "成績", "score", "decimal"),
    ),
    K.FLEXIBLE_LEARNING: (
        _f("category", "學習類別", "category", "choice", True,
           choices=("self_directed", "elective", "remedial", "school_specific", "athletic_training")),
        START, END, HOURS,
    ),
    K.GROUP_ACTIVITY: (
        _f("category", "活動類別", "category", "choice", True,
           choices=("class", "club", "school_event", "week_event", "other")),
        START, END, HOURS,
    ),
    K.OTHER: (START, END),
}  # fmt: skip


def _value(spec: FieldSpec, raw: Any) -> Any:
    bad = InvalidInput(f"details.{spec.name}", f"「{spec.label_zh}」格式不正確", f"Invalid {spec.label_en}")
    if spec.type == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise bad from None
    if spec.type == "int":
        if isinstance(raw, bool) or not str(raw).isdigit():
            raise bad
        return int(raw)
    if spec.type == "decimal":
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise bad from None
        if number < 0 or number > 100000:
            raise bad
        return str(number)
    if spec.type == "choice":
        if raw not in spec.choices:
            raise InvalidInput(f"details.{spec.name}", f"「{spec.label_zh}」須為：{'、'.join(spec.choices)}",
                               f"{spec.label_en} must be one of {', '.join(spec.choices)}", choices=list(spec.choices))  # fmt: skip
        return raw
    text = str(raw).strip()
    if len(text) > spec.max_len:
        raise InvalidInput(f"details.{spec.name}", f"「{spec.label_zh}」不可超過 {spec.max_len} 字",
                           f"{spec.label_en} is at most {spec.max_len} characters")  # fmt: skip
    return text


def clean_details(kind: K, details: dict[str, Any] | None) -> dict[str, Any]:
    """The kind's fields, validated and normalised; unknown fields are refused, not dropped."""
    specs = {spec.name: spec for spec in KIND_FIELDS[kind]}
    details = details or {}
    if unknown := sorted(set(details) - set(specs)):
        raise InvalidInput(f"details.{unknown[0]}", f"「{KIND_NAMES[kind][0]}」沒有此欄位", "Unknown field for this kind",
                           allowed=sorted(specs))  # fmt: skip
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        raw = details.get(name)
        if raw is None or raw == "":
            if spec.required:
                raise InvalidInput(f"details.{name}", f"「{spec.label_zh}」必填", f"{spec.label_en} is required")
            continue
        out[name] = _value(spec, raw)
    if "starts_on" in out and "ends_on" in out and out["ends_on"] < out["starts_on"]:
        raise InvalidInput("details.ends_on", "結束日期須在開始日期之後", "The end date must follow the start date")
    return out
