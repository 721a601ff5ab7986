"""Streams as they pass: the size limit and the SHA-256, without holding the file.

Both blob stores write through `checked_stream`, so a limit is enforced the
moment a chunk would cross it (that chunk is never yielded, nothing more is
read) and the checksum is ready when the last byte has gone by.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

from licheng.storage.errors import UPLOAD_TOO_LARGE, UploadRefused


class CheckedStream:
    """Yields the chunks unchanged; counts them, hashes them, stops past `limit`."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int | None, *, hashing: bool = True) -> None:
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        self._source = chunks
        self._limit = limit
        # A store that hashes in its own worker thread (off the event loop) turns this off.
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0
        self.finished = False

    @property
    def sha256_hex(self) -> str:
        if self._hash is None:
            raise RuntimeError("this stream was not hashed (the store hashes it)")
        return self._hash.hexdigest()

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._iterate()

    async def _iterate(self) -> AsyncGenerator[bytes, None]:
        source = aiter(self._source)
        try:
            async for chunk in source:
                if not chunk:
                    continue
                size = self.size + len(chunk)
                if self._limit is not None and size > self._limit:
                    raise UploadRefused.of(
                        UPLOAD_TOO_LARGE, limit_bytes=self._limit, received_bytes=size
                    )
                if self._hash is not None:
                    self._hash.update(chunk)
                self.size = size
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
            self.finished = True
        finally:
            # Stop the producer at once (e.g. the request body) on refusal or cancel.
            aclose = getattr(source, "aclose", None)
            if aclose is not None and not self.finished:
                await aclose()


def checked_stream(chunks: AsyncIterable[bytes], limit: int | None, *, hashing: bool = True) -> CheckedStream:
    """Wrap `chunks`: `.size` and `.sha256_hex` are final once iteration ends."""
    return CheckedStream(chunks, limit, hashing=hashing)


async def read_head(chunks: AsyncIterable[bytes], want: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """Read at least `want` bytes (fewer only at the end) for sniffing.

    Returns the head and an iterator that yields the head first and then the
    rest, so nothing is lost and nothing is read twice.
    """
    source = aiter(chunks)
    pieces: list[bytes] = []
    have = 0
    exhausted = False
    while have < want:
        try:
            chunk = await anext(source)
        except StopAsyncIteration:
            exhausted = True
            break
        if chunk:
            pieces.append(bytes(chunk))
            have += len(chunk)
    head = b"".join(pieces)

    async def replay() -> AsyncIterator[bytes]:
        if head:
            yield head
        if not exhausted:
            async for chunk in source:
                yield chunk

    return head, replay()
