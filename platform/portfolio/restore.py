"""Restoring a lost file with the very same bytes (檔案補回): no re-certification, no new version.

The September 2021 lesson (DOMAIN.md, "Reliability lessons"): after files were
lost, students re-uploaded them and "certified files re-uploaded with a
matching hash skipped re-certification". Here a student hands in an upload for
one file of his outcome or performance; if its SHA-256 equals the file the item
holds, the item points at the new copy and keeps its status, certification,
selection and version; the window does not matter, because nothing the window
protects changes. Any other bytes are refused: changing content is a revision.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio.access import require_student
from licheng.portfolio.files import attach_file, file_refs
from licheng.portfolio.models import CourseOutcome, DiversePerformance, ItemVersion
from licheng.tenants import audit
from licheng.tenants.actor import Actor

ITEM_MODELS: dict[str, type[CourseOutcome] | type[DiversePerformance]] = {
    "outcome": CourseOutcome,
    "performance": DiversePerformance,
}

AUDIT_TYPES = {"outcome": "course_outcome", "performance": "diverse_performance"}


def checksum_mismatch() -> LichengError:
    return LichengError(
        "RESTORE_CHECKSUM_MISMATCH",
        "上傳的檔案與原檔內容不同（SHA-256 不符），無法補回；若要修改內容，請以修改（新版本）重新上傳",
        "The uploaded file differs from the original (SHA-256 mismatch), so it cannot restore it; "
        "to change the content, revise the item (a new version)",
    )


async def restore_item_file(actor: Actor, item_type: str, item_id: int, category: str, upload_ref: str) -> CourseOutcome | DiversePerformance:
    """Point the item's ``category`` file at a re-uploaded copy with the same SHA-256."""
    school_id, student_id = require_student(actor)
    model = ITEM_MODELS.get(item_type)
    if model is None:
        raise InvalidInput("item", "項目類型無效", "Unknown item type")
    if category not in ("document", "media"):
        raise InvalidInput("category", "檔案類別無效", "Unknown file category")
    row = await model.get_or_none(id=item_id, school_id=school_id, student_id=student_id)
    if row is None:
        raise NotFound("item", "項目")
    current_id: int | None = getattr(row, f"{category}_id")
    if current_id is None:
        raise LichengError("NOTHING_TO_RESTORE", "此項目沒有這個檔案可補回", "The item holds no file of this category", category=category)
    original = (await file_refs([current_id]))[current_id]
    async with in_transaction():
        copy = await attach_file(actor, student_id=student_id, category=category, upload_ref=upload_ref, academic_year=row.academic_year)
        if copy.sha256 != original.sha256 or copy.size != original.size:
            raise checksum_mismatch()  # rolls back: the upload stays unclaimed and the reaper refunds it
        await model.filter(id=row.id).update(**{f"{category}_id": copy.id})
        version = await ItemVersion.filter(item_type=item_type, item_id=row.id, school_id=school_id).order_by("-number").first()
        if version is not None and getattr(version, f"{category}_id") == current_id:
            await ItemVersion.filter(id=version.id).update(**{f"{category}_id": copy.id})
        await audit.record(actor, "restore_file", AUDIT_TYPES[item_type], row.id, student_id=student_id,
                           changes={"category": category, "from_file": current_id, "to_file": copy.id, "sha256": copy.sha256})  # fmt: skip
    setattr(row, f"{category}_id", copy.id)
    return row
