"""School-entered records: enrolment (學籍), cadre (幹部), course records (修課紀錄), counseling.

``frozen_at`` is set when a submission batch includes the row: from then on it
is immutable, and a correction is a new row that ``supersedes`` it (補件),
never a silent edit.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class EnrolmentStatus(str, Enum):
    ENROLLED = "enrolled"  # 在學
    SUSPENDED = "suspended"  # 休學
    TRANSFERRED = "transferred"  # 轉出
    WITHDRAWN = "withdrawn"  # 退學
    GRADUATED = "graduated"  # 畢業


class CadreLevel(str, Enum):
    SCHOOL = "school"  # 校級幹部
    CLASS = "class"  # 班級幹部
    CLUB = "club"  # 社團幹部


class _Frozen(Model):
    frozen_at = fields.DatetimeField(null=True)
    supersedes_id = fields.IntField(null=True)  # the row this one corrects (補件)
    superseded_at = fields.DatetimeField(null=True)
    late_reason = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class EnrolmentRecord(_Frozen):
    """Enrolment data (學籍資料) of a student in one term, registered by the school."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    grade = fields.SmallIntField()  # 年級 10-12
    class_code = fields.CharField(max_length=16)
    seat = fields.SmallIntField(null=True)
    department = fields.CharField(max_length=50, null=True)  # 科別 / 學程
    status = fields.CharEnumField(EnrolmentStatus, max_length=16, default=EnrolmentStatus.ENROLLED)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_enrolment"
        indexes = (("school", "academic_year", "term"),)


class CadreRecord(_Frozen):
    """A cadre post registered by the school (校級/班級/社團幹部): submitted with basic data, not among the 10."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    level = fields.CharEnumField(CadreLevel, max_length=8)
    unit = fields.CharField(max_length=100)  # 單位名稱: class, club, school office
    position = fields.CharField(max_length=50)  # 擔任職務
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_cadre"
        indexes = (("school", "academic_year", "term"),)


class CourseRecord(_Frozen):
    """One subject a student took in a term (修課紀錄), with its 23-character course code (課程代碼)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    teacher: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tenants.Person", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    course_code = fields.CharField(max_length=23)
    subject_name = fields.CharField(max_length=100)
    grade = fields.SmallIntField()  # 年級 10-12
    credits = fields.SmallIntField()
    score = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    passed = fields.BooleanField(null=True)

    school_id: int
    student_id: int
    teacher_id: int | None

    class Meta:
        table = "portfolio_course_record"
        indexes = (("school", "academic_year", "term"), ("student", "academic_year"), ("teacher", "academic_year"))


class CounselingRecord(Model):
    """A course-counseling record (課程諮詢紀錄) by a counselor: stays on the school platform."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    counselor: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.RESTRICT)
    file: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "portfolio.PortfolioFile", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    held_on = fields.DateField()
    topic = fields.CharField(max_length=100)
    notes = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int
    counselor_id: int
    file_id: int | None

    class Meta:
        table = "portfolio_counseling"
        indexes = (("school", "student"),)


class SubstituteAssignment(Model):
    """A substitute (代理人) who certifies for an absent teacher during one term, assigned by staff."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    teacher: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    substitute: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    teacher_id: int
    substitute_id: int

    class Meta:
        table = "portfolio_substitute"
        unique_together = (("teacher", "substitute", "academic_year", "term"),)
