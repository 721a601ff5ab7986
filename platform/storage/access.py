"""Who may read a stored file, and the audit trail of reads by others.

The owner student and whoever uploaded the file may always read it. An
upload not yet attached to a record (PENDING) is theirs alone. Once attached,
the rules in `DOWNLOAD_RULES` decide; any rule saying yes is enough. The
portfolio adds its own (e.g. the subject teacher of the course outcome) and
may replace the broad default `school_staff_may_read`.

Refusals are NotFound: a file one may not read does not exist for him.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from licheng.errors import NotFound
from licheng.storage.models import LIVE_STATES, BlobCategory, BlobState, StoredBlob
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Guardianship, Role

DownloadRule = Callable[[Actor, StoredBlob], Awaitable[bool]]


async def parent_may_read(actor: Actor, blob: StoredBlob) -> bool:
    """Parents (家長) see their child's portfolio files, not counseling records."""
    if not actor.has(Role.PARENT) or blob.owner_person_id is None or blob.category is BlobCategory.COUNSELING:
        return False
    return await Guardianship.exists(
        school_id=blob.school_id, parent_id=actor.person_id or -1, student_id=blob.owner_person_id
    )


async def school_staff_may_read(actor: Actor, blob: StoredBlob) -> bool:
    """Staff, homeroom and subject teachers and counselors of the school read portfolio
    files; counseling records only staff and counselors."""
    if blob.category is BlobCategory.COUNSELING:
        return actor.has(Role.STAFF, Role.COUNSELOR)
    return actor.has(Role.STAFF, Role.HOMEROOM, Role.TEACHER, Role.COUNSELOR)


# Appended to by the portfolio (and plugins through it); evaluated in order.
DOWNLOAD_RULES: list[DownloadRule] = [parent_may_read, school_staff_may_read]


def _is_own(actor: Actor, blob: StoredBlob) -> bool:
    if actor.person_id is not None and actor.person_id == blob.owner_person_id:
        return True
    return actor.account_id is not None and actor.account_id == blob.uploader_account_id


async def may_read(actor: Actor, blob: StoredBlob) -> bool:
    if actor.school_id is None or blob.school_id != actor.school_id or blob.state not in LIVE_STATES:
        return False
    if _is_own(actor, blob):
        return True
    if blob.state is not BlobState.ATTACHED:
        return False
    for rule in DOWNLOAD_RULES:
        if await rule(actor, blob):
            return True
    return False


async def get_upload(actor: Actor, blob_id: int) -> StoredBlob:
    """A stored file's row (metadata), if the actor may read the file."""
    school_id = actor.require_school()
    row = await StoredBlob.get_or_none(id=blob_id, school_id=school_id, state__in=list(LIVE_STATES))
    if row is None or not await may_read(actor, row):
        raise NotFound("file", "檔案")
    return row


async def authorize_download(actor: Actor, blob_id: int) -> StoredBlob:
    """The row of a file the actor is about to download; NotFound if he may not."""
    return await get_upload(actor, blob_id)


async def record_download(actor: Actor, blob: StoredBlob) -> None:
    """Anyone but the owner student opening a file leaves an audit entry (個資法; and the
    portfolio's rule that a teacher must have opened an outcome before certifying it)."""
    if actor.person_id is not None and actor.person_id == blob.owner_person_id:
        return
    await audit.record(
        actor,
        "download_file",
        "stored_blob",
        blob.id,
        school_id=blob.school_id,
        student_id=blob.owner_person_id,
        changes={"category": blob.category.value, "kind": blob.kind, "sha256": blob.sha256},
    )
