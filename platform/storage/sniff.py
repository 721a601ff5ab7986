"""What a file is, judged by its first bytes (never by its name or Content-Type).

Runs on the head of the stream before anything is stored: an unknown or
refused type, an extension that disagrees with the content, or a head that
also reads as another format costs no storage and no quota. The full
structure is checked later, on the stored blob (see `checks.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import filetype

from licheng.storage.errors import (
    UPLOAD_EMPTY,
    UPLOAD_EXTENSION_MISMATCH,
    UPLOAD_POLYGLOT,
    UPLOAD_TYPE_NOT_ALLOWED,
    UPLOAD_TYPE_UNKNOWN,
    UploadRefused,
)
from licheng.storage.filenames import extension_of

# filetype looks at 8 KiB at most; PDF readers accept a header anywhere in 1 KiB.
HEAD_BYTES = 8192
_PDF_HEADER_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class FileType:
    kind: str  # pdf | jpeg | png | mp3 | mp4
    mime: str
    category: str  # document | media (the policy's size classes)
    extensions: tuple[str, ...]  # accepted filename extensions, lower case


FILE_TYPES: dict[str, FileType] = {
    "pdf": FileType("pdf", "application/pdf", "document", ("pdf",)),
    "jpeg": FileType("jpeg", "image/jpeg", "document", ("jpg", "jpeg")),
    "png": FileType("png", "image/png", "document", ("png",)),
    "mp3": FileType("mp3", "audio/mpeg", "media", ("mp3",)),
    "mp4": FileType("mp4", "video/mp4", "media", ("mp4",)),
}
# filetype's extension -> our kind
_BY_FILETYPE = {"pdf": "pdf", "jpg": "jpeg", "png": "png", "mp3": "mp3", "mp4": "mp4"}
ALLOWED_TEXT = "PDF, JPG, PNG, MP3, MP4"

# Signatures of formats that must not ride along inside an accepted file.
FOREIGN_SIGNATURES = re.compile(
    rb"PK\x03\x04|%PDF-|<html|<script|<\?php|<svg|\x7fELF|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c",
    re.IGNORECASE,
)
_MARKUP_IN_HEAD = re.compile(rb"<html|<script|<\?php|<!doctype html", re.IGNORECASE)


def _mpeg_audio_sync(head: bytes) -> bool:
    # MPEG-1/2/2.5 Layer III frame sync, incl. variants filetype doesn't list.
    return (
        len(head) >= 4
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and (head[1] >> 1) & 0x03 == 0x01
        and (head[1] >> 3) & 0x03 != 0x01
    )


def sniff(head: bytes) -> FileType:
    """The accepted type of a file whose first bytes are `head`, or a refusal."""
    if not head:
        raise UploadRefused.of(UPLOAD_EMPTY)
    guess = filetype.guess(head)
    if guess is None:
        if _mpeg_audio_sync(head):
            return FILE_TYPES["mp3"]
        raise UploadRefused.of(UPLOAD_TYPE_UNKNOWN)
    kind = _BY_FILETYPE.get(guess.extension)
    if kind is None:
        raise UploadRefused.of(
            UPLOAD_TYPE_NOT_ALLOWED, detected=guess.extension.upper(), allowed=ALLOWED_TEXT
        )
    return FILE_TYPES[kind]


def check_extension(file_type: FileType, display_filename: str) -> None:
    """The name must say what the content is, so it opens in the right program."""
    extension = extension_of(display_filename)
    if extension not in file_type.extensions:
        raise UploadRefused.of(
            UPLOAD_EXTENSION_MISMATCH,
            detected=file_type.extensions[0].upper(),
            extension=extension,
            expected=list(file_type.extensions),
        )


def check_head(file_type: FileType, head: bytes) -> None:
    """Refuse heads that also read as PDF or as a web page (polyglots)."""
    window = head[:_PDF_HEADER_WINDOW]
    if file_type.kind != "pdf" and b"%PDF-" in window:
        raise UploadRefused.of(UPLOAD_POLYGLOT, also="pdf")
    if _MARKUP_IN_HEAD.search(window):
        raise UploadRefused.of(UPLOAD_POLYGLOT, also="html")
