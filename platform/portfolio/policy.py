"""The rule set: national defaults <- bureau layers (plugins) <- school overrides, per academic year.

Every number and window offset the portfolio enforces comes from a resolved
``Policy``. Rules changed over the years (2 MB documents and 5 MB media until
year 108, 4 MB and 10 MB from term 109-1), so a policy is resolved for the
academic year of the item being judged, never for "now". Each layer may change
only the fields its level is allowed to (``RULES``); a bureau may also lock
fields against school overrides with the key ``locked_for_schools``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from tortoise import connections

from licheng.errors import InvalidInput, LichengError

log = logging.getLogger(__name__)

MB = 1024 * 1024
Level = Literal["national", "bureau", "school"]
LOCK_KEY = "locked_for_schools"


@dataclass(frozen=True)
class Policy:
    """The resolved rules of one school for one academic year (學年度)."""

    academic_year: int
    # Course outcomes sent for certification (提交認證) per term; None = no cap.
    outcomes_per_term: int | None = 12
    outcomes_per_subject_per_term: int | None = 3
    # Diverse performances uploaded per year (多元表現); None = unlimited.
    performances_per_year: int | None = None
    # Selected (勾選) for the central database per academic year.
    selected_outcomes_cap: int = 6
    selected_performances_cap: int = 10
    document_max_bytes: int = 4 * MB
    media_max_bytes: int = 10 * MB
    counseling_max_bytes: int = 2 * MB
    brief_max_chars: int = 100
    quota_bytes: int = 150 * MB
    document_kinds: frozenset[str] = frozenset({"pdf", "jpeg", "png"})
    media_kinds: frozenset[str] = frozenset({"mp3", "mp4"})
    pdf_active_content: str = "refuse"  # refuse | flag
    # Windows (時程), offsets from the school calendar (SchoolTerm.starts_on / ceremony_on).
    upload_opens_days_after_start: int = 0
    upload_days_after_ceremony: int = 14
    upload_days_after_ceremony_grade12_term2: int = 0
    certification_days_after_upload: int = 7
    # School-entered records of a term (基本資料、修課紀錄) are entered from the term's start until
    # this many days after 休業式, then go to the central database as they stand. [inferred]
    records_days_after_ceremony: int = 30
    # ... and open this many days before the term starts: new students' enrolment in August,
    # term 2's course choices in January. [inferred]
    records_opens_days_before_start: int = 30
    # "MM-DD" dates: the performance deadline falls in the year the academic year ends
    # (07-31); selection, submission in the autumn after it.
    performance_deadline: str = "07-31"
    selection_opens: str = "09-01"
    selection_closes: str = "09-30"
    submission_opens: str = "10-01"
    submission_closes: str = "10-31"
    receipt_review_days: int = 7
    # Which layers made this policy, e.g. ("national:109", "bureau:taipei", "school:110").
    sources: tuple[str, ...] = field(default=())

    def size_limit(self, category: str) -> int:
        return {"document": self.document_max_bytes, "media": self.media_max_bytes, "counseling": self.counseling_max_bytes}[category]

    def kinds(self, category: str) -> frozenset[str]:
        return self.media_kinds if category == "media" else self.document_kinds

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("document_kinds", "media_kinds"):
            out[key] = sorted(out[key])
        out["sources"] = list(self.sources)
        return out


@dataclass(frozen=True)
class Rule:
    """What a field is and which layers above the national one may change it, within which bounds."""

    kind: type
    layers: frozenset[str]
    low: int | None = None
    high: int | None = None
    nullable: bool = False
    choices: frozenset[str] | None = None
    month_day: bool = False
    at_most_national: bool = False  # a layer may lower it, never raise it (the central DB's limits)
    help_zh: str = ""


_BOTH = frozenset({"bureau", "school"})
_BUREAU = frozenset({"bureau"})
_NONE: frozenset[str] = frozenset()

RULES: dict[str, Rule] = {
    "outcomes_per_term": Rule(int, _BOTH, 1, 60, nullable=True, help_zh="每學期提交認證件數上限"),
    "outcomes_per_subject_per_term": Rule(int, _BOTH, 1, 60, nullable=True, help_zh="每學期每科提交認證件數上限"),
    "performances_per_year": Rule(int, _BOTH, 1, 500, nullable=True, help_zh="每學年多元表現上傳件數上限"),
    "selected_outcomes_cap": Rule(int, _NONE, help_zh="每學年勾選課程學習成果上限（全國）"),
    "selected_performances_cap": Rule(int, _NONE, help_zh="每學年勾選多元表現上限（全國）"),
    "document_max_bytes": Rule(int, _BUREAU, 256 * 1024, None, at_most_national=True, help_zh="文件檔大小上限"),
    "media_max_bytes": Rule(int, _BUREAU, 256 * 1024, None, at_most_national=True, help_zh="影音檔大小上限"),
    "counseling_max_bytes": Rule(int, _BOTH, 256 * 1024, 20 * MB, help_zh="課程諮詢紀錄檔案大小上限"),
    "brief_max_chars": Rule(int, _NONE, help_zh="簡述字數上限（全國）"),
    "quota_bytes": Rule(int, _BOTH, 10 * MB, 2048 * MB, help_zh="每位學生三年儲存空間"),
    "document_kinds": Rule(frozenset, _NONE, help_zh="文件檔格式（全國）"),
    "media_kinds": Rule(frozenset, _NONE, help_zh="影音檔格式（全國）"),
    "pdf_active_content": Rule(str, _BOTH, choices=frozenset({"refuse", "flag"}), help_zh="含程式碼的 PDF：拒收或標記"),
    "upload_opens_days_after_start": Rule(int, _BOTH, 0, 90, help_zh="開學後幾天開放上傳"),
    # Nationally at least until 2 weeks after 休業式 [pub]; grade-12 term 2 is the exception.
    "upload_days_after_ceremony": Rule(int, _BOTH, 14, 60, help_zh="休業式後幾天截止上傳"),
    "upload_days_after_ceremony_grade12_term2": Rule(int, _BOTH, 0, 60, help_zh="高三下休業式後幾天截止上傳"),
    "certification_days_after_upload": Rule(int, _BOTH, 3, 28, help_zh="學生截止後幾天內完成教師認證"),
    # Long enough for final grades and make-up exams (補考), short enough that a term's records settle.
    "records_days_after_ceremony": Rule(int, _BOTH, 7, 60, help_zh="休業式後幾天截止學校登錄基本資料及修課紀錄"),
    "records_opens_days_before_start": Rule(int, _BOTH, 0, 90, help_zh="開學前幾天開放學校登錄基本資料及修課紀錄"),
    "performance_deadline": Rule(str, _BOTH, month_day=True, help_zh="多元表現年度截止日（月-日）"),
    "selection_opens": Rule(str, _BOTH, month_day=True, help_zh="勾選開始（月-日，次學年度）"),
    "selection_closes": Rule(str, _BOTH, month_day=True, help_zh="勾選截止（月-日）"),
    "submission_opens": Rule(str, _BOTH, month_day=True, help_zh="學校提交開始（月-日）"),
    "submission_closes": Rule(str, _BOTH, month_day=True, help_zh="學校提交截止（月-日）"),
    "receipt_review_days": Rule(int, _BOTH, 3, 30, help_zh="收訖確認天數（至少 3 天）"),
}

# National rules that changed by year: (first year, last year or None, values).
NATIONAL_HISTORY: list[tuple[int | None, int | None, dict[str, Any]]] = [
    # MOE 108 edition: 2 MB documents, 5 MB media; 4 MB / 10 MB from term 109-1 [pub].
    (None, 108, {"document_max_bytes": 2 * MB, "media_max_bytes": 5 * MB}),
]

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


def national_policy(academic_year: int) -> Policy:
    """The national defaults as they stood in that academic year."""
    values: dict[str, Any] = {}
    for first, last, changes in NATIONAL_HISTORY:
        if (first is None or academic_year >= first) and (last is None or academic_year <= last):
            values.update(changes)
    return replace(Policy(academic_year=academic_year), sources=(f"national:{academic_year}",), **values)


class PolicyFieldLocked(LichengError):
    def __init__(self, name: str, level: str) -> None:
        super().__init__(
            "POLICY_FIELD_LOCKED",
            f"「{name}」不可由{'學校' if level == 'school' else '教育局'}調整",
            f"The {level} layer may not change {name}",
            field=name, level=level,
        )  # fmt: skip


def _check_value(name: str, rule: Rule, value: Any, national: Policy) -> Any:
    bad = InvalidInput(name, f"「{name}」的值不合規定", f"Invalid value for {name}", low=rule.low, high=rule.high)
    if value is None:
        if not rule.nullable:
            raise bad
        return None
    if rule.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        if (rule.low is not None and value < rule.low) or (rule.high is not None and value > rule.high):
            raise bad
        if rule.at_most_national and value > getattr(national, name):
            raise InvalidInput(
                name, f"「{name}」不可高於全國規定 {getattr(national, name)}",
                f"{name} may not exceed the national {getattr(national, name)}", high=getattr(national, name),
            )  # fmt: skip
        return value
    if rule.kind is str:
        if not isinstance(value, str):
            raise bad
        if rule.choices is not None and value not in rule.choices:
            raise bad
        if rule.month_day and not _MONTH_DAY.match(value):
            raise InvalidInput(name, f"「{name}」須為 MM-DD 格式", f"{name} must be MM-DD")
        return value
    raise bad


@dataclass(frozen=True)
class PolicyLayer:
    """One layer's overrides, validated against what its level may change."""

    level: Level
    source: str
    values: Mapping[str, Any]
    locked_for_schools: frozenset[str] = frozenset()

    @classmethod
    def validated(cls, level: Level, source: str, raw: Mapping[str, Any], national: Policy,
                  locked: frozenset[str] = frozenset()) -> PolicyLayer:  # fmt: skip
        """Raise on the first field the level may not change or whose value is out of bounds."""
        values: dict[str, Any] = {}
        lock: frozenset[str] = frozenset()
        for name, value in raw.items():
            if name == LOCK_KEY and level == "bureau":
                lock = frozenset(value or ())
                if unknown := lock - RULES.keys():
                    raise InvalidInput(LOCK_KEY, "未知的規則欄位", "Unknown policy fields", fields=sorted(unknown))
                continue
            rule = RULES.get(name)
            if rule is None:
                raise InvalidInput(name, f"未知的規則欄位「{name}」", f"Unknown policy field {name}")
            if level not in rule.layers or (level == "school" and name in locked):
                raise PolicyFieldLocked(name, level)
            values[name] = _check_value(name, rule, value, national)
        return cls(level, source, values, lock)

    @classmethod
    def lenient(cls, level: Level, source: str, raw: Mapping[str, Any], national: Policy,
                locked: frozenset[str] = frozenset()) -> PolicyLayer:  # fmt: skip
        """Like ``validated`` but drops (and logs) bad fields: a stored layer must not block a school."""
        kept: dict[str, Any] = {}
        for name, value in raw.items():
            try:
                layer = cls.validated(level, source, {name: value}, national, locked)
            except LichengError as error:
                log.warning("policy layer %s: ignoring %s (%s)", source, name, error.code)
                continue
            kept.update(layer.values)
            if layer.locked_for_schools:
                locked = locked | layer.locked_for_schools
        return cls(level, source, kept, locked if level == "bureau" else frozenset())


def check_coherent(policy: Policy) -> None:
    """Cross-field rules: each window opens before it closes."""
    if policy.selection_opens > policy.selection_closes:
        raise InvalidInput("selection_closes", "勾選截止日須在開始日之後", "Selection must close after it opens")
    if policy.submission_opens > policy.submission_closes:
        raise InvalidInput("submission_closes", "提交截止日須在開始日之後", "Submission must close after it opens")


# Plugins (the bureau's rules, e.g. Taipei) append providers: (school_id, academic_year) -> layers.
BureauLayerProvider = Callable[[int, int], Awaitable[list[dict[str, Any]]]]
BUREAU_LAYER_PROVIDERS: list[BureauLayerProvider] = []


async def bureau_raw(school_id: int, academic_year: int) -> list[tuple[int, dict[str, Any]]]:
    """What the providers say, as they said it: (provider index, raw layer)."""
    return [(index, raw) for index, provider in enumerate(BUREAU_LAYER_PROVIDERS) for raw in await provider(school_id, academic_year)]


def _bureau_layers(raws: list[tuple[int, dict[str, Any]]], national: Policy) -> list[PolicyLayer]:
    layers: list[PolicyLayer] = []
    for index, raw in raws:
        source = str(raw.get("_source", f"bureau:{index}"))
        values = {k: v for k, v in raw.items() if k != "_source"}
        layers.append(PolicyLayer.lenient("bureau", source, values, national))
    return layers


async def bureau_layers(school_id: int, academic_year: int, national: Policy) -> list[PolicyLayer]:
    return _bureau_layers(await bureau_raw(school_id, academic_year), national)


def fold(national: Policy, layers: list[PolicyLayer]) -> Policy:
    values: dict[str, Any] = {}
    sources = list(national.sources)
    for layer in layers:
        values.update(layer.values)
        sources.append(layer.source)
    return replace(national, sources=tuple(sources), **values)


async def _override_row(school_id: int, academic_year: int) -> tuple[int, str] | None:
    """The school's layer in force for the year: (from_year, values as stored), one statement."""
    conn = connections.get("default")
    marks = ("$1", "$2") if conn.capabilities.dialect == "postgres" else ("?", "?")
    _, rows = await conn.execute_query(
        f'SELECT "from_year", "values" FROM "portfolio_policy_override" WHERE "school_id" = {marks[0]} '
        f'AND "from_year" <= {marks[1]} ORDER BY "from_year" DESC LIMIT 1',
        [school_id, academic_year],
    )
    if not rows:
        return None
    values = rows[0]["values"]
    return int(rows[0]["from_year"]), values if isinstance(values, str) else json.dumps(values, sort_keys=True)


@dataclass(frozen=True)
class _Resolved:
    inputs: tuple[Any, ...]
    policy: Policy


# The last policy resolved per (school, year) and the inputs it was resolved from. Reading the
# inputs costs one cheap statement (the plugin layers have their own, see plugins.runtime); folding
# and validating them is what is saved. Keyed by content, so a change by any writer, in any
# process, is seen by the next call: there is nothing to invalidate and no staleness bound.
_resolved: dict[tuple[int, int], _Resolved] = {}
_RESOLVED_LIMIT = 8192


async def policy_for(school_id: int, academic_year: int) -> Policy:
    """The school's resolved rules for an academic year (the year of the item judged)."""
    return await policy_with(school_id, academic_year, await _override_row(school_id, academic_year))


async def policy_with(
    school_id: int, academic_year: int, override: tuple[int, str] | None, raws: list[tuple[int, dict[str, Any]]] | None = None
) -> Policy:
    """``policy_for`` when the caller has read the school's layer already (``reads.year_rows``)
    and perhaps the bureau's (``bureau_raw``, read alongside it: one round trip, not two)."""
    if raws is None:
        raws = await bureau_raw(school_id, academic_year)
    inputs = (json.dumps(raws, sort_keys=True, default=str), override)
    known = _resolved.get((school_id, academic_year))
    if known is not None and known.inputs == inputs:
        return known.policy
    policy = _resolve(school_id, academic_year, raws, override)
    if len(_resolved) >= _RESOLVED_LIMIT:
        _resolved.clear()
    _resolved[(school_id, academic_year)] = _Resolved(inputs, policy)
    return policy


def _resolve(school_id: int, academic_year: int, raws: list[tuple[int, dict[str, Any]]], override: tuple[int, str] | None) -> Policy:
    national = national_policy(academic_year)
    layers = _bureau_layers(raws, national)
    locked = frozenset().union(*(layer.locked_for_schools for layer in layers)) if layers else frozenset()
    if override is not None:
        from_year, values = override
        layers.append(PolicyLayer.lenient("school", f"school:{from_year}", json.loads(values) or {}, national, locked))
    policy = fold(national, layers)
    try:
        check_coherent(policy)
    except LichengError:
        log.warning("incoherent policy for school %s year %s: windows fall back to national", school_id, academic_year)
        window_fields = ("selection_opens", "selection_closes", "submission_opens", "submission_closes")
        policy = replace(policy, **{name: getattr(national, name) for name in window_fields})
    return policy


# --- school overrides (staff) -----------------------------------------------------------------


async def set_school_policy(actor: Any, from_year: int, values: Mapping[str, Any]) -> Any:
    """Staff set the school's layer from ``from_year`` on: only school-level fields, within
    bounds, not locked by the bureau; the whole resulting policy must be coherent. Audited."""
    from licheng.portfolio.models import SchoolPolicyOverride
    from licheng.tenants import audit
    from licheng.tenants.models import Role

    school_id = actor.require_role(Role.STAFF)
    if not 100 <= from_year <= 200:
        raise InvalidInput("from_year", "學年度以民國年表示，例如 115", "The academic year is a ROC year, e.g. 115")
    national = national_policy(from_year)
    layers = await bureau_layers(school_id, from_year, national)
    locked = frozenset().union(*(layer.locked_for_schools for layer in layers)) if layers else frozenset()
    layer = PolicyLayer.validated("school", f"school:{from_year}", dict(values), national, locked)
    check_coherent(fold(national, [*layers, layer]))
    row = await SchoolPolicyOverride.get_or_none(school_id=school_id, from_year=from_year)
    before = dict(row.values) if row else None
    if row is None:
        row = await SchoolPolicyOverride.create(
            school_id=school_id, from_year=from_year, values=dict(layer.values), updated_by_account_id=actor.account_id
        )
    else:
        row.values, row.updated_by_account_id = dict(layer.values), actor.account_id
        await row.save(update_fields=["values", "updated_by_account_id", "updated_at"])
    await audit.record(actor, "set_school_policy", "policy_override", row.id,
                       changes={"from_year": from_year, "before": before, "after": dict(layer.values)})  # fmt: skip
    return row


async def school_overrides(actor: Any) -> list[Any]:
    from licheng.portfolio.models import SchoolPolicyOverride

    school_id = actor.require_school()
    return await SchoolPolicyOverride.filter(school_id=school_id).order_by("from_year")
