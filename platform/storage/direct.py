"""Direct uploads: the browser sends the file straight to S3, the app checks it on completion.

For large media on S3 the bytes need not pass through the app at all:

1. `begin_direct_upload`: the client declares category, name, size and
   SHA-256; the size limit and the quota are checked against the declared
   size, a RECEIVING intent row is committed, and a presigned POST policy
   (exactly that size, under that key, valid 15 minutes) is answered;
2. the browser POSTs the file to the bucket (S3 enforces size and key);
3. `complete_direct_upload`: the object is read back in full and must have
   the declared size and SHA-256; then the same checks as a streamed upload
   (type by content, extension, polyglot head, structure in a worker with a
   time limit) and the same finishing transaction (quota charged with the
   conditional update, row PENDING). Any refusal deletes the object and the
   intent; nothing is charged. An intent never completed is reaped with its
   object after 6 hours, like any other.

The local disk has no such path (`DIRECT_UPLOAD_UNAVAILABLE`): streamed
uploads (`POST /uploads`) work on both stores.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.storage import quota
from licheng.storage.blobstore import BlobStore
from licheng.storage.checks import CheckedUpload, check_stored, classify
from licheng.storage.errors import UPLOAD_EMPTY, UPLOAD_TOO_LARGE, UploadRefused
from licheng.storage.filenames import normalise_filename
from licheng.storage.keys import new_blob_key
from licheng.storage.limits import UploadLimits
from licheng.storage.models import BlobState, StoredBlob
from licheng.storage.service import _abandon, _record_intent, _shielded, _upload_owner, parse_category, settle_checked
from licheng.storage.sniff import HEAD_BYTES
from licheng.tenants.actor import Actor

EXPIRES = timedelta(minutes=15)
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class DirectUpload:
    """Where and how the browser sends the file."""

    url: str
    fields: dict[str, str]  # form fields to send before the file ("file" last)
    expires_at: datetime


class DirectUploadUnavailable(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "DIRECT_UPLOAD_UNAVAILABLE", "此伺服器不提供直接上傳，請改用一般上傳。",
            "Direct uploads need an S3 store; use POST /uploads.",
        )  # fmt: skip


def _refused(code: str, zh: str, en: str, **details: object) -> UploadRefused:
    return UploadRefused(code, zh, en, **details)


async def begin_direct_upload(
    actor: Actor, store: BlobStore, *, category: str | None, filename: str | bytes | None, size: int,
    sha256: str, limits: UploadLimits, student_id: int | None = None,
) -> tuple[StoredBlob, DirectUpload]:  # fmt: skip
    """Check what the client declares, commit the intent, and sign the browser's POST."""
    presign = getattr(store, "presigned_post", None)
    if presign is None:
        raise DirectUploadUnavailable()
    school_id = actor.require_school()
    kind = parse_category(category)
    owner_id, charged = await _upload_owner(actor, kind, student_id)
    display = normalise_filename(filename)
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256):
        raise InvalidInput("sha256", "SHA-256 須為 64 位十六進位字元", "sha256 is 64 hexadecimal characters")
    if size <= 0:
        raise UploadRefused.of(UPLOAD_EMPTY)
    max_bytes = limits.max_bytes(kind.value)
    if size > max_bytes:
        raise UploadRefused.of(UPLOAD_TOO_LARGE, limit_bytes=max_bytes, received_bytes=size)
    if charged and await quota.used_bytes(owner_id) + size > limits.quota_bytes:
        used = await quota.used_bytes(owner_id)
        raise quota.QuotaExceeded(used_bytes=used, limit_bytes=limits.quota_bytes, size=size)
    key = new_blob_key(school_id)
    row = await _record_intent(actor, school_id, owner_id, charged, kind, display, key)
    await StoredBlob.filter(id=row.id).update(size=size, sha256=sha256)  # what the client promised
    row.size, row.sha256 = size, sha256
    url, fields = await presign(key, size=size, expires=EXPIRES)
    return row, DirectUpload(url, fields, datetime.now(UTC) + EXPIRES)


async def complete_direct_upload(actor: Actor, store: BlobStore, upload_id: int, *, limits: UploadLimits) -> StoredBlob:
    """Verify and accept the object the browser sent (idempotent once accepted)."""
    school_id = actor.require_school()
    row = await StoredBlob.get_or_none(id=upload_id, school_id=school_id)
    if row is None or row.uploader_account_id is None or row.uploader_account_id != actor.account_id:
        raise NotFound("upload", "上傳檔案")
    if row.state in (BlobState.PENDING, BlobState.ATTACHED):
        return row  # completed already (a retried request)
    if row.state is not BlobState.RECEIVING:
        raise NotFound("upload", "上傳檔案")
    stat = await store.stat(row.key)
    if stat is None:  # not sent yet, or S3 refused it: the intent stays until it expires
        raise LichengError(
            "UPLOAD_NOT_RECEIVED", "尚未收到檔案，請先完成上傳。", "The file has not arrived; send it first.",
        )  # fmt: skip
    try:
        checked = await _verify(store, row, stat.size, limits)
    except BaseException:
        await _shielded(_abandon(store, row))
        raise
    return await settle_checked(store, row, checked, limits)


async def _verify(store: BlobStore, row: StoredBlob, size: int, limits: UploadLimits) -> CheckedUpload:
    declared_size, declared_sha = int(row.size), str(row.sha256)
    if size != declared_size:
        raise _refused(
            "UPLOAD_SIZE_MISMATCH", "收到的檔案大小與宣告不符，請重新上傳。",
            "The file received is not the size declared; upload it again.", declared=declared_size, received=size,
        )  # fmt: skip
    digest, head = hashlib.sha256(), bytearray()
    async for chunk in store.open(row.key, chunk_size=1024 * 1024):
        digest.update(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
    if digest.hexdigest() != declared_sha:
        raise _refused(
            "UPLOAD_CHECKSUM_MISMATCH", "收到的檔案與宣告的 SHA-256 不符，請重新上傳。",
            "The file received does not have the SHA-256 declared; upload it again.",
        )  # fmt: skip
    category_limits = limits.category_limits(row.category.value)
    file_type, limit = classify(bytes(head), row.display_filename, category_limits)
    if size > limit:
        raise UploadRefused.of(UPLOAD_TOO_LARGE, limit_bytes=limit, received_bytes=size)
    flags = await check_stored(store, row.key, size, file_type, pdf_active_content=limits.pdf_active_content)
    return CheckedUpload(
        size=size, sha256=declared_sha, kind=file_type.kind, mime=file_type.mime, category=file_type.category,
        display_filename=row.display_filename, flags=flags,
    )  # fmt: skip
