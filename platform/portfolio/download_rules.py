"""Who may open a student's portfolio file, by the portfolio's roles (replaces storage's broad default).

Storage's default lets every teacher of the school read every attached file.
The portfolio knows better (DOMAIN.md, "Actors"; least privilege, 個人資料保護法):

- staff (註冊組) and course counselors: every portfolio file of the school;
- a homeroom teacher (導師): the files of the students of his class;
- a subject teacher: the files of course outcomes of his own courses (current
  and earlier versions), and those of a teacher he substitutes for (代理人) in
  that term; never performances, which no teacher certifies;
- counseling-record files: staff and counselors only.

The owner student, the uploader and parents (storage's ``parent_may_read``) are
decided by storage before these rules. Refusals stay ``NotFound``.
"""

from __future__ import annotations

from licheng.errors import LichengError
from licheng.portfolio.certification import may_certify
from licheng.portfolio.models import CourseOutcome, CourseRecord, ItemVersion, PortfolioFile
from licheng.tenants.actor import Actor
from licheng.tenants.models import Person, Role


async def portfolio_roles_may_read(actor: Actor, blob: object) -> bool:
    """A storage ``DownloadRule``: ``blob`` is a ``licheng.storage.models.StoredBlob``."""
    category = getattr(getattr(blob, "category", None), "value", None)
    if category == "counseling":
        return actor.has(Role.STAFF, Role.COUNSELOR)
    if actor.has(Role.STAFF, Role.COUNSELOR):
        return True
    owner_id = getattr(blob, "owner_person_id", None)
    school_id = getattr(blob, "school_id", None)
    if owner_id is None or school_id is None:
        return False
    if actor.has(Role.HOMEROOM) and actor.homeroom_class_ids:
        student = await Person.get_or_none(id=owner_id, school_id=school_id).only("id", "school_class_id")
        if student is not None and student.school_class_id in actor.homeroom_class_ids:
            return True
    if actor.has(Role.TEACHER):
        return await _teaches_the_outcome_of(actor, school_id, getattr(blob, "id", None))
    return False


async def _teaches_the_outcome_of(actor: Actor, school_id: int, blob_id: int | None) -> bool:
    file_ids: list[int] = await PortfolioFile.filter(school_id=school_id, stored_blob_id=blob_id).values_list("id", flat=True)  # type: ignore[assignment]
    if not file_ids:
        return False
    outcome_ids = set(
        await CourseOutcome.filter(school_id=school_id, document_id__in=file_ids).values_list("id", flat=True)
    ) | set(await CourseOutcome.filter(school_id=school_id, media_id__in=file_ids).values_list("id", flat=True))
    outcome_ids |= set(
        await ItemVersion.filter(school_id=school_id, item_type="outcome", document_id__in=file_ids).values_list("item_id", flat=True)
    ) | set(await ItemVersion.filter(school_id=school_id, item_type="outcome", media_id__in=file_ids).values_list("item_id", flat=True))
    if not outcome_ids:
        return False
    record_ids = await CourseOutcome.filter(id__in=list(outcome_ids)).values_list("course_record_id", flat=True)
    for record in await CourseRecord.filter(id__in=list(set(record_ids))):
        try:
            await may_certify(actor, record)
        except LichengError:
            continue
        return True
    return False


def install() -> None:
    """Put the portfolio's rule in place of storage's broad default (idempotent)."""
    from licheng.storage import access

    rules = access.DOWNLOAD_RULES
    if access.school_staff_may_read in rules:
        rules[rules.index(access.school_staff_may_read)] = portfolio_roles_may_read
    elif portfolio_roles_may_read not in rules:
        rules.append(portfolio_roles_may_read)
