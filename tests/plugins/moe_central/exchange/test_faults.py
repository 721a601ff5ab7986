"""Faults on the way to the central database: whatever goes wrong, one accepted package per batch and
every receipt recorded once (the simulator runs as a real process; faults are armed over HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from licheng.jobs import Job, JobStatus, Worker, enqueue
from licheng.portfolio import submission
from licheng.portfolio.models import BatchStatus, Receipt, SubmissionBatch
from moe_central.models import CentralDelivery, DeliveryState
from tests.plugins.moe_central.exchange.conftest import connect_school, drive, receipts_once, term_school

CLIENT_TIMEOUT = 1.0


@pytest.fixture
async def bureau(factory, manager, sim, exchange_keys) -> Any:
    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau, timeout=CLIENT_TIMEOUT)
    return bureau


async def _deliver(school: Any, settings: Any) -> SubmissionBatch:
    await submission.submit_batch(school.staff, school.batch.id)
    return await drive(settings, school.batch.id, (BatchStatus.RECEIPTS, BatchStatus.FAILED))


async def _exactly_once(sim: Any, school: Any) -> dict[str, Any]:
    [package] = sim.packages(school.school.code)  # the simulator keeps one package per package id
    assert (package["state"], package["batch_id"]) == ("accepted", school.batch.id)
    assert receipts_once(await Receipt.filter(batch_id=school.batch.id), school)
    return package


# (kind, arming, uploads the simulator counts, delivery tries the school records)
UPLOAD_FAULTS = [
    ("error500", {}, 1, 2),  # refused before storing: the retry is the first real upload
    ("slow", {"seconds": 0.3}, 1, 1),  # slower than usual, within the client's timeout
    ("timeout", {"seconds": CLIENT_TIMEOUT + 1.5}, 2, 2),  # stored, but the answer came too late
    ("drop_after_accept", {}, 2, 2),  # stored, then the connection dropped: the retry gets the same file id
    ("duplicate_delivery", {}, 2, 1),  # the network delivered the upload twice
]


@pytest.mark.parametrize(("kind", "arming", "uploads", "tries"), UPLOAD_FAULTS, ids=[f[0] for f in UPLOAD_FAULTS])
async def test_an_upload_fault_ends_with_one_accepted_package_and_each_receipt_once(
    kind, arming, uploads, tries, factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    sim.fault(kind, 1, "upload", **arming)
    batch = await _deliver(school, settings)
    assert batch.status == BatchStatus.RECEIPTS, batch.adapter_message
    package = await _exactly_once(sim, school)
    delivery = await CentralDelivery.get(school_id=school.school.id, batch_id=school.batch.id)
    assert (package["uploads"], delivery.attempts - 1) == (uploads, tries)  # + 1 try: the notice
    assert delivery.state == DeliveryState.ACCEPTED and delivery.file_id == package["file_id"] == batch.external_ref


async def test_faults_on_notice_status_and_receipts_are_retried_without_a_second_submission(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    sim.fault("drop_after_accept", 1, "notify")
    sim.fault("duplicate_delivery", 1, "notify")
    sim.fault("timeout", 1, "status", seconds=CLIENT_TIMEOUT + 1.5)
    sim.fault("error500", 2, "status")
    sim.fault("drop_after_accept", 1, "receipts")
    sim.fault("slow", 1, "receipts", seconds=0.2)
    batch = await _deliver(school, settings)
    assert batch.status == BatchStatus.RECEIPTS, batch.adapter_message
    package = await _exactly_once(sim, school)
    assert package["uploads"] == 1 and package["notifies"] == 3  # dropped, then delivered twice
    assert sim.admin("GET", "/_faults")["armed"] == []  # every fault fired


async def test_a_duplicate_delivery_job_running_beside_the_first_sends_nothing_twice(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    await submission.submit_batch(school.staff, school.batch.id)
    await enqueue("submission.deliver", {"batch_id": school.batch.id, "poll_seconds": 0}, school_id=school.school.id)
    sim.fault("slow", 2, "upload", seconds=0.3)  # both uploads in flight at once
    workers = [Worker(settings, worker_id=f"twin-{n}") for n in range(2)]
    await asyncio.gather(*(w.run_one() for w in workers))
    batch = await drive(settings, school.batch.id, (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    assert batch.status == BatchStatus.RECEIPTS, batch.adapter_message
    package = await _exactly_once(sim, school)
    assert package["uploads"] <= 2 and await CentralDelivery.filter(batch_id=school.batch.id, school_id=school.school.id).count() == 1


async def test_a_crash_between_sent_and_recorded_resumes_with_the_same_file(
    factory, sim, exchange_keys, settings, bureau, fast_jobs, monkeypatch
) -> None:
    """The upload reached the central side, then the worker died before recording the file id."""
    from moe_central import adapter

    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    real = adapter.CentralAdapter._attempt
    crashed: list[str] = []

    async def crash_after_upload(self: Any, delivery: Any, call: Any) -> Any:
        result = await real(self, delivery, call)
        if not crashed and isinstance(result, str):
            crashed.append(result)
            raise SystemError("worker died")  # the answer is lost with the process
        return result

    monkeypatch.setattr(adapter.CentralAdapter, "_attempt", crash_after_upload)
    batch = await _deliver(school, settings)
    assert batch.status == BatchStatus.RECEIPTS, batch.adapter_message
    package = await _exactly_once(sim, school)
    assert crashed == [package["file_id"]] and package["uploads"] == 2
    job = await Job.filter(school_id=school.school.id, kind="submission.deliver").get()
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, "SystemError")


async def test_when_every_try_fails_the_batch_fails_with_the_reason_and_can_be_sent_again(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    sim.fault("error500", 3, "upload")
    await submission.submit_batch(school.staff, school.batch.id)
    job = await Job.filter(school_id=school.school.id, kind="submission.deliver").get()
    await Job.filter(id=job.id).update(max_attempts=3)
    batch = await drive(settings, school.batch.id, (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    assert batch.status == BatchStatus.FAILED
    assert batch.adapter_message == "delivery gave up after 3 attempts: moe_central.client.CentralUnavailable: upload: HTTP 500"
    assert sim.packages(school.school.code) == []
    again = await _deliver(school, settings)  # staff send it again once the central side is back
    assert again.status == BatchStatus.RECEIPTS
    await _exactly_once(sim, school)


async def test_when_status_polling_gives_up_the_batch_says_so_and_staff_collect_by_hand(
    factory, sim, exchange_keys, settings, bureau, fast_jobs
) -> None:
    from licheng.jobs import run_pending
    from licheng.portfolio import receipts

    school = await term_school(factory, sim, exchange_keys, settings, bureau)
    sim.fault("error500", 2, "status")
    await submission.submit_batch(school.staff, school.batch.id)
    await drive(settings, school.batch.id, (BatchStatus.SUBMITTED,))
    await Job.filter(school_id=school.school.id, kind="submission.poll").update(max_attempts=2)
    for _ in range(100):
        await run_pending(10, settings=settings)
        if await Job.filter(school_id=school.school.id, kind="submission.poll", status=JobStatus.DEAD).exists():
            break
        await asyncio.sleep(0.05)
    batch = await SubmissionBatch.get(id=school.batch.id)
    assert batch.status == BatchStatus.SUBMITTED
    assert batch.adapter_message == ("status polling gave up: moe_central.client.CentralUnavailable: status: HTTP 500; "
                                     "collect the receipts by hand (collectReceipts)")  # fmt: skip
    assert len(await receipts.collect_receipts(school.staff, school.batch.id) or []) == len(school.students)
    await _exactly_once(sim, school)
