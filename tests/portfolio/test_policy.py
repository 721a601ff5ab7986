"""The layered policy: national defaults <- bureau layers (plugins) <- school overrides, per year."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from licheng.errors import LichengError
from licheng.portfolio.policy import BUREAU_LAYER_PROVIDERS, MB, PolicyLayer, national_policy, policy_for, set_school_policy
from licheng.tenants.audit import AuditEntry
from tests.portfolio.conftest import YEAR


@pytest.fixture
def taipei() -> Iterator[dict]:
    """A bureau layer like the Taipei plugin's: caps, sizes, and one field locked for schools."""
    layer: dict = {"_source": "bureau:taipei", "outcomes_per_term": 12, "outcomes_per_subject_per_term": 3,
                   "document_max_bytes": 3 * MB, "locked_for_schools": ["outcomes_per_subject_per_term"]}  # fmt: skip

    async def provider(school_id: int, academic_year: int) -> list[dict]:
        return [layer]

    saved = list(BUREAU_LAYER_PROVIDERS)
    BUREAU_LAYER_PROVIDERS[:] = [provider]
    yield layer
    BUREAU_LAYER_PROVIDERS[:] = saved


async def _code(work) -> LichengError:  # noqa: ANN001
    with pytest.raises(LichengError) as caught:
        await work
    return caught.value


async def test_a_bureau_layer_applies_over_the_national_defaults(scene, taipei):
    policy = await policy_for(scene.school.id, YEAR)
    assert (policy.document_max_bytes, policy.outcomes_per_term) == (3 * MB, 12)
    assert policy.sources == ("national:115", "bureau:taipei")


async def test_a_bureau_may_not_raise_a_limit_above_the_central_databases(scene, taipei):
    taipei["document_max_bytes"] = 8 * MB  # the central database takes 4 MB documents
    assert (await policy_for(scene.school.id, YEAR)).document_max_bytes == 4 * MB  # dropped, logged
    with pytest.raises(LichengError):
        PolicyLayer.validated("bureau", "x", {"document_max_bytes": 8 * MB}, national_policy(YEAR))


async def test_no_layer_changes_the_national_selection_caps_or_the_brief(scene, taipei):
    for field, value in (("selected_outcomes_cap", 8), ("selected_performances_cap", 12), ("brief_max_chars", 200)):
        error = await _code(set_school_policy(await scene.staff.actor(), YEAR, {field: value}))
        assert error.code == "POLICY_FIELD_LOCKED"
        with pytest.raises(LichengError):
            PolicyLayer.validated("bureau", "x", {field: value}, national_policy(YEAR))


async def test_a_school_overrides_what_schools_may_and_the_bureau_left_open(scene, taipei):
    staff = await scene.staff.actor()
    assert (await _code(set_school_policy(staff, YEAR, {"outcomes_per_subject_per_term": 4}))).code == "POLICY_FIELD_LOCKED"
    assert (await _code(set_school_policy(staff, YEAR, {"document_max_bytes": MB}))).code == "POLICY_FIELD_LOCKED"
    assert (await _code(set_school_policy(staff, YEAR, {"outcomes_per_term": 0}))).code == "INVALID_INPUT"
    assert (await _code(set_school_policy(staff, YEAR, {"no_such_rule": 1}))).code == "INVALID_INPUT"
    assert (await _code(set_school_policy(staff, YEAR, {"upload_days_after_ceremony": 7}))).code == "INVALID_INPUT"  # national floor: 2 weeks
    await set_school_policy(staff, YEAR, {"outcomes_per_term": 9, "upload_days_after_ceremony": 21})
    policy = await policy_for(scene.school.id, YEAR)
    assert (policy.outcomes_per_term, policy.outcomes_per_subject_per_term, policy.upload_days_after_ceremony) == (9, 3, 21)
    assert policy.sources[-1] == "school:115"


async def test_setting_the_school_policy_is_staff_only_and_audited(scene):
    assert (await _code(set_school_policy(await scene.teacher.actor(), YEAR, {"outcomes_per_term": 6}))).code == "FORBIDDEN"
    await set_school_policy(await scene.staff.actor(), YEAR, {"outcomes_per_term": 6})
    await set_school_policy(await scene.staff.actor(), YEAR, {"outcomes_per_term": 8})
    entries = await AuditEntry.filter(school_id=scene.school.id, action="set_school_policy").order_by("id")
    assert [e.changes["after"] for e in entries] == [{"outcomes_per_term": 6}, {"outcomes_per_term": 8}]
    assert entries[1].changes["before"] == {"outcomes_per_term": 6}


async def test_the_policy_is_readable_and_settable_through_graphql(scene, gql):
    await gql.sign_in_as(scene.staff)
    data = await gql.ok("mutation { setSchoolPolicy(fromYear: 115, values: {performances_per_year: 20}) { performancesPerYear sources } }")
    assert data["setSchoolPolicy"] == {"performancesPerYear": 20, "sources": ["national:115", "school:115"]}
    await gql.sign_in_as(scene.student)
    policy = (await gql.ok("{ portfolioPolicy(academicYear: 115) { performancesPerYear documentMaxBytes briefMaxChars documentKinds } }"))
    assert policy["portfolioPolicy"] == {"performancesPerYear": 20, "documentMaxBytes": 4 * MB, "briefMaxChars": 100,
                                         "documentKinds": ["jpeg", "pdf", "png"]}  # fmt: skip
    assert await gql.error_code("mutation { setSchoolPolicy(fromYear: 115, values: {performances_per_year: 1}) { sources } }") == "FORBIDDEN"
