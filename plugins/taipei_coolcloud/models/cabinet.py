"""Portfolio cabinet extras: autobiography and study plan, self-directed learning plans, share links.

Every table is tenant-owned (``school``). Texts are never overwritten: each
save of an autobiography (自傳) or study plan (學習計畫) is a new version row.
A share link keeps only the SHA-256 of its token, and every view is a row.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class StatementKind(str, Enum):
    AUTOBIOGRAPHY = "autobiography"  # 自傳
    STUDY_PLAN = "study_plan"  # 學習計畫


class CabinetStatement(Model):
    """A student's autobiography or study plan: one per student and kind, pointing at its latest version."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharEnumField(StatementKind, max_length=16)
    version = fields.SmallIntField(default=0)
    text = fields.TextField(default="")
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    student_id: int

    class Meta:
        table = "taipei_cabinet_statement"
        unique_together = (("student", "kind"),)


class CabinetStatementVersion(Model):
    """One saved version of a statement, kept forever."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    statement: fields.ForeignKeyRelation[CabinetStatement] = fields.ForeignKeyField(
        "taipei_coolcloud.CabinetStatement", related_name=False, on_delete=fields.CASCADE
    )
    number = fields.SmallIntField()
    text = fields.TextField()
    created_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int
    statement_id: int

    class Meta:
        table = "taipei_cabinet_statement_version"
        unique_together = (("statement", "number"),)


class PlanState(str, Enum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 送審中
    APPROVED = "approved"  # 已核可
    RETURNED = "returned"  # 退回修改


class LearningPlan(Model):
    """A self-directed learning plan (自主學習計畫) the student fills and a teacher reviews."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    reviewer: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tenants.Person", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    academic_year = fields.SmallIntField()
    title = fields.CharField(max_length=100)
    goals = fields.TextField()
    schedule = fields.TextField()
    method = fields.TextField()
    expected_outcome = fields.TextField()
    state = fields.CharEnumField(PlanState, max_length=12, default=PlanState.DRAFT)
    comment = fields.CharField(max_length=500, null=True)  # the reviewer's latest comment
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    student_id: int
    reviewer_id: int | None

    class Meta:
        table = "taipei_learning_plan"
        indexes = (("school", "student"), ("school", "reviewer", "state"))


class LearningPlanEvent(Model):
    """One step of a plan's life (created, saved, submitted, approved, returned): who and when."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    plan: fields.ForeignKeyRelation[LearningPlan] = fields.ForeignKeyField(
        "taipei_coolcloud.LearningPlan", related_name=False, on_delete=fields.CASCADE
    )
    action = fields.CharField(max_length=12)
    state = fields.CharEnumField(PlanState, max_length=12)
    actor_person_id = fields.IntField(null=True)
    actor_account_id = fields.IntField(null=True)
    comment = fields.CharField(max_length=500, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    plan_id: int

    class Meta:
        table = "taipei_learning_plan_event"


class ShareLink(Model):
    """A read-only link to a student's portfolio summary: the token's SHA-256 only, an expiry, revocable."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    token_hash = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=50, default="")
    include_statements = fields.BooleanField(default=False)  # show the autobiography and study plan too
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int

    class Meta:
        table = "taipei_share_link"
        indexes = (("school", "student"),)


class ShareLinkView(Model):
    """Anonymous views of a shared portfolio in one 10-minute window: which link, when, how many.

    One row per link and window (a counter, not a row per request), so a public
    link read in a loop costs one UPDATE per read and one row per 10 minutes. No address, no identity.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    link: fields.ForeignKeyRelation[ShareLink] = fields.ForeignKeyField(
        "taipei_coolcloud.ShareLink", related_name=False, on_delete=fields.CASCADE
    )
    window = fields.DatetimeField()  # start of the 10-minute window (UTC)
    viewed_at = fields.DatetimeField()  # the window's first view
    views = fields.IntField(default=1)

    school_id: int
    link_id: int

    class Meta:
        table = "taipei_share_link_view"
        unique_together = (("link", "window"),)
