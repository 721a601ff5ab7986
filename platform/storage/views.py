"""Random access to a stored blob for the structure checks, without copying it anywhere.

The checks walk markers and boxes (`ByteView`: indexing, slicing, find,
regular expressions) and hand the parsers (pypdf, Pillow, mutagen) a seekable
file (`ByteView.file()`). Both read through one `read_at(offset, length)`:
`os.pread` on a local blob, HTTP range GETs on an S3 object. A small cache of
fixed blocks serves the walks' many small reads with few requests; a large
read (a PNG's pixel data) bypasses it so the cache stays small.

A source is described by a small picklable spec (`LocalSource`, `S3Source`):
the checks run in worker processes (`licheng.storage.sandbox`), which open
the blob themselves from the spec.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from licheng.storage.errors import BlobIntegrityError

BLOCK = 256 * 1024
CACHE_BLOCKS = 8  # 2 MiB per view at most
_WINDOW = 64 * 1024


class ReadAt(Protocol):
    size: int

    def read_at(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class ByteView:
    """Read-only bytes of a blob, fetched a block at a time (the subset of `mmap` the checks use)."""

    def __init__(self, source: ReadAt, *, block: int = BLOCK, cache_blocks: int = CACHE_BLOCKS) -> None:
        self._source = source
        self._block = block
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_blocks = cache_blocks
        self.size = source.size
        self.requests = 0  # reads that reached the source, and their bytes (tests look)
        self.fetched = 0

    def __len__(self) -> int:
        return self.size

    def _fetch(self, offset: int, length: int) -> bytes:
        self.requests += 1
        self.fetched += length
        data = self._source.read_at(offset, length)
        if len(data) != length:
            raise BlobIntegrityError(f"read {len(data)} bytes at {offset}, expected {length}: the blob changed")
        return data

    def _block_at(self, number: int) -> bytes:
        cached = self._cache.get(number)
        if cached is not None:
            self._cache.move_to_end(number)
            return cached
        start = number * self._block
        data = self._fetch(start, min(self._block, self.size - start))
        self._cache[number] = data
        if len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        return data

    def read(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop), clamped to the blob like a slice of `bytes`."""
        start, stop = max(0, min(start, self.size)), max(0, min(stop, self.size))
        if stop <= start:
            return b""
        if stop - start > 2 * self._block:  # a large read: straight from the source
            return self._fetch(start, stop - start)
        first, last = start // self._block, (stop - 1) // self._block
        pieces = [self._block_at(n) for n in range(first, last + 1)]
        joined = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        base = first * self._block
        return joined[start - base : stop - base]

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise ValueError("no stepped slices")
            start, stop, _ = index.indices(self.size)
            return self.read(start, stop)
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError("index out of range")
        block = self._block_at(index // self._block)
        return block[index % self._block]

    def unpack_from(self, fmt: str, offset: int) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.read(offset, offset + struct.calcsize(fmt)))

    def find(self, needle: bytes, start: int = 0) -> int:
        """First offset of `needle` at or after `start`, or -1: searched inside the cached
        blocks (no copies: a JPEG walk calls this for every 0xFF of its scan data)."""
        pos = max(0, start)
        while pos < self.size:
            number = pos // self._block
            block, base = self._block_at(number), number * self._block
            found = block.find(needle, pos - base)
            if found >= 0:
                return base + found
            end = base + len(block)
            if len(needle) > 1 and end < self.size:  # a match across the boundary
                edge = max(pos, end - len(needle) + 1)
                found = self.read(edge, end + len(needle) - 1).find(needle)
                if found >= 0:
                    return edge + found
            pos = end
        return -1

    def rfind(self, needle: bytes) -> int:
        """Last offset of `needle`, or -1 (block by block from the end)."""
        overlap = max(0, len(needle) - 1)
        stop = self.size
        while stop > 0:
            start = max(0, stop - self._block)
            found = self.read(start, stop + overlap).rfind(needle)
            if found >= 0:
                return start + found
            stop = start
        return -1

    def search(self, pattern: re.Pattern[bytes], start: int = 0, *, longest: int = 64) -> int:
        """Offset of the first match of `pattern` at or after `start`, or -1. Matches are at
        most `longest` bytes (the signatures searched for are short literals)."""
        pos = max(0, start)
        while pos < self.size:
            window = self.read(pos, pos + _WINDOW + longest)
            found = pattern.search(window)
            if found is not None:
                return pos + found.start()
            pos += _WINDOW
        return -1

    def match(self, pattern: re.Pattern[bytes], start: int, *, longest: int = 64) -> bool:
        return pattern.match(self.read(start, start + longest)) is not None

    def only(self, pattern: re.Pattern[bytes], start: int) -> bool:
        """Whether every byte from `start` to the end matches `pattern` (a class, e.g. whitespace)."""
        pos = start
        while pos < self.size:
            if pattern.fullmatch(self.read(pos, pos + _WINDOW)) is None:
                return False
            pos += _WINDOW
        return True

    def file(self) -> BinaryIO:
        """A seekable read-only file over the same blocks, for the parsers."""
        return io.BufferedReader(_RawView(self), buffer_size=64 * 1024)  # type: ignore[return-value]

    def close(self) -> None:
        self._cache.clear()
        self._source.close()

    def __enter__(self) -> ByteView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RawView(io.RawIOBase):
    def __init__(self, view: ByteView) -> None:
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._view.size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        data = self._view.read(self._pos, self._pos + len(out))
        out[: len(data)] = data
        self._pos += len(data)
        return len(data)


# -- sources ------------------------------------------------------------------------------


class _FileReader:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True, slots=True)
class LocalSource:
    """A blob on local disk, read in place."""

    path: str
    size: int

    def open(self) -> ByteView:
        reader = _FileReader(self.path)
        if reader.size != self.size:
            reader.close()
            raise BlobIntegrityError(f"blob is {reader.size} bytes on disk, {self.size} were written")
        return ByteView(reader)


@dataclass(frozen=True, slots=True)
class S3Source:
    """An S3 object, read with range GETs. The credentials travel to the checking process
    through a pipe of our own, never into a log (`repr` leaves them out)."""

    endpoint: str
    bucket: str
    key: str
    size: int
    access_key: str | None = field(repr=False)
    secret_key: str | None = field(repr=False)
    secure: bool = True
    region: str | None = None

    def open(self) -> ByteView:
        return ByteView(_S3Reader(self))


_CLIENTS: dict[tuple[Any, ...], Any] = {}  # per process: one client (and connection pool) per endpoint


class _S3Reader:
    def __init__(self, source: S3Source) -> None:
        self._source = source
        self.size = source.size
        self._client = _client_for(source)

    def read_at(self, offset: int, length: int) -> bytes:
        from licheng.storage.s3 import read_range

        return read_range(self._client, self._source.bucket, self._source.key, offset, length, self.size)

    def close(self) -> None:
        pass


def _client_for(source: S3Source) -> Any:
    from licheng.storage.s3 import new_client

    identity = (source.endpoint, source.access_key, source.secret_key, source.secure, source.region)
    client = _CLIENTS.get(identity)
    if client is None:
        client = _CLIENTS[identity] = new_client(
            source.endpoint, source.access_key, source.secret_key, secure=source.secure, region=source.region
        )
    return client


Source = LocalSource | S3Source
Opener = Callable[[], ByteView]
