"""A plugin whose every hook fails, to prove failures stay inside it."""

from __future__ import annotations

from typing import Any

from licheng.plugins import HealthReport, Plugin, PluginSettings, SecretStr, hookimpl, secret_setting, setting


class BrokenSettings(PluginSettings):
    cap: int = setting(5, ge=1, le=60, label_zh="上限", label_en="Cap")
    api_key: SecretStr | None = secret_setting(label_zh="金鑰", label_en="API key")


class PluginExploded(RuntimeError):
    pass


class BrokenPlugin(Plugin):
    id = "test_broken"
    name = "壞掉的外掛 Broken"
    version = "0.1"
    settings_model = BrokenSettings

    @hookimpl
    def licheng_policy_rules(self, config: BrokenSettings) -> dict[str, Any]:
        key = config.api_key.get_secret_value() if config.api_key else "none"
        raise PluginExploded(f"directory refused key {key}")

    @hookimpl
    async def licheng_health_check(self, config: BrokenSettings) -> HealthReport:
        raise PluginExploded("cannot reach the directory")

    @hookimpl
    def licheng_submission_adapter(self, config: BrokenSettings) -> Any:
        raise PluginExploded("adapter exploded")


def make() -> BrokenPlugin:
    return BrokenPlugin()
