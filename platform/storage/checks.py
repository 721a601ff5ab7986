"""One entry point for an upload: name, type, size, checksum, structure, or nothing.

Order matters for cost and for the promise that a refused upload leaves
nothing behind:

1. the display name is normalised (a bad name costs no bytes read);
2. the head of the stream is sniffed: type, extension, polyglot head;
3. the stream goes into the store through the size limit of its category
   (document / media), with the SHA-256 computed on the way;
4. the stored blob is read back and its whole structure checked (truncation,
   decompression bomb, PDF active content...). These checks need the whole
   file, and the parsers (Pillow, pypdf, mutagen) need seekable input, so a
   local blob is read in place and an S3 blob is streamed into a temporary
   file bounded by the size just stored (its SHA-256 re-checked on the way).
   If a check fails, the blob is deleted.

Policy numbers (the limits per category) come in as arguments: the caller
resolves the school's policy; this module holds no defaults for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import aiofiles

from licheng.storage.blobstore import BlobStore, StoredObject
from licheng.storage.errors import (
    UPLOAD_CORRUPT,
    UPLOAD_PDF_ACTIVE_CONTENT,
    UPLOAD_TYPE_NOT_ALLOWED,
    BlobIntegrityError,
    UploadRefused,
)
from licheng.storage.filenames import normalise_filename
from licheng.storage.images import verify_image
from licheng.storage.media import verify_media
from licheng.storage.pdfs import verify_pdf
from licheng.storage.sniff import (
    FILE_TYPES,
    HEAD_BYTES,
    FileType,
    check_extension,
    check_head,
    sniff,
)
from licheng.storage.streams import checked_stream, read_head

__all__ = ["CheckedUpload", "checked_stream", "store_checked_upload"]

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


@asynccontextmanager
async def _readable_path(store: BlobStore, key: str, stored: StoredObject) -> AsyncIterator[str]:
    path_for = getattr(store, "path_for", None)
    if callable(path_for):  # local disk: read the stored file itself, no copy
        yield str(path_for(key))
        return
    with tempfile.TemporaryDirectory(prefix="licheng-check-") as folder:
        path = os.path.join(folder, "blob")
        digest = hashlib.sha256()
        written = 0
        async with aiofiles.open(path, "wb") as out:
            async for chunk in store.open(key):
                written += len(chunk)
                if written > stored.size:
                    break
                digest.update(chunk)
                await out.write(chunk)
        if written != stored.size or digest.hexdigest() != stored.sha256_hex:
            raise BlobIntegrityError(f"blob {key} read back differs from what was written")
        yield path


def _verify(path: str, file_type: FileType, max_image_pixels: int) -> set[str]:
    if file_type.kind == "pdf":
        return verify_pdf(path)
    if file_type.kind in ("jpeg", "png"):
        verify_image(path, file_type.kind, max_pixels=max_image_pixels)
    else:
        verify_media(path, file_type.kind)
    return set()


async def _delete_quietly(store: BlobStore, key: str) -> None:
    try:
        await asyncio.shield(store.delete(key))
    except Exception:  # the refusal matters more; `storage verify` finds orphans
        log.exception("could not delete refused blob %s", key)


async def store_checked_upload(
    store: BlobStore,
    key: str,
    chunks: AsyncIterable[bytes],
    *,
    filename: str | bytes | None,
    category_limits: Mapping[str, int],
    pdf_active_content: Literal["refuse", "flag"] = "refuse",
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> CheckedUpload:
    """Store `chunks` under `key` only if it is an acceptable file; else raise
    `UploadRefused` with nothing stored. `category_limits` maps "document" /
    "media" to a byte limit; a category missing from it is not accepted."""
    if pdf_active_content not in ("refuse", "flag"):
        raise ValueError("pdf_active_content must be 'refuse' or 'flag'")
    display_filename = normalise_filename(filename)
    head, stream = await read_head(chunks, HEAD_BYTES)
    file_type = sniff(head)
    limit = category_limits.get(file_type.category)
    if limit is None:
        allowed = [t.kind.upper() for t in FILE_TYPES.values() if t.category in category_limits]
        raise UploadRefused.of(
            UPLOAD_TYPE_NOT_ALLOWED, detected=file_type.kind.upper(), allowed=", ".join(allowed)
        )
    check_extension(file_type, display_filename)
    check_head(file_type, head)

    stored = await store.put(key, stream, max_bytes=limit)
    try:
        async with _readable_path(store, key, stored) as path:
            try:
                found = await asyncio.to_thread(_verify, path, file_type, max_image_pixels)
            except UploadRefused:
                raise
            except Exception as exc:  # a parser's unexpected failure: not accepted
                log.warning("upload check failed on %s: %r", file_type.kind, exc)
                raise UploadRefused.of(UPLOAD_CORRUPT) from exc
        if found and pdf_active_content == "refuse":
            raise UploadRefused.of(UPLOAD_PDF_ACTIVE_CONTENT, found=sorted(found))
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
        flags=tuple(sorted(found)),
    )
