"""Student-entered items: files, course outcomes (課程學習成果), diverse performances (多元表現).

Files are never overwritten: a re-upload is a new ``PortfolioFile`` and a new
``ItemVersion`` row, the old ones stay. ``selected_at`` marks an item picked
(勾選) for the central database, ``frozen_at`` an item a submission batch took.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class FileCategory(str, Enum):
    DOCUMENT = "document"  # pdf, jpeg, png
    MEDIA = "media"  # mp3, mp4
    COUNSELING = "counseling"  # 課程諮詢紀錄的附件


class FileState(str, Enum):
    PENDING = "pending"  # uploaded, not yet attached to an item
    ATTACHED = "attached"


class PortfolioFile(Model):
    """A stored file charged to a student: size and SHA-256 kept for integrity checks and snapshots."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    category = fields.CharEnumField(FileCategory, max_length=12)
    kind = fields.CharField(max_length=8)  # pdf | jpeg | png | mp3 | mp4
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    display_filename = fields.CharField(max_length=255)
    blob_key = fields.CharField(max_length=512, null=True)
    stored_blob_id = fields.BigIntField(null=True)  # licheng.storage's row, when storage made it
    state = fields.CharEnumField(FileState, max_length=8, default=FileState.PENDING)
    uploaded_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    attached_at = fields.DatetimeField(null=True)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_file"
        indexes = (("school", "student"),)


class OutcomeStatus(str, Enum):
    DRAFT = "draft"  # 未提交
    SENT = "sent"  # 已提交認證, awaiting a published result
    PASSED = "passed"  # 認證通過 (published)
    FAILED = "failed"  # 認證未通過 (published)


class Decision(str, Enum):
    PASSED = "passed"
    FAILED = "failed"


class CourseOutcome(Model):
    """A course outcome attached to one course record, certified by that course's teacher.

    The teacher's decision stays private until he publishes it: ``status`` moves to
    passed or failed only on publishing.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    course_record: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "portfolio.CourseRecord", related_name=False, on_delete=fields.RESTRICT
    )
    document: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "portfolio.PortfolioFile", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    media: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "portfolio.PortfolioFile", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()
    brief = fields.CharField(max_length=255)
    version = fields.SmallIntField(default=1)
    status = fields.CharEnumField(OutcomeStatus, max_length=8, default=OutcomeStatus.DRAFT)
    sent_at = fields.DatetimeField(null=True)
    first_sent_at = fields.DatetimeField(null=True)
    opened_at = fields.DatetimeField(null=True)
    opened_by_id = fields.IntField(null=True)
    decision = fields.CharEnumField(Decision, max_length=8, null=True)
    reason = fields.CharField(max_length=200, null=True)
    decided_at = fields.DatetimeField(null=True)
    decided_by_id = fields.IntField(null=True)
    published_at = fields.DatetimeField(null=True)
    selected_at = fields.DatetimeField(null=True)
    frozen_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    student_id: int
    course_record_id: int
    document_id: int | None
    media_id: int | None

    class Meta:
        table = "portfolio_course_outcome"
        indexes = (("student", "academic_year", "term"), ("school", "academic_year", "status"))


class PerformanceKind(str, Enum):
    SELF_DIRECTED = "self_directed"  # 自主學習
    CLUB = "club"  # 社團活動
    CADRE = "cadre"  # 幹部經歷 (not registered by the school)
    COMPETITION = "competition"  # 競賽參與
    CERTIFICATE = "certificate"  # 檢定證照
    VOLUNTEER = "volunteer"  # 志工服務
    WORK = "work"  # 作品成果
    WORKPLACE = "workplace"  # 職場學習
    ADVANCED_PLACEMENT = "advanced_placement"  # 大學及技專校院先修課程
    FLEXIBLE_LEARNING = "flexible_learning"  # 彈性學習時間
    GROUP_ACTIVITY = "group_activity"  # 團體活動時間
    OTHER = "other"  # 其他多元表現


class DiversePerformance(Model):
    """A diverse performance (多元表現), not certified. ``details`` holds the kind's roster fields."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    document: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "portfolio.PortfolioFile", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    media: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "portfolio.PortfolioFile", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    academic_year = fields.SmallIntField()
    kind = fields.CharEnumField(PerformanceKind, max_length=24)
    title = fields.CharField(max_length=100)
    brief = fields.CharField(max_length=255)
    details: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    external_url = fields.CharField(max_length=500, null=True)
    version = fields.SmallIntField(default=1)
    selected_at = fields.DatetimeField(null=True)
    frozen_at = fields.DatetimeField(null=True)
    late_addition = fields.BooleanField(default=False)  # 補件 by staff after the window
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    student_id: int
    document_id: int | None
    media_id: int | None

    class Meta:
        table = "portfolio_performance"
        indexes = (("student", "academic_year"), ("school", "academic_year"))


class ItemVersion(Model):
    """One version of an outcome or a performance as uploaded, kept forever (earlier files stay)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    item_type = fields.CharField(max_length=16)  # outcome | performance
    item_id = fields.IntField()
    number = fields.SmallIntField()
    brief = fields.CharField(max_length=255)
    document_id = fields.IntField(null=True)
    media_id = fields.IntField(null=True)
    content: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)  # performance: title, details, link
    result = fields.CharField(max_length=8, null=True)  # the published certification of this version
    reason = fields.CharField(max_length=200, null=True)
    created_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_item_version"
        indexes = (("item_type", "item_id"),)


class StudentCounter(Model):
    """A per-student, per-year row to lock (SELECT ... FOR UPDATE) while checking caps.

    Year 0 guards the whole portfolio (the storage quota). The counts themselves are
    always taken from the items, so the lock row cannot drift from the truth.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    touched_at = fields.DatetimeField(auto_now=True)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_student_counter"
        unique_together = (("student", "academic_year"),)
