"""One count of a student's storage: the portfolio's "storage used" is storage's quota ledger,
through uploads, refused uploads, new versions, the minimal path and discards, on both stores."""

from __future__ import annotations

import base64

import pytest

from licheng.errors import LichengError
from licheng.portfolio import outcomes
from licheng.portfolio.models import FileState, PortfolioFile
from licheng.portfolio.policy import set_school_policy
from licheng.storage import service
from licheng.storage.models import LIVE_STATES, QuotaLedger, StoredBlob
from tests.http.conftest import Files
from tests.portfolio.conftest import clock, make_scene  # noqa: F401 - the portfolio's clock fixture
from tests.storage import samples

MB = 1024 * 1024
CAPS = "query { myPortfolio(academicYear: 115) { caps { storageUsedBytes quotaBytes } } }"


async def portfolio_used(files: Files, member) -> int:
    response = await files.http.post(
        "/graphql", json={"query": CAPS}, headers={"authorization": f"Bearer {await files.token(member)}"}
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return int(response.json()["data"]["myPortfolio"]["caps"]["storageUsedBytes"])


async def ledger(person_id: int) -> int:
    row = await QuotaLedger.get_or_none(person_id=person_id)
    return int(row.used_bytes) if row else 0


async def blob_bytes(person_id: int) -> int:
    rows = await StoredBlob.filter(owner_person_id=person_id, charged=True, state__in=list(LIVE_STATES))
    return sum(int(row.size) for row in rows)


async def upload_id(files: Files, member, data: bytes, name: str = "作品.pdf") -> str:
    response = await files.upload(member, data, name)
    assert response.status_code == 201, response.text
    return str(response.json()["uploadId"])


async def test_storage_used_is_the_ledger_through_every_kind_of_upload(files: Files, factory, clock) -> None:  # noqa: F811
    scene = await make_scene(factory)
    student = scene.student
    actor = await student.actor()
    person = student.person.id

    async def converged(expected_blobs: int, minimal: int = 0) -> int:
        used = await portfolio_used(files, student)
        assert used == await ledger(person) == await blob_bytes(person) + minimal
        assert await blob_bytes(person) == expected_blobs
        return used

    assert await converged(0) == 0
    first = samples.pdf(pages=2)
    outcome = await outcomes.create_outcome(
        actor, course_record_id=scene.records["math"].id, brief="作品", document_ref=await upload_id(files, student, first)
    )
    await converged(len(first))

    # Refused uploads change nothing: a truncated PDF, one past the quota.
    assert (await files.upload(student, first[:-40], "cut.pdf")).status_code == 422
    with files.limits(quota_bytes=len(first) + 10):
        assert (await files.upload(student, samples.pdf(pages=3), "big.pdf")).json()["code"] == "QUOTA_EXCEEDED"
    await converged(len(first))

    # A new version: the earlier file stays and still counts.
    second = samples.pdf(pages=4)
    await outcomes.revise_outcome(actor, outcome.id, document_ref=await upload_id(files, student, second))
    await converged(len(first) + len(second))

    # An upload not yet attached counts (it occupies the store) until discarded.
    pending = samples.png()
    pending_id = await upload_id(files, student, pending, "圖.png")
    await converged(len(first) + len(second) + len(pending))
    await service.discard_upload(actor, files.store, service.upload_pk(pending_id))
    await converged(len(first) + len(second))

    # The minimal path (a staged file, no blob) is charged to the same ledger on attach.
    await outcomes.create_outcome(
        actor, course_record_id=scene.records["chinese"].id, brief="心得", document_ref=await scene.file(student, size=30_000)
    )
    assert await converged(len(first) + len(second), minimal=30_000) == len(first) + len(second) + 30_000


async def test_the_minimal_path_is_held_to_the_quota_too(files: Files, factory, clock) -> None:  # noqa: F811
    scene = await make_scene(factory)
    await set_school_policy(await scene.staff.actor(), 115, {"quota_bytes": 10 * MB})
    student = scene.student
    actor = await student.actor()
    outcome = await outcomes.create_outcome(
        actor, course_record_id=scene.records["math"].id, brief="a", document_ref=await scene.file(student, size=4 * MB)
    )
    await outcomes.revise_outcome(actor, outcome.id, document_ref=await scene.file(student, size=4 * MB))
    third = await scene.file(student, size=4 * MB)  # 12 MB of 10: refused, the version not made
    with pytest.raises(LichengError) as refused:
        await outcomes.revise_outcome(actor, outcome.id, document_ref=third)
    assert refused.value.code == "QUOTA_EXCEEDED" and refused.value.details["used_bytes"] == 8 * MB
    assert await ledger(student.person.id) == await portfolio_used(files, student) == 8 * MB
    assert (await PortfolioFile.get(id=_pk(third))).state is FileState.PENDING  # the item's transaction rolled back


def _pk(reference: str) -> int:
    return int(base64.b64decode(reference).decode().split(":")[1])
