"""The plugin's tables (the `licheng.models` entry point `moe_central`).

``CentralDelivery`` is the school side's record of what it sent to the central
database: one row per batch, keyed by the package's idempotency key. The
delivery job resumes from it after a timeout, a crash or a duplicate run
instead of starting over, so the central side sees one submission per batch.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class DeliveryState(str, Enum):
    BUILT = "built"  # package id known (the package may or may not have reached the central side)
    UPLOADED = "uploaded"  # the central side answered with a file id
    NOTIFIED = "notified"  # the central side was told to process the file
    ACCEPTED = "accepted"  # the central side accepted it and the receipts were read
    REJECTED = "rejected"  # the central side refused it (reason in last_error)


class CentralDelivery(Model):
    """One batch's package as sent to the central database (學習歷程中央資料庫), and how far it got."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField("tenants.School", related_name=False, on_delete=fields.CASCADE)
    batch_id = fields.IntField()
    # Deterministic from (school code, batch id, snapshot digest, format version): the idempotency key.
    package_id = fields.CharField(max_length=100, unique=True)
    format_version = fields.CharField(max_length=40)
    file_id = fields.CharField(max_length=100, null=True)
    state = fields.CharEnumField(DeliveryState, max_length=12, default=DeliveryState.BUILT)
    package_sha256 = fields.CharField(max_length=64, null=True)
    package_size = fields.BigIntField(null=True)
    attempts = fields.IntField(default=0)  # delivery tries (upload or notify)
    polls = fields.IntField(default=0)
    # Error classes and the central side's reason codes only: never personal data.
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int

    class Meta:
        table = "moe_central_delivery"
        unique_together = (("school", "batch_id"),)
