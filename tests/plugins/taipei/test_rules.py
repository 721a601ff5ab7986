"""Taipei's numbers as policy for its schools, each citing DOMAIN.md ("Limits", Taipei CoolCloud
column; "Calendar and windows"), bureau-editable and previewable, and absent elsewhere."""

from __future__ import annotations

from datetime import date

from licheng.plugins import configs, preview, service
from licheng.portfolio.policy import MB, policy_for
from licheng.portfolio.windows import calendar_for
from licheng.tenants.models import SchoolTerm
from tests.plugins.conftest import District

PLUGIN = "taipei_coolcloud"


async def _enable(district: District, manager, schools) -> None:
    await service.set_enabled(await district.admin_actor(), manager, district.bureau.id, PLUGIN, enabled=True,
                              school_ids=[s.id for s in schools])  # fmt: skip


async def test_taipei_schools_get_taipeis_numbers(district: District, manager):
    a, b, _ = district.schools
    await _enable(district, manager, [a])
    taipei, elsewhere = await policy_for(a.id, 115), await policy_for(b.id, 115)
    # DOMAIN.md "Limits": outcomes sent for certification per term — Taipei CoolCloud "12, at most 3 per subject" [seed]
    assert (taipei.outcomes_per_term, taipei.outcomes_per_subject_per_term) == (12, 3)
    # DOMAIN.md "Limits": document size — Taipei 4 MB [seed]; media size — Taipei 10 MB [seed]
    assert (taipei.document_max_bytes, taipei.media_max_bytes) == (4 * MB, 10 * MB)
    # DOMAIN.md "Limits": storage per student, all three years — Taipei 150 MB [seed: "5.08mb/150.0mb"]
    assert taipei.quota_bytes == 150 * MB
    # DOMAIN.md "Calendar and windows": upload until 2 weeks after 休業式; certification 3 to 7 days after [seed, pub]
    assert (taipei.upload_days_after_ceremony, taipei.certification_days_after_upload) == (14, 7)
    assert "plugin:taipei_coolcloud" in taipei.sources and elsewhere.sources == ("national:115",)


async def test_the_windows_follow_the_ceremony_two_weeks_then_seven_days(district: District, manager):
    a = district.schools[0]
    await _enable(district, manager, [a])
    await SchoolTerm.create(school=a, academic_year=115, term=1, starts_on=date(2026, 8, 31), ceremony_on=date(2027, 1, 20))
    policy = await policy_for(a.id, 115)
    calendar = await calendar_for(a.id, 115)
    upload = calendar.upload(policy, 1, 10)
    certification = calendar.certification(policy, 1, 10)
    assert upload.closes_on == date(2027, 2, 3)  # 休業式 2027-01-20 + 14 days
    assert certification.closes_on == date(2027, 2, 10)  # + 7 days


async def test_the_bureau_edits_a_number_previews_it_and_its_schools_follow(district: District, manager):
    a = district.schools[0]
    await _enable(district, manager, [a])
    admin = await district.admin_actor()
    seen = await preview.preview_policy_change(admin, manager, PLUGIN, {"upload_days_after_ceremony": 21},
                                               bureau_id=district.bureau.id, school_ids=[a.id])  # fmt: skip
    [school] = seen.schools
    assert [(i.key, i.before, i.after) for i in school.impacts if i.key == "upload_days_after_ceremony"] == [
        ("upload_days_after_ceremony", 14, 21)
    ]
    assert (await policy_for(a.id, 115)).upload_days_after_ceremony == 14  # a preview writes nothing
    await configs.update_settings(admin, manager, PLUGIN, {"upload_days_after_ceremony": 21}, bureau_id=district.bureau.id)
    assert (await policy_for(a.id, 115)).upload_days_after_ceremony == 21


async def test_taipei_may_not_set_what_the_central_database_refuses(district: District, manager):
    a = district.schools[0]
    await _enable(district, manager, [a])
    admin = await district.admin_actor()
    for values in ({"document_mb": 5}, {"media_mb": 11}, {"upload_days_after_ceremony": 7}):
        try:
            await configs.update_settings(admin, manager, PLUGIN, values, bureau_id=district.bureau.id)
        except Exception as error:  # noqa: BLE001 - the refusal is the point
            assert getattr(error, "code", "") == "INVALID_INPUT", error
        else:
            raise AssertionError(f"{values} was accepted")
    assert (await policy_for(a.id, 115)).document_max_bytes == 4 * MB
