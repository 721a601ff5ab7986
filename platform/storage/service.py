"""Storage services: receive an upload, attach it, discard it, usage, and who may read a file.

An upload is acknowledged only once its blob is durable *and* its row is
committed, and a failure at any point leaves no blob and no charge:

1. intent: a RECEIVING row with a fresh key is committed (and the student's
   quota ledger row made sure of) while the body starts arriving, but before
   the blob can appear under its key: the stream's end (where a store renames
   its temporary file or completes its S3 upload) waits for that commit;
2. the body streams through `store_checked_upload` into that key: size limit,
   SHA-256, type by content, structure; a refusal deletes the blob;
3. one transaction charges the quota with a conditional UPDATE and turns the
   row PENDING with size, SHA-256 and kind; if either fails the blob is
   deleted and the row forgotten.

A crash between steps leaves a RECEIVING row (and maybe its blob or a
temporary file), or, before the intent commits, only a temporary file or an
unfinished multipart upload: `reaper.reap` removes them all. An upload never
attached to a portfolio record within a day is reaped too, and its quota
refunded.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterable, AsyncIterator, Coroutine
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import Forbidden, InvalidInput, LichengError, NotFound
from licheng.storage import quota
from licheng.storage.access import DOWNLOAD_RULES, authorize_download, get_upload, record_download
from licheng.storage.blobstore import BlobStore
from licheng.storage.checks import CheckedUpload, store_checked_upload
from licheng.storage.errors import UPLOAD_TOO_LARGE, UploadRefused
from licheng.storage.filenames import normalise_filename
from licheng.storage.keys import new_blob_key
from licheng.storage.limits import UploadLimits
from licheng.storage.models import LIVE_STATES, BlobCategory, BlobState, StoredBlob
from licheng.tenants import service as tenants
from licheng.tenants.actor import Actor
from licheng.tenants.models import Membership, Role

__all__ = [
    "DOWNLOAD_RULES",
    "authorize_download",
    "blob_usage",
    "claim_upload",
    "discard_upload",
    "drop_intent",
    "get_upload",
    "pending_uploads",
    "receive_upload",
    "record_download",
    "remove_blob",
    "upload_pk",
]

log = logging.getLogger(__name__)


class UploadExpired(LichengError):
    def __init__(self) -> None:
        super().__init__(
            "UPLOAD_EXPIRED", "上傳逾時已被清除，請重新上傳。", "The upload took too long and was cleared; upload again."
        )


def parse_category(value: str | None) -> BlobCategory:
    try:
        return BlobCategory(value or "")
    except ValueError:
        raise InvalidInput(
            "category",
            "檔案類別須為 document、media 或 counseling",
            "The category is document, media or counseling",
            value=value,
        ) from None


async def _upload_owner(actor: Actor, category: BlobCategory, student_id: int | None) -> tuple[int, bool]:
    """(the student the file belongs to, whether it is charged to his quota)."""
    school_id = actor.require_school()
    if category is BlobCategory.COUNSELING:
        if not actor.has(Role.COUNSELOR, Role.STAFF):
            raise Forbidden("upload counseling records", "上傳課程諮詢紀錄")
        if student_id is None:
            raise InvalidInput("student", "請指定學生", "Name the student the record is about")
        if not await Membership.exists(school_id=school_id, person_id=student_id, role=Role.STUDENT):
            raise NotFound("student", "學生")
        return student_id, False  # the school's record about him: not his portfolio space
    if student_id is not None and student_id != actor.person_id and actor.has(Role.STAFF):
        # Staff upload for a student only to attach it to a late addition (補件); it is his file
        # and his quota. The portfolio refuses to attach it anywhere else.
        if not await Membership.exists(school_id=school_id, person_id=student_id, role=Role.STUDENT):
            raise NotFound("student", "學生")
        return student_id, True
    if not actor.has(Role.STUDENT) or actor.person_id is None:
        raise Forbidden("upload portfolio files (students upload their own)", "上傳學習歷程檔案（限學生本人）")
    if student_id is not None and student_id != actor.person_id:
        raise NotFound("student", "學生")
    return actor.person_id, True


async def receive_upload(
    actor: Actor,
    store: BlobStore,
    chunks: AsyncIterable[bytes],
    *,
    category: str | None,
    filename: str | bytes | None,
    limits: UploadLimits,
    student_id: int | None = None,
    content_length: int | None = None,
) -> StoredBlob:
    """Store an upload streamed in `chunks` as a PENDING blob charged to its student,
    or refuse it (`UploadRefused`, `QuotaExceeded`, ...) leaving nothing behind."""
    school_id = actor.require_school()
    kind = parse_category(category)
    owner_id, charged = await _upload_owner(actor, kind, student_id)
    display = normalise_filename(filename)
    max_bytes = limits.max_bytes(kind.value)
    if content_length is not None and content_length > max_bytes:  # refuse before reading
        raise UploadRefused.of(UPLOAD_TOO_LARGE, limit_bytes=max_bytes, received_bytes=content_length)
    if charged and content_length is not None:
        used = await quota.used_bytes(owner_id)
        if used + content_length > limits.quota_bytes:
            raise quota.QuotaExceeded(used_bytes=used, limit_bytes=limits.quota_bytes, size=content_length)

    key = new_blob_key(school_id)
    # The intent commits while the first bytes arrive (it used to cost a commit's wait
    # before the body); the body's end, and so the blob's appearance, waits for it.
    intent = asyncio.create_task(_record_intent(actor, school_id, owner_id, charged, kind, display, key))
    try:
        checked = await store_checked_upload(
            store,
            key,
            _ending_after(chunks, intent),
            filename=display,
            category_limits=limits.category_limits(kind.value),
            pdf_active_content=limits.pdf_active_content,
        )
        row = await intent
    except BaseException:
        await _shielded(_abandon_intent(store, intent))  # the store already removed what it wrote
        raise
    return await settle_checked(store, row, checked, limits)


async def settle_checked(store: BlobStore, row: StoredBlob, checked: CheckedUpload, limits: UploadLimits) -> StoredBlob:
    """Charge and commit a checked upload as PENDING; if that fails, remove blob, row and charge."""
    try:
        await _finish(row, checked, limits)
    except BaseException:
        await _shielded(_abandon(store, row))
        raise
    row.state, row.size, row.sha256 = BlobState.PENDING, checked.size, checked.sha256
    row.kind, row.mime, row.flags = checked.kind, checked.mime, list(checked.flags)
    return row


async def _record_intent(
    actor: Actor, school_id: int, owner_id: int, charged: bool, kind: BlobCategory, display: str, key: str
) -> StoredBlob:
    async with in_transaction():
        if charged:
            await quota.ensure_ledger(school_id, owner_id)
        return await StoredBlob.create(
            school_id=school_id, owner_person_id=owner_id, charged=charged,
            uploader_account_id=actor.account_id, key=key,
            category=kind, display_filename=display, state=BlobState.RECEIVING,
        )  # fmt: skip


async def _ending_after(chunks: AsyncIterable[bytes], intent: asyncio.Task[StoredBlob]) -> AsyncIterator[bytes]:
    """`chunks` as they come, but ending only once `intent` has committed: a store makes
    a blob visible under its key (rename, S3 completion) only when its input ends, so no
    crash can leave a blob that no row names. A failed intent stops the body at once."""
    source = aiter(chunks)
    try:
        async for chunk in source:
            if intent.done():
                intent.result()  # raises the intent's error: the store removes what it wrote
            yield chunk
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
    await asyncio.shield(intent)  # a cancel here leaves the intent to `_abandon_intent`


async def _abandon_intent(store: BlobStore, intent: asyncio.Task[StoredBlob]) -> None:
    """Clean up after a failed upload whose intent may still be committing, or never did."""
    try:
        row = await intent
    except BaseException:
        # No row: the body never ended (`_ending_after`), so the store published nothing
        # under the key and removed its temporary data. Delete nothing: should the key
        # ever collide with another row's, that blob is not ours.
        return
    await _abandon(store, row)


async def _finish(row: StoredBlob, checked: CheckedUpload, limits: UploadLimits) -> None:
    async with in_transaction():
        if row.charged and row.owner_person_id is not None:
            if not await quota.charge(row.owner_person_id, checked.size, limits.quota_bytes):
                used = await quota.used_bytes(row.owner_person_id)
                raise quota.QuotaExceeded(used_bytes=used, limit_bytes=limits.quota_bytes, size=checked.size)
        updated = await StoredBlob.filter(id=row.id, state=BlobState.RECEIVING).update(
            state=BlobState.PENDING, size=checked.size, sha256=checked.sha256,
            kind=checked.kind, mime=checked.mime, flags=list(checked.flags),
        )  # fmt: skip
        if updated != 1:  # the reaper took it meanwhile (an upload stalled for hours)
            raise UploadExpired()


async def _shielded(work: Coroutine[Any, Any, object]) -> None:
    try:
        await asyncio.shield(work)
    except Exception:  # the original error matters more; the reaper finishes the job
        log.exception("cleanup of a failed upload did not complete")


async def drop_intent(store: BlobStore, row: StoredBlob) -> bool:
    """Remove an upload that never finished: mark it DELETED, delete its blob, then its row.

    Every removal goes in this order (row marked, blob, row), so no step can
    leave a blob without a row; a crash leaves a DELETED row the reaper ends.
    False if the row is no longer an intent (finished after all, or taken)."""
    marked = await StoredBlob.filter(id=row.id, state=BlobState.RECEIVING).update(state=BlobState.DELETED)
    if marked != 1:
        return False
    await store.delete(row.key)
    await StoredBlob.filter(id=row.id, state=BlobState.DELETED).delete()
    return True


async def _abandon(store: BlobStore, row: StoredBlob) -> None:
    """Clean up after our own failed upload. If the commit did happen after all (the error
    came later), the row is live and keeps its blob; if the reaper took the intent while
    we were still writing, the blob we finished is ours to delete."""
    if await drop_intent(store, row):
        return
    if not await StoredBlob.exists(id=row.id, state__in=list(LIVE_STATES)):
        await store.delete(row.key)


UPLOAD_TYPE = "Upload"


def upload_pk(upload_id: int | str) -> int:
    """The row id of an upload reference: an int, or the global ID "Upload:<id>" (base64)
    that `POST /uploads` answered with. Anything else is NotFound."""
    if isinstance(upload_id, int):
        return upload_id
    try:
        kind, pk = base64.b64decode(upload_id.encode(), validate=True).decode().split(":", 1)
        if kind == UPLOAD_TYPE:
            return int(pk)
    except (ValueError, UnicodeDecodeError):
        pass
    raise NotFound("upload", "上傳檔案")


async def claim_upload(
    actor: Actor, upload_id: int | str, *, student_id: int, category: str, attached_to: str | None = None
) -> StoredBlob:
    """Attach a PENDING upload to a portfolio record (call it inside the record's transaction).

    Only the uploader may claim, for the student the upload belongs to; anything
    else (another person's or school's upload, a reaped one) is NotFound."""
    school_id = actor.require_school()
    row = await StoredBlob.get_or_none(id=upload_pk(upload_id), school_id=school_id)
    if (
        row is None
        or row.owner_person_id != student_id
        or row.uploader_account_id is None
        or row.uploader_account_id != actor.account_id
        or row.state not in (BlobState.PENDING, BlobState.ATTACHED)
    ):
        raise NotFound("upload", "上傳檔案")
    if row.category != parse_category(category):
        raise LichengError(
            "UPLOAD_CATEGORY_MISMATCH", "此檔案的類別不符，請重新上傳。",
            "This upload is of another category; upload the file again.",
            expected=category, actual=row.category.value,
        )  # fmt: skip
    now = datetime.now(UTC)
    updated = await StoredBlob.filter(id=row.id, state=BlobState.PENDING).update(
        state=BlobState.ATTACHED, attached_at=now, attached_to=attached_to
    )
    if updated != 1:
        raise LichengError("UPLOAD_ALREADY_ATTACHED", "此檔案已使用過，請重新上傳。", "This upload is already attached.")
    row.state, row.attached_at, row.attached_to = BlobState.ATTACHED, now, attached_to
    return row


async def remove_blob(store: BlobStore, row: StoredBlob, *, from_states: tuple[BlobState, ...]) -> bool:
    """Remove a blob and refund its quota, if its row is still in one of `from_states`.

    The row turns DELETED and the quota is refunded in one transaction, then the
    blob goes, then the row: a crash in between leaves a DELETED row the reaper
    finishes. False if the row had moved on (claimed, already removed)."""
    if not set(from_states) <= {BlobState.PENDING, BlobState.ATTACHED}:
        raise ValueError("only stored blobs (pending, attached) are removed this way")
    async with in_transaction():  # mark and refund together, then blob, then row
        updated = await StoredBlob.filter(id=row.id, state__in=list(from_states)).update(state=BlobState.DELETED)
        if updated != 1:
            return False
        if row.charged and row.owner_person_id is not None:
            await quota.refund(row.owner_person_id, int(row.size))
    await store.delete(row.key)
    await StoredBlob.filter(id=row.id, state=BlobState.DELETED).delete()
    return True


async def discard_upload(actor: Actor, store: BlobStore, upload_id: int) -> StoredBlob:
    """The uploader drops an upload he has not attached; its quota comes back."""
    school_id = actor.require_school()
    row = await StoredBlob.get_or_none(id=upload_id, school_id=school_id)
    if row is None or row.uploader_account_id is None or row.uploader_account_id != actor.account_id:
        raise NotFound("upload", "上傳檔案")
    if row.state is BlobState.ATTACHED:
        raise LichengError(
            "UPLOAD_ALREADY_ATTACHED", "已使用的檔案不能捨棄。", "An attached file cannot be discarded."
        )
    if not await remove_blob(store, row, from_states=(BlobState.PENDING,)):
        raise NotFound("upload", "上傳檔案")
    return row


async def pending_uploads(actor: Actor, *, limit: int = 100) -> list[StoredBlob]:
    """The actor's own uploads not yet attached to an item (newest first): reaped after a day."""
    school_id = actor.require_school()
    if actor.account_id is None:
        return []
    query = StoredBlob.filter(school_id=school_id, uploader_account_id=actor.account_id, state=BlobState.PENDING)
    return await query.order_by("-id").limit(limit)


async def blob_usage(actor: Actor, student_id: int, limits: UploadLimits) -> quota.Usage:
    """A student's storage use against his quota, for whoever may see the student."""
    person = await tenants.get_person(actor, student_id)
    return quota.Usage(used_bytes=await quota.used_bytes(person.id), limit_bytes=limits.quota_bytes)
