"""Importing classes, students, teachers and parents from CSV exports of school systems.

Taiwanese school systems often export Big5 (CP950), so the encoding is
detected: UTF-8 (with or without BOM) first, then CP950. A dry run validates
every row and writes nothing. Re-importing the same file updates rows by
their natural key (class code, student number, staff number, parent login)
and never duplicates. The whole import is one transaction: a crash or a bad
file leaves the school as it was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tortoise.transactions import in_transaction

from licheng.auth import passwords
from licheng.auth.models import Account
from licheng.errors import InvalidInput, LichengError
from licheng.settings import Settings
from licheng.tenants import audit, nationalid
from licheng.tenants.actor import Actor
from licheng.tenants.models import Guardianship, Membership, Person, Role, SchoolClass
from licheng.tenants.service import LOGIN

MAX_ROWS = 20_000


class ImportKind(str, Enum):
    CLASSES = "classes"
    STUDENTS = "students"
    TEACHERS = "teachers"
    PARENTS = "parents"


COLUMNS: dict[ImportKind, tuple[list[str], list[str]]] = {
    # kind: (required, optional)
    ImportKind.CLASSES: (["code", "name", "grade"], ["homeroom_staff_number"]),
    ImportKind.STUDENTS: (["student_number", "name", "class_code"], ["seat", "entry_year", "national_id", "login", "email"]),
    ImportKind.TEACHERS: (["staff_number", "name", "login"], ["email", "national_id", "roles"]),
    ImportKind.PARENTS: (["login", "name", "student_numbers"], ["email", "national_id"]),
}
TEACHER_ROLES = {"teacher": Role.TEACHER, "counselor": Role.COUNSELOR, "staff": Role.STAFF}


@dataclass
class RowError:
    row: int  # 1-based line number in the file, header = 1
    column: str
    code: str
    message_zh: str
    message_en: str


@dataclass
class Credential:
    login: str
    initial_password: str


@dataclass
class ImportReport:
    kind: ImportKind
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


class RowInvalid(Exception):
    """One row's problem (column, code, zh, en): importers raise it while checking a row and
    collect it as a ``RowError`` with the row's line."""

    def __init__(self, column: str, code: str, zh: str, en: str) -> None:
        self.error = (column, code, zh, en)


def decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp950"):
        try:
            return data.decode(encoding), "big5" if encoding == "cp950" else "utf-8"
        except UnicodeDecodeError:
            continue
    raise LichengError(
        "IMPORT_ENCODING", "檔案編碼無法辨識，請存成 UTF-8 或 Big5", "Unknown file encoding: save it as UTF-8 or Big5"
    )


def parse(kind: ImportKind, data: bytes) -> tuple[list[dict[str, str]], str]:
    required, optional = COLUMNS[kind]
    return read_csv(data, required, optional)


def read_csv(data: bytes, required: list[str], optional: list[str]) -> tuple[list[dict[str, str]], str]:
    """Rows of a CSV export (UTF-8 or Big5) with trimmed cells; names missing columns; bounded."""
    text, encoding = decode(data)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            "file", f"缺少欄位：{', '.join(missing)}", f"Missing columns: {', '.join(missing)}",
            missing=missing, expected=required + optional,
        )  # fmt: skip
    rows = [{(k or "").strip(): (v or "").strip() for k, v in raw.items()} for raw in reader]
    if len(rows) > MAX_ROWS:
        raise InvalidInput("file", f"一次最多匯入 {MAX_ROWS} 列", f"At most {MAX_ROWS} rows per import", limit=MAX_ROWS)
    return rows, encoding


def int_cell(row: dict[str, str], column: str, low: int, high: int, *, required: bool = False) -> int | None:
    value = row.get(column, "")
    if not value:
        if required:
            raise RowInvalid(column, "REQUIRED", "此欄必填", "This column is required")
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise RowInvalid(column, "OUT_OF_RANGE", f"須為 {low} 到 {high} 的整數", f"Must be a whole number from {low} to {high}")
    return int(value)


def required_cell(row: dict[str, str], column: str, max_len: int = 100) -> str:
    value = row.get(column, "")
    if not value:
        raise RowInvalid(column, "REQUIRED", "此欄必填", "This column is required")
    if len(value) > max_len:
        raise RowInvalid(column, "TOO_LONG", f"長度不可超過 {max_len}", f"At most {max_len} characters")
    return value


class _Importer:
    def __init__(self, settings: Settings, actor: Actor, school_id: int, report: ImportReport) -> None:
        self.settings, self.actor, self.school_id, self.report = settings, actor, school_id, report

    def _national_id(self, row: dict[str, str]) -> dict[str, Any]:
        raw = row.get("national_id", "")
        if not raw:
            return {}
        try:
            return nationalid.protect(raw, data_key=self.settings.data_key_bytes, lookup_key=self.settings.lookup_key_bytes)
        except InvalidInput:
            # The value itself is never echoed back.
            raise RowInvalid("national_id", "NATIONAL_ID_INVALID", "身分證字號格式或檢查碼錯誤", "Malformed national ID or wrong check digit") from None

    async def _account(self, login: str, name: str) -> Account:
        if not login:
            raise RowInvalid("login", "REQUIRED", "此欄必填", "This column is required")
        if not LOGIN.match(login):  # the same alphabet as invited staff: no ':' (single sign-on accounts use it)
            raise RowInvalid("login", "LOGIN_INVALID", "帳號須為 3 到 64 個英數字或 . _ @ -", "A login is 3-64 letters, digits or . _ @ -")
        account = await Account.get_or_none(login=login)
        if account is None:
            initial = passwords.initial_password()
            account = await Account.create(
                login=login, display_name=name, password_hash=passwords.hash_password(initial), must_change_password=True
            )
            self.report.credentials.append(Credential(login, initial))
        return account

    async def _upsert_person(self, lookup: dict[str, Any], values: dict[str, Any]) -> Person:
        person = await Person.get_or_none(school_id=self.school_id, **lookup)
        if person is None:
            person = await Person.create(school_id=self.school_id, **lookup, **values)
            self.report.created += 1
            return person
        changed = {k: v for k, v in values.items() if getattr(person, k) != v and k != "national_id_encrypted"}
        if "national_id_hash" in values and values["national_id_hash"] == person.national_id_hash:
            changed.pop("national_id_masked", None)
        elif "national_id_encrypted" in values:
            changed["national_id_encrypted"] = values["national_id_encrypted"]
        if changed:
            for key, value in changed.items():
                setattr(person, key, value)
            await person.save(update_fields=list(changed))
            self.report.updated += 1
        else:
            self.report.unchanged += 1
        return person

    async def _role(self, person: Person, role: Role, class_id: int | None = None) -> None:
        await Membership.get_or_create(school_id=self.school_id, person_id=person.id, role=role, school_class_id=class_id)

    async def classes(self, row: dict[str, str]) -> None:
        code = required_cell(row, "code", 16)
        values: dict[str, Any] = {"name": required_cell(row, "name", 50), "grade": int_cell(row, "grade", 1, 12, required=True)}
        existing = await SchoolClass.get_or_none(school_id=self.school_id, code=code)
        if existing is None:
            existing = await SchoolClass.create(school_id=self.school_id, code=code, **values)
            self.report.created += 1
        elif any(getattr(existing, k) != v for k, v in values.items()):
            await SchoolClass.filter(id=existing.id).update(**values)
            self.report.updated += 1
        else:
            self.report.unchanged += 1
        staff_number = row.get("homeroom_staff_number", "")
        if staff_number:
            teacher = await Person.get_or_none(school_id=self.school_id, staff_number=staff_number)
            if teacher is None:
                raise RowInvalid("homeroom_staff_number", "UNKNOWN_TEACHER", "找不到此教師編號，請先匯入教師", "No teacher with this staff number: import teachers first")
            await Membership.filter(school_id=self.school_id, role=Role.HOMEROOM, school_class_id=existing.id).exclude(person_id=teacher.id).delete()
            await self._role(teacher, Role.HOMEROOM, existing.id)

    async def students(self, row: dict[str, str]) -> None:
        number = required_cell(row, "student_number", 20)
        name = required_cell(row, "name")
        class_code = required_cell(row, "class_code", 16)
        school_class = await SchoolClass.get_or_none(school_id=self.school_id, code=class_code)
        if school_class is None:
            raise RowInvalid("class_code", "UNKNOWN_CLASS", "找不到此班級代碼，請先匯入班級", "No class with this code: import classes first")
        values: dict[str, Any] = {
            "name": name,
            "school_class_id": school_class.id,
            "seat": int_cell(row, "seat", 1, 99),
            "entry_year": int_cell(row, "entry_year", 100, 200),
            "email": row.get("email") or None,
            **self._national_id(row),
        }
        if row.get("login"):
            values["account_id"] = (await self._account(row["login"], name)).id
        person = await self._upsert_person({"student_number": number}, values)
        await self._role(person, Role.STUDENT)

    async def teachers(self, row: dict[str, str]) -> None:
        number = required_cell(row, "staff_number", 20)
        name = required_cell(row, "name")
        roles = [r.strip().lower() for r in (row.get("roles") or "teacher").replace(";", ",").split(",") if r.strip()]
        unknown = [r for r in roles if r not in TEACHER_ROLES]
        if unknown:
            raise RowInvalid("roles", "UNKNOWN_ROLE", "角色只能是 teacher、counselor、staff", "Roles are teacher, counselor or staff")
        account = await self._account(required_cell(row, "login", 64), name)
        values = {"name": name, "email": row.get("email") or None, "account_id": account.id, **self._national_id(row)}
        person = await self._upsert_person({"staff_number": number}, values)
        for role in roles:
            await self._role(person, TEACHER_ROLES[role])

    async def parents(self, row: dict[str, str]) -> None:
        name = required_cell(row, "name")
        login = required_cell(row, "login", 64)
        numbers = [n.strip() for n in row["student_numbers"].replace(",", ";").split(";") if n.strip()]
        if not numbers:
            raise RowInvalid("student_numbers", "REQUIRED", "此欄必填", "This column is required")
        children = await Person.filter(school_id=self.school_id, student_number__in=numbers)
        found = {c.student_number for c in children}
        if missing := [n for n in numbers if n not in found]:
            raise RowInvalid("student_numbers", "UNKNOWN_STUDENT", f"找不到學號：{', '.join(missing)}", f"Unknown student numbers: {', '.join(missing)}")
        account = await self._account(login, name)
        values = {"name": name, "email": row.get("email") or None, **self._national_id(row)}
        person = await self._upsert_person({"account_id": account.id}, values)
        await self._role(person, Role.PARENT)
        for child in children:
            await Guardianship.get_or_create(school_id=self.school_id, parent_id=person.id, student_id=child.id)


class _DryRunRollback(Exception):
    pass


async def import_people(
    settings: Settings,
    actor: Actor,
    kind: ImportKind,
    data: bytes,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], object] | None = None,
) -> ImportReport:
    """Import one CSV. Rows with errors are reported; if any row fails, nothing is written."""
    school_id = actor.require_role(Role.STAFF)
    rows, encoding = parse(kind, data)
    report = ImportReport(kind=kind, dry_run=dry_run, rows=len(rows), encoding=encoding)
    importer = _Importer(settings, actor, school_id, report)
    handle = getattr(importer, kind.value)
    try:
        async with in_transaction():
            for index, row in enumerate(rows):
                try:
                    async with in_transaction():  # a savepoint: one bad row does not poison the rest
                        await handle(row)
                except RowInvalid as invalid:
                    column, code, zh, en = invalid.error
                    report.errors.append(RowError(index + 2, column, code, zh, en))
                if progress:
                    progress(index + 1, len(rows))
            if dry_run or report.errors:
                raise _DryRunRollback
            await audit.record(
                actor, "import", kind.value, None,
                changes={"rows": report.rows, "created": report.created, "updated": report.updated},
            )  # fmt: skip
    except _DryRunRollback:
        pass
    if report.errors and not dry_run:
        report.credentials.clear()  # nothing was created
    if dry_run:
        report.credentials.clear()
    return report
