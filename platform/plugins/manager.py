"""The plugin manager: discovery, registration, and hook calls that survive a broken plugin.

Built on pluggy (as pytest and Datasette are). Three things differ from calling
``pm.hook.x(...)`` directly, and they are why this class exists:

- *Per-school view*: a call names the plugins enabled in its scope, and the
  manager asks pluggy for a subset hook caller without the others.
- *Isolation*: pluggy runs every implementation in one loop, and one raise aborts
  it. Here implementations are taken from ``get_hookimpls()`` and called one by
  one; a failure (or a timeout) is logged with the plugin id, recorded as health,
  and the others still run.
- *Own configuration*: each implementation receives ``config``, its own plugin's
  settings resolved for the scope, so plugins never see each other's secrets.

Discovery reads the ``licheng.plugins`` entry points; ``Settings.plugins``
(comma-separated ids) restricts which load. ``register`` adds a plugin object
directly, as pytest's ``-p`` does, for tests and embedding.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import pluggy
from pydantic import SecretStr

from licheng.errors import LichengError
from licheng.plugins import health, hookspecs
from licheng.plugins.health import Scope
from licheng.plugins.spec import PLUGIN_ID, Plugin, PluginSettings, secret_fields
from licheng.settings import Settings

log = logging.getLogger("licheng.plugins")
ENTRY_POINT_GROUP = "licheng.plugins"
DEFAULT_TIMEOUT = 10.0


class PluginFailed(LichengError):
    """A plugin could not do what the operation needs; the platform itself is fine."""

    def __init__(self, plugin_id: str, hook: str) -> None:
        super().__init__(
            "PLUGIN_FAILED",
            f"外掛「{plugin_id}」暫時無法使用，已通知管理者，請稍後再試",
            f"The plugin {plugin_id} is not working right now; administrators can see why in plugin health",
            plugin=plugin_id,
            hook=hook,
        )


@dataclass(frozen=True)
class HookResult:
    plugin_id: str
    value: Any


def _secret_values(config: PluginSettings | None) -> list[str]:
    if config is None:
        return []
    values = [getattr(config, name) for name in secret_fields(type(config))]
    return [v.get_secret_value() for v in values if isinstance(v, SecretStr)]


class PluginManager:
    """Holds the loaded plugins and calls their hooks, one implementation at a time."""

    def __init__(self, data_key: bytes, only: Iterable[str] | None = None) -> None:
        self.data_key = data_key
        self.only = frozenset(only) if only is not None else None
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        # plugin id -> why it could not be loaded (import error, bad object); shown as health.
        self.load_errors: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> PluginManager:
        only = [p.strip() for p in settings.plugins.split(",") if p.strip()] or None
        manager = cls(settings.data_key_bytes, only)
        manager.load_entrypoints()
        return manager

    # --- discovery and registration ---------------------------------------------------------

    def load_entrypoints(self) -> int:
        """Load installed plugins; a plugin that fails to import is reported, not fatal."""
        count = 0
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if (self.only is not None and ep.name not in self.only) or self.pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
                plugin = getattr(module, "plugin", module)
                if getattr(plugin, "id", None) != ep.name:
                    raise TypeError(f"entry point {ep.name} must name a module whose `plugin` has id {ep.name!r}")
                self.register(plugin)
                count += 1
            except Exception as error:  # noqa: BLE001 - one broken plugin must not stop the others
                self.load_errors[ep.name] = f"{type(error).__name__}: {error}"[:300]
                log.error("plugin %s could not be loaded: %s", ep.name, self.load_errors[ep.name], extra={"plugin": ep.name})
        return count

    def register(self, plugin: Plugin) -> None:
        """Add a plugin object (what entry points load; tests call it directly)."""
        plugin_id = getattr(plugin, "id", "")
        if not isinstance(plugin_id, str) or not PLUGIN_ID.match(plugin_id):
            raise TypeError(f"a plugin needs an id of 2-63 lower-case letters, digits or _: {plugin!r}")
        for attr in ("name", "version", "settings_model"):
            if not hasattr(plugin, attr):
                raise TypeError(f"plugin {plugin_id} does not declare {attr}")
        if not (isinstance(plugin.settings_model, type) and issubclass(plugin.settings_model, PluginSettings)):
            raise TypeError(f"plugin {plugin_id}: settings_model must subclass PluginSettings")
        self.pm.register(plugin, name=plugin_id)
        self.pm.check_pending()
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper):
                    self.pm.unregister(plugin)
                    raise TypeError(f"plugin {plugin_id}: hook wrappers are not supported ({caller.name})")
        self.load_errors.pop(plugin_id, None)

    def unregister(self, plugin_id: str) -> None:
        plugin = self.pm.get_plugin(plugin_id)
        if plugin is not None:
            self.pm.unregister(plugin)

    def plugins(self) -> list[Plugin]:
        found = [cast(Plugin, p) for _, p in self.pm.list_name_plugin() if p is not None]
        return sorted(found, key=lambda p: p.id)

    def get(self, plugin_id: str) -> Plugin | None:
        return self.pm.get_plugin(plugin_id)

    def hooks_of(self, plugin: Plugin) -> list[str]:
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    def implements(self, plugin_id: str, hook: str) -> bool:
        plugin = self.get(plugin_id)
        return plugin is not None and hook in self.hooks_of(plugin)

    # --- calling hooks ----------------------------------------------------------------------

    def subset(self, hook: str, plugin_ids: Iterable[str]) -> Any:
        """pluggy's per-tenant view: the hook without the plugins not enabled in this scope."""
        keep = set(plugin_ids)
        remove = [p for name, p in self.pm.list_name_plugin() if name not in keep and p is not None]
        return self.pm.subset_hook_caller(hook, remove)

    async def call(
        self,
        hook: str,
        configs: Mapping[str, PluginSettings],
        scope: Scope = health.PLATFORM,
        *,
        on_error: Literal["skip", "raise"] = "skip",
        timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> list[HookResult]:
        """Call ``hook`` for the plugins in ``configs`` (enabled in ``scope``), each with its own config.

        Order is pluggy's (last registered first, ``tryfirst``/``trylast`` honoured).
        ``None`` results are dropped. On a failure: ``skip`` leaves that plugin out,
        ``raise`` refuses the operation with ``PluginFailed`` (after recording it).
        """
        caller = self.subset(hook, configs)
        results: list[HookResult] = []
        for impl in reversed(caller.get_hookimpls()):
            plugin_id = self.pm.get_name(impl.plugin) or "?"
            config = configs.get(plugin_id)
            if plugin_id not in configs:
                continue
            arguments = {**kwargs, "config": config}
            try:
                value = impl.function(*[arguments[name] for name in impl.argnames])
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, timeout)
            except Exception as error:  # noqa: BLE001 - isolate the plugin, whatever it raised
                await health.record_failure(plugin_id, hook, scope, error, _secret_values(config))
                if on_error == "raise":
                    raise PluginFailed(plugin_id, hook) from None
                continue
            await health.record_success(plugin_id, hook, scope)
            if value is not None:
                results.append(HookResult(plugin_id, value))
        return results


_default: PluginManager | None = None


def configure(settings: Settings) -> PluginManager:
    """Build the process-wide manager from settings (the app does this at start)."""
    global _default
    _default = PluginManager.from_settings(settings)
    return _default


def get_manager() -> PluginManager:
    """The process-wide manager; built from the environment on first use if nobody configured it."""
    return _default if _default is not None else configure(Settings())
