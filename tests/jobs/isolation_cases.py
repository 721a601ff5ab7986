"""Isolation cases of the jobs' GraphQL fields: school A's staff never see school B's jobs."""

from __future__ import annotations

from typing import Any

from licheng.graphql.relay import to_global_id
from licheng.jobs import enqueue
from tests.graphql.isolation import Case, World

# A job kind every session has (registered by the platform).
KIND = "storage.reap"


async def _job_of_b(world: World) -> dict[str, Any]:
    job = await enqueue(KIND, {"intents_hours": 7}, school_id=world.school_b.id)
    world.extra["job"] = job
    return {"id": to_global_id("Job", job.id)}


def _secrets(world: World) -> list[str]:
    job = world.extra.get("job")
    return [world.school_b.name] + ([to_global_id("Job", job.id)] if job is not None else [])


CASES: dict[str, Case] = {
    "Query.jobs": Case("{ jobs(kind: \"storage.reap\", first: 100) { edges { node { id kind status } } } }", _job_of_b, _secrets),
    "Query.job": Case("query($id: ID!) { job(id: $id) { id kind status lastError } }", _job_of_b, _secrets),
}
