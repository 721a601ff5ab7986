"""Tenants and people: bureaus, schools (the tenant), calendars, classes, persons, roles.

Global tables (no ``school_id``): ``Bureau``, ``School``, ``BureauAdmin``.
Everything else carries ``school_id`` directly, the distribution column for
sharding by school.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class SchoolKind(str, Enum):
    GENERAL = "general"  # 普通型高中
    VOCATIONAL = "vocational"  # 技術型高中
    COMPREHENSIVE = "comprehensive"  # 綜合型高中


class Role(str, Enum):
    """Roles a person holds in one school. Bureau and platform admins are not school roles."""

    STAFF = "staff"  # 註冊組 / 教務處
    TEACHER = "teacher"  # 任課教師
    HOMEROOM = "homeroom"  # 導師 (of a class)
    COUNSELOR = "counselor"  # 課程諮詢教師
    STUDENT = "student"
    PARENT = "parent"


class Bureau(Model):
    """An education authority: a city bureau (教育局) or the K-12 Education Administration."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bureau"


class School(Model):
    """The tenant. ``code`` is the Ministry's 6-character school code (學校代碼)."""

    id = fields.IntField(primary_key=True)
    bureau: fields.ForeignKeyRelation[Bureau] = fields.ForeignKeyField(
        "tenants.Bureau", related_name="schools", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=6, unique=True)
    name = fields.CharField(max_length=100)
    kind = fields.CharEnumField(SchoolKind, max_length=16, default=SchoolKind.GENERAL)
    time_zone = fields.CharField(max_length=40, default="Asia/Taipei")
    created_at = fields.DatetimeField(auto_now_add=True)

    bureau_id: int

    class Meta:
        table = "school"


class SchoolTerm(Model):
    """A term of an academic year (ROC year: 115 = Aug 2026 - Jul 2027) and its key dates."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="terms", on_delete=fields.CASCADE
    )
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()  # 1 or 2
    starts_on = fields.DateField()
    ceremony_on = fields.DateField()  # 休業式, end-of-term ceremony
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int

    class Meta:
        table = "school_term"
        unique_together = (("school", "academic_year", "term"),)


class SchoolClass(Model):
    """A class (班級), e.g. grade 10 "101". Its homeroom teacher is a HOMEROOM membership."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="classes", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=16)  # "101"
    name = fields.CharField(max_length=50)  # "1年1班"
    grade = fields.SmallIntField()  # 10, 11, 12

    school_id: int

    class Meta:
        table = "school_class"
        unique_together = (("school", "code"),)


class Person(Model):
    """A person in one school. A platform ``Account`` may link persons in several schools."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="people", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "auth.Account", related_name="persons", null=True, on_delete=fields.SET_NULL
    )
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, null=True)
    # National ID (身分證字號 / 居留證號): encrypted, looked up by keyed hash, never logged.
    national_id_encrypted = fields.BinaryField(null=True)
    national_id_hash = fields.CharField(max_length=64, null=True)
    national_id_masked = fields.CharField(max_length=10, null=True)
    # Students
    student_number = fields.CharField(max_length=20, null=True)  # 學號
    school_class: fields.ForeignKeyNullableRelation[SchoolClass] = fields.ForeignKeyField(
        "tenants.SchoolClass", related_name="students", null=True, on_delete=fields.SET_NULL
    )
    seat = fields.SmallIntField(null=True)
    entry_year = fields.SmallIntField(null=True)
    # Staff and teachers
    staff_number = fields.CharField(max_length=20, null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    account_id: int | None
    school_class_id: int | None

    class Meta:
        table = "person"
        unique_together = (
            ("school", "student_number"),
            ("school", "staff_number"),
            ("school", "national_id_hash"),
        )


class Membership(Model):
    """One role of a person in a school, and the homeroom role goes with a class."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="memberships", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "tenants.Person", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=16)
    school_class: fields.ForeignKeyNullableRelation[SchoolClass] = fields.ForeignKeyField(
        "tenants.SchoolClass", related_name="homeroom_memberships", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    person_id: int
    school_class_id: int | None

    class Meta:
        table = "membership"
        unique_together = (("person", "role", "school_class"),)


class Guardianship(Model):
    """A parent (家長) linked to a student of the same school."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="guardianships", on_delete=fields.CASCADE
    )
    parent: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "tenants.Person", related_name="children_links", on_delete=fields.CASCADE
    )
    student: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "tenants.Person", related_name="parent_links", on_delete=fields.CASCADE
    )

    school_id: int
    parent_id: int
    student_id: int

    class Meta:
        table = "guardianship"
        unique_together = (("parent", "student"),)


class BureauAdmin(Model):
    """An account that administers a bureau (its plugins, its schools' onboarding)."""

    id = fields.IntField(primary_key=True)
    bureau: fields.ForeignKeyRelation[Bureau] = fields.ForeignKeyField(
        "tenants.Bureau", related_name="admins", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.Account", related_name="bureau_admins", on_delete=fields.CASCADE
    )

    bureau_id: int
    account_id: int

    class Meta:
        table = "bureau_admin"
        unique_together = (("bureau", "account"),)
