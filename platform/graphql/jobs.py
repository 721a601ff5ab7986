"""GraphQL for background jobs (背景工作): staff see their school's jobs, their status and last error.

Read-only: jobs are created by the changes that cause them (a submission, an
import) and run by workers; nobody enqueues arbitrary work through the API.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from licheng import jobs
from licheng.graphql.context import Info
from licheng.graphql.permissions import SignedIn
from licheng.graphql.relay import Connection, Node, connection, node_resolver, pk_of, to_global_id
from licheng.jobs.models import Job as JobRow

JobStatus = strawberry.enum(jobs.JobStatus, name="JobStatus")


@strawberry.type(description="Background work in the school: a submission, an import, a reminder, a clean-up.")
class Job(Node):
    kind: str = strawberry.field(description='What the job does, e.g. "submission.deliver", "storage.reap".')
    status: JobStatus  # type: ignore[valid-type]
    attempts: int
    max_attempts: int
    last_error: str | None = strawberry.field(description="The error class (and a safe message) of the last failed attempt.")
    run_after: datetime = strawberry.field(description="Not run before this time (the next retry, for a failed job).")
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def of(row: JobRow) -> Job:
        return Job(
            id=to_global_id("Job", row.id), kind=row.kind, status=row.status, attempts=row.attempts,
            max_attempts=row.max_attempts, last_error=row.last_error, run_after=row.run_after,
            created_at=row.created_at, finished_at=row.finished_at,
        )  # fmt: skip


@node_resolver("Job")
async def _job_node(info: Info, pk: int) -> Job:
    return Job.of(await jobs.get_job(info.context.actor, pk))


@strawberry.type
class JobQuery:
    @strawberry.field(permission_classes=[SignedIn], description="Staff: the school's background jobs, oldest first.")
    async def jobs(
        self, info: Info, status: JobStatus | None = None, kind: str | None = None,  # type: ignore[valid-type]
        first: int | None = None, after: str | None = None,
    ) -> Connection[Job]:  # fmt: skip
        page = await jobs.list_jobs(info.context.actor, status=status, kind=kind, first=first, after=after)
        return connection(page, Job.of)

    @strawberry.field(permission_classes=[SignedIn], description="Staff: one background job of the school.")
    async def job(self, info: Info, id: strawberry.ID) -> Job:
        return Job.of(await jobs.get_job(info.context.actor, pk_of(id, "Job")))
