"""Readiness: run the dependency checks side by side, each with a deadline, and answer 200 or 503.

Liveness (/healthz) must not call this: a database outage should take pods out
of the Service (not ready), not restart them all (not alive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import Gauge
from starlette.responses import JSONResponse

Check = Callable[[], Awaitable[object]]

DEPENDENCY_UP = Gauge(
    "licheng_dependency_up", "1 if the last readiness check of a dependency passed.", ["dependency"]
)
log = logging.getLogger("licheng.health")


async def _run(name: str, check: Check, timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except Exception as exc:  # any failure, timeouts included, means "not ready"
        log.warning("readiness check %s failed: %s", name, exc or type(exc).__name__)
        DEPENDENCY_UP.labels(name).set(0)
        return f"error: {type(exc).__name__}"
    DEPENDENCY_UP.labels(name).set(1)
    return "ok"


async def readiness_response(checks: Mapping[str, Check], timeout: float = 3.0) -> JSONResponse:
    """E.g. ``await readiness_response({"database": ping_db, "storage": store.check})``.

    The body names each check and says ``ok`` or the exception's type: the
    details (hosts, messages) go to the log, not to whoever can reach /readyz.
    """
    results = await asyncio.gather(*(_run(name, check, timeout) for name, check in checks.items()))
    status = dict(zip(checks, results))
    ready = all(result == "ok" for result in results)
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": status}, status_code=200 if ready else 503
    )
