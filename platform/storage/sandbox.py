"""Structure checks in worker processes, each with a time limit: a hostile file holds nothing.

A parser can be made to loop or crawl by a crafted file (pypdf over a maze of
objects, a decoder over a pathological stream), and a thread cannot be
stopped. So the checks run in a few long-lived worker processes; one that
overruns the time limit is killed (SIGKILL) and replaced, and the upload is
refused with `UPLOAD_CHECK_TIMEOUT`. A worker that dies (a parser crash, its
memory cap) refuses its upload as corrupt. Workers are forked from a fork
server that has already imported the parsers, so one starts in milliseconds,
and never from the app process itself (whose threads a fork would copy
mid-step). Each is capped at `WORKER_MEMORY_BYTES` of address space.

The pool is per process and shared by every event loop in it (tests run many);
waiting on a worker is done on the calling loop, so nothing here binds to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from licheng.storage.errors import (
    UPLOAD_CHECK_TIMEOUT,
    UPLOAD_CORRUPT,
    BlobIntegrityError,
    BlobStoreUnavailable,
    UploadRefused,
)
from licheng.settings import Settings
from licheng.storage.views import Source

log = logging.getLogger(__name__)

# A 10 MB file of any accepted kind checks in well under a second; LICHENG_UPLOAD_CHECK_SECONDS
# changes the limit for the process (read once, at import, through the settings).
CHECK_SECONDS = Settings().upload_check_seconds
WORKER_MEMORY_BYTES = 1024 * 1024 * 1024
_PRELOAD = ["licheng.storage.structure"]


@dataclass(frozen=True, slots=True)
class CheckJob:
    """One blob to check: where to read it and what it claims to be (picklable)."""

    source: Source
    kind: str
    max_image_pixels: int


# -- the worker side --------------------------------------------------------------------


def _cap_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit still holds
        pass


def _answer(job: CheckJob) -> tuple[Any, ...]:
    from licheng.storage.errors import BlobNotFound
    from licheng.storage.structure import check_structure

    try:
        return ("ok", sorted(check_structure(job.source, job.kind, job.max_image_pixels)))
    except UploadRefused as refused:
        return ("refused", refused.code, refused.details)
    except (BlobIntegrityError, BlobNotFound) as exc:
        return ("integrity", f"{type(exc).__name__}: {exc}")
    except MemoryError:
        return ("error", "MemoryError")
    except Exception as exc:  # noqa: BLE001 - a parser's unexpected failure, or the store's
        return (_store_or_parser(exc), f"{type(exc).__name__}: {exc}"[:500])


def _store_or_parser(exc: Exception) -> str:
    module = type(exc).__module__ or ""
    return "store" if module.startswith(("minio", "urllib3")) else "error"


def worker_main(conn: Connection) -> None:
    """Loop: receive a job, answer it. Ends when the app's end of the pipe closes."""
    _cap_memory()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_answer(job))


# -- the app side -----------------------------------------------------------------------


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = multiprocessing.Pipe(duplex=True)
        self.process = context.Process(target=worker_main, args=(child,), daemon=True, name="licheng-check")
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.conn.close()

    def reap(self) -> None:
        self.process.join(timeout=5)


class _WorkerGone(Exception):
    """The worker was dead before it got the job."""


class CheckPool:
    """`size` worker processes, started on first use, replaced when killed or dead."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # started and not killed
        self._started = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self._context: Any = None
        self.killed = 0  # workers killed for overrunning (tests and metrics look)

    def _new_context(self) -> Any:
        if self._context is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(_PRELOAD)
            self._context = context
        return self._context

    async def _acquire(self) -> _Worker:
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
                if self._started < self.size:
                    self._started += 1
                    start = True
                else:
                    start = False
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, waiter))
            if start:
                try:
                    worker = await asyncio.to_thread(_Worker, self._new_context())
                    with self._lock:
                        self._all.add(worker)
                    return worker
                except BaseException:
                    with self._lock:
                        self._started -= 1
                    raise
            try:
                await waiter
            except BaseException:
                with self._lock:
                    if (loop, waiter) in self._waiters:
                        self._waiters.remove((loop, waiter))
                        raise
                self._wake_one()  # we were woken, then cancelled: pass the turn on
                raise

    def _wake_one(self) -> None:
        with self._lock:
            self._wake_locked()

    def _wake_locked(self) -> None:
        while self._waiters:
            loop, waiter = self._waiters.popleft()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, waiter)
                return

    def _release(self, worker: _Worker | None) -> None:
        """Give a worker back (None: it was killed, a slot opens); wake one waiter."""
        with self._lock:
            if worker is None:
                self._started -= 1
            else:
                self._idle.append(worker)
            self._wake_locked()

    async def run(self, job: CheckJob, *, timeout: float) -> list[str]:
        """The flags found in a blob, or `UploadRefused` (incl. UPLOAD_CHECK_TIMEOUT)."""
        for attempt in range(self.size + 1):  # every idle worker may have died: then a new one
            worker = await self._acquire()
            try:
                answer = await self._ask(worker, job, timeout)
            except _WorkerGone:  # it died while idle (killed from outside): try the next
                await self._discard(worker)
                if attempt == self.size:
                    raise UploadRefused.of(UPLOAD_CORRUPT, reason="checker unavailable") from None
                continue
            except BaseException:
                await self._discard(worker)  # a timeout, a cancel, a crash: its state is unknown
                raise
            self._release(worker)
            return _result(answer)
        raise AssertionError("unreachable")

    async def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
        self._release(None)
        await asyncio.shield(asyncio.to_thread(worker.reap))

    async def _ask(self, worker: _Worker, job: CheckJob, timeout: float) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        try:
            worker.conn.send(job)
        except OSError:  # BrokenPipeError and the like: no one is reading
            raise _WorkerGone() from None
        fd = worker.conn.fileno()
        loop.add_reader(fd, _wake, ready)
        try:
            try:
                await asyncio.wait_for(ready, timeout)
            except TimeoutError:
                self.killed += 1
                log.warning("structure check of a %s overran %.1f s: worker killed", job.kind, timeout)
                raise UploadRefused.of(UPLOAD_CHECK_TIMEOUT, seconds=timeout) from None
        finally:
            loop.remove_reader(fd)
        try:
            answer: tuple[Any, ...] = worker.conn.recv()
        except (EOFError, OSError):  # the worker died: a parser crash or its memory cap
            log.warning("structure check of a %s: the worker died (exit %s)", job.kind, worker.process.exitcode)
            raise UploadRefused.of(UPLOAD_CORRUPT, reason="checker crashed") from None
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
            self._all.difference_update(idle)
        for worker in idle:
            worker.kill()
            worker.reap()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _result(answer: tuple[Any, ...]) -> list[str]:
    status = answer[0]
    if status == "ok":
        return list(answer[1])
    if status == "refused":
        raise UploadRefused.of(answer[1], **answer[2])
    if status == "integrity":
        raise BlobIntegrityError(answer[1])
    if status == "store":
        raise BlobStoreUnavailable(answer[1])
    log.warning("upload check failed: %s", answer[1])
    raise UploadRefused.of(UPLOAD_CORRUPT)


_pool: CheckPool | None = None
_pool_lock = threading.Lock()


def check_pool() -> CheckPool:
    """The process's pool: as many workers as CPUs (at most 4), LICHENG_CHECK_WORKERS to change."""
    global _pool
    with _pool_lock:
        if _pool is None:
            size = Settings().check_workers or min(4, os.cpu_count() or 1)
            _pool = CheckPool(max(1, size))
        return _pool
