"""The resolved policy and the plugins' school settings are reused while what they rest on is
unchanged, and rebuilt on the next call after any change: through the services, or written
straight to the database (another process, an operator)."""

from __future__ import annotations

from typing import Any

from licheng.plugins import configs, runtime, service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import BureauPluginConfig, InstalledPlugin
from licheng.portfolio.models import SchoolPolicyOverride
from licheng.portfolio.policy import MB, national_policy, policy_for, set_school_policy
from licheng.tenants.models import Role
from tests.portfolio import ops
from tests.portfolio.conftest import YEAR, make_scene
from tests.statements import counting

TAIPEI = "taipei_coolcloud"


async def _taipei_for(factory: Any, school: Any) -> Any:
    """Taipei's plugin made available and enabled by the school's bureau; returns the admin's actor."""
    manager = get_manager()
    await service.sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id=TAIPEI).update(available=True)
    admin = await (await factory.bureau_admin(await school.bureau)).actor()
    await service.set_enabled(admin, manager, school.bureau_id, TAIPEI, enabled=True, school_ids=[school.id])
    return admin


async def test_an_unchanged_policy_is_reused_for_two_plain_statements(app, factory):
    school = await factory.school()
    first = await policy_for(school.id, YEAR)
    with counting() as seen:
        again = await policy_for(school.id, YEAR)
    assert again is first
    # The plugins' rows (one statement) and the school's layer (one statement); nothing rebuilt.
    assert len(seen.seen) == 2, seen.seen


async def test_a_school_layer_written_straight_to_the_database_is_seen_on_the_next_call(app, factory):
    school = await factory.school()
    assert (await policy_for(school.id, YEAR)).quota_bytes == national_policy(YEAR).quota_bytes
    row = await SchoolPolicyOverride.create(school=school, from_year=YEAR, values={"quota_bytes": 200 * MB})
    assert (await policy_for(school.id, YEAR)).quota_bytes == 200 * MB
    await SchoolPolicyOverride.filter(id=row.id).update(values={"quota_bytes": 300 * MB})
    assert (await policy_for(school.id, YEAR)).quota_bytes == 300 * MB
    await SchoolPolicyOverride.filter(id=row.id).delete()
    assert (await policy_for(school.id, YEAR)).quota_bytes == national_policy(YEAR).quota_bytes


async def test_a_staff_change_of_the_school_layer_shows_in_the_next_portfolio(factory, gql, clock):
    scene = await make_scene(factory)
    await gql.sign_in_as(scene.student)
    before = (await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR}))["myPortfolio"]["caps"]["quotaBytes"]
    staff = await factory.member(scene.school, Role.STAFF)
    await set_school_policy(await staff.actor(), YEAR, {"quota_bytes": 180 * MB})
    after = (await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR}))["myPortfolio"]["caps"]["quotaBytes"]
    assert (before, after) == (national_policy(YEAR).quota_bytes, 180 * MB)


async def test_a_plugin_setting_change_is_seen_by_the_next_policy(app, factory):
    school = await factory.school()
    admin = await _taipei_for(factory, school)
    manager = get_manager()
    assert (await policy_for(school.id, YEAR)).outcomes_per_term == 12
    await configs.update_settings(admin, manager, TAIPEI, {"outcomes_per_term": 9}, bureau_id=school.bureau_id)
    resolved = await policy_for(school.id, YEAR)
    assert resolved.outcomes_per_term == 9 and f"plugin:{TAIPEI}" in resolved.sources
    await service.set_enabled(admin, manager, school.bureau_id, TAIPEI, enabled=False)
    assert f"plugin:{TAIPEI}" not in (await policy_for(school.id, YEAR)).sources


async def test_plugin_settings_written_straight_to_the_database_are_seen_on_the_next_call(app, factory):
    school = await factory.school()
    await _taipei_for(factory, school)
    manager = get_manager()
    assert (await runtime.school_configs(manager, school.id))[TAIPEI].outcomes_per_term == 12
    with counting() as seen:
        assert (await runtime.school_configs(manager, school.id))[TAIPEI].outcomes_per_term == 12
    assert len(seen.seen) == 1, seen.seen  # unchanged: the rows are read, the settings reused
    await BureauPluginConfig.filter(bureau_id=school.bureau_id, plugin_id=TAIPEI).update(values={"outcomes_per_term": 8})
    assert (await runtime.school_configs(manager, school.id))[TAIPEI].outcomes_per_term == 8
    assert (await policy_for(school.id, YEAR)).outcomes_per_term == 8
    await InstalledPlugin.filter(plugin_id=TAIPEI).update(available=False)
    try:
        assert TAIPEI not in await runtime.school_configs(manager, school.id)
        assert f"plugin:{TAIPEI}" not in (await policy_for(school.id, YEAR)).sources
    finally:
        await InstalledPlugin.filter(plugin_id=TAIPEI).update(available=True)
