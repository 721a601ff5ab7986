"""The central side refuses a package that breaks a cap or a checksum, with a reason the school sees
on its batch in GraphQL (status FAILED, the reason in adapterMessage)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from licheng.graphql.relay import pk_of
from licheng.portfolio.models import BatchStatus, Receipt
from moe_central import package as package_module
from moe_central.models import CentralDelivery, DeliveryState
from tests.plugins.moe_central.exchange.conftest import connect_school, drive, give_national_id, selected_items
from tests.plugins.moe_central.package.helpers import reseal
from tests.portfolio.conftest import IN_SUBMISSION, make_scene

CREATE = "mutation { createSubmissionBatch(academicYear: 115, term: 0) { id } }"
SUBMIT = "mutation($id: ID!) { submitBatch(id: $id) { status } }"
BATCH = "query($id: ID!) { node(id: $id) { ... on SubmissionBatch { status adapterMessage externalRef } } }"


async def _year_batch(factory: Any, manager: Any, gql: Any, settings: Any, sim: Any, keys: Any, clock: Any, *,
                      outcomes: int) -> tuple[Any, str]:  # fmt: skip
    scene = await make_scene(factory)
    await give_national_id(scene.student.person, settings, 77)
    await selected_items(scene, scene.student, outcomes=outcomes, performances=2)
    await connect_school(manager, factory, sim, keys, await scene.school.bureau)
    sim.register(scene.school.code, keys.school_public)
    clock.set(IN_SUBMISSION)
    await gql.sign_in_as(scene.staff)
    batch_id = (await gql.ok(CREATE))["createSubmissionBatch"]["id"]
    assert (await gql.ok(SUBMIT, {"id": batch_id}))["submitBatch"]["status"] == "QUEUED"
    await drive(settings, pk_of(batch_id, "SubmissionBatch"), (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    return scene, batch_id


async def test_seven_outcomes_of_one_student_are_refused_and_the_school_sees_why(
    factory, manager, gql, settings, sim, exchange_keys, clock, fast_jobs
) -> None:
    scene, batch_id = await _year_batch(factory, manager, gql, settings, sim, exchange_keys, clock, outcomes=7)
    seen = (await gql.ok(BATCH, {"id": batch_id}))["node"]
    number = scene.student.person.student_number
    assert seen["status"] == "FAILED"
    assert seen["adapterMessage"].startswith("PACKAGE_CAP_EXCEEDED: ") and f"學號 {number}" in seen["adapterMessage"]
    assert f"Student {number} has 7 course outcomes" in seen["adapterMessage"]
    assert "A1" not in seen["adapterMessage"]  # the national ID never travels back in a reason
    [package] = sim.packages(scene.school.code)
    assert package["state"] == "rejected" and package["receipt_lines"] == 0
    assert not await Receipt.filter(batch_id=pk_of(batch_id, "SubmissionBatch")).exists()
    delivery = await CentralDelivery.get(school_id=scene.school.id)
    assert delivery.state == DeliveryState.REJECTED and delivery.last_error == seen["adapterMessage"]


async def test_a_roster_that_does_not_match_its_checksum_is_refused_and_the_school_sees_why(
    factory, manager, gql, settings, sim, exchange_keys, clock, fast_jobs, monkeypatch, tmp_path: Path
) -> None:
    """A roster altered after the manifest was written (but sealed and signed properly, as a bug or an
    insider would): the central side compares every roster with its manifest checksum."""
    real = package_module.build_package

    async def corrupted(*args: Any, **kwargs: Any) -> Any:
        built = await real(*args, **kwargs)
        opened = package_module.open_package(built.path, central_private_key_pem=exchange_keys.central_private,
                                             school_public_key_pem=exchange_keys.school_public, work_dir=tmp_path)  # fmt: skip
        target = next(r["filename"] for r in built.manifest["rosters"] if r["rows"])
        buffer = io.BytesIO()
        with zipfile.ZipFile(opened.archive) as source, zipfile.ZipFile(buffer, "w") as out:
            for info in source.infolist():
                data = source.read(info)
                out.writestr(info, data.replace("成果 1".encode(), "成果 9".encode()) if info.filename == target else data)
        reseal(built.path, buffer.getvalue(), exchange_keys.central_private, exchange_keys.school_private)
        import hashlib

        data = built.path.read_bytes()
        return type(built)(built.path, built.package_id, built.manifest, hashlib.sha256(data).hexdigest(), len(data))

    monkeypatch.setattr(package_module, "build_package", corrupted)
    scene, batch_id = await _year_batch(factory, manager, gql, settings, sim, exchange_keys, clock, outcomes=2)
    seen = (await gql.ok(BATCH, {"id": batch_id}))["node"]
    assert seen["status"] == "FAILED"
    assert seen["adapterMessage"].startswith("PACKAGE_CHECKSUM_MISMATCH: ") and "roster=outcomes" in seen["adapterMessage"]
    [package] = sim.packages(scene.school.code)
    assert package["state"] == "rejected"
