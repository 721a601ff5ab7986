"""Display filenames: what a student called the file, made safe to show and serve.

The name is only ever shown and offered on download (Content-Disposition); it
never becomes a path or a key. Still, it is cleaned so it cannot smuggle a
path, spoof its extension with bidirectional controls (the "gpj.exe" trick),
break a header, or fill a column.
"""

from __future__ import annotations

import posixpath
import unicodedata
from urllib.parse import quote

from licheng.storage.errors import UPLOAD_FILENAME_INVALID, UploadRefused

MAX_DISPLAY_CHARS = 120
_MAX_EXTENSION_CHARS = 10
# Cc control, Cf format (incl. bidi overrides, zero-width), Cs lone surrogates,
# Co private use, Cn unassigned, Zl/Zp line and paragraph separators.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_WINDOWS_UNSAFE = set('<>:"|?*')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{name}{n}" for name in ("COM", "LPT") for n in range(1, 10)
}


def _decode(raw: bytes) -> str:
    # Browsers send UTF-8; old Windows tools in Taiwan send Big5 (cp950).
    for encoding in ("utf-8", "cp950"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _as_text(name: str | bytes) -> str:
    if isinstance(name, bytes):
        return _decode(name)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from a surrogateescape decode: recover the bytes.
        return _decode(name.encode("utf-8", errors="surrogateescape"))
    return name


def _clean_char(char: str) -> str:
    if char in _WINDOWS_UNSAFE:
        return "_"
    category = unicodedata.category(char)
    if category in _DROPPED_CATEGORIES:
        return ""
    if category == "Zs":
        return " "
    return char


def normalise_filename(name: str | bytes | None) -> str:
    """The display name for an upload, or `UploadRefused(UPLOAD_FILENAME_INVALID)`."""
    if name is None:
        raise UploadRefused.of(UPLOAD_FILENAME_INVALID)
    text = _as_text(name).replace("\\", "/")
    text = text.rsplit("/", 1)[-1]  # the last path part only, for / and \ alike
    text = unicodedata.normalize("NFC", text)
    text = "".join(_clean_char(c) for c in text)
    text = " ".join(text.split())  # collapse runs of spaces
    text = text.strip(" .")  # no ".", "..", hidden or trailing-dot names
    stem, ext = posixpath.splitext(text)
    if len(ext) > _MAX_EXTENSION_CHARS or not stem:
        stem, ext = text, ""
    stem = stem.rstrip(" .")
    if not stem.strip("_"):
        raise UploadRefused.of(UPLOAD_FILENAME_INVALID)
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    stem = stem[: MAX_DISPLAY_CHARS - len(ext)].rstrip(" .")
    return f"{stem}{ext}"


def extension_of(display_name: str) -> str:
    """The lower-case extension without the dot ('' if none)."""
    return posixpath.splitext(display_name)[1][1:].lower()


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A header value that keeps a Chinese filename (RFC 6266 / RFC 5987)."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(c if c.isalnum() or c in "._- " else "_" for c in fallback).strip()
    fallback = fallback or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
