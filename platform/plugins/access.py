"""Who may act on which plugin scope: a bureau (its admins) or a school (its staff, its bureau's admins).

Refusals follow the house rule: another tenant's record is ``NotFound``, never
``Forbidden``, so probing does not reveal what exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from licheng.errors import NotFound
from licheng.plugins.manager import PluginManager
from licheng.plugins.models import InstalledPlugin
from licheng.plugins.spec import Plugin
from licheng.tenants.actor import Actor
from licheng.tenants.models import Bureau, Role, School


@dataclass(frozen=True)
class SchoolScope:
    school: School
    as_bureau_admin: bool  # False: the school's own staff, limited to school-overridable settings


async def bureau_scope(actor: Actor, bureau_id: int) -> Bureau:
    actor.require_signed_in()
    bureau = await Bureau.get_or_none(id=bureau_id) if actor.can_admin_bureau(bureau_id) else None
    if bureau is None:
        raise NotFound("bureau", "教育局")
    return bureau


async def school_scope(actor: Actor, school_id: int) -> SchoolScope:
    actor.require_signed_in()
    school = await School.get_or_none(id=school_id)
    if school is None:
        raise NotFound("school", "學校")
    if actor.can_admin_bureau(school.bureau_id):
        return SchoolScope(school, True)
    if actor.school_id == school.id and actor.has(Role.STAFF):
        return SchoolScope(school, False)
    raise NotFound("school", "學校")


async def available_plugin(actor: Actor, manager: PluginManager, plugin_id: str) -> Plugin:
    """A loaded plugin that a platform admin made available to bureaus."""
    actor.require_signed_in()
    plugin = manager.get(plugin_id)
    if plugin is None or not await InstalledPlugin.exists(plugin_id=plugin_id, available=True):
        raise NotFound("plugin", "外掛")
    return plugin
