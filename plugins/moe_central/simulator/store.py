"""The simulator's memory: an SQLite file beside the packages, so a restart forgets nothing.

One row per package (keyed by the file id it was given, unique by package id:
the dedupe that makes a repeated upload harmless), one row per receipt line,
and the public keys of the schools it trusts. Receipt lines carry the roster,
the row, the student number, the row's item reference and the checksum of the
row as stored, never a national ID.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS package (
    file_id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL UNIQUE,
    school_code TEXT NOT NULL,
    batch_id INTEGER,
    resubmission_of INTEGER,
    state TEXT NOT NULL,
    reason TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploads INTEGER NOT NULL DEFAULT 1,
    notifies INTEGER NOT NULL DEFAULT 0,
    notified_at REAL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS receipt_line (
    file_id TEXT NOT NULL,
    roster TEXT NOT NULL,
    row INTEGER NOT NULL,
    student_number TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    item_ref TEXT NOT NULL DEFAULT '',
    row_sha256 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (file_id, roster, row)
);
CREATE TABLE IF NOT EXISTS school_key (
    school_code TEXT PRIMARY KEY,
    public_key_pem TEXT NOT NULL
);
"""


class Store:
    """Thread-safe (one lock) access to the simulator's SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            known = {row[1] for row in self._db.execute("PRAGMA table_info(receipt_line)")}
            for column in ("item_ref", "row_sha256"):  # a data dir from before format version 2
                if column not in known:
                    self._db.execute(f"ALTER TABLE receipt_line ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, tuple(args))]

    def _run(self, sql: str, args: Iterable[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(args)).rowcount

    # --- schools ---

    def set_school_key(self, school_code: str, pem: str) -> None:
        self._run("INSERT INTO school_key VALUES (?, ?) ON CONFLICT(school_code) DO UPDATE SET public_key_pem = excluded.public_key_pem",
                  (school_code, pem))  # fmt: skip

    def school_key(self, school_code: str) -> str | None:
        rows = self._all("SELECT public_key_pem FROM school_key WHERE school_code = ?", (school_code,))
        return rows[0]["public_key_pem"] if rows else None

    # --- packages ---

    def by_package_id(self, package_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM package WHERE package_id = ?", (package_id,))
        return rows[0] if rows else None

    def by_file_id(self, file_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM package WHERE file_id = ?", (file_id,))
        return rows[0] if rows else None

    def add_package(self, file_id: str, package_id: str, school_code: str, sha256: str, size: int) -> bool:
        """Record a new upload; False when the package id is known (the caller answers with its file id)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO package (file_id, package_id, school_code, state, sha256, size, created_at) "
                "VALUES (?, ?, ?, 'uploaded', ?, ?, ?) ON CONFLICT(package_id) DO NOTHING",
                (file_id, package_id, school_code, sha256, size, time.time()),
            )
            return cursor.rowcount == 1

    def count_upload(self, package_id: str) -> None:
        self._run("UPDATE package SET uploads = uploads + 1 WHERE package_id = ?", (package_id,))

    def notify(self, file_id: str) -> None:
        """Count the notice; the first one moves an uploaded package to ``notified``."""
        self._run("UPDATE package SET notifies = notifies + 1, notified_at = COALESCE(notified_at, ?), "
                  "state = CASE state WHEN 'uploaded' THEN 'notified' ELSE state END WHERE file_id = ?",
                  (time.time(), file_id))  # fmt: skip

    def accepted_for_batch(self, school_code: str, batch_id: int) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM package WHERE school_code = ? AND batch_id = ? AND state = 'accepted'", (school_code, batch_id))
        return rows[0] if rows else None

    def decide(self, file_id: str, *, state: str, reason: str | None, batch_id: int | None, resubmission_of: int | None,
               lines: Iterable[tuple[str, int, str, str, str, str, str]] = ()) -> None:  # fmt: skip
        """Accept (with its receipt lines) or reject a notified package, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE package SET state = ?, reason = ?, batch_id = ?, resubmission_of = ? WHERE file_id = ?",
                                 (state, reason, batch_id, resubmission_of, file_id))  # fmt: skip
                self._db.executemany("INSERT OR IGNORE INTO receipt_line (file_id, roster, row, student_number, status, note, "
                                     "item_ref, row_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                     ((file_id, *line) for line in lines))  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def receipt_lines(self, file_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT roster, row, student_number, status, note, item_ref, row_sha256 FROM receipt_line "
                         "WHERE file_id = ? ORDER BY roster, row", (file_id,))  # fmt: skip

    def packages(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT p.*, (SELECT COUNT(*) FROM receipt_line r WHERE r.file_id = p.file_id) AS receipt_lines "
                         "FROM package p ORDER BY created_at, file_id")  # fmt: skip
        for row in rows:
            row.pop("notified_at", None)
        return rows
