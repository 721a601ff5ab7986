"""The whole-file structure check of one stored blob, as a worker process runs it.

Kept apart from the asynchronous code so that a checking process imports only
this, the parsers and the views (the fork server preloads it).
"""

from __future__ import annotations

from licheng.storage.images import verify_image
from licheng.storage.media import verify_media
from licheng.storage.pdfs import verify_pdf
from licheng.storage.views import Source


def check_structure(source: Source, kind: str, max_image_pixels: int) -> set[str]:
    """The flags found (PDF active content), or `UploadRefused`. Reads the blob in place."""
    with source.open() as data:
        if kind == "pdf":
            return verify_pdf(data)
        if kind in ("jpeg", "png"):
            verify_image(data, kind, max_pixels=max_image_pixels)
        else:
            verify_media(data, kind)
        return set()
