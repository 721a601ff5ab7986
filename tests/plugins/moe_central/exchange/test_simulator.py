"""The simulator's own rules (keys, tokens, idempotency, faults) and the plugin's settings, without a school."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from moe_central.client import CentralClient, CentralRefused, CentralUnavailable
from moe_central.plugin import MoeSettings
from moe_central.simulator import create_app
from tests.plugins.moe_central.exchange.conftest import Keys


@pytest.fixture
def guarded(tmp_path: Path, exchange_keys: Keys) -> httpx.AsyncClient:
    app = create_app(tmp_path, private_key_pem=exchange_keys.central_private, api_key="k-123",
                     admin_token="admin-456", school_keys={"123456": exchange_keys.school_public.decode()})  # fmt: skip
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


async def test_the_exchange_wants_the_api_key_and_the_admin_endpoints_the_token(guarded: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "abc", "X-School-Code": "123456"}
    assert (await guarded.post("/files", content=b"x", headers=headers)).status_code == 401
    assert (await guarded.get("/_state")).status_code == 401
    assert (await guarded.post("/_faults", json={"kind": "slow"}, headers={"X-Admin-Token": "wrong"})).status_code == 401
    armed = await guarded.post("/_faults", json={"kind": "slow", "times": 2}, headers={"X-Admin-Token": "admin-456"})
    assert armed.json()["armed"] == [{"kind": "slow", "times": 2, "endpoint": "upload", "seconds": 0.5}]
    assert (await guarded.get("/public-key")).status_code == 200  # the public key is public


async def test_an_upload_without_an_idempotency_key_or_from_an_unknown_school_is_refused(guarded: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer k-123"}
    missing = await guarded.post("/files", content=b"x", headers={**auth, "X-School-Code": "123456"})
    assert (missing.status_code, missing.json()["reason"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    unknown = await guarded.post("/files", content=b"x", headers={**auth, "X-School-Code": "999999", "Idempotency-Key": "abc"})
    assert (unknown.status_code, unknown.json()["reason"]["code"]) == (400, "SCHOOL_UNKNOWN")


async def test_the_same_package_id_gets_the_same_file_id_and_another_school_cannot_see_it(guarded: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer k-123", "X-School-Code": "123456", "Idempotency-Key": "pkg1"}
    first = await guarded.post("/files", content=b"bytes", headers=headers)
    again = await guarded.post("/files", content=b"bytes", headers=headers)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["file_id"] == again.json()["file_id"]
    assert again.json()["duplicate"] is True
    other = await guarded.get(f"/files/{first.json()['file_id']}/status", headers={**headers, "X-School-Code": "654321"})
    assert other.status_code == 404


async def test_a_package_that_is_not_a_package_is_refused_with_a_reason(guarded: httpx.AsyncClient, exchange_keys: Keys) -> None:
    headers = {"Authorization": "Bearer k-123", "X-School-Code": "123456", "Idempotency-Key": "pkg2"}
    file_id = (await guarded.post("/files", content=b"not a package", headers=headers)).json()["file_id"]
    await guarded.post(f"/files/{file_id}/notify", headers=headers)
    status = (await guarded.get(f"/files/{file_id}/status", headers=headers)).json()
    assert status["state"] == "rejected" and status["reason"]["code"].startswith("PACKAGE_")
    assert (await guarded.get(f"/files/{file_id}/receipts", headers=headers)).status_code == 409


@pytest.mark.parametrize("body", [{"kind": "meteor"}, {"kind": "slow", "times": 0}, {"kind": "slow", "endpoint": "x"},
                                  {"kind": "timeout", "seconds": -1}, ["slow"]])  # fmt: skip
async def test_a_bad_fault_is_refused(guarded: httpx.AsyncClient, body: object) -> None:
    answer = await guarded.post("/_faults", json=body, headers={"X-Admin-Token": "admin-456"})
    assert (answer.status_code, answer.json()["reason"]["code"]) == (400, "FAULT_INVALID")


async def test_the_client_tells_a_refusal_from_an_outage(guarded: httpx.AsyncClient, tmp_path: Path) -> None:
    transport = guarded._transport
    client = CentralClient("http://sim", school_code="123456", api_key="wrong", transport=transport)
    with pytest.raises(CentralRefused) as refused:
        await client.status("F1", package_id="p")
    assert refused.value.code == "UNAUTHORISED"
    client = CentralClient("http://sim", school_code="123456", api_key="k-123", transport=transport)
    package = tmp_path / "p.bin"
    package.write_bytes(b"bytes")
    with pytest.raises(CentralUnavailable, match="UPLOAD_CORRUPTED"):  # bytes lost on the way: send again
        await client.upload(package, package_id="pkg3", sha256="0" * 64, size=5)
    file_id = await client.upload(package, package_id="pkg3", sha256=hashlib.sha256(b"bytes").hexdigest(), size=5)
    await guarded.post("/_faults", json={"kind": "error500", "endpoint": "status"}, headers={"X-Admin-Token": "admin-456"})
    with pytest.raises(CentralUnavailable, match="status: HTTP 500"):
        await client.status(file_id, package_id="pkg3")


@pytest.mark.parametrize("url", ["http://central.example.org", "ftp://127.0.0.1", "http://127.0.0.1.evil.org/x"])
def test_plain_http_is_only_for_this_machine(url: str) -> None:
    with pytest.raises(ValidationError):
        MoeSettings(endpoint_url=url)
    assert MoeSettings(endpoint_url="http://127.0.0.1:8765").endpoint_url.startswith("http://")


def test_the_central_key_must_be_a_public_key(exchange_keys: Keys) -> None:
    with pytest.raises(ValidationError):
        MoeSettings(central_public_key=exchange_keys.school_private.decode())
    assert MoeSettings(central_public_key=exchange_keys.central_public.decode()).central_public_key


async def test_a_package_from_a_school_whose_registered_key_is_unreadable_is_refused_not_retried(
    tmp_path: Path, exchange_keys: Keys
) -> None:
    app = create_app(tmp_path, private_key_pem=exchange_keys.central_private,
                     school_keys={"123456": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"})  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        headers = {"X-School-Code": "123456", "Idempotency-Key": "pkg4"}
        from datetime import UTC, datetime

        from moe_central.package import build_package
        from tests.plugins.moe_central.package.conftest import ids_for, year_snapshot

        snapshot = year_snapshot(2)
        built = await build_package(snapshot, national_ids=ids_for(snapshot), file_source=None, out_dir=tmp_path / "out",
                                    central_public_key_pem=exchange_keys.central_public,
                                    school_private_key_pem=exchange_keys.school_private, now=datetime.now(UTC))  # fmt: skip
        headers["Idempotency-Key"] = built.package_id
        file_id = (await http.post("/files", content=built.path.read_bytes(), headers=headers)).json()["file_id"]
        await http.post(f"/files/{file_id}/notify", headers=headers)
        status = (await http.get(f"/files/{file_id}/status", headers=headers)).json()
    assert (status["state"], status["reason"]["code"]) == ("rejected", "PACKAGE_UNREADABLE")
