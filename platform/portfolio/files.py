"""Attaching files to portfolio items: ONE function, ``attach_file``, is the seam to storage.

Two paths lead to a ``FileRef``:

* an upload reference from storage (``POST /uploads`` answers ``uploadId``,
  the global ID "Upload:<id>"): ``attach_file`` claims it with
  ``licheng.storage.service.claim_upload`` (storage checked type, size and
  quota as the bytes arrived) and keeps a ``PortfolioFile`` row pointing at
  storage's blob, so items, versions and snapshots read one table;
* a reference to a pending ``PortfolioFile`` (its global ID), the minimal path
  for when storage is absent (and for tests): it is checked here against the
  item year's policy and marked attached.

One count of what a student stores: with storage installed it is storage's
quota ledger alone (``storage_used``). Storage charges it as bytes arrive;
a file attached on the minimal path is charged to the same ledger here, with
the same race-free conditional update, so the ledger is the only count and
the quota holds on both paths. Without storage, the attached files are summed.

A file is never overwritten: every re-upload is a new row; old rows stay.
"""

from __future__ import annotations

import base64
import importlib
from dataclasses import dataclass
from typing import Any

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio import clock
from licheng.portfolio.models import FileCategory, FileState, PortfolioFile
from licheng.portfolio.policy import Policy, policy_for
from licheng.tenants.actor import Actor

FILE_TYPE = "PortfolioFile"


@dataclass(frozen=True)
class FileRef:
    """What an item keeps of a file: enough to show it and to snapshot its checksum."""

    id: int
    category: str
    kind: str
    size: int
    sha256: str
    display_filename: str

    @staticmethod
    def of(row: PortfolioFile) -> FileRef:
        return FileRef(row.id, str(row.category.value), row.kind, row.size, row.sha256, row.display_filename)


def file_reference(file_id: int) -> str:
    """The upload reference a client passes for a staged ``PortfolioFile``."""
    return base64.b64encode(f"{FILE_TYPE}:{file_id}".encode()).decode()


def _portfolio_file_pk(upload_ref: str) -> int | None:
    try:
        kind, pk = base64.b64decode(upload_ref.encode(), validate=True).decode().split(":", 1)
        return int(pk) if kind == FILE_TYPE else None
    except (ValueError, UnicodeDecodeError):
        return None


def _storage_claim() -> Any:
    try:
        module = importlib.import_module("licheng.storage.service")
    except ImportError:
        return None
    return getattr(module, "claim_upload", None)


def _storage_quota() -> Any:
    try:
        return importlib.import_module("licheng.storage.quota")
    except ImportError:
        return None


async def storage_used(student_ids: list[int]) -> dict[int, int]:
    """Bytes charged to each student: storage's quota ledger (every stored version, pending
    uploads included) when storage is installed, one statement; else the attached files."""
    quota = _storage_quota()
    if quota is None:
        from licheng.portfolio.reads import storage_used as used

        return await used(student_ids)
    return await quota.used_by(student_ids)


async def _charge_minimal(school_id: int, row: PortfolioFile, policy: Policy) -> None:
    """Charge a minimal-path file to storage's ledger (inside the item's transaction)."""
    quota = _storage_quota()
    if quota is None or row.category == FileCategory.COUNSELING:  # the school's record, as in storage
        return
    await quota.ensure_ledger(school_id, row.student_id)
    if not await quota.charge(row.student_id, row.size, policy.quota_bytes):
        used = await quota.used_bytes(row.student_id)
        raise quota.QuotaExceeded(used_bytes=used, limit_bytes=policy.quota_bytes, size=row.size)


def _check_against_policy(row: PortfolioFile, category: str, policy: Policy) -> None:
    if row.kind not in policy.kinds(category):
        raise LichengError(
            "FILE_KIND_NOT_ALLOWED",
            f"此欄位不接受 {row.kind.upper()} 檔，可接受：{', '.join(sorted(k.upper() for k in policy.kinds(category)))}",
            f"A {row.kind.upper()} file is not accepted here",
            kind=row.kind, allowed=sorted(policy.kinds(category)),
        )  # fmt: skip
    limit = policy.size_limit(category)
    if row.size > limit:
        raise LichengError(
            "FILE_TOO_LARGE",
            f"檔案超過 {policy.academic_year} 學年度的大小上限 {limit / 1048576:g} MB",
            f"The file exceeds the {limit / 1048576:g} MB limit of year {policy.academic_year}",
            limit=limit, size=row.size, academic_year=policy.academic_year,
        )  # fmt: skip


async def attach_file(
    actor: Actor, *, student_id: int, category: str, upload_ref: str, academic_year: int | None = None
) -> FileRef:
    """Claim an uploaded file for an item of ``student_id``; the caller checked the actor may.

    ``academic_year`` is the item's year: its policy (kinds, size limit) judges the file.
    Call inside the item's transaction so that a refused item leaves the file pending.
    """
    school_id = actor.require_school()
    if category not in {c.value for c in FileCategory}:
        raise InvalidInput("category", "檔案類別無效", "Unknown file category")
    pk = _portfolio_file_pk(upload_ref)
    year = academic_year if academic_year is not None else clock.academic_year_of(clock.now().date())
    claim = _storage_claim()
    if pk is None and claim is not None:
        blob = await claim(actor, upload_ref, student_id=student_id, category=category)
        row = PortfolioFile(
            school_id=school_id, student_id=student_id, category=category, kind=blob.kind, size=blob.size,
            sha256=blob.sha256, display_filename=blob.display_filename, blob_key=blob.key, stored_blob_id=blob.id,
            state=FileState.ATTACHED, uploaded_by_account_id=blob.uploader_account_id, attached_at=clock.now(),
        )  # fmt: skip
        _check_against_policy(row, category, await policy_for(school_id, year))  # the item's year judges
        await row.save()
        return FileRef.of(row)
    if pk is None:
        raise InvalidInput("upload", "檔案參照無效", "The file reference is invalid")
    pending = await PortfolioFile.get_or_none(id=pk, school_id=school_id, student_id=student_id)
    if pending is None:
        raise NotFound("file", "檔案")
    row = pending
    if row.category.value != category:
        raise InvalidInput("upload", "檔案類別不符", "The file was uploaded for another category", category=str(row.category.value))
    policy = await policy_for(school_id, year)
    _check_against_policy(row, category, policy)
    claimed = await PortfolioFile.filter(id=row.id, state=FileState.PENDING).update(
        state=FileState.ATTACHED, attached_at=clock.now()
    )
    if claimed != 1:
        raise LichengError("FILE_ALREADY_ATTACHED", "此檔案已用於其他項目", "This file is already attached to an item")
    await _charge_minimal(school_id, row, policy)
    return FileRef.of(row)


async def file_refs(ids: list[int]) -> dict[int, FileRef]:
    return {row.id: FileRef.of(row) for row in await PortfolioFile.filter(id__in=list(set(ids)))}


async def file_rows(ids: list[int]) -> list[PortfolioFile]:
    return await PortfolioFile.filter(id__in=list(set(ids))).order_by("id")
