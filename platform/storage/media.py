"""Full checks of stored MP3 and MP4 files (blocking: run in a worker thread).

mutagen parses the tags and stream information. It is lenient about where a
file ends (it reads a cut-off file happily), so a small walk over the MP3
frames / MP4 top-level boxes decides whether every byte belongs to the file:
a frame or box that runs past the end means the upload was cut off, and
bytes that start another format (ZIP, PDF, HTML...) make it a polyglot.
"""

from __future__ import annotations

import struct

import mutagen
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4

from licheng.storage.errors import (
    UPLOAD_CORRUPT,
    UPLOAD_POLYGLOT,
    UPLOAD_TRUNCATED,
    UploadRefused,
)
from licheng.storage.sniff import FOREIGN_SIGNATURES
from licheng.storage.views import ByteView

# MPEG audio Layer III: kbit/s by bitrate index, Hz by sample-rate index.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}
_VERSIONS = {0b11: 1, 0b10: 2, 0b00: 25}
_TRAILING_TAGS = (b"TAG", b"APETAGEX", b"LYRICSBEGIN", b"ID3", b"3DI")


def _refuse_at(data: ByteView, pos: int, code: str) -> UploadRefused:
    if data.match(FOREIGN_SIGNATURES, pos):
        return UploadRefused.of(UPLOAD_POLYGLOT, also="appended file")
    return UploadRefused.of(code)


def _frame_length(data: ByteView, pos: int) -> int | None:
    """Length of the Layer III frame whose header is at `pos`, or None."""
    header = data[pos : pos + 3]  # one read, not three
    b1, b2 = header[1], header[2]
    if header[0] != 0xFF or b1 & 0xE0 != 0xE0 or (b1 >> 1) & 0x03 != 0x01:
        return None
    version = _VERSIONS.get((b1 >> 3) & 0x03)
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 0x03
    if version is None or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _BITRATES[1 if version == 1 else 2][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (b2 >> 1) & 0x01
    return (144 if version == 1 else 72) * bitrate // rate + padding


def _walk_mp3(data: ByteView) -> None:
    size, pos = len(data), 0
    while data[pos : pos + 3] == b"ID3" and pos + 10 <= size:  # leading ID3v2 tags
        flags, raw = data[pos + 5], data[pos + 6 : pos + 10]
        tag = (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
        pos += 10 + tag + (10 if flags & 0x10 else 0)
    while pos < size and data[pos] == 0:  # padding some taggers leave
        pos += 1
    frames = 0
    while pos < size:
        if size - pos < 4:
            raise _refuse_at(data, pos, UPLOAD_TRUNCATED)
        length = _frame_length(data, pos)
        if length is None:
            if frames and data[pos : pos + 11].startswith(_TRAILING_TAGS):
                if data.search(FOREIGN_SIGNATURES, pos) >= 0:
                    raise UploadRefused.of(UPLOAD_POLYGLOT, also="data in trailing tag")
                break
            raise _refuse_at(data, pos, UPLOAD_CORRUPT)
        if pos + length > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        pos += length
        frames += 1
    if frames == 0:
        raise UploadRefused.of(UPLOAD_TRUNCATED if pos >= size else UPLOAD_CORRUPT)


def _walk_mp4(data: ByteView) -> None:
    size, pos = len(data), 0
    seen: set[bytes] = set()
    while pos < size:
        if size - pos < 8:
            raise _refuse_at(data, pos, UPLOAD_TRUNCATED)
        box_size, box_type = data.unpack_from(">I4s", pos)
        header = 8
        if box_size == 1:
            if size - pos < 16:
                raise UploadRefused.of(UPLOAD_TRUNCATED)
            (box_size,) = data.unpack_from(">Q", pos + 8)
            header = 16
        elif box_size == 0:  # "to the end of the file" (only the last box may say so)
            box_size = size - pos
        if box_size < header or not all(0x20 <= c <= 0x7E for c in box_type):
            raise _refuse_at(data, pos, UPLOAD_CORRUPT)
        if pos + box_size > size:
            raise UploadRefused.of(UPLOAD_TRUNCATED)
        seen.add(box_type)
        pos += box_size
    if b"moov" not in seen or not seen & {b"mdat", b"moof"}:
        raise UploadRefused.of(UPLOAD_TRUNCATED if b"ftyp" in seen else UPLOAD_CORRUPT)


def verify_media(data: ByteView, kind: str) -> None:
    """Refuse a stored MP3/MP4 that is cut off, malformed or a polyglot."""
    (_walk_mp3 if kind == "mp3" else _walk_mp4)(data)
    try:
        parsed = MP3(data.file()) if kind == "mp3" else MP4(data.file())
    except (mutagen.MutagenError, ValueError, struct.error, IndexError, KeyError) as exc:
        raise UploadRefused.of(UPLOAD_CORRUPT) from exc
    if parsed.info is None or not parsed.info.length or parsed.info.length <= 0:
        raise UploadRefused.of(UPLOAD_CORRUPT, reason="no playable length")
