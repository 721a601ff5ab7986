"""Local-disk blob store (the embedded default), written with aiofiles.

A write goes to a hidden temporary file beside its destination, is flushed
and fsynced, renamed over the key, and the directory is fsynced: after `put`
returns, the blob survives a power cut, and a reader never sees half a file.
Temporary names start with a dot, which no valid key segment can, so they
are never listed as keys. Keys map to nested directories (`school/yyyy/id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiofiles
import aiofiles.os

from licheng.storage.blobstore import BlobStat, StoredObject
from licheng.storage.errors import BlobNotFound, BlobStoreUnavailable
from licheng.storage.keys import validate_key, validate_prefix
from licheng.storage.streams import checked_stream

_TMP_SUFFIX = ".tmp"
_WRITE_BYTES = 512 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs as files under `root`."""

    name = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def path_for(self, key: str) -> Path:
        """The file of a key (validated): lets checks read a blob without a copy."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def _makedirs_durably(self, directory: Path) -> None:
        # Each new directory entry must itself be fsynced in its parent.
        missing: list[Path] = []
        probe = directory
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for new in reversed(missing):
            with contextlib.suppress(FileExistsError):
                new.mkdir()
            _fsync_dir(new.parent)

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None
    ) -> StoredObject:
        path = self.path_for(key)
        await asyncio.to_thread(self._makedirs_durably, path.parent)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}"
        stream = checked_stream(chunks, max_bytes)
        try:
            async with aiofiles.open(tmp, "xb") as out:
                # Chunks are gathered into ~512 KiB writes: each aiofiles call is a
                # thread hop, which costs more than writing 64 KiB.
                pending: list[bytes] = []
                pending_size = 0
                async with contextlib.aclosing(aiter(stream)) as source:
                    async for chunk in source:
                        pending.append(chunk)
                        pending_size += len(chunk)
                        if pending_size >= _WRITE_BYTES:
                            await out.write(b"".join(pending))
                            pending, pending_size = [], 0
                if pending:
                    await out.write(b"".join(pending))
                await out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
            await aiofiles.os.replace(tmp, path)
        except BaseException:
            # Synchronous on purpose: it must run even while being cancelled.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        await asyncio.to_thread(_fsync_dir, path.parent)
        return StoredObject(size=stream.size, sha256_hex=stream.sha256_hex)

    async def open(self, key: str, *, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            handle = await aiofiles.open(path, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        try:
            while chunk := await handle.read(chunk_size):
                yield chunk
        finally:
            await handle.close()

    async def stat(self, key: str) -> BlobStat | None:
        try:
            result = await aiofiles.os.stat(self.path_for(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return BlobStat(size=result.st_size)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            await aiofiles.os.remove(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        await asyncio.to_thread(_fsync_dir, path.parent)

    async def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        # Walk only below the deepest directory the prefix names, one directory
        # per thread hop, so a large store is never listed whole in memory.
        validate_prefix(prefix)
        walker = os.walk(self.root.joinpath(*prefix.split("/")[:-1]))
        while (step := await asyncio.to_thread(next, walker, None)) is not None:
            dirpath, dirnames, filenames = step
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue  # temporary files and strays are never keys
                key = filename if rel == "." else f"{rel}/{filename}"
                if key.startswith(prefix):
                    yield key

    async def presigned_get_url(
        self,
        key: str,
        *,
        filename: str,
        expires: timedelta,
        content_type: str | None = None,
    ) -> str | None:
        validate_key(key)
        return None

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise BlobStoreUnavailable(f"blob root {self.root} is not writable")

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise BlobStoreUnavailable(f"blob root {self.root}: {exc}") from exc
