"""Taipei CoolCloud (臺北酷課雲): the Taipei bureau's rules, as a thin plugin.

What it does today: Taipei's certification caps (12 course outcomes per term,
at most 3 per subject [seed]) and storage quota (150 MB) as policy rules, and a
health check of its settings. Sign-in through Taipei's single sign-on
(tpeduSSO, OAuth2 + LDAP), SIS sync and e-mail reminders are declared in its
settings and will come as more hooks; the SDK specs for them exist already.
"""

from __future__ import annotations

from typing import Any

from licheng.plugins import HealthReport, Plugin, PluginSettings, SecretStr, hookimpl, secret_setting, setting

MB = 1024 * 1024


class TaipeiSettings(PluginSettings):
    outcomes_per_term: int = setting(
        12, ge=1, le=60, label_zh="每學期提交認證件數上限", label_en="Outcomes sent for certification per term",
        help_zh="臺北市規定每學期至多 12 件", help_en="Taipei: at most 12 per term",
    )  # fmt: skip
    outcomes_per_subject_per_term: int = setting(
        3, ge=1, le=60, label_zh="每科每學期上限", label_en="Per subject per term",
        help_zh="同一科目每學期至多 3 件", help_en="Taipei: at most 3 per subject",
    )  # fmt: skip
    quota_mb: int = setting(150, ge=10, le=2048, label_zh="每位學生儲存空間（MB）", label_en="Storage per student (MB)")
    reminder_days_before_deadline: int = setting(
        7, ge=0, le=60, school_overridable=True,
        label_zh="截止前幾天提醒學生", label_en="Remind students this many days before a deadline",
        help_zh="學校可自行調整", help_en="Schools may change this",
    )  # fmt: skip
    sso_client_id: str = setting("", max_length=200, label_zh="單一身分驗證 Client ID", label_en="SSO client ID")
    sso_client_secret: SecretStr | None = secret_setting(label_zh="單一身分驗證 Client Secret", label_en="SSO client secret")


class TaipeiCoolCloud(Plugin):
    id = "taipei_coolcloud"
    name = "臺北酷課雲 Taipei CoolCloud"
    version = "0.1.0"
    description = "臺北市學習歷程規則（每學期 12 件、每科 3 件、150 MB）/ Taipei portfolio rules"
    settings_model = TaipeiSettings

    @hookimpl
    def licheng_policy_rules(self, config: TaipeiSettings) -> dict[str, Any]:
        return {
            "outcomes_per_term": config.outcomes_per_term,
            "outcomes_per_subject_per_term": config.outcomes_per_subject_per_term,
            "quota_bytes": config.quota_mb * MB,
        }

    @hookimpl
    def licheng_health_check(self, config: TaipeiSettings) -> HealthReport:
        if config.sso_client_id and config.sso_client_secret is None:
            return HealthReport(ok=False, detail_zh="已設定 Client ID 但缺少 Client Secret", detail_en="SSO client secret missing")
        return HealthReport(ok=True)


plugin = TaipeiCoolCloud()
