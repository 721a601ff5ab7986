"""Restoring a lost file with the same bytes keeps certification (DOMAIN.md, "Reliability lessons":
in 2021 "certified files re-uploaded with a matching hash skipped re-certification")."""

from __future__ import annotations

from licheng.graphql.relay import pk_of
from licheng.portfolio.models import CourseOutcome, ItemVersion, OutcomeStatus
from licheng.tenants.audit import AuditEntry
from tests.portfolio import ops
from tests.portfolio.conftest import CERTIFYING_AFTER_UPLOAD, IN_SELECTION, IN_TERM_1, pdf_bytes, upload

def _another_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)  # another page size: other bytes, still a clean PDF
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


RESTORE = """
mutation($item: ID!, $u: ID!, $f: RestorableFile!) {
  restoreItemFile(input: {itemId: $item, file: $f, uploadId: $u}) { itemId file fileId }
}
"""


async def _passed_outcome(scene, clock, gql, data: bytes) -> str:
    """Upload, send, open, pass and publish an outcome through the API; its global ID."""
    clock.set(IN_TERM_1)
    await gql.sign_in_as(scene.student)
    document = await upload(gql, data)
    created = await gql.ok(ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "函數報告", "d": document})
    outcome_id = created["createCourseOutcome"]["id"]
    await gql.ok(ops.SEND, {"id": outcome_id})
    clock.set(CERTIFYING_AFTER_UPLOAD)
    await gql.sign_in_as(scene.teacher)
    await gql.ok(ops.OPEN, {"id": outcome_id})
    await gql.ok(ops.CERTIFY, {"id": outcome_id, "p": True})
    await gql.ok(ops.PUBLISH, {"ids": [outcome_id]})
    return outcome_id


async def test_same_bytes_restore_the_file_and_keep_the_certification_outside_the_window(scene, clock, gql):
    original = pdf_bytes()
    outcome_id = await _passed_outcome(scene, clock, gql, original)
    pk = pk_of(outcome_id, "CourseOutcome")
    before = await CourseOutcome.get(id=pk)

    clock.set(IN_SELECTION)  # the upload window closed long ago: restoring changes no content
    await gql.sign_in_as(scene.student)
    copy = await upload(gql, original)
    restored = (await gql.ok(RESTORE, {"item": outcome_id, "u": copy, "f": "DOCUMENT"}))["restoreItemFile"]

    after = await CourseOutcome.get(id=pk)
    assert restored["fileId"] == ops.gid("PortfolioFile", after.document_id)
    assert after.document_id != before.document_id
    assert (after.status, after.version, after.decision, after.published_at) == (
        OutcomeStatus.PASSED, before.version, before.decision, before.published_at
    )
    version = await ItemVersion.filter(item_type="outcome", item_id=pk).order_by("-number").first()
    assert version is not None and version.document_id == after.document_id
    mine = (await gql.ok(ops.MY_PORTFOLIO, {"y": 115}))["myPortfolio"]["outcomes"]
    assert [(o["status"], o["version"]) for o in mine if o["id"] == outcome_id] == [("PASSED", 1)]
    assert await AuditEntry.filter(action="restore_file", record_id=str(pk)).count() == 1


async def test_different_bytes_are_refused_and_nothing_changes(scene, clock, gql):
    outcome_id = await _passed_outcome(scene, clock, gql, pdf_bytes())
    before = await CourseOutcome.get(id=pk_of(outcome_id, "CourseOutcome"))
    await gql.sign_in_as(scene.student)
    other = await upload(gql, _another_pdf())
    assert await gql.error_code(RESTORE, {"item": outcome_id, "u": other, "f": "DOCUMENT"}) == "RESTORE_CHECKSUM_MISMATCH"
    after = await CourseOutcome.get(id=pk_of(outcome_id, "CourseOutcome"))
    assert (after.document_id, after.status) == (before.document_id, OutcomeStatus.PASSED)


async def test_another_students_item_cannot_be_restored(scene, clock, gql):
    data = pdf_bytes()
    outcome_id = await _passed_outcome(scene, clock, gql, data)
    await gql.sign_in_as(await scene.add_student("李同學"))
    copy = await upload(gql, data)
    assert await gql.error_code(RESTORE, {"item": outcome_id, "u": copy, "f": "DOCUMENT"}) == "NOT_FOUND"
    assert await gql.error_code(RESTORE, {"item": outcome_id, "u": copy, "f": "MEDIA"}) == "NOT_FOUND"


async def test_an_item_without_that_file_has_nothing_to_restore(scene, clock, gql):
    data = pdf_bytes()
    outcome_id = await _passed_outcome(scene, clock, gql, data)
    await gql.sign_in_as(scene.student)
    copy = await upload(gql, data)
    assert await gql.error_code(RESTORE, {"item": outcome_id, "u": copy, "f": "MEDIA"}) == "NOTHING_TO_RESTORE"
