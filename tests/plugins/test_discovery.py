"""Discovery and registration: entry points, the Settings.plugins restriction, direct registration."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

from licheng.plugins import Plugin, PluginSettings, hookimpl, setting
from licheng.plugins.manager import PluginManager
from licheng.plugins.spec import describe
from licheng.settings import Settings
from tests.fixtures_plugins import rules

KEY = b"k" * 32


def test_installed_plugins_are_found_through_entry_points(settings: Settings) -> None:
    manager = PluginManager.from_settings(settings)
    found = {p.id: p for p in manager.plugins()}
    assert {"taipei_coolcloud", "moe_central"} <= set(found)
    taipei = found["taipei_coolcloud"]
    assert taipei.name and taipei.version and taipei.description
    assert manager.hooks_of(taipei) == [
        "licheng_graphql_types", "licheng_health_check", "licheng_identity_providers", "licheng_importers",
        "licheng_notifiers", "licheng_policy_rules", "licheng_scheduled_jobs",
    ]
    assert manager.hooks_of(found["moe_central"]) == ["licheng_demo", "licheng_submission_adapter"]


def test_the_plugins_setting_restricts_which_load(settings: Settings) -> None:
    only_moe = settings.model_copy(update={"plugins": " moe_central "})
    assert [p.id for p in PluginManager.from_settings(only_moe).plugins()] == ["moe_central"]


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.entry_points
    broken = importlib.metadata.EntryPoint("ghost", "tests.fixtures_plugins.does_not_exist", "licheng.plugins")

    def entry_points(**kwargs: Any) -> Any:
        return [*real(**kwargs), broken] if kwargs.get("group") == "licheng.plugins" else real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    manager = PluginManager(KEY)
    manager.load_entrypoints()
    assert "ModuleNotFoundError" in manager.load_errors["ghost"]
    assert manager.get("taipei_coolcloud") is not None


def test_a_test_plugin_is_registered_without_an_entry_point() -> None:
    manager = PluginManager(KEY)
    manager.register(rules.make())
    assert manager.get("test_rules") is not None
    assert manager.hooks_of(manager.get("test_rules")) == ["licheng_health_check", "licheng_policy_rules"]
    manager.unregister("test_rules")
    assert manager.get("test_rules") is None


def test_a_plugin_without_a_valid_id_is_refused() -> None:
    class Nameless(Plugin):
        id = "Bad Id"
        name = "x"

    with pytest.raises(TypeError):
        PluginManager(KEY).register(Nameless())


def test_a_hook_wrapper_is_refused() -> None:
    class Wrapping(Plugin):
        id = "wrapping"
        name = "wrapping"

        @hookimpl(wrapper=True)
        def licheng_policy_rules(self) -> Any:
            return (yield)

    manager = PluginManager(KEY)
    with pytest.raises(TypeError, match="wrappers"):
        manager.register(Wrapping())
    assert manager.get("wrapping") is None


def test_an_unknown_hook_is_refused() -> None:
    from pluggy import PluginValidationError

    class Typo(Plugin):
        id = "typo"
        name = "typo"

        @hookimpl
        def licheng_policy_rule(self) -> None:  # missing s
            return None

    with pytest.raises(PluginValidationError):
        PluginManager(KEY).register(Typo())


def test_the_settings_model_declares_types_labels_secrets_and_what_schools_may_override() -> None:
    specs = {spec.name: spec for spec in describe(rules.RulesSettings)}
    assert specs["outcomes_per_term"].type == "integer"
    assert (specs["outcomes_per_term"].minimum, specs["outcomes_per_term"].maximum) == (1, 60)
    assert specs["outcomes_per_term"].label_zh == "每學期上限"
    assert specs["mode"].type == "choice" and specs["mode"].choices == ("strict", "relaxed")
    assert specs["directory_password"].secret and specs["directory_password"].default is None
    assert specs["reminder_days"].school_overridable and not specs["outcomes_per_term"].school_overridable


def test_settings_refuse_unknown_keys() -> None:
    class Small(PluginSettings):
        cap: int = setting(3, label_zh="上限", label_en="Cap")

    with pytest.raises(Exception):
        Small.model_validate({"cap": 3, "typo": 1})
