"""A receipt list typed in by hand from the central side's own list: its row checksums (row_sha256) are
judged against the rows as the adapter sent them, the way the adapter judges the lines it reads."""

from __future__ import annotations

from typing import Any

import pytest

from licheng.errors import LichengError
from licheng.plugins import configs
from licheng.portfolio import receipts
from licheng.portfolio.models import BatchStatus, ReceiptComparison, SubmissionItem
from licheng.portfolio.submission import adapter_of, submit_batch
from licheng.portfolio.submission_port import ReceiptLine
from moe_central.models import CentralDelivery
from tests.plugins.moe_central.exchange.conftest import connect_school, drive, term_school


@pytest.fixture
async def bureau(factory, manager, sim, exchange_keys) -> Any:
    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau)
    return bureau


async def _delivered(factory: Any, sim: Any, keys: Any, settings: Any, bureau: Any, **fault: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A delivered term school, its adapter, and the central side's list as staff would copy it."""
    school = await term_school(factory, sim, keys, settings, bureau)
    if fault:
        sim.fault(fault.pop("kind"), 1, "process", **fault)
    await submit_batch(school.staff, school.batch.id)
    assert (await drive(settings, school.batch.id, (BatchStatus.RECEIPTS, BatchStatus.FAILED))).status == BatchStatus.RECEIPTS
    adapter: Any = await adapter_of(school.school.id, "moe_central")
    delivery = await CentralDelivery.get(batch_id=school.batch.id)
    async with adapter._client(school.school.code) as client:
        central = await client.receipts(delivery.file_id, package_id=delivery.package_id)
    return school, adapter, central


async def _typed(school: Any, central: list[dict[str, Any]], checksum: Any) -> tuple[int, int, int, int, int]:
    """Record the central list by hand (reference + a checksum per line) and read the batch's counts."""
    items = {i.reference: i for i in await SubmissionItem.filter(batch_id=school.batch.id)}
    lines = [ReceiptLine(items[ln["item_ref"]].student_id, "", None, ln["status"], reference=ln["item_ref"], checksum=checksum(ln, items))
             for ln in central]  # fmt: skip
    await receipts.record_receipts(school.staff, school.batch.id, lines)
    row = await ReceiptComparison.get(batch_id=school.batch.id)
    return row.received, row.mismatch, row.missing, row.unexpected, row.unverified


async def test_the_central_lists_row_checksums_typed_in_verify_and_show_the_altered_row(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school, _, central = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="alter_row", roster="grades", row=2)
    assert await _typed(school, central, lambda ln, items: ln["row_sha256"]) == (5, 1, 0, 0, 0)
    # Licheng's own content digest is nothing the central side holds: typed in, no row verifies.
    assert await _typed(school, central, lambda ln, items: items[ln["item_ref"]].content_sha256) == (0, 6, 0, 0, 0)


async def test_a_checksum_typed_in_for_a_format_1_delivery_is_refused(factory, manager, sim, exchange_keys, settings, fast_jobs) -> None:
    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau)
    admin = await (await factory.bureau_admin(bureau)).actor()
    await configs.update_settings(admin, manager, "moe_central", {"format_version": "licheng-central/1"}, bureau_id=bureau.id)
    school, adapter, _ = await _delivered(factory, sim, exchange_keys, settings, bureau)
    item = await SubmissionItem.filter(batch_id=school.batch.id).first()
    assert item is not None
    line = ReceiptLine(item.student_id, item.item_type, item.item_id, "received", checksum="a" * 64)
    with pytest.raises(LichengError) as refused:
        await receipts.record_receipts(school.staff, school.batch.id, [line])
    assert refused.value.code == "RECEIPT_CHECKSUM_UNCHECKABLE"
    await receipts.record_receipts(school.staff, school.batch.id, [ReceiptLine(item.student_id, item.item_type, item.item_id, "received")])


async def test_a_line_with_a_reference_but_no_checksum_is_judged_by_its_student_number(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school, adapter, central = await _delivered(factory, sim, exchange_keys, settings, bureau)
    delivery = await CentralDelivery.get(batch_id=school.batch.id)
    first = {k: v for k, v in central[0].items() if k != "row_sha256"}
    elsewhere = {**first, "student_number": "S-NOT-HIS"}
    [same, other] = await adapter._receipt_lines(delivery, [first, elsewhere])
    assert same.item_id is not None and same.checksum_ok is None  # his number, nothing more to compare
    assert (other.item_id, other.checksum_ok) == (same.item_id, False)  # filed under another student: mismatch
