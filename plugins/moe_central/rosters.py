"""Rosters (名冊) from a frozen batch: rows generated lazily, CSV bytes streamed.

A roster is never held whole in memory: ``roster_rows`` walks the snapshot's
items and yields one row at a time, ``csv_chunks`` turns rows into UTF-8 CSV
bytes a few hundred rows at a time. The same row checks (``check_row``) run
when the school builds a package and when the central side opens one, so a
school learns of a refusal before it sends anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from licheng.portfolio.submission_port import BatchSnapshot, SnapshotItem
from moe_central.format import (
    BY_NAME,
    COURSE_CODE,
    FORMAT_VERSION,
    SCHOOL_CODE,
    SHA256_HEX,
    PackageRejected,
    RosterSpec,
    columns,
    rejected,
    required_columns,
    roster_filename,
    row_checksum,
    year_term,
)

_NATIONAL_ID = re.compile(r"^[A-Z][A-D1289]\d{8}$")  # shape only: the core validated the check digit on entry
_ITEM_REF = re.compile(r"^[0-9A-Za-z]{1,64}$")
_ROWS_PER_CHUNK = 256


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _values(spec: RosterSpec, item: SnapshotItem) -> dict[str, Any]:
    """The roster's own columns of one item, from the frozen content."""
    content = item.content
    files = " ".join(item.file_checksums)
    if spec.item_type == "outcome":
        term = content.get("term")
        year = content.get("academic_year")
        return {**content, "actual_term": year_term(year, term) if year is not None and term is not None else "",
                "file_sha256": files}  # fmt: skip
    if spec.item_type == "performance":
        details = content.get("details") or {}
        return {**content, **{name: details.get(name) for name in spec.detail_fields}, "file_sha256": files}
    return dict(content)


def _belongs(spec: RosterSpec, item: SnapshotItem) -> bool:
    if item.item_type != spec.item_type:
        return False
    return spec.kind is None or item.content.get("kind") == spec.kind


def roster_rows(
    spec: RosterSpec, snapshot: BatchSnapshot, national_ids: Mapping[int, str], version: str = FORMAT_VERSION
) -> Iterator[list[str]]:
    """The rows of one roster, lazily, in the snapshot's order (the header is ``columns(spec, version)``)."""
    header = columns(spec, version)
    for item in snapshot.items:
        if not _belongs(spec, item):
            continue
        national_id = national_ids.get(item.student_id)
        if not national_id:
            raise PackageRejected(
                "NATIONAL_ID_MISSING", "學生缺少身分證字號，無法送出名冊", "A student has no national ID: the roster cannot be sent",
                roster=spec.name, student_number=item.student_number or "", student_id=item.student_id,
            )  # fmt: skip
        yield _row(spec, snapshot, item, national_id, header)


def _row(spec: RosterSpec, snapshot: BatchSnapshot, item: SnapshotItem, national_id: str, header: tuple[str, ...]) -> list[str]:
    """One item's row; from version 2 with its reference and, last, the checksum of the row."""
    values = {**_values(spec, item), "item_ref": snapshot.reference(item)}
    term = 0 if spec.yearly else snapshot.term
    row = [str(snapshot.academic_year), str(term), snapshot.school_code, national_id, item.student_number or "",
           *(_text(values.get(name)) for name in header[5:])]  # fmt: skip
    if "row_sha256" in header:
        row[header.index("row_sha256")] = row_checksum(header, dict(zip(header, row)))
    return row


def expected_rows(spec: RosterSpec, snapshot: BatchSnapshot, version: str) -> Iterator[tuple[SnapshotItem, dict[str, str]]]:
    """Each item of a roster with its row as sent, by column name (no national ID: the receipt
    comparison needs the reference and the checksum, which never include it)."""
    header = columns(spec, version)
    for item in snapshot.items:
        if _belongs(spec, item):
            yield item, dict(zip(header, _row(spec, snapshot, item, "", header)))


def csv_chunks(header: Iterable[str], rows: Iterable[list[str]]) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180, CRLF, no BOM), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(header))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _bad(spec: RosterSpec, line: int, row: Mapping[str, str], zh: str, en: str, column: str) -> PackageRejected:
    return PackageRejected(
        "PACKAGE_SCHEMA_INVALID", f"名冊 {spec.name} 第 {line} 列：{zh}", f"Roster {spec.name}, row {line}: {en}",
        roster=spec.name, row=line, column=column, student_number=row.get("student_number", ""),
    )  # fmt: skip


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_row(spec: RosterSpec, row: Mapping[str, str], *, line: int, year: int, term: int, school_code: str,
              version: str = FORMAT_VERSION) -> None:  # fmt: skip
    """Refuse a row the central side cannot take: missing fields, a wrong year, term, school or code shape."""
    for name in required_columns(spec, version):
        if not row.get(name):
            raise _bad(spec, line, row, f"缺少必填欄位 {name}", f"the required column {name} is empty", name)
    expected_term = 0 if spec.yearly else term
    if row["year"] != str(year) or row["term"] != str(expected_term):
        raise _bad(spec, line, row, "學年度或學期與批次不符", "the year or term differs from the batch's", "year")
    if row["school_code"] != school_code or not SCHOOL_CODE.match(school_code):
        raise _bad(spec, line, row, "學校代碼不符", "the school code differs from the package's", "school_code")
    if not _NATIONAL_ID.match(row["national_id"]):
        raise _bad(spec, line, row, "身分證字號格式錯誤", "the national ID is malformed", "national_id")
    code = row.get("course_code")
    if code is not None and not COURSE_CODE.match(code):
        raise _bad(spec, line, row, "課程代碼須為 23 碼", "the course code must have 23 characters", "course_code")
    files = row.get("file_sha256")
    if files and not all(SHA256_HEX.match(sha) for sha in files.split(" ")):
        raise _bad(spec, line, row, "檔案檢查碼格式錯誤", "a file checksum is malformed", "file_sha256")
    ref = row.get("item_ref")
    if ref and not _ITEM_REF.match(ref):
        raise _bad(spec, line, row, "項目參照碼格式錯誤", "the item reference is malformed", "item_ref")
    checksum = row.get("row_sha256")
    if checksum and not SHA256_HEX.match(checksum):
        raise _bad(spec, line, row, "列檢查碼格式錯誤", "the row checksum is malformed", "row_sha256")
    for name in ("starts_on", "ends_on", "announced_on", "obtained_on", "completed_on"):
        value = row.get(name)
        if value and not _is_date(value):
            raise _bad(spec, line, row, f"日期格式錯誤（{name}）", f"{name} is not a date", name)


# --- Reading rosters back from a package's archive (the central side) ---


def member_rows(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, str]]:
    with zf.open(name) as member, io.TextIOWrapper(member, encoding="utf-8", newline="") as text:
        yield from csv.DictReader(text)


def stream_sha256(zf: zipfile.ZipFile, name: str, limit: int | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with zf.open(name) as member:
        while block := member.read(1 << 16):
            digest.update(block)
            size += len(block)
            if limit is not None and size > limit:
                break
    return digest.hexdigest(), size


def check_roster(zf: zipfile.ZipFile, entry: dict[str, Any], manifest: dict[str, Any]) -> None:
    spec = BY_NAME[entry["name"]]
    timestamp = str(entry.get("filename", "")).rsplit("_", 1)[-1].removesuffix(".csv")
    filename = roster_filename(manifest["school_code"], manifest["academic_year"], manifest["term"], spec.name, timestamp)
    if entry.get("filename") != filename or not timestamp.isdigit() or filename not in zf.NameToInfo:
        raise rejected("PACKAGE_SCHEMA_INVALID", roster=spec.name, field="filename")
    if stream_sha256(zf, filename)[0] != entry.get("sha256"):
        raise rejected("PACKAGE_CHECKSUM_MISMATCH", roster=spec.name)
    header = columns(spec, manifest["format"])
    count = 0
    with zf.open(filename) as member:
        first = io.TextIOWrapper(member, encoding="utf-8", newline="").readline(64 * 1024).rstrip("\r\n")
    if first.split(",") != list(header):
        raise rejected("PACKAGE_SCHEMA_INVALID", roster=spec.name, field="header")
    try:
        for count, row in enumerate(member_rows(zf, filename), start=1):
            if None in row or any(value is None for value in row.values()):
                raise rejected("PACKAGE_SCHEMA_INVALID", roster=spec.name, row=count, field="columns")
            check_row(spec, row, line=count, year=manifest["academic_year"], term=manifest["term"],
                      school_code=manifest["school_code"], version=manifest["format"])  # fmt: skip
    except UnicodeDecodeError:
        raise rejected("PACKAGE_SCHEMA_INVALID", roster=spec.name, row=count + 1, field="encoding") from None
    if count != entry.get("rows"):
        raise rejected("PACKAGE_CHECKSUM_MISMATCH", roster=spec.name, rows=count, declared=entry.get("rows"))
