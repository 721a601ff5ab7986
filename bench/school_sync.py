"""Applying a school-system roster (``licheng.tenants.sync.apply_rows``): first run vs an unchanged re-run.

    python bench/school_sync.py [--classes 30] [--students-per-class 40] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

A school of 30 classes x 40 students (1,200) with 90 teachers, national IDs
included, is applied to an empty school (everything created), then applied
again unchanged (everything read and compared, nothing written), then once more
with 5 % of the students moved and 2 % gone (updates and deactivations).
Prints the rows per second of each run and the ratios against the first run,
and the ratio of the first run to a target of 60 s for a 2,000-student school
(extrapolated linearly). The HTTP side (one ``/people/{uuid}`` per person) is not
included: it is bounded by the single sign-on, at ``sync_concurrency`` at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from licheng import db
from licheng.settings import Settings
from licheng.tenants import sync
from licheng.tenants.actor import system_actor
from licheng.tenants.models import Bureau, School

LETTERS = {"A": 10}
TARGET_SECONDS_2000 = 60.0


def national_id(n: int) -> str:
    body = f"1{n:07d}"
    digits = [1, 0, *map(int, body)]
    total = sum(d * w for d, w in zip(digits, (1, 9, 8, 7, 6, 5, 4, 3, 2, 1)))
    return f"A{body}{(10 - total % 10) % 10}"


def roster(classes: int, per_class: int, *, moved: float = 0.0, gone: float = 0.0) -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {"classes": [], "teachers": [], "students": []}
    codes = [f"{100 * (1 + c // 10) + 1 + c % 10}" for c in range(classes)]
    for index, code in enumerate(codes):
        rows["classes"].append({"code": code, "name": f"{code}班", "grade": str(10 + index // 10)})
    for t in range(classes * 3):
        rows["teachers"].append({"staff_number": f"T{t:04d}", "name": f"教師{t}", "national_id": national_id(900_000 + t),
                                 "tutor_class": codes[t] if t < classes else ""})  # fmt: skip
    total = classes * per_class
    for s in range(total):
        if s < total * gone:
            continue
        code = codes[(s // per_class + (1 if s % 20 == 0 and moved else 0)) % classes]
        rows["students"].append({"student_number": f"S{s:06d}", "name": f"學生{s}", "class_code": code,
                                 "seat": str(s % per_class + 1), "national_id": national_id(s)})  # fmt: skip
    return rows


async def _admin(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="licheng-sync-bench-"))
    url = f"sqlite://{folder / 'bench.sqlite3'}"
    scratch = ""
    if args.postgres:  # a scratch database on that server, dropped at the end: never the given one
        scratch = f"licheng_bench_{uuid.uuid4().hex[:10]}"
        await _admin(args.postgres, f'CREATE DATABASE "{scratch}"')
        parts = urlsplit(args.postgres)
        url = urlunsplit(("postgres", parts.netloc, f"/{scratch}", "", ""))
    settings = Settings(data_dir=folder, database_url=url, secret_key="bench-secret-key-0123456789abcdef0123")
    await db.migrate(settings)
    await db.init_db(settings)
    try:
        bureau = await Bureau.create(code=f"bench{int(time.time())}", name="bench")
        school = await School.create(bureau=bureau, code=f"{int(time.time()) % 1_000_000:06d}", name="bench")
        actor = system_actor(school.id)
        runs = [("first (create)", roster(args.classes, args.students_per_class)),
                ("unchanged re-run", roster(args.classes, args.students_per_class)),
                ("5% moved, 2% gone", roster(args.classes, args.students_per_class, moved=0.05, gone=0.02))]  # fmt: skip
        first = 0.0
        for label, rows in runs:
            started = time.perf_counter()
            report = await sync.apply_rows(settings, actor, rows)
            seconds = time.perf_counter() - started
            first = first or seconds
            count = sum(len(v) for v in rows.values())
            print(f"{label:20s} {count:6d} rows {count / seconds:8.0f} rows/s  ratio to first {seconds / first:5.2f}"
                  f"  changed={report.changed} students={vars(report.students)}")  # fmt: skip
        students = args.classes * args.students_per_class
        print(f"first run, extrapolated to 2,000 students / {TARGET_SECONDS_2000:.0f} s target: "
              f"{first * 2000 / students / TARGET_SECONDS_2000:.2f}")  # fmt: skip
    finally:
        await db.close_db()
        if scratch:
            await _admin(args.postgres, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--students-per-class", type=int, default=40)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server URL; the bench uses a scratch database there")
    asyncio.run(main(parser.parse_args()))
