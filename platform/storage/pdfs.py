"""Full checks of stored PDF files (blocking: run in a worker thread).

A PDF must end with `%%EOF` (otherwise it was cut off) and carry nothing
after it (otherwise it is also something else, e.g. a ZIP). pypdf parses it;
every object reachable from the trailer is then visited once to find active
content a teacher's viewer could run: JavaScript (also as an /OpenAction or
/AA trigger), /Launch actions, embedded files, XFA forms and rich media.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from licheng.storage.errors import (
    UPLOAD_CORRUPT,
    UPLOAD_PDF_ENCRYPTED,
    UPLOAD_POLYGLOT,
    UPLOAD_TRUNCATED,
    UploadRefused,
)
from licheng.storage.views import ByteView

_EOF_MARK = b"%%EOF"
_PDF_WHITESPACE = re.compile(rb"[\x00\t\n\x0c\r ]*")
_MAX_OBJECTS = 200_000  # a 10 MB PDF has far fewer; beyond is an attack
# Dictionary keys that are active content wherever they appear.
_ACTIVE_KEYS = {
    "/JS": "pdf_javascript",
    "/JavaScript": "pdf_javascript",
    "/EmbeddedFiles": "pdf_embedded_file",
    "/EmbeddedFile": "pdf_embedded_file",
    "/XFA": "pdf_xfa_form",
    "/RichMedia": "pdf_rich_media",
}
# Action types (/S) that are active content.
_ACTIVE_ACTIONS = {
    "/JavaScript": "pdf_javascript",
    "/Launch": "pdf_launch_action",
    "/ImportData": "pdf_import_data",
    "/RichMediaExecute": "pdf_rich_media",
}

logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged inputs are expected here


def _check_end(data: ByteView) -> None:
    mark = data.rfind(_EOF_MARK)
    if mark < 0:
        raise UploadRefused.of(UPLOAD_TRUNCATED)
    if not data.only(_PDF_WHITESPACE, mark + len(_EOF_MARK)):
        raise UploadRefused.of(UPLOAD_POLYGLOT, also="data after %%EOF")


def _active_content(reader: PdfReader) -> set[str]:
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            ref = (node.idnum, node.generation)
            if ref in seen:
                continue
            seen.add(ref)
            node = node.get_object()
        visited += 1
        if visited > _MAX_OBJECTS:
            raise UploadRefused.of(UPLOAD_CORRUPT, reason="too many objects")
        if isinstance(node, DictionaryObject):
            for key, value in dict.items(node):  # raw values: references stay lazy
                if key in _ACTIVE_KEYS:
                    found.add(_ACTIVE_KEYS[key])
                elif key == "/S" and isinstance(value, str) and value in _ACTIVE_ACTIONS:
                    found.add(_ACTIVE_ACTIONS[value])
                elif key == "/EF" or (key == "/Type" and value == "/EmbeddedFile"):
                    found.add("pdf_embedded_file")  # a file carried inside the PDF
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    return found


def verify_pdf(data: ByteView) -> set[str]:
    """Refuse a broken PDF; return the kinds of active content it carries."""
    _check_end(data)
    try:
        reader = PdfReader(data.file(), strict=False)
        if reader.is_encrypted:
            # An empty user password (owner-only protection) still opens for everyone.
            try:
                opened = bool(reader.decrypt(""))
            except (FileNotDecryptedError, PdfReadError, NotImplementedError):
                opened = False
            if not opened:
                raise UploadRefused.of(UPLOAD_PDF_ENCRYPTED)
        if len(reader.pages) == 0:
            raise UploadRefused.of(UPLOAD_CORRUPT, reason="no pages")
        return _active_content(reader)
    except UploadRefused:
        raise
    except FileNotDecryptedError as exc:
        raise UploadRefused.of(UPLOAD_PDF_ENCRYPTED) from exc
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        RecursionError,
        AssertionError,
    ) as exc:
        raise UploadRefused.of(UPLOAD_CORRUPT) from exc
