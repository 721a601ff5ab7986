"""Isolation cases for the early-warning fields (see tests/graphql/test_isolation.py).

Both bureaus enable Taipei CoolCloud; school B's student has a warning naming him.
School A's intruder (every role in A) lists, reads, marks and opts out: B's
warning never comes back and stays unread, and B's opt-outs stay as they were.
"""

from __future__ import annotations

from typing import Any

from licheng.graphql.relay import to_global_id
from licheng.plugins import service
from licheng.plugins.manager import get_manager
from licheng.plugins.models import InstalledPlugin
from taipei_coolcloud.models.early_warnings import EarlyWarning, WarningEmailOptOut, WarningKind
from tests.graphql.isolation import Case, World

PLUGIN = "taipei_coolcloud"
BODY_B = "乙校預警內容"


async def _setup(w: World) -> dict[str, Any]:
    if "warnings" in w.extra:
        return w.extra["warnings"]
    manager = get_manager()
    await service.sync_catalogue(manager)
    await InstalledPlugin.filter(plugin_id=PLUGIN).update(available=True)
    for bureau, school in ((w.bureau_a, w.school_a), (w.bureau_b, w.school_b)):
        admin = await (await w.factory.bureau_admin(bureau)).actor()
        await service.set_enabled(admin, manager, bureau.id, PLUGIN, enabled=True, school_ids=[school.id])
    common = {"kind": WarningKind.OUTCOMES_NOT_SENT, "period": "115-1@2027-02-03", "subject_en": "Warning", "body_en": "Body"}
    b = await EarlyWarning.create(
        school=w.school_b, recipient_id=w.student_b.person.id, subject_zh=f"{w.student_b.person.name} 預警",
        body_zh=f"{w.student_b.person.name} {BODY_B}", **common,
    )  # fmt: skip
    await EarlyWarning.create(school=w.school_a, recipient_id=w.intruder.person.id, subject_zh="甲校預警", body_zh="甲校", **common)
    w.extra["warnings"] = {"b": b}
    return w.extra["warnings"]


async def _vars(w: World) -> dict[str, Any]:
    data = await _setup(w)
    return {"id": to_global_id("EarlyWarning", data["b"].id)}


async def _no_vars(w: World) -> dict[str, Any]:
    await _setup(w)
    return {}


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.student_b.person.name, BODY_B]


async def _b_unread(w: World) -> None:
    row = await EarlyWarning.get(id=w.extra["warnings"]["b"].id)
    assert row.read_at is None and row.school_id == w.school_b.id


async def _opt_out_stayed_home(w: World) -> None:
    assert not await WarningEmailOptOut.filter(school_id=w.school_b.id).exists()
    assert await WarningEmailOptOut.filter(school_id=w.school_a.id, person_id=w.intruder.person.id).exists()
    await _b_unread(w)


LIST = "edges { node { id subjectZh bodyZh recipientName recipientId } }"

CASES: dict[str, Case] = {
    "Query.myWarnings": Case(f"{{ myWarnings {{ {LIST} }} }}", _no_vars, secrets=_secrets),
    "Query.schoolWarnings": Case(f"{{ schoolWarnings {{ {LIST} }} }}", _no_vars, secrets=_secrets),
    "Query.myWarningEmailPreference": Case("{ myWarningEmailPreference { allKinds kinds } }", _no_vars, secrets=_secrets),
    "Mutation.markWarningRead": Case(
        "mutation($id: ID!) { markWarningRead(id: $id) { bodyZh recipientName } }", _vars, secrets=_secrets, check=_b_unread
    ),
    "Mutation.setWarningEmailOptOut": Case(
        "mutation { setWarningEmailOptOut(optOut: true) { allKinds } }", _no_vars, secrets=_secrets, check=_opt_out_stayed_home
    ),
}
