"""The HTTP client of the central database's exchange API (upload, notify, status, receipts).

Every request carries the package's idempotency key (``Idempotency-Key``), so
the central side can answer a repeated request with what it answered the first
time. Failures come in two kinds the delivery job treats differently:

- ``CentralUnavailable`` (a timeout, a dropped connection, a 5xx): transient,
  the job retries with backoff and the repeated request is harmless;
- ``CentralRefused`` (a 4xx with a reason): the central side said no, retrying
  the same bytes would not change its mind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from licheng.jobs import JobError
from licheng.plugins import LichengError

CHUNK = 256 * 1024  # upload read size: the package is streamed from disk, never loaded whole
RETRYABLE = frozenset({"UPLOAD_CORRUPTED"})  # refusals about the transfer, not the package: send again


class CentralUnavailable(JobError):
    """The central side did not answer usefully (timeout, dropped connection, 5xx): retry later.

    Its message names the endpoint and the HTTP status or error class only (a
    ``JobError``: safe to keep as the job's last error).
    """


class CentralRefused(LichengError):
    """The central side refused the request with a reason (a 4xx)."""

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(code, message_zh, message_en, **details)


def _refusal(response: httpx.Response, endpoint: str) -> CentralRefused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = body.get("reason") if isinstance(body, dict) else None
    if isinstance(reason, dict) and reason.get("code"):
        return CentralRefused(str(reason["code"]), str(reason.get("zh", "")), str(reason.get("en", "")),
                              endpoint=endpoint, status=response.status_code)  # fmt: skip
    return CentralRefused(
        "CENTRAL_REFUSED", f"中央資料庫拒絕請求（{endpoint}，HTTP {response.status_code}）",
        f"The central database refused the request ({endpoint}, HTTP {response.status_code})",
        endpoint=endpoint, status=response.status_code,
    )  # fmt: skip


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(CHUNK):
            yield chunk


class CentralClient:
    """One school's conversation with the central endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        school_code: str,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"X-School-Code": school_code, "User-Agent": "licheng-moe-central"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, transport=transport,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )  # fmt: skip

    async def __aenter__(self) -> CentralClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _send(self, endpoint: str, request: httpx.Request) -> dict[str, Any]:
        """One request; the answer's JSON object, or ``CentralUnavailable`` / ``CentralRefused``."""
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException as error:
            raise CentralUnavailable(f"{endpoint}: timeout ({type(error).__name__})") from None
        except httpx.TransportError as error:  # refused, reset, dropped mid-answer
            raise CentralUnavailable(f"{endpoint}: {type(error).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise CentralUnavailable(f"{endpoint}: HTTP {response.status_code}")
        if response.status_code >= 400:
            refusal = _refusal(response, endpoint)
            if refusal.code in RETRYABLE:
                raise CentralUnavailable(f"{endpoint}: {refusal.code}")
            raise refusal
        try:
            body = response.json()
        except ValueError:
            raise CentralUnavailable(f"{endpoint}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise CentralUnavailable(f"{endpoint}: the answer is not an object")
        return body

    async def upload(self, path: Path, *, package_id: str, sha256: str, size: int) -> str:
        """Send the encrypted package (streamed from disk); the central side's file id."""
        request = self._http.build_request(
            "POST", "/files", content=_file_chunks(path),
            headers={"Idempotency-Key": package_id, "Content-Type": "application/octet-stream",
                     "X-Package-SHA256": sha256, "Content-Length": str(size)},
        )  # fmt: skip
        body = await self._send("upload", request)
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or not file_id or len(file_id) > 100:
            raise CentralUnavailable("upload: no file id in the answer")
        return file_id

    async def notify(self, file_id: str, *, package_id: str) -> dict[str, Any]:
        """Tell the central side the file is complete and may be processed."""
        request = self._http.build_request("POST", f"/files/{file_id}/notify", headers={"Idempotency-Key": package_id})
        return await self._send("notify", request)

    async def status(self, file_id: str, *, package_id: str) -> dict[str, Any]:
        """``{"state": "uploaded|notified|processing|accepted|rejected", "reason": {...}}``."""
        request = self._http.build_request("GET", f"/files/{file_id}/status", headers={"Idempotency-Key": package_id})
        return await self._send("status", request)

    async def receipts(self, file_id: str, *, package_id: str) -> list[dict[str, Any]]:
        """The receipt list (收訖明細): one line per roster row the central side took."""
        request = self._http.build_request("GET", f"/files/{file_id}/receipts", headers={"Idempotency-Key": package_id})
        lines = (await self._send("receipts", request)).get("lines")
        if not isinstance(lines, list):
            raise CentralUnavailable("receipts: no lines in the answer")
        return [line for line in lines if isinstance(line, dict)]
