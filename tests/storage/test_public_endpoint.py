"""`public=`: presigned URLs for browsers when the app reaches S3 by an internal name.

The session's S3 server is reached by the app at 127.0.0.1 and plays the public
endpoint under another name for the same server, `localhost`. moto (5.x) does not
check presigned signatures at all (any signature, even a wrong secret, is served;
with its IAM auth switched on a presigned GET fails with a 500), so the host each
URL is valid for is checked here by recomputing its SigV4 signature.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import timedelta
from types import ModuleType
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import pytest

from licheng.storage.blobstore import StorageUrlInvalid, make_blob_store
from licheng.storage.s3 import S3BlobStore

KEY = "001234/2026/0123456789abcdef0123456789abcdef"
PDF = b"%PDF-1.7 public endpoint"


def _other_name(base: str) -> str:
    """The same server under a name the app does not use."""
    parts = urlsplit(base)
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(parts.hostname or "")
    if other is None:
        pytest.skip("needs the S3 server on 127.0.0.1 or localhost (LICHENG_TEST_S3_URL points elsewhere)")
    return f"{other}:{parts.port}"


def _store(base: str, samples: ModuleType, **options: str) -> S3BlobStore:
    store = make_blob_store(samples.s3_url(base, f"licheng-public-{uuid.uuid4().hex[:12]}", **options))
    assert isinstance(store, S3BlobStore)
    return store


def _secret(base: str) -> str:
    return unquote(urlsplit(base).password or "")


def _signed_for(url: str, host: str, secret: str) -> bool:
    """Whether the presigned GET `url` is valid when sent with `Host: host` (SigV4, query auth)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(query)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query if k != "X-Amz-Signature")
    canonical = "\n".join(
        ["GET", parts.path, "&".join(f"{k}={v}" for k, v in encoded), f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = given["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", given["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given["X-Amz-Signature"])


async def test_presigned_urls_carry_the_public_host_and_work_there(
    s3_base_url: str, samples: ModuleType
) -> None:
    internal = urlsplit(s3_base_url).netloc.rpartition("@")[2]
    public = _other_name(s3_base_url)
    store = _store(s3_base_url, samples, public=f"http://{public}")
    await store.check()
    await store.put(KEY, samples.chunked(PDF), max_bytes=None)

    url = await store.presigned_get_url(KEY, filename="成果.pdf", expires=timedelta(minutes=2))
    assert url is not None and urlsplit(url).netloc == public
    assert _signed_for(url, public, _secret(s3_base_url))
    assert not _signed_for(url, internal, _secret(s3_base_url))  # rewriting the host would break it
    async with httpx.AsyncClient() as browser:
        fetched = await browser.get(url)
        assert fetched.status_code == 200 and fetched.content == PDF

        other = f"{KEY[:-1]}0"
        post_url, fields = await store.presigned_post(other, size=len(PDF), expires=timedelta(minutes=2))
        assert post_url == f"http://{public}/{store.bucket}"
        sent = await browser.post(post_url, data=fields, files={"file": ("blob", PDF)})
        assert sent.status_code in (200, 201, 204), sent.text
    assert b"".join([chunk async for chunk in store.open(other)]) == PDF


async def test_without_public_the_urls_carry_the_internal_host(
    s3_base_url: str, samples: ModuleType
) -> None:
    internal = urlsplit(s3_base_url).netloc.rpartition("@")[2]
    store = _store(s3_base_url, samples)
    await store.check()
    await store.put(KEY, samples.chunked(PDF), max_bytes=None)
    url = await store.presigned_get_url(KEY, filename="成果.pdf", expires=timedelta(minutes=2))
    assert url is not None and urlsplit(url).netloc == internal
    assert _signed_for(url, internal, _secret(s3_base_url))
    post_url, _ = await store.presigned_post(KEY, size=len(PDF), expires=timedelta(minutes=2))
    assert post_url == f"http://{internal}/{store.bucket}"


async def test_without_region_the_public_client_takes_the_buckets_region(
    s3_base_url: str, samples: ModuleType
) -> None:
    parts = urlsplit(s3_base_url)
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("region="))
    base = parts._replace(query=query).geturl()
    public = _other_name(s3_base_url)
    store = _store(base, samples, public=f"http://{public}")
    assert store.region is None
    await store.check()
    await store.put(KEY, samples.chunked(PDF), max_bytes=None)
    url = await store.presigned_get_url(KEY, filename="a.pdf", expires=timedelta(minutes=2))
    assert url is not None and _signed_for(url, public, _secret(s3_base_url))
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(url)).content == PDF


async def test_signing_for_the_public_endpoint_calls_no_server() -> None:
    # Neither endpoint answers (a closed port, a name that does not resolve): with
    # region= the URL is still made, so a link costs no request to either.
    store = make_blob_store(
        "s3://AK:SK@127.0.0.1:9/blobs?secure=false&region=ap-northeast-1&public=https://files.invalid:443"
    )
    url = await store.presigned_get_url(KEY, filename="a.pdf", expires=timedelta(minutes=2))
    assert url is not None and url.startswith(f"https://files.invalid/blobs/{KEY}?")
    assert _signed_for(url, "files.invalid", "SK")
    assert "ap-northeast-1" in unquote(url)


@pytest.mark.parametrize(
    "value",
    [
        "ftp://files.example.org",
        "files.example.org",
        "https://",
        "https://files.example.org/minio",
        "https://files.example.org/?x=1",
        "https://admin:hunter2@files.example.org",
        "https://files.example.org:99999",
    ],
)
def test_a_bad_public_value_is_refused_at_startup(value: str) -> None:
    secret = "s3cr3t-" + os.urandom(4).hex()
    with pytest.raises(StorageUrlInvalid) as refused:
        make_blob_store(f"s3://AK:{secret}@minio.internal:9000/blobs?secure=false&public={quote(value, safe='')}")
    assert refused.value.code == "STORAGE_URL_INVALID"
    assert refused.value.details == {"option": "public="}
    assert "public=" in refused.value.message_zh and "public=" in refused.value.message_en
    message = str(refused.value)
    assert secret not in message and "hunter2" not in message  # keys never reach a log
    assert isinstance(refused.value, ValueError)  # what startup and the CLI already catch


@pytest.mark.parametrize(
    ("value", "endpoint", "secure"),
    [
        ("https://files.example.org", "files.example.org", True),
        ("https://files.example.org:443/", "files.example.org", True),
        ("HTTP://Files.Example.org:8080", "files.example.org:8080", False),
        ("http://[::1]:9000", "[::1]:9000", False),
    ],
)
def test_a_public_origin_is_kept_as_browsers_send_its_host(value: str, endpoint: str, secure: bool) -> None:
    store = make_blob_store(f"s3://AK:SK@minio.internal:9000/blobs?region=us-east-1&public={quote(value, safe='')}")
    assert isinstance(store, S3BlobStore) and store.public is not None
    assert (store.public.endpoint, store.public.secure) == (endpoint, secure)
