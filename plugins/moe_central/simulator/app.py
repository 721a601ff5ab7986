"""The central database's exchange API, simulated: an ASGI (Starlette) app.

The same endpoints the adapter calls (upload, notify, status, receipts), with
the central side's duties: dedupe by package id (a repeated upload answers
with the first file id), decrypt and validate each package (signature,
checksums, roster schema, caps of 6 outcomes and 10 performances per student
per year), keep exactly one accepted package per batch (a resubmission is a
correction of its batch, not a duplicate), produce a receipt line per roster
row (echoing its item reference and the checksum of the row as stored), and
misbehave on demand (``faults``, including rows altered, dropped or added). See docs/central.md, "Simulator and faults".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from moe_central.crypto import generate_rsa_keypair, public_of
from moe_central.format import COMMON_COLUMNS, PackageRejected, row_checksum
from moe_central.package import OpenedPackage, open_package, validate_caps
from moe_central.simulator.faults import Faults, parse
from moe_central.simulator.store import Store

MAX_PACKAGE = 2 * 1024**3
_SAFE_DETAILS = ("roster", "row", "column", "student_number", "year", "item_type", "count", "cap", "file", "field", "part")


def _refuse(status: int, code: str, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"reason": {"code": code, "zh": zh, "en": en}}, status_code=status)


class DroppedResponse(Response):
    """Starts a 200 answer, sends part of it, then drops the connection (fault ``drop_after_accept``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"file_id": "', "more_body": True})
        raise ConnectionAbortedError("simulated fault: connection dropped after accepting")


class Central:
    """The simulator's state and handlers (one instance per app)."""

    def __init__(self, data_dir: Path, *, private_key_pem: bytes | None, api_key: str | None, admin_token: str | None,
                 process_delay: float, key_bits: int) -> None:  # fmt: skip
        self.data_dir = data_dir
        (data_dir / "packages").mkdir(parents=True, exist_ok=True)
        (data_dir / "incoming").mkdir(exist_ok=True)
        key_file = data_dir / "central_private.pem"
        if private_key_pem is None and key_file.exists():
            private_key_pem = key_file.read_bytes()
        if private_key_pem is None:
            private_key_pem, _ = generate_rsa_keypair(key_bits)
            key_file.write_bytes(private_key_pem)
            key_file.chmod(0o600)
        self.private_key = private_key_pem
        self.public_key = public_of(private_key_pem)
        self.store = Store(data_dir / "central.sqlite3")
        self.faults = Faults()
        self.api_key, self.admin_token, self.process_delay = api_key, admin_token, process_delay
        self._deciding = asyncio.Lock()

    # --- guards -------------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        if not self.api_key:
            return True
        return hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {self.api_key}")

    def _admin(self, request: Request) -> bool:
        return not self.admin_token or hmac.compare_digest(request.headers.get("x-admin-token", ""), self.admin_token)

    async def _faulty(self, endpoint: str, work: Callable[[], Awaitable[Response]]) -> Response:
        fault = self.faults.take(endpoint)
        if fault is None:
            return await work()
        if fault.kind == "error500":
            return _refuse(500, "SIMULATED_ERROR", "模擬的伺服器錯誤", "Simulated server error")
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return await work()
        if fault.kind == "duplicate_delivery":
            await work()
            return await work()
        answer = await work()
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return answer
        return DroppedResponse()  # drop_after_accept

    # --- exchange endpoints -------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        if not self._authorised(request):
            return _refuse(401, "UNAUTHORISED", "未授權", "Unauthorised")
        package_id = request.headers.get("idempotency-key", "")
        school_code = request.headers.get("x-school-code", "")
        if not package_id or len(package_id) > 100 or not package_id.isalnum():
            return _refuse(400, "IDEMPOTENCY_KEY_REQUIRED", "缺少冪等鍵", "Idempotency-Key (the package id) is required")
        if self.store.school_key(school_code) is None:
            return _refuse(400, "SCHOOL_UNKNOWN", "未登記此學校的公鑰", "No public key is registered for this school code")
        part = self.data_dir / "incoming" / f"{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            async with await anyio.open_file(part, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_PACKAGE:
                        return _refuse(413, "PACKAGE_TOO_LARGE", "封包過大", "The package is too large")
                    digest.update(chunk)
                    await out.write(chunk)
            expected = request.headers.get("x-package-sha256")
            if expected and expected != digest.hexdigest():
                return _refuse(400, "UPLOAD_CORRUPTED", "傳輸後檢查碼不符", "The upload's SHA-256 differs from the declared one")

            async def ingest() -> Response:
                file_id = f"F{uuid.uuid4().hex}"
                if self.store.add_package(file_id, package_id, school_code, digest.hexdigest(), size):
                    if part.exists():
                        part.replace(self.data_dir / "packages" / f"{file_id}.lcpkg")
                    return JSONResponse({"file_id": file_id, "duplicate": False}, status_code=201)
                known = self.store.by_package_id(package_id)
                assert known is not None
                self.store.count_upload(package_id)
                return JSONResponse({"file_id": known["file_id"], "duplicate": True})

            return await self._faulty("upload", ingest)
        finally:
            part.unlink(missing_ok=True)

    def _known(self, request: Request) -> dict[str, Any] | Response:
        if not self._authorised(request):
            return _refuse(401, "UNAUTHORISED", "未授權", "Unauthorised")
        row = self.store.by_file_id(request.path_params["file_id"])
        if row is None or row["school_code"] != request.headers.get("x-school-code"):
            return _refuse(404, "FILE_UNKNOWN", "查無此檔案", "No such file")
        return row

    async def notify(self, request: Request) -> Response:
        row = self._known(request)
        if isinstance(row, Response):
            return row

        async def work() -> Response:
            self.store.notify(row["file_id"])
            return JSONResponse({"file_id": row["file_id"], "state": "notified"})

        return await self._faulty("notify", work)

    async def status(self, request: Request) -> Response:
        row = self._known(request)
        if isinstance(row, Response):
            return row

        async def work() -> Response:
            current = await self._decide(row["file_id"])
            reason = json.loads(current["reason"]) if current["reason"] else None
            return JSONResponse({"file_id": current["file_id"], "state": current["state"], "reason": reason})

        return await self._faulty("status", work)

    async def receipts(self, request: Request) -> Response:
        row = self._known(request)
        if isinstance(row, Response):
            return row

        async def work() -> Response:
            current = await self._decide(row["file_id"])
            if current["state"] != "accepted":
                return _refuse(409, "NOT_ACCEPTED", "此檔案尚未受理", "The file is not accepted")
            return JSONResponse({"file_id": current["file_id"], "lines": self.store.receipt_lines(current["file_id"])})

        return await self._faulty("receipts", work)

    # --- processing ---------------------------------------------------------------------------

    async def _decide(self, file_id: str) -> dict[str, Any]:
        """Process a notified package once its processing delay has passed; the row as it stands."""
        async with self._deciding:
            row = self.store.by_file_id(file_id)
            assert row is not None
            if row["state"] != "notified":
                return row
            if self.process_delay and time.time() - float(row["notified_at"] or 0) < self.process_delay:
                return {**row, "state": "processing"}
            await anyio.to_thread.run_sync(self._process, row)
            found = self.store.by_file_id(file_id)
            assert found is not None
            return found

    def _process(self, row: dict[str, Any]) -> None:
        file_id = row["file_id"]
        work = self.data_dir / "work" / file_id
        work.mkdir(parents=True, exist_ok=True)
        batch_id: int | None = None
        resubmission_of: int | None = None
        try:
            school_key = (self.store.school_key(row["school_code"]) or "").encode()
            opened = open_package(self.data_dir / "packages" / f"{file_id}.lcpkg", central_private_key_pem=self.private_key,
                                  school_public_key_pem=school_key, work_dir=work)  # fmt: skip
            manifest = opened.manifest
            batch_id, resubmission_of = int(manifest["batch_id"]), manifest.get("resubmission_of")
            if manifest.get("package_id") != row["package_id"] or manifest.get("school_code") != row["school_code"]:
                raise PackageRejected("PACKAGE_SCHEMA_INVALID", "封包編號或學校代碼與上傳時不符",
                                      "The package id or school code differs from the upload's", part="manifest")  # fmt: skip
            validate_caps(opened)
            if resubmission_of is not None and self.store.accepted_for_batch(row["school_code"], int(resubmission_of)) is None:
                raise PackageRejected("PACKAGE_CORRECTION_UNKNOWN", "更正的原批次尚未受理",
                                      "The batch this corrects was never accepted", batch_id=int(resubmission_of))  # fmt: skip
            other = self.store.accepted_for_batch(row["school_code"], batch_id)
            if other is not None and other["package_id"] != row["package_id"]:
                raise PackageRejected("PACKAGE_DUPLICATE_BATCH", "此批次已有受理的封包", "This batch already has an accepted package")
            lines = self._stored_lines(opened)
            self.store.decide(file_id, state="accepted", reason=None, batch_id=batch_id,
                              resubmission_of=resubmission_of, lines=lines)  # fmt: skip
        except PackageRejected as refusal:
            details = {k: v for k, v in refusal.details.items() if k in _SAFE_DETAILS}
            reason = {"code": refusal.code, "zh": refusal.message_zh, "en": refusal.message_en, "details": details}
            self.store.decide(file_id, state="rejected", reason=json.dumps(reason, ensure_ascii=False),
                              batch_id=batch_id, resubmission_of=resubmission_of)  # fmt: skip
        except (ValueError, KeyError, TypeError, OSError) as error:  # a key or manifest it cannot read: refuse, never loop
            reason = {"code": "PACKAGE_UNREADABLE", "zh": "無法讀取封包", "en": "The package cannot be read",
                      "details": {"part": type(error).__name__}}  # fmt: skip
            self.store.decide(file_id, state="rejected", reason=json.dumps(reason, ensure_ascii=False),
                              batch_id=batch_id, resubmission_of=resubmission_of)  # fmt: skip
        finally:
            shutil.rmtree(work, ignore_errors=True)  # the clear rosters never stay on disk

    def _stored_lines(self, opened: OpenedPackage) -> list[tuple[str, int, str, str, str, str, str]]:
        """A receipt line per stored row: its reference, and the checksum of the row as stored (a row fault
        changes what is stored, never what was sent)."""
        fault = self.faults.take("process")
        lines: list[tuple[str, int, str, str, str, str, str]] = []
        for roster in opened.rosters():
            number, extra = 0, None
            for number, row in enumerate(opened.rows(roster), start=1):
                kind = fault.kind if fault is not None and fault.roster in (None, roster) and number == (fault.row or 1) else None
                if kind is not None:
                    assert fault is not None
                    extra, fault = (fault.student_number or row.get("student_number", "")) if kind == "extra_row" else None, None
                if kind == "drop_row":
                    continue
                if kind == "alter_row":
                    column = next(c for c in row if c not in COMMON_COLUMNS and c not in ("item_ref", "row_sha256"))
                    row = {**row, column: row[column] + "※"}
                lines.append((roster, number, row.get("student_number", ""), "received", "", row.get("item_ref", ""),
                              row_checksum(list(row), row)))  # fmt: skip
            if extra is not None:  # a line after the roster's rows, for an item never sent
                ref = "LX" + uuid.uuid4().hex[:30]
                lines.append((roster, number + 1, extra, "received", "", ref, hashlib.sha256(ref.encode()).hexdigest()))
        return lines

    # --- admin --------------------------------------------------------------------------------

    async def public_key_pem(self, request: Request) -> Response:
        return PlainTextResponse(self.public_key.decode(), media_type="application/x-pem-file")

    async def set_faults(self, request: Request) -> Response:
        if not self._admin(request):
            return _refuse(401, "UNAUTHORISED", "未授權", "Unauthorised")
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                self.faults.arm(parse(await request.json()))
            except ValueError as error:
                return _refuse(400, "FAULT_INVALID", "故障設定無效", str(error))
        return JSONResponse({"armed": self.faults.armed(), "fired": self.faults.fired})

    async def register_school(self, request: Request) -> Response:
        if not self._admin(request):
            return _refuse(401, "UNAUTHORISED", "未授權", "Unauthorised")
        try:
            body = await request.json()
            code, pem = str(body["school_code"]), str(body["public_key_pem"])
        except (ValueError, KeyError, TypeError):
            return _refuse(400, "SCHOOL_INVALID", "學校資料無效", "school_code and public_key_pem are required")
        if len(code) != 6 or not code.isalnum() or "BEGIN PUBLIC KEY" not in pem:
            return _refuse(400, "SCHOOL_INVALID", "學校資料無效", "a 6-character school code and a PEM public key are required")
        self.store.set_school_key(code, pem)
        return JSONResponse({"school_code": code})

    async def state(self, request: Request) -> Response:
        if not self._admin(request):
            return _refuse(401, "UNAUTHORISED", "未授權", "Unauthorised")
        return JSONResponse({"packages": self.store.packages(), "faults": {"armed": self.faults.armed(), "fired": self.faults.fired}})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})


def create_app(data_dir: Path, *, private_key_pem: bytes | None = None, api_key: str | None = None,
               admin_token: str | None = None, process_delay: float = 0.0, key_bits: int = 3072,
               school_keys: dict[str, str] | None = None) -> Starlette:  # fmt: skip
    """The simulator as an ASGI app; its private key is kept in `data_dir` (made on first start)."""
    central = Central(data_dir, private_key_pem=private_key_pem, api_key=api_key, admin_token=admin_token,
                      process_delay=process_delay, key_bits=key_bits)  # fmt: skip
    for code, pem in (school_keys or {}).items():
        central.store.set_school_key(code, pem)
    app = Starlette(routes=[
        Route("/files", central.upload, methods=["POST"]),
        Route("/files/{file_id}/notify", central.notify, methods=["POST"]),
        Route("/files/{file_id}/status", central.status, methods=["GET"]),
        Route("/files/{file_id}/receipts", central.receipts, methods=["GET"]),
        Route("/public-key", central.public_key_pem, methods=["GET"]),
        Route("/_faults", central.set_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_schools", central.register_school, methods=["POST"]),
        Route("/_state", central.state, methods=["GET"]),
        Route("/healthz", central.healthz, methods=["GET"]),
    ])  # fmt: skip
    app.state.central = central
    return app
