"""Isolation cases for plugin operations (see tests/graphql/test_isolation.py).

Bureau B enables Taipei CoolCloud for school B with a secret and a lowered cap;
school A's intruder (staff of A, admin of bureau A) tries to read or change it.
"""

from __future__ import annotations

from licheng.graphql.relay import to_global_id
from licheng.plugins import configs, service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import BureauPluginConfig, InstalledPlugin, SchoolPluginOverride
from tests.graphql.isolation import Case, World

PLUGIN = "taipei_coolcloud"
SECRET = "bureau-b-sso-secret-Zq9X"


async def _configure_b(w: World) -> None:
    if "plugin_b" in w.extra:
        return
    manager = get_manager()
    await service.sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id=PLUGIN).update(available=True)
    admin_b = await (await w.factory.bureau_admin(w.bureau_b)).actor()
    await service.set_enabled(admin_b, manager, w.bureau_b.id, PLUGIN, enabled=True, school_ids=[w.school_b.id])
    await configs.update_settings(
        admin_b, manager, PLUGIN, {"sso_client_secret": SECRET, "outcomes_per_term": 7}, bureau_id=w.bureau_b.id
    )
    w.extra["plugin_b"] = True


def _ids(w: World) -> dict:
    return {"b": to_global_id("Bureau", w.bureau_b.id), "s": to_global_id("School", w.school_b.id),
            "a": to_global_id("Bureau", w.bureau_a.id)}  # fmt: skip


async def _vars(w: World) -> dict:
    await _configure_b(w)
    return _ids(w)


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.school_b.code, w.bureau_b.code, SECRET, SECRET[-4:]]


async def _b_unchanged(w: World) -> None:
    row = await BureauPluginConfig.get(bureau_id=w.bureau_b.id, plugin_id=PLUGIN)
    assert row.enabled and row.school_ids == [w.school_b.id] and row.values == {"outcomes_per_term": 7}
    assert not await SchoolPluginOverride.exists(school_id=w.school_b.id)
    a_rows = await BureauPluginConfig.filter(bureau_id=w.bureau_a.id)
    assert all(w.school_b.id not in (r.school_ids or []) for r in a_rows)
    assert await InstalledPlugin.get(plugin_id=PLUGIN).values_list("available", flat=True) is True


# One attempt per case: a failing non-null mutation field nulls ``data`` and stops the rest.
# Where the intruder administers bureau A, the attempt goes through A at school B (the sneaky path).
CASES: dict[str, Case] = {
    "Query.plugins": Case(
        "query($b: ID) { plugins(bureauId: $b) { pluginId enabled schools { name code } health { school { name } } } }",
        _vars, secrets=_secrets,
    ),
    "Query.pluginConfiguration": Case(
        f'query($s: ID) {{ pluginConfiguration(pluginId: "{PLUGIN}", schoolId: $s) {{'
        " settings { value secretHint field { name } } school { name } bureau { code } } }",
        _vars, secrets=_secrets,
    ),
    "Query.pluginAuditLog": Case(
        "query($b: ID) { pluginAuditLog(bureauId: $b) { edges { node { changes school { name } } } } }",
        _vars, secrets=_secrets,
    ),
    "Query.previewPluginSettings": Case(
        "query($a: ID!, $s: ID!) { previewPluginSettings(input: {pluginId: \"%s\", bureauId: $a, values: {outcomes_per_term: 5},"
        " schoolIds: [$s]}) { schools { school { name code } impacts { key before after } } } }" % PLUGIN,
        _vars, secrets=_secrets,
    ),
    "Mutation.setPluginAvailability": Case(
        f'mutation {{ setPluginAvailability(pluginId: "{PLUGIN}", available: false) {{ available }} }}',
        _vars, secrets=_secrets, check=_b_unchanged,
    ),
    "Mutation.enablePlugin": Case(
        f'mutation($a: ID!, $s: ID!) {{ enablePlugin(input: {{pluginId: "{PLUGIN}", bureauId: $a, schoolIds: [$s]}})'
        " { enabled schools { name } } }",
        _vars, secrets=_secrets, check=_b_unchanged,
    ),
    "Mutation.disablePlugin": Case(
        f'mutation($b: ID!) {{ disablePlugin(pluginId: "{PLUGIN}", bureauId: $b) {{ enabled }} }}',
        _vars, secrets=_secrets, check=_b_unchanged,
    ),
    "Mutation.updatePluginSettings": Case(
        f'mutation($s: ID) {{ updatePluginSettings(input: {{pluginId: "{PLUGIN}", schoolId: $s,'
        " values: {reminder_days_before_deadline: 1, outcomes_per_term: 60}}) { settings { value secretHint } } }",
        _vars, secrets=_secrets, check=_b_unchanged,
    ),
    "Mutation.checkPluginHealth": Case(
        f'mutation($b: ID!) {{ checkPluginHealth(pluginId: "{PLUGIN}", bureauId: $b) {{ ok errorMessage school {{ name }} }} }}',
        _vars, secrets=_secrets, check=_b_unchanged,
    ),
}
