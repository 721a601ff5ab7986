"""Plugin fixtures: the process manager with the test plugins registered, and a bureau with schools."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from licheng.plugins import health
from licheng.plugins.manager import PluginManager, get_manager
from licheng.plugins.models import InstalledPlugin
from licheng.plugins.service import sync_catalogue
from licheng.tenants.models import Bureau, School
from tests.fixtures_plugins import broken, rules


@pytest.fixture
def manager(app: Any) -> Iterator[PluginManager]:
    """The app's manager (configured with the test settings) plus the two test plugins, for one test."""
    manager = get_manager()
    plugins = [rules.make(), broken.make()]
    for plugin in plugins:
        manager.register(plugin)
    health.forget_process_state()
    yield manager
    for plugin in plugins:
        manager.unregister(plugin.id)


@pytest.fixture
def rules_plugin(manager: PluginManager) -> rules.RulesPlugin:
    plugin = manager.get("test_rules")
    assert isinstance(plugin, rules.RulesPlugin)
    return plugin


async def make_available(manager: PluginManager, *plugin_ids: str) -> None:
    await sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id__in=list(plugin_ids)).update(available=True)


@dataclass
class District:
    """A bureau with three schools, its admin, and staff in the first school."""

    bureau: Bureau
    schools: list[School]
    admin: Any  # tests.conftest.Member
    staff: Any

    async def admin_actor(self) -> Any:
        return await self.admin.actor()

    async def staff_actor(self) -> Any:
        return await self.staff.actor()


@pytest.fixture
async def district(factory: Any, manager: PluginManager) -> District:
    from licheng.tenants.models import Role

    bureau = await factory.bureau()
    schools = [await factory.school(bureau) for _ in range(3)]
    admin = await factory.bureau_admin(bureau)
    staff = await factory.member(schools[0], Role.STAFF)
    await make_available(manager, "test_rules", "test_broken", "taipei_coolcloud", "moe_central")
    return District(bureau, schools, admin, staff)
