"""Isolation cases for storage operations (see tests/graphql/test_isolation.py)."""

from __future__ import annotations

import uuid

from licheng.graphql.relay import to_global_id
from licheng.storage.models import BlobCategory, BlobState, StoredBlob
from tests.graphql.isolation import Case, World


async def _upload_of_b(w: World) -> StoredBlob:
    """A pending upload of school B's student (a row is enough: nothing reads the bytes)."""
    if "upload_b" not in w.extra:
        w.extra["upload_b"] = await StoredBlob.create(
            school_id=w.school_b.id, owner_person_id=w.student_b.person.id, charged=True,
            uploader_account_id=w.student_b.account.id, key=f"{w.school_b.id}/2026/{uuid.uuid4().hex}",
            size=1234, sha256="ab" * 32, kind="pdf", mime="application/pdf", category=BlobCategory.DOCUMENT,
            display_filename=f"乙校作品{w.school_b.code}.pdf", state=BlobState.PENDING,
        )  # fmt: skip
    return w.extra["upload_b"]


async def _upload_b_id(w: World) -> dict:
    return {"id": to_global_id("Upload", (await _upload_of_b(w)).id)}


async def _student_b(w: World) -> dict:
    await _upload_of_b(w)
    return {"s": to_global_id("Person", w.student_b.person.id)}


def _secrets(w: World) -> list[str]:
    return [w.school_b.name, w.student_b.person.name, f"乙校作品{w.school_b.code}"]


async def _upload_b_untouched(w: World) -> None:
    row = await StoredBlob.get(id=w.extra["upload_b"].id)
    assert row.state is BlobState.PENDING


async def _pending_of_b(w: World) -> dict:
    await _upload_of_b(w)
    return {}


CASES: dict[str, Case] = {
    "Query.storageUsage": Case(
        "query($s: ID) { storageUsage(studentId: $s) { usedBytes limitBytes display } }", _student_b, secrets=_secrets
    ),
    "Query.pendingUploads": Case(
        "{ pendingUploads { id displayFilename sha256 downloadUrl } }", _pending_of_b, secrets=_secrets
    ),
    "Mutation.discardUpload": Case(
        "mutation($id: ID!) { discardUpload(id: $id) { usedBytes } }",
        _upload_b_id,
        secrets=_secrets,
        check=_upload_b_untouched,
    ),
}
