"""Rosters (名冊): one per kind with the kind's columns, the common columns on every row, the file names."""

from __future__ import annotations

import csv
import io
import re
import types

import pytest

from licheng.portfolio.kinds import KIND_FIELDS
from licheng.portfolio.models import PerformanceKind
from moe_central.format import (
    BY_NAME,
    COMMON_COLUMNS,
    FORMAT_VERSION,
    Column,
    PackageRejected,
    RosterSpec,
    columns,
    roster_filename,
    rosters_for,
)
from moe_central.rosters import check_row, csv_chunks, roster_rows
from tests.plugins.moe_central.package.conftest import SCHOOL, YEAR, ids_for, national_id, term_snapshot, year_snapshot


def test_each_performance_kind_has_its_own_roster_with_the_kinds_fields() -> None:
    for kind in PerformanceKind:
        spec = BY_NAME["perf-" + kind.value.replace("_", "-")]
        header = columns(spec)
        assert header[: len(COMMON_COLUMNS)] == COMMON_COLUMNS
        for field in KIND_FIELDS[kind]:
            assert field.name in header, (kind, field.name)
    competition = columns(BY_NAME["perf-competition"])
    assert {"competition_name", "level", "award", "announced_on"} <= set(competition)
    certificate = columns(BY_NAME["perf-certificate"])
    assert {"certificate_code", "score", "obtained_on", "certificate_number"} <= set(certificate)
    cadre = columns(BY_NAME["perf-cadre"])
    assert {"unit", "starts_on", "ends_on", "position", "level"} <= set(cadre)
    assert "competition_name" not in certificate


def test_the_yearly_batch_has_outcomes_and_one_roster_per_kind_and_term_batches_the_school_rosters() -> None:
    assert [s.name for s in rosters_for(0)] == ["outcomes", *("perf-" + k.value.replace("_", "-") for k in PerformanceKind)]
    assert [s.name for s in rosters_for(1)] == ["students", "cadres", "grades"]


def test_every_row_carries_year_term_school_code_and_national_id() -> None:
    snapshot = year_snapshot(4)
    ids = ids_for(snapshot)
    total = 0
    for spec in rosters_for(0):
        for row in roster_rows(spec, snapshot, ids):
            record = dict(zip(columns(spec), row))
            assert (record["year"], record["term"], record["school_code"]) == (str(YEAR), "0", SCHOOL)
            assert record["national_id"] == national_id(int(record["student_number"][1:]))
            total += 1
    assert total == len(snapshot.items)
    term = term_snapshot(3, term=2)
    for spec in rosters_for(2):
        for row in roster_rows(spec, term, ids_for(term)):
            assert row[:3] == [str(YEAR), "2", SCHOOL] and re.match(r"^A1\d{8}$", row[3])


def test_outcome_rows_carry_actual_term_course_code_and_file_checksums() -> None:
    from tests.plugins.moe_central.package.conftest import MemoryFiles

    files = MemoryFiles()
    snapshot = year_snapshot(1, outcomes=2, performances=0, files=files)
    rows = [dict(zip(columns(BY_NAME["outcomes"]), r)) for r in roster_rows(BY_NAME["outcomes"], snapshot, ids_for(snapshot))]
    assert rows[0]["actual_term"] == "1151"
    assert len(rows[0]["course_code"]) == 23
    assert rows[0]["file_sha256"] == snapshot.items[0].file_checksums[0]
    assert set(files.blobs) == {r["file_sha256"] for r in rows}


def test_rows_are_generated_lazily() -> None:
    snapshot = year_snapshot(3)
    rows = roster_rows(BY_NAME["outcomes"], snapshot, {})  # no IDs at all: fails only when a row is asked for
    assert isinstance(rows, types.GeneratorType)
    with pytest.raises(PackageRejected) as caught:
        next(rows)
    assert caught.value.code == "NATIONAL_ID_MISSING"
    assert caught.value.details["student_number"] == "S00001"


def test_roster_files_are_named_school_year_term_roster_timestamp() -> None:
    assert roster_filename("123456", 115, 0, "perf-competition", "20261015093000") == "123456_115_0_perf-competition_20261015093000.csv"


def test_csv_is_utf8_with_quoting_and_survives_a_round_trip() -> None:
    spec = BY_NAME["outcomes"]
    snapshot = year_snapshot(2, outcomes=3, performances=0)
    data = b"".join(csv_chunks(columns(spec), roster_rows(spec, snapshot, ids_for(snapshot))))
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(parsed) == 6
    assert parsed[0]["brief"] == '第 0 件成果，含逗號, 與"引號"'


def test_a_later_version_appends_columns_without_changing_earlier_headers() -> None:
    spec = RosterSpec("x", "測試", "outcome", True, (Column("a", "甲"), Column("b", "乙", since=2)))
    assert columns(spec, FORMAT_VERSION) == (*COMMON_COLUMNS, "a")
    assert columns(spec, "licheng-central/2") == (*COMMON_COLUMNS, "a", "b")


def test_a_bad_course_code_is_refused_with_the_row_and_student_number() -> None:
    spec = BY_NAME["grades"]
    row = dict(zip(columns(spec), [str(YEAR), "1", SCHOOL, national_id(7), "S00007", "SHORT", "數學", "10", "4", "", ""]))
    with pytest.raises(PackageRejected) as caught:
        check_row(spec, row, line=3, year=YEAR, term=1, school_code=SCHOOL)
    assert caught.value.code == "PACKAGE_SCHEMA_INVALID"
    assert caught.value.details == {"roster": "grades", "row": 3, "column": "course_code", "student_number": "S00007"}
    assert national_id(7) not in str(caught.value) + str(caught.value.details)
