"""HTTP edge fixtures: the real app over in-process HTTP, once on local disk and once on S3.

`files` is parametrized: every test using it runs against an app whose blob
store is a local folder and against one whose store is a bucket on a real S3
server (moto's, on 127.0.0.1; see tests/storage/conftest.py). Each test makes
its own school, and blob keys start with the school's id, so tests never see
each other's blobs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from licheng.auth.service import sign_in
from licheng.settings import Settings
from licheng.storage.blobstore import BlobStore
from licheng.storage.limits import UploadLimits, national_defaults
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import QuotaLedger, StoredBlob
from licheng.storage.s3 import S3BlobStore
from tests.conftest import PASSWORD, Member
from tests.storage import samples
from tests.storage.conftest import s3_base_url  # noqa: F401 - the session's S3 server

MiB = 1024 * 1024


def settings_with_store(settings: Settings, storage_url: str) -> Settings:
    return Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        storage_url=storage_url,
        secret_key=settings.secret_key,
        base_url="http://testserver",
        debug=False,
        rate_limit_per_minute=0,  # one token sends whole corpora here; limits have their own tests
    )


@pytest.fixture(scope="session", params=["local", "s3"])
def store_app(request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from licheng.app import create_app

    if request.param == "local":
        url = f"file://{tmp_path_factory.mktemp('http-blobs')}"
    else:
        url = samples.s3_url(request.getfixturevalue("s3_base_url"), f"licheng-http-{uuid.uuid4().hex[:12]}")
    return create_app(settings_with_store(settings, url), manage_db=False)


class Files:
    """Uploads and downloads as a client does them, plus what a test needs to look inside."""

    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app
        self.settings: Settings = app.state.settings
        self.store: BlobStore = app.state.blob_store
        self._tokens: dict[int, str] = {}

    async def token(self, member: Member) -> str:
        if member.account.id not in self._tokens:
            school = member.school.code if member.school else None
            pair = await sign_in(self.settings, member.account.login, PASSWORD, school)
            self._tokens[member.account.id] = pair.access_token
        return self._tokens[member.account.id]

    async def upload(
        self,
        member: Member | None,
        data: bytes,
        filename: str | None = "作品.pdf",
        *,
        category: str = "document",
        student: str | None = None,
        chunk: int = 64 * 1024,
        stream: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        params = {"category": category}
        if filename is not None:
            params["filename"] = filename
        if student is not None:
            params["student"] = student
        sent = dict(headers or {})
        if member is not None:
            sent["authorization"] = f"Bearer {await self.token(member)}"
        content: Any = samples.chunked(data, chunk) if stream else data
        return await self.http.post("/uploads", params=params, content=content, headers=sent)

    async def download(self, member: Member | None, blob_id: int, **params: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {await self.token(member)}"} if member else {}
        return await self.http.get(f"/files/{blob_id}", params=params, headers=headers)

    @contextmanager
    def limits(self, **changes: Any) -> Iterator[UploadLimits]:
        """Run with other upload limits (a policy's numbers) for the whole app."""
        base = national_defaults()
        limits = replace(base, **changes)
        saved = self.app.state.upload_limits_provider

        async def provider(school_id: int, student_id: int | None) -> UploadLimits:
            return limits

        self.app.state.upload_limits_provider = provider
        try:
            yield limits
        finally:
            self.app.state.upload_limits_provider = saved

    async def keys(self, school_id: int) -> list[str]:
        return [key async for key in self.store.iter_keys(f"{school_id}/")]

    async def read(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.store.open(key)])

    async def assert_nothing_stored(self, school_id: int) -> None:
        """No blob, no temporary file, no unfinished multipart upload, no row."""
        assert await self.keys(school_id) == []
        if isinstance(self.store, LocalBlobStore):
            folder = self.store.root / str(school_id)
            assert [p for p in folder.rglob("*") if p.is_file()] == [] if folder.exists() else True
        if isinstance(self.store, S3BlobStore):
            result = self.store._client._list_multipart_uploads(self.store.bucket, prefix=f"{school_id}/")  # noqa: SLF001
            assert list(result.uploads) == []
        assert await StoredBlob.filter(school_id=school_id).count() == 0

    async def used(self, person_id: int) -> int:
        row = await QuotaLedger.get_or_none(person_id=person_id)
        return int(row.used_bytes) if row else 0


@pytest_asyncio.fixture
async def files(store_app: Any) -> AsyncIterator[Files]:
    transport = httpx.ASGITransport(app=store_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Files(http, store_app)


def local_path(store: BlobStore, key: str) -> Path:
    assert isinstance(store, LocalBlobStore)
    return store.path_for(key)
