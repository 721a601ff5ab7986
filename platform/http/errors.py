"""Errors of the HTTP edges as JSON: {code, message_zh, message_en, details}, with a status
that says what kind of refusal it is (clients decide by `code`)."""

from __future__ import annotations

from starlette.responses import JSONResponse

from licheng.errors import LichengError

_STATUS = {
    "UNAUTHENTICATED": 401,
    "PASSWORD_CHANGE_REQUIRED": 403,
    "INSUFFICIENT_SCOPE": 403,
    "TOKEN_REVOKED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "INVALID_INPUT": 400,
    "UPLOAD_TOO_LARGE": 413,
    "QUOTA_EXCEEDED": 413,
    "UPLOAD_TYPE_UNKNOWN": 415,
    "UPLOAD_TYPE_NOT_ALLOWED": 415,
    "UPLOAD_EXTENSION_MISMATCH": 415,
    "UPLOAD_EXPIRED": 408,
    "UPLOAD_INTERRUPTED": 400,
    "UPLOAD_CATEGORY_MISMATCH": 409,
    "UPLOAD_ALREADY_ATTACHED": 409,
    "BLOB_MISSING": 500,
    "BLOB_CORRUPTED": 500,
    "STORE_UNAVAILABLE": 503,
}
NO_STORE = {"cache-control": "no-store"}


def status_of(code: str) -> int:
    """The HTTP status of an error code; other refused uploads are 422 (understood, not accepted)."""
    if code in _STATUS:
        return _STATUS[code]
    return 422 if code.startswith("UPLOAD_") else 400


def error_response(error: LichengError, status: int | None = None) -> JSONResponse:
    body = {"code": error.code, "message_zh": error.message_zh, "message_en": error.message_en, "details": error.details}
    return JSONResponse(body, status_code=status or status_of(error.code), headers=NO_STORE)


def store_unavailable() -> LichengError:
    return LichengError("STORE_UNAVAILABLE", "檔案儲存服務暫時無法使用，請稍後再試。", "File storage is unavailable; try again later.")


def blob_fault(code: str) -> LichengError:
    return LichengError(code, "檔案暫時無法讀取，已通知管理人員。", "The file cannot be read right now; the operators have been alerted.")
