"""GET /files/{id} over local disk and S3: who may read, how it is served, what is audited."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from licheng.graphql.relay import to_global_id
from licheng.storage import service
from licheng.storage.errors import BlobIntegrityError
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import StoredBlob
from licheng.storage.tickets import issue_ticket
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Guardianship, Role
from tests.http.conftest import Files, local_path
from tests.storage import samples


@pytest.fixture
async def school(factory):
    return await factory.school()


@pytest.fixture
async def student(factory, school):
    return await factory.member(school, Role.STUDENT, name="林小華")


async def uploaded(files: Files, member, data: bytes, name: str = "報告 v2.pdf", **options) -> StoredBlob:
    response = await files.upload(member, data, name, **options)
    assert response.status_code == 201, response.text
    return await StoredBlob.get(id=service.upload_pk(response.json()["uploadId"]))


async def attached(files: Files, member, data: bytes, name: str = "報告 v2.pdf", **options) -> StoredBlob:
    row = await uploaded(files, member, data, name, **options)
    student_id = row.owner_person_id
    return await service.claim_upload(
        await member.actor(), row.id, student_id=student_id, category=row.category.value, attached_to="test:1"
    )


async def body_of(files: Files, response: httpx.Response) -> tuple[bytes, httpx.Headers]:
    """The file and the headers it came with, following S3's redirect over real HTTP."""
    if isinstance(files.store, LocalBlobStore):
        assert response.status_code == 200, response.text
        return response.content, response.headers
    assert response.status_code == 307, response.text
    assert response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    expires = int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0])
    assert expires <= 300  # short-lived
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    return fetched.content, fetched.headers


async def downloads_logged(row: StoredBlob) -> list[AuditEntry]:
    return await AuditEntry.filter(action="download_file", record_id=str(row.id)).order_by("id")


async def test_the_owner_downloads_his_file_as_an_attachment(files: Files, school, student) -> None:
    data = samples.pdf()
    row = await uploaded(files, student, data)
    content, headers = await body_of(files, await files.download(student, row.id))
    assert content == data
    assert headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E5%A0%B1%E5%91%8A%20v2.pdf" in headers["content-disposition"]
    assert headers["content-type"] == "application/pdf"
    if isinstance(files.store, LocalBlobStore):
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-length"] == str(len(data))
        assert "sandbox" in headers["content-security-policy"]
        assert headers["repr-digest"].startswith("sha-256=:")
    assert await downloads_logged(row) == []  # his own file: nothing to audit


async def test_a_homeroom_teacher_opening_a_students_file_is_audited(files: Files, factory, school) -> None:
    # Which teachers may open which files is the portfolio's rule (tests/portfolio/test_download_rules.py).
    school_class = await factory.school_class(school)
    student = await factory.member(school, Role.STUDENT, school_class=school_class)
    teacher = await factory.member(school, Role.TEACHER, Role.HOMEROOM, homeroom_of=school_class)
    row = await attached(files, student, samples.png(), "poster.png")
    content, _ = await body_of(files, await files.download(teacher, row.id))
    assert hashlib.sha256(content).hexdigest() == row.sha256
    [entry] = await downloads_logged(row)
    assert (entry.account_id, entry.student_id, entry.school_id) == (teacher.account.id, student.person.id, school.id)
    assert entry.acting_role == "homeroom" and entry.changes["sha256"] == row.sha256


async def test_a_pending_upload_is_only_its_owners(files: Files, factory, school, student) -> None:
    teacher = await factory.member(school, Role.TEACHER, Role.STAFF)
    row = await uploaded(files, student, samples.pdf())
    response = await files.download(teacher, row.id)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


async def test_parents_read_their_childs_files_and_no_one_elses(files: Files, factory, school, student) -> None:
    parent = await factory.member(school, Role.PARENT)
    await Guardianship.create(school=school, parent=parent.person, student=student.person)
    other_parent = await factory.member(school, Role.PARENT)
    row = await attached(files, student, samples.jpeg(), "photo.jpg")
    content, _ = await body_of(files, await files.download(parent, row.id))
    assert content == samples.jpeg()
    assert (await files.download(other_parent, row.id)).status_code == 404
    assert [e.account_id for e in await downloads_logged(row)] == [parent.account.id]


async def test_another_student_or_school_cannot_read_a_file(files: Files, factory, school, student) -> None:
    classmate = await factory.member(school, Role.STUDENT)
    other_school = await factory.school()
    outsider = await factory.member(other_school, Role.STAFF, Role.TEACHER, Role.COUNSELOR)
    row = await attached(files, student, samples.pdf())
    for member in (classmate, outsider):
        response = await files.download(member, row.id)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert (await files.download(None, row.id)).status_code == 401
    assert await downloads_logged(row) == []


async def test_counseling_records_are_for_counselors_and_staff(files: Files, factory, school, student) -> None:
    counselor = await factory.member(school, Role.COUNSELOR)
    colleague = await factory.member(school, Role.COUNSELOR)
    teacher = await factory.member(school, Role.TEACHER, Role.HOMEROOM)
    row = await attached(
        files, counselor, samples.pdf(), "諮詢.pdf", category="counseling",
        student=to_global_id("Person", student.person.id),
    )  # fmt: skip
    assert (await files.download(teacher, row.id)).status_code == 404
    content, _ = await body_of(files, await files.download(colleague, row.id))
    assert content == samples.pdf()


async def test_a_download_link_works_without_a_token_header_for_a_few_minutes(
    files: Files, factory, school, student
) -> None:
    teacher = await factory.member(school, Role.STAFF)
    row = await attached(files, student, samples.pdf())
    query = "query($id: ID!) { node(id: $id) { ... on Upload { downloadUrl sha256 } } }"
    answer = await files.http.post(
        "/graphql",
        json={"query": query, "variables": {"id": to_global_id("Upload", row.id)}},
        headers={"authorization": f"Bearer {await files.token(teacher)}"},
    )
    node = answer.json()["data"]["node"]
    assert node["sha256"] == row.sha256
    url = urlsplit(node["downloadUrl"])
    assert url.path == f"/files/{row.id}"
    response = await files.http.get(f"{url.path}?{url.query}")  # no Authorization header
    content, _ = await body_of(files, response)
    assert content == samples.pdf()
    assert [e.account_id for e in await downloads_logged(row)] == [teacher.account.id]

    ticket = parse_qs(url.query)["ticket"][0]
    tampered = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    expired = issue_ticket(files.settings, account_id=teacher.account.id, school_id=school.id, blob_id=row.id, seconds=-1)
    other = await attached(files, student, samples.png(), "b.png")
    for bad, blob_id in ((tampered, row.id), (expired, row.id), (ticket, other.id)):
        assert (await files.http.get(f"/files/{blob_id}", params={"ticket": bad})).status_code == 404


async def test_a_ticket_is_checked_again_when_used(files: Files, factory, school, student) -> None:
    teacher = await factory.member(school, Role.STAFF)
    row = await attached(files, student, samples.pdf())
    ticket = issue_ticket(files.settings, account_id=teacher.account.id, school_id=school.id, blob_id=row.id)
    from licheng.tenants.models import Membership

    await Membership.filter(person_id=teacher.person.id).delete()  # no longer staff here
    assert (await files.http.get(f"/files/{row.id}", params={"ticket": ticket})).status_code == 404


async def test_a_corrupted_file_never_arrives_whole(files: Files, school, student) -> None:
    data = samples.pdf(pages=3)
    row = await attached(files, student, data)
    if isinstance(files.store, LocalBlobStore):
        path = local_path(files.store, row.key)
        damaged = bytearray(path.read_bytes())
        damaged[len(damaged) // 2] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with pytest.raises(BlobIntegrityError):  # the stream breaks off before its end
            await files.download(student, row.id)
    else:
        await files.store.put(row.key, samples.chunked(data[:-1] + b"X"), max_bytes=None)
        response = await files.download(student, row.id, verify="1")
        assert response.status_code == 500 and response.json()["code"] == "BLOB_CORRUPTED"


async def test_a_missing_file_is_an_error_not_an_empty_download(files: Files, school, student) -> None:
    row = await attached(files, student, samples.pdf())
    await files.store.delete(row.key)
    params = {} if isinstance(files.store, LocalBlobStore) else {"verify": "1"}
    response = await files.download(student, row.id, **params)
    assert response.status_code == 500 and response.json()["code"] == "BLOB_MISSING"


async def test_head_describes_the_file_without_counting_as_a_read(files: Files, factory, school, student) -> None:
    teacher = await factory.member(school, Role.STAFF)
    row = await attached(files, student, samples.pdf())
    token = await files.token(teacher)
    response = await files.http.head(f"/files/{row.id}", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(row.size)
    assert await downloads_logged(row) == []


async def test_the_portfolio_attaches_an_upload_through_claim_upload(files: Files, factory, school, student) -> None:
    """The seam with the portfolio: the upload ID goes into attach_file, which claims it here."""
    from licheng.portfolio.files import attach_file

    data = samples.pdf()
    response = await files.upload(student, data, "成果.pdf")
    ref = await attach_file(
        await student.actor(), student_id=student.person.id, category="document", upload_ref=response.json()["uploadId"]
    )
    row = await StoredBlob.get(id=service.upload_pk(response.json()["uploadId"]))
    assert row.state.value == "attached" and (ref.sha256, ref.size) == (row.sha256, row.size)
    teacher = await factory.member(school, Role.STAFF)
    content, _ = await body_of(files, await files.download(teacher, row.id))
    assert content == data
