"""How create_app wires storage: routes, the blob store, the limits, readiness."""

from __future__ import annotations

import httpx

from licheng.app import create_app
from licheng.http.limits import academic_year, limits_provider
from licheng.storage.limits import national_defaults
from tests.http.conftest import settings_with_store


async def test_readiness_fails_when_the_object_store_cannot_be_used(settings) -> None:
    unreachable = "s3://k:s@127.0.0.1:9/nowhere?secure=false&region=us-east-1"
    app = create_app(settings_with_store(settings, unreachable), manage_db=False)
    assert "object_store" in app.state.ready_checks
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert "object_store" in response.text


async def test_ready_with_a_local_store(app) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/readyz")).status_code == 200


def test_the_academic_year_turns_in_august() -> None:
    from datetime import date

    assert academic_year(date(2026, 7, 31)) == 114
    assert academic_year(date(2026, 8, 1)) == 115
    assert academic_year(date(2027, 1, 20)) == 115


async def test_limits_come_from_the_schools_policy(factory) -> None:
    school = await factory.school()
    limits = await limits_provider()(school.id, None)
    national = national_defaults()
    # No bureau or school override: the policy's numbers are the national ones.
    assert (limits.document_max_bytes, limits.media_max_bytes, limits.quota_bytes) == (
        national.document_max_bytes, national.media_max_bytes, national.quota_bytes,
    )  # fmt: skip


async def test_a_school_override_of_the_quota_reaches_uploads(factory) -> None:
    from licheng.portfolio.models import SchoolPolicyOverride

    school = await factory.school()
    await SchoolPolicyOverride.create(school=school, from_year=100, values={"quota_bytes": 200 * 1048576})
    limits = await limits_provider()(school.id, None)
    assert limits.quota_bytes == 200 * 1048576
