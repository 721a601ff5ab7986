"""Structured logs: one JSON object per line, with the request id and the school id.

- `configure_logging(level)` sends every logger (uvicorn's included) through one
  stdout handler with `RedactionFilter` and `JsonFormatter`.
- `RequestContextMiddleware` (pure ASGI) takes the caller's ``X-Request-ID`` or
  makes one, echoes it on the response and writes one access line per request
  (route template, never the raw path or query string).
- `bind_school(school_id)` is called once the request's tenant is known (the
  GraphQL context); later lines of that request carry the school id.
- `log_context(...)` does the same for work outside a request (a job run).

No personal data: national ID numbers, bearer tokens, passwords and the
credentials inside URLs are masked in messages, extras and tracebacks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SchoolId = int | str

_request_id: ContextVar[str | None] = ContextVar("licheng_request_id", default=None)
_school_id: ContextVar[SchoolId | None] = ContextVar("licheng_school_id", default=None)

REDACTED = "[REDACTED]"
_NATIONAL_ID = re.compile(r"(?<![A-Za-z0-9])[A-Z](?:[12893]\d{8}|[A-D]\d{8})(?![A-Za-z0-9])", re.IGNORECASE)
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/-]+=*", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@", re.IGNORECASE)
_SECRET_WORD = r"[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|data[_-]?key)[\w-]*"
_ASSIGNED_SECRET = re.compile(rf"\b({_SECRET_WORD})([\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}}]+)", re.IGNORECASE)
_SENSITIVE_KEY = re.compile(r"password|passwd|secret|token|authorization|cookie|national_id|id_number|idno|api_?key", re.I)
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Attributes every LogRecord has: anything else came in through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# uvicorn repeats its message with terminal colours: noise in a JSON line.
_DROPPED_EXTRAS = frozenset({"color_message"})
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("licheng.access")


def redact(text: str) -> str:
    """Mask national IDs, bearer tokens, URL credentials and ``password=...``-style values."""
    text = _NATIONAL_ID.sub("[REDACTED-ID]", text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    text = _URL_CREDENTIALS.sub(rf"\1:{REDACTED}@", text)
    return _ASSIGNED_SECRET.sub(rf"\1\2{REDACTED}", text)


def _scrub(key: str, value: Any, depth: int = 0) -> Any:
    if _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if depth < 4 and isinstance(value, dict):
        return {str(k): _scrub(str(k), v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_scrub(key, v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


class RedactionFilter(logging.Filter):
    """Masks personal data and secrets in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _scrub(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
            "school_id": _school_id.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in _DROPPED_EXTRAS and key not in payload:
                payload[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class _StdoutHandler(logging.StreamHandler[Any]):
    """Writes to whatever sys.stdout is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str | int = "INFO") -> None:
    """Route all logging through one JSON handler on stdout. Safe to call again."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StdoutHandler)]:
        root.removeHandler(handler)
    handler = _StdoutHandler()
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)  # warnings become "py.warnings" records: JSON too
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # uvicorn's access line shows the raw path and query; ours (licheng.access) does not.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def bind_school(school_id: SchoolId | None) -> None:
    """From now on in this request (or job), log lines carry this school id."""
    _school_id.set(school_id)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def log_context(*, request_id: str | None = None, school_id: SchoolId | None = None) -> Iterator[str]:
    """Ids for work outside a request, e.g. ``with log_context(request_id=f"job-{job.id}")``."""
    rid = request_id or uuid.uuid4().hex
    rid_token, school_token = _request_id.set(rid), _school_id.set(school_id)
    try:
        yield rid
    finally:
        _request_id.reset(rid_token)
        _school_id.reset(school_token)


class RequestContextMiddleware:
    """Pure ASGI: request id in, request id out, and one access log line per request."""

    def __init__(self, app: ASGIApp, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header
        self._header_key = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", []) if k == self._header_key), b"")
        request_id = incoming.decode("latin-1")
        if not _REQUEST_ID_OK.match(request_id):
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[self.header] = request_id
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                access_log.exception("unhandled error", extra={"route": scope.get("licheng.route")})
                raise
            finally:
                if scope["type"] == "http":
                    route = scope.get("licheng.route", "<unknown>")
                    access_log.log(
                        logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                        "%s %s %s",
                        scope.get("method"),
                        route,
                        status,
                        extra={
                            "method": scope.get("method"),
                            "route": route,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                        },
                    )
