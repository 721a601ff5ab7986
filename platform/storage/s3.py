"""S3-compatible blob store (MinIO in production, any S3 in principle).

The `minio` SDK is synchronous, so every call runs in a worker thread. Uploads
have unknown length: an async producer feeds a small bounded queue, and a
file-like reader in the worker thread pulls from it for
`put_object(length=-1)`, which sends a single PUT for small files and a
multipart upload otherwise. Memory stays near one part plus the queue.
When the stream fails or crosses its limit, the reader raises inside the SDK,
which aborts the multipart upload: no object is left. Only plain S3 calls are
used (no MinIO admin or extension APIs). Links for browsers may name another endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, unquote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import S3Error

from licheng.storage.blobstore import BlobStat, PublicEndpoint, StoredObject, parse_public_endpoint
from licheng.storage.errors import BlobIntegrityError, BlobNotFound, BlobStoreUnavailable
from licheng.storage.filenames import content_disposition
from licheng.storage.keys import validate_key, validate_prefix
from licheng.storage.streams import CheckedStream, checked_stream
from licheng.storage.views import S3Source

_MIN_PART = 5 * 1024 * 1024
_PIECE = 256 * 1024  # chunks are joined up to this size before queueing
_QUEUE_PIECES = 8  # so ~2 MiB (8 pieces) waits between the request and the SDK
_LIST_BATCH = 1000
_STALL_SECONDS = 600.0  # a body that sends nothing for this long is abandoned
_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
# Each upload holds a thread for as long as its body takes to arrive (the SDK reads
# blocking): its own pool, so slow clients never starve the default executor that
# checks and the local store use.
_UPLOAD_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="licheng-s3-put")
_EOF = object()
_ABORT = object()


class _Aborted(Exception):
    """The awaiting side went away (cancelled or failed): stop the upload."""


class _QueueReader:
    """File-like `read(n)` for the SDK's worker thread, fed by the event loop."""

    def __init__(self, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._queue = queue
        self._loop = loop
        self.digest = hashlib.sha256()  # hashed here, in the SDK's thread, not on the loop
        self._chunk = b""
        self._offset = 0
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._chunk):
            if self._eof:
                return b""
            waiting = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
            try:
                item = waiting.result(timeout=_STALL_SECONDS)
            except TimeoutError:  # the loop is gone or the client stalled: give up
                waiting.cancel()
                raise _Aborted() from None
            if item is _EOF:
                self._eof = True
                return b""
            if item is _ABORT:
                raise _Aborted()
            if isinstance(item, BaseException):
                raise item
            self.digest.update(item)
            self._chunk, self._offset = item, 0
        end = len(self._chunk) if size < 0 else min(len(self._chunk), self._offset + size)
        if self._offset == 0 and end == len(self._chunk):
            out = self._chunk  # whole chunk: no copy
        else:
            out = self._chunk[self._offset : end]
        self._offset = end
        return out


async def _produce(stream: CheckedStream, queue: asyncio.Queue[Any]) -> None:
    # Small chunks are joined into pieces of ~256 KiB: fewer thread hops and
    # fewer copies in the SDK, which grows each part by concatenation.
    pending: list[bytes] = []
    pending_size = 0
    try:
        async with aclosing(aiter(stream)) as source:
            async for chunk in source:
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _PIECE:
                    await queue.put(pending[0] if len(pending) == 1 else b"".join(pending))
                    pending, pending_size = [], 0
        if pending:
            await queue.put(b"".join(pending))
        await queue.put(_EOF)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the SDK's thread, which aborts
        await queue.put(exc)


class _UploadState:
    """Decides, under a lock, who removes an object finished after a cancel."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.abandoned = False
        self.completed = False


class S3BlobStore:
    """Blobs as objects in one bucket."""

    name = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str | None,
        secret_key: str | None,
        secure: bool = True,
        region: str | None = None,
        create_bucket: bool = True,
        part_size: int = _MIN_PART,
        public: PublicEndpoint | None = None,
    ) -> None:
        if part_size < _MIN_PART:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self.bucket = bucket
        self.region = region
        self.create_bucket = create_bucket
        self.part_size = part_size
        self._client = new_client(endpoint, access_key, secret_key, secure=secure, region=region)
        self._identity = (endpoint, access_key, secret_key, secure)
        self._bucket_ready = False
        self.public = public
        self._public_client: Minio | None = None

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parts = urlsplit(url)
        bucket = parts.path.strip("/")
        if parts.scheme != "s3" or not parts.hostname or not bucket or "/" in bucket:
            raise ValueError("S3 URL must be s3://ACCESS:SECRET@host[:port]/bucket[?options]")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
        return cls(
            endpoint,
            bucket,
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
            secure=_flag(options.get("secure"), True),
            region=options.get("region") or None,
            create_bucket=_flag(options.get("create_bucket"), True),
            part_size=int(options.get("part_size", _MIN_PART)),
            public=parse_public_endpoint(options["public"]) if options.get("public") else None,
        )

    def _ensure_bucket(self, *, probe: bool = False) -> None:
        if self._bucket_ready and not probe:
            return
        if not self._client.bucket_exists(self.bucket):
            if not self.create_bucket:
                raise BlobStoreUnavailable(f"bucket {self.bucket!r} does not exist")
            try:
                self._client.make_bucket(self.bucket, location=self.region)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    def _upload(self, key: str, reader: _QueueReader, state: _UploadState) -> None:
        self._ensure_bucket()
        self._client.put_object(
            self.bucket,
            key,
            cast(BinaryIO, reader),
            -1,  # unknown length: single PUT if it fits one part, else multipart
            part_size=self.part_size,
            num_parallel_uploads=1,  # parts in order, one in memory
        )
        with state.lock:
            state.completed = True
            remove = state.abandoned
        if remove:  # the caller was cancelled while the last request finished
            self._client.remove_object(self.bucket, key)

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None
    ) -> StoredObject:
        validate_key(key)
        stream = checked_stream(chunks, max_bytes, hashing=False)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=_QUEUE_PIECES)
        state = _UploadState()
        producer = asyncio.create_task(_produce(stream, queue))
        loop = asyncio.get_running_loop()
        reader = _QueueReader(queue, loop)
        try:
            await loop.run_in_executor(_UPLOAD_THREADS, self._upload, key, reader, state)
        except BaseException:
            with state.lock:
                state.abandoned = True
                completed = state.completed
            producer.cancel()
            while not queue.empty():  # wake a reader blocked on get(): it aborts
                queue.get_nowait()
            queue.put_nowait(_ABORT)
            await asyncio.gather(producer, return_exceptions=True)
            if completed:
                await asyncio.shield(self.delete(key))
            raise
        await producer
        return StoredObject(size=stream.size, sha256_hex=reader.digest.hexdigest())

    async def open(self, key: str, *, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        validate_key(key)
        try:
            response = await asyncio.to_thread(self._client.get_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise BlobNotFound(key) from None
            raise
        try:
            pieces = response.stream(chunk_size)
            while (chunk := await asyncio.to_thread(next, pieces, None)) is not None:
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def presigned_post(self, key: str, *, size: int, expires: timedelta) -> tuple[str, dict[str, str]]:
        """A browser's form POST straight into the bucket: exactly `size` bytes under `key`,
        until `expires` (S3 enforces both). The URL and the form fields to send with the file."""
        validate_key(key)
        await asyncio.to_thread(self._ensure_bucket)
        policy = PostPolicy(self.bucket, datetime.now(UTC) + expires)
        policy.add_equals_condition("key", key)
        policy.add_content_length_range_condition(size, size)
        fields = await asyncio.to_thread(self._client.presigned_post_policy, policy)
        # The policy's signature does not cover the host: the public endpoint takes it as is.
        endpoint, _, _, secure = self._identity
        base = self.public.base_url if self.public else f"{'https' if secure else 'http'}://{endpoint}"
        return f"{base}/{self.bucket}", {"key": key, **fields}

    def source_of(self, key: str, size: int) -> S3Source:
        """What a checking process needs to read the object with range GETs (no copy)."""
        endpoint, access_key, secret_key, secure = self._identity
        return S3Source(
            endpoint=endpoint, bucket=self.bucket, key=validate_key(key), size=size,
            access_key=access_key, secret_key=secret_key, secure=secure, region=self.region,
        )  # fmt: skip

    async def stat(self, key: str) -> BlobStat | None:
        validate_key(key)
        try:
            result = await asyncio.to_thread(self._client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                return None
            raise
        return BlobStat(size=int(result.size or 0))

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._client.remove_object, self.bucket, key)

    async def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        validate_prefix(prefix)
        listing = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        while batch := await asyncio.to_thread(
            lambda: list(itertools.islice(listing, _LIST_BATCH))
        ):
            for item in batch:
                if item.object_name and not item.is_dir:
                    yield item.object_name

    async def sweep_temporary(self, prefix: str = "", *, older_than: timedelta) -> int:
        """Abort multipart uploads a killed process left unfinished (older than `older_than`).
        (MinIO also purges stale ones itself after 24 h; AWS S3 needs a lifecycle rule.)"""
        validate_prefix(prefix)
        cutoff = datetime.now(UTC) - older_than

        def sweep() -> int:
            # The SDK exposes these S3 calls only as internal methods.
            result = self._client._list_multipart_uploads(self.bucket, prefix=prefix or None)  # noqa: SLF001
            aborted = 0
            for upload in result.uploads:
                started = upload.initiated_time
                if started is not None and started <= cutoff and upload.upload_id:
                    self._client._abort_multipart_upload(self.bucket, upload.object_name, upload.upload_id)  # noqa: SLF001
                    aborted += 1
            return aborted

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
        headers: dict[str, str | list[str] | tuple[str]] = {
            "response-content-disposition": content_disposition(filename)
        }
        if content_type:
            headers["response-content-type"] = content_type
        return await asyncio.to_thread(self._presign_get, key, expires, headers)

    def _presign_get(self, key: str, expires: timedelta, headers: dict[str, Any]) -> str:
        """SigV4 signs the Host header, so a link is signed for the host browsers send (rewriting
        it afterwards breaks it): with `public=`, by a second client made for that endpoint."""
        if self.public is not None and self._public_client is None:
            _, access_key, secret_key, _ = self._identity
            # An explicit region: signing calls no server (else the bucket's, asked once internally).
            region = self.region or self._client._get_region(self.bucket)  # noqa: SLF001
            self._public_client = new_client(
                self.public.endpoint, access_key, secret_key, secure=self.public.secure, region=region
            )
        client = self._public_client or self._client
        return client.presigned_get_object(self.bucket, key, expires=expires, response_headers=headers)

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self._ensure_bucket, probe=True)
        except BlobStoreUnavailable:
            raise
        except Exception as exc:  # network, credentials, TLS: all mean "not ready"
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r}: {exc}") from exc


def new_client(
    endpoint: str, access_key: str | None, secret_key: str | None, *, secure: bool, region: str | None
) -> Minio:
    return Minio(
        endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region,
        http_client=_http_client(),
    )  # fmt: skip


def read_range(client: Minio, bucket: str, key: str, offset: int, length: int, size: int) -> bytes:
    """`length` bytes at `offset` with one range GET; the object must still be `size` bytes."""
    try:
        response = client.get_object(bucket, key, offset=offset, length=length)
    except S3Error as exc:
        if exc.code in _MISSING:
            raise BlobNotFound(key) from None
        raise
    try:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        if total.isdigit() and int(total) != size:
            raise BlobIntegrityError(f"object {key} is {total} bytes, {size} were written")
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


def _http_client() -> urllib3.PoolManager:
    # The SDK's default waits 5 minutes to connect and keeps 10 connections:
    # readiness must answer fast, and uploads run concurrently.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        maxsize=32,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")
