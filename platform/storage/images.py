"""Full checks of stored JPEG and PNG files (blocking: run in a worker thread).

A pixel limit of ours is checked from the header before any pixel is decoded,
so a small file that expands to gigabytes (decompression bomb) is refused.
Pillow then checks the structure: a JPEG is decoded at 1/8 scale (every byte
parsed, 1/64 of the memory); a PNG has its chunk CRCs verified and its pixel
data inflated 1 MiB at a time to the exact size the header declares, so no
image is ever held whole. A small marker/chunk walk finds where the image
really ends: a PNG must end at IEND, and a JPEG must not carry an archive, PDF
or web page after its end marker (phones' own trailers are allowed).
"""

from __future__ import annotations

import re
import struct
import zlib

from PIL import Image

from licheng.storage.errors import (
    UPLOAD_CORRUPT,
    UPLOAD_IMAGE_BOMB,
    UPLOAD_POLYGLOT,
    UPLOAD_TRUNCATED,
    UploadRefused,
)
from licheng.storage.sniff import FOREIGN_SIGNATURES
from licheng.storage.views import ByteView

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def _png_walk(data: ByteView) -> tuple[int, list[tuple[int, int]]]:
    """Offset just past IEND and the (offset, length) of every IDAT chunk."""
    pos = len(_PNG_SIGNATURE)
    idats: list[tuple[int, int]] = []
    while True:
        if pos + 12 > len(data):
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        length, ctype = data.unpack_from(">I4s", pos)
        if ctype == b"IDAT":
            idats.append((pos + 8, int(length)))
        pos += 12 + int(length)
        if pos > len(data):
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        if ctype == b"IEND":
            return pos, idats


def _png_raw_size(data: ByteView) -> int:
    """Bytes the pixel data must inflate to, from IHDR (filter byte per row, Adam7 passes)."""
    width, height, depth, colour, _, _, interlace = data.unpack_from(">IIBBBBB", 16)
    if colour not in _PNG_CHANNELS:
        raise UploadRefused.of(UPLOAD_CORRUPT)
    bits = depth * _PNG_CHANNELS[colour]

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if not interlace:
        return rows(width, height)
    return sum(
        rows(max(0, -(-(width - x) // dx)), max(0, -(-(height - y) // dy)))
        for x, y, dx, dy in _ADAM7
    )


def _png_inflate(data: ByteView, idats: list[tuple[int, int]]) -> None:
    """Inflate the pixel data 1 MiB at a time: checks it all without holding the image."""
    expected = _png_raw_size(data)
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for offset, length in idats:
            pending = data[offset : offset + length]
            while pending and not inflater.eof:
                produced += len(inflater.decompress(pending, 1 << 20))
                if produced > expected:
                    raise UploadRefused.of(UPLOAD_CORRUPT, reason="more pixel data than declared")
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise UploadRefused.of(UPLOAD_CORRUPT) from exc
    if not inflater.eof:
        raise UploadRefused.of(UPLOAD_TRUNCATED)
    if produced != expected:
        raise UploadRefused.of(UPLOAD_CORRUPT, reason="less pixel data than declared")


def _jpeg_end(data: ByteView) -> int:
    """Offset just past the EOI marker, walking segments and entropy-coded data."""
    size = len(data)
    pos = 2  # after SOI
    while True:
        if pos + 2 > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        if data[pos] != 0xFF:
            raise UploadRefused.of(UPLOAD_CORRUPT)
        while pos + 1 < size and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 2 > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        marker = data[pos + 1]
        pos += 2
        if marker == 0xD9:
            return pos
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if pos + 2 > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        (length,) = data.unpack_from(">H", pos)
        pos += length
        if length < 2 or pos > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        if marker == 0xDA:  # start of scan: skip entropy-coded data to the next marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    raise UploadRefused.of(UPLOAD_TRUNCATED)
                follower = data[pos + 1]
                if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
                    pos += 1 if follower == 0xFF else 2
                    continue
                break


def _decode(data: ByteView, kind: str, max_pixels: int) -> None:
    # Pillow's own global limit (Image.MAX_IMAGE_PIXELS) stays as a backstop;
    # ours is checked from the header before a pixel is decoded.
    formats = [_PIL_FORMAT[kind]]
    with Image.open(data.file(), formats=formats) as image:
        width, height = image.size
        if width * height > max_pixels:
            raise UploadRefused.of(UPLOAD_IMAGE_BOMB, pixels=width * height, max_pixels=max_pixels)
        image.verify()  # PNG: every chunk's CRC; cheap for JPEG
    if kind == "jpeg":
        with Image.open(data.file(), formats=formats) as image:
            # Decode at 1/8 scale: every byte is still parsed, memory stays small.
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()


def verify_image(data: ByteView, kind: str, *, max_pixels: int) -> None:
    """Refuse a stored JPEG/PNG that is truncated, corrupt, a bomb or a polyglot."""
    if kind == "png":
        end, idats = _png_walk(data)
        if end != len(data):
            raise UploadRefused.of(UPLOAD_POLYGLOT, also="trailing data")
    elif data.search(FOREIGN_SIGNATURES, _jpeg_end(data)) >= 0:
        raise UploadRefused.of(UPLOAD_POLYGLOT, also="trailing data")
    try:
        _decode(data, kind, max_pixels)
    except UploadRefused:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else "?"
        raise UploadRefused.of(UPLOAD_IMAGE_BOMB, pixels=pixels, max_pixels=max_pixels) from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        code = UPLOAD_TRUNCATED if "truncat" in str(exc).lower() else UPLOAD_CORRUPT
        raise UploadRefused.of(code) from exc
    if kind == "png":  # after the pixel limit: inflating a bomb would take long
        _png_inflate(data, idats)
