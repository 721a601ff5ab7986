"""Syncing a school's classes and people from its school system (校務行政系統同步).

The rows come from a plugin's importers (``licheng_importers``: classes, then
teachers, then students) with the columns of the CSV import, and go through the
same checks (``licheng.tenants.importer``). What a sync adds to an import:

- it is the whole roster: students and teachers the feed no longer lists are
  **deactivated** (``Person.active = False``), never deleted, so their portfolio
  stays; someone listed again is reactivated;
- a teacher's tutor class (導師班) becomes the class's HOMEROOM membership;
- it is idempotent: a second run with the same feed changes nothing and says so;
- it is one transaction: a bad row, a failing source or a crash halfway leaves
  the school as it was (and the next run simply starts again).

A sync never creates accounts: people sign in through the directory or the
single sign-on and are linked then (by student number or national-ID hash).
It grants only the roles the feed states (student, teacher, homeroom): staff
rights stay with the school's own administrators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from licheng.errors import LichengError
from licheng.settings import Settings
from licheng.tenants import audit, nationalid
from licheng.tenants.actor import Actor, system_actor
from licheng.tenants.importer import MAX_ROWS, RowError, RowInvalid, int_cell, required_cell
from licheng.tenants.models import Membership, Person, Role, School, SchoolClass

log = logging.getLogger("licheng.tenants.sync")
KINDS = ("classes", "teachers", "students")
LOCK_CLASS = 0x5C17  # the advisory-lock namespace of school syncs (PostgreSQL)
Rows = Mapping[str, Sequence[Mapping[str, str]]]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0


@dataclass
class SyncReport:
    """What a sync did, per kind; ``changed`` is False when the school already matched the feed."""

    dry_run: bool
    source: str = ""
    classes: Counts = field(default_factory=Counts)
    teachers: Counts = field(default_factory=Counts)
    students: Counts = field(default_factory=Counts)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deactivated for c in (self.classes, self.teachers, self.students))

    def totals(self) -> dict[str, dict[str, int]]:
        return {kind: vars(getattr(self, kind)).copy() for kind in KINDS}


class _Rollback(Exception):
    pass


class _Sync:
    """Applies one feed inside the caller's transaction."""

    def __init__(self, settings: Settings, actor: Actor, school_id: int, report: SyncReport) -> None:
        self.settings, self.actor, self.school_id, self.report = settings, actor, school_id, report
        self.classes: dict[str, SchoolClass] = {}

    def _hash(self, raw: str) -> str | None:
        try:
            return nationalid.lookup_hash(nationalid.normalise(raw), self.settings.lookup_key_bytes)
        except LichengError:
            return None  # reported by ``_national_id`` on the same row

    def _national_id(self, row: Mapping[str, str], person: Person | None) -> dict[str, Any]:
        raw = row.get("national_id", "")
        if not raw:
            return {}
        try:
            clean = nationalid.normalise(raw)
        except LichengError:
            raise RowInvalid("national_id", "NATIONAL_ID_INVALID", "身分證字號格式或檢查碼錯誤", "Malformed national ID or wrong check digit") from None
        if person is not None and person.national_id_hash == nationalid.lookup_hash(clean, self.settings.lookup_key_bytes):
            return {}  # the same number: nothing to rewrite (its ciphertext would differ every run)
        return nationalid.protect(clean, data_key=self.settings.data_key_bytes, lookup_key=self.settings.lookup_key_bytes)

    async def _upsert(self, counts: Counts, lookup: dict[str, Any], row: Mapping[str, str], values: dict[str, Any]) -> tuple[Person, bool]:
        """Create or update by the natural key; returns the person and whether the row counted as unchanged."""
        person = await Person.get_or_none(school_id=self.school_id, **lookup)
        if person is None and row.get("national_id"):
            # Renumbered in the school system: the same national ID is the same person.
            digest = self._hash(row["national_id"])
            person = await Person.get_or_none(school_id=self.school_id, national_id_hash=digest) if digest else None
            if person is not None:
                values = {**values, **lookup}
        values = {**values, "active": True, **self._national_id(row, person)}
        if person is None:
            person = await Person.create(school_id=self.school_id, **lookup, **values)
            counts.created += 1
            return person, False
        changed = {k: v for k, v in values.items() if getattr(person, k) != v}
        if not changed:
            counts.unchanged += 1
            return person, True
        for key, value in changed.items():
            setattr(person, key, value)
        await person.save(update_fields=list(changed))
        counts.updated += 1
        return person, False

    async def _role(self, person: Person, role: Role, class_id: int | None = None) -> None:
        await Membership.get_or_create(school_id=self.school_id, person_id=person.id, role=role, school_class_id=class_id)

    async def classes_row(self, row: Mapping[str, str]) -> None:
        code = required_cell(dict(row), "code", 16)
        values: dict[str, Any] = {"name": required_cell(dict(row), "name", 50), "grade": int_cell(dict(row), "grade", 1, 12, required=True)}
        existing = await SchoolClass.get_or_none(school_id=self.school_id, code=code)
        if existing is None:
            existing = await SchoolClass.create(school_id=self.school_id, code=code, **values)
            self.report.classes.created += 1
        elif any(getattr(existing, k) != v for k, v in values.items()):
            await SchoolClass.filter(id=existing.id).update(**values)
            self.report.classes.updated += 1
        else:
            self.report.classes.unchanged += 1
        self.classes[code] = existing

    async def _homeroom(self, person: Person, class_code: str) -> bool:
        """Make ``person`` the only homeroom teacher of the class; True if anything changed."""
        school_class = self.classes.get(class_code) or await SchoolClass.get_or_none(school_id=self.school_id, code=class_code)
        if school_class is None:
            raise RowInvalid("tutor_class", "UNKNOWN_CLASS", "找不到此導師班", "No class with this code")
        others = Membership.filter(school_id=self.school_id, role=Role.HOMEROOM, school_class_id=school_class.id).exclude(person_id=person.id)
        removed = await others.delete()
        _, created = await Membership.get_or_create(school_id=self.school_id, person_id=person.id, role=Role.HOMEROOM, school_class_id=school_class.id)
        return bool(removed or created)

    async def teachers_row(self, row: Mapping[str, str]) -> int:
        number = required_cell(dict(row), "staff_number", 20)
        values = {"name": required_cell(dict(row), "name"), "email": row.get("email") or None}
        person, unchanged = await self._upsert(self.report.teachers, {"staff_number": number}, row, values)
        await self._role(person, Role.TEACHER)
        tutor = row.get("tutor_class", "")
        stale = Membership.filter(school_id=self.school_id, person_id=person.id, role=Role.HOMEROOM)
        if tutor:
            stale = stale.exclude(school_class__code=tutor)
        homeroom_changed = bool(await stale.delete())
        if tutor:
            homeroom_changed = await self._homeroom(person, tutor) or homeroom_changed
        if homeroom_changed and unchanged:  # a new tutor class is a change of this teacher
            self.report.teachers.unchanged -= 1
            self.report.teachers.updated += 1
        return person.id

    async def students_row(self, row: Mapping[str, str]) -> int:
        number = required_cell(dict(row), "student_number", 20)
        class_code = required_cell(dict(row), "class_code", 16)
        school_class = self.classes.get(class_code) or await SchoolClass.get_or_none(school_id=self.school_id, code=class_code)
        if school_class is None:
            raise RowInvalid("class_code", "UNKNOWN_CLASS", "找不到此班級代碼", "No class with this code")
        values: dict[str, Any] = {
            "name": required_cell(dict(row), "name"), "school_class_id": school_class.id,
            "seat": int_cell(dict(row), "seat", 1, 99), "email": row.get("email") or None,
        }  # fmt: skip
        person, _ = await self._upsert(self.report.students, {"student_number": number}, row, values)
        await self._role(person, Role.STUDENT)
        return person.id

    async def deactivate(self, role: Role, counts: Counts, listed: set[int], number_field: str) -> None:
        """Active people of this role the feed no longer lists: deactivated, never deleted."""
        query = Person.filter(
            school_id=self.school_id, active=True, memberships__role=role, **{f"{number_field}__isnull": False}
        ).exclude(id__in=list(listed) or [0])  # fmt: skip
        # Never lock out the school's administrators (staff), nor the one running the sync.
        staff: list[int] = await Membership.filter(school_id=self.school_id, role=Role.STAFF).values_list("person_id", flat=True)  # type: ignore[assignment]
        keep = set(staff)
        if self.actor.person_id:
            keep.add(self.actor.person_id)
        if keep:
            query = query.exclude(id__in=list(keep))
        ids = list(set(await query.values_list("id", flat=True)))
        if ids:
            await Person.filter(id__in=ids, school_id=self.school_id).update(active=False)
            if role == Role.TEACHER:
                await Membership.filter(school_id=self.school_id, person_id__in=ids, role=Role.HOMEROOM).delete()
        counts.deactivated += len(ids)


async def apply_rows(
    settings: Settings, actor: Actor, rows: Rows, *, dry_run: bool = False, source: str = "",
    progress: Callable[[int, int], object] | None = None,
) -> SyncReport:  # fmt: skip
    """Apply a whole feed (classes, teachers, students) to the actor's school, all or nothing."""
    school_id = actor.require_role(Role.STAFF)
    report = SyncReport(dry_run=dry_run, source=source, rows=sum(len(rows.get(k, ())) for k in KINDS))
    if report.rows > MAX_ROWS:
        raise LichengError("SYNC_TOO_LARGE", f"一次最多同步 {MAX_ROWS} 筆", f"At most {MAX_ROWS} rows per sync", limit=MAX_ROWS)
    if not rows.get("students") and await Person.filter(school_id=school_id, active=True, memberships__role=Role.STUDENT, student_number__isnull=False).exists():
        # An empty roster is far likelier a broken source than a school without students.
        raise LichengError("SYNC_EMPTY_FEED", "校務系統沒有回傳任何學生，未做任何變更", "The school system returned no students: nothing was changed")
    sync = _Sync(settings, actor, school_id, report)
    done = 0
    try:
        async with in_transaction() as tx:
            if tx.capabilities.dialect == "postgres":  # one sync per school at a time; the next waits, then finds it done
                await tx.execute_query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_CLASS, school_id])
            listed: dict[str, set[int]] = {"teachers": set(), "students": set()}
            for kind in KINDS:
                handle = getattr(sync, f"{kind}_row")
                for index, row in enumerate(rows.get(kind, ())):
                    try:
                        async with in_transaction():  # a savepoint: one bad row does not poison the rest
                            person_id = await handle(row)
                        if kind in listed:
                            listed[kind].add(person_id)
                    except RowInvalid as invalid:
                        column, code, zh, en = invalid.error
                        report.errors.append(RowError(index + 1, f"{kind}.{column}", code, zh, en))
                    except IntegrityError:
                        report.errors.append(RowError(index + 1, f"{kind}.national_id", "DUPLICATE_PERSON",
                                                      "與本校另一人的身分證字號或編號重複", "Same national ID or number as another person of this school"))  # fmt: skip
                    done += 1
                    if progress:
                        progress(done, report.rows)
            if report.errors:
                raise _Rollback
            await sync.deactivate(Role.TEACHER, report.teachers, listed["teachers"], "staff_number")
            await sync.deactivate(Role.STUDENT, report.students, listed["students"], "student_number")
            if dry_run:
                raise _Rollback
            await audit.record(actor, "sync", "people", None, changes={"source": source, **report.totals()})
    except _Rollback:
        pass
    return report


async def sync_school_people(
    settings: Settings, actor: Actor, *, dry_run: bool = False, progress: Callable[[int, int], object] | None = None
) -> SyncReport:
    """Read the school's feed from the plugin enabled for it, then apply it (``apply_rows``)."""
    from licheng.plugins.runtime import call_for_school

    school_id = actor.require_role(Role.STAFF)
    results = await call_for_school(school_id, "licheng_importers", on_error="raise")
    importers = {imp.kind: (r.plugin_id, imp) for r in results for imp in r.value if imp.kind in KINDS}
    if "students" not in importers:
        raise LichengError(
            "SYNC_NOT_CONFIGURED", "本校未啟用校務系統同步", "No school-system sync is enabled for this school"
        )
    school = await School.get(id=school_id)
    rows: dict[str, Sequence[Mapping[str, str]]] = {}
    for kind in KINDS:
        if kind in importers:
            rows[kind] = list(await importers[kind][1].fetch(school.code))
    return await apply_rows(settings, actor, rows, dry_run=dry_run, source=importers["students"][0], progress=progress)


async def scheduled_sync(school_id: int) -> SyncReport:
    """The nightly sync of one school, as its system actor (a plugin's ``ScheduledJob`` calls this).

    Settings come from the environment, as the worker builds its own (``licheng worker``).
    """
    report = await sync_school_people(Settings(), system_actor(school_id))
    log.info("school sync", extra={"school_id": school_id, "changed": report.changed, "errors": len(report.errors)})
    return report
