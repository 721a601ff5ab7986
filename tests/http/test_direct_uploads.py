"""Direct uploads to S3: declare, send to the bucket with a presigned POST, complete (verified).

Against a real S3 server over HTTP (moto). Moto accepts any POST that is signed, without
enforcing the policy's size and key conditions (real S3 and MinIO do): the completion's own
checks of size and SHA-256 are what these tests rely on.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from licheng.storage import service
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import BlobState, StoredBlob
from licheng.tenants.models import Role
from tests.http.conftest import MiB, Files
from tests.storage import samples


@pytest.fixture
async def school(factory):
    return await factory.school()


@pytest.fixture
async def student(factory, school):
    return await factory.member(school, Role.STUDENT)


S3_ONLY = pytest.mark.parametrize("store_app", ["s3"], indirect=True)


@pytest.fixture
def s3_files(files: Files) -> Files:
    assert not isinstance(files.store, LocalBlobStore)
    return files


async def begin(files: Files, member, data: bytes, name: str = "影片.mp4", category: str = "media", **declared: str) -> httpx.Response:
    params = {"category": category, "filename": name, "size": str(len(data)), "sha256": hashlib.sha256(data).hexdigest()}
    token = await files.token(member)
    return await files.http.post("/uploads/direct", params={**params, **declared}, headers={"authorization": f"Bearer {token}"})


async def send(answer: httpx.Response, data: bytes) -> int:
    body = answer.json()
    async with httpx.AsyncClient() as browser:  # to the S3 server itself, over HTTP
        sent = await browser.post(body["url"], data=body["fields"], files={"file": ("blob", data)})
    return sent.status_code


async def complete(files: Files, member, upload_id: str) -> httpx.Response:
    token = await files.token(member)
    return await files.http.post(f"/uploads/{upload_id}/complete", headers={"authorization": f"Bearer {token}"})


@pytest.mark.parametrize("store_app", ["local"], indirect=True)
async def test_local_disk_has_no_direct_uploads(files: Files, school, student) -> None:
    assert isinstance(files.store, LocalBlobStore)
    response = await begin(files, student, samples.mp4())
    assert response.status_code == 400 and response.json()["code"] == "DIRECT_UPLOAD_UNAVAILABLE"
    await files.assert_nothing_stored(school.id)


@S3_ONLY
async def test_a_file_sent_straight_to_s3_is_verified_and_charged_once(s3_files: Files, school, student) -> None:
    files, data = s3_files, samples.mp4(mdat_bytes=2 * MiB)
    answer = await begin(files, student, data)
    assert answer.status_code == 201, answer.text
    assert answer.json()["fields"]["key"].startswith(f"{school.id}/") and "policy" in answer.json()["fields"]
    row = await StoredBlob.get(id=service.upload_pk(answer.json()["uploadId"]))
    assert row.state is BlobState.RECEIVING and await files.used(student.person.id) == 0
    assert await send(answer, data) in (200, 201, 204)
    done = await complete(files, student, answer.json()["uploadId"])
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["size"], body["sha256"], body["kind"], body["state"]) == (len(data), hashlib.sha256(data).hexdigest(), "mp4", "pending")
    assert body["usage"]["usedBytes"] == len(data) == await files.used(student.person.id)
    assert await files.read(row.key) == data
    again = await complete(files, student, answer.json()["uploadId"])  # a retried request
    assert again.status_code == 201 and await files.used(student.person.id) == len(data)
    claimed = await service.claim_upload(await student.actor(), row.id, student_id=student.person.id, category="media")
    assert claimed.state is BlobState.ATTACHED


@S3_ONLY
@pytest.mark.parametrize(
    ("sent", "declared", "code"),
    [
        (samples.mp4(), {"sha256": hashlib.sha256(b"other").hexdigest()}, "UPLOAD_CHECKSUM_MISMATCH"),
        (samples.mp4(), {"size": str(len(samples.mp4()) + 5)}, "UPLOAD_SIZE_MISMATCH"),
        (samples.mp4()[:-100], {}, "UPLOAD_TRUNCATED"),
        (samples.pdf(), {}, "UPLOAD_TYPE_NOT_ALLOWED"),
        (samples.mp4(), {"filename": "影片.mp3"}, "UPLOAD_EXTENSION_MISMATCH"),
    ],
)
async def test_a_file_that_is_not_what_was_declared_or_allowed_is_removed(
    s3_files: Files, school, student, sent: bytes, declared: dict[str, str], code: str
) -> None:
    files = s3_files
    name = declared.pop("filename", "影片.mp4")
    answer = await begin(files, student, sent, name, **declared)
    assert answer.status_code == 201, answer.text
    assert await send(answer, sent) in (200, 201, 204)
    done = await complete(files, student, answer.json()["uploadId"])
    assert done.status_code in (413, 415, 422) and done.json()["code"] == code, done.text
    await files.assert_nothing_stored(school.id)
    assert await files.used(student.person.id) == 0


@S3_ONLY
async def test_completing_before_the_file_arrived_keeps_the_intent(s3_files: Files, school, student) -> None:
    files, data = s3_files, samples.mp3()
    answer = await begin(files, student, data, "朗讀.mp3")
    early = await complete(files, student, answer.json()["uploadId"])
    assert early.json()["code"] == "UPLOAD_NOT_RECEIVED"
    assert await StoredBlob.filter(school_id=school.id, state=BlobState.RECEIVING).count() == 1
    assert await send(answer, data) in (200, 201, 204)
    assert (await complete(files, student, answer.json()["uploadId"])).status_code == 201


@S3_ONLY
async def test_declarations_past_a_limit_are_refused_before_anything_is_signed(s3_files: Files, school, student) -> None:
    files = s3_files
    too_big = await files.http.post(
        "/uploads/direct", headers={"authorization": f"Bearer {await files.token(student)}"},
        params={"category": "media", "filename": "a.mp4", "size": str(10 * MiB + 1), "sha256": "0" * 64},
    )  # fmt: skip
    assert too_big.status_code == 413 and too_big.json()["code"] == "UPLOAD_TOO_LARGE"
    with files.limits(quota_bytes=1000):
        over = await begin(files, student, samples.mp4())
    assert over.status_code == 413 and over.json()["code"] == "QUOTA_EXCEEDED"
    bad = await begin(files, student, samples.mp4(), sha256="not-a-checksum")
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "sha256"
    await files.assert_nothing_stored(school.id)


@S3_ONLY
async def test_only_the_uploader_completes(s3_files: Files, factory, school, student) -> None:
    files, data = s3_files, samples.mp4()
    answer = await begin(files, student, data)
    assert await send(answer, data) in (200, 201, 204)
    classmate = await factory.member(school, Role.STUDENT)
    assert (await complete(files, classmate, answer.json()["uploadId"])).status_code == 404
    anonymous = await files.http.post(f"/uploads/{answer.json()['uploadId']}/complete")
    assert anonymous.status_code == 401
    assert (await complete(files, student, answer.json()["uploadId"])).status_code == 201
