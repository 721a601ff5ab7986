"""Format version 2: every roster row carries its item's reference and a checksum of the row; a
version-2 package opens, and a version-1 package still does."""

from __future__ import annotations

from pathlib import Path

import pytest

from licheng.portfolio.submission_port import item_reference
from moe_central.format import FORMAT_VERSION, LATEST_VERSION, columns, row_checksum, rosters_for
from moe_central.package import build_package, open_package
from moe_central.rosters import roster_rows
from tests.plugins.moe_central.package.conftest import NOW, SCHOOL, Keys, ids_for, term_snapshot, year_snapshot


def test_version_2_rows_end_with_the_item_reference_and_the_row_checksum() -> None:
    snapshot = year_snapshot(2, outcomes=2, performances=3)
    seen = []
    for spec in rosters_for(0):
        header = columns(spec, LATEST_VERSION)
        assert header[-2:] == ("item_ref", "row_sha256") and columns(spec, FORMAT_VERSION) == header[:-2]
        for values in roster_rows(spec, snapshot, ids_for(snapshot), LATEST_VERSION):
            row = dict(zip(header, values))
            assert row["row_sha256"] == row_checksum(header, row)
            seen.append(row["item_ref"])
    assert sorted(seen) == sorted(item_reference(SCHOOL, i.item_type, i.item_id) for i in snapshot.items)


def test_the_row_checksum_covers_every_value_but_the_national_id() -> None:
    snapshot = term_snapshot(1)
    spec = rosters_for(1)[2]  # grades
    header = columns(spec, LATEST_VERSION)
    row = dict(zip(header, next(roster_rows(spec, snapshot, ids_for(snapshot), LATEST_VERSION))))
    checksum = row["row_sha256"]
    assert row_checksum(header, {**row, "national_id": "B200000000"}) == checksum  # a hash of it could be searched back
    assert row_checksum(header, {**row, "student_number": "S99999"}) != checksum  # filed under another student
    assert row_checksum(header, {**row, "score": "60.00"}) != checksum


def test_a_reference_is_the_same_in_every_batch_and_names_school_type_and_item() -> None:
    assert item_reference(SCHOOL, "outcome", 7) == item_reference(SCHOOL, "outcome", 7)
    assert len({item_reference(SCHOOL, "outcome", 7), item_reference(SCHOOL, "performance", 7),
                item_reference("654321", "outcome", 7), item_reference(SCHOOL, "outcome", 8)}) == 4  # fmt: skip
    assert len(item_reference(SCHOOL, "outcome", 7)) == 32


@pytest.mark.parametrize("version", [FORMAT_VERSION, LATEST_VERSION])
async def test_packages_of_both_versions_open(version: str, keys: Keys, out: Path, tmp_path: Path) -> None:
    snapshot = year_snapshot(2, outcomes=2, performances=2)
    built = await build_package(snapshot, national_ids=ids_for(snapshot), file_source=None, central_public_key_pem=keys.central_public,
                                school_private_key_pem=keys.school_private, out_dir=out, now=NOW, version=version)  # fmt: skip
    with open_package(built.path, central_private_key_pem=keys.central_private, school_public_key_pem=keys.school_public,
                      work_dir=tmp_path / "work") as opened:  # fmt: skip
        assert opened.manifest["format"] == version
        rows = [row for roster in opened.rosters() for row in opened.rows(roster)]
    assert len(rows) == len(snapshot.items)
    assert all(("item_ref" in row) == (version == LATEST_VERSION) for row in rows)
