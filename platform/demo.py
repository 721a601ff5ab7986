"""Seeding the demo school: a bureau, a school with 3 classes, ~40 students, teachers, a parent.

Demo accounts get a known password and no forced change, so that a newcomer
can sign in at once; this is the only place where that is allowed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from datetime import date

from licheng.auth import passwords
from licheng.auth.models import Account
from licheng.portfolio.demo_data import seed_portfolio
from licheng.settings import Settings
from licheng.tenants import nationalid
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

DEMO_PASSWORD = "Demo2026pass"
DEMO_SCHOOL_CODE = "353301"  # 臺北市立示範高級中學, the demo's one school
SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周"
GIVEN = ["怡君", "家豪", "雅婷", "冠宇", "詩涵", "承恩", "宥廷", "品妍", "柏翰", "子晴", "宇翔", "欣妤"]


@dataclass(frozen=True)
class DemoAccount:
    login: str
    role: str


def fake_national_id(rng: random.Random, gender: int) -> str:
    """A syntactically valid national ID (right check digit) for demo people only."""
    while True:
        body = f"A{gender}{rng.randrange(10**7):07d}"
        for last in range(10):
            candidate = f"{body}{last}"
            try:
                return nationalid.normalise(candidate)
            except Exception:  # noqa: BLE001 - try the next check digit
                continue


async def _account(login: str, name: str, **extra: object) -> Account:
    account, _ = await Account.get_or_create(
        login=login,
        defaults={"display_name": name, "password_hash": passwords.hash_password(DEMO_PASSWORD), **extra},
    )
    return account


async def seed(settings: Settings) -> list[DemoAccount]:
    """Idempotent: a second run finds the demo school and changes nothing."""
    rng = random.Random(115)
    accounts = [
        DemoAccount("admin", "platform admin 平臺管理者"),
        DemoAccount("tpe-bureau", "bureau admin 教育局管理者"),
        DemoAccount("registry", "school staff 註冊組"),
        DemoAccount("teacher.lin", "subject teacher 任課教師 + homeroom 導師 101"),
        DemoAccount("teacher.chen", "subject teacher 任課教師 + counselor 課程諮詢教師"),
        DemoAccount("s10101", "student 學生 (101 seat 1)"),
        DemoAccount("parent.wang", "parent 家長 of s10101"),
    ]
    existing = await School.get_or_none(code=DEMO_SCHOOL_CODE)
    if existing is not None:
        await seed_portfolio(settings, existing)  # an older demo database gets the portfolio part once
        return accounts
    await _account("admin", "平臺管理者", is_platform_admin=True)
    bureau = await Bureau.create(code="taipei", name="臺北市政府教育局")
    await BureauAdmin.create(bureau=bureau, account=await _account("tpe-bureau", "教育局承辦人"))
    school = await School.create(bureau=bureau, code=DEMO_SCHOOL_CODE, name="臺北市立示範高級中學", kind=SchoolKind.GENERAL)
    await SchoolTerm.create(school=school, academic_year=115, term=1, starts_on=date(2026, 8, 31), ceremony_on=date(2027, 1, 20))
    await SchoolTerm.create(school=school, academic_year=115, term=2, starts_on=date(2027, 2, 11), ceremony_on=date(2027, 6, 30))

    async def person(login: str, name: str, *roles: Role, **fields: Any) -> Person:
        account = await _account(login, name)
        row = await Person.create(school=school, account=account, name=name, **fields)
        for role in roles:
            await Membership.create(school=school, person=row, role=role)
        return row

    keys = {"data_key": settings.data_key_bytes, "lookup_key": settings.lookup_key_bytes}
    await person("registry", "註冊組長 周文華", Role.STAFF, staff_number="T001")
    lin = await person("teacher.lin", "林雅惠", Role.TEACHER, staff_number="T101")
    await person("teacher.chen", "陳建宏", Role.TEACHER, Role.COUNSELOR, staff_number="T102")
    await person("teacher.huang", "黃志明", Role.TEACHER, staff_number="T103")
    first_student: Person | None = None
    for index, (code, name) in enumerate([("101", "1年1班"), ("102", "1年2班"), ("201", "2年1班")]):
        school_class = await SchoolClass.create(school=school, code=code, name=name, grade=10 + index // 2)
        if index == 0:
            await Membership.create(school=school, person=lin, role=Role.HOMEROOM, school_class=school_class)
        for seat in range(1, 15 if index < 2 else 13):
            number = f"{code}{seat:02d}"  # 學號, e.g. 10101
            login = f"s{number}"
            student = await person(
                login, rng.choice(SURNAMES) + rng.choice(GIVEN), Role.STUDENT,
                student_number=number, school_class=school_class, seat=seat,
                entry_year=115 if index < 2 else 114,
                **nationalid.protect(fake_national_id(rng, 1 + seat % 2), **keys),
            )  # fmt: skip
            first_student = first_student or student
    parent = await person("parent.wang", "王大明", Role.PARENT)
    assert first_student is not None
    await Guardianship.create(school=school, parent=parent, student=first_student)
    await seed_portfolio(settings, school)
    return accounts
