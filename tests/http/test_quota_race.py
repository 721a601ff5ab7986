"""The quota under concurrency: 50 uploads at once near the limit, through the app.

Runs on SQLite and on PostgreSQL (the suite runs once per backend; on
PostgreSQL the uploads really run in parallel transactions on a pool).
"""

from __future__ import annotations

import asyncio
import random

from licheng.storage.models import StoredBlob
from licheng.tenants.models import Role
from tests.http.conftest import Files
from tests.storage import samples


async def test_fifty_concurrent_uploads_never_take_the_total_over_the_quota(files: Files, factory) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    rng = random.Random(20260901)
    images = [samples.png(rng.randint(20, 90), rng.randint(20, 90)) for _ in range(50)]
    first = samples.png(200, 150)
    quota = len(first) + sum(len(i) for i in images) // 3  # room for about a third of them
    with files.limits(quota_bytes=quota):
        assert (await files.upload(student, first, "first.png")).status_code == 201
        # Half declare their length (checked early, then charged), half stream chunked
        # (only the conditional charge at the end can refuse them).
        responses = await asyncio.gather(
            *(
                files.upload(student, data, f"{n}.png", chunk=4096, stream=n % 2 == 0)
                for n, data in enumerate(images)
            )
        )
    accepted = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code != 201]
    assert all(r["code"] == "QUOTA_EXCEEDED" for r in refused), refused[:3]
    assert accepted and refused
    total = len(first) + sum(a["size"] for a in accepted)
    used = await files.used(student.person.id)
    assert used == total <= quota
    assert used > quota - max(len(i) for i in images)  # it filled up, it did not refuse early
    rows = await StoredBlob.filter(school_id=school.id).values_list("size", flat=True)
    assert len(rows) == len(accepted) + 1 and sum(rows) == used
    assert len(await files.keys(school.id)) == len(accepted) + 1
