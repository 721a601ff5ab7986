"""The issue's done-when scenario, through the public API only (GraphQL, and POST /uploads for bytes)."""

from __future__ import annotations

from licheng.jobs import run_pending
from tests.portfolio import ops
from tests.portfolio.conftest import CERTIFYING_AFTER_UPLOAD, IN_SELECTION, IN_SUBMISSION, IN_TERM_1, mp3_bytes, pdf_bytes, upload


async def test_three_outcomes_two_pass_one_fails_then_selection_batch_and_receipt(scene, clock, central, gql):
    """A student uploads and sends 3 outcomes, the teacher opens and passes 2 and fails 1 with a
    reason, publishes; the student adds performances, selects in the window; staff create a
    submission batch; the student confirms receipt."""
    clock.set(IN_TERM_1)
    await gql.sign_in_as(scene.student)
    outcome_ids = []
    for record, brief in ((scene.records["math"], "函數報告"), (scene.records["math"], "幾何作品"), (scene.records["chinese"], "閱讀心得")):
        document = await upload(gql, pdf_bytes())
        media = await upload(gql, mp3_bytes(), category="media", filename="朗讀.mp3") if brief == "閱讀心得" else None
        created = (await gql.ok(ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", record.id), "b": brief, "d": document, "m": media}))
        outcome_ids.append(created["createCourseOutcome"]["id"])
        sent = await gql.ok(ops.SEND, {"id": outcome_ids[-1]})
        assert sent["sendOutcomeForCertification"]["status"] == "SENT"

    clock.set(CERTIFYING_AFTER_UPLOAD)
    await gql.sign_in_as(scene.teacher)
    queue = (await gql.ok(ops.QUEUE, {"pending": True}))["certificationQueue"]["edges"]
    assert sorted(e["node"]["brief"] for e in queue) == sorted(["幾何作品", "函數報告", "閱讀心得"])
    assert {e["node"]["student"]["name"] for e in queue} == {"王小明"}
    for outcome_id in outcome_ids:
        opened = await gql.ok(ops.OPEN, {"id": outcome_id})
        assert opened["openOutcomeFile"]["outcome"]["openedAt"] is not None
    await gql.ok(ops.CERTIFY, {"id": outcome_ids[0], "p": True})
    await gql.ok(ops.CERTIFY, {"id": outcome_ids[1], "p": True})
    await gql.ok(ops.CERTIFY, {"id": outcome_ids[2], "p": False, "r": "檔案內容與課程無關"})

    await gql.sign_in_as(scene.student)
    before = (await gql.ok(ops.MY_PORTFOLIO, {"y": 115}))["myPortfolio"]
    assert {o["status"] for o in before["outcomes"]} == {"SENT"}  # nothing visible before publishing
    assert {o["decision"] for o in before["outcomes"]} == {None}

    await gql.sign_in_as(scene.teacher)
    published = (await gql.ok(ops.PUBLISH, {"ids": None}))["publishCertifications"]
    assert sorted(o["status"] for o in published) == ["FAILED", "PASSED", "PASSED"]

    await gql.sign_in_as(scene.student)
    mine = (await gql.ok(ops.MY_PORTFOLIO, {"y": 115}))["myPortfolio"]
    by_id = {o["id"]: o for o in mine["outcomes"]}
    assert by_id[outcome_ids[2]]["status"] == "FAILED" and by_id[outcome_ids[2]]["resultReason"] == "檔案內容與課程無關"
    assert mine["terms"][0]["sentForCertification"] == 3 and mine["terms"][0]["passed"] == 2

    clock.set(IN_TERM_1)  # performances are entered during the year
    performance_ids = []
    for title in ("全國科展", "英語演講比賽"):
        performance_ids.append((await gql.ok(ops.CREATE_PERFORMANCE, ops.competition(title)))["createPerformance"]["id"])

    clock.set(IN_SELECTION)
    chosen = (await gql.ok(ops.SELECT, {"o": outcome_ids[:2], "p": performance_ids}))["selectPortfolioItems"]
    assert sorted(chosen["outcomeIds"]) == sorted(outcome_ids[:2]) and len(chosen["performanceIds"]) == 2

    clock.set(IN_SUBMISSION)
    await gql.sign_in_as(scene.staff)
    batch = (await gql.ok(ops.CREATE_BATCH, {"t": 0}))["createSubmissionBatch"]
    assert batch["itemCount"] == 4 and batch["status"] == "FROZEN"
    assert (await gql.ok(ops.SUBMIT, {"id": batch["id"]}))["submitBatch"]["status"] == "QUEUED"
    await run_pending()  # the delivery is a durable job (submission.deliver)
    collected = (await gql.ok(ops.COLLECT, {"id": batch["id"]}))["collectReceipts"]
    assert collected["status"] == "RECEIPTS" and len(collected["receipts"]) == 1

    await gql.sign_in_as(scene.student)
    receipts = (await gql.ok(ops.MY_RECEIPTS))["myReceipts"]
    assert len(receipts) == 1 and len(receipts[0]["lines"]) == 4
    confirmed = (await gql.ok(ops.CONFIRM, {"id": receipts[0]["id"]}))["confirmReceipt"]
    assert confirmed["status"] == "CONFIRMED" and confirmed["respondedAt"] is not None
    final = (await gql.ok(ops.MY_PORTFOLIO, {"y": 115}))["myPortfolio"]
    assert all(o["frozen"] for o in final["outcomes"] if o["selected"]) and final["caps"]["selectedOutcomes"] == 2
    assert final["caps"]["storageUsedBytes"] > 0
