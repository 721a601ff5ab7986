"""The blob store port: where uploaded files live, and how it is chosen.

Two implementations behave the same (one test suite runs over both):
local disk (the embedded default) and any S3-compatible server (MinIO in
production). Every write streams: the size limit is enforced and the SHA-256
computed while bytes pass, and a refused or failed write leaves nothing behind.

Storage URL (`LICHENG_STORAGE_URL`):

    /var/lib/licheng/blobs                  a plain path: local disk
    file:///var/lib/licheng/blobs           the same, as a URL
    s3://ACCESS:SECRET@host:9000/bucket?secure=false&region=us-east-1

S3 query options: `secure` (default true: HTTPS), `region` (skips a region
look-up), `create_bucket` (default true: create the bucket if missing),
`part_size` (bytes per multipart part, >= 5 MiB; default 5 MiB), `public`
(`http(s)://host[:port]`: the endpoint browsers reach the store by, when the app
reaches it by an internal name; presigned URLs are made for it). Percent-encode
the access key and secret if they contain `:`, `@` or `/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from licheng.errors import LichengError
from licheng.storage.views import Source


class StorageUrlInvalid(LichengError, ValueError):
    """A bad LICHENG_STORAGE_URL, found at startup (still a ValueError for the callers
    that catch one). The message never repeats the URL: it holds the keys."""

    def __init__(self, option: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(
            "STORAGE_URL_INVALID",
            f"LICHENG_STORAGE_URL 的 {option} 設定錯誤：{reason_zh}",
            f"LICHENG_STORAGE_URL option {option}: {reason_en}",
            option=option,
        )


@dataclass(frozen=True, slots=True)
class PublicEndpoint:
    """Where browsers reach the object store (`?public=`), as `host[:port]` + TLS or not."""

    endpoint: str
    secure: bool

    @property
    def base_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def parse_public_endpoint(value: str) -> PublicEndpoint:
    """`public=` of an s3:// storage URL: an origin only (`http(s)://host[:port]`).
    A path could not work (path-style URLs put the bucket first) and a query or
    credentials would leak into every link handed to a browser."""
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise StorageUrlInvalid(
            "public=", "只接受 http:// 或 https:// 開頭的網址", "must start with http:// or https://"
        )
    if parts.username is not None or parts.password is not None:
        raise StorageUrlInvalid("public=", "不可包含帳號或密碼", "must not contain credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise StorageUrlInvalid(
            "public=",
            "只能是 scheme://主機[:埠]，不可有路徑或查詢字串",
            "must be scheme://host[:port], with no path or query",
        )
    try:
        port = parts.port
    except ValueError:
        raise StorageUrlInvalid("public=", "埠號無效", "has an invalid port") from None
    host = parts.hostname
    if not host:
        raise StorageUrlInvalid("public=", "缺少主機名稱", "has no host name")
    host = f"[{host}]" if ":" in host else host  # IPv6 literal
    secure = scheme == "https"
    # Browsers omit a default port from Host, and SigV4 signs Host: never sign it in.
    default = 443 if secure else 80
    return PublicEndpoint(host if port in (None, default) else f"{host}:{port}", secure)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a finished write measured on the way: kept in the database row."""

    size: int
    sha256_hex: str


@dataclass(frozen=True, slots=True)
class BlobStat:
    size: int


@runtime_checkable
class BlobStore(Protocol):
    """Async blob storage. Keys come from `licheng.storage.keys.new_blob_key`."""

    name: str

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None
    ) -> StoredObject:
        """Stream `chunks` into `key` (replacing it). Past `max_bytes`, raise
        `UploadRefused(UPLOAD_TOO_LARGE)` at once; on any failure nothing is stored."""
        ...

    def open(self, key: str, *, chunk_size: int = ...) -> AsyncIterator[bytes]:
        """Read in chunks; raises `BlobNotFound` on first iteration if missing."""
        ...

    def source_of(self, key: str, size: int) -> Source:
        """How another process reads the stored blob in place (structure checks)."""
        ...

    async def stat(self, key: str) -> BlobStat | None: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key starting with `prefix` (plain string prefix, any order)."""
        ...

    async def presigned_get_url(
        self,
        key: str,
        *,
        filename: str,
        expires: timedelta,
        content_type: str | None = None,
    ) -> str | None:
        """A time-limited direct download URL, or None (local: serve it ourselves)."""
        ...

    async def check(self) -> None:
        """Readiness: raise `BlobStoreUnavailable` if the store can't be used."""
        ...


def make_blob_store(url: str) -> BlobStore:
    """Choose the store from the storage URL (format in the module docstring)."""
    if not url:
        raise ValueError("empty storage URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL must be file:///absolute/path, got {url!r}")
        from licheng.storage.local import LocalBlobStore

        return LocalBlobStore(unquote(parts.path))
    if scheme == "s3":
        from licheng.storage.s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    if scheme == "" or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        from licheng.storage.local import LocalBlobStore

        return LocalBlobStore(url)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (use file:// or s3://)")
