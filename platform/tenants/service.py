"""Tenant services: onboarding bureaus and schools, the calendar, and who may see whom.

Every function takes the acting ``Actor`` first and scopes every query by it;
the GraphQL and CLI edges only translate.
"""

from __future__ import annotations

import re
from datetime import date

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from licheng.auth import passwords
from licheng.auth.models import Account
from licheng.errors import Forbidden, InvalidInput, LichengError, NotFound
from licheng.pagination import Page, paginate
from licheng.settings import Settings
from licheng.tenants import audit, nationalid
from licheng.tenants.actor import Actor
from licheng.tenants.models import (
    Bureau,
    BureauAdmin,
    Guardianship,
    Membership,
    Person,
    Role,
    School,
    SchoolClass,
    SchoolKind,
    SchoolTerm,
)

SCHOOL_CODE = re.compile(r"^[0-9A-Za-z]{6}$")
LOGIN = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")


# --- bureaus and schools -------------------------------------------------------------


async def create_bureau(actor: Actor, code: str, name: str) -> Bureau:
    actor.require_platform_admin()
    code, name = code.strip(), name.strip()
    if not re.match(r"^[a-z0-9_-]{2,32}$", code):
        raise InvalidInput("code", "教育局代碼須為 2 到 32 個小寫英數字", "A bureau code is 2-32 lower-case letters or digits")
    if not name:
        raise InvalidInput("name", "名稱不可空白", "The name is required")
    if await Bureau.exists(code=code):
        raise LichengError("DUPLICATE", "此教育局代碼已存在", "A bureau with this code exists", field="code")
    bureau = await Bureau.create(code=code, name=name)
    await audit.record(actor, "create_bureau", "bureau", bureau.id, bureau_id=bureau.id, changes={"code": code})
    return bureau


async def add_bureau_admin(actor: Actor, bureau_id: int, login: str) -> BureauAdmin:
    actor.require_platform_admin()
    account = await Account.get_or_none(login=login)
    if account is None:
        raise NotFound("account", "帳號")
    admin, _ = await BureauAdmin.get_or_create(bureau_id=bureau_id, account_id=account.id)
    await audit.record(actor, "add_bureau_admin", "bureau", bureau_id, bureau_id=bureau_id, changes={"login": login})
    return admin


async def create_school(actor: Actor, bureau_id: int, code: str, name: str, kind: SchoolKind) -> School:
    actor.require_signed_in()
    if not actor.can_admin_bureau(bureau_id):
        raise Forbidden("create schools for this bureau", "為此教育局建立學校")
    code, name = code.strip(), name.strip()
    if not SCHOOL_CODE.match(code):
        raise InvalidInput("code", "學校代碼須為 6 個英數字", "A school code is 6 letters or digits", value=code)
    if not name:
        raise InvalidInput("name", "名稱不可空白", "The name is required")
    if await School.exists(code=code):
        raise LichengError("DUPLICATE", "此學校代碼已存在", "A school with this code exists", field="code")
    if not await Bureau.exists(id=bureau_id):
        raise NotFound("bureau", "教育局")
    school = await School.create(bureau_id=bureau_id, code=code, name=name, kind=kind)
    await audit.record(actor, "create_school", "school", school.id, school_id=school.id, bureau_id=bureau_id)
    return school


def visible_schools(actor: Actor) -> QuerySet[School]:
    actor.require_signed_in()
    if actor.is_platform_admin:
        return School.all()
    if actor.bureau_ids and actor.school_id is None:
        return School.filter(bureau_id__in=list(actor.bureau_ids))
    return School.filter(id=actor.school_id or -1)


async def list_schools(actor: Actor, *, first: int | None = None, after: str | None = None) -> Page[School]:
    return await paginate(visible_schools(actor), first=first, after=after)


async def get_school(actor: Actor, school_id: int) -> School:
    school = await visible_schools(actor).filter(id=school_id).first()
    if school is None:
        raise NotFound("school", "學校")
    return school


async def list_bureaus(actor: Actor) -> list[Bureau]:
    actor.require_signed_in()
    if actor.is_platform_admin:
        return await Bureau.all().order_by("id")
    return await Bureau.filter(id__in=list(actor.bureau_ids)).order_by("id")


async def _school_for_onboarding(actor: Actor, school_id: int) -> School:
    """Staff of the school, its bureau's admins, or a platform admin."""
    actor.require_signed_in()
    school = await School.get_or_none(id=school_id)
    if school is None:
        raise NotFound("school", "學校")
    if actor.school_id == school_id and actor.has(Role.STAFF):
        return school
    if actor.can_admin_bureau(school.bureau_id):
        return school
    raise NotFound("school", "學校")


async def invite_staff(
    settings: Settings, actor: Actor, school_id: int, login: str, name: str, email: str | None = None
) -> tuple[Person, str]:
    """Create a staff account with an initial password (to be changed at first sign-in)."""
    school = await _school_for_onboarding(actor, school_id)
    if not LOGIN.match(login):
        raise InvalidInput("login", "帳號須為 3 到 64 個英數字或 . _ @ -", "A login is 3-64 letters, digits or . _ @ -")
    if not name.strip():
        raise InvalidInput("name", "姓名不可空白", "The name is required")
    initial = passwords.initial_password()
    async with in_transaction():
        account = await Account.get_or_none(login=login)
        if account is None:
            account = await Account.create(
                login=login,
                display_name=name.strip(),
                password_hash=passwords.hash_password(initial),
                must_change_password=True,
            )
        else:
            initial = ""  # an existing account keeps its password
        person = await Person.get_or_none(school_id=school.id, account_id=account.id)
        if person is None:
            person = await Person.create(school_id=school.id, account_id=account.id, name=name.strip(), email=email)
        await Membership.get_or_create(school_id=school.id, person_id=person.id, role=Role.STAFF, school_class_id=None)
        await audit.record(actor, "invite_staff", "person", person.id, school_id=school.id, changes={"login": login})
    return person, initial


# --- calendar ----------------------------------------------------------------------------


async def set_term(
    actor: Actor, academic_year: int, term: int, starts_on: date, ceremony_on: date
) -> SchoolTerm:
    school_id = actor.require_role(Role.STAFF)
    if term not in (1, 2):
        raise InvalidInput("term", "學期須為 1 或 2", "The term is 1 or 2")
    if not 100 <= academic_year <= 200:
        raise InvalidInput("academic_year", "學年度以民國年表示，例如 115", "The academic year is a ROC year, e.g. 115")
    if ceremony_on <= starts_on:
        raise InvalidInput("ceremony_on", "休業式須在學期開始之後", "The end-of-term ceremony must come after the term starts")
    row, created = await SchoolTerm.get_or_create(
        school_id=school_id,
        academic_year=academic_year,
        term=term,
        defaults={"starts_on": starts_on, "ceremony_on": ceremony_on},
    )
    if not created:
        row.starts_on, row.ceremony_on = starts_on, ceremony_on
        await row.save(update_fields=["starts_on", "ceremony_on"])
    await audit.record(
        actor, "set_term", "school_term", row.id,
        changes={"year": academic_year, "term": term, "starts_on": str(starts_on), "ceremony_on": str(ceremony_on)},
    )  # fmt: skip
    return row


async def list_terms(actor: Actor) -> list[SchoolTerm]:
    school_id = actor.require_school()
    return await SchoolTerm.filter(school_id=school_id).order_by("academic_year", "term")


# --- classes and people ------------------------------------------------------------------


def visible_classes(actor: Actor) -> QuerySet[SchoolClass]:
    school_id = actor.require_school()
    query = SchoolClass.filter(school_id=school_id)
    if actor.has(Role.STAFF, Role.TEACHER, Role.COUNSELOR):
        return query
    if actor.has(Role.HOMEROOM):
        return query.filter(id__in=list(actor.homeroom_class_ids))
    return query.filter(id=-1)


async def list_classes(actor: Actor, *, first: int | None = None, after: str | None = None) -> Page[SchoolClass]:
    return await paginate(visible_classes(actor), first=first, after=after)


async def get_class(actor: Actor, class_id: int) -> SchoolClass:
    row = await visible_classes(actor).filter(id=class_id).first()
    if row is None:
        raise NotFound("class", "班級")
    return row


def visible_people(actor: Actor) -> QuerySet[Person]:
    """Staff see everyone; teachers and counselors see students and colleagues; a homeroom
    teacher also sees the parents of his class; students see themselves; parents themselves
    and their children."""
    school_id = actor.require_school()
    query = Person.filter(school_id=school_id)
    if actor.has(Role.STAFF):
        return query
    own = [actor.person_id or -1]
    if actor.has(Role.TEACHER, Role.COUNSELOR, Role.HOMEROOM):
        return query.filter(memberships__role__in=[Role.STUDENT, Role.TEACHER, Role.COUNSELOR, Role.HOMEROOM, Role.STAFF]).distinct()
    if actor.has(Role.PARENT):
        return query.filter(Q(id__in=own) | Q(parent_links__parent_id=actor.person_id or -1)).distinct()
    return query.filter(id__in=own)


async def list_people(
    actor: Actor,
    *,
    role: Role | None = None,
    class_id: int | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[Person]:
    query = visible_people(actor)
    if role is not None:
        query = query.filter(id__in=Subquery(Membership.filter(school_id=actor.school_id, role=role).values("person_id")))
    if class_id is not None:
        query = query.filter(school_class_id=class_id)
    return await paginate(query, first=first, after=after)


async def get_person(actor: Actor, person_id: int) -> Person:
    person = await visible_people(actor).filter(id=person_id).first()
    if person is None:
        raise NotFound("person", "人員")
    return person


async def roles_of(person_ids: list[int]) -> dict[int, list[Role]]:
    out: dict[int, list[Role]] = {pid: [] for pid in person_ids}
    for pid, role in await Membership.filter(person_id__in=person_ids).values_list("person_id", "role"):
        out[pid].append(Role(role))
    return out


async def children_of(actor: Actor, parent_id: int) -> list[Person]:
    await get_person(actor, parent_id)
    ids = await Guardianship.filter(school_id=actor.school_id, parent_id=parent_id).values_list("student_id", flat=True)
    return await visible_people(actor).filter(id__in=list(ids)).order_by("id")


def may_see_national_id(actor: Actor) -> bool:
    """Only registry staff handle unmasked national IDs (they submit rosters)."""
    return actor.has(Role.STAFF)


async def reveal_national_id(settings: Settings, actor: Actor, person: Person) -> str | None:
    """The clear national ID for staff (audited); the masked form for everyone else."""
    if person.school_id != actor.school_id:
        raise NotFound("person", "人員")
    if not person.national_id_encrypted:
        return None
    if not may_see_national_id(actor):
        return person.national_id_masked
    await audit.record(actor, "read_national_id", "person", person.id, student_id=person.id)
    return nationalid.decrypt(bytes(person.national_id_encrypted), settings.data_key_bytes)


async def record_personal_data_read(actor: Actor, person: Person) -> None:
    """Reading someone else's personal data leaves a trace (PDPA)."""
    if actor.person_id != person.id:
        await audit.record(actor, "read_person", "person", person.id, student_id=person.id)
