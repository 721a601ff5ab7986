"""GraphQL: storageUsage, pendingUploads, the Upload node, discardUpload."""

from __future__ import annotations

from dataclasses import replace

from licheng.graphql.relay import to_global_id
from licheng.storage import service
from licheng.storage.limits import UploadLimits, national_defaults
from licheng.storage.models import StoredBlob
from licheng.tenants.models import Guardianship, Role

USAGE = "query($s: ID) { storageUsage(studentId: $s) { usedBytes limitBytes warning display } }"


async def upload(gql, data: bytes, name: str) -> dict:
    response = await gql.http.post(
        "/uploads",
        params={"category": "document", "filename": name},
        content=data,
        headers={"authorization": f"Bearer {gql.token}"},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_student_sees_his_usage_of_the_quota(gql, samples, student) -> None:
    await gql.sign_in_as(student)
    assert (await gql.ok(USAGE))["storageUsage"] == {
        "usedBytes": 0, "limitBytes": 150 * 1048576, "warning": False, "display": "0.00 MB / 150 MB",
    }  # fmt: skip
    sent = await upload(gql, samples.pdf(pages=5), "a.pdf")
    usage = (await gql.ok(USAGE))["storageUsage"]
    assert usage["usedBytes"] == sent["size"]
    assert usage["display"] == f"{sent['size'] / 1048576:.2f} MB / 150 MB"


async def test_usage_warns_from_80_percent_of_the_policys_quota(gql, app, samples, student) -> None:
    await gql.sign_in_as(student)
    sent = await upload(gql, samples.png(), "a.png")
    saved = app.state.upload_limits_provider

    async def small(school_id: int, student_id: int | None) -> UploadLimits:
        return replace(national_defaults(), quota_bytes=int(sent["size"] / 0.8))

    app.state.upload_limits_provider = small
    try:
        usage = (await gql.ok(USAGE))["storageUsage"]
    finally:
        app.state.upload_limits_provider = saved
    assert usage["warning"] is True and usage["limitBytes"] == int(sent["size"] / 0.8)


async def test_teachers_and_parents_see_a_students_usage(gql, factory, samples, school, student) -> None:
    await gql.sign_in_as(student)
    sent = await upload(gql, samples.pdf(), "a.pdf")
    teacher = await factory.member(school, Role.TEACHER)
    parent = await factory.member(school, Role.PARENT)
    await Guardianship.create(school=school, parent=parent.person, student=student.person)
    variables = {"s": to_global_id("Person", student.person.id)}
    for member in (teacher, parent):
        await gql.sign_in_as(member)
        assert (await gql.ok(USAGE, variables))["storageUsage"]["usedBytes"] == sent["size"]
    stranger = await factory.member(school, Role.PARENT)
    await gql.sign_in_as(stranger)
    assert await gql.error_code(USAGE, variables) == "NOT_FOUND"


async def test_pending_uploads_are_listed_until_attached(gql, samples, student) -> None:
    await gql.sign_in_as(student)
    first = await upload(gql, samples.pdf(), "一.pdf")
    second = await upload(gql, samples.png(), "二.png")
    listed = (await gql.ok("{ pendingUploads { id displayFilename size sha256 state kind category } }"))["pendingUploads"]
    assert [u["displayFilename"] for u in listed] == ["二.png", "一.pdf"]
    assert listed[1] == {
        "id": first["uploadId"], "displayFilename": "一.pdf", "size": first["size"], "sha256": first["sha256"],
        "state": "PENDING", "kind": "pdf", "category": "DOCUMENT",
    }  # fmt: skip
    await service.claim_upload(
        await student.actor(), second["uploadId"], student_id=student.person.id, category="document"
    )
    listed = (await gql.ok("{ pendingUploads { id } }"))["pendingUploads"]
    assert [u["id"] for u in listed] == [first["uploadId"]]


async def test_an_upload_is_a_node_for_those_who_may_read_it(gql, factory, samples, school, student) -> None:
    await gql.sign_in_as(student)
    sent = await upload(gql, samples.pdf(), "a.pdf")
    query = "query($id: ID!) { node(id: $id) { id ... on Upload { sha256 displayFilename downloadUrl } } }"
    node = (await gql.ok(query, {"id": sent["uploadId"]}))["node"]
    assert node["sha256"] == sent["sha256"] and "/files/" in node["downloadUrl"]
    classmate = await factory.member(school, Role.STUDENT)
    await gql.sign_in_as(classmate)
    assert await gql.error_code(query, {"id": sent["uploadId"]}) == "NOT_FOUND"


async def test_discarding_gives_the_space_back(gql, factory, samples, school, student) -> None:
    await gql.sign_in_as(student)
    keep = await upload(gql, samples.png(), "keep.png")
    drop = await upload(gql, samples.pdf(), "drop.pdf")
    mutation = "mutation($id: ID!) { discardUpload(id: $id) { usedBytes display } }"
    classmate = await factory.member(school, Role.STUDENT)
    await gql.sign_in_as(classmate)
    assert await gql.error_code(mutation, {"id": drop["uploadId"]}) == "NOT_FOUND"
    await gql.sign_in_as(student)
    usage = (await gql.ok(mutation, {"id": drop["uploadId"]}))["discardUpload"]
    assert usage["usedBytes"] == keep["size"]
    assert not await StoredBlob.exists(id=service.upload_pk(drop["uploadId"]))
    assert await gql.error_code(mutation, {"id": drop["uploadId"]}) == "NOT_FOUND"
