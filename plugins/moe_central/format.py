"""The exchange format's rosters (名冊): which rosters exist and their columns, per version.

No official exchange specification is public (DOMAIN.md, "Central database"),
so the format is ours and versioned: ``FORMAT_VERSION`` is written into every
manifest and package header. A later version may only *append* columns to a
roster or add rosters; it never renames, removes or reorders, so a reader of
version N reads version N+1 files by name. ``columns(roster, version)`` gives
the columns a version writes.

Version 2 appends two columns to every roster: ``item_ref`` (the item's
stable reference, ``licheng.portfolio.submission_port.item_reference``) and
``row_sha256`` (``row_checksum`` of the row), so the central side's receipt
lines can name each row and say what it holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from licheng.errors import LichengError
from licheng.portfolio.kinds import KIND_FIELDS, KIND_NAMES
from licheng.portfolio.models import PerformanceKind

FORMAT_VERSION = "licheng-central/1"  # the first version: the default of the functions below
LATEST_VERSION = "licheng-central/2"  # + item_ref, row_sha256: what the adapter writes unless configured otherwise
SUPPORTED_VERSIONS: tuple[str, ...] = (FORMAT_VERSION, LATEST_VERSION)

# Every row of every roster starts with these: year (ROC), term (0 = yearly roster),
# the Ministry's 6-character school code, the national ID, and the school's student number.
COMMON_COLUMNS: tuple[str, ...] = ("year", "term", "school_code", "national_id", "student_number")

SCHOOL_CODE = re.compile(r"^[0-9A-Za-z]{6}$")
COURSE_CODE = re.compile(r"^[0-9A-Za-z]{23}$")  # 課程代碼, 23 characters
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Column:
    name: str
    label_zh: str
    since: int = 1  # the first format version that writes it
    required: bool = False


@dataclass(frozen=True)
class RosterSpec:
    """One roster: its name in file names, what feeds it, and its own columns (after the common ones)."""

    name: str
    label_zh: str
    item_type: str  # enrolment | cadre | course_record | outcome | performance
    yearly: bool  # True: in the yearly (term 0) batch; False: in term batches
    columns: tuple[Column, ...]
    kind: str | None = None  # the performance kind of a per-kind roster
    detail_fields: tuple[str, ...] = field(default=())  # kind fields read from content["details"]


def _c(name: str, zh: str, required: bool = False, since: int = 1) -> Column:
    return Column(name, zh, since, required)


FILES = _c("file_sha256", "檔案SHA-256（以空白分隔）")
# Appended to every roster by version 2 (see the module's docstring).
ROW_COLUMNS = (_c("item_ref", "項目參照碼", True, since=2), _c("row_sha256", "列檢查碼", True, since=2))

_TERM_ROSTERS: tuple[RosterSpec, ...] = (
    RosterSpec("students", "學生資料名冊", "enrolment", False, (
        _c("grade", "年級", True), _c("class_code", "班級代碼", True), _c("seat", "座號"),
        _c("department", "科別學程"), _c("status", "學籍狀態", True),
    )),
    RosterSpec("cadres", "幹部經歷名冊（學校登錄）", "cadre", False, (
        _c("level", "幹部等級", True), _c("unit", "單位名稱", True), _c("position", "擔任職務", True),
        _c("starts_on", "開始日期", True), _c("ends_on", "結束日期"),
    )),
    RosterSpec("grades", "學期成績名冊", "course_record", False, (
        _c("course_code", "課程代碼", True), _c("subject_name", "科目名稱", True), _c("grade", "年級", True),
        _c("credits", "學分數", True), _c("score", "學期成績"), _c("passed", "是否及格"),
    )),
)  # fmt: skip

_OUTCOMES = RosterSpec("outcomes", "課程學習成果名冊", "outcome", True, (
    _c("actual_term", "實際修課學年期", True), _c("course_code", "課程代碼", True), _c("subject_name", "科目名稱", True),
    _c("grade", "年級", True), _c("credits", "學分數", True), _c("brief", "簡述", True),
    _c("certified_at", "認證時間"), _c("version", "版本"), FILES,
))  # fmt: skip


def _performance_roster(kind: PerformanceKind) -> RosterSpec:
    specs = KIND_FIELDS[kind]
    columns = (
        _c("title", "名稱", True), _c("brief", "簡述", True),
        *(Column(s.name, s.label_zh, 1, s.required) for s in specs),
        _c("external_url", "外部連結"), _c("late_addition", "補件"), _c("version", "版本"), FILES,
    )  # fmt: skip
    return RosterSpec("perf-" + kind.value.replace("_", "-"), KIND_NAMES[kind][0] + "名冊", "performance", True,
                      columns, kind=kind.value, detail_fields=tuple(s.name for s in specs))  # fmt: skip


def _with_row_columns(spec: RosterSpec) -> RosterSpec:
    return RosterSpec(spec.name, spec.label_zh, spec.item_type, spec.yearly, (*spec.columns, *ROW_COLUMNS), spec.kind,
                      spec.detail_fields)  # fmt: skip


ROSTERS: tuple[RosterSpec, ...] = tuple(
    _with_row_columns(spec) for spec in (*_TERM_ROSTERS, _OUTCOMES, *(_performance_roster(k) for k in PerformanceKind))
)
BY_NAME: dict[str, RosterSpec] = {spec.name: spec for spec in ROSTERS}


def version_number(version: str) -> int:
    """``licheng-central/3`` -> 3; refuses what is not a version of this format."""
    prefix, _, number = version.partition("/")
    if prefix != "licheng-central" or not number.isdigit():
        raise ValueError(version)
    return int(number)


def rosters_for(term: int) -> tuple[RosterSpec, ...]:
    """The rosters of a batch: the yearly ones for term 0, the term ones otherwise."""
    return tuple(spec for spec in ROSTERS if spec.yearly == (term == 0))


def columns(spec: RosterSpec, version: str = FORMAT_VERSION) -> tuple[str, ...]:
    """The header a version writes for a roster: the common columns, then the roster's own."""
    number = version_number(version)
    return COMMON_COLUMNS + tuple(c.name for c in spec.columns if c.since <= number)


def required_columns(spec: RosterSpec, version: str = FORMAT_VERSION) -> tuple[str, ...]:
    number = version_number(version)
    return ("year", "term", "school_code", "national_id") + tuple(
        c.name for c in spec.columns if c.required and c.since <= number
    )


# Left out of a row's checksum: the national ID (a hash of it could be searched back from the
# other columns, and the reference already ties the row to its item) and the checksum itself.
_NOT_CHECKSUMMED = frozenset({"national_id", "row_sha256"})


def row_checksum(header: Sequence[str], row: Mapping[str, str]) -> str:
    """SHA-256 (hex) of a row's values by column name, as written: the school computes it while
    building, the central side over the row it stored, so any change to a stored row shows."""
    pairs = [[name, row.get(name, "")] for name in header if name not in _NOT_CHECKSUMMED]
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def roster_filename(school_code: str, year: int, term: int, roster: str, timestamp: str) -> str:
    """``{school}_{year}_{term}_{roster}_{timestamp}.csv``, e.g. ``123456_115_0_outcomes_20261015093000.csv``."""
    return f"{school_code}_{year}_{term}_{roster}_{timestamp}.csv"


def year_term(year: int, term: int) -> str:
    """The central database's year+term notation: 115, term 1 -> ``1151``."""
    return f"{year}{term}"


class PackageRejected(LichengError):
    """A package (or the data going into one) the central side would refuse, with the reason.

    ``details`` name the roster, the row and the student number, never a national ID.
    """

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(code, message_zh, message_en, **details)


def rejected(code: str, **details: Any) -> PackageRejected:
    """A refusal of the opener, with its zh-TW and English reason."""
    reasons = {
        "PACKAGE_MALFORMED": ("封包格式錯誤", "The package is not in the exchange format"),
        "PACKAGE_TRUNCATED": ("封包不完整（遭截斷）", "The package is truncated"),
        "PACKAGE_SIGNATURE_INVALID": ("封包簽章驗證失敗", "The package's signature does not verify with the school's key"),
        "PACKAGE_KEY_INVALID": ("無法以中央資料庫金鑰解開封包金鑰", "The package key was not wrapped for this central key"),
        "PACKAGE_DECRYPTION_FAILED": ("封包內容驗證失敗（遭竄改或順序錯亂）", "A chunk of the package fails authentication (altered or reordered)"),
        "PACKAGE_FORMAT_UNSUPPORTED": ("不支援的交換格式版本", "The exchange-format version is not supported"),
        "PACKAGE_CHECKSUM_MISMATCH": ("檢查碼或筆數與清單不符", "A checksum or row count differs from the manifest"),
        "PACKAGE_SCHEMA_INVALID": ("封包清單或名冊格式錯誤", "The manifest or a roster breaks the format"),
    }  # fmt: skip
    zh, en = reasons[code]
    return PackageRejected(code, zh, en, **details)
