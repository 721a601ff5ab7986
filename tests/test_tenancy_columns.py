"""Every tenant-owned table carries ``school_id`` directly (ARCHITECTURE.md "Tenancy").

Global tables are an explicit short list; a new model is tenant-owned unless
it is added here with a reason.
"""

from __future__ import annotations

from tortoise import Tortoise

GLOBAL_TABLES = {
    "bureau": "an education authority, above schools",
    "school": "the tenant itself",
    "bureau_admin": "bureau-level administration",
    "account": "one login may reach persons in several schools",
    "refresh_token": "belongs to an account; carries the school it was issued for",
    "audit_entry": "also records platform- and bureau-level actions (school_id nullable)",
    "external_session": "belongs to an account's refresh-token family; lists the schools an external sign-in vouched for",
    "directory_throttle": "counts failed directory sign-ins per keyed hash of (bureau, provider, login) or address, city-wide",
    "taipei_application_department": "Taipei plugin: the bureau's list of departments (申請校系分則), one per bureau and year (keyed by bureau_id)",
}
# Plugin catalogue and bureau-level plugin settings are global by nature.
GLOBAL_PREFIXES = ("plugin",)


def test_every_tenant_owned_table_has_a_school_id_column():
    missing, seen = [], set()
    for app in Tortoise.apps.values():
        for model in app.values():
            table = model._meta.db_table
            seen.add(table)
            if table in GLOBAL_TABLES or table.startswith(GLOBAL_PREFIXES):
                continue
            if "school_id" not in model._meta.fields_db_projection.values():
                missing.append(table)
    assert {"person", "membership", "school_class"} <= seen  # the walk really saw the models
    assert not missing, f"tenant-owned tables without school_id: {missing}"
