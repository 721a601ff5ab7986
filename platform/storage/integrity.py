"""Integrity: every blob the database knows is read back and compared with its row.

`verify_store` reports
- missing: a live row (pending, attached) whose blob is not in the store;
- corrupted: a blob whose size or SHA-256 differs from its row;
- orphaned: a key in the store that no row names (intents included, so an
  upload in flight is never an orphan: its row is written before its bytes);
- quota mismatches: a ledger whose bytes differ from the sum of the charged
  live blobs (read in one statement, so one snapshot).
A problem found while uploads or removals run is checked again before it is
reported, so a busy store does not produce false alarms.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from tortoise import connections

from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import BlobIntegrityError, BlobNotFound
from licheng.storage.models import LIVE_STATES, BlobState, StoredBlob

_READ = 1024 * 1024
_PAGE = 500

Progress = Callable[[int, int], object]


@dataclass(frozen=True, slots=True)
class BlobProblem:
    blob_id: int
    key: str
    detail: str


@dataclass(frozen=True, slots=True)
class QuotaMismatch:
    person_id: int
    ledger_bytes: int
    blob_bytes: int


@dataclass
class VerifyReport:
    checked: int = 0
    in_progress: int = 0  # intents (uploads in flight, or dead ones for the reaper)
    missing: list[BlobProblem] = field(default_factory=list)
    corrupted: list[BlobProblem] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    quota_mismatches: list[QuotaMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupted or self.orphaned or self.quota_mismatches)


def _hash_file(path: str, size: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    seen = 0
    with open(path, "rb", buffering=0) as handle:
        while piece := handle.read(_READ):
            seen += len(piece)
            if seen > size:  # longer than recorded: no need to read the rest
                break
            digest.update(piece)
    return seen, digest.hexdigest()


async def verify_blob(store: BlobStore, key: str, size: int, sha256: str) -> str | None:
    """None if the blob is there with this size and SHA-256, else "missing" or what differs."""
    path_for = getattr(store, "path_for", None)
    if callable(path_for):  # local disk: hash in a worker thread, 1 MiB reads
        try:
            seen, hexdigest = await asyncio.to_thread(_hash_file, str(path_for(key)), size)
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
    else:
        digest = hashlib.sha256()
        seen = 0
        try:
            async for chunk in store.open(key, chunk_size=_READ):
                seen += len(chunk)
                if seen > size:
                    break
                await asyncio.to_thread(digest.update, chunk)
        except BlobNotFound:
            return "missing"
        hexdigest = digest.hexdigest()
    if seen != size:
        return f"size {'>' if seen > size else ''}{seen} != {size}"
    if hexdigest != sha256:
        return f"sha256 {hexdigest} != {sha256}"
    return None


async def verified_chunks(store: BlobStore, key: str, size: int, sha256: str) -> AsyncIterator[bytes]:
    """A download that checks itself: the chunks of the blob, hashed as they pass, and
    `BlobIntegrityError` instead of the end when the blob is not what was stored.
    Sent with Content-Length = `size`, a bad file never arrives complete."""
    digest = hashlib.sha256()
    seen = 0
    async for chunk in store.open(key):
        seen += len(chunk)
        if seen > size:
            raise BlobIntegrityError(f"blob {key} is longer than its recorded {size} bytes")
        digest.update(chunk)
        yield chunk
    if seen != size or digest.hexdigest() != sha256:
        raise BlobIntegrityError(f"blob {key} differs from what was stored (size {seen} of {size} or SHA-256)")


def _prefix(school_id: int | None) -> str:
    return "" if school_id is None else f"{school_id}/"


async def _check_row(store: BlobStore, row: StoredBlob, report: VerifyReport) -> None:
    problem = await verify_blob(store, row.key, int(row.size), row.sha256)
    if problem is None:
        return
    # Removed meanwhile (discarded, reaped)? Then nothing is wrong.
    if not await StoredBlob.exists(id=row.id, state__in=list(LIVE_STATES)):
        return
    found = BlobProblem(row.id, row.key, problem)
    (report.missing if problem == "missing" else report.corrupted).append(found)


async def _find_orphans(store: BlobStore, school_id: int | None, report: VerifyReport) -> None:
    async def settle(keys: list[str]) -> None:
        known = set(await StoredBlob.filter(key__in=keys).values_list("key", flat=True))
        for key in keys:
            # Still there and still without a row (not an upload that failed meanwhile)?
            if key not in known and await store.stat(key) is not None:
                if not await StoredBlob.exists(key=key):
                    report.orphaned.append(key)

    batch: list[str] = []
    async for key in store.iter_keys(_prefix(school_id)):
        batch.append(key)
        if len(batch) >= _PAGE:
            await settle(batch)
            batch = []
    if batch:
        await settle(batch)


async def quota_mismatches(school_id: int | None = None) -> list[QuotaMismatch]:
    """Ledgers that differ from the sum of their student's charged live blobs."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ["$1", "$2", "$3", "$4"] if postgres else ["?"] * 4
    sql = (
        "SELECT l.person_id AS person_id, l.used_bytes AS used_bytes, COALESCE(SUM(b.size), 0) AS blob_bytes"
        " FROM quota_ledger l LEFT JOIN stored_blob b ON b.owner_person_id = l.person_id"
        f" AND b.charged = {marks[0]} AND b.state IN ({marks[1]}, {marks[2]})"
        + (f" WHERE l.school_id = {marks[3]}" if school_id is not None else "")
        + " GROUP BY l.person_id, l.used_bytes"
        " HAVING l.used_bytes <> COALESCE(SUM(b.size), 0) ORDER BY l.person_id"
    )
    values: list[object] = [True, BlobState.PENDING.value, BlobState.ATTACHED.value]
    if school_id is not None:
        values.append(school_id)
    _, rows = await conn.execute_query(sql, values)
    return [QuotaMismatch(int(r["person_id"]), int(r["used_bytes"]), int(r["blob_bytes"])) for r in rows]


async def verify_store(
    store: BlobStore,
    *,
    school_id: int | None = None,
    progress: Progress | None = None,
    concurrency: int = 4,
) -> VerifyReport:
    """Check every blob of the store (or of one school) against the database."""
    report = VerifyReport()
    scope = StoredBlob.filter() if school_id is None else StoredBlob.filter(school_id=school_id)
    total = await scope.filter(state__in=list(LIVE_STATES)).count()
    report.in_progress = await scope.filter(state=BlobState.RECEIVING).count()
    if progress:
        progress(0, total)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def check(row: StoredBlob) -> None:
        async with gate:
            await _check_row(store, row, report)

    last_id = 0
    while rows := await scope.filter(id__gt=last_id, state__in=list(LIVE_STATES)).order_by("id").limit(_PAGE):
        await asyncio.gather(*(check(row) for row in rows))
        last_id = rows[-1].id
        report.checked += len(rows)
        if progress:
            progress(report.checked, max(total, report.checked))
    await _find_orphans(store, school_id, report)
    report.quota_mismatches = await quota_mismatches(school_id)
    if report.quota_mismatches:  # once more: a charge may have landed between the reads
        await asyncio.sleep(0.2)
        again = {m.person_id for m in await quota_mismatches(school_id)}
        report.quota_mismatches = [m for m in report.quota_mismatches if m.person_id in again]
    return report


__all__ = ["BlobProblem", "QuotaMismatch", "VerifyReport", "quota_mismatches", "verified_chunks", "verify_blob", "verify_store"]
