"""The audit trail: who, acting as which role, did what to which record, when.

Every feature writes here through ``record``; reading a student's personal
data by someone else is recorded too. Entries never hold national IDs,
passwords or tokens: ``changes`` must already be redacted by the caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from licheng.tenants.actor import Actor


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    # Null for platform-level actions (creating a bureau); otherwise the tenant.
    school_id = fields.IntField(null=True, db_index=True)
    bureau_id = fields.IntField(null=True, db_index=True)
    account_id = fields.IntField(null=True)
    acting_role = fields.CharField(max_length=32)
    action = fields.CharField(max_length=64)
    record_type = fields.CharField(max_length=64)
    record_id = fields.CharField(max_length=64, null=True)
    student_id = fields.IntField(null=True, db_index=True)
    changes: dict | None = fields.JSONField(null=True)  # type: ignore[assignment]
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_entry"


async def record(
    actor: Actor | None,
    action: str,
    record_type: str,
    record_id: object = None,
    *,
    school_id: int | None = None,
    bureau_id: int | None = None,
    student_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry. ``school_id`` defaults to the actor's school."""
    return await AuditEntry.create(
        school_id=school_id if school_id is not None else (actor.school_id if actor else None),
        bureau_id=bureau_id,
        account_id=actor.account_id if actor else None,
        acting_role=actor.acting_role if actor else "system",
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        student_id=student_id,
        changes=changes,
    )
