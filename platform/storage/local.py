"""Local-disk blob store (the embedded default); reads with aiofiles, writes in worker threads.

A write goes to a hidden temporary file beside its destination, is flushed
and fsynced, renamed over the key, and the directory is fsynced: after `put`
returns, the blob survives a power cut, and a reader never sees half a file.
Writes do not use aiofiles: one thread hop per aiofiles call and SHA-256 on
the event loop held uploads to 0.4x the disk's speed; hashing and writing in
the same worker call per batch, pipelined with receiving, does much better
(bench/upload_store.py, bench/upload.py).
Temporary names start with a dot, which no valid key segment can, so they
are never listed as keys. Keys map to nested directories (`school/yyyy/id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from licheng.storage.blobstore import BlobStat, StoredObject
from licheng.storage.errors import BlobNotFound, BlobStoreUnavailable
from licheng.storage.keys import validate_key, validate_prefix
from licheng.storage.streams import checked_stream
from licheng.storage.views import LocalSource

_TMP_SUFFIX = ".tmp"
_WRITE_BYTES = 512 * 1024  # per worker call: fewer thread hops vs memory per upload
_IOV_MAX = 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux's sync_file_range(2), to start writing a range to disk without waiting."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        call(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE; failures only mean no head start

    return start_writeback


# The disk starts on each batch while the next arrives, so the final fsync waits
# for little (as RocksDB's bytes_per_sync does); durability still rests on fsync.
_start_writeback = _load_sync_file_range()


def _writev_all(fd: int, pieces: list[bytes]) -> None:
    views: list[bytes | memoryview] = list(pieces)
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = memoryview(views[0])[written:]


class _Writer:
    """The blocking half of one `put`: each method runs in a worker thread, one at a time."""

    def __init__(self, store: LocalBlobStore, path: Path) -> None:
        self.store = store
        self.path = path
        self.tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}"
        self.digest = hashlib.sha256()
        self.fd = -1
        self.written = 0
        self.renamed = False
        self.in_flight: asyncio.Future[Any] | None = None

    # -- worker-thread side
    def open(self) -> None:
        self.store._makedirs_durably(self.path.parent)  # noqa: SLF001
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o640)

    def write(self, batch: list[bytes]) -> None:
        # Hash and write in the same call: one GIL hand-off per batch (two threads, one
        # hashing and one writing, measured slower: each hand-off costs more than it saves).
        for piece in batch:
            self.digest.update(piece)  # releases the GIL: runs beside the event loop
        _writev_all(self.fd, batch)
        length = sum(len(piece) for piece in batch)
        if _start_writeback is not None:
            _start_writeback(self.fd, self.written, length)
        self.written += length

    def finish(self, batch: list[bytes]) -> None:
        if batch:
            self.write(batch)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        os.replace(self.tmp, self.path)
        self.renamed = True
        _fsync_dir(self.path.parent)

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        for leftover in (self.tmp, self.path if self.renamed else None):
            if leftover is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    # -- event-loop side
    def start(self, work: Callable[..., None], *args: object) -> None:
        self.in_flight = asyncio.get_running_loop().run_in_executor(None, work, *args)

    async def wait(self) -> None:
        if self.in_flight is not None:
            # Shielded: a cancelled caller must not mark a running thread's work done
            # (the cleanup would close the file under it); close_out waits for it.
            await asyncio.shield(self.in_flight)
            self.in_flight = None

    async def step(self, work: Callable[..., None], *args: object) -> None:
        self.start(work, *args)
        await self.wait()

    async def close_out(self) -> None:
        """Undo everything once no worker call runs, so no write or rename lands after the
        cleanup: wait for the call in flight (milliseconds); if cancelled while waiting,
        leave the cleanup to run the moment it ends."""
        running = self.in_flight
        if running is not None and not running.done():
            try:
                await asyncio.shield(running)
            except asyncio.CancelledError:  # cancelled (again) while waiting
                if running.done():
                    self.abort()
                else:
                    running.add_done_callback(lambda _: self.abort())
                raise
            except Exception:  # the call's own failure: the file is ours to remove anyway
                pass
        self.abort()


class LocalBlobStore:
    """Blobs as files under `root`."""

    name = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def path_for(self, key: str) -> Path:
        """The file of a key (validated): lets checks read a blob without a copy."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def source_of(self, key: str, size: int) -> LocalSource:
        """What a checking process needs to read the blob in place (no copy)."""
        return LocalSource(str(self.path_for(key)), size)

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
        # The size limit is checked on the event loop as chunks arrive. Each ~512 KiB
        # batch is hashed and written by one worker call while the loop gathers the
        # next batch (one batch in flight): SHA-256 off the loop, one thread hop per
        # batch, no join copies (writev), the disk started early (writeback).
        path = self.path_for(key)
        writer = _Writer(self, path)
        stream = checked_stream(chunks, max_bytes, hashing=False)
        try:
            await writer.step(writer.open)
            batch: list[bytes] = []
            batch_size = 0
            async with contextlib.aclosing(aiter(stream)) as source:
                async for chunk in source:
                    batch.append(chunk)
                    batch_size += len(chunk)
                    if batch_size >= _WRITE_BYTES:
                        await writer.wait()
                        writer.start(writer.write, batch)
                        batch, batch_size = [], 0
            await writer.wait()
            await writer.step(writer.finish, batch)
        except BaseException:
            await writer.close_out()
            raise
        return StoredObject(size=stream.size, sha256_hex=writer.digest.hexdigest())

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

    async def sweep_temporary(self, prefix: str = "", *, older_than: timedelta) -> int:
        """Remove temporary files a killed process left behind (older than `older_than`)."""
        validate_prefix(prefix)
        start = self.root.joinpath(*prefix.split("/")[:-1])
        cutoff = time.time() - older_than.total_seconds()

        def sweep() -> int:
            removed = 0
            for dirpath, _dirnames, filenames in os.walk(start):
                for name in filenames:
                    if not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
                        continue
                    path = os.path.join(dirpath, name)
                    with contextlib.suppress(FileNotFoundError):
                        if os.stat(path).st_mtime <= cutoff:
                            os.unlink(path)
                            removed += 1
            return removed

        return await asyncio.to_thread(sweep)

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
