"""Three `licheng worker --once` processes on one database: each job runs exactly once.

Runs on the suite's backend: a fresh SQLite file, or a fresh PostgreSQL
database on the server of LICHENG_TEST_DATABASE_URL (created and dropped here).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

CLI = os.environ.get("LICHENG_TEST_CLI") or str(Path(sys.executable).with_name("licheng"))
JOBS = 150

SEED = """
import asyncio, sys
from tortoise.transactions import in_transaction
from licheng import db
from licheng.jobs import enqueue
from licheng.settings import Settings
from licheng.tenants.models import Bureau, School

async def main():
    await db.init_db(Settings())
    async with in_transaction():
        bureau = await Bureau.create(code="b1", name="臺北市政府教育局")
        school = await School.create(bureau=bureau, code="000001", name="測試高中")
        for _ in range(int(sys.argv[1])):
            await enqueue("storage.reap", {}, school_id=school.id)
    await db.close_db()

asyncio.run(main())
"""

COUNT = """
import asyncio
from licheng import db
from licheng.jobs import Job
from licheng.settings import Settings

async def main():
    await db.init_db(Settings())
    print(await Job.filter(status="done", attempts=1).count(), await Job.all().count())
    await db.close_db()

asyncio.run(main())
"""


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get("LICHENG_TEST_DATABASE_URL", "")
    if not base:
        yield f"sqlite://{tmp_path / 'workers.sqlite3'}"
        return
    import asyncpg

    parts = urlsplit(base)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    name = f"licheng_jobs_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_three_worker_processes_run_every_job_exactly_once(fresh_database_url: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    env.update(
        LICHENG_DATA_DIR=str(tmp_path / "data"), LICHENG_DATABASE_URL=fresh_database_url,
        LICHENG_DEBUG="true", LICHENG_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
    )  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=120)

    assert (migrated := run(CLI, "migrate")).returncode == 0, migrated.stderr
    assert (seeded := run(sys.executable, "-c", SEED, str(JOBS))).returncode == 0, seeded.stderr

    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [
        subprocess.Popen([CLI, "worker", "--once"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    outputs = [log.read_text(errors="replace") for log in logs]
    assert codes == [0, 0, 0], outputs

    done_by: Counter[str] = Counter()
    per_process: list[int] = []
    for output in outputs:
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        done = [line["request_id"] for line in lines if line["message"] == "job done"]
        done_by.update(done)
        per_process.append(len(done))
    assert len(done_by) == JOBS and set(done_by.values()) == {1}, per_process
    counted = run(sys.executable, "-c", COUNT)
    assert counted.stdout.split() == [str(JOBS), str(JOBS)], counted.stdout + counted.stderr
    print("jobs per worker process:", per_process)
