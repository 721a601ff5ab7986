"""The per-student quota ledger, race-free by construction.

A charge is one conditional UPDATE:

    UPDATE quota_ledger SET used_bytes = used_bytes + n
     WHERE person_id = p AND used_bytes <= limit - n

On PostgreSQL a concurrent charge of the same student waits for the row lock
and re-evaluates the WHERE clause on the committed value (READ COMMITTED);
on SQLite writers are serialised. Either way no interleaving of any number of
uploads can take `used_bytes` past the limit, and because the charge runs in
the same transaction that records the blob, `used_bytes` always equals the
sum of the charged blobs that exist (`storage verify` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import F

from licheng.errors import LichengError
from licheng.storage.models import QuotaLedger

QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
WARNING_RATIO = 0.8
_MB = 1024 * 1024


def _mb(n: int) -> str:
    """Used space, as the Taipei cabinet shows it: "5.08 MB" (MB of 1,048,576 bytes)."""
    return f"{n / _MB:.2f} MB"


def _limit_mb(n: int) -> str:
    """A limit: "150 MB" when whole, else with two decimals."""
    return f"{n // _MB} MB" if n % _MB == 0 else _mb(n)


class QuotaExceeded(LichengError):
    def __init__(self, *, used_bytes: int, limit_bytes: int, size: int) -> None:
        free = max(0, limit_bytes - used_bytes)
        super().__init__(
            QUOTA_EXCEEDED,
            f"儲存空間不足：已使用 {_mb(used_bytes)}／{_limit_mb(limit_bytes)}，"
            f"此檔案 {_mb(size)}，剩餘 {_mb(free)}。",
            f"Not enough storage: {_mb(used_bytes)} of {_limit_mb(limit_bytes)} used, "
            f"this file is {_mb(size)}, {_mb(free)} left.",
            used_bytes=used_bytes,
            limit_bytes=limit_bytes,
            size=size,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    used_bytes: int
    limit_bytes: int

    @property
    def warning(self) -> bool:
        """At 80 % of the quota the student is warned (the limit itself refuses)."""
        return self.limit_bytes > 0 and self.used_bytes >= WARNING_RATIO * self.limit_bytes

    @property
    def display(self) -> str:
        """As students see it in their portfolio cabinet: "5.08 MB / 150 MB"."""
        return f"{_mb(self.used_bytes)} / {_limit_mb(self.limit_bytes)}"


async def ensure_ledger(school_id: int, person_id: int) -> None:
    """Create the student's ledger row if missing (INSERT ... ON CONFLICT DO NOTHING)."""
    await QuotaLedger.bulk_create(
        [QuotaLedger(school_id=school_id, person_id=person_id, used_bytes=0)], ignore_conflicts=True
    )


async def used_bytes(person_id: int) -> int:
    row = await QuotaLedger.get_or_none(person_id=person_id).only("used_bytes")
    return int(row.used_bytes) if row else 0


async def used_by(person_ids: list[int]) -> dict[int, int]:
    """Bytes charged to each of `person_ids` (0 without a ledger row), in one query."""
    used = dict.fromkeys(person_ids, 0)
    rows = await QuotaLedger.filter(person_id__in=list(set(person_ids))).values_list("person_id", "used_bytes")
    for person_id, used_bytes in rows:
        used[int(person_id)] = int(used_bytes)
    return used


async def charge(person_id: int, n: int, limit_bytes: int) -> bool:
    """Add `n` bytes if the total stays within `limit_bytes`. Run it inside the transaction
    that records the blob; False means nothing was charged (the row must exist)."""
    if n < 0:
        raise ValueError("a charge is never negative")
    updated = await QuotaLedger.filter(person_id=person_id, used_bytes__lte=limit_bytes - n).update(
        used_bytes=F("used_bytes") + n
    )
    return updated == 1


async def refund(person_id: int, n: int) -> None:
    """Give back `n` bytes (a blob removed); never below zero."""
    if n <= 0:
        return
    updated = await QuotaLedger.filter(person_id=person_id, used_bytes__gte=n).update(
        used_bytes=F("used_bytes") - n
    )
    if updated == 0:  # the ledger was already wrong; don't make it negative
        await QuotaLedger.filter(person_id=person_id).update(used_bytes=0)
