"""Running plugin hooks for a school or a bureau: only where enabled, each with its own settings.

This is what the rest of the core calls (the portfolio's policy, sign-in, jobs,
submission): "give me the policy layers / identity providers / adapter for this
school". It finds which available plugins the school's bureau enabled for it,
resolves each one's settings (school → bureau → default), and lets the manager
call them one by one so that a broken plugin is skipped or refused cleanly.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tortoise import connections

from licheng.errors import NotFound
from licheng.plugins import access, configs, health
from licheng.plugins.contracts import POLICY_KEYS, HealthReport, IdentityProvider, ScheduledJob, SubmissionAdapter
from licheng.plugins.health import Scope
from licheng.plugins.manager import HookResult, PluginFailed, PluginManager, get_manager
from licheng.plugins.models import BureauPluginConfig, InstalledPlugin, PluginHealth, SchoolPluginOverride
from licheng.plugins.spec import PluginSettings
from licheng.tenants.actor import Actor
from licheng.tenants.models import School


async def _available_ids(plugin_ids: list[str]) -> set[str]:
    rows: list[str] = await InstalledPlugin.filter(plugin_id__in=plugin_ids, available=True).values_list("plugin_id", flat=True)  # type: ignore[assignment]
    return set(rows)


async def _build_or_report(manager: PluginManager, plugin_id: str, scope: Scope, *layers: dict[str, Any]) -> PluginSettings | None:
    plugin = manager.get(plugin_id)
    if plugin is None:
        return None
    try:
        return configs.build(plugin, *layers)
    except configs.ConfigInvalid as error:  # stored values went stale: the plugin sits out, visibly
        await health.record_failure(plugin_id, "settings", scope, error)
        return None


# What decides a school's plugin settings, read in one statement: the school's bureau, each
# enabled bureau config with its availability and the school's override. The settings built
# from them (secrets opened, models validated: the costly part) are kept per school and reused
# while this statement returns the same rows, so a change is seen on the next call, in every
# process, whoever wrote it; nothing needs to be told to forget.
_STATE_SQL = (
    'SELECT s."bureau_id" AS bureau_id, c."id" AS config_id, c."plugin_id" AS plugin_id, c."all_schools" AS all_schools, '
    'c."school_ids" AS school_ids, c."values" AS bureau_values, c."secrets" AS bureau_secrets, c."updated_at" AS bureau_at, '
    'i."available" AS available, o."values" AS school_values, o."secrets" AS school_secrets, o."updated_at" AS school_at '
    'FROM "school" s LEFT JOIN "plugin_bureau_config" c ON c."bureau_id" = s."bureau_id" AND c."enabled" = {true} '
    'LEFT JOIN "plugin_catalogue" i ON i."plugin_id" = c."plugin_id" '
    'LEFT JOIN "plugin_school_override" o ON o."school_id" = s."id" AND o."plugin_id" = c."plugin_id" '
    'WHERE s."id" = {school} ORDER BY c."id"'
)
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class _SchoolState:
    manager: PluginManager
    fingerprint: tuple[Any, ...]
    bureau_id: int
    configs: dict[str, PluginSettings]


_memo: dict[int, _SchoolState] = {}


async def _fingerprint(manager: PluginManager, school_id: int) -> tuple[int | None, tuple[Any, ...]]:
    """(bureau id or None for no such school, the rows that decide the settings, and which
    plugin objects are registered for them): equal fingerprints build equal settings."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ("$1", "$2") if postgres else ("?", "?")
    _, rows = await conn.execute_query(_STATE_SQL.format(true=marks[0], school=marks[1]), [True, school_id])
    if not rows:
        return None, ()
    # The plugin objects themselves (compared by identity, kept alive): a plugin registered anew
    # under the same id rebuilds, and a freed object's id() cannot be mistaken for a new one's.
    plugins = tuple(manager.get(r["plugin_id"]) for r in rows if r["plugin_id"] is not None)
    return int(rows[0]["bureau_id"]), (tuple(repr(tuple(r)) for r in rows), plugins)


async def school_configs(manager: PluginManager, school_id: int) -> dict[str, PluginSettings]:
    """Plugin id -> resolved settings, for every plugin enabled for the school (one query when
    nothing changed since the last call, a few more to rebuild when something did)."""
    return dict((await _school_state(manager, school_id)).configs)


async def _school_state(manager: PluginManager, school_id: int) -> _SchoolState:
    bureau_id, fingerprint = await _fingerprint(manager, school_id)
    if bureau_id is None:
        return _SchoolState(manager, fingerprint, 0, {})
    known = _memo.get(school_id)
    if known is not None and known.manager is manager and known.fingerprint == fingerprint:
        return known
    configs, complete = await _build_school_configs(manager, school_id)
    state = _SchoolState(manager, fingerprint, bureau_id, configs)
    # Keep it only if every plugin's settings built (a failure is reported on every call, as before)
    # and nothing changed while building (else the next call rebuilds).
    if complete and (bureau_id, fingerprint) == await _fingerprint(manager, school_id):
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[school_id] = state
    return state


async def _build_school_configs(manager: PluginManager, school_id: int) -> tuple[dict[str, PluginSettings], bool]:
    """The settings from the ORM rows; False when some plugin's stored settings did not validate."""
    school = await School.get_or_none(id=school_id)
    if school is None:
        return {}, True
    enabled = [
        c for c in await BureauPluginConfig.filter(bureau_id=school.bureau_id, enabled=True)
        if c.covers(school_id) and manager.get(c.plugin_id) is not None
    ]  # fmt: skip
    if not enabled:
        return {}, True
    available = await _available_ids([c.plugin_id for c in enabled])
    overrides = {
        o.plugin_id: o for o in await SchoolPluginOverride.filter(school_id=school_id, plugin_id__in=list(available))
    }
    scope = Scope(school_id=school_id, bureau_id=school.bureau_id)
    out: dict[str, PluginSettings] = {}
    complete = True
    for config in enabled:
        plugin = manager.get(config.plugin_id)
        if plugin is None or config.plugin_id not in available:
            continue
        bureau_raw, school_raw = configs.raw_layers(manager, plugin, config, overrides.get(config.plugin_id))
        built = await _build_or_report(manager, plugin.id, scope, bureau_raw, school_raw)
        if built is None:
            complete = False
        else:
            out[plugin.id] = built
    return out, complete


async def bureau_configs(manager: PluginManager, bureau_id: int) -> dict[str, PluginSettings]:
    """Plugin id -> the bureau's settings, for plugins the bureau enabled (for any of its schools)."""
    enabled = [c for c in await BureauPluginConfig.filter(bureau_id=bureau_id, enabled=True) if manager.get(c.plugin_id)]
    available = await _available_ids([c.plugin_id for c in enabled]) if enabled else set()
    out: dict[str, PluginSettings] = {}
    for config in enabled:
        plugin = manager.get(config.plugin_id)
        if plugin is None or config.plugin_id not in available:
            continue
        bureau_raw, _ = configs.raw_layers(manager, plugin, config, None)
        built = await _build_or_report(manager, plugin.id, Scope(bureau_id=bureau_id), bureau_raw)
        if built is not None:
            out[plugin.id] = built
    return out


async def call_for_school(
    school_id: int, hook: str, *, manager: PluginManager | None = None, on_error: Literal["skip", "raise"] = "skip", **kwargs: Any
) -> list[HookResult]:
    """Call ``hook`` for the plugins enabled in this school, in pluggy's order, isolated."""
    manager = manager or get_manager()
    state = await _school_state(manager, school_id)
    if not state.configs:
        return []
    scope = Scope(school_id=school_id, bureau_id=state.bureau_id)
    return await manager.call(hook, dict(state.configs), scope, on_error=on_error, school_id=school_id, **kwargs)


async def require_enabled(school_id: int | None, plugin_id: str, manager: PluginManager | None = None) -> PluginSettings:
    """For a plugin's own GraphQL resolvers: its settings here, or ``NotFound`` where it is not enabled."""
    enabled = await school_configs(manager or get_manager(), school_id) if school_id else {}
    if plugin_id not in enabled:
        raise NotFound("plugin", "外掛")
    return enabled[plugin_id]


# --- what the rest of the core asks for ----------------------------------------------------------


def _rule_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    return value is None or isinstance(value, (int, str))


def clean_rules(value: Any) -> dict[str, Any]:
    """Keep only known policy keys with plain values; a plugin cannot inject anything else.
    Bounds are the portfolio policy's business (it drops what a bureau may not set)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in POLICY_KEYS and _rule_value(v)}


async def policy_layers(school_id: int, academic_year: int) -> list[dict[str, Any]]:
    """The bureau layers of a school's policy, one dict per enabled plugin, in call order.

    Registered in ``licheng.portfolio.policy.BUREAU_LAYER_PROVIDERS`` by ``install``.
    Each layer names its source (``_source: plugin:<id>``). A failing plugin is
    left out: the national defaults apply for what it would have set.
    """
    results = await call_for_school(school_id, "licheng_policy_rules", academic_year=academic_year)
    layers = [(r.plugin_id, clean_rules(r.value)) for r in results]
    return [{**rules, "_source": f"plugin:{plugin_id}"} for plugin_id, rules in layers if rules]


async def identity_providers(school_id: int) -> list[IdentityProvider]:
    results = await call_for_school(school_id, "licheng_identity_providers")
    return [provider for r in results for provider in r.value]


async def submission_adapter(school_id: int) -> SubmissionAdapter | None:
    """The first adapter of the plugins enabled here; a failing plugin refuses with ``PLUGIN_FAILED``."""
    results = await call_for_school(school_id, "licheng_submission_adapter", on_error="raise")
    return results[0].value if results else None


async def scheduled_jobs(school_id: int) -> list[ScheduledJob]:
    results = await call_for_school(school_id, "licheng_scheduled_jobs")
    return [job for r in results for job in r.value]


async def check_health(actor: Actor, manager: PluginManager, bureau_id: int, plugin_id: str) -> Sequence[PluginHealth]:
    """Run the plugin's health check with the bureau's settings, now, and record the answer."""
    await access.bureau_scope(actor, bureau_id)
    plugin = await access.available_plugin(actor, manager, plugin_id)
    scope = Scope(bureau_id=bureau_id)
    config = await BureauPluginConfig.get_or_none(bureau_id=bureau_id, plugin_id=plugin_id)
    bureau_raw, _ = configs.raw_layers(manager, plugin, config, None)
    built = await _build_or_report(manager, plugin_id, scope, bureau_raw)
    if built is not None:
        await health.record_success(plugin_id, "settings", scope, always=True)
    if built is not None and manager.implements(plugin_id, "licheng_health_check"):
        try:
            results = await manager.call("licheng_health_check", {plugin_id: built}, scope, on_error="raise")
        except PluginFailed:
            results = []
        else:
            report = results[0].value if results else HealthReport(ok=True)
            if isinstance(report, HealthReport) and not report.ok:
                await health.record_failure(plugin_id, "licheng_health_check", scope, RuntimeError(report.detail_en or "check failed"))
            else:
                await health.record_success(plugin_id, "licheng_health_check", scope, always=True)
    return await PluginHealth.filter(plugin_id=plugin_id, bureau_id=bureau_id, school_id=None).order_by("id")


def install() -> list[str]:
    """Wire plugins into the portfolio's ports, where the portfolio has them; returns what was wired.

    Called by the app at start. The portfolio never imports a plugin: it keeps
    lists of providers (policy layers, submission adapter resolvers) and the
    plugin system appends to them. Installing twice changes nothing.
    """
    wired: list[str] = []
    for module_name, registry, provider in (
        ("licheng.portfolio.policy", "BUREAU_LAYER_PROVIDERS", policy_layers),
        ("licheng.portfolio.submission_port", "ADAPTER_RESOLVERS", submission_adapter),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        providers = getattr(module, registry, None)
        if providers is None:
            continue
        if provider not in providers:
            providers.append(provider)
        wired.append(f"{module_name}.{registry}")
    return wired
