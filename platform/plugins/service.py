"""Plugin administration: the catalogue, availability, enablement per bureau and school, audit, health.

The catalogue is global: every plugin the platform has loaded gets a row, and
a platform admin makes it available to bureaus. A bureau admin then enables it
for all the bureau's schools or a chosen set. Every change goes to the shared
audit trail with its before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from licheng.errors import Forbidden, InvalidInput, NotFound
from licheng.pagination import Page, decode_cursor
from licheng.plugins import access
from licheng.plugins.manager import PluginManager
from licheng.plugins.models import BureauPluginConfig, InstalledPlugin, PluginHealth
from licheng.plugins.spec import Plugin
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role, School

SCHOOL_ACTIONS = ("plugin_school_settings",)


@dataclass(frozen=True)
class PluginStatus:
    """A plugin as an admin sees it in one scope (the bureau, if any)."""

    row: InstalledPlugin
    plugin: Plugin | None  # None: in the catalogue but not loaded in this process
    hooks: list[str]
    load_error: str | None
    bureau_id: int | None
    enablement: BureauPluginConfig | None


async def sync_catalogue(manager: PluginManager) -> dict[str, InstalledPlugin]:
    """Make sure every loaded plugin has a catalogue row with its current name and version."""
    rows = {row.plugin_id: row for row in await InstalledPlugin.all()}
    for plugin in manager.plugins():
        row = rows.get(plugin.id)
        if row is None:
            try:
                rows[plugin.id] = await InstalledPlugin.create(
                    plugin_id=plugin.id, name=plugin.name, version=plugin.version, description=plugin.description
                )
            except IntegrityError:  # another process registered it at the same moment
                rows[plugin.id] = await InstalledPlugin.get(plugin_id=plugin.id)
        elif (row.name, row.version, row.description) != (plugin.name, plugin.version, plugin.description):
            row.name, row.version, row.description = plugin.name, plugin.version, plugin.description
            await row.save(update_fields=["name", "version", "description", "updated_at"])
    return rows


def _status(manager: PluginManager, row: InstalledPlugin, bureau_id: int | None, config: BureauPluginConfig | None) -> PluginStatus:
    plugin = manager.get(row.plugin_id)
    return PluginStatus(
        row=row, plugin=plugin, hooks=manager.hooks_of(plugin) if plugin else [],
        load_error=manager.load_errors.get(row.plugin_id), bureau_id=bureau_id, enablement=config,
    )  # fmt: skip


def _single_bureau(actor: Actor) -> int | None:
    return next(iter(actor.bureau_ids)) if len(actor.bureau_ids) == 1 else None


async def list_plugins(actor: Actor, manager: PluginManager, bureau_id: int | None = None) -> list[PluginStatus]:
    """Platform admins: the whole catalogue. Bureau admins: available plugins with their bureau's
    enablement. School members: the plugins enabled for their school."""
    actor.require_signed_in()
    rows = await sync_catalogue(manager)
    if bureau_id is None and not actor.is_platform_admin:
        bureau_id = _single_bureau(actor)
    if bureau_id is None and actor.is_platform_admin:
        return [_status(manager, row, None, None) for _, row in sorted(rows.items())]
    if bureau_id is not None:
        await access.bureau_scope(actor, bureau_id)
        configs = {c.plugin_id: c for c in await BureauPluginConfig.filter(bureau_id=bureau_id)}
        visible = [row for _, row in sorted(rows.items()) if row.available or actor.is_platform_admin]
        return [_status(manager, row, bureau_id, configs.get(row.plugin_id)) for row in visible]
    if actor.bureau_ids:
        raise InvalidInput("bureau_id", "你管理多個教育局，請指定其一", "You administer several bureaus: choose one")
    school_id = actor.require_school()
    school = await School.get(id=school_id)
    enabled = await BureauPluginConfig.filter(bureau_id=school.bureau_id, enabled=True)
    return [
        _status(manager, rows[c.plugin_id], school.bureau_id, c)
        for c in sorted(enabled, key=lambda c: c.plugin_id)
        if c.covers(school_id) and c.plugin_id in rows and rows[c.plugin_id].available
    ]


async def get_plugin(actor: Actor, manager: PluginManager, plugin_id: str, bureau_id: int | None = None) -> PluginStatus:
    for status in await list_plugins(actor, manager, bureau_id):
        if status.row.plugin_id == plugin_id:
            return status
    raise NotFound("plugin", "外掛")


async def set_available(actor: Actor, manager: PluginManager, plugin_id: str, available: bool) -> PluginStatus:
    """Platform admins install a plugin for bureaus (or withdraw it: enablements then stop applying)."""
    actor.require_platform_admin()
    rows = await sync_catalogue(manager)
    row = rows.get(plugin_id)
    if row is None:
        raise NotFound("plugin", "外掛")
    if row.available != available:
        before = row.available
        row.available = available
        await row.save(update_fields=["available", "updated_at"])
        await audit.record(
            actor, "plugin_availability", "plugin", plugin_id,
            changes={"plugin": plugin_id, "before": {"available": before}, "after": {"available": available}},
        )  # fmt: skip
    return _status(manager, row, None, None)


async def _codes(school_ids: Sequence[int]) -> list[str]:
    if not school_ids:
        return []
    codes: list[str] = await School.filter(id__in=list(school_ids)).values_list("code", flat=True)  # type: ignore[assignment]
    return sorted(codes)


async def _enablement_snapshot(config: BureauPluginConfig | None) -> dict[str, object]:
    if config is None:
        return {"enabled": False}
    return {"enabled": config.enabled, "all_schools": config.all_schools, "schools": await _codes(config.school_ids or [])}


async def set_enabled(
    actor: Actor,
    manager: PluginManager,
    bureau_id: int,
    plugin_id: str,
    *,
    enabled: bool,
    all_schools: bool = False,
    school_ids: Sequence[int] = (),
) -> PluginStatus:
    """A bureau admin turns a plugin on for all its schools or the listed ones, or off."""
    await access.bureau_scope(actor, bureau_id)
    await access.available_plugin(actor, manager, plugin_id)
    chosen = sorted(set(school_ids))
    if enabled and not all_schools:
        if not chosen:
            raise InvalidInput("school_ids", "請選擇至少一所學校，或選擇全部學校", "Choose at least one school, or all schools")
        found = await School.filter(id__in=chosen, bureau_id=bureau_id).count()
        if found != len(chosen):
            raise NotFound("school", "學校")
    async with in_transaction():
        config = await BureauPluginConfig.select_for_update().get_or_none(bureau_id=bureau_id, plugin_id=plugin_id)
        before = await _enablement_snapshot(config)
        if config is None:
            config = BureauPluginConfig(bureau_id=bureau_id, plugin_id=plugin_id)
        config.enabled = enabled
        if enabled:
            config.all_schools = all_schools
            config.school_ids = [] if all_schools else chosen
        await config.save()
        after = await _enablement_snapshot(config)
        await audit.record(
            actor, "plugin_enable" if enabled else "plugin_disable", "plugin", plugin_id,
            bureau_id=bureau_id, changes={"plugin": plugin_id, "scope": "bureau", "before": before, "after": after},
        )  # fmt: skip
    return await get_plugin(actor, manager, plugin_id, bureau_id)


async def enabled_schools(actor: Actor, config: BureauPluginConfig) -> list[School]:
    """The schools a bureau's enablement covers, limited to what the viewer may see."""
    if not config.enabled:
        return []
    query = School.filter(bureau_id=config.bureau_id)
    if not config.all_schools:
        query = query.filter(id__in=list(config.school_ids or []))
    if not actor.can_admin_bureau(config.bureau_id):
        query = query.filter(id=actor.school_id or -1)
    return await query.order_by("code")


# --- audit and health ---------------------------------------------------------------------------


async def _audit_query(actor: Actor, bureau_id: int | None, school_id: int | None) -> QuerySet[AuditEntry]:
    query = AuditEntry.filter(record_type="plugin")
    if school_id is not None:
        await access.school_scope(actor, school_id)
        return query.filter(school_id=school_id, action__in=SCHOOL_ACTIONS)
    if bureau_id is None and not actor.is_platform_admin:
        bureau_id = _single_bureau(actor)
        if bureau_id is None:
            if actor.school_id is not None and actor.has(Role.STAFF):
                return query.filter(school_id=actor.school_id, action__in=SCHOOL_ACTIONS)
            raise Forbidden("read the plugin audit log", "查看外掛稽核紀錄")
    if bureau_id is not None:
        await access.bureau_scope(actor, bureau_id)
        return query.filter(bureau_id=bureau_id)
    return query


async def audit_log(
    actor: Actor,
    *,
    bureau_id: int | None = None,
    school_id: int | None = None,
    plugin_id: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[AuditEntry]:
    """Plugin changes, newest first: a bureau's, a school's, or (platform admins) all."""
    actor.require_signed_in()
    query = await _audit_query(actor, bureau_id, school_id)
    if plugin_id:
        query = query.filter(record_id=plugin_id)
    size = 50 if first is None else first
    if not 0 <= size <= 100:
        raise InvalidInput("first", "first 必須介於 0 到 100", "first must be between 0 and 100")
    after_id = decode_cursor(after)
    if after_id is not None:
        query = query.filter(id__lt=after_id)
    rows = await query.order_by("-id").limit(size + 1)
    return Page(items=list(rows[:size]), has_next_page=len(rows) > size, has_previous_page=after_id is not None)


async def health_of(actor: Actor, plugin_ids: Sequence[str], bureau_id: int | None) -> dict[str, list[PluginHealth]]:
    """Health records the viewer may see, per plugin, in one query: the platform's (global),
    the bureau's and its schools' for its admins, the school's own for its staff."""
    out: dict[str, list[PluginHealth]] = {plugin_id: [] for plugin_id in plugin_ids}
    query = PluginHealth.filter(plugin_id__in=list(plugin_ids))
    if actor.is_platform_admin and bureau_id is None:
        pass
    elif bureau_id is not None and actor.can_admin_bureau(bureau_id):
        school_ids = list(await School.filter(bureau_id=bureau_id).values_list("id", flat=True))
        query = query.filter(Q(bureau_id=bureau_id) | Q(school_id__in=school_ids) | Q(bureau_id=None, school_id=None))
    elif actor.school_id is not None and actor.has(Role.STAFF):
        query = query.filter(school_id=actor.school_id)
    else:
        return out
    for row in await query.order_by("id"):
        out[row.plugin_id].append(row)
    return out
