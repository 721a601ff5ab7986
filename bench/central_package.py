"""The central-database package of a 2,000-student school: build and open time, peak memory.

    python bench/central_package.py [--students 2000] [--file-bytes 2048] [--no-files]

The school is generated in memory as a frozen ``BatchSnapshot`` (not through
the database): the yearly batch, every student with 6 course outcomes and 10
diverse performances of random kinds (16 items each, 32,000 for 2,000
students), each item with one document and every other one a media file too
(file manifests in the rosters and the manifest; the bytes are small and
regenerated from a seed, so the file source costs no memory). Then:

* build: ``build_package`` with the files included, timed, with the RSS growth
  (Linux: VmHWM after resetting it through /proc/self/clear_refs);
* open: ``open_package`` (signature, decryption, every checksum and row) and
  ``validate_caps``, timed;
* build again under tracemalloc: its peak (tracemalloc slows Python, so the
  timed run is the one above);
* a term batch (enrolment, cadre, 12 course records per student) built, timed.

Prints each figure against its target (< 30 s, < 250 MB) as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import resource
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from licheng.portfolio.kinds import KIND_FIELDS
from licheng.portfolio.models import PerformanceKind
from licheng.portfolio.submission_port import BatchSnapshot, SnapshotItem
from moe_central.crypto import generate_rsa_keypair
from moe_central.package import build_package, open_package, validate_caps

SCHOOL, YEAR = "123456", 115
TIME_TARGET, MEMORY_TARGET = 30.0, 250 * 1024 * 1024
SAMPLE: dict[str, Any] = {"text": "範例", "date": "2026-09-01", "int": 3, "decimal": "12"}


class SyntheticFiles:
    """A file source whose bytes are regenerated from a seed: checksums are real, memory is not spent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seeds: dict[str, int] = {}

    def data(self, seed: int) -> bytes:
        block = hashlib.sha512(seed.to_bytes(8, "big", signed=True)).digest()
        return (block * (self.size // len(block) + 1))[: self.size]

    def add(self, seed: int, kind: str) -> dict[str, Any]:
        sha = hashlib.sha256(self.data(seed)).hexdigest()
        self.seeds[sha] = seed
        return {"kind": kind, "size": self.size, "sha256": sha, "filename": f"{seed}.bin"}

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        yield self.data(self.seeds[sha256])


def details(kind: PerformanceKind) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in KIND_FIELDS[kind]:
        out[spec.name] = spec.choices[0] if spec.type == "choice" else SAMPLE[spec.type]
    return out


def year_snapshot(students: int, files: SyntheticFiles | None) -> BatchSnapshot:
    rng, kinds, seed = random.Random(7), list(PerformanceKind), 0
    items: list[SnapshotItem] = []
    for s in range(1, students + 1):
        for n in range(16):
            seed += 1
            described = [files.add(seed, "document")] if files else []
            if files and seed % 2:
                described.append(files.add(-seed, "media"))
            if n < 6:
                content: dict[str, Any] = {"academic_year": YEAR, "term": 1 + n % 2, "course_code": f"{YEAR}{SCHOOL}1A1B2C3D4E5F{n:02d}",
                                           "subject_name": "國語文", "grade": 10, "credits": 4, "brief": "課程學習成果簡述" * 5,
                                           "version": 1, "certified_at": "2027-01-20T10:00:00+08:00", "files": described}  # fmt: skip
                item_type = "outcome"
            else:
                kind = rng.choice(kinds)
                content = {"academic_year": YEAR, "kind": kind.value, "title": "多元表現", "brief": "多元表現簡述" * 5,
                           "details": details(kind), "external_url": None, "late_addition": False, "version": 1, "files": described}  # fmt: skip
                item_type = "performance"
            items.append(SnapshotItem(s, f"S{s:06d}", item_type, seed, content, tuple(f["sha256"] for f in described), f"{seed:064x}"))
    return BatchSnapshot(1, SCHOOL, YEAR, 0, "year", tuple(items), hashlib.sha256(b"bench").hexdigest())


def term_snapshot(students: int) -> BatchSnapshot:
    items: list[SnapshotItem] = []
    for s in range(1, students + 1):
        number = f"S{s:06d}"
        items.append(SnapshotItem(s, number, "enrolment", s, {"academic_year": YEAR, "grade": 10, "class_code": "101", "seat": s % 40,
                                                              "department": "普通科", "status": "enrolled"}, (), "e"))  # fmt: skip
        items.append(SnapshotItem(s, number, "cadre", s, {"academic_year": YEAR, "level": "class", "unit": "101班", "position": "班長",
                                                          "starts_on": "2026-08-01", "ends_on": None}, (), "c"))  # fmt: skip
        for n in range(12):
            items.append(SnapshotItem(s, number, "course_record", s * 100 + n, {"academic_year": YEAR, "course_code": f"{YEAR}{SCHOOL}1A1B2C3D4E5F{n:02d}",
                                      "subject_name": "數學", "grade": 10, "credits": 4, "score": "88.50", "passed": True}, (), "r"))  # fmt: skip
    return BatchSnapshot(2, SCHOOL, YEAR, 1, "term", tuple(items), hashlib.sha256(b"term").hexdigest())


def national_ids(students: int) -> dict[int, str]:
    return {s: f"A1{s:08d}" for s in range(1, students + 1)}


def rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


async def main(args: argparse.Namespace) -> None:
    files = None if args.no_files else SyntheticFiles(args.file_bytes)
    snapshot = year_snapshot(args.students, files)
    ids = national_ids(args.students)
    central_private, central_public = generate_rsa_keypair()
    school_private, school_public = generate_rsa_keypair()
    work = Path(tempfile.mkdtemp(prefix="bench-central-"))
    print(f"school: {args.students} students, {len(snapshot.items)} items, "
          f"{len(files.seeds) if files else 0} files of {args.file_bytes} B, RSA 3072")  # fmt: skip
    kw: dict[str, Any] = {"national_ids": ids, "file_source": files, "central_public_key_pem": central_public,
          "school_private_key_pem": school_private, "now": datetime.now(UTC)}  # fmt: skip
    try:
        before = rss()
        exact = reset_peak_rss()
        start = time.perf_counter()
        built = await build_package(snapshot, out_dir=work / "a", **kw)
        build_s = time.perf_counter() - start
        growth = (peak_rss() if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - before
        print(f"package: {mb(built.size)}, {len(built.manifest['rosters'])} rosters, {len(built.manifest['files'])} files")
        print(f"build: {build_s:.2f} s  (target < {TIME_TARGET:.0f} s, ratio {build_s / TIME_TARGET:.3f})")
        print(f"build RSS growth{'' if exact else ' (ru_maxrss, coarse)'}: {mb(growth)}  "
              f"(target < 250 MB, ratio {growth / MEMORY_TARGET:.3f})")  # fmt: skip

        start = time.perf_counter()
        opened = open_package(built.path, central_private_key_pem=central_private, school_public_key_pem=school_public, work_dir=work / "open")
        validate_caps(opened)
        open_s = time.perf_counter() - start
        print(f"open + validate_caps: {open_s:.2f} s  (ratio to the build target {open_s / TIME_TARGET:.3f})")

        tracemalloc.start()
        start = time.perf_counter()
        await build_package(snapshot, out_dir=work / "b", **kw)
        traced_s = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"build tracemalloc peak: {mb(peak)}  (target < 250 MB, ratio {peak / MEMORY_TARGET:.3f}; "
              f"package/peak {built.size / peak:.1f}x; traced run {traced_s:.2f} s)")  # fmt: skip

        term = term_snapshot(args.students)
        start = time.perf_counter()
        term_built = await build_package(term, out_dir=work / "c", **{**kw, "file_source": None})
        term_s = time.perf_counter() - start
        print(f"term batch: {len(term.items)} items, {mb(term_built.size)}, build {term_s:.2f} s (ratio {term_s / TIME_TARGET:.3f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--file-bytes", type=int, default=2048)
    parser.add_argument("--no-files", action="store_true", help="manifest only: no file bytes in the package")
    asyncio.run(main(parser.parse_args()))
