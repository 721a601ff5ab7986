"""Taipei CoolCloud (臺北酷課雲): the Taipei bureau's plugin.

One module per feature, each with its own settings mixin; this file only
assembles them and answers the hooks:

- ``rules``: Taipei's caps and quota as policy rules (12 outcomes per term, 3 per subject, 150 MB)
- ``sso``: sign-in through Taipei's single sign-on (OAuth2, tpeduSSO)
- ``ldap``: sign-in against the directory (LDAP)
- ``sync``: school-system sync through the single sign-on's school data API
- ``early_warnings``: scheduled reminders (預警), in the app and by e-mail
- ``departments``, ``cabinet``: GraphQL features (application-department rules, cabinet extras)
"""

from __future__ import annotations

from typing import Any

from licheng.plugins import DirectoryProvider, HealthReport, Importer, Notifier, OAuthProvider, Plugin, ScheduledJob, hookimpl
from taipei_coolcloud import early_warnings, graphql_types, ldap, rules, sso, sync


class TaipeiSettings(rules.RulesSettings, sso.SsoSettings, ldap.LdapSettings, sync.SyncSettings, early_warnings.WarningSettings):
    """Every setting of the plugin: each feature declares its own in its module."""


class TaipeiCoolCloud(Plugin):
    id = "taipei_coolcloud"
    name = "臺北酷課雲 Taipei CoolCloud"
    version = "0.2.0"
    description = "臺北市單一身分驗證、規則、申請校系分則、預警與校務系統同步 / Taipei sign-on, rules, department rules, warnings, SIS sync"
    settings_model = TaipeiSettings

    @hookimpl
    def licheng_policy_rules(self, config: TaipeiSettings) -> dict[str, Any]:
        return rules.policy_rules(config)

    @hookimpl
    def licheng_identity_providers(self, config: TaipeiSettings) -> list[OAuthProvider | DirectoryProvider]:
        return [*sso.oauth_providers(config), *ldap.directory_providers(config)]

    @hookimpl
    def licheng_importers(self, config: TaipeiSettings) -> list[Importer]:
        return sync.importers(config)

    @hookimpl
    def licheng_scheduled_jobs(self, config: TaipeiSettings) -> list[ScheduledJob]:
        return [*early_warnings.scheduled_jobs(config), *sync.scheduled_jobs(config)]

    @hookimpl
    def licheng_notifiers(self, config: TaipeiSettings) -> list[Notifier]:
        return early_warnings.notifiers(config)

    @hookimpl
    def licheng_graphql_types(self) -> list[type]:
        return graphql_types.root_types()

    @hookimpl
    async def licheng_health_check(self, config: TaipeiSettings) -> HealthReport:
        if config.sso_client_id and config.sso_client_secret is None:
            return HealthReport(ok=False, detail_zh="已設定 Client ID 但缺少 Client Secret", detail_en="SSO client secret missing")
        single_sign_on = await sso.sso_health(config)
        if single_sign_on is not None and not single_sign_on.ok:
            return single_sign_on
        directory = await ldap.ldap_health(config)
        if directory is not None and not directory.ok:
            return directory
        school_sync = await sync.sync_health(config)
        if school_sync is not None and not school_sync.ok:
            return school_sync
        return HealthReport(ok=True)


plugin = TaipeiCoolCloud()
