"""The plugin admin API over GraphQL, as the console and third-party UIs use it."""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.plugins import runtime
from licheng.plugins.models import InstalledPlugin
from tests.plugins.conftest import District

PLUGINS = "query($b: ID) { plugins(bureauId: $b) { id pluginId name version hooks available enabled allSchools healthy schools { code } settingsFields { name type secret schoolOverridable minimum maximum } } }"
ENABLE = "mutation($i: EnablePluginInput!) { enablePlugin(input: $i) { enabled schools { code } } }"
UPDATE = "mutation($i: UpdatePluginSettingsInput!) { updatePluginSettings(input: $i) { settings { field { name } value source secretSet secretHint editable } } }"
CONFIG = "query($p: String!, $b: ID, $s: ID) { pluginConfiguration(pluginId: $p, bureauId: $b, schoolId: $s) { bureau { code } school { code } settings { field { name } value source secretSet secretHint editable } } }"
AUDIT = "query($b: ID, $s: ID) { pluginAuditLog(bureauId: $b, schoolId: $s) { edges { node { action pluginId actingRole actorName changes school { code } } } } }"
PREVIEW = "query($i: PreviewPluginSettingsInput!) { previewPluginSettings(input: $i) { academicYear term schools { school { code } errorCode impacts { key before after studentsAbove } } } }"


def _gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def _settings(data: dict) -> dict:
    return {s["field"]["name"]: s for s in data["settings"]}


async def test_a_bureau_admin_enables_configures_previews_and_audits_a_plugin(gql, district: District, manager) -> None:
    await gql.sign_in_as(district.admin)
    b = _gid("Bureau", district.bureau.id)
    a_school, b_school, _ = district.schools
    plugins = (await gql.ok(PLUGINS, {"b": b}))["plugins"]
    rules = next(p for p in plugins if p["pluginId"] == "test_rules")
    assert rules["available"] and not rules["enabled"] and rules["healthy"]
    assert rules["hooks"] == ["licheng_health_check", "licheng_policy_rules"]
    assert {f["name"]: f["type"] for f in rules["settingsFields"]}["directory_password"] == "secret"

    enabled = await gql.ok(ENABLE, {"i": {"pluginId": "test_rules", "bureauId": b, "schoolIds": [_gid("School", a_school.id), _gid("School", b_school.id)]}})
    assert sorted(s["code"] for s in enabled["enablePlugin"]["schools"]) == sorted([a_school.code, b_school.code])

    preview = (await gql.ok(PREVIEW, {"i": {"pluginId": "test_rules", "bureauId": b, "values": {"outcomes_per_term": 9}}}))["previewPluginSettings"]
    assert {s["school"]["code"] for s in preview["schools"]} == {a_school.code, b_school.code}
    assert all(s["impacts"][0]["before"] == 12 and s["impacts"][0]["after"] == 9 for s in preview["schools"])

    updated = await gql.ok(UPDATE, {"i": {"pluginId": "test_rules", "bureauId": b, "values": {"outcomes_per_term": 9, "directory_password": "bind-password-0042"}}})
    settings = _settings(updated["updatePluginSettings"])
    assert settings["outcomes_per_term"]["value"] == 9 and settings["outcomes_per_term"]["source"] == "BUREAU"
    assert settings["directory_password"] == {
        "field": {"name": "directory_password"}, "value": None, "source": "BUREAU", "secretSet": True, "secretHint": "••••0042", "editable": True,
    }  # fmt: skip

    entries = [e["node"] for e in (await gql.ok(AUDIT, {"b": b}))["pluginAuditLog"]["edges"]]
    assert [e["action"] for e in entries[:2]] == ["plugin_settings", "plugin_enable"]
    assert entries[0]["changes"]["before"] == {"directory_password": "(unset)", "outcomes_per_term": 12}
    assert entries[0]["changes"]["after"] == {"directory_password": "(set)", "outcomes_per_term": 9}
    assert entries[0]["actingRole"] == "bureau_admin" and entries[0]["actorName"]
    assert (await runtime.policy_layers(a_school.id, 115))[0]["outcomes_per_term"] == 9


async def test_a_bad_setting_is_a_field_error_not_a_crash(gql, district: District, manager) -> None:
    await gql.sign_in_as(district.admin)
    result = await gql.execute(UPDATE, {"i": {"pluginId": "test_rules", "bureauId": _gid("Bureau", district.bureau.id), "values": {"outcomes_per_term": "many"}}})
    error = result["errors"][0]["extensions"]
    assert error["code"] == "INVALID_INPUT" and error["details"]["field"] == "outcomes_per_term"
    assert error["details"]["errors"][0]["message_zh"] == "須為整數"


async def test_school_staff_see_their_plugins_and_override_only_what_is_allowed(gql, district: District, manager) -> None:
    await gql.sign_in_as(district.admin)
    school = district.schools[0]
    await gql.ok(ENABLE, {"i": {"pluginId": "test_rules", "bureauId": _gid("Bureau", district.bureau.id), "allSchools": True}})
    await gql.sign_in_as(district.staff)
    plugins = (await gql.ok(PLUGINS))["plugins"]
    assert [p["pluginId"] for p in plugins] == ["test_rules"]
    assert [s["code"] for s in plugins[0]["schools"]] == [school.code]
    s = _gid("School", school.id)
    config = _settings((await gql.ok(CONFIG, {"p": "test_rules", "s": s}))["pluginConfiguration"])
    assert config["reminder_days"]["editable"] and not config["outcomes_per_term"]["editable"]
    updated = await gql.ok(UPDATE, {"i": {"pluginId": "test_rules", "schoolId": s, "values": {"reminder_days": 2}}})
    assert _settings(updated["updatePluginSettings"])["reminder_days"]["source"] == "SCHOOL"
    code = await gql.error_code(UPDATE, {"i": {"pluginId": "test_rules", "schoolId": s, "values": {"outcomes_per_term": 30}}})
    assert code == "SETTING_NOT_OVERRIDABLE"
    audit = [e["node"] for e in (await gql.ok(AUDIT, {"s": s}))["pluginAuditLog"]["edges"]]
    assert [(e["action"], e["school"]["code"]) for e in audit] == [("plugin_school_settings", school.code)]


async def test_only_platform_admins_make_a_plugin_available(gql, district: District, manager, factory) -> None:
    mutation = 'mutation($a: Boolean!) { setPluginAvailability(pluginId: "test_broken", available: $a) { available } }'
    await gql.sign_in_as(district.admin)
    assert await gql.error_code(mutation, {"a": False}) == "FORBIDDEN"
    await gql.sign_in_as(await factory.platform_admin())
    try:
        assert (await gql.ok(mutation, {"a": False}))["setPluginAvailability"]["available"] is False
        await gql.sign_in_as(district.admin)
        listed = (await gql.ok(PLUGINS, {"b": _gid("Bureau", district.bureau.id)}))["plugins"]
        assert "test_broken" not in [p["pluginId"] for p in listed]
    finally:
        await InstalledPlugin.filter(plugin_id="test_broken").update(available=True)


async def test_a_failing_plugin_shows_as_unhealthy_and_the_platform_keeps_answering(gql, district: District, manager) -> None:
    b = _gid("Bureau", district.bureau.id)
    await gql.sign_in_as(district.admin)
    await gql.ok(ENABLE, {"i": {"pluginId": "test_broken", "bureauId": b, "allSchools": True}})
    await gql.ok(ENABLE, {"i": {"pluginId": "test_rules", "bureauId": b, "allSchools": True}})
    assert [layer["_source"] for layer in await runtime.policy_layers(district.schools[0].id, 115)] == ["plugin:test_rules"]
    checked = (await gql.ok('mutation($b: ID!) { checkPluginHealth(pluginId: "test_broken", bureauId: $b) { hook ok errorType errorMessage } }', {"b": b}))["checkPluginHealth"]
    assert {"hook": "licheng_health_check", "ok": False, "errorType": "PluginExploded", "errorMessage": "cannot reach the directory"} in checked
    plugins = {p["pluginId"]: p for p in (await gql.ok(PLUGINS, {"b": b}))["plugins"]}
    assert plugins["test_broken"]["healthy"] is False and plugins["test_rules"]["healthy"] is True
    health = await gql.ok('query($b: ID) { plugins(bureauId: $b) { pluginId health { hook ok school { code } } } }', {"b": b})
    broken = next(p for p in health["plugins"] if p["pluginId"] == "test_broken")
    assert {"hook": "licheng_policy_rules", "ok": False, "school": {"code": district.schools[0].code}} in broken["health"]


async def test_a_plugin_is_a_node(gql, district: District, manager) -> None:
    await gql.sign_in_as(district.admin)
    plugins = (await gql.ok(PLUGINS, {"b": _gid("Bureau", district.bureau.id)}))["plugins"]
    node = await gql.ok("query($id: ID!) { node(id: $id) { ... on Plugin { pluginId } } }", {"id": plugins[0]["id"]})
    assert node["node"]["pluginId"] == plugins[0]["pluginId"]
