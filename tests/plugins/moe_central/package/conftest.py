"""Package fixtures: RSA keys (made once), a generated year or term snapshot, an in-memory file source."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from licheng.portfolio.submission_port import BatchSnapshot, SnapshotItem
from moe_central.crypto import generate_rsa_keypair

NOW = datetime(2026, 10, 15, 1, 30, tzinfo=UTC)  # 09:30 in Taipei
SCHOOL = "123456"
YEAR = 115


@dataclass(frozen=True)
class Keys:
    central_private: bytes
    central_public: bytes
    school_private: bytes
    school_public: bytes
    other_private: bytes
    other_public: bytes


@pytest.fixture(scope="session")
def keys() -> Keys:
    central, school, other = generate_rsa_keypair(2048), generate_rsa_keypair(2048), generate_rsa_keypair(2048)
    return Keys(*central, *school, *other)


def national_id(n: int) -> str:
    """A valid-looking ID (A1 + 8 digits); the roster checks its shape, the core checked its digit."""
    return f"A1{n:08d}"


@dataclass
class MemoryFiles:
    """A ``FileSource`` over bytes in memory, streamed in small chunks as the blob store would."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    chunk: int = 8192

    def add(self, data: bytes) -> dict[str, Any]:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return {"kind": "document", "size": len(data), "sha256": sha, "filename": "x.pdf"}

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        data = self.blobs[sha256]
        for start in range(0, len(data), self.chunk):
            yield data[start : start + self.chunk]


def outcome(student: int, n: int, files: MemoryFiles | None = None, *, term: int = 1) -> SnapshotItem:
    described = [files.add(f"outcome {student} {n}".encode() * 20)] if files else []
    content = {
        "academic_year": YEAR, "term": term, "course_code": f"{YEAR}{SCHOOL}1A1B2C3D4E5F{n:02d}", "subject_name": "國語文",
        "grade": 10, "credits": 4, "brief": f"第 {n} 件成果，含逗號, 與\"引號\"", "version": 1,
        "certified_at": "2027-01-20T10:00:00+08:00", "files": described,
    }  # fmt: skip
    return SnapshotItem(student, f"S{student:05d}", "outcome", student * 100 + n, content,
                        tuple(f["sha256"] for f in described), f"o{student}-{n}")  # fmt: skip


PERFORMANCE_DETAILS: dict[str, dict[str, Any]] = {
    "self_directed": {"starts_on": "2026-09-01", "hours": "12"},
    "club": {"club_name": "天文社", "position": "社長", "starts_on": "2026-09-01"},
    "cadre": {"unit": "學生會", "starts_on": "2026-09-01", "position": "會長", "level": "school"},
    "competition": {"competition_name": "全國科展", "level": "national", "award": "第一名", "announced_on": "2027-03-01"},
    "certificate": {"certificate_code": "TOEIC", "score": "850", "obtained_on": "2027-01-10", "certificate_number": "N-1"},
    "volunteer": {"service_name": "淨灘", "unit": "環保局", "starts_on": "2026-10-01", "hours": "8"},
    "work": {"completed_on": "2027-05-01"},
    "workplace": {"unit": "台電", "starts_on": "2027-07-01", "kind": "visit"},
    "advanced_placement": {"course_name": "微積分", "institution": "臺大", "credits": "2", "starts_on": "2027-02-01"},
    "flexible_learning": {"category": "elective", "starts_on": "2026-09-01"},
    "group_activity": {"category": "club", "starts_on": "2026-09-01"},
    "other": {"starts_on": "2026-09-01"},
}


def performance(student: int, n: int, kind: str, files: MemoryFiles | None = None) -> SnapshotItem:
    described = [files.add(f"performance {student} {n}".encode() * 30)] if files else []
    content = {
        "academic_year": YEAR, "kind": kind, "title": f"{kind} {n}", "brief": "簡述", "details": PERFORMANCE_DETAILS[kind],
        "external_url": None, "late_addition": False, "version": 1, "files": described,
    }  # fmt: skip
    return SnapshotItem(student, f"S{student:05d}", "performance", student * 1000 + n, content,
                        tuple(f["sha256"] for f in described), f"p{student}-{n}")  # fmt: skip


def year_snapshot(students: int, *, outcomes: int = 6, performances: int = 10, files: MemoryFiles | None = None,
                  batch_id: int = 1, seed: int = 1) -> BatchSnapshot:  # fmt: skip
    rng = random.Random(seed)
    kinds = list(PERFORMANCE_DETAILS)
    items: list[SnapshotItem] = []
    for student in range(1, students + 1):
        items.extend(outcome(student, n, files) for n in range(outcomes))
        items.extend(performance(student, n, rng.choice(kinds), files) for n in range(performances))
    digest = hashlib.sha256("".join(i.content_sha256 for i in items).encode()).hexdigest()
    return BatchSnapshot(batch_id, SCHOOL, YEAR, 0, "year", tuple(items), digest)


def term_snapshot(students: int, term: int = 1) -> BatchSnapshot:
    items: list[SnapshotItem] = []
    for s in range(1, students + 1):
        number = f"S{s:05d}"
        items.append(SnapshotItem(s, number, "enrolment", s, {"academic_year": YEAR, "grade": 10, "class_code": "101",
                                                              "seat": s, "department": None, "status": "enrolled"}, (), f"e{s}"))  # fmt: skip
        items.append(SnapshotItem(s, number, "cadre", s, {"academic_year": YEAR, "level": "class", "unit": "101班",
                                                          "position": "班長", "starts_on": "2026-08-01", "ends_on": None}, (), f"c{s}"))  # fmt: skip
        for n in range(3):
            items.append(SnapshotItem(s, number, "course_record", s * 10 + n, {
                "academic_year": YEAR, "course_code": f"{YEAR}{SCHOOL}1A1B2C3D4E5F{n:02d}", "subject_name": "數學",
                "grade": 10, "credits": 4, "score": "88.50", "passed": True}, (), f"r{s}-{n}"))  # fmt: skip
    return BatchSnapshot(2, SCHOOL, YEAR, term, "term", tuple(items), "term-digest")


def ids_for(snapshot: BatchSnapshot) -> dict[int, str]:
    return {item.student_id: national_id(item.student_id) for item in snapshot.items}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"
