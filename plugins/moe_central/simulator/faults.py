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
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("timeout", "error500", "slow", "drop_after_accept", "duplicate_delivery")
ENDPOINTS = ("upload", "notify", "status", "receipts")
DEFAULT_SECONDS = {"slow": 0.5, "timeout": 30.0}


@dataclass
class Fault:
    kind: str
    times: int
    endpoint: str = "upload"
    seconds: float = 0.0


def parse(body: Any) -> Fault:
    """A fault from the admin request's JSON, or ValueError saying what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    kind, times = body.get("kind"), body.get("times", 1)
    endpoint = body.get("endpoint", "upload")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000:
        raise ValueError("times must be an integer from 1 to 1000")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    seconds = body.get("seconds", DEFAULT_SECONDS.get(kind, 0.0))
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 600:
        raise ValueError("seconds must be a number from 0 to 600")
    return Fault(kind, times, endpoint, float(seconds))


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
            return [asdict(f) for f in self._armed]
