"""Plugin health: what failed, where, how often, and whether it has recovered.

A failing hook must not take the platform down, but it must not fail silently
either: each failure is logged with the plugin id and kept here, where the admin
API shows it. Successes are written only when they end a failure (this process
remembers which keys are failing), so a healthy plugin costs no writes.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.expressions import F

from licheng.plugins.models import PluginHealth

log = logging.getLogger("licheng.plugins")

REDACTED = "[secret]"


@dataclass(frozen=True)
class Scope:
    """Where a hook ran: a school, a bureau, or the platform (both None)."""

    school_id: int | None = None
    bureau_id: int | None = None

    def key(self, plugin_id: str, hook: str) -> str:
        return f"{plugin_id}|{hook}|b{self.bureau_id or '-'}|s{self.school_id or '-'}"


PLATFORM = Scope()
_failing: set[str] = set()


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove known secret values (the plugin's own) from a message or a traceback."""
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


async def record_failure(
    plugin_id: str, hook: str, scope: Scope, error: BaseException, secrets: Iterable[str] = ()
) -> None:
    """Log the failure (with the plugin id, without secrets) and keep it for the admin."""
    secrets = list(secrets)
    message = scrub(str(error), secrets)[:300]
    detail = scrub("".join(traceback.format_exception(error)), secrets)
    log.warning(
        "plugin %s failed in %s: %s: %s\n%s",
        plugin_id, hook, type(error).__name__, message, detail,
        extra={"plugin": plugin_id, "hook": hook, "school": scope.school_id, "bureau": scope.bureau_id},
    )  # fmt: skip
    key = scope.key(plugin_id, hook)
    now = datetime.now(timezone.utc)
    fields: dict[str, Any] = {
        "ok": False,
        "error_type": type(error).__name__[:100],
        "error_message": message,
        "last_failure_at": now,
    }
    updated = await PluginHealth.filter(key=key).update(consecutive_failures=F("consecutive_failures") + 1, **fields)
    if not updated:
        await _create(key, plugin_id, hook, scope, consecutive_failures=1, **fields)
    _failing.add(key)


async def record_success(plugin_id: str, hook: str, scope: Scope, *, always: bool = False) -> None:
    """Mark recovered. Written only when this process saw a failure, or when ``always`` (explicit checks)."""
    key = scope.key(plugin_id, hook)
    if key not in _failing and not always:
        return
    now = datetime.now(timezone.utc)
    updated = await PluginHealth.filter(key=key).update(ok=True, consecutive_failures=0, last_success_at=now)
    if not updated and always:
        await _create(key, plugin_id, hook, scope, ok=True, last_success_at=now)
    _failing.discard(key)


async def _create(key: str, plugin_id: str, hook: str, scope: Scope, **fields: Any) -> None:
    from tortoise.exceptions import IntegrityError

    try:
        await PluginHealth.create(
            key=key, plugin_id=plugin_id, hook=hook, school_id=scope.school_id, bureau_id=scope.bureau_id, **fields
        )
    except IntegrityError:  # a concurrent writer created it: update instead
        await PluginHealth.filter(key=key).update(**fields)


def forget_process_state() -> None:
    """For tests: start from a process that has seen no failure."""
    _failing.clear()
