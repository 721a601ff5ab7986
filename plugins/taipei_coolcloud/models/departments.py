"""Application-department rules (申請校系分則) and the departments a student targets.

``ApplicationDepartment`` is bureau-level: the bureau compiles one list per
academic year for all its schools, so it is keyed by ``bureau`` (no school).
``TargetDepartment`` is the student's own choice and carries ``school``.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class ApplicationDepartment(Model):
    """One university or technical-college department of one academic year, as the bureau compiled it.

    ``item_codes`` lists what it weighs (參採項目), ``weights`` maps a code to its weight,
    ``outcome_cap`` and ``performance_cap`` bound how many items it takes.
    """

    id = fields.IntField(primary_key=True)
    bureau: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Bureau", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    code = fields.CharField(max_length=20)  # 校系代碼
    university = fields.CharField(max_length=100)
    name = fields.CharField(max_length=100)
    track = fields.CharField(max_length=12, default="university")  # university | technical
    item_codes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    weights: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    outcome_cap = fields.SmallIntField(default=3)
    performance_cap = fields.SmallIntField(default=10)
    notes = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    bureau_id: int

    class Meta:
        table = "taipei_application_department"
        unique_together = (("bureau", "academic_year", "code"),)


class TargetDepartment(Model):
    """A department a student aims for, in his order of preference (rank 1 first)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    department: fields.ForeignKeyRelation[ApplicationDepartment] = fields.ForeignKeyField(
        "taipei_coolcloud.ApplicationDepartment", related_name=False, on_delete=fields.CASCADE
    )
    rank = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int
    department_id: int

    class Meta:
        table = "taipei_target_department"
        unique_together = (("student", "department"),)
