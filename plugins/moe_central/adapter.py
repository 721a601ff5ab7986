"""The submission adapter: build the package, upload, notify, poll, read the receipts back.

Exactly once (docs/central.md, "Exactly once"): the package id is deterministic
per batch and is the idempotency key of every request; ``CentralDelivery``
records how far a batch got (built, uploaded with a file id, notified), and a
repeated ``submit`` (a retry after a timeout, a worker killed between "sent"
and "recorded", a duplicate job) resumes from there. An upload whose answer was
lost is simply sent again: the central side answers a known package id with
the file id it gave the first time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tortoise.expressions import F

from licheng.plugins import LichengError
from licheng.portfolio.submission_port import BatchSnapshot, ReceiptLine, SnapshotItem, SubmissionStatus, SubmissionTicket
from licheng.tenants.actor import system_actor
from moe_central.client import CentralClient, CentralUnavailable
from moe_central.format import BY_NAME, FORMAT_VERSION, SUPPORTED_VERSIONS, row_checksum, rosters_for, version_number
from moe_central.models import CentralDelivery, DeliveryState
from moe_central.rosters import expected_rows


_Sent = tuple[SnapshotItem, str]  # a row as built: its item and its row checksum


class NotConfigured(LichengError):
    def __init__(self, missing: str) -> None:
        super().__init__(
            "MOE_CENTRAL_NOT_CONFIGURED", f"中央資料庫外掛尚未設定：{missing}",
            f"The central database plugin is not configured: {missing}", setting=missing,
        )  # fmt: skip


def _error(code: str, zh: str, en: str, **details: Any) -> LichengError:
    return LichengError(code, zh, en, **details)


def reason_text(reason: Any) -> str:
    """The central side's refusal as the school reads it on its batch (no national ID is ever in it)."""
    if not isinstance(reason, dict):
        return "中央資料庫退回 / refused by the central database"
    where = ", ".join(f"{k}={reason['details'][k]}" for k in ("roster", "row", "student_number", "column")
                      if isinstance(reason.get("details"), dict) and reason["details"].get(k) not in (None, ""))  # fmt: skip
    text = f"{reason.get('code', 'REFUSED')}: {reason.get('zh', '')} / {reason.get('en', '')}"
    return f"{text} ({where})" if where else text


class CentralAdapter:
    """The portfolio's submission port over the central database's exchange API."""

    name = "moe_central"

    def __init__(self, config: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.transport = transport

    # --- configuration ------------------------------------------------------------------------

    def _keys(self) -> tuple[bytes, bytes]:
        if not self.config.central_public_key:
            raise NotConfigured("central_public_key")
        if self.config.school_private_key is None:
            raise NotConfigured("school_private_key")
        if self.config.format_version not in SUPPORTED_VERSIONS:
            raise _error("MOE_FORMAT_UNSUPPORTED", "不支援的交換格式版本", "Unsupported exchange-format version",
                         version=self.config.format_version, supported=list(SUPPORTED_VERSIONS))  # fmt: skip
        return self.config.central_public_key.encode(), self.config.school_private_key.get_secret_value().encode()

    def _client(self, school_code: str) -> CentralClient:
        key = self.config.api_key.get_secret_value() if self.config.api_key is not None else None
        return CentralClient(
            self.config.endpoint_url, school_code=school_code, api_key=key, transport=self.transport,
            connect_timeout=self.config.connect_timeout, timeout=self.config.request_timeout,
        )  # fmt: skip

    # --- submit -------------------------------------------------------------------------------

    async def submit(self, snapshot: BatchSnapshot) -> SubmissionTicket:
        """Deliver the batch once: build and upload unless a file id is recorded, then notify."""
        school_id = snapshot.school_id
        if school_id is None:
            raise _error("MOE_NO_SCHOOL", "批次未標明學校", "The snapshot does not name its school")
        central_key, school_key = self._keys()
        delivery = await CentralDelivery.get_or_none(school_id=school_id, batch_id=snapshot.batch_id)
        async with self._client(snapshot.school_code) as client:
            if delivery is None or delivery.file_id is None:
                delivery = await self._upload(client, snapshot, school_id, delivery, central_key, school_key)
            assert delivery.file_id is not None
            if delivery.state == DeliveryState.UPLOADED:
                await self._attempt(delivery, client.notify(delivery.file_id, package_id=delivery.package_id))
                await CentralDelivery.filter(id=delivery.id, state=DeliveryState.UPLOADED).update(
                    state=DeliveryState.NOTIFIED, last_error=None
                )
        return SubmissionTicket(delivery.file_id, f"package {delivery.package_id} is file {delivery.file_id} at the central database")

    async def _attempt(self, delivery: CentralDelivery, call: Any) -> Any:
        """Count the try and keep its error class (never a payload) on the delivery row."""
        await CentralDelivery.filter(id=delivery.id).update(attempts=F("attempts") + 1)
        try:
            return await call
        except CentralUnavailable as error:
            await CentralDelivery.filter(id=delivery.id).update(last_error=str(error)[:500])
            raise
        except LichengError as error:
            await CentralDelivery.filter(id=delivery.id).update(last_error=f"{error.code}: {error.message_en}"[:500])
            raise

    async def _upload(self, client: CentralClient, snapshot: BatchSnapshot, school_id: int, delivery: CentralDelivery | None,
                      central_key: bytes, school_key: bytes) -> CentralDelivery:  # fmt: skip
        from licheng.tenants.national_ids import national_ids_for_submission
        from moe_central.package import build_package

        actor = system_actor(school_id)
        ids = await national_ids_for_submission(actor, sorted({item.student_id for item in snapshot.items}), batch_id=snapshot.batch_id)
        out_dir = Path(tempfile.mkdtemp(prefix=f"licheng-central-{school_id}-{snapshot.batch_id}-"))
        try:
            version = self.config.format_version
            if delivery is not None and delivery.format_version in SUPPORTED_VERSIONS:
                version = delivery.format_version  # a delivery begun in another version stays in it: same package id
            built = await build_package(
                snapshot, national_ids=ids, file_source=None, central_public_key_pem=central_key,
                school_private_key_pem=school_key, out_dir=out_dir, now=datetime.now(UTC), version=version,
            )  # fmt: skip
            del ids
            if delivery is None:
                row = CentralDelivery(school_id=school_id, batch_id=snapshot.batch_id, package_id=built.package_id,
                                      format_version=str(built.manifest.get("format", "")))  # fmt: skip
                # A duplicate job may be here at the same moment: the first insert wins, both use it.
                await CentralDelivery.bulk_create([row], ignore_conflicts=True)
                delivery = await CentralDelivery.get(school_id=school_id, batch_id=snapshot.batch_id)
            if delivery.package_id != built.package_id:
                raise _error("MOE_PACKAGE_CHANGED", "此批次先前送出的封包與現在不同（交換格式版本變更？）",
                             "This batch's package differs from the one sent before (format version changed?)",
                             batch_id=snapshot.batch_id)  # fmt: skip
            await CentralDelivery.filter(id=delivery.id).update(package_sha256=built.sha256, package_size=built.size)
            upload = client.upload(built.path, package_id=built.package_id, sha256=built.sha256, size=built.size)
            file_id = await self._attempt(delivery, upload)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        await CentralDelivery.filter(id=delivery.id, file_id__isnull=True).update(
            file_id=file_id, state=DeliveryState.UPLOADED, last_error=None
        )
        return await CentralDelivery.get(id=delivery.id)

    # --- poll ---------------------------------------------------------------------------------

    async def poll(self, ticket: SubmissionTicket) -> SubmissionStatus:
        """The central side's state of the file; when accepted, its receipt list mapped to our items."""
        delivery = await CentralDelivery.filter(file_id=ticket.external_ref).order_by("id").first()
        if delivery is None:
            raise _error("MOE_DELIVERY_UNKNOWN", "找不到此檔案的送件紀錄", "No delivery is recorded for this file id")
        from licheng.tenants.models import School

        school = await School.get(id=delivery.school_id)
        async with self._client(school.code) as client:
            await CentralDelivery.filter(id=delivery.id).update(polls=F("polls") + 1)
            body = await client.status(ticket.external_ref, package_id=delivery.package_id)
            state = body.get("state")
            if state == "rejected":
                text = reason_text(body.get("reason"))
                await CentralDelivery.filter(id=delivery.id).update(state=DeliveryState.REJECTED, last_error=text[:500])
                return SubmissionStatus(done=False, failed=True, message=text)
            if state != "accepted":
                return SubmissionStatus(done=False, message=f"central state: {state}")
            lines = await client.receipts(ticket.external_ref, package_id=delivery.package_id)
        receipts = await self._receipt_lines(delivery, lines)
        await CentralDelivery.filter(id=delivery.id).update(state=DeliveryState.ACCEPTED, last_error=None)
        return SubmissionStatus(done=True, message=f"accepted: {len(lines)} rows received", receipts=receipts)

    @staticmethod
    def _sent_rows(snapshot: BatchSnapshot, version: str) -> tuple[dict[str, _Sent], dict[tuple[str, str], list[_Sent]]]:
        """Every row as built: by item reference, and per (roster, student number) in order, with its row checksum."""
        by_ref: dict[str, _Sent] = {}
        queues: dict[tuple[str, str], list[_Sent]] = defaultdict(list)
        for spec in rosters_for(snapshot.term):
            for item, row in expected_rows(spec, snapshot, version):
                sent = (item, row_checksum(list(row), row))
                by_ref[snapshot.reference(item)] = sent
                queues[(spec.name, item.student_number or "")].append(sent)
        return by_ref, queues

    async def row_checksums(self, snapshot: BatchSnapshot) -> dict[str, str] | None:
        """Item reference -> ``row_sha256`` of the row as sent (``licheng.portfolio.submission_port.RowChecksums``),
        for checksums staff type in from the central side's list. None when nothing was delivered
        yet or the delivery's format carries no row checksum (version 1)."""
        delivery = await CentralDelivery.get_or_none(school_id=snapshot.school_id, batch_id=snapshot.batch_id)
        if delivery is None or delivery.format_version not in SUPPORTED_VERSIONS or version_number(delivery.format_version) < 2:
            return None
        by_ref, _ = self._sent_rows(snapshot, delivery.format_version)
        return {ref: checksum for ref, (_, checksum) in by_ref.items()}

    async def _receipt_lines(self, delivery: CentralDelivery, lines: list[dict[str, Any]]) -> tuple[ReceiptLine, ...]:
        """Name the item of each central line for the core's item-by-item comparison (docs/central.md, "Receipts").

        From version 2 a line echoes the row's ``item_ref`` and the ``row_sha256``
        of the row the central side stored: the item is the one with that
        reference, and the checksum is compared here with the row as we sent it
        (``checksum_ok``); a line with a reference but no checksum is judged by
        its student number alone (another student's: mismatch). A version-1
        line has no reference: it is placed by position (the n-th row of a
        student in a roster is his n-th item there).
        A line naming no item stays a line (the core keeps it as unexpected); one
        naming no student of the batch has no ``student_id``.
        """
        from licheng.portfolio.submission import get_batch, snapshot_of

        snapshot = await snapshot_of(await get_batch(system_actor(delivery.school_id), delivery.batch_id))
        version = delivery.format_version if delivery.format_version in SUPPORTED_VERSIONS else FORMAT_VERSION
        by_ref, queues = self._sent_rows(snapshot, version)
        students = {item.student_number: item.student_id for item in snapshot.items if item.student_number}
        out: list[ReceiptLine] = []
        for line in sorted(lines, key=lambda ln: (str(ln.get("roster")), int(ln.get("row") or 0))):
            roster, number = str(line.get("roster")), str(line.get("student_number") or "")
            ref, reported = str(line.get("item_ref") or "")[:64], str(line.get("row_sha256") or "")[:64]
            status = "received" if line.get("status") == "received" else "rejected"
            note, where = str(line.get("note") or "")[:200], f"{roster[:40]} row {line.get('row')}"
            if ref:
                found = by_ref.get(ref)
            else:
                queue = queues.get((roster, number))
                found = queue.pop(0) if queue else None
            if found is None:
                known = BY_NAME.get(roster)
                out.append(ReceiptLine(students.get(number), known.item_type if known else "", None, status, note,
                                       ref, reported, None, f"{where}, student number {number[:20]}"))  # fmt: skip
                continue
            item, expected = found
            # The student number is in the row's checksum: a row the central side filed under another student is a mismatch.
            # Without a checksum the number is all there is to check (a line placed by position matched it already).
            ok = reported == expected if reported else (False if ref and number and number != (item.student_number or "") else None)
            out.append(ReceiptLine(item.student_id, item.item_type, item.item_id, status, note, snapshot.reference(item), reported, ok, where))
        return tuple(out)
