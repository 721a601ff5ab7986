"""Uploads through the real app, against the disk itself, and the server's memory under load.

    python bench/upload.py [--dir PATH] [--mb 10] [--rounds 15] [--concurrent 20]

Starts `licheng serve` (uvicorn) on 127.0.0.1 with a fresh SQLite database and
a local blob folder under `--dir` (default: the system temp folder), seeds one
school with enough students that no quota runs out, then prints, in one run:

1. throughput of `--mb` MB uploads (an MP4, media category) through the app,
   one at a time (POST /uploads: HTTP parsing, SHA-256, the size limit, the
   type and structure checks, temp file + fsync + rename + directory fsync,
   the database intent and commit), against writing the same bytes with plain
   write + fsync into the same folder; median of `--rounds`, alternating;
2. the server's peak RSS growth while `--concurrent` such uploads run at once
   (Linux: VmHWM reset through /proc/PID/clear_refs, else sampled VmRSS), and
   the same for its structure-check worker processes (children of the server,
   started at the first upload): their resident size, and their growth.

Targets: ratio >= 0.8, growth < 30 MB. The client is a bare asyncio socket in
this process, so its own costs stay out of the server's numbers.

For context it also measures, in the same interleaved rounds, the two costs
no upload path can avoid, and what they leave reachable on this machine:

* the HTTP floor: the same client sending the same bytes to a bare Starlette
  endpoint under uvicorn that only reads the body (no auth, no hashing, no
  disk). floor/direct is the best ratio an app that added nothing could reach;
  app/floor shows what Licheng itself costs on top of the HTTP stack;
* SHA-256 alone: `hashlib.sha256` over the whole body in one call, in this
  process. sha256/direct is the best ratio of an app that only hashed.

An upload must receive, hash and write every byte. If those overlapped
perfectly its time could not go below the slowest of them (the "overlapped"
bound, direct / max(floor, sha256, direct)); done one after the other they add
up (the "in series" bound, direct / (floor + sha256 + direct)). The client
shares the machine's cores with the server, so the overlapped bound is
optimistic: where it is under 0.8, the target cannot be met here. The last
bound is the CPU the server (with its check processes) and the client spent
per app upload, spread over every core: no upload can finish sooner while
the app needs that much CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SECRET = "bench-secret-key-0123456789abcdef0123"
PASSWORD = "Bench-Passw0rd"
WRITE = 256 * 1024  # the client sends in 256 KiB writes, as a browser roughly does


def mp4_body(total: int) -> bytes:
    """A valid MP4 of exactly `total` bytes: ftyp + moov + one big mdat of noise."""
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big") + b"isomiso2"
    mvhd_payload = (
        bytes(4) + bytes(8) + (1000).to_bytes(4, "big") + (1000).to_bytes(4, "big")
        + (0x00010000).to_bytes(4, "big") + (0x0100).to_bytes(2, "big") + bytes(10)
        + b"".join(v.to_bytes(4, "big") for v in (0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000))
        + bytes(24) + (2).to_bytes(4, "big")
    )  # fmt: skip
    mvhd = (8 + len(mvhd_payload)).to_bytes(4, "big") + b"mvhd" + mvhd_payload
    moov = (8 + len(mvhd)).to_bytes(4, "big") + b"moov" + mvhd
    head = ftyp + moov
    payload = total - len(head) - 8
    return head + (8 + payload).to_bytes(4, "big") + b"mdat" + os.urandom(payload)


def env_for(root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    return {
        **clean,
        "LICHENG_DATA_DIR": str(root / "data"),
        "LICHENG_DATABASE_URL": f"sqlite://{root / 'data' / 'bench.sqlite3'}",
        "LICHENG_STORAGE_URL": f"file://{root / 'blobs'}",
        "LICHENG_SECRET_KEY": SECRET,
        "LICHENG_LOG_LEVEL": "WARNING",
    }


async def seed(env: dict[str, str], students: int) -> list[str]:
    """One school, `students` students; their access tokens."""
    os.environ.update(env)
    from licheng import db
    from licheng.auth import passwords
    from licheng.auth.models import Account
    from licheng.auth.service import sign_in
    from licheng.settings import Settings
    from licheng.tenants.models import Bureau, Membership, Person, Role, School

    settings = Settings(rate_limit_per_minute=0)  # measure the upload path, not the limiter
    await db.migrate(settings)
    await db.init_db(settings)
    try:
        bureau = await Bureau.create(code="bench", name="Bench bureau")
        school = await School.create(bureau=bureau, code="BENCH1", name="Bench school")
        hashed = passwords.hash_password(PASSWORD)
        tokens = []
        for n in range(students):
            account = await Account.create(login=f"bench{n}", display_name="bench", password_hash=hashed)
            person = await Person.create(school=school, account=account, name=f"s{n}", student_number=f"B{n:05d}")
            await Membership.create(school=school, person=person, role=Role.STUDENT)
            tokens.append((await sign_in(settings, account.login, PASSWORD, school.code)).access_token)
        return tokens
    finally:
        await db.close_db()


async def upload(port: int, token: str, body: bytes) -> float:
    """One upload over a fresh connection; seconds from the first byte sent to the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /uploads?category=media&filename=bench.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    start = time.perf_counter()
    writer.write(head)
    view = memoryview(body)
    for offset in range(0, len(body), WRITE):
        writer.write(view[offset : offset + WRITE])
        await writer.drain()
    status = await reader.readline()
    await reader.read()
    elapsed = time.perf_counter() - start
    writer.close()
    if b" 201 " not in status:
        raise RuntimeError(f"upload refused: {status!r}")
    return elapsed


def serve_bare(port: int) -> None:
    """The floor: a Starlette endpoint under uvicorn that only reads the body."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def drain(request: Request) -> Response:
        async for _ in request.stream():
            pass
        return Response(status_code=201)

    app = Starlette(routes=[Route("/uploads", drain, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def start_server(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = int(subprocess.check_output([sys.executable, "-c", "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"]))
    server = subprocess.Popen([*command, str(port)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:]) from None
            await asyncio.sleep(0.1)


def direct(folder: Path, body: bytes) -> float:
    path = folder / uuid.uuid4().hex
    view = memoryview(body)
    start = time.perf_counter()
    with open(path, "wb") as out:
        for offset in range(0, len(body), WRITE):
            out.write(view[offset : offset + WRITE])
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


async def sha256_alone(body: bytes) -> float:
    """Seconds of hashlib.sha256 over the whole body in one call (the least any upload hashes)."""
    start = time.perf_counter()
    hashlib.sha256(body).digest()
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed_upload(port: int, token: str, body: bytes, client_cpu: list[float]) -> float:
    """`upload`, also noting the CPU this process (the client) spent on it."""
    start = time.process_time()
    elapsed = await upload(port, token, body)
    client_cpu.append(time.process_time() - start)
    return elapsed


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the fork server and the check workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


async def peak_growth(pids: list[int], work: asyncio.Future[object]) -> tuple[float, str]:
    """MB the resident memory of `pids` (summed) grew at its peak while `work` ran."""
    before = {pid: status_kb(pid, "VmRSS") for pid in pids}
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        method = "VmHWM"
    except OSError:
        method = "sampled VmRSS"
    peak = dict(before)
    while not work.done():
        for pid in pids:
            peak[pid] = max(peak[pid], status_kb(pid, "VmRSS"))
        await asyncio.sleep(0.005)
    await work
    if method == "VmHWM":
        peak = {pid: max(peak[pid], status_kb(pid, "VmHWM")) for pid in pids}
    return sum(peak[pid] - before[pid] for pid in pids) / 1024, method


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--mb", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()

    total = args.mb * 1000 * 1000
    body = mp4_body(total)
    root = Path(tempfile.mkdtemp(prefix="licheng-bench-", dir=args.dir))
    env = env_for(root)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        tokens = await seed(env, args.rounds + args.concurrent + 2)
        (root / "direct").mkdir()
        log = root / "server.log"
        bare, bare_port = await start_server([sys.executable, __file__, "--serve-bare"], env, log)
        servers.append(bare)
        server, port = await start_server(
            [sys.executable, "-c", "from licheng.cli import main; main()", "serve", "--port"], env, log
        )
        servers.append(server)

        await upload(port, tokens.pop(), body)  # warm up every path
        await upload(bare_port, "", body)
        direct(root / "direct", body)
        await sha256_alone(body)
        server_pids = [server.pid, *descendants(server.pid)]  # with the check processes the warm-up started
        server_cpu_before = sum(cpu_seconds(pid) for pid in server_pids)
        client_cpu: list[float] = []
        app_times: list[float] = []
        bare_times: list[float] = []
        direct_times: list[float] = []
        sha_times: list[float] = []
        for index in range(args.rounds):  # interleaved, so load changes hit all four alike
            order = [
                lambda: timed_upload(port, tokens.pop(), body, client_cpu),
                lambda: upload(bare_port, "", body),
                lambda: asyncio.to_thread(direct, root / "direct", body),
                lambda: sha256_alone(body),
            ]
            results = {}
            for step in range(len(order)):
                position = (index + step) % len(order)
                results[position] = await order[position]()
            app_times.append(results[0])
            bare_times.append(results[1])
            direct_times.append(results[2])
            sha_times.append(results[3])
        server_cpu = (sum(cpu_seconds(pid) for pid in server_pids) - server_cpu_before) / args.rounds

        helpers = descendants(server.pid)  # started by the warm-up upload
        helpers_rss = sum(status_kb(pid, "VmRSS") for pid in helpers) / 1024
        burst = asyncio.ensure_future(asyncio.gather(*(upload(port, tokens.pop(), body) for _ in range(args.concurrent))))
        growth_all = asyncio.ensure_future(peak_growth(helpers, burst))
        growth, method = await peak_growth([server.pid], burst)
        helpers_growth, _ = await growth_all
        burst_seconds = max(burst.result())
    finally:
        for running in servers:
            running.terminate()
            running.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)

    app_s, bare_s = statistics.median(app_times), statistics.median(bare_times)
    direct_s, sha_s = statistics.median(direct_times), statistics.median(sha_times)
    app_rate, bare_rate, direct_rate, sha_rate = (total / 1e6 / t for t in (app_s, bare_s, direct_s, sha_s))
    print(f"upload                 {args.mb} MB MP4, {args.rounds} rounds, uvicorn + SQLite + local disk in {args.dir}")
    print(f"direct write + fsync   {direct_rate:8.1f} MB/s (median, {direct_s * 1000:.1f} ms)")
    print(f"through the app        {app_rate:8.1f} MB/s (median, {app_s * 1000:.1f} ms, POST /uploads to 201)")
    per_round = sorted(d / a for a, d in zip(app_times, direct_times, strict=True))
    quartiles = statistics.quantiles(per_round, n=4)
    print(f"ratio app/direct       {app_rate / direct_rate:8.2f}   (target >= 0.8; per round: "
          f"{quartiles[0]:.2f}-{quartiles[2]:.2f} interquartile)")
    print(f"HTTP floor             {bare_rate:8.1f} MB/s (median, {bare_s * 1000:.1f} ms, bare Starlette endpoint "
          "that only reads the body)")
    print(f"ratio app/floor        {app_rate / bare_rate:8.2f}   (what Licheng costs on top of HTTP)")
    print(f"sha256 alone           {sha_rate:8.1f} MB/s (median, {sha_s * 1000:.1f} ms, hashlib.sha256 over the body, "
          "one call)")
    print("reachable app/direct on this machine, at best:")
    print(f"  floor/direct         {direct_s / bare_s:8.2f}   (an app that added nothing to the HTTP stack)")
    print(f"  sha256 alone/direct  {direct_s / sha_s:8.2f}   (an app that only hashed)")
    print(f"  overlapped           {direct_s / max(bare_s, sha_s, direct_s):8.2f}   (receive, hash and write fully "
          "overlapped: the slowest of them)")
    print(f"  in series            {direct_s / (bare_s + sha_s + direct_s):8.2f}   (receive, then hash, then write)")
    cores = os.cpu_count() or 1
    busy = server_cpu + statistics.median(client_cpu)
    print(f"CPU per app upload     server {server_cpu * 1000:.1f} ms (with its check processes), client "
          f"{statistics.median(client_cpu) * 1000:.1f} ms: on {cores} cores no faster than {busy / cores * 1000:.1f} ms, "
          f"app/direct <= {direct_s * cores / busy:.2f} with today's CPU use")
    print(f"{args.concurrent} concurrent uploads  peak RSS growth {growth:6.1f} MB ({method}; target < 30 MB), "
          f"all 201 within {burst_seconds:.1f} s")
    print(f"check processes        {len(helpers)} (fork server + workers): {helpers_rss:.0f} MB resident "
          f"before the burst, grew {helpers_growth:.1f} MB during it")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-bare"]:  # the floor's server, started by main()
        serve_bare(int(sys.argv[2]))
    else:
        asyncio.run(main())
