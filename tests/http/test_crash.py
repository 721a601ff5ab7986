"""Crash safety: the real server (`licheng serve`, uvicorn) killed with SIGKILL mid-upload, 20 times.

Each round starts the server on 127.0.0.1 (the session's database, a local
blob folder of this test), streams one upload slowly and kills the process at
a random moment: while the body arrives, or just after its last byte (the
store's fsync, the checks, the commit, the answer). Afterwards:
- every upload that was acknowledged (201) is in the database with its
  SHA-256, and its blob is intact;
- `licheng storage verify` reports nothing missing, corrupted or orphaned and
  the quota ledger equals the sum of the blobs that are referenced;
- `licheng storage reap` removes what the killed uploads left (intents,
  temporary files), and verify is clean again, with nothing in progress.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from licheng.auth.service import sign_in
from licheng.settings import Settings
from licheng.storage.models import LIVE_STATES, BlobState, QuotaLedger, StoredBlob
from licheng.storage.service import upload_pk
from licheng.tenants.models import Role
from tests.conftest import PASSWORD
from tests.storage import samples

ROUNDS = 20
CHUNK = 64 * 1024
PAUSE = 0.01  # between chunks: the body takes ~0.25 s, a wide window to land in


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(settings: Settings, blobs: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    return {
        **clean,
        "LICHENG_DATABASE_URL": settings.resolved_database_url,
        "LICHENG_STORAGE_URL": f"file://{blobs}",
        "LICHENG_SECRET_KEY": settings.secret_key,
        "LICHENG_DATA_DIR": str(settings.data_dir),
        "LICHENG_LOG_LEVEL": "WARNING",
        "LICHENG_JOBS_IN_PROCESS": "false",  # the session's jobs are the tests' to run, not these servers'
        "PYTHONUNBUFFERED": "1",
    }


class Servers:
    """Fresh servers on demand, forked from a process that imported the app once."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.zygote = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("server_zygote.py"))],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    async def start(self) -> tuple[int, str]:
        assert self.zygote.stdin and self.zygote.stdout
        port = _free_port()
        self.zygote.stdin.write(f"serve {port} {self.log}\n")
        self.zygote.stdin.flush()
        pid = int(await asyncio.to_thread(self.zygote.stdout.readline))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{base}/healthz", timeout=1)).status_code == 200:
                        return pid, base
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or not _alive(pid):
                    pytest.fail(f"server did not start: {self.log.read_text()[-3000:]}")
                await asyncio.sleep(0.05)

    async def licheng(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`licheng ARGS` run from the same warm process."""
        assert self.zygote.stdin and self.zygote.stdout
        out, err = self.log.with_suffix(".out"), self.log.with_suffix(".err")
        self.zygote.stdin.write(" ".join(["run", str(out), str(err), *args]) + "\n")
        self.zygote.stdin.flush()
        code = int(await asyncio.to_thread(self.zygote.stdout.readline))
        return subprocess.CompletedProcess(args, code, out.read_text(), err.read_text())

    def close(self) -> None:
        if self.zygote.stdin:
            self.zygote.stdin.close()
        self.zygote.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _killed(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)  # no cleanup of any kind
    while _alive(pid):  # the zygote reaps it
        await asyncio.sleep(0.01)


def _file(round_number: int) -> tuple[str, str, bytes]:
    if round_number % 4 == 3:
        return "document", f"海報{round_number}.png", samples.png(300 + round_number, 200)
    return "media", f"影片{round_number}.mp4", samples.mp4(mdat_bytes=1_500_000 + round_number * 4099)


async def _upload_and_kill(base: str, token: str, pid: int, rng: random.Random, round_number: int) -> dict | None:
    category, name, data = _file(round_number)
    body_done = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
            await asyncio.sleep(PAUSE)
        body_done.set()

    async def killer() -> None:
        if rng.random() < 0.5:  # anywhere in the body
            await asyncio.sleep(rng.uniform(0, PAUSE * len(data) / CHUNK))
        else:  # after the last byte: fsync, checks, commit, answer
            await body_done.wait()
            await asyncio.sleep(rng.uniform(0, 0.03))
        await _killed(pid)

    kill = asyncio.create_task(killer())
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{base}/uploads",
                params={"category": category, "filename": name},
                content=body(),
                headers={"authorization": f"Bearer {token}"},
            )
    except httpx.TransportError:
        return None  # killed before answering: not acknowledged, may or may not be kept
    finally:
        await kill
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["sha256"] == hashlib.sha256(data).hexdigest()
    return answer


async def test_killing_the_server_mid_upload_loses_nothing_acknowledged_and_leaves_nothing_wrong(
    settings: Settings, factory, tmp_path: Path
) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    token = (await sign_in(settings, student.login, PASSWORD, school.code)).access_token
    blobs = tmp_path / "blobs"
    env = _env(settings, blobs)
    seed = int(os.environ.get("LICHENG_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    acknowledged: list[dict] = []
    servers = Servers(env, tmp_path / "server.log")
    try:
        for round_number in range(ROUNDS):
            pid, base = await servers.start()
            answer = await _upload_and_kill(base, token, pid, rng, round_number)
            if answer is not None:
                acknowledged.append(answer)
        await _check_afterwards(servers, school, student, blobs, acknowledged, seed)
    finally:
        servers.close()


async def _check_afterwards(
    servers: Servers, school, student, blobs: Path, acknowledged: list[dict], seed: int
) -> None:
    note = f"(seed {seed}; {len(acknowledged)} of {ROUNDS} acknowledged before the kill)"
    for answer in acknowledged:  # acknowledged means durable: row and blob both there
        row = await StoredBlob.get_or_none(id=upload_pk(answer["uploadId"]))
        assert row is not None and row.state is BlobState.PENDING, note
        assert (row.sha256, row.size) == (answer["sha256"], answer["size"]), note

    verify = await servers.licheng("storage", "verify", "--school", school.code)
    assert verify.returncode == 0, f"{note}\n{verify.stdout}\n{verify.stderr}"
    for line in ("missing    0", "corrupted  0", "orphaned   0", "quota      0"):
        assert line in verify.stdout, f"{note}\n{verify.stdout}"

    reap = await servers.licheng("storage", "reap", "--school", school.code, "--intents-hours", "0")
    assert reap.returncode == 0, reap.stdout + reap.stderr
    assert not await StoredBlob.filter(school_id=school.id, state=BlobState.RECEIVING).exists()
    assert [p for p in blobs.rglob(".*") if p.is_file()] == [], "temporary files left after reaping"

    again = await servers.licheng("storage", "verify", "--school", school.code)
    assert again.returncode == 0 and "in progress" not in again.stdout, again.stdout + again.stderr
    live = await StoredBlob.filter(school_id=school.id, state__in=list(LIVE_STATES))
    ledger = await QuotaLedger.get_or_none(person_id=student.person.id)
    assert (ledger.used_bytes if ledger else 0) == sum(r.size for r in live), note
    assert {upload_pk(a["uploadId"]) for a in acknowledged} <= {r.id for r in live}, note
    on_disk = sorted(p.relative_to(blobs).as_posix() for p in blobs.rglob("*") if p.is_file())
    assert on_disk == sorted(r.key for r in live), note
