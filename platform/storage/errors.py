"""Storage errors: refused uploads (the student can act on them) and store faults.

`UploadRefused` carries a stable code, a zh-TW and an English message and the
numbers that explain it. `UploadRefused.of(code, **details)` fills the messages
from one table so every refusal of the same kind reads the same everywhere.
"""

from __future__ import annotations

from typing import Any

from licheng.errors import LichengError

UPLOAD_EMPTY = "UPLOAD_EMPTY"
UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
UPLOAD_TYPE_UNKNOWN = "UPLOAD_TYPE_UNKNOWN"
UPLOAD_TYPE_NOT_ALLOWED = "UPLOAD_TYPE_NOT_ALLOWED"
UPLOAD_EXTENSION_MISMATCH = "UPLOAD_EXTENSION_MISMATCH"
UPLOAD_TRUNCATED = "UPLOAD_TRUNCATED"
UPLOAD_CORRUPT = "UPLOAD_CORRUPT"
UPLOAD_IMAGE_BOMB = "UPLOAD_IMAGE_BOMB"
UPLOAD_PDF_ACTIVE_CONTENT = "UPLOAD_PDF_ACTIVE_CONTENT"
UPLOAD_PDF_ENCRYPTED = "UPLOAD_PDF_ENCRYPTED"
UPLOAD_POLYGLOT = "UPLOAD_POLYGLOT"
UPLOAD_FILENAME_INVALID = "UPLOAD_FILENAME_INVALID"
UPLOAD_CHECK_TIMEOUT = "UPLOAD_CHECK_TIMEOUT"

# code -> (zh-TW, English); placeholders are filled from the details.
_MESSAGES: dict[str, tuple[str, str]] = {
    UPLOAD_EMPTY: ("檔案是空的，請重新選擇檔案。", "The file is empty."),
    UPLOAD_TOO_LARGE: (
        "檔案超過大小上限 {limit_text}。",
        "The file is larger than the limit of {limit_text}.",
    ),
    UPLOAD_TYPE_UNKNOWN: (
        "無法辨識檔案格式，請上傳 PDF、JPG、PNG、MP3 或 MP4。",
        "The file type could not be recognised; upload PDF, JPG, PNG, MP3 or MP4.",
    ),
    UPLOAD_TYPE_NOT_ALLOWED: (
        "不接受此檔案格式（{detected}），可接受：{allowed}。",
        "This file type ({detected}) is not accepted; accepted: {allowed}.",
    ),
    UPLOAD_EXTENSION_MISMATCH: (
        "副檔名與檔案內容不符（內容為 {detected}），請以正確副檔名重新儲存。",
        "The file name's extension does not match its content ({detected}).",
    ),
    UPLOAD_TRUNCATED: (
        "檔案不完整（可能上傳中斷或檔案已損毀），請重新上傳。",
        "The file is incomplete (interrupted or damaged); upload it again.",
    ),
    UPLOAD_CORRUPT: (
        "檔案內容已損毀或格式錯誤，無法開啟。",
        "The file is damaged or malformed and cannot be opened.",
    ),
    UPLOAD_IMAGE_BOMB: (
        "圖片像素過大（{pixels} 像素，上限 {max_pixels}），請縮小後再上傳。",
        "The image has too many pixels ({pixels}, limit {max_pixels}); resize it.",
    ),
    UPLOAD_PDF_ACTIVE_CONTENT: (
        "PDF 含有程式碼、自動動作或內嵌檔案，基於安全不予接受，請另存或列印成 PDF 後再上傳。",
        "The PDF contains scripts, automatic actions or embedded files; "
        "print or save it again as a plain PDF.",
    ),
    UPLOAD_PDF_ENCRYPTED: (
        "PDF 設有開啟密碼，老師無法開啟，請移除密碼後再上傳。",
        "The PDF is password-protected; remove the password and upload it again.",
    ),
    UPLOAD_POLYGLOT: (
        "檔案夾帶其他格式的資料，基於安全不予接受，請重新匯出後再上傳。",
        "The file carries data of another format; export it again and upload.",
    ),
    UPLOAD_FILENAME_INVALID: (
        "檔名無效，請重新命名後再上傳。",
        "The file name is not valid; rename the file and upload it again.",
    ),
    UPLOAD_CHECK_TIMEOUT: (
        "檔案檢查逾時（超過 {seconds} 秒），可能是檔案結構異常，請重新匯出後再上傳。",
        "Checking the file took too long (over {seconds} s); its structure may be abnormal. "
        "Export it again and upload.",
    ),
}


def _limit_text(limit_bytes: int) -> str:
    if limit_bytes >= 1024 * 1024 and limit_bytes % (1024 * 1024) == 0:
        return f"{limit_bytes // (1024 * 1024)} MB"
    return f"{limit_bytes:,} bytes"


class _Fill(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class UploadRefused(LichengError):
    """An upload refused for what it is; nothing of it is stored."""

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(code, message_zh, message_en, **details)

    @classmethod
    def of(cls, code: str, **details: Any) -> UploadRefused:
        zh, en = _MESSAGES[code]
        fill = _Fill(details)
        if "limit_bytes" in details:
            fill["limit_text"] = _limit_text(int(details["limit_bytes"]))
        return cls(code, zh.format_map(fill), en.format_map(fill), **details)


class BlobNotFound(LookupError):
    """The store has no blob under this key (a missing blob is an integrity fault)."""


class InvalidBlobKey(ValueError):
    """A key that could escape the store or collide with its temporary files."""


class BlobIntegrityError(RuntimeError):
    """A stored blob differs from what was written (size or SHA-256): a storage fault."""


class BlobStoreUnavailable(RuntimeError):
    """The store cannot be reached or written (readiness fails)."""
