"""Policy overrides, submission batches with their frozen items, receipts (收訖), late additions (補件)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class SchoolPolicyOverride(Model):
    """A school's policy layer from ``from_year`` on (until a later row): only fields schools may change."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    from_year = fields.SmallIntField()
    values: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    updated_by_account_id = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int

    class Meta:
        table = "portfolio_policy_override"
        unique_together = (("school", "from_year"),)


class BatchScope(str, Enum):
    TERM = "term"  # basic data, cadre and course records of one term
    YEAR = "year"  # selected outcomes and performances of a year (term 0)


class BatchStatus(str, Enum):
    FROZEN = "frozen"  # snapshot taken, not yet sent
    QUEUED = "queued"  # a delivery job (submission.deliver) is on its way
    SUBMITTED = "submitted"  # handed to the submission adapter
    RECEIPTS = "receipts"  # receipts recorded, review under way
    FAILED = "failed"  # the adapter refused it


class SubmissionBatch(Model):
    """What the school sends to the central database (學習歷程中央資料庫) for one year or term."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    term = fields.SmallIntField()  # 0 for the yearly roster
    scope = fields.CharEnumField(BatchScope, max_length=8)
    status = fields.CharEnumField(BatchStatus, max_length=12, default=BatchStatus.FROZEN)
    resubmission_of_id = fields.IntField(null=True)
    student_ids: fields.JSONField[list[int] | None] = fields.JSONField(null=True)  # a resubmission covers only these students
    item_count = fields.IntField(default=0)
    content_sha256 = fields.CharField(max_length=64, default="")
    adapter = fields.CharField(max_length=64, null=True)
    external_ref = fields.CharField(max_length=200, null=True)
    adapter_message = fields.CharField(max_length=500, null=True)
    created_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    submitted_at = fields.DatetimeField(null=True)
    receipts_recorded_at = fields.DatetimeField(null=True)

    school_id: int

    class Meta:
        table = "portfolio_submission_batch"
        indexes = (("school", "academic_year"),)


class SubmissionItem(Model):
    """An immutable snapshot of one submitted item: its content and its files' checksums."""

    id = fields.BigIntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    batch: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "portfolio.SubmissionBatch", related_name="items", on_delete=fields.CASCADE
    )
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    item_type = fields.CharField(max_length=16)  # enrolment | cadre | course_record | outcome | performance
    item_id = fields.IntField()
    content: fields.JSONField[dict[str, Any]] = fields.JSONField()
    file_checksums: fields.JSONField[list[str]] = fields.JSONField(default=list)
    content_sha256 = fields.CharField(max_length=64)
    # submission_port.item_reference at freeze time: a later change of the school code renames nothing
    # ("" for items frozen before migration 0010: computed from the school's code when read).
    reference = fields.CharField(max_length=32, default="")

    school_id: int
    batch_id: int
    student_id: int

    class Meta:
        table = "portfolio_submission_item"
        indexes = (("batch", "student"),)


class ReceiptStatus(str, Enum):
    PENDING = "pending"  # awaiting the student's answer
    CONFIRMED = "confirmed"  # 收訖無誤
    DISPUTED = "disputed"  # 申訴 / 有誤
    RESUBMITTED = "resubmitted"  # staff fixed it and sent again


class Receipt(Model):
    """The central database's receipt list (收訖明細) for one student of a batch, and his answer."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    batch: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "portfolio.SubmissionBatch", related_name="receipts", on_delete=fields.CASCADE
    )
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    # One line per frozen item, then the unexpected ones: [{item_type, item_id, reference, status, central_status,
    # checksum, verified, note, where}], status received | mismatch | missing | unexpected (receipts.compare).
    lines: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    status = fields.CharEnumField(ReceiptStatus, max_length=12, default=ReceiptStatus.PENDING)
    reason = fields.CharField(max_length=300, null=True)
    recorded_at = fields.DatetimeField()
    review_closes_on = fields.DateField()
    responded_at = fields.DatetimeField(null=True)
    responded_by_account_id = fields.IntField(null=True)

    school_id: int
    batch_id: int
    student_id: int

    class Meta:
        table = "portfolio_receipt"
        unique_together = (("batch", "student"),)


class ReceiptComparison(Model):
    """A batch's receipt list compared with its frozen snapshot, item by item (staff's view of a batch).

    The counts of item lines per status, and the lines that name a student who
    is not in the batch: they have no receipt to go in, so they are kept here
    rather than dropped.
    """

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    batch: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "portfolio.SubmissionBatch", related_name=False, on_delete=fields.CASCADE
    )
    received = fields.IntField(default=0)
    mismatch = fields.IntField(default=0)
    missing = fields.IntField(default=0)
    unexpected = fields.IntField(default=0)  # those in students' receipts and those below
    unverified = fields.IntField(default=0)  # received, but the central side gave no checksum to compare
    unplaced: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    compared_at = fields.DatetimeField()

    school_id: int
    batch_id: int

    class Meta:
        table = "portfolio_receipt_comparison"
        unique_together = (("batch",),)


class LateAddition(Model):
    """An explicit, audited staff correction after a window closed (補件): never a silent edit."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    student: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.Person", related_name=False, on_delete=fields.CASCADE)
    academic_year = fields.SmallIntField()
    item_type = fields.CharField(max_length=16)
    item_id = fields.IntField()
    replaces_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=200)
    created_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    school_id: int
    student_id: int

    class Meta:
        table = "portfolio_late_addition"
        indexes = (("school", "academic_year"),)
