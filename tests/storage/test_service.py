"""Storage services over both stores: receiving, claiming, discarding, reaping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from licheng.errors import LichengError, NotFound
from licheng.graphql.relay import to_global_id
from licheng.storage import reaper, service
from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import UploadRefused
from licheng.storage.keys import new_blob_key
from licheng.storage.limits import national_defaults
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import BlobCategory, BlobState, QuotaLedger, StoredBlob
from licheng.storage.quota import QuotaExceeded
from licheng.tenants.models import Role

LIMITS = national_defaults()


async def receive(store: BlobStore, member, data: bytes, name: str = "a.pdf", **options) -> StoredBlob:
    from tests.storage import samples

    options.setdefault("category", "document")
    options.setdefault("limits", LIMITS)
    return await service.receive_upload(
        await member.actor(), store, samples.chunked(data, 8192), filename=name, **options
    )


async def keys(store: BlobStore, school_id: int) -> list[str]:
    return [key async for key in store.iter_keys(f"{school_id}/")]


async def used(person_id: int) -> int:
    row = await QuotaLedger.get_or_none(person_id=person_id)
    return int(row.used_bytes) if row else 0


async def age(row: StoredBlob, hours: float) -> None:
    await StoredBlob.filter(id=row.id).update(created_at=datetime.now(UTC) - timedelta(hours=hours))


async def test_claiming_attaches_an_upload_once(store, samples, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    actor = await student.actor()
    claimed = await service.claim_upload(
        actor, to_global_id("Upload", row.id), student_id=student.person.id, category="document", attached_to="outcome:7"
    )
    assert (claimed.state, claimed.attached_to) == (BlobState.ATTACHED, "outcome:7")
    assert (await StoredBlob.get(id=row.id)).attached_at is not None
    with pytest.raises(LichengError) as again:
        await service.claim_upload(actor, row.id, student_id=student.person.id, category="document")
    assert again.value.code == "UPLOAD_ALREADY_ATTACHED"


async def test_only_the_uploader_claims_and_only_for_its_student(store, samples, factory, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    classmate = await factory.member(school, Role.STUDENT)
    other_school = await factory.school()
    stranger = await factory.member(other_school, Role.STUDENT, Role.STAFF)
    attempts = [
        (await classmate.actor(), classmate.person.id),
        (await classmate.actor(), student.person.id),
        (await stranger.actor(), student.person.id),
        (await student.actor(), classmate.person.id),
    ]
    for actor, student_id in attempts:
        with pytest.raises(NotFound):
            await service.claim_upload(actor, row.id, student_id=student_id, category="document")
    with pytest.raises(NotFound):
        await service.claim_upload(await student.actor(), "Zm9vOjE=", student_id=student.person.id, category="document")
    assert (await StoredBlob.get(id=row.id)).state is BlobState.PENDING


async def test_a_claim_for_another_category_is_refused(store, samples, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    with pytest.raises(LichengError) as refused:
        await service.claim_upload(await student.actor(), row.id, student_id=student.person.id, category="media")
    assert refused.value.code == "UPLOAD_CATEGORY_MISMATCH"


async def test_discarding_an_upload_removes_it_and_refunds_it(store, samples, school, student) -> None:
    keep = await receive(store, student, samples.png(), "keep.png")
    drop = await receive(store, student, samples.pdf())
    assert await used(student.person.id) == keep.size + drop.size
    await service.discard_upload(await student.actor(), store, drop.id)
    assert await used(student.person.id) == keep.size
    assert await keys(store, school.id) == [keep.key]
    assert not await StoredBlob.exists(id=drop.id)


async def test_an_attached_file_cannot_be_discarded(store, samples, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    actor = await student.actor()
    await service.claim_upload(actor, row.id, student_id=student.person.id, category="document")
    with pytest.raises(LichengError) as refused:
        await service.discard_upload(actor, store, row.id)
    assert refused.value.code == "UPLOAD_ALREADY_ATTACHED"
    assert await keys(store, school.id) == [row.key]


async def test_a_body_that_fails_midway_leaves_no_blob_no_row_no_charge(store, samples, school, student) -> None:
    from starlette.requests import ClientDisconnect

    data = samples.pdf(pages=30)

    async def body() -> AsyncIterator[bytes]:
        yield data[:5000]
        raise ClientDisconnect()

    with pytest.raises(ClientDisconnect):
        await service.receive_upload(
            await student.actor(), store, body(), category="document", filename="cut.pdf", limits=LIMITS
        )
    assert await keys(store, school.id) == []
    assert not await StoredBlob.filter(school_id=school.id).exists()
    assert await used(student.person.id) == 0


async def test_an_upload_whose_intent_was_reaped_is_refused_and_removed(store, samples, school, student) -> None:
    data = samples.pdf()
    taken = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal taken
        yield data[:1000]
        # The intent commits while the body arrives; hours later, the reaper decides this
        # upload died.
        while not (rows := await StoredBlob.filter(school_id=school.id, state=BlobState.RECEIVING)):
            await asyncio.sleep(0.001)
        [row] = rows
        await age(row, 7)
        report = await reaper.reap(store, school_id=school.id)
        taken = report.intents == 1
        yield data[1000:]

    with pytest.raises(LichengError) as refused:
        await service.receive_upload(
            await student.actor(), store, body(), category="document", filename="slow.pdf", limits=LIMITS
        )
    assert taken and refused.value.code == "UPLOAD_EXPIRED"
    assert await keys(store, school.id) == []
    assert await used(student.person.id) == 0


async def test_the_reaper_removes_dead_intents_with_their_blobs(store, samples, school, student) -> None:
    # A server killed after the blob was stored but before the row was finished.
    key = new_blob_key(school.id)
    intent = await StoredBlob.create(
        school_id=school.id, owner_person_id=student.person.id, uploader_account_id=student.account.id,
        key=key, category=BlobCategory.DOCUMENT, display_filename="x.pdf",
    )  # fmt: skip
    await store.put(key, samples.chunked(samples.pdf()), max_bytes=None)
    fresh = await receive(store, student, samples.png(), "b.png")
    assert (await reaper.reap(store, school_id=school.id)).intents == 0  # not old enough yet
    await age(intent, 7)
    report = await reaper.reap(store, school_id=school.id)
    assert (report.intents, report.unclaimed) == (1, 0)
    assert await keys(store, school.id) == [fresh.key]
    assert not await StoredBlob.exists(id=intent.id)


async def test_the_reaper_refunds_uploads_never_attached(store, samples, school, student) -> None:
    old = await receive(store, student, samples.pdf())
    kept = await receive(store, student, samples.jpeg(), "kept.jpg")
    recent = await receive(store, student, samples.png(), "recent.png")
    await service.claim_upload(await student.actor(), kept.id, student_id=student.person.id, category="document")
    await age(old, 25)
    await age(kept, 25)
    report = await reaper.reap(store, school_id=school.id)
    assert (report.unclaimed, report.refunded_bytes) == (1, old.size)
    assert sorted(await keys(store, school.id)) == sorted([kept.key, recent.key])
    assert await used(student.person.id) == kept.size + recent.size


async def test_the_reaper_finishes_an_interrupted_removal(store, samples, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    await StoredBlob.filter(id=row.id).update(state=BlobState.DELETED)  # crashed right after marking
    assert (await reaper.reap(store, school_id=school.id)).tombstones == 1
    assert await keys(store, school.id) == []
    assert not await StoredBlob.exists(id=row.id)


async def test_orphans_are_removed_only_when_asked(store, samples, school, student) -> None:
    row = await receive(store, student, samples.pdf())
    stray = new_blob_key(school.id)
    await store.put(stray, samples.chunked(b"left over"), max_bytes=None)
    assert (await reaper.reap(store, school_id=school.id)).orphans == 0
    assert stray in await keys(store, school.id)
    assert (await reaper.reap(store, school_id=school.id, orphans=True)).orphans == 1
    assert await keys(store, school.id) == [row.key]


async def test_temporary_files_of_a_killed_process_are_swept(store, samples, school) -> None:
    if not isinstance(store, LocalBlobStore):
        pytest.skip("S3 keeps no temporary files (unfinished multipart uploads: covered by the lifecycle rule)")
    folder = store.root / str(school.id) / "2026"
    folder.mkdir(parents=True)
    leftover = folder / ".0123abcd.deadbeef.tmp"
    leftover.write_bytes(b"half a file")
    assert (await reaper.reap(store, school_id=school.id)).temporary == 0  # could be in flight
    report = await reaper.reap(store, school_id=school.id, intents_after=timedelta(0))
    assert report.temporary == 1 and not leftover.exists()


async def test_refusals_of_the_store_leave_no_intent(store, samples, school, student) -> None:
    with pytest.raises(UploadRefused):
        await receive(store, student, samples.truncated(samples.pdf()), "cut.pdf")
    with pytest.raises(QuotaExceeded):
        await receive(store, student, samples.pdf(), limits=replace(LIMITS, quota_bytes=100))
    assert not await StoredBlob.filter(school_id=school.id).exists()
    assert await keys(store, school.id) == []


async def test_usage_is_shown_as_the_cabinet_shows_it(store, samples, factory, school, student) -> None:
    await receive(store, student, samples.pdf(pages=40))
    usage = await service.blob_usage(await student.actor(), student.person.id, LIMITS)
    assert usage.display == f"{usage.used_bytes / 1048576:.2f} MB / 150 MB"
    assert usage.warning is False
    other = await factory.member(await factory.school(), Role.STAFF)
    with pytest.raises(NotFound):
        await service.blob_usage(await other.actor(), student.person.id, LIMITS)


def test_usage_warns_at_80_percent() -> None:
    from licheng.storage.quota import Usage

    assert Usage(5_326_848, 150 * 1048576).display == "5.08 MB / 150 MB"
    assert not Usage(80 * 1048576 - 1, 100 * 1048576).warning
    assert Usage(80 * 1048576, 100 * 1048576).warning


def test_module_sizes_stay_small() -> None:
    from pathlib import Path

    import licheng.storage

    for path in Path(licheng.storage.__file__).parent.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name


async def test_a_blob_appears_under_its_key_only_once_its_intent_is_committed(store, samples, school, student) -> None:
    # The whole body arrives at once, before the intent's commit could have run: the
    # store must still see the end of its input only after the row exists.
    seen_at_end: list[bool] = []
    real_put = store.put

    async def watching_put(key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None):
        async def watched() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk
            seen_at_end.append(await StoredBlob.exists(key=key, state=BlobState.RECEIVING))

        return await real_put(key, watched(), max_bytes=max_bytes)

    store.put = watching_put  # type: ignore[method-assign]
    data = samples.pdf()
    row = await service.receive_upload(
        await student.actor(), store, samples.chunked(data, len(data)), category="document", filename="a.pdf", limits=LIMITS
    )
    assert seen_at_end == [True]
    assert row.state is BlobState.PENDING and await keys(store, school.id) == [row.key]


async def test_an_intent_that_cannot_commit_stops_the_body_and_touches_no_blob(
    store, samples, school, student, monkeypatch
) -> None:
    first = await receive(store, student, samples.pdf())
    # The next upload draws the same key (a collision): the database refuses its intent.
    monkeypatch.setattr(service, "new_blob_key", lambda school_id: first.key)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        async for piece in samples.chunked(samples.png(400, 300), 4096):
            sent += 1
            yield piece
            await asyncio.sleep(0.01)  # the commit fails meanwhile

    with pytest.raises(Exception) as refused:
        await service.receive_upload(
            await student.actor(), store, body(), category="document", filename="b.png", limits=LIMITS
        )
    assert "integrity" in type(refused.value).__name__.lower() or "unique" in str(refused.value).lower()
    # The other upload's blob is untouched, nothing else is stored, nothing charged twice.
    assert await keys(store, school.id) == [first.key]
    assert [chunk async for chunk in store.open(first.key)] and (await store.stat(first.key)).size == first.size
    assert await used(student.person.id) == first.size
    assert await StoredBlob.filter(school_id=school.id).count() == 1
