"""The port to the central database (學習歷程中央資料庫): what a submission adapter implements.

The core builds an immutable ``BatchSnapshot`` and hands it to an adapter; the
moe_central plugin implements the real exchange (rosters named
``{school code}_{year}_{term}_{roster}_{timestamp}``, encrypted upload, status
polling) and a simulator. The core never imports a plugin: the plugin system
registers adapters with ``register_adapter``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class SnapshotItem:
    """One row of a roster: who, what kind, the frozen content and the files' SHA-256."""

    student_id: int
    student_number: str | None
    item_type: str  # enrolment | cadre | course_record | outcome | performance
    item_id: int
    content: dict[str, Any]
    file_checksums: tuple[str, ...]
    content_sha256: str
    reference: str = ""  # stored when the batch was frozen ("" for items frozen before it was: computed)


@dataclass(frozen=True)
class BatchSnapshot:
    batch_id: int
    school_code: str  # the Ministry's 6-character code
    academic_year: int
    term: int  # 0 = the yearly roster
    scope: str  # term | year
    items: tuple[SnapshotItem, ...]
    content_sha256: str
    resubmission_of: int | None = None
    school_id: int | None = None  # the tenant, for adapters that keep their own records per school

    def reference(self, item: SnapshotItem) -> str:
        """The item's reference as rosters and receipt lines name it (see ``item_reference``): the one
        stored at freeze time, so a school code changed since then does not rename the item."""
        return item.reference or item_reference(self.school_code, item.item_type, item.item_id)


def item_reference(school_code: str, item_type: str, item_id: int) -> str:
    """A stable name for a submitted item, the same in every batch (a resubmission too).

    Derived from the school, the item's type and its id only: no personal data.
    It does not hide our row ids: it is an unkeyed hash over a known school code
    and small integers, so anyone holding it can find the id by trying them. Kept
    unkeyed on purpose: the central side already holds every row's student and
    content, so the id is no secret worth a key, and a key would have to live
    (never rotated) per school. It is computed once, when the batch is frozen,
    and stored (``SubmissionItem.reference``).
    """
    digest = hashlib.sha256(f"licheng-item|{school_code}|{item_type}|{item_id}".encode()).hexdigest()
    return "LI" + digest[:30]


@dataclass(frozen=True)
class SubmissionTicket:
    """What the adapter returns: its reference for later polling, and a human note."""

    external_ref: str
    message: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    """One line of the central database's receipt list (收訖明細), as the adapter (or staff) read it.

    The core compares the lines with the frozen snapshot item by item
    (``licheng.portfolio.receipts``): a line names its item by ``reference``
    (``item_reference``) or, without one, by ``item_type`` and ``item_id``. What
    the central side holds is judged by ``checksum_ok`` when the adapter checked
    the content itself (moe_central compares its rows' checksums), else by
    ``checksum`` against the row checksum the adapter says it sent
    (``RowChecksums``); a line with neither is received but unverified.
    """

    student_id: int | None  # None: the central side names a student who is not in the batch
    item_type: str
    item_id: int | None  # None: the line names no item we know (kept as unexpected)
    status: str  # received | rejected: the central side's own word
    note: str = ""
    reference: str = ""
    checksum: str = ""  # what the central side reported of the content it holds ("" = nothing)
    checksum_ok: bool | None = None  # the adapter's verdict, when it compared the content itself
    where: str = ""  # the central side's position of the line (roster and row), for staff


@dataclass(frozen=True)
class SubmissionStatus:
    done: bool
    failed: bool = False
    message: str = ""
    receipts: tuple[ReceiptLine, ...] = field(default=())


@runtime_checkable
class SubmissionAdapter(Protocol):
    """A way to deliver a batch to the central database and read its receipts back."""

    name: str

    async def submit(self, snapshot: BatchSnapshot) -> SubmissionTicket:
        """Deliver the snapshot; raise to refuse it (the batch is marked failed)."""
        ...

    async def poll(self, ticket: SubmissionTicket) -> SubmissionStatus:
        """The delivery's status; when done, the receipts the central database returned."""
        ...


@runtime_checkable
class RowChecksums(Protocol):
    """An adapter that can say what checksum each sent row had (optional).

    Staff may type in a checksum the central side listed for a row; only the
    adapter knows how it computed that (moe_central: ``row_checksum`` over the
    row as written), so the core asks it rather than comparing with its own
    ``content_sha256``, which the central side never sees.
    """

    async def row_checksums(self, snapshot: BatchSnapshot) -> dict[str, str] | None:
        """Item reference -> the row checksum as sent; None when the delivery carried none."""
        ...


_ADAPTERS: dict[str, SubmissionAdapter] = {}

# The plugin system appends resolvers choosing a school's adapter (e.g. the one its bureau enabled).
AdapterResolver = Callable[[int], Awaitable["SubmissionAdapter | None"]]
ADAPTER_RESOLVERS: list[AdapterResolver] = []


def register_adapter(adapter: SubmissionAdapter) -> None:
    """Called by the plugin system (or tests) to offer an adapter under ``adapter.name``."""
    _ADAPTERS[adapter.name] = adapter


def unregister_adapter(name: str) -> None:
    _ADAPTERS.pop(name, None)


def get_adapter(name: str | None = None) -> SubmissionAdapter | None:
    """The named adapter, or the only one registered when no name is given."""
    if name is not None:
        return _ADAPTERS.get(name)
    return next(iter(_ADAPTERS.values())) if len(_ADAPTERS) == 1 else None


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


async def adapter_for(school_id: int, name: str | None = None) -> SubmissionAdapter | None:
    """The adapter a school submits through: a named one, else the first resolver's answer,
    else the only registered adapter."""
    if name is not None:
        return get_adapter(name)
    for resolve in ADAPTER_RESOLVERS:
        found = await resolve(school_id)
        if found is not None:
            return found
    return get_adapter()
