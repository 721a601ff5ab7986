"""`POST /uploads`: the request body streams into the blob store, and the answer is an upload ID.

    POST /uploads?category=document|media|counseling&filename=<name>[&student=<Person ID>]
    Authorization: Bearer <access token>
    X-Filename: <percent-encoded UTF-8 name>        (instead of ?filename=)
    Content-Length: <bytes>                          (optional; refused at once if over a limit)
    <the file's bytes, as they are: no multipart, no base64>

201 {uploadId, size, sha256, kind, mime, category, displayFilename, flags, state, usage};
a GraphQL mutation of the portfolio then attaches `uploadId` to an item.
On S3, large files may go straight to the bucket instead: `POST /uploads/direct`, the
browser's POST to S3, then `POST /uploads/{uploadId}/complete` (licheng.storage.direct).
Refusals are JSON {code, message_zh, message_en, details} (see errors.py).
The body is read chunk by chunk from `request.stream()` and handed to the
store as it arrives: never held whole in memory, never spooled to a file.
Being a Bearer-token API (no cookies), the endpoint is not open to CSRF.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from licheng.errors import InvalidInput, LichengError
from licheng.graphql.relay import pk_of, to_global_id
from licheng.http.auth import request_actor
from licheng.http.errors import NO_STORE, error_response, store_unavailable
from licheng.http.limits import limits_provider
from licheng.storage import direct, quota, service
from licheng.storage.errors import BlobStoreUnavailable
from licheng.storage.limits import LimitsProvider, UploadLimits
from licheng.storage.models import StoredBlob

log = logging.getLogger("licheng.uploads")


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None or "chunked" in request.headers.get("transfer-encoding", "").lower():
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("Content-Length", "Content-Length 無效", "Content-Length is not a number") from None
    if value < 0:
        raise InvalidInput("Content-Length", "Content-Length 無效", "Content-Length is negative")
    return value


def _filename(request: Request) -> str | bytes | None:
    name = request.query_params.get("filename")
    if name is not None:
        return name
    header = request.headers.get("x-filename")
    return unquote_to_bytes(header) if header is not None else None


def _student(request: Request) -> int | None:
    raw = request.query_params.get("student")
    if not raw:
        return None
    return int(raw) if raw.isdigit() else pk_of(raw, "Person")


def limits_of(request: Request) -> LimitsProvider:
    provider: LimitsProvider | None = getattr(request.app.state, "upload_limits_provider", None)
    return provider or limits_provider()


def upload_json(row: StoredBlob) -> dict[str, Any]:
    return {
        "uploadId": to_global_id(service.UPLOAD_TYPE, row.id),
        "size": row.size,
        "sha256": row.sha256,
        "kind": row.kind,
        "mime": row.mime,
        "category": row.category.value,
        "displayFilename": row.display_filename,
        "flags": list(row.flags or []),
        "state": row.state.value,
    }


async def upload(request: Request) -> Response:
    try:
        actor = await request_actor(request)
        student_id = _student(request)
        school_id = actor.require_school()
        limits = await limits_of(request)(school_id, student_id or actor.person_id)
        row = await service.receive_upload(
            actor,
            request.app.state.blob_store,
            request.stream(),
            category=request.query_params.get("category"),
            filename=_filename(request),
            limits=limits,
            student_id=student_id,
            content_length=_content_length(request),
        )
    except LichengError as error:
        return error_response(error)
    except ClientDisconnect:  # nothing was kept; nobody is listening for an answer
        return error_response(LichengError("UPLOAD_INTERRUPTED", "上傳中斷，請重新上傳。", "The upload was interrupted."))
    except BlobStoreUnavailable:
        log.exception("blob store unavailable during an upload")
        return error_response(store_unavailable())
    _count(row.size)
    body = upload_json(row)
    usage = await _usage_of(row, limits)
    if usage is not None:
        body["usage"] = usage
    return JSONResponse(body, status_code=201, headers=NO_STORE)


async def _usage_of(row: StoredBlob, limits: UploadLimits) -> dict[str, Any] | None:
    if not row.charged or row.owner_person_id is None:
        return None
    usage = quota.Usage(await quota.used_bytes(row.owner_person_id), limits.quota_bytes)
    return {
        "usedBytes": usage.used_bytes,
        "limitBytes": usage.limit_bytes,
        "warning": usage.warning,
        "display": usage.display,
    }


def _declared_size(request: Request) -> int:
    raw = request.query_params.get("size", "")
    if not raw.isdigit():
        raise InvalidInput("size", "請以位元組數宣告檔案大小", "Declare the file's size in bytes")
    return int(raw)


async def begin_direct(request: Request) -> Response:
    """`POST /uploads/direct?category=&filename=&size=&sha256=[&student=]`: 201 {uploadId, url,
    fields, expiresAt}; the browser then POSTs the fields and the file ("file", last) to `url`."""
    try:
        actor = await request_actor(request)
        student_id = _student(request)
        limits = await limits_of(request)(actor.require_school(), student_id or actor.person_id)
        row, target = await direct.begin_direct_upload(
            actor, request.app.state.blob_store, category=request.query_params.get("category"),
            filename=_filename(request), size=_declared_size(request), sha256=request.query_params.get("sha256", ""),
            limits=limits, student_id=student_id,
        )  # fmt: skip
    except LichengError as error:
        return error_response(error)
    except BlobStoreUnavailable:
        log.exception("blob store unavailable while signing a direct upload")
        return error_response(store_unavailable())
    body = {
        "uploadId": to_global_id(service.UPLOAD_TYPE, row.id), "url": target.url, "fields": target.fields,
        "expiresAt": target.expires_at.isoformat(), "size": row.size, "sha256": row.sha256,
    }  # fmt: skip
    return JSONResponse(body, status_code=201, headers=NO_STORE)


async def complete_direct(request: Request) -> Response:
    """`POST /uploads/{uploadId}/complete`: the object is verified (size, SHA-256, type,
    structure) and charged; 201 as `POST /uploads` answers, or a refusal with nothing kept."""
    try:
        actor = await request_actor(request)
        upload_id = service.upload_pk(request.path_params["upload_id"])
        row = await StoredBlob.get_or_none(id=upload_id, school_id=actor.require_school())
        owner = row.owner_person_id if row is not None else None
        limits = await limits_of(request)(actor.require_school(), owner or actor.person_id)
        row = await direct.complete_direct_upload(actor, request.app.state.blob_store, upload_id, limits=limits)
    except LichengError as error:
        return error_response(error)
    except BlobStoreUnavailable:
        log.exception("blob store unavailable while completing a direct upload")
        return error_response(store_unavailable())
    body = upload_json(row)
    usage = await _usage_of(row, limits)
    if usage is not None:
        body["usage"] = usage
    return JSONResponse(body, status_code=201, headers=NO_STORE)


def _count(size: int) -> None:
    try:
        from licheng.observability import add_upload_bytes
    except ImportError:  # metrics are optional for this edge
        return
    add_upload_bytes(size)
