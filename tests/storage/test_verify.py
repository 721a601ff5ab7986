"""`storage verify`: the integrity scan over both stores, and the command itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from licheng.settings import Settings
from licheng.storage import service
from licheng.storage.blobstore import BlobStore
from licheng.storage.integrity import verify_store
from licheng.storage.keys import new_blob_key
from licheng.storage.limits import national_defaults
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import BlobCategory, QuotaLedger, StoredBlob


async def put_files(store: BlobStore, samples, member, count: int = 3) -> list[StoredBlob]:
    rows = []
    for index in range(count):
        rows.append(
            await service.receive_upload(
                await member.actor(), store, samples.chunked(samples.pdf(pages=index + 1)),
                category="document", filename=f"{index}.pdf", limits=national_defaults(),
            )  # fmt: skip
        )
    return rows


async def damage(store: BlobStore, samples, row: StoredBlob) -> None:
    """Flip one byte in the middle of a stored blob (same size, other content)."""
    if isinstance(store, LocalBlobStore):
        path = store.path_for(row.key)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        data = bytearray(b"".join([c async for c in store.open(row.key)]))
        data[len(data) // 2] ^= 0x01
        await store.put(row.key, samples.chunked(bytes(data)), max_bytes=None)


async def test_a_healthy_store_verifies_clean(store, samples, school, student) -> None:
    await put_files(store, samples, student)
    seen: list[tuple[int, int]] = []
    report = await verify_store(store, school_id=school.id, progress=lambda d, t: seen.append((d, t)))
    assert report.ok and report.checked == 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


async def test_a_flipped_byte_and_a_deleted_blob_are_both_found(store, samples, school, student) -> None:
    good, flipped, deleted = await put_files(store, samples, student)
    await damage(store, samples, flipped)
    await store.delete(deleted.key)
    report = await verify_store(store, school_id=school.id)
    assert not report.ok
    assert [(p.blob_id, p.key) for p in report.corrupted] == [(flipped.id, flipped.key)]
    assert report.corrupted[0].detail.startswith("sha256 ")
    assert [(p.blob_id, p.key) for p in report.missing] == [(deleted.id, deleted.key)]
    assert report.orphaned == [] and report.quota_mismatches == []


async def test_a_truncated_blob_is_corrupted(store, samples, school, student) -> None:
    [row] = await put_files(store, samples, student, 1)
    data = b"".join([c async for c in store.open(row.key)])
    await store.put(row.key, samples.chunked(data[:-10]), max_bytes=None)
    [problem] = (await verify_store(store, school_id=school.id)).corrupted
    assert problem.detail == f"size {len(data) - 10} != {len(data)}"


async def test_a_blob_without_a_row_is_an_orphan_but_an_upload_in_flight_is_not(
    store, samples, school, student
) -> None:
    await put_files(store, samples, student, 1)
    stray = new_blob_key(school.id)
    await store.put(stray, samples.chunked(b"no row names me"), max_bytes=None)
    in_flight = new_blob_key(school.id)
    await StoredBlob.create(
        school_id=school.id, owner_person_id=student.person.id, key=in_flight,
        category=BlobCategory.DOCUMENT, display_filename="x.pdf",
    )  # fmt: skip
    await store.put(in_flight, samples.chunked(b"arriving"), max_bytes=None)
    report = await verify_store(store, school_id=school.id)
    assert report.orphaned == [stray]
    assert report.in_progress == 1 and not report.missing and not report.corrupted


async def test_a_ledger_that_disagrees_with_the_blobs_is_reported(store, samples, school, student) -> None:
    rows = await put_files(store, samples, student, 2)
    await QuotaLedger.filter(person_id=student.person.id).update(used_bytes=1)
    [mismatch] = (await verify_store(store, school_id=school.id)).quota_mismatches
    assert (mismatch.person_id, mismatch.ledger_bytes) == (student.person.id, 1)
    assert mismatch.blob_bytes == sum(r.size for r in rows)


def cli(settings: Settings, storage_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LICHENG_DATABASE_URL": settings.resolved_database_url,
        "LICHENG_STORAGE_URL": storage_url,
        "LICHENG_SECRET_KEY": settings.secret_key,
        "LICHENG_DATA_DIR": str(settings.data_dir),
    }
    command = [sys.executable, "-c", "from licheng.cli import main; main()", "storage", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_the_command_finds_both_and_exits_non_zero(settings, samples, school, student, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    good, flipped, deleted = await put_files(store, samples, student)
    url = f"file://{store.root}"
    clean = cli(settings, url, "verify", "--school", school.code)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "checked    3 blob(s)" in clean.stdout and clean.stdout.rstrip().endswith("OK")

    await damage(store, samples, flipped)
    await store.delete(deleted.key)
    found = cli(settings, url, "verify", "--school", school.code)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "missing    1" in found.stdout and deleted.key in found.stdout
    assert "corrupted  1" in found.stdout and flipped.key in found.stdout
    assert good.key not in found.stdout
    assert "verifying" in found.stderr  # the progress bar goes to stderr
    assert "PROBLEMS FOUND" in found.stderr

    unknown = cli(settings, url, "verify", "--school", "ZZ0000")
    assert unknown.returncode == 2 and "NOT_FOUND" in unknown.stderr
