"""Database rows of storage: one row per stored blob, one quota ledger row per student.

A blob's row is written *before* its blob can appear under its key (state
RECEIVING, an intent: it commits while the first bytes go to a temporary file), so
every key in the store has a row from the moment it can exist: a crash at any
point leaves either a RECEIVING row (the reaper removes it and its blob) or a
finished row. A blob in the store without any row is therefore an orphan for
certain, with no grace period needed to tell it from an upload in flight.

States: receiving -> pending (stored, checked, charged, not yet attached to
a portfolio record) -> attached; pending uploads never attached are reaped
(deleted, quota refunded).
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class BlobState(str, Enum):
    RECEIVING = "receiving"  # intent written, bytes arriving (or the upload died)
    PENDING = "pending"  # stored, checked and charged: waiting to be attached
    ATTACHED = "attached"  # part of a portfolio record
    DELETED = "deleted"  # being removed (blob first, then this row)


class BlobCategory(str, Enum):
    """The policy's size classes; counseling files are documents with their own limit."""

    DOCUMENT = "document"  # pdf, jpg, png
    MEDIA = "media"  # mp3, mp4
    COUNSELING = "counseling"  # 課程諮詢紀錄 files, written by counselors or staff


LIVE_STATES = (BlobState.PENDING, BlobState.ATTACHED)


class StoredBlob(Model):
    """A file in the blob store: its key, size, SHA-256 and type, and whose it is."""

    id = fields.BigIntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tenants.School", related_name="stored_blobs", on_delete=fields.RESTRICT
    )
    # The student the file belongs to (null for a school's own files).
    owner_person: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tenants.Person", related_name="stored_blobs", null=True, on_delete=fields.RESTRICT
    )
    # Whether the size counts against the owner's quota (students' portfolio files do).
    charged = fields.BooleanField(default=True)
    uploader_account_id = fields.IntField(null=True)
    key = fields.CharField(max_length=512, unique=True)
    size = fields.BigIntField(default=0)
    sha256 = fields.CharField(max_length=64, default="")
    kind = fields.CharField(max_length=8, default="")  # pdf | jpeg | png | mp3 | mp4
    mime = fields.CharField(max_length=64, default="")
    category = fields.CharEnumField(BlobCategory, max_length=16)
    display_filename = fields.CharField(max_length=255)
    flags: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    state = fields.CharEnumField(BlobState, max_length=16, default=BlobState.RECEIVING)
    # What the blob is attached to, for people reading the table ("course_outcome:12").
    attached_to = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    attached_at = fields.DatetimeField(null=True)

    school_id: int
    owner_person_id: int | None

    class Meta:
        table = "stored_blob"
        indexes = (("state", "created_at"), ("school", "state"), ("owner_person", "state"))


class QuotaLedger(Model):
    """Bytes charged to one student: changed only by conditional updates (see quota.py)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tenants.School", related_name="quota_ledgers", on_delete=fields.RESTRICT
    )
    person: fields.OneToOneRelation = fields.OneToOneField(
        "tenants.Person", related_name="quota_ledger", on_delete=fields.RESTRICT
    )
    used_bytes = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int
    person_id: int

    class Meta:
        table = "quota_ledger"


__all__ = ["LIVE_STATES", "BlobCategory", "BlobState", "QuotaLedger", "StoredBlob"]
