"""Settings per bureau and school: resolution, who may change what, validation, secrets, audit."""

from __future__ import annotations

import json

import pytest

from licheng.errors import LichengError, NotFound
from licheng.plugins import configs, runtime, service
from licheng.plugins.models import BureauPluginConfig, SchoolPluginOverride
from licheng.tenants.audit import AuditEntry
from tests.plugins.conftest import District

SECRET = "ldap-bind-password-7788"


async def _enable(district: District, manager, plugin_id: str = "test_rules", schools=None) -> None:
    ids = [s.id for s in (schools or district.schools[:2])]
    await service.set_enabled(await district.admin_actor(), manager, district.bureau.id, plugin_id, enabled=True, school_ids=ids)


def _field(view: configs.ConfigView, name: str) -> configs.FieldView:
    return next(f for f in view.fields if f.spec.name == name)


async def test_resolution_falls_back_from_school_to_bureau_to_plugin_default(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager)
    school_a, school_b = district.schools[:2]
    await configs.update_settings(admin, manager, "test_rules", {"reminder_days": 5, "outcomes_per_term": 9}, bureau_id=district.bureau.id)
    await configs.update_settings(admin, manager, "test_rules", {"reminder_days": 2}, school_id=school_a.id)
    a = (await runtime.school_configs(manager, school_a.id))["test_rules"]
    b = (await runtime.school_configs(manager, school_b.id))["test_rules"]
    assert (a.reminder_days, a.outcomes_per_term, a.outcomes_per_subject_per_term) == (2, 9, 3)
    assert (b.reminder_days, b.outcomes_per_term) == (5, 9)
    view = await configs.view_config(admin, manager, "test_rules", school_id=school_a.id)
    assert [(_field(view, n).value, _field(view, n).source) for n in ("reminder_days", "outcomes_per_term", "mode")] == [
        (2, "school"), (9, "bureau"), ("strict", "default"),
    ]  # fmt: skip


async def test_null_removes_a_value_and_the_next_layer_shows_through(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager)
    school = district.schools[0]
    await configs.update_settings(admin, manager, "test_rules", {"reminder_days": 1}, school_id=school.id)
    await configs.update_settings(admin, manager, "test_rules", {"reminder_days": None}, school_id=school.id)
    assert (await runtime.school_configs(manager, school.id))["test_rules"].reminder_days == 7


async def test_school_staff_may_override_only_school_overridable_settings(district: District, manager) -> None:
    await _enable(district, manager)
    staff = await district.staff_actor()
    school = district.schools[0]
    view = await configs.update_settings(staff, manager, "test_rules", {"reminder_days": 3}, school_id=school.id)
    assert _field(view, "reminder_days").value == 3 and _field(view, "reminder_days").editable
    assert not _field(view, "outcomes_per_term").editable
    with pytest.raises(LichengError) as refused:
        await configs.update_settings(staff, manager, "test_rules", {"outcomes_per_term": 60}, school_id=school.id)
    assert refused.value.code == "SETTING_NOT_OVERRIDABLE"
    with pytest.raises(NotFound):
        await configs.update_settings(staff, manager, "test_rules", {"reminder_days": 3}, bureau_id=district.bureau.id)


async def test_staff_of_a_school_the_plugin_is_not_enabled_for_cannot_configure_it(district: District, manager) -> None:
    await _enable(district, manager, schools=[district.schools[1]])
    with pytest.raises(LichengError) as refused:
        await configs.update_settings(await district.staff_actor(), manager, "test_rules", {"reminder_days": 3}, school_id=district.schools[0].id)
    assert refused.value.code == "PLUGIN_NOT_ENABLED"


async def test_a_bad_value_is_refused_with_a_field_error_in_both_languages(district: District, manager) -> None:
    admin = await district.admin_actor()
    with pytest.raises(configs.SettingsRejected) as refused:
        await configs.update_settings(admin, manager, "test_rules", {"outcomes_per_term": 0, "mode": "lax"}, bureau_id=district.bureau.id)
    errors = {e["field"]: e for e in refused.value.details["errors"]}
    assert set(errors) == {"outcomes_per_term", "mode"}
    assert errors["outcomes_per_term"]["message_zh"] == "須大於或等於 1"
    assert "greater than or equal to 1" in errors["outcomes_per_term"]["message_en"]
    assert not await BureauPluginConfig.filter(bureau_id=district.bureau.id, plugin_id="test_rules").exists()


async def test_an_unknown_setting_is_refused(district: District, manager) -> None:
    with pytest.raises(configs.SettingsRejected) as refused:
        await configs.update_settings(await district.admin_actor(), manager, "test_rules", {"typo": 1}, bureau_id=district.bureau.id)
    assert refused.value.details["field"] == "typo"


async def test_values_are_stored_typed(district: District, manager) -> None:
    await configs.update_settings(await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": "9"}, bureau_id=district.bureau.id)
    row = await BureauPluginConfig.get(bureau_id=district.bureau.id, plugin_id="test_rules")
    assert row.values == {"outcomes_per_term": 9}


async def test_secrets_are_encrypted_at_rest_and_never_returned(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager)
    view = await configs.update_settings(admin, manager, "test_rules", {"directory_password": SECRET}, bureau_id=district.bureau.id)
    field = _field(view, "directory_password")
    assert (field.value, field.secret_set, field.secret_hint) == (None, True, "••••7788")
    row = await BureauPluginConfig.get(bureau_id=district.bureau.id, plugin_id="test_rules")
    assert SECRET not in json.dumps(row.values) + json.dumps(row.secrets)
    config = (await runtime.school_configs(manager, district.schools[0].id))["test_rules"]
    assert config.directory_password.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    staff_view = await configs.view_config(await district.staff_actor(), manager, "test_rules", school_id=district.schools[0].id)
    assert _field(staff_view, "directory_password").secret_hint == "set"


async def test_leaving_a_secret_out_keeps_it_and_null_clears_it(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager)
    await configs.update_settings(admin, manager, "test_rules", {"directory_password": SECRET}, bureau_id=district.bureau.id)
    await configs.update_settings(admin, manager, "test_rules", {"outcomes_per_term": 8}, bureau_id=district.bureau.id)
    config = (await runtime.school_configs(manager, district.schools[0].id))["test_rules"]
    assert config.directory_password.get_secret_value() == SECRET
    await configs.update_settings(admin, manager, "test_rules", {"directory_password": None}, bureau_id=district.bureau.id)
    assert (await runtime.school_configs(manager, district.schools[0].id))["test_rules"].directory_password is None


async def test_every_change_is_audited_with_before_and_after_and_secrets_redacted(district: District, manager) -> None:
    admin = await district.admin_actor()
    await _enable(district, manager)
    await configs.update_settings(admin, manager, "test_rules", {"outcomes_per_term": 10, "directory_password": SECRET}, bureau_id=district.bureau.id)
    await configs.update_settings(admin, manager, "test_rules", {"outcomes_per_term": 9, "directory_password": SECRET + "x"}, bureau_id=district.bureau.id)
    entries = await AuditEntry.filter(bureau_id=district.bureau.id, record_type="plugin").order_by("id")
    assert [e.action for e in entries] == ["plugin_enable", "plugin_settings", "plugin_settings"]
    assert entries[0].changes["after"]["schools"] == sorted(s.code for s in district.schools[:2])
    assert entries[2].changes["before"] == {"directory_password": "(set)", "outcomes_per_term": 10}
    assert entries[2].changes["after"] == {"directory_password": "(changed)", "outcomes_per_term": 9}
    assert entries[2].account_id == admin.account_id and entries[2].at is not None
    assert SECRET not in json.dumps([e.changes for e in entries])


async def test_a_school_override_is_audited_for_the_school(district: District, manager) -> None:
    await _enable(district, manager)
    school = district.schools[0]
    await configs.update_settings(await district.staff_actor(), manager, "test_rules", {"reminder_days": 4}, school_id=school.id)
    entry = await AuditEntry.filter(school_id=school.id, action="plugin_school_settings").first()
    assert entry is not None and entry.bureau_id == district.bureau.id
    assert entry.changes["after"] == {"reminder_days": 4} and entry.acting_role == "staff"
    assert await SchoolPluginOverride.exists(school_id=school.id, plugin_id="test_rules")


async def test_an_admin_of_another_bureau_sees_nothing(district: District, manager, factory) -> None:
    other = await (await factory.bureau_admin(await factory.bureau())).actor()
    for call in (
        configs.view_config(other, manager, "test_rules", bureau_id=district.bureau.id),
        configs.view_config(other, manager, "test_rules", school_id=district.schools[0].id),
        configs.update_settings(other, manager, "test_rules", {"reminder_days": 1}, bureau_id=district.bureau.id),
        service.set_enabled(other, manager, district.bureau.id, "test_rules", enabled=True, all_schools=True),
    ):
        with pytest.raises(NotFound):
            await call
