"""A well-behaved test plugin: it turns its settings into policy rules and records its calls."""

from __future__ import annotations

from typing import Any, Literal

from licheng.plugins import HealthReport, Plugin, PluginSettings, SecretStr, hookimpl, secret_setting, setting


class RulesSettings(PluginSettings):
    outcomes_per_term: int = setting(12, ge=1, le=60, label_zh="每學期上限", label_en="Outcomes per term")
    outcomes_per_subject_per_term: int = setting(3, ge=1, le=60, label_zh="每科上限", label_en="Per subject")
    reminder_days: int = setting(7, ge=0, le=60, school_overridable=True, label_zh="提醒天數", label_en="Reminder days")
    mode: Literal["strict", "relaxed"] = setting("strict", label_zh="模式", label_en="Mode")
    directory_password: SecretStr | None = secret_setting(label_zh="目錄密碼", label_en="Directory password")


class RulesPlugin(Plugin):
    id = "test_rules"
    name = "測試規則 Test rules"
    version = "1.0"
    description = "Policy rules for tests"
    settings_model = RulesSettings

    def __init__(self) -> None:
        self.calls: list[tuple[int, RulesSettings]] = []

    @hookimpl
    def licheng_policy_rules(self, school_id: int, config: RulesSettings) -> dict[str, Any]:
        self.calls.append((school_id, config))
        return {"outcomes_per_term": config.outcomes_per_term, "outcomes_per_subject_per_term": config.outcomes_per_subject_per_term}

    @hookimpl
    async def licheng_health_check(self, config: RulesSettings) -> HealthReport:
        if config.mode == "relaxed" and config.directory_password is None:
            return HealthReport(ok=False, detail_zh="缺少目錄密碼", detail_en="directory password missing")
        return HealthReport(ok=True)


def make() -> RulesPlugin:
    return RulesPlugin()
