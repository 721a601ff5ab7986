"""GraphQL for plugin administration: the catalogue, enablement, settings, preview, health, audit.

Thin: each resolver parses IDs, calls ``licheng.plugins`` services with the
process plugin manager, and shapes the answer. Secrets never leave the
service layer in the clear: a setting says ``secretSet`` and, for bureau
admins, a ``secretHint`` (last four characters).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from licheng.auth.models import Account
from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.loaders import by_id, loader
from licheng.graphql.permissions import PlatformAdmin, SignedIn
from licheng.graphql.relay import Connection, Node, connection, node_resolver, pk_of, to_global_id
from licheng.graphql.tenants import Bureau, School
from licheng.plugins import configs, preview, runtime, service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import InstalledPlugin, PluginHealth
from licheng.plugins.spec import FieldSpec, describe
from licheng.tenants import models as tenant_models
from licheng.tenants.audit import AuditEntry


@strawberry.enum(description="Where an effective setting value comes from (school → bureau → plugin default).")
class SettingSource(Enum):
    SCHOOL = "school"
    BUREAU = "bureau"
    DEFAULT = "default"


@strawberry.type(description="A setting a plugin declares: its type, labels, and who may change it.")
class PluginSettingField:
    name: str
    type: str = strawberry.field(description="integer, number, boolean, string, choice or secret.")
    label_zh: str
    label_en: str
    help_zh: str
    help_en: str
    secret: bool
    school_overridable: bool = strawberry.field(description="School staff may override it for their school.")
    default: JSON | None = strawberry.field(description="Null for secrets.")
    choices: list[str]
    minimum: float | None
    maximum: float | None

    @staticmethod
    def of(spec: FieldSpec) -> PluginSettingField:
        return PluginSettingField(
            name=spec.name, type=spec.type, label_zh=spec.label_zh, label_en=spec.label_en, help_zh=spec.help_zh,
            help_en=spec.help_en, secret=spec.secret, school_overridable=spec.school_overridable, default=spec.default,
            choices=list(spec.choices), minimum=spec.minimum, maximum=spec.maximum,
        )  # fmt: skip


async def _school(info: Info, school_id: int | None) -> School | None:
    if school_id is None:
        return None
    row = await loader(info, "school", by_id(tenant_models.School)).load(school_id)
    return School.of(row) if row else None


@strawberry.type
class PluginHealthRecord:
    hook: str = strawberry.field(description="The hook (or 'settings') this record is about.")
    ok: bool
    consecutive_failures: int
    error_type: str | None
    error_message: str | None = strawberry.field(description="Secrets of the plugin are removed.")
    last_failure_at: datetime | None
    last_success_at: datetime | None
    school_pk: strawberry.Private[int | None]

    @staticmethod
    def of(row: PluginHealth) -> PluginHealthRecord:
        return PluginHealthRecord(
            hook=row.hook, ok=row.ok, consecutive_failures=row.consecutive_failures, error_type=row.error_type or None,
            error_message=row.error_message or None, last_failure_at=row.last_failure_at,
            last_success_at=row.last_success_at, school_pk=row.school_id,
        )  # fmt: skip

    @strawberry.field(description="The school where it ran; null for the bureau or the platform.")
    async def school(self, info: Info) -> School | None:
        return await _school(info, self.school_pk)


@strawberry.type(description="An installed plugin as the viewer's scope (a bureau, or the viewer's school) sees it.")
class Plugin(Node):
    status: strawberry.Private[service.PluginStatus]
    plugin_id: str
    name: str
    version: str
    description: str
    hooks: list[str]
    installed: bool = strawberry.field(description="Loaded by this server (false: in the catalogue, not installed now).")
    available: bool = strawberry.field(description="A platform admin made it available to bureaus.")
    enabled: bool
    all_schools: bool

    @staticmethod
    def of(status: service.PluginStatus) -> Plugin:
        row, config = status.row, status.enablement
        return Plugin(
            id=to_global_id("Plugin", row.id), status=status, plugin_id=row.plugin_id, name=row.name,
            version=row.version, description=row.description, hooks=status.hooks, installed=status.plugin is not None,
            available=row.available, enabled=bool(config and config.enabled),
            all_schools=bool(config and config.enabled and config.all_schools),
        )  # fmt: skip

    @strawberry.field(description="The schools it is enabled for (that the viewer may see).")
    async def schools(self, info: Info) -> list[School]:
        config = self.status.enablement
        if config is None:
            return []
        return [School.of(row) for row in await service.enabled_schools(info.context.actor, config)]

    @strawberry.field
    def settings_fields(self) -> list[PluginSettingField]:
        plugin = self.status.plugin
        return [PluginSettingField.of(spec) for spec in describe(plugin.settings_model)] if plugin else []

    async def _health(self, info: Info) -> list[PluginHealth]:
        actor, bureau_id = info.context.actor, self.status.bureau_id

        async def batch(plugin_ids: list[str]) -> list[list[PluginHealth]]:
            found = await service.health_of(actor, plugin_ids, bureau_id)
            return [found[plugin_id] for plugin_id in plugin_ids]

        return await loader(info, f"plugin-health:{bureau_id}", batch).load(self.plugin_id)

    @strawberry.field(description="Recent outcomes of its hooks in the viewer's scope.")
    async def health(self, info: Info) -> list[PluginHealthRecord]:
        return [PluginHealthRecord.of(row) for row in await self._health(info)]

    @strawberry.field(description="False when it failed to load or a hook is failing in the viewer's scope.")
    async def healthy(self, info: Info) -> bool:
        return not self.status.load_error and all(row.ok for row in await self._health(info))

    @strawberry.field(description="Why it could not be loaded (platform admins only).")
    def load_error(self, info: Info) -> str | None:
        return self.status.load_error if info.context.actor.is_platform_admin else None


@strawberry.type
class PluginSettingValue:
    field: PluginSettingField
    value: JSON | None = strawberry.field(description="The effective value; always null for secrets.")
    source: SettingSource
    bureau_value: JSON | None
    school_value: JSON | None
    secret_set: bool
    secret_hint: str | None = strawberry.field(description="'set' or the last 4 characters (bureau admins); never the secret.")
    editable: bool = strawberry.field(description="The viewer may change it at this scope.")


@strawberry.type
class PluginConfiguration:
    plugin_id: str
    bureau_pk: strawberry.Private[int]
    school_pk: strawberry.Private[int | None]
    settings: list[PluginSettingValue]

    @staticmethod
    def of(view: configs.ConfigView) -> PluginConfiguration:
        return PluginConfiguration(
            plugin_id=view.plugin_id, bureau_pk=view.bureau_id, school_pk=view.school_id,
            settings=[
                PluginSettingValue(
                    field=PluginSettingField.of(f.spec), value=f.value, source=SettingSource(f.source),
                    bureau_value=f.bureau_value, school_value=f.school_value, secret_set=f.secret_set,
                    secret_hint=f.secret_hint or None, editable=f.editable,
                )
                for f in view.fields
            ],
        )  # fmt: skip

    @strawberry.field
    async def bureau(self, info: Info) -> Bureau:
        return Bureau.of(await loader(info, "bureau", by_id(tenant_models.Bureau)).load(self.bureau_pk))

    @strawberry.field
    async def school(self, info: Info) -> School | None:
        return await _school(info, self.school_pk)


@strawberry.type
class RuleImpact:
    key: str = strawberry.field(description="The policy rule, e.g. outcomes_per_term.")
    before: JSON | None
    after: JSON | None
    students_above: int | None = strawberry.field(description="Students already above the new cap; null when not counted.")


@strawberry.type
class SchoolPolicyPreview:
    school: School
    impacts: list[RuleImpact]
    error_code: str | None = strawberry.field(description="Set when this school could not be previewed.")


@strawberry.type
class PolicyPreview:
    plugin_id: str
    academic_year: int
    term: int
    schools: list[SchoolPolicyPreview]

    @staticmethod
    def of(result: preview.PolicyPreview) -> PolicyPreview:
        return PolicyPreview(
            plugin_id=result.plugin_id, academic_year=result.academic_year, term=result.term,
            schools=[
                SchoolPolicyPreview(
                    school=School.of(s.school), error_code=s.error_code,
                    impacts=[RuleImpact(key=i.key, before=i.before, after=i.after, students_above=i.students_above) for i in s.impacts],
                )
                for s in result.schools
            ],
        )  # fmt: skip


@strawberry.type(description="A change to a plugin's availability, enablement or settings (secrets redacted).")
class PluginAuditEntry:
    id: strawberry.ID
    at: datetime
    action: str
    plugin_id: str
    acting_role: str
    changes: JSON | None
    account_pk: strawberry.Private[int | None]
    school_pk: strawberry.Private[int | None]

    @staticmethod
    def of(row: AuditEntry) -> PluginAuditEntry:
        return PluginAuditEntry(
            id=to_global_id("AuditEntry", row.id), at=row.at, action=row.action, plugin_id=row.record_id or "",
            acting_role=row.acting_role, changes=row.changes, account_pk=row.account_id,  # type: ignore[arg-type]
            school_pk=row.school_id if row.action in service.SCHOOL_ACTIONS else None,
        )  # fmt: skip

    @strawberry.field(description="Who made the change (display name).")
    async def actor_name(self, info: Info) -> str | None:
        if self.account_pk is None:
            return None
        row = await loader(info, "account", by_id(Account)).load(self.account_pk)
        return row.display_name if row else None

    @strawberry.field(description="The school, for a school-level change.")
    async def school(self, info: Info) -> School | None:
        return await _school(info, self.school_pk)


def _opt(global_id: strawberry.ID | None, type_name: str) -> int | None:
    return pk_of(global_id, type_name) if global_id else None


@node_resolver("Plugin")
async def _plugin_node(info: Info, pk: int) -> Plugin | None:
    row = await InstalledPlugin.get_or_none(id=pk)
    if row is None:
        return None
    return Plugin.of(await service.get_plugin(info.context.actor, get_manager(), row.plugin_id))


@strawberry.input
class PreviewPluginSettingsInput:
    plugin_id: str
    bureau_id: strawberry.ID
    values: JSON = strawberry.field(description="The proposed changes, as for updatePluginSettings.")
    school_ids: list[strawberry.ID] | None = None
    academic_year: int | None = None
    term: int | None = None


@strawberry.type
class PluginQuery:
    @strawberry.field(permission_classes=[SignedIn], description="Plugins in the viewer's scope, or a bureau's (bureauId).")
    async def plugins(self, info: Info, bureau_id: strawberry.ID | None = None) -> list[Plugin]:
        rows = await service.list_plugins(info.context.actor, get_manager(), _opt(bureau_id, "Bureau"))
        return [Plugin.of(status) for status in rows]

    @strawberry.field(permission_classes=[SignedIn], description="A plugin's settings for a bureau, or for one school.")
    async def plugin_configuration(
        self, info: Info, plugin_id: str, bureau_id: strawberry.ID | None = None, school_id: strawberry.ID | None = None
    ) -> PluginConfiguration:
        view = await configs.view_config(
            info.context.actor, get_manager(), plugin_id, bureau_id=_opt(bureau_id, "Bureau"), school_id=_opt(school_id, "School")
        )
        return PluginConfiguration.of(view)

    @strawberry.field(permission_classes=[SignedIn], description="Plugin changes, newest first.")
    async def plugin_audit_log(
        self,
        info: Info,
        bureau_id: strawberry.ID | None = None,
        school_id: strawberry.ID | None = None,
        plugin_id: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PluginAuditEntry]:
        page = await service.audit_log(
            info.context.actor, bureau_id=_opt(bureau_id, "Bureau"), school_id=_opt(school_id, "School"),
            plugin_id=plugin_id, first=first, after=after,
        )  # fmt: skip
        return connection(page, PluginAuditEntry.of)

    @strawberry.field(
        permission_classes=[SignedIn],
        description="What a settings change would do to each school's rules, and how many students are already above a new cap. Saves nothing.",
    )
    async def preview_plugin_settings(self, info: Info, input: PreviewPluginSettingsInput) -> PolicyPreview:
        result = await preview.preview_policy_change(
            info.context.actor, get_manager(), input.plugin_id, _values(input.values),
            bureau_id=pk_of(input.bureau_id, "Bureau"),
            school_ids=[pk_of(s, "School") for s in input.school_ids] if input.school_ids else None,
            academic_year=input.academic_year, term=input.term,
        )  # fmt: skip
        return PolicyPreview.of(result)


def _values(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise InvalidInput("values", "設定值須為物件", "values must be an object")
    return values


@strawberry.input
class EnablePluginInput:
    plugin_id: str
    bureau_id: strawberry.ID
    all_schools: bool = False
    school_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class UpdatePluginSettingsInput:
    plugin_id: str
    bureau_id: strawberry.ID | None = None
    school_id: strawberry.ID | None = None
    values: JSON = strawberry.field(description="Setting name -> value; null removes it (falls back); keys left out stay.")


@strawberry.type
class PluginMutation:
    @strawberry.mutation(permission_classes=[PlatformAdmin], description="Make an installed plugin available to bureaus, or withdraw it.")
    async def set_plugin_availability(self, info: Info, plugin_id: str, available: bool) -> Plugin:
        return Plugin.of(await service.set_available(info.context.actor, get_manager(), plugin_id, available))

    @strawberry.mutation(permission_classes=[SignedIn], description="A bureau admin enables a plugin for all its schools or the listed ones.")
    async def enable_plugin(self, info: Info, input: EnablePluginInput) -> Plugin:
        status = await service.set_enabled(
            info.context.actor, get_manager(), pk_of(input.bureau_id, "Bureau"), input.plugin_id, enabled=True,
            all_schools=input.all_schools, school_ids=[pk_of(s, "School") for s in input.school_ids],
        )  # fmt: skip
        return Plugin.of(status)

    @strawberry.mutation(permission_classes=[SignedIn])
    async def disable_plugin(self, info: Info, plugin_id: str, bureau_id: strawberry.ID) -> Plugin:
        status = await service.set_enabled(info.context.actor, get_manager(), pk_of(bureau_id, "Bureau"), plugin_id, enabled=False)
        return Plugin.of(status)

    @strawberry.mutation(
        permission_classes=[SignedIn],
        description="Change settings for a bureau (bureau admins) or one school (its bureau's admins; its staff only school-overridable ones).",
    )
    async def update_plugin_settings(self, info: Info, input: UpdatePluginSettingsInput) -> PluginConfiguration:
        view = await configs.update_settings(
            info.context.actor, get_manager(), input.plugin_id, _values(input.values),
            bureau_id=_opt(input.bureau_id, "Bureau"), school_id=_opt(input.school_id, "School"),
        )  # fmt: skip
        return PluginConfiguration.of(view)

    @strawberry.mutation(permission_classes=[SignedIn], description="Run the plugin's health check with the bureau's settings now.")
    async def check_plugin_health(self, info: Info, plugin_id: str, bureau_id: strawberry.ID) -> list[PluginHealthRecord]:
        rows = await runtime.check_health(info.context.actor, get_manager(), pk_of(bureau_id, "Bureau"), plugin_id)
        return [PluginHealthRecord.of(row) for row in rows]
