"""POST /uploads over local disk and S3: accepted files, refusals, authorisation, limits."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from licheng.graphql.relay import to_global_id
from licheng.http.errors import status_of
from licheng.storage.models import BlobCategory, BlobState, StoredBlob
from licheng.tenants.models import Role
from tests.http.conftest import MiB, Files
from tests.storage import samples
from tests.storage.test_checks import BAD


@pytest.fixture
async def school(factory):
    return await factory.school()


@pytest.fixture
async def student(factory, school):
    return await factory.member(school, Role.STUDENT, name="王小明")


async def test_a_student_uploads_a_pdf_and_gets_an_upload_id(files: Files, school, student) -> None:
    data = samples.pdf(pages=2)
    response = await files.upload(student, data, "成果報告.pdf")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["kind"], body["mime"], body["category"]) == ("pdf", "application/pdf", "document")
    assert body["displayFilename"] == "成果報告.pdf" and body["state"] == "pending"
    assert body["usage"]["usedBytes"] == len(data) and body["usage"]["display"].endswith(" / 150 MB")
    row = await StoredBlob.get(school_id=school.id)
    assert body["uploadId"] == to_global_id("Upload", row.id)
    assert (row.state, row.size, row.sha256, row.owner_person_id) == (
        BlobState.PENDING, len(data), body["sha256"], student.person.id,
    )  # fmt: skip
    assert row.uploader_account_id == student.account.id and row.charged
    assert await files.keys(school.id) == [row.key] and row.key.startswith(f"{school.id}/")
    assert await files.read(row.key) == data
    assert await files.used(student.person.id) == len(data)


async def test_the_name_may_come_percent_encoded_in_a_header(files: Files, school, student) -> None:
    response = await files.upload(
        student, samples.png(), None, headers={"x-filename": quote("海報 第一版.png")}
    )
    assert response.status_code == 201, response.text
    assert response.json()["displayFilename"] == "海報 第一版.png"


async def test_media_uploads_go_to_the_media_category(files: Files, school, student) -> None:
    response = await files.upload(student, samples.mp4(), "實驗影片.mp4", category="media")
    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["category"]) == ("mp4", "media")


def _http_case(case: str) -> tuple[str | None, bytes, str, str, dict]:
    """A case of the check-level corpus as a client sends it: a category, maybe a policy limit."""
    name, data, code, options = BAD[case](samples)
    media = str(name).lower().endswith((".mp3", ".mp4")) and case != "media where policy takes documents only"
    changes = {}
    if case == "oversize by one byte":
        changes = {"document_max_bytes": options["category_limits"]["document"]}
    return name, data, code, "media" if media else "document", changes


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_upload_is_refused_with_its_code_and_nothing_is_kept(files: Files, factory, case: str) -> None:
    school = await factory.school()
    student = await factory.member(school, Role.STUDENT)
    name, data, code, category, changes = _http_case(case)
    with files.limits(**changes):
        response = await files.upload(student, data, name, category=category)
    assert response.status_code == status_of(code), response.text
    body = response.json()
    assert body["code"] == code and body["message_zh"] and body["message_en"]
    await files.assert_nothing_stored(school.id)
    assert await files.used(student.person.id) == 0


async def test_a_refusal_leaves_the_quota_as_it_was(files: Files, school, student) -> None:
    first = await files.upload(student, samples.jpeg(), "a.jpg")
    assert first.status_code == 201
    used = await files.used(student.person.id)
    refused = await files.upload(student, samples.pdf_with_javascript(), "js.pdf")
    assert refused.json()["code"] == "UPLOAD_PDF_ACTIVE_CONTENT"
    assert await files.used(student.person.id) == used
    assert len(await files.keys(school.id)) == 1


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    files: Files, school, student
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(80):
            pulled += 1
            yield b"\0" * 65536

    token = await files.token(student)
    response = await files.http.post(
        "/uploads",
        params={"category": "document", "filename": "big.pdf"},
        content=body(),
        headers={"authorization": f"Bearer {token}", "content-length": str(5 * MiB)},
    )
    assert response.status_code == 413 and response.json()["code"] == "UPLOAD_TOO_LARGE"
    assert response.json()["details"]["limit_bytes"] == 4 * MiB
    assert pulled <= 1  # the transport may prime one chunk; the app read none
    await files.assert_nothing_stored(school.id)


@pytest.mark.parametrize("declared", [True, False])
async def test_an_upload_past_the_quota_is_refused_and_nothing_is_kept(
    files: Files, school, student, declared: bool
) -> None:
    first = samples.png(100, 100)
    second = samples.png(120, 120)
    with files.limits(quota_bytes=len(first) + len(second) - 1):
        assert (await files.upload(student, first, "one.png")).status_code == 201
        response = await files.upload(student, second, "two.png", stream=not declared)
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == "QUOTA_EXCEEDED"
    assert body["details"] == {"used_bytes": len(first), "limit_bytes": len(first) + len(second) - 1, "size": len(second)}
    assert await files.used(student.person.id) == len(first)
    assert len(await files.keys(school.id)) == 1
    assert await StoredBlob.filter(school_id=school.id).count() == 1


async def test_exactly_filling_the_quota_is_accepted(files: Files, school, student) -> None:
    data = samples.png(90, 90)
    with files.limits(quota_bytes=len(data)):
        response = await files.upload(student, data, "full.png")
    assert response.status_code == 201
    assert response.json()["usage"]["warning"] is True
    assert await files.used(student.person.id) == len(data)


async def test_signing_in_is_required(files: Files, school) -> None:
    response = await files.upload(None, samples.pdf())
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"
    forged = await files.upload(None, samples.pdf(), headers={"authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    await files.assert_nothing_stored(school.id)


async def test_an_initial_password_token_may_not_upload(files: Files, factory, school) -> None:
    newcomer = await factory.member(school, Role.STUDENT)
    newcomer.account.must_change_password = True
    await newcomer.account.save(update_fields=["must_change_password"])
    response = await files.upload(newcomer, samples.pdf())
    assert response.status_code == 403 and response.json()["code"] == "PASSWORD_CHANGE_REQUIRED"


async def test_a_student_uploads_only_his_own_files(files: Files, factory, school, student) -> None:
    classmate = await factory.member(school, Role.STUDENT)
    response = await files.upload(student, samples.pdf(), student=to_global_id("Person", classmate.person.id))
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    teacher = await factory.member(school, Role.TEACHER)
    assert (await files.upload(teacher, samples.pdf())).status_code == 403
    await files.assert_nothing_stored(school.id)


async def test_a_counselor_uploads_a_counseling_record_about_a_student(files: Files, factory, school, student) -> None:
    counselor = await factory.member(school, Role.COUNSELOR)
    response = await files.upload(
        counselor, samples.pdf(), "諮詢紀錄.pdf", category="counseling", student=to_global_id("Person", student.person.id)
    )
    assert response.status_code == 201, response.text
    row = await StoredBlob.get(school_id=school.id)
    assert (row.category, row.owner_person_id, row.charged) == (BlobCategory.COUNSELING, student.person.id, False)
    assert "usage" not in response.json()
    assert await files.used(student.person.id) == 0  # the school's record, not his portfolio space


async def test_counseling_records_have_their_own_limit_and_uploaders(files: Files, factory, school, student) -> None:
    counselor = await factory.member(school, Role.COUNSELOR)
    me = to_global_id("Person", student.person.id)
    assert (await files.upload(student, samples.pdf(), category="counseling", student=me)).status_code == 403
    missing = await files.upload(counselor, samples.pdf(), category="counseling")
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_INPUT"
    big = samples.png(700, 700)  # over 1 MiB of noise
    with files.limits(counseling_max_bytes=MiB):
        response = await files.upload(counselor, big, "big.png", category="counseling", student=me)
    assert response.status_code == 413 and response.json()["details"]["limit_bytes"] == MiB
    await files.assert_nothing_stored(school.id)


async def test_no_one_uploads_about_another_schools_student(files: Files, factory, school) -> None:
    other = await factory.school()
    stranger = await factory.member(other, Role.STUDENT)
    counselor = await factory.member(school, Role.COUNSELOR, Role.STAFF)
    response = await files.upload(
        counselor, samples.pdf(), category="counseling", student=to_global_id("Person", stranger.person.id)
    )
    assert response.status_code == 404
    await files.assert_nothing_stored(school.id)
    await files.assert_nothing_stored(other.id)


async def test_an_unknown_category_is_refused(files: Files, school, student) -> None:
    response = await files.upload(student, samples.pdf(), category="photos")
    assert response.status_code == 400 and response.json()["details"]["field"] == "category"
    await files.assert_nothing_stored(school.id)


async def test_a_large_upload_streams_in_bounded_memory(files: Files, school, student) -> None:
    """40 MB through the app: memory stays far below the file (no whole copy, no spooling)."""
    import tracemalloc

    from licheng.storage.local import LocalBlobStore

    payload = 40 * MiB
    head = samples.mp4(mdat_bytes=0)[:-8] + (8 + payload).to_bytes(4, "big") + b"mdat"
    block = b"\x5a" * 65536

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(payload // len(block)):
            yield block  # the same object: the test itself allocates nothing

    token = await files.token(student)
    with files.limits(media_max_bytes=64 * MiB):
        tracemalloc.start()
        try:
            response = await files.http.post(
                "/uploads",
                params={"category": "media", "filename": "long.mp4"},
                content=body(),
                headers={"authorization": f"Bearer {token}"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(head) + payload
    # Local: a few write batches. S3: one 5 MiB part and the SDK's copies of it.
    assert peak < (8 * MiB if isinstance(files.store, LocalBlobStore) else 24 * MiB), peak


async def test_a_file_whose_check_overruns_is_refused_leaving_nothing(files: Files, school, student, monkeypatch) -> None:
    from licheng.storage import sandbox

    before = await files.upload(student, samples.jpeg(), "before.jpg")
    assert before.status_code == 201
    used = await files.used(student.person.id)
    monkeypatch.setattr(sandbox, "CHECK_SECONDS", 0.05)  # the time source; the file is really slow to check
    response = await files.upload(student, samples.png_slow_to_check(), "透明.png")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "UPLOAD_CHECK_TIMEOUT" and body["details"] == {"seconds": 0.05}
    assert "逾時" in body["message_zh"] and "too long" in body["message_en"]
    assert await files.used(student.person.id) == used
    assert len(await files.keys(school.id)) == 1
    assert await StoredBlob.filter(school_id=school.id).count() == 1
