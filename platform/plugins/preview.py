"""Preview a policy change before saving it: per school, what changes and whom it affects.

Lowering Taipei's per-term cap from 12 to 9 is harmless in August and hurtful
in December; the bureau admin should see "school A: 37 students already above
9" first. The preview runs the plugin's own ``licheng_policy_rules`` hook twice
per school (current settings, proposed settings) so it needs no knowledge of
the plugin's setting names, then asks an *impact counter* for every rule that
changed.

Impact counters are a contract, not code the preview owns: the portfolio knows
how to count "students above a cap". ``IMPACT_COUNTERS`` maps a policy key to a
counter; ``licheng.plugins.impact`` registers counters built on the portfolio
models, and the portfolio service may replace them with its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from licheng.errors import LichengError, NotFound
from licheng.plugins import access, configs
from licheng.plugins.health import Scope
from licheng.plugins.manager import PluginFailed, PluginManager
from licheng.plugins.models import BureauPluginConfig, SchoolPluginOverride
from licheng.plugins.runtime import clean_rules
from licheng.tenants.actor import Actor
from licheng.tenants.models import School

log = logging.getLogger("licheng.plugins")
TAIPEI = ZoneInfo("Asia/Taipei")


class ImpactCounter(Protocol):
    """Counts, per school, the students already above ``limit`` for one policy key in one term."""

    async def __call__(self, school_ids: Sequence[int], *, limit: int, academic_year: int, term: int) -> Mapping[int, int]: ...


IMPACT_COUNTERS: dict[str, ImpactCounter] = {}


def register_impact_counter(key: str, counter: ImpactCounter) -> None:
    """The portfolio (or a test) registers how to count students above a cap for ``key``."""
    IMPACT_COUNTERS[key] = counter


@dataclass(frozen=True)
class RuleImpact:
    key: str
    before: Any
    after: Any
    students_above: int | None  # None: no counter for this key, or the value is not a cap


@dataclass(frozen=True)
class SchoolPreview:
    school: School
    impacts: list[RuleImpact]
    error_code: str | None = None  # e.g. PLUGIN_FAILED, SETTINGS_INVALID: this school could not be previewed


@dataclass(frozen=True)
class PolicyPreview:
    plugin_id: str
    academic_year: int
    term: int
    schools: list[SchoolPreview]


def current_term(today: date | None = None) -> tuple[int, int]:
    """(ROC academic year, term) of a day: term 1 runs August to January, term 2 February to July."""
    today = today or datetime.now(TAIPEI).date()
    if today.month >= 8:
        return today.year - 1911, 1
    return today.year - 1912, 1 if today.month == 1 else 2


async def _rules(manager: PluginManager, plugin_id: str, config: Any, school: School, year: int) -> dict[str, Any]:
    scope = Scope(school_id=school.id, bureau_id=school.bureau_id)
    results = await manager.call(
        "licheng_policy_rules", {plugin_id: config}, scope, on_error="raise", school_id=school.id, academic_year=year
    )
    return clean_rules(results[0].value) if results else {}


async def _schools(bureau_id: int, plugin_id: str, school_ids: Sequence[int] | None) -> list[School]:
    if school_ids:
        rows = await School.filter(bureau_id=bureau_id, id__in=list(school_ids)).order_by("code")
        if len(rows) != len(set(school_ids)):
            raise NotFound("school", "學校")
        return rows
    config = await BureauPluginConfig.get_or_none(bureau_id=bureau_id, plugin_id=plugin_id)
    query = School.filter(bureau_id=bureau_id)
    if config is not None and config.enabled and not config.all_schools:
        query = query.filter(id__in=list(config.school_ids or []))
    return await query.order_by("code")


async def preview_policy_change(
    actor: Actor,
    manager: PluginManager,
    plugin_id: str,
    values: Mapping[str, Any],
    *,
    bureau_id: int,
    school_ids: Sequence[int] | None = None,
    academic_year: int | None = None,
    term: int | None = None,
) -> PolicyPreview:
    """What saving ``values`` in the bureau layer would change, school by school. Writes nothing.

    Schools: the listed ones, else those the plugin is enabled for (all of the
    bureau's when it is not enabled yet). Invalid values fail as the save would,
    with the same field errors.
    """
    await access.bureau_scope(actor, bureau_id)
    plugin = await access.available_plugin(actor, manager, plugin_id)
    if not manager.implements(plugin_id, "licheng_policy_rules"):
        raise LichengError("NO_POLICY_RULES", "此外掛沒有規則可預覽", "This plugin has no policy rules to preview", plugin=plugin_id)
    configs._check_keys(plugin, values, staff_only=False)  # noqa: SLF001 - same checks as saving
    year, this_term = current_term()
    year, this_term = academic_year or year, term or this_term
    bureau_row = await BureauPluginConfig.get_or_none(bureau_id=bureau_id, plugin_id=plugin_id)
    current, _ = configs.raw_layers(manager, plugin, bureau_row, None)
    proposed = {**current, **{k: v for k, v in values.items() if v is not None}}
    for key in [k for k, v in values.items() if v is None]:
        proposed.pop(key, None)
    try:
        configs.build(plugin, proposed)
    except configs.ConfigInvalid as error:
        raise configs.SettingsRejected(error.errors) from None

    schools = await _schools(bureau_id, plugin_id, school_ids)
    overrides = {
        o.school_id: o
        for o in await SchoolPluginOverride.filter(school_id__in=[s.id for s in schools], plugin_id=plugin_id)
    }
    rows: list[tuple[School, dict[str, Any], dict[str, Any]] | SchoolPreview] = []
    for school in schools:
        _, school_raw = configs.raw_layers(manager, plugin, None, overrides.get(school.id))
        try:
            before = await _rules(manager, plugin_id, configs.build(plugin, current, school_raw), school, year)
            after = await _rules(manager, plugin_id, configs.build(plugin, proposed, school_raw), school, year)
        except configs.ConfigInvalid:
            rows.append(SchoolPreview(school, [], "SETTINGS_INVALID"))
            continue
        except PluginFailed:
            rows.append(SchoolPreview(school, [], "PLUGIN_FAILED"))
            continue
        rows.append((school, before, after))
    counts = await _count(rows, year, this_term)
    out: list[SchoolPreview] = []
    for row in rows:
        if isinstance(row, SchoolPreview):
            out.append(row)
            continue
        school, before, after = row
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        impacts = [RuleImpact(k, before.get(k), after.get(k), counts.get((k, after.get(k)), {}).get(school.id)) for k in keys]
        out.append(SchoolPreview(school, impacts))
    return PolicyPreview(plugin_id, year, this_term, out)


async def _count(rows: Sequence[Any], year: int, term: int) -> dict[tuple[str, Any], Mapping[int, int]]:
    """One counter call per (key, new limit), over every school that gets that limit."""
    from licheng.plugins import impact

    impact.register_defaults()
    wanted: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        if isinstance(row, SchoolPreview):
            continue
        school, before, after = row
        for key, value in after.items():
            if before.get(key) != value and key in IMPACT_COUNTERS and isinstance(value, int) and not isinstance(value, bool):
                wanted.setdefault((key, value), []).append(school.id)
    out: dict[tuple[str, Any], Mapping[int, int]] = {}
    for (key, limit), school_ids in wanted.items():
        try:
            counted = await IMPACT_COUNTERS[key](school_ids, limit=limit, academic_year=year, term=term)
        except Exception:  # noqa: BLE001 - a preview without numbers beats no preview
            log.exception("impact counter for %s failed", key)
            continue
        out[(key, limit)] = {school_id: int(counted.get(school_id, 0)) for school_id in school_ids}
    return out
