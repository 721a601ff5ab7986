"""Faults on demand: the simulator misbehaves the way real networks and servers do.

``POST /_faults {"kind": ..., "times": n, "endpoint": "upload", "seconds": s}``
arms a fault for the next `n` requests to an endpoint (any of upload, notify,
status, receipts; default upload). Kinds:

- ``error500``: answer 500 before doing anything;
- ``slow``: wait `seconds` (default 0.5), then work and answer normally;
- ``timeout``: do the work, then wait `seconds` (default 30) before answering:
  the client gives up although the work was done;
- ``drop_after_accept``: do the work, then drop the connection mid-answer;
- ``duplicate_delivery``: the request arrives twice (the work runs twice), one answer.

Row faults act when the central side processes the next `n` packages
(endpoint ``process``, the default for them) and pick one row: ``roster``
(default: the first roster with rows) and ``row`` (default 1):

- ``alter_row``: the row is stored with one value changed, so its receipt line's
  checksum differs from the row that was sent;
- ``drop_row``: the row is not stored, so it has no receipt line;
- ``extra_row``: after the roster, one more line naming an item that was never
  sent (the row's student, or ``student_number`` when given).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

ROW_KINDS = ("alter_row", "drop_row", "extra_row")
KINDS = ("timeout", "error500", "slow", "drop_after_accept", "duplicate_delivery", *ROW_KINDS)
ENDPOINTS = ("upload", "notify", "status", "receipts", "process")
DEFAULT_SECONDS = {"slow": 0.5, "timeout": 30.0}


@dataclass
class Fault:
    kind: str
    times: int
    endpoint: str = "upload"
    seconds: float = 0.0
    roster: str | None = None  # row faults: which row
    row: int | None = None
    student_number: str | None = None  # extra_row: the student the extra line names


def parse(body: Any) -> Fault:
    """A fault from the admin request's JSON, or ValueError saying what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    kind, times = body.get("kind"), body.get("times", 1)
    endpoint = body.get("endpoint", "process" if kind in ROW_KINDS else "upload")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if (kind in ROW_KINDS) != (endpoint == "process"):
        raise ValueError("row faults (and only they) act on the endpoint process")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000:
        raise ValueError("times must be an integer from 1 to 1000")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    seconds = body.get("seconds", DEFAULT_SECONDS.get(kind, 0.0))
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 600:
        raise ValueError("seconds must be a number from 0 to 600")
    roster, row, number = body.get("roster"), body.get("row"), body.get("student_number")
    if roster is not None and (not isinstance(roster, str) or not 0 < len(roster) <= 40):
        raise ValueError("roster must be a roster name")
    if row is not None and (isinstance(row, bool) or not isinstance(row, int) or row < 1):
        raise ValueError("row must be a positive integer")
    if number is not None and (not isinstance(number, str) or not 0 < len(number) <= 20):
        raise ValueError("student_number must be a short string")
    return Fault(kind, times, endpoint, float(seconds), roster, row, number)


class Faults:
    """The armed faults, taken one request at a time, oldest first."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: dict[str, int] = {}

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._armed:
                if fault.endpoint == endpoint:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._armed.remove(fault)
                    self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
                    return fault
            return None

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{k: v for k, v in asdict(f).items() if v is not None} for f in self._armed]
