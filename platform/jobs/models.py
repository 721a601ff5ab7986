"""The job table: one row per unit of background work, from enqueue to done or dead.

A job is written in the same transaction as the change that causes it, so it
exists exactly when that change does. Status moves:

    queued -> running -> done
                      -> failed (retry scheduled at run_after) -> running ...
                      -> dead (max_attempts reached, or refused)
    running, lease expired (the worker died) -> claimable again

``attempts`` grows by one at every claim and doubles as the row's version: a
claim or a settlement only applies to the attempt it read.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class JobStatus(str, Enum):
    QUEUED = "queued"  # waiting for its first run
    RUNNING = "running"  # claimed by a worker, under a lease (locked_by, locked_until)
    DONE = "done"
    FAILED = "failed"  # the last attempt failed: a retry waits for run_after
    DEAD = "dead"  # given up: max_attempts reached, or refused (see last_error)


# Statuses whose jobs wait for a worker (once run_after has passed).
WAITING = (JobStatus.QUEUED, JobStatus.FAILED)


class Job(Model):
    """Background work in one school (school null only for kinds declared platform-level)."""

    id = fields.BigIntField(primary_key=True)
    school: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tenants.School", related_name="jobs", null=True, on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=64)
    # Identifiers and options only (never personal data): handlers read the rows themselves.
    payload: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.QUEUED)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=8)
    run_after = fields.DatetimeField()
    locked_by = fields.CharField(max_length=128, null=True)
    locked_until = fields.DatetimeField(null=True)
    # The error class and, for errors that promise it, a safe message: no personal data.
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    # Stored as "<school id or platform>:<kind>:<caller's key>", so keys never meet across schools.
    idempotency_key = fields.CharField(max_length=255, null=True, unique=True)

    school_id: int | None

    class Meta:
        table = "job"
        indexes = (("status", "run_after"), ("school", "status"))
