"""Plugin tables: the catalogue (global), bureau enablement and settings, school overrides, health.

Only values live here; what a setting means is declared by the plugin's settings
model. Secret values are stored sealed (``licheng.plugins.crypto``) in ``secrets``,
apart from ``values``, so that no code path can return them by accident.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from licheng.tenants.models import Bureau, School


class InstalledPlugin(Model):
    """A plugin the platform has seen installed (global). Platform admins make it available to bureaus."""

    id = fields.IntField(primary_key=True)
    plugin_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    version = fields.CharField(max_length=40)
    description = fields.TextField(default="")
    available = fields.BooleanField(default=False)
    first_seen_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "plugin_catalogue"


class BureauPluginConfig(Model):
    """A bureau's switch and settings for one plugin: for all its schools or the listed ones."""

    id = fields.IntField(primary_key=True)
    bureau: fields.ForeignKeyRelation[Bureau] = fields.ForeignKeyField(
        "tenants.Bureau", related_name="plugin_configs", on_delete=fields.CASCADE
    )
    plugin_id = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=False)
    all_schools = fields.BooleanField(default=False)
    school_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    values: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    secrets: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    bureau_id: int

    class Meta:
        table = "plugin_bureau_config"
        unique_together = (("bureau", "plugin_id"),)

    def covers(self, school_id: int) -> bool:
        return self.enabled and (self.all_schools or school_id in (self.school_ids or []))


class SchoolPluginOverride(Model):
    """A school's own values for some settings of a plugin (staff: only school-overridable ones)."""

    id = fields.IntField(primary_key=True)
    school: fields.ForeignKeyRelation[School] = fields.ForeignKeyField(
        "tenants.School", related_name="plugin_overrides", on_delete=fields.CASCADE
    )
    plugin_id = fields.CharField(max_length=64)
    values: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    secrets: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    school_id: int

    class Meta:
        table = "plugin_school_override"
        unique_together = (("school", "plugin_id"),)


class PluginHealth(Model):
    """The last outcome of a plugin's hook (or health check) in one scope: ok or failing, and why.

    ``key`` is plugin, hook and scope in one unique string, because a unique
    constraint over nullable columns would let duplicates in.
    """

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    plugin_id = fields.CharField(max_length=64, db_index=True)
    hook = fields.CharField(max_length=64)
    bureau_id = fields.IntField(null=True, db_index=True)
    school_id = fields.IntField(null=True, db_index=True)
    ok = fields.BooleanField(default=True)
    consecutive_failures = fields.IntField(default=0)
    error_type = fields.CharField(max_length=100, default="")
    error_message = fields.CharField(max_length=300, default="")
    last_failure_at = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "plugin_health"
