"""Plugin settings per scope: resolve (school → bureau → plugin default), show, change, audit.

Values are stored per layer; secrets sealed apart. Resolving merges the layers
and validates the result against the plugin's settings model, so a plugin only
ever sees a typed, valid configuration. Changing a layer validates the effective
result first and records who changed what (secrets redacted) in the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.plugins import access, crypto
from licheng.plugins.manager import PluginManager
from licheng.plugins.models import BureauPluginConfig, SchoolPluginOverride
from licheng.plugins.spec import FieldError, FieldSpec, Plugin, PluginSettings, describe, field_errors, secret_fields
from licheng.tenants import audit
from licheng.tenants.actor import Actor


class ConfigInvalid(Exception):
    """Stored values no longer validate (e.g. after a plugin upgrade tightened a rule)."""

    def __init__(self, plugin_id: str, errors: list[FieldError]) -> None:
        super().__init__(f"stored settings of {plugin_id} are invalid: " + ", ".join(e.field for e in errors))
        self.errors = errors


class SettingsRejected(InvalidInput):
    """Field errors of a settings change, one per field, in both languages."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            errors[0].field,
            "設定值有誤：" + "；".join(f"{e.field} {e.message_zh}" for e in errors),
            "Invalid settings: " + "; ".join(f"{e.field}: {e.message_en}" for e in errors),
            errors=[{"field": e.field, "message_zh": e.message_zh, "message_en": e.message_en} for e in errors],
        )


def bureau_key(bureau_id: int) -> str:
    return f"bureau:{bureau_id}"


def school_key(school_id: int) -> str:
    return f"school:{school_id}"


def _open_layer(manager: PluginManager, plugin: Plugin, values: Mapping[str, Any], secrets: Mapping[str, str], scope: str) -> dict[str, Any]:
    """One layer's values in the clear, limited to the fields the plugin declares today."""
    names = plugin.settings_model.model_fields
    out = {k: v for k, v in (values or {}).items() if k in names}
    for name, token in (secrets or {}).items():
        clear = crypto.open_sealed(token, manager.data_key, plugin_id=plugin.id, scope=scope, field=name)
        if name in names and clear is not None:
            out[name] = clear
    return out


def raw_layers(
    manager: PluginManager, plugin: Plugin, bureau: BureauPluginConfig | None, school: SchoolPluginOverride | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    bureau_raw = _open_layer(manager, plugin, bureau.values, bureau.secrets, bureau_key(bureau.bureau_id)) if bureau else {}
    school_raw = _open_layer(manager, plugin, school.values, school.secrets, school_key(school.school_id)) if school else {}
    return bureau_raw, school_raw


def build(plugin: Plugin, *layers: Mapping[str, Any]) -> PluginSettings:
    """Merge layers (later wins) over the defaults and validate; raises ``ConfigInvalid``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    try:
        return plugin.settings_model.model_validate(merged)
    except ValidationError as error:
        raise ConfigInvalid(plugin.id, field_errors(error)) from None


# --- the admin view --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldView:
    spec: FieldSpec
    value: Any  # effective value; None for secrets
    source: str  # "school" | "bureau" | "default"
    bureau_value: Any
    school_value: Any
    secret_set: bool
    secret_hint: str  # "" | "set" | "••••abcd" (bureau admins only)
    editable: bool


@dataclass(frozen=True)
class ConfigView:
    plugin_id: str
    bureau_id: int
    school_id: int | None
    fields: list[FieldView]


async def _layers(
    bureau_id: int, school_id: int | None, plugin_id: str, *, lock: bool = False
) -> tuple[BureauPluginConfig | None, SchoolPluginOverride | None]:
    """The stored layers; ``lock`` holds them (row locks) until the transaction ends, so that
    two admins saving at once do not lose each other's change."""
    bureaus, schools = BureauPluginConfig.all(), SchoolPluginOverride.all()
    if lock:
        bureaus, schools = bureaus.select_for_update(), schools.select_for_update()
    bureau = await bureaus.get_or_none(bureau_id=bureau_id, plugin_id=plugin_id)
    school = await schools.get_or_none(school_id=school_id, plugin_id=plugin_id) if school_id else None
    return bureau, school


def _view(
    manager: PluginManager, plugin: Plugin, bureau_id: int, school_id: int | None,
    bureau: BureauPluginConfig | None, school: SchoolPluginOverride | None, *, admin: bool,
) -> ConfigView:  # fmt: skip
    bureau_raw, school_raw = raw_layers(manager, plugin, bureau, school)
    out: list[FieldView] = []
    for spec in describe(plugin.settings_model):
        in_school, in_bureau = spec.name in school_raw, spec.name in bureau_raw
        source = "school" if in_school else "bureau" if in_bureau else "default"
        effective = school_raw.get(spec.name, bureau_raw.get(spec.name, spec.default))
        editable = admin or (school_id is not None and spec.school_overridable)
        if spec.secret:
            clear = effective if isinstance(effective, str) else None
            out.append(FieldView(spec, None, source, None, None, bool(clear), crypto.hint(clear) if admin else ("set" if clear else ""), editable))
        else:
            out.append(FieldView(spec, effective, source, bureau_raw.get(spec.name), school_raw.get(spec.name), False, "", editable))
    return ConfigView(plugin.id, bureau_id, school_id, out)


async def view_config(
    actor: Actor, manager: PluginManager, plugin_id: str, *, bureau_id: int | None = None, school_id: int | None = None
) -> ConfigView:
    """The settings of a plugin for a bureau, or for one school (with where each value comes from)."""
    plugin = await access.available_plugin(actor, manager, plugin_id)
    if school_id is not None:
        scope = await access.school_scope(actor, school_id)
        bureau, school = await _layers(scope.school.bureau_id, school_id, plugin_id)
        if not scope.as_bureau_admin and (bureau is None or not bureau.covers(school_id)):
            raise NotFound("plugin", "外掛")
        return _view(manager, plugin, scope.school.bureau_id, school_id, bureau, school, admin=scope.as_bureau_admin)
    if bureau_id is None:
        raise InvalidInput("bureau_id", "請指定教育局或學校", "Give a bureau or a school")
    await access.bureau_scope(actor, bureau_id)
    bureau, _ = await _layers(bureau_id, None, plugin_id)
    return _view(manager, plugin, bureau_id, None, bureau, None, admin=True)


# --- changing a layer ----------------------------------------------------------------------------


def _effective(plugin: Plugin, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """What the scope gets (defaults included), for the audit trail; the raw merge if it no longer validates."""
    try:
        return build(plugin, *layers).model_dump(mode="json")
    except ConfigInvalid:
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        return merged


def _diff(
    before: Mapping[str, Any], after: Mapping[str, Any], effective_before: Mapping[str, Any],
    effective_after: Mapping[str, Any], secrets: frozenset[str], touched: set[str],
) -> dict[str, Any]:  # fmt: skip
    """Before → after of the settings this change touched, as effective values; secrets only as set/unset/changed."""
    changed = sorted(name for name in touched if before.get(name) != after.get(name))
    out_before: dict[str, Any] = {}
    out_after: dict[str, Any] = {}
    for name in changed:
        if name in secrets:
            out_before[name] = "(set)" if effective_before.get(name) else "(unset)"
            out_after[name] = ("(changed)" if effective_before.get(name) else "(set)") if effective_after.get(name) else "(unset)"
        else:
            out_before[name], out_after[name] = effective_before.get(name), effective_after.get(name)
    return {"before": out_before, "after": out_after}


def _check_keys(plugin: Plugin, values: Mapping[str, Any], *, staff_only: bool) -> None:
    specs = {spec.name: spec for spec in describe(plugin.settings_model)}
    unknown = [FieldError(k, "不是此外掛的設定項目", "Not a setting of this plugin") for k in values if k not in specs]
    if unknown:
        raise SettingsRejected(unknown)
    if staff_only:
        locked = [k for k in values if not specs[k].school_overridable]
        if locked:
            raise LichengError(
                "SETTING_NOT_OVERRIDABLE",
                "學校不可變更此設定，由教育局決定：" + "、".join(specs[k].label_zh for k in locked),
                "A school may not change this setting; the bureau decides: " + ", ".join(locked),
                field=locked[0],
            )


async def update_settings(
    actor: Actor,
    manager: PluginManager,
    plugin_id: str,
    values: Mapping[str, Any],
    *,
    bureau_id: int | None = None,
    school_id: int | None = None,
) -> ConfigView:
    """Set (or with ``None`` remove) values in the bureau layer or a school's layer; keys left out stay."""
    if (bureau_id is None) == (school_id is None):
        raise InvalidInput("bureau_id", "請指定教育局或學校其中之一", "Give either a bureau or a school")
    plugin = await access.available_plugin(actor, manager, plugin_id)
    if not isinstance(values, Mapping):
        raise InvalidInput("values", "設定值須為物件", "values must be an object")
    try:
        async with in_transaction():
            bureau_id = await _change(actor, manager, plugin, values, bureau_id, school_id)
    except IntegrityError:  # two first saves at the same moment: the other one created the row
        raise LichengError("CONCURRENT_CHANGE", "設定同時被他人變更，請重新整理後再試", "Changed by someone else at the same time: reload and retry") from None
    return await view_config(actor, manager, plugin_id, bureau_id=None if school_id else bureau_id, school_id=school_id)


async def _change(
    actor: Actor, manager: PluginManager, plugin: Plugin, values: Mapping[str, Any], bureau_id: int | None, school_id: int | None
) -> int:
    """The read-modify-write of one layer, inside the caller's transaction. Returns the bureau id."""
    plugin_id = plugin.id
    if school_id is not None:
        scope = await access.school_scope(actor, school_id)
        bureau_id = scope.school.bureau_id
        bureau, school = await _layers(bureau_id, school_id, plugin_id, lock=True)
        if bureau is None or not bureau.covers(school_id):
            raise LichengError("PLUGIN_NOT_ENABLED", "此外掛未對此學校啟用", "The plugin is not enabled for this school", plugin=plugin_id)
        _check_keys(plugin, values, staff_only=not scope.as_bureau_admin)
        row: BureauPluginConfig | SchoolPluginOverride = school or SchoolPluginOverride(school_id=school_id, plugin_id=plugin_id)
        key = school_key(school_id)
    else:
        assert bureau_id is not None
        await access.bureau_scope(actor, bureau_id)
        bureau, _ = await _layers(bureau_id, None, plugin_id, lock=True)
        _check_keys(plugin, values, staff_only=False)
        row = bureau or BureauPluginConfig(bureau_id=bureau_id, plugin_id=plugin_id)
        key = bureau_key(bureau_id)

    secrets = secret_fields(plugin.settings_model)
    before = _open_layer(manager, plugin, row.values or {}, row.secrets or {}, key)
    after = dict(before)
    for name, value in values.items():
        if value is None or (name in secrets and value == ""):
            after.pop(name, None)
        else:
            after[name] = str(value) if name in secrets else value
    bureau_raw, _ = raw_layers(manager, plugin, bureau, None)
    try:
        validated = build(plugin, bureau_raw, after) if school_id is not None else build(plugin, after)
    except ConfigInvalid as error:
        raise SettingsRejected(error.errors) from None
    dumped = validated.model_dump(mode="json")
    row.values = {k: dumped[k] for k in after if k not in secrets}
    stored = dict(row.secrets or {})
    row.secrets = {
        k: stored[k] if k in stored and before.get(k) == after[k] else crypto.seal(after[k], manager.data_key, plugin_id=plugin.id, scope=key, field=k)
        for k in after if k in secrets
    }  # fmt: skip
    await row.save()
    base = [bureau_raw] if school_id is not None else []
    diff = _diff(before, after, _effective(plugin, *base, before), _effective(plugin, *base, after), secrets, set(values))
    changes = {"plugin": plugin_id, "scope": "school" if school_id else "bureau", **diff}
    await audit.record(
        actor, "plugin_school_settings" if school_id else "plugin_settings", "plugin", plugin_id,
        school_id=school_id, bureau_id=bureau_id, changes=changes,
    )  # fmt: skip
    return bureau_id
