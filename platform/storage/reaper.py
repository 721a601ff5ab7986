"""The reaper: what failed or was abandoned is removed, and its quota given back.

Run by the jobs system (and `licheng storage reap`). It removes
- intents older than `intents_after` (uploads that died: a crash, a client that
  went away mid-body), with whatever blob they left;
- uploads never attached to a record within `unclaimed_after`, refunding quota;
- rows left DELETED by a removal that was interrupted;
- temporary files / unfinished multipart uploads older than `intents_after`;
- with `orphans=True` only, blobs no row names. Never by default: after a
  database restore from an older backup, "orphans" are students' real files
  (September 2021). Our own crashes never make orphans (intent rows first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from licheng.storage.blobstore import BlobStore
from licheng.storage.models import BlobState, StoredBlob
from licheng.storage.service import drop_intent, remove_blob

UNCLAIMED_AFTER = timedelta(hours=24)
INTENTS_AFTER = timedelta(hours=6)
_PAGE = 200


@dataclass
class ReapReport:
    intents: int = 0
    unclaimed: int = 0
    refunded_bytes: int = 0
    tombstones: int = 0
    temporary: int = 0
    orphans: int = 0

    @property
    def total(self) -> int:
        return self.intents + self.unclaimed + self.tombstones + self.temporary + self.orphans


async def _rows(school_id: int | None, state: BlobState, before: datetime | None) -> list[StoredBlob]:
    query = StoredBlob.filter(state=state)
    if school_id is not None:
        query = query.filter(school_id=school_id)
    if before is not None:
        query = query.filter(created_at__lt=before)
    return await query.order_by("id").limit(_PAGE)


async def reap(
    store: BlobStore,
    *,
    school_id: int | None = None,
    now: datetime | None = None,
    intents_after: timedelta = INTENTS_AFTER,
    unclaimed_after: timedelta = UNCLAIMED_AFTER,
    orphans: bool = False,
) -> ReapReport:
    now = now or datetime.now(UTC)
    report = ReapReport()
    seen: set[int] = set()

    async def pages(state: BlobState, before: datetime | None) -> list[StoredBlob]:
        rows = [r for r in await _rows(school_id, state, before) if r.id not in seen]
        seen.update(r.id for r in rows)
        return rows

    while rows := await pages(BlobState.RECEIVING, now - intents_after):
        for row in rows:
            report.intents += await drop_intent(store, row)
    while rows := await pages(BlobState.PENDING, now - unclaimed_after):
        for row in rows:
            if await remove_blob(store, row, from_states=(BlobState.PENDING,)):
                report.unclaimed += 1
                report.refunded_bytes += int(row.size) if row.charged else 0
    while rows := await pages(BlobState.DELETED, None):
        for row in rows:
            await store.delete(row.key)
            report.tombstones += await StoredBlob.filter(id=row.id, state=BlobState.DELETED).delete()
    prefix = "" if school_id is None else f"{school_id}/"
    sweep = getattr(store, "sweep_temporary", None)
    if callable(sweep):
        report.temporary = await sweep(prefix, older_than=intents_after)
    if orphans:
        report.orphans = await _reap_orphans(store, prefix)
    return report


async def _reap_orphans(store: BlobStore, prefix: str) -> int:
    removed = 0
    batch: list[str] = []

    async def settle(keys: list[str]) -> int:
        known = set(await StoredBlob.filter(key__in=keys).values_list("key", flat=True))
        gone = 0
        for key in keys:
            if key not in known and not await StoredBlob.exists(key=key):
                await store.delete(key)
                gone += 1
        return gone

    # Listed first, deleted after: deleting while a listing is open is not portable.
    keys = [key async for key in store.iter_keys(prefix)]
    for index in range(0, len(keys), _PAGE):
        batch = keys[index : index + _PAGE]
        removed += await settle(batch)
    return removed
