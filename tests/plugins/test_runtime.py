"""Hooks run only where a plugin is enabled, each with its own settings, and a broken plugin is isolated."""

from __future__ import annotations

import logging

import pytest

from licheng.plugins import configs, runtime, service
from licheng.plugins.manager import PluginFailed
from licheng.plugins.models import InstalledPlugin, PluginHealth
from tests.plugins.conftest import District

SECRET = "broken-plugin-api-key-4242"


async def _enable(district: District, manager, plugin_id: str, schools=None, all_schools: bool = False) -> None:
    await service.set_enabled(
        await district.admin_actor(), manager, district.bureau.id, plugin_id, enabled=True,
        all_schools=all_schools, school_ids=[s.id for s in schools or []],
    )  # fmt: skip


async def test_hooks_run_only_for_schools_where_the_plugin_is_enabled(district: District, manager, rules_plugin) -> None:
    a, b, c = district.schools
    await _enable(district, manager, "test_rules", [a, b])
    assert await runtime.policy_layers(a.id, 115) == [
        {"outcomes_per_term": 12, "outcomes_per_subject_per_term": 3, "_source": "plugin:test_rules"}
    ]
    assert await runtime.policy_layers(b.id, 115)
    assert await runtime.policy_layers(c.id, 115) == []
    assert [school_id for school_id, _ in rules_plugin.calls] == [a.id, b.id]


async def test_enabling_for_all_schools_covers_every_school_of_the_bureau(district: District, manager, rules_plugin) -> None:
    await _enable(district, manager, "test_rules", all_schools=True)
    for school in district.schools:
        assert await runtime.policy_layers(school.id, 115)


async def test_a_disabled_plugin_stops_running(district: District, manager, rules_plugin) -> None:
    await _enable(district, manager, "test_rules", all_schools=True)
    await service.set_enabled(await district.admin_actor(), manager, district.bureau.id, "test_rules", enabled=False)
    assert await runtime.policy_layers(district.schools[0].id, 115) == []


async def test_a_plugin_withdrawn_by_the_platform_stops_running(district: District, manager, rules_plugin) -> None:
    await _enable(district, manager, "test_rules", all_schools=True)
    await InstalledPlugin.filter(plugin_id="test_rules").update(available=False)
    try:
        assert await runtime.policy_layers(district.schools[0].id, 115) == []
    finally:
        await InstalledPlugin.filter(plugin_id="test_rules").update(available=True)


async def test_each_plugin_gets_its_own_school_settings(district: District, manager, rules_plugin) -> None:
    admin = await district.admin_actor()
    a, b, _ = district.schools
    await _enable(district, manager, "test_rules", [a, b])
    await configs.update_settings(admin, manager, "test_rules", {"outcomes_per_term": 9}, school_id=a.id)
    assert (await runtime.policy_layers(a.id, 115))[0]["outcomes_per_term"] == 9
    assert (await runtime.policy_layers(b.id, 115))[0]["outcomes_per_term"] == 12


async def test_a_failing_plugin_is_skipped_logged_and_recorded_while_the_others_run(
    district: District, manager, rules_plugin, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await district.admin_actor()
    school = district.schools[0]
    await _enable(district, manager, "test_rules", all_schools=True)
    await _enable(district, manager, "test_broken", all_schools=True)
    await configs.update_settings(admin, manager, "test_broken", {"api_key": SECRET}, bureau_id=district.bureau.id)
    with caplog.at_level(logging.WARNING, logger="licheng.plugins"):
        layers = await runtime.policy_layers(school.id, 115)
    assert [layer["_source"] for layer in layers] == ["plugin:test_rules"]
    record = await PluginHealth.get(plugin_id="test_broken", hook="licheng_policy_rules", school_id=school.id)
    assert not record.ok and record.error_type == "PluginExploded" and record.consecutive_failures == 1
    assert SECRET not in record.error_message and "[secret]" in record.error_message
    assert "test_broken" in caplog.text and "PluginExploded" in caplog.text
    assert SECRET not in caplog.text


async def test_a_failing_submission_adapter_refuses_with_a_clear_error(district: District, manager) -> None:
    await _enable(district, manager, "test_broken", all_schools=True)
    with pytest.raises(PluginFailed) as refused:
        await runtime.submission_adapter(district.schools[0].id)
    assert refused.value.code == "PLUGIN_FAILED" and refused.value.details["plugin"] == "test_broken"


async def test_the_moe_adapter_refuses_until_its_keys_are_configured(district: District, manager) -> None:
    from licheng.errors import LichengError
    from licheng.portfolio.submission_port import BatchSnapshot

    await _enable(district, manager, "moe_central", all_schools=True)
    adapter = await runtime.submission_adapter(district.schools[0].id)
    assert adapter is not None
    with pytest.raises(LichengError) as refused:
        await adapter.submit(BatchSnapshot(1, district.schools[0].code, 115, 0, "year", (), "", school_id=district.schools[0].id))
    assert refused.value.code == "MOE_CENTRAL_NOT_CONFIGURED"


def _impl(manager, plugin):
    """pluggy's record of the plugin's policy hook; tests swap its function to make it fail."""
    return next(i for i in manager.pm.hook.licheng_policy_rules.get_hookimpls() if i.plugin is plugin)


async def test_health_recovers_after_a_success(district: District, manager, rules_plugin) -> None:
    school = district.schools[0]
    await _enable(district, manager, "test_rules", all_schools=True)

    def explode(school_id, config):
        raise RuntimeError("temporary")

    impl = _impl(manager, rules_plugin)
    original = impl.function
    impl.function = explode
    try:
        assert await runtime.policy_layers(school.id, 115) == []
    finally:
        impl.function = original
    assert await runtime.policy_layers(school.id, 115)
    record = await PluginHealth.get(plugin_id="test_rules", hook="licheng_policy_rules", school_id=school.id)
    assert record.ok and record.consecutive_failures == 0 and record.last_success_at is not None


async def test_a_slow_async_hook_times_out_and_is_isolated(district: District, manager, rules_plugin) -> None:
    import asyncio

    from licheng.plugins.health import Scope

    config = rules_plugin.settings_model()
    impl = _impl(manager, rules_plugin)
    original = impl.function

    async def sleepy(school_id, config):
        await asyncio.sleep(5)

    impl.function = sleepy
    try:
        results = await manager.call("licheng_policy_rules", {"test_rules": config}, Scope(school_id=district.schools[0].id), timeout=0.05, school_id=1, academic_year=115)
    finally:
        impl.function = original
    assert results == []
    record = await PluginHealth.get(plugin_id="test_rules", hook="licheng_policy_rules", school_id=district.schools[0].id)
    assert record.error_type == "TimeoutError"


async def test_stored_settings_that_no_longer_validate_take_the_plugin_out_visibly(district: District, manager, rules_plugin) -> None:
    from licheng.plugins.models import BureauPluginConfig

    school = district.schools[0]
    await _enable(district, manager, "test_rules", all_schools=True)
    await BureauPluginConfig.filter(bureau_id=district.bureau.id, plugin_id="test_rules").update(values={"outcomes_per_term": 999})
    assert await runtime.policy_layers(school.id, 115) == []
    record = await PluginHealth.get(plugin_id="test_rules", hook="settings", school_id=school.id)
    assert not record.ok and "outcomes_per_term" in record.error_message


async def test_the_health_check_runs_with_the_bureau_settings(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager, "test_rules", all_schools=True)
    await configs.update_settings(admin, manager, "test_rules", {"mode": "relaxed"}, bureau_id=district.bureau.id)
    rows = {r.hook: r for r in await runtime.check_health(admin, manager, district.bureau.id, "test_rules")}
    assert rows["settings"].ok and not rows["licheng_health_check"].ok
    assert rows["licheng_health_check"].error_message == "directory password missing"
    await configs.update_settings(admin, manager, "test_rules", {"directory_password": "x" * 12}, bureau_id=district.bureau.id)
    rows = {r.hook: r for r in await runtime.check_health(admin, manager, district.bureau.id, "test_rules")}
    assert rows["licheng_health_check"].ok


async def test_a_raising_health_check_is_recorded_as_failing(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager, "test_broken", all_schools=True)
    rows = {r.hook: r for r in await runtime.check_health(admin, manager, district.bureau.id, "test_broken")}
    assert not rows["licheng_health_check"].ok
    assert rows["licheng_health_check"].error_message == "cannot reach the directory"


async def test_the_portfolio_policy_takes_the_plugin_rules_of_the_school(district: District, manager) -> None:
    from licheng.portfolio import policy
    assert "licheng.portfolio.policy.BUREAU_LAYER_PROVIDERS" in runtime.install()
    admin = await district.admin_actor()
    a, b, c = district.schools
    await _enable(district, manager, "taipei_coolcloud", [a, b])
    await configs.update_settings(admin, manager, "taipei_coolcloud", {"outcomes_per_term": 9}, bureau_id=district.bureau.id)
    resolved = await policy.policy_for(a.id, 115)
    assert (resolved.outcomes_per_term, resolved.outcomes_per_subject_per_term) == (9, 3)
    assert "plugin:taipei_coolcloud" in resolved.sources
    untouched = await policy.policy_for(c.id, 115)
    assert "plugin:taipei_coolcloud" not in untouched.sources


async def test_identity_providers_come_only_from_plugins_enabled_for_the_school(district: District, manager) -> None:
    from licheng.plugins import DirectoryProvider, Plugin, PluginSettings, hookimpl
    from licheng.plugins.models import InstalledPlugin

    async def authenticate(login: str, password: str) -> None:
        return None

    class Directory(Plugin):
        id = "test_directory"
        name = "Directory"
        settings_model = PluginSettings

        @hookimpl
        def licheng_identity_providers(self, config: PluginSettings) -> list[DirectoryProvider]:
            return [DirectoryProvider("ldap", "校園目錄", "School directory", authenticate)]

    manager.register(Directory())
    try:
        await service.sync_catalogue(manager)
        await InstalledPlugin.filter(plugin_id="test_directory").update(available=True)
        a, b, _ = district.schools
        await _enable(district, manager, "test_directory", [a])
        assert [p.id for p in await runtime.identity_providers(a.id)] == ["ldap"]
        assert await runtime.identity_providers(b.id) == []
    finally:
        manager.unregister("test_directory")


async def test_the_portfolio_submits_through_the_adapter_of_the_plugin_enabled_for_the_school(district: District, manager) -> None:
    from licheng.portfolio import submission_port as port
    assert "licheng.portfolio.submission_port.ADAPTER_RESOLVERS" in runtime.install()
    a, b, _ = district.schools
    await _enable(district, manager, "moe_central", [a])
    adapter = await port.adapter_for(a.id)
    assert adapter is not None and adapter.name == "moe_central"
    assert isinstance(adapter, port.SubmissionAdapter)
    assert await runtime.submission_adapter(b.id) is None
