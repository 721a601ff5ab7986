"""The package: a round trip, checksums that match, every tampering refused with its own code, caps, memory."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from moe_central.format import columns, BY_NAME
from moe_central.package import PackageRejected, build_package, open_package, validate_caps
from tests.plugins.moe_central.package.conftest import NOW, Keys, MemoryFiles, ids_for, national_id, outcome, year_snapshot
from tests.plugins.moe_central.package.helpers import reseal, resign, split


async def build(snapshot, keys: Keys, out: Path, files: MemoryFiles | None = None):  # type: ignore[no-untyped-def]
    return await build_package(snapshot, national_ids=ids_for(snapshot), file_source=files, central_public_key_pem=keys.central_public,
                               school_private_key_pem=keys.school_private, out_dir=out, now=NOW)  # fmt: skip


def opened(path: Path, keys: Keys, work: Path, *, central: bytes | None = None, school: bytes | None = None):  # type: ignore[no-untyped-def]
    return open_package(path, central_private_key_pem=central or keys.central_private,
                        school_public_key_pem=school or keys.school_public, work_dir=work)  # fmt: skip


def refused(path: Path, keys: Keys, work: Path, **kw: bytes) -> PackageRejected:
    with pytest.raises(PackageRejected) as caught:
        opened(path, keys, work, **kw)
    return caught.value


async def test_round_trip_gives_back_every_row_and_the_manifest(keys: Keys, out: Path, tmp_path: Path) -> None:
    files = MemoryFiles()
    snapshot = year_snapshot(5, files=files)
    built = await build(snapshot, keys, out, files)
    assert built.path.exists() and built.size == built.path.stat().st_size
    assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()
    package = opened(built.path, keys, tmp_path / "work")
    assert package.manifest == built.manifest
    rows = {name: list(package.rows(name)) for name in package.rosters()}
    assert sum(len(r) for r in rows.values()) == len(snapshot.items) == built.manifest["items"]
    assert len(rows["outcomes"]) == 30
    first = rows["outcomes"][0]
    assert (first["national_id"], first["student_number"], first["actual_term"]) == (national_id(1), "S00001", "1151")
    for entry in built.manifest["rosters"]:
        assert entry["rows"] == len(rows[entry["name"]])
    for entry in built.manifest["files"]:
        assert hashlib.sha256(b"".join(package.file_bytes(entry["sha256"]))).hexdigest() == entry["sha256"]
    validate_caps(package)  # 6 and 10 per student: at the caps, not over


async def test_manifest_checksums_match_the_rosters_and_files_in_the_archive(keys: Keys, out: Path, tmp_path: Path) -> None:
    files = MemoryFiles()
    built = await build(year_snapshot(3, files=files), keys, out, files)
    package = opened(built.path, keys, tmp_path / "work")
    with zipfile.ZipFile(package.archive) as zf:
        assert zf.namelist()[0] == "manifest.json"
        for entry in built.manifest["rosters"]:
            data = zf.read(entry["filename"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert data.decode("utf-8").split("\r\n")[0].split(",") == list(columns(BY_NAME[entry["name"]]))
            assert entry["filename"].startswith(f"123456_115_0_{entry['name']}_20261015093000")
        assert {e["sha256"] for e in built.manifest["files"]} == set(files.blobs)
        for entry in built.manifest["files"]:
            assert hashlib.sha256(zf.read("files/" + entry["sha256"])).hexdigest() == entry["sha256"]
            assert entry["size"] == len(files.blobs[entry["sha256"]]) and entry["kind"] == "document"


async def test_the_package_id_is_the_same_for_the_same_batch_and_differs_for_another(keys: Keys, out: Path) -> None:
    first = await build(year_snapshot(2), keys, out / "a")
    again = await build(year_snapshot(2), keys, out / "b")
    other = await build(year_snapshot(2, batch_id=9), keys, out / "c")
    assert first.package_id == again.package_id != other.package_id
    assert first.sha256 != again.sha256  # a fresh key and nonce every time: same id, new ciphertext
    header = json.loads(split(first.path)[2])  # the clear header: routing facts and key material only
    assert set(header) == {"academic_year", "batch_id", "chunk_size", "cipher", "created_at", "format", "key_wrap",
                           "nonce_prefix", "package_id", "recipient_key_id", "school_code", "signature",
                           "signer_key_id", "term", "wrapped_key"}  # fmt: skip
    assert header["package_id"] == first.package_id and national_id(1).encode() not in split(first.path)[2]


async def test_without_a_file_source_the_manifest_lists_files_but_carries_no_bytes(keys: Keys, out: Path, tmp_path: Path) -> None:
    files = MemoryFiles()
    built = await build(year_snapshot(2, files=files), keys, out, None)
    package = opened(built.path, keys, tmp_path / "work")
    assert package.manifest["files_included"] is False and len(package.manifest["files"]) == 32
    with zipfile.ZipFile(package.archive) as zf:
        assert not [n for n in zf.namelist() if n.startswith("files/")]


async def test_a_file_whose_bytes_changed_since_freezing_stops_the_build_and_leaves_nothing(keys: Keys, out: Path) -> None:
    files = MemoryFiles()
    snapshot = year_snapshot(1, files=files)
    victim = next(iter(files.blobs))
    files.blobs[victim] = b"corrupted"
    with pytest.raises(PackageRejected) as caught:
        await build(snapshot, keys, out, files)
    assert caught.value.code == "PACKAGE_FILE_MISMATCH" and caught.value.details == {"sha256": victim}
    assert list(out.iterdir()) == []


async def test_a_flipped_byte_is_refused_by_the_signature(keys: Keys, out: Path, tmp_path: Path) -> None:
    built = await build(year_snapshot(3), keys, out)
    data = bytearray(built.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    built.path.write_bytes(bytes(data))
    assert refused(built.path, keys, tmp_path).code == "PACKAGE_SIGNATURE_INVALID"


async def test_a_truncated_file_is_refused(keys: Keys, out: Path, tmp_path: Path) -> None:
    built = await build(year_snapshot(3), keys, out)
    built.path.write_bytes(built.path.read_bytes()[:-100])
    assert refused(built.path, keys, tmp_path).code == "PACKAGE_TRUNCATED"


async def test_a_package_signed_by_another_key_is_refused(keys: Keys, out: Path, tmp_path: Path) -> None:
    built = await build(year_snapshot(3), keys, out)
    assert refused(built.path, keys, tmp_path, school=keys.other_public).code == "PACKAGE_SIGNATURE_INVALID"


async def test_a_package_for_another_central_key_cannot_be_unwrapped(keys: Keys, out: Path, tmp_path: Path) -> None:
    built = await build(year_snapshot(3), keys, out)
    assert refused(built.path, keys, tmp_path, central=keys.other_private).code == "PACKAGE_KEY_INVALID"


async def big_package(keys: Keys, out: Path):  # type: ignore[no-untyped-def]
    files = MemoryFiles()
    built = await build(year_snapshot(40, files=files), keys, out, files)
    prefix, ciphertext, _, chunk = split(built.path)
    assert len(ciphertext) > 3 * (chunk + 16), "the test needs several chunks"
    return built, prefix, ciphertext, chunk + 16


async def test_reordered_chunks_are_refused_even_under_a_valid_signature(keys: Keys, out: Path, tmp_path: Path) -> None:
    built, prefix, ciphertext, sealed = await big_package(keys, out)
    swapped = ciphertext[sealed : 2 * sealed] + ciphertext[:sealed] + ciphertext[2 * sealed :]
    resign(built.path, prefix, swapped, keys.school_private)
    assert refused(built.path, keys, tmp_path).code == "PACKAGE_DECRYPTION_FAILED"


async def test_dropped_final_chunks_are_seen_as_truncation_even_under_a_valid_signature(keys: Keys, out: Path, tmp_path: Path) -> None:
    built, prefix, ciphertext, sealed = await big_package(keys, out)
    resign(built.path, prefix, ciphertext[: 2 * sealed], keys.school_private)
    assert refused(built.path, keys, tmp_path).code == "PACKAGE_TRUNCATED"


async def test_a_roster_that_differs_from_its_manifest_checksum_is_refused(keys: Keys, out: Path, tmp_path: Path) -> None:
    built = await build(year_snapshot(3), keys, out)
    package = opened(built.path, keys, tmp_path / "first")
    buffer = io.BytesIO()
    with zipfile.ZipFile(package.archive) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == built.manifest["rosters"][0]["filename"]:
                data = data.replace(b"S00002", b"S00009")
            target.writestr(info, data)
    reseal(built.path, buffer.getvalue(), keys.central_private, keys.school_private)
    rejection = refused(built.path, keys, tmp_path / "second")
    assert rejection.code == "PACKAGE_CHECKSUM_MISMATCH" and rejection.details == {"roster": "outcomes"}


async def test_seven_outcomes_for_one_student_break_the_cap_naming_the_student(keys: Keys, out: Path, tmp_path: Path) -> None:
    snapshot = year_snapshot(3)
    extra = outcome(2, 7)
    snapshot = type(snapshot)(**{**snapshot.__dict__, "items": (*snapshot.items, extra)})
    built = await build(snapshot, keys, out)
    package = opened(built.path, keys, tmp_path)
    with pytest.raises(PackageRejected) as caught:
        validate_caps(package)
    error = caught.value
    assert error.code == "PACKAGE_CAP_EXCEEDED"
    assert error.details == {"student_number": "S00002", "year": 115, "item_type": "outcome", "count": 7, "cap": 6}
    assert "S00002" in error.message_zh and "S00002" in error.message_en
    assert national_id(2) not in error.message_zh + error.message_en + json.dumps(error.details)


async def test_school_registered_cadre_records_do_not_count_toward_the_cap(keys: Keys, out: Path, tmp_path: Path) -> None:
    snapshot = year_snapshot(2, performances=10)
    built = await build(snapshot, keys, out)
    validate_caps(opened(built.path, keys, tmp_path))
    with pytest.raises(PackageRejected):
        validate_caps(opened(built.path, keys, tmp_path / "again"), max_performances=9)


async def test_building_and_opening_need_memory_far_below_the_package_size(keys: Keys, out: Path, tmp_path: Path) -> None:
    files = MemoryFiles(chunk=64 * 1024)
    for n in range(40):
        files.add(hashlib.sha256(str(n).encode()).digest() * (16 * 1024))  # 512 KiB each, incompressible enough
    snapshot = year_snapshot(40, outcomes=1, performances=0)
    shas = list(files.blobs)
    items = tuple(type(i)(**{**i.__dict__, "file_checksums": (shas[k],),
                             "content": {**i.content, "files": [{"sha256": shas[k], "size": 512 * 1024, "kind": "document"}]}})
                  for k, i in enumerate(snapshot.items))  # fmt: skip
    snapshot = type(snapshot)(**{**snapshot.__dict__, "items": items})
    tracemalloc.start()
    try:
        built = await build(snapshot, keys, out, files)
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        opened(built.path, keys, tmp_path / "work")
        _, open_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert built.size > 20 * 1024 * 1024
    assert build_peak < built.size / 20, (build_peak, built.size)
    assert open_peak < built.size / 20, (open_peak, built.size)


def test_a_file_that_is_not_a_package_is_refused_as_malformed(keys: Keys, tmp_path: Path) -> None:
    path = tmp_path / "x.lcpkg"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 4096)
    assert refused(path, keys, tmp_path / "work").code == "PACKAGE_MALFORMED"


async def test_a_term_batch_carries_students_cadres_and_grades_of_that_term(keys: Keys, out: Path, tmp_path: Path) -> None:
    from tests.plugins.moe_central.package.conftest import term_snapshot

    built = await build(term_snapshot(4, term=2), keys, out)
    package = opened(built.path, keys, tmp_path)
    assert list(package.rosters()) == ["students", "cadres", "grades"]
    assert [e["rows"] for e in package.manifest["rosters"]] == [4, 4, 12]
    grades = list(package.rows("grades"))
    assert {(r["year"], r["term"], r["school_code"]) for r in grades} == {("115", "2", "123456")}
    assert grades[0]["score"] == "88.50" and grades[0]["passed"] == "1"
    assert all(e["filename"].startswith(("123456_115_2_students_", "123456_115_2_cadres_", "123456_115_2_grades_"))
               for e in package.manifest["rosters"])  # fmt: skip
    validate_caps(package)  # no outcomes or performances in a term batch


async def test_an_unknown_format_version_is_refused_before_decrypting(keys: Keys, out: Path, tmp_path: Path) -> None:
    from moe_central.crypto import envelope_prefix

    built = await build(year_snapshot(2), keys, out)
    _, ciphertext, header, _ = split(built.path)
    later = json.dumps({**json.loads(header), "format": "licheng-central/9"}, sort_keys=True, separators=(",", ":")).encode()
    resign(built.path, envelope_prefix(later), ciphertext, keys.school_private)
    rejection = refused(built.path, keys, tmp_path)
    assert rejection.code == "PACKAGE_FORMAT_UNSUPPORTED" and rejection.details == {"format": "licheng-central/9"}


def _left_in(work: Path) -> list[str]:
    return sorted(p.name for p in work.rglob("*") if p.is_file()) if work.exists() else []


async def test_no_decrypted_archive_is_left_on_disk_when_refused_or_closed(keys: Keys, out: Path, tmp_path: Path) -> None:
    """The decrypted archive holds national IDs in the clear: refused mid-decryption, refused after it, or closed, it is gone."""
    built, prefix, ciphertext, sealed = await big_package(keys, out)
    good = opened(built.path, keys, tmp_path / "good")
    assert _left_in(tmp_path / "good") == [good.archive.name]
    with good:
        assert next(good.rows("outcomes"))["national_id"]
    assert _left_in(tmp_path / "good") == []  # close() deletes it

    resign(built.path, prefix, ciphertext[: 2 * sealed], keys.school_private)  # two chunks decrypt, then truncation
    assert refused(built.path, keys, tmp_path / "truncated").code == "PACKAGE_TRUNCATED"
    assert _left_in(tmp_path / "truncated") == []

    small = await build(year_snapshot(3), keys, out / "small")
    source = opened(small.path, keys, tmp_path / "source")
    buffer = io.BytesIO()
    with zipfile.ZipFile(source.archive) as archive, zipfile.ZipFile(buffer, "w") as target:
        for info in archive.infolist():
            data = archive.read(info)
            target.writestr(info, data.replace(b"S00002", b"S00009") if info.filename == small.manifest["rosters"][0]["filename"] else data)
    source.close()
    reseal(small.path, buffer.getvalue(), keys.central_private, keys.school_private)
    assert refused(small.path, keys, tmp_path / "checked").code == "PACKAGE_CHECKSUM_MISMATCH"  # refused after decryption
    assert _left_in(tmp_path / "checked") == []
