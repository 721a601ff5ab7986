"""Storage fixtures: the same tests run over local disk and a real S3 server.

The S3 server is moto's (`moto[server]`), started on 127.0.0.1 on a free port
for the session and always stopped. Set LICHENG_TEST_S3_URL (an s3:// URL
whose bucket part is ignored) to run against another S3, e.g. a MinIO.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio

from licheng.storage.blobstore import BlobStore, make_blob_store
from licheng.tenants.models import Role

_spec = importlib.util.spec_from_file_location(
    "licheng_storage_test_samples", Path(__file__).with_name("samples.py")
)
assert _spec and _spec.loader
_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_samples)


@pytest.fixture(scope="session")
def samples() -> ModuleType:
    return _samples


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An s3:// URL without a bucket, pointing at a live S3 server."""
    external = os.environ.get("LICHENG_TEST_S3_URL")
    if external:
        parts = urlsplit(external)
        yield urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))
        return
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield f"s3://testing:testing@127.0.0.1:{port}?secure=false&region=us-east-1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest_asyncio.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    """An empty store: a fresh folder, or a fresh bucket on the S3 server."""
    if request.param == "local":
        blob_store = make_blob_store(f"file://{tmp_path / 'blobs'}")
    else:
        base = request.getfixturevalue("s3_base_url")
        blob_store = make_blob_store(_samples.s3_url(base, f"licheng-test-{uuid.uuid4().hex[:16]}"))
    await blob_store.check()
    yield blob_store


@pytest.fixture
async def school(factory):  # noqa: ANN001, ANN201
    return await factory.school()


@pytest.fixture
async def student(factory, school):  # noqa: ANN001, ANN201
    return await factory.member(school, Role.STUDENT)
