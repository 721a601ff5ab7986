"""Test files made in code (valid samples of every accepted type and hostile ones),
and store assertions. Loaded by conftest.py by path: tests get it as `samples`.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from licheng.storage.blobstore import BlobStore
from licheng.storage.local import LocalBlobStore
from licheng.storage.s3 import S3BlobStore


def png(width: int = 64, height: int = 48, text: dict[str, str] | None = None) -> bytes:
    rng = random.Random(width * 7919 + height)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    rng = random.Random(width + height)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    return out.getvalue()


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png_bomb(side: int = 20_000) -> bytes:
    """A 1-bit grey PNG of side x side pixels whose pixel data compresses to almost nothing."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_slow_to_check(side: int = 7000) -> bytes:
    """A valid, transparent side x side 16-bit RGBA PNG (49 Mpx, under the pixel limit) of
    ~380 KB whose ~392 MB of pixel data take most of a second to inflate and check."""
    row = b"\x00" * (1 + side * 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_interlaced(width: int = 37, height: int = 23) -> bytes:
    """An Adam7-interlaced RGB PNG (Pillow reads these but does not write them)."""
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    raw = bytearray()
    rng = random.Random(7)
    for x, y, dx, dy in (*passes, (0, 1, 1, 2)):
        pass_width, pass_height = -(-(width - x) // dx), -(-(height - y) // dy)
        if pass_width > 0 and pass_height > 0:
            for _ in range(pass_height):
                raw += b"\x00" + rng.randbytes(pass_width * 3)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw)))
        + _png_chunk(b"IEND", b"")
    )


def png_short_pixel_data() -> bytes:
    """Chunks and CRCs all valid, but the pixel data has fewer rows than IHDR says."""
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    raw = (b"\x00" + b"\x80" * 16) * 10  # 10 of 16 rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _pdf_bytes(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "學習成果"})
    return _pdf_bytes(writer)


def pdf_with_javascript() -> bytes:
    """Document-level JavaScript in the /Names tree (runs when the file opens)."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    action = DictionaryObject()
    action[NameObject("/S")] = NameObject("/JavaScript")
    action[NameObject("/JS")] = TextStringObject("app.alert('hi');")
    tree = DictionaryObject()
    tree[NameObject("/Names")] = ArrayObject(
        [TextStringObject("hello"), writer._add_object(action)]
    )
    names = DictionaryObject()
    names[NameObject("/JavaScript")] = writer._add_object(tree)
    writer._root_object[NameObject("/Names")] = names
    return _pdf_bytes(writer)


def _pdf_with_open_action(action: DictionaryObject) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _pdf_bytes(writer)


def pdf_with_open_action_javascript() -> bytes:
    action = DictionaryObject()
    action[NameObject("/S")] = NameObject("/JavaScript")
    action[NameObject("/JS")] = TextStringObject("app.launchURL('http://x.invalid');")
    return _pdf_with_open_action(action)


def pdf_with_launch_action() -> bytes:
    action = DictionaryObject()
    action[NameObject("/S")] = NameObject("/Launch")
    action[NameObject("/F")] = TextStringObject("cmd.exe")
    return _pdf_with_open_action(action)


def pdf_with_embedded_file() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("payload.exe", b"MZ not really")
    return _pdf_bytes(writer)


def pdf_encrypted() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    return _pdf_bytes(writer)


def pdf_owner_password_only() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    return _pdf_bytes(writer)


def pdf_without_pages() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames.
_MP3_HEADER = b"\xff\xfb\x90\x00"
MP3_FRAME = _MP3_HEADER + b"\x00" * (417 - 4)


def mp3(frames: int = 40, id3: bool = True) -> bytes:
    tag = b""
    if id3:
        body = b"TIT2" + struct.pack(">I", 7) + b"\x00\x00" + b"\x03" + b"song\x00"
        size = len(body)
        syncsafe = bytes(
            [(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F]
        )
        tag = b"ID3\x04\x00\x00" + syncsafe + body
    return tag + MP3_FRAME * frames


def _box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def mp4(mdat_bytes: int = 4096) -> bytes:
    """ftyp + moov(mvhd: 1 s) + mdat: the smallest structure players and mutagen accept."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 1000)  # version, times, timescale, duration
        + struct.pack(">IH10x", 0x00010000, 0x0100)  # rate, volume
        + struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
        + b"\x00" * 24
        + struct.pack(">I", 2),  # next track id
    )
    moov = _box(b"moov", mvhd)
    mdat = _box(b"mdat", random.Random(1).randbytes(mdat_bytes))
    return ftyp + moov + mdat


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("evil.js", "WScript.Echo('hi')")
    return out.getvalue()


def exe() -> bytes:
    return (
        b"MZ\x90\x00\x03"
        + b"\x00" * 59
        + b"This program cannot be run in DOS mode.\r\n"
        + b"\x00" * 200
    )


def html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def text() -> bytes:
    return "學習歷程 自述\nplain text, not a document\n".encode()


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """An upload body as a web server hands it over: chunk by chunk."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def all_keys(store: BlobStore, prefix: str = "") -> list[str]:
    return [key async for key in store.iter_keys(prefix)]


async def assert_empty(store: BlobStore) -> None:
    """Nothing stored: no key, and on disk not even a temporary file."""
    assert await all_keys(store) == []
    if isinstance(store, LocalBlobStore):
        leftovers = [p for p in store.root.rglob("*") if p.is_file()]
        assert leftovers == []
    if isinstance(store, S3BlobStore):  # nor an unfinished multipart upload
        result = store._client._list_multipart_uploads(store.bucket)  # noqa: SLF001
        assert list(result.uploads) == []


def s3_url(base: str, bucket: str, **options: str) -> str:
    """The storage URL of `bucket` on the server of `base` (an s3:// URL without bucket)."""
    parts = urlsplit(base)
    query = "&".join([parts.query] + [f"{k}={v}" for k, v in options.items()]).strip("&")
    return urlunsplit((parts.scheme, parts.netloc, f"/{bucket}", query, ""))
