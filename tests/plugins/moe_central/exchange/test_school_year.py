"""A school year end to end through GraphQL: batch -> package -> simulator (real HTTP) -> receipts ->
confirmations and a dispute -> the corrected resubmission of only the disputed student."""

from __future__ import annotations

from typing import Any

from licheng.graphql.relay import pk_of, to_global_id
from licheng.portfolio.models import BatchStatus, DiversePerformance, Receipt, ReceiptStatus
from licheng.tenants.models import Role
from moe_central.models import CentralDelivery, DeliveryState
from tests.plugins.moe_central.exchange.conftest import (
    PERFORMANCE,
    connect_school,
    drive,
    give_national_id,
    selected_items,
)
from tests.portfolio.conftest import IN_SUBMISSION, make_scene

BATCH_FIELDS = "id status itemCount externalRef adapter adapterMessage deliveryAttempts lastError resubmissionOf"
CREATE = f"mutation {{ createSubmissionBatch(academicYear: 115, term: 0) {{ {BATCH_FIELDS} }} }}"
SUBMIT = f"mutation($id: ID!) {{ submitBatch(id: $id) {{ {BATCH_FIELDS} }} }}"
BATCHES = f"{{ submissionBatches(academicYear: 115) {{ edges {{ node {{ {BATCH_FIELDS} receipts {{ status }} }} }} }} }}"
MY_RECEIPTS = "{ myReceipts(academicYear: 115) { id status lines } }"
CONFIRM = "mutation($id: ID!) { confirmReceipt(id: $id) { status } }"
DISPUTE = "mutation($id: ID!, $r: String!) { disputeReceipt(id: $id, reason: $r) { status } }"
RESUBMIT = f"mutation($id: ID!) {{ resubmitBatch(id: $id) {{ {BATCH_FIELDS} }} }}"
LATE = """mutation($s: ID!, $r: String!, $d: JSON) {
  addLatePerformance(studentId: $s, reason: $r, input: {academicYear: 115, kind: COMPETITION, title: "補登競賽", brief: "漏列", details: $d}) { id }
}"""


async def _batches(gql: Any) -> dict[str, dict[str, Any]]:
    return {e["node"]["id"]: e["node"] for e in (await gql.ok(BATCHES))["submissionBatches"]["edges"]}


async def test_a_school_year_goes_to_the_central_database_and_back_with_one_dispute_corrected(
    factory, manager, gql, settings, sim, exchange_keys, clock, fast_jobs
) -> None:
    scene = await make_scene(factory)
    students = [scene.student, await scene.add_student("李小華"), await scene.add_student("張小美")]
    for n, student in enumerate(students):
        await give_national_id(student.person, settings, 900 + n)
        await selected_items(scene, student, outcomes=2, performances=3)
    await connect_school(manager, factory, sim, exchange_keys, await scene.school.bureau)
    sim.register(scene.school.code, exchange_keys.school_public)
    clock.set(IN_SUBMISSION)

    await gql.sign_in_as(scene.staff)
    batch = (await gql.ok(CREATE))["createSubmissionBatch"]
    assert (batch["status"], batch["itemCount"], batch["deliveryAttempts"]) == ("FROZEN", 15, 0)
    queued = (await gql.ok(SUBMIT, {"id": batch["id"]}))["submitBatch"]
    assert (queued["status"], queued["adapter"]) == ("QUEUED", "moe_central")
    assert await gql.error_code(SUBMIT, {"id": batch["id"]}) == "BATCH_ALREADY_SUBMITTED"  # a double click queues nothing

    await drive(settings, pk_of(batch["id"], "SubmissionBatch"), (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    seen = (await _batches(gql))[batch["id"]]
    assert seen["status"] == "RECEIPTS", (seen["adapterMessage"], seen["lastError"])
    [package] = sim.packages(scene.school.code)
    assert seen["status"] == "RECEIPTS" and seen["externalRef"] == package["file_id"] and seen["deliveryAttempts"] == 1
    assert (package["state"], package["uploads"], package["receipt_lines"]) == ("accepted", 1, 15)
    assert [r["status"] for r in seen["receipts"]] == ["PENDING"] * 3
    delivery = await CentralDelivery.get(school_id=scene.school.id, batch_id=pk_of(batch["id"], "SubmissionBatch"))
    assert (delivery.state, delivery.file_id, delivery.package_id) == (DeliveryState.ACCEPTED, package["file_id"], package["package_id"])

    answers: dict[str, str] = {}
    for student, answer in zip(students, ("confirm", "confirm", "dispute"), strict=True):
        await gql.sign_in_as(student)
        [receipt] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
        assert len(receipt["lines"]) == 5 and {line["status"] for line in receipt["lines"]} == {"received"}
        if answer == "confirm":
            assert (await gql.ok(CONFIRM, {"id": receipt["id"]}))["confirmReceipt"]["status"] == "CONFIRMED"
        else:
            result = await gql.ok(DISPUTE, {"id": receipt["id"], "r": "少了一項競賽"})
            assert result["disputeReceipt"]["status"] == "DISPUTED"
        answers[student.login] = answer

    # 補件: staff add the missing performance; the student's selection of it is set as the selection step would.
    disputed = students[2]
    await gql.sign_in_as(scene.staff)
    late = (await gql.ok(LATE, {"s": to_global_id("Person", disputed.person.id), "r": "學生申訴漏列", "d": PERFORMANCE}))
    await DiversePerformance.filter(id=pk_of(late["addLatePerformance"]["id"], "DiversePerformance")).update(selected_at=IN_SUBMISSION)
    again = (await gql.ok(RESUBMIT, {"id": batch["id"]}))["resubmitBatch"]
    assert (again["status"], again["resubmissionOf"], again["itemCount"]) == ("QUEUED", batch["id"], 6)

    await drive(settings, pk_of(again["id"], "SubmissionBatch"), (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    packages = sim.packages(scene.school.code)
    assert [(p["state"], p["batch_id"], p["resubmission_of"], p["receipt_lines"]) for p in packages] == [
        ("accepted", pk_of(batch["id"], "SubmissionBatch"), None, 15),
        ("accepted", pk_of(again["id"], "SubmissionBatch"), pk_of(batch["id"], "SubmissionBatch"), 6),
    ]  # the correction is accepted as a correction of the batch, not refused as a duplicate
    rows = await Receipt.filter(school_id=scene.school.id).order_by("batch_id", "student_id").values_list("batch_id", "student_id", "status")
    original, correction = pk_of(batch["id"], "SubmissionBatch"), pk_of(again["id"], "SubmissionBatch")
    assert rows == [
        (original, students[0].person.id, ReceiptStatus.CONFIRMED),
        (original, students[1].person.id, ReceiptStatus.CONFIRMED),
        (original, students[2].person.id, ReceiptStatus.RESUBMITTED),
        (correction, students[2].person.id, ReceiptStatus.PENDING),  # only the disputed student
    ]
    await gql.sign_in_as(disputed)
    mine = {r["id"]: r for r in (await gql.ok(MY_RECEIPTS))["myReceipts"]}
    new = next(r for r in mine.values() if r["status"] == "PENDING")
    assert len(new["lines"]) == 6 and "補登競賽" not in str(new["lines"])  # lines name items, never their content
    assert (await gql.ok(CONFIRM, {"id": new["id"]}))["confirmReceipt"]["status"] == "CONFIRMED"


async def test_only_staff_of_the_school_see_the_delivery_state(factory, manager, gql, settings, sim, exchange_keys, clock) -> None:
    scene = await make_scene(factory)
    other = await factory.member(await factory.school(), Role.STAFF)
    clock.set(IN_SUBMISSION)
    await gql.sign_in_as(scene.staff)
    batch = (await gql.ok(CREATE))["createSubmissionBatch"]
    await gql.sign_in_as(other)
    assert batch["id"] not in await _batches(gql)
    await gql.sign_in_as(scene.student)
    assert await gql.error_code(BATCHES) == "FORBIDDEN"
