"""One entry point for an upload: name, type, size, checksum, structure, or nothing.

Order matters for cost and for the promise that a refused upload leaves
nothing behind:

1. the display name is normalised (a bad name costs no bytes read);
2. the head of the stream is sniffed: type, extension, polyglot head;
3. the stream goes into the store through the size limit of its category
   (document / media), with the SHA-256 computed on the way;
4. the stored blob is read in place and its whole structure checked
   (truncation, decompression bomb, PDF active content...). These checks need
   the whole file and random access: they read through a `ByteView` (pread
   on local disk, HTTP range GETs on S3, no copy anywhere), in a worker
   process with a time limit (`licheng.storage.sandbox`). If a check fails or
   overruns, the blob is deleted.

Policy numbers (the limits per category) come in as arguments: the caller
resolves the school's policy; this module holds no defaults for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import Literal

from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import (
    UPLOAD_PDF_ACTIVE_CONTENT,
    UPLOAD_TYPE_NOT_ALLOWED,
    UploadRefused,
)
from licheng.storage.filenames import normalise_filename
from licheng.storage import sandbox
from licheng.storage.sandbox import CheckJob, check_pool
from licheng.storage.sniff import (
    FILE_TYPES,
    HEAD_BYTES,
    FileType,
    check_extension,
    check_head,
    sniff,
)
from licheng.storage.streams import checked_stream, read_head

__all__ = ["CheckedUpload", "check_stored", "checked_stream", "classify", "store_checked_upload"]

log = logging.getLogger(__name__)

# Not a policy number: a security ceiling on decoded image size (about
# 8000 x 6000); Pillow's own default (~89 Mpx) warns only, ours refuses.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """A stored, verified upload: what the database row keeps."""

    size: int
    sha256: str
    kind: str  # pdf | jpeg | png | mp3 | mp4
    mime: str
    category: str  # document | media
    display_filename: str
    flags: tuple[str, ...]  # e.g. ("pdf_javascript",) when active content is only flagged


async def _delete_quietly(store: BlobStore, key: str) -> None:
    try:
        await asyncio.shield(store.delete(key))
    except Exception:  # the refusal matters more; `storage verify` finds orphans
        log.exception("could not delete refused blob %s", key)


def classify(head: bytes, display_filename: str, category_limits: Mapping[str, int]) -> tuple[FileType, int]:
    """The type the first bytes show and its size limit, or `UploadRefused` (type unknown or
    not accepted here, extension disagreeing, a polyglot head)."""
    file_type = sniff(head)
    limit = category_limits.get(file_type.category)
    if limit is None:
        allowed = [t.kind.upper() for t in FILE_TYPES.values() if t.category in category_limits]
        raise UploadRefused.of(
            UPLOAD_TYPE_NOT_ALLOWED, detected=file_type.kind.upper(), allowed=", ".join(allowed)
        )
    check_extension(file_type, display_filename)
    check_head(file_type, head)
    return file_type, limit


async def check_stored(
    store: BlobStore,
    key: str,
    size: int,
    file_type: FileType,
    *,
    pdf_active_content: Literal["refuse", "flag"],
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    check_seconds: float | None = None,
) -> tuple[str, ...]:
    """The structure check of a stored blob, in place, in a worker with a time limit: the
    flags kept, or `UploadRefused`. The caller deletes the blob on refusal."""
    job = CheckJob(store.source_of(key, size), file_type.kind, max_image_pixels)
    seconds = check_seconds if check_seconds is not None else sandbox.CHECK_SECONDS
    found = await check_pool().run(job, timeout=seconds)
    if found and pdf_active_content == "refuse":
        raise UploadRefused.of(UPLOAD_PDF_ACTIVE_CONTENT, found=sorted(found))
    return tuple(sorted(found))


async def store_checked_upload(
    store: BlobStore,
    key: str,
    chunks: AsyncIterable[bytes],
    *,
    filename: str | bytes | None,
    category_limits: Mapping[str, int],
    pdf_active_content: Literal["refuse", "flag"] = "refuse",
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    check_seconds: float | None = None,
) -> CheckedUpload:
    """Store `chunks` under `key` only if it is an acceptable file; else raise
    `UploadRefused` with nothing stored. `category_limits` maps "document" /
    "media" to a byte limit; a category missing from it is not accepted.
    The structure check gets `check_seconds` (default `sandbox.CHECK_SECONDS`),
    then UPLOAD_CHECK_TIMEOUT."""
    if pdf_active_content not in ("refuse", "flag"):
        raise ValueError("pdf_active_content must be 'refuse' or 'flag'")
    display_filename = normalise_filename(filename)
    head, stream = await read_head(chunks, HEAD_BYTES)
    file_type, limit = classify(head, display_filename, category_limits)
    stored = await store.put(key, stream, max_bytes=limit)
    try:
        found = await check_stored(
            store, key, stored.size, file_type,
            pdf_active_content=pdf_active_content, max_image_pixels=max_image_pixels, check_seconds=check_seconds,
        )  # fmt: skip
    except BaseException:
        await _delete_quietly(store, key)
        raise
    return CheckedUpload(
        size=stored.size,
        sha256=stored.sha256_hex,
        kind=file_type.kind,
        mime=file_type.mime,
        category=file_type.category,
        display_filename=display_filename,
        flags=found,
    )
