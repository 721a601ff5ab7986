"""`licheng worker --once`: drains the due jobs of a fresh embedded database, then exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = os.environ.get("LICHENG_TEST_CLI") or str(Path(sys.executable).with_name("licheng"))

SEED = """
import asyncio
from licheng import db
from licheng.jobs import enqueue
from licheng.settings import Settings
from licheng.tenants.models import Bureau, School

async def main():
    await db.init_db(Settings())
    bureau = await Bureau.create(code="b1", name="臺北市政府教育局")
    school = await School.create(bureau=bureau, code="000001", name="測試高中")
    job = await enqueue("storage.reap", {}, school_id=school.id)
    print(job.id, school.id)
    await db.close_db()

asyncio.run(main())
"""


def test_worker_once_runs_the_due_jobs_with_their_school_in_the_log_and_exits_zero(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    env.update(LICHENG_DATA_DIR=str(tmp_path / "data"), LICHENG_DEBUG="true", PYTHONUNBUFFERED="1")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=120)

    assert run(CLI, "migrate").returncode == 0
    seeded = run(sys.executable, "-c", SEED)
    assert seeded.returncode == 0, seeded.stderr
    job_id, school_id = (int(v) for v in seeded.stdout.split())

    worker = run(CLI, "worker", "--once")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    lines = [json.loads(line) for line in worker.stdout.splitlines() if line.strip()]
    done = [line for line in lines if line["message"] == "job done"]
    assert len(done) == 1
    line = done[0]
    assert (line["request_id"], line["school_id"], line["kind"]) == (f"job-{job_id}", school_id, "storage.reap")


SLOW_WORKER = """
import asyncio, sys
from licheng import db
from licheng.jobs import enqueue, job_handler, run_worker
from licheng.settings import Settings
from licheng.tenants.models import Bureau, School

@job_handler("test.slow")
async def slow(actor, payload, context):
    await asyncio.sleep(float(payload["seconds"]))

async def seed():
    await db.init_db(Settings())
    bureau = await Bureau.create(code="b1", name="臺北市政府教育局")
    school = await School.create(bureau=bureau, code="000001", name="測試高中")
    for _ in range(2):
        await enqueue("test.slow", {"seconds": 3}, school_id=school.id)
    await db.close_db()

asyncio.run(seed())
run_worker(Settings())
"""


def test_on_sigterm_the_worker_finishes_the_job_in_hand_then_exits_zero(tmp_path: Path):
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    env.update(LICHENG_DATA_DIR=str(tmp_path / "data"), LICHENG_DEBUG="true", PYTHONUNBUFFERED="1")
    assert subprocess.run([CLI, "migrate"], env=env, capture_output=True, timeout=120).returncode == 0
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while '"job started"' not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text(errors="replace")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines() if line.startswith("{")]
    # The first job ran to the end; the second was left queued for the next worker.
    assert messages.count("job started") == 1 and messages.count("job done") == 1, messages
    assert messages[-1] == "worker stopped"
