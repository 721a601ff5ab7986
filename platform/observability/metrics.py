"""Prometheus metrics: what the platform counts, and the ASGI middleware that times requests.

Every metric is created once, at import, in the default registry (which also
carries the process collector: memory, CPU, open files). One process serves one
pod, so there is no multiprocess mode: scale by pods, not by uvicorn workers.

Labels are bounded on purpose. HTTP requests are labelled by the route
*template* (``/files/{file_id}``), never the raw path; GraphQL operation names
and error codes come from clients and are cleaned and capped (`BoundedLabel`).
No label ever carries a school, a user or anything personal.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
OTHER = "<other>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Uploads and slow GraphQL queries outlive the default buckets' 10 s top.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "licheng_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "licheng_http_request_duration_seconds",
    "Time from request start to the end of the response body, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "licheng_http_requests_in_progress",
    "Requests being served now (drains to zero during a graceful shutdown).",
)
GRAPHQL_OPERATIONS = Counter(
    "licheng_graphql_operations_total",
    "GraphQL operations by operation name and outcome (ok or an error code).",
    ["operation", "status"],
)
GRAPHQL_DURATION = Histogram(
    "licheng_graphql_operation_duration_seconds",
    "GraphQL operation execution time by operation name.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
UPLOAD_BYTES = Counter("licheng_upload_bytes_total", "Bytes of accepted uploads stored.")
JOB_QUEUE_DEPTH = Gauge("licheng_job_queue_depth", "Background jobs waiting to run.")
JOB_FAILURES = Counter("licheng_job_failures_total", "Background jobs that failed, by kind.", ["kind"])
PLUGIN_HOOK_ERRORS = Counter(
    "licheng_plugin_hook_errors_total",
    "Exceptions raised by plugin hook implementations, by plugin and hook.",
    ["plugin", "hook"],
)


class BoundedLabel:
    """Clean a client-supplied label value and cap how many distinct values exist.

    A third-party UI may name its operations anything; without a cap every new
    name would be a new time series forever. Past `limit` distinct values, new
    ones are counted as ``<other>``.
    """

    _CLEAN = re.compile(r"[^A-Za-z0-9_.:-]")

    def __init__(self, limit: int, empty: str) -> None:
        self.limit = limit
        self.empty = empty
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        cleaned = self._CLEAN.sub("_", value or "")[:64] or self.empty
        if cleaned in self._seen:
            return cleaned
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(cleaned)
        return cleaned


_operation_label = BoundedLabel(limit=300, empty="anonymous")
_status_label = BoundedLabel(limit=100, empty="ok")
_small_label = BoundedLabel(limit=200, empty="unknown")


def observe_graphql_operation(name: str | None, status: str, duration: float | None = None) -> None:
    """Count one GraphQL operation; `status` is ``ok`` or the typed error code."""
    operation = _operation_label(name)
    GRAPHQL_OPERATIONS.labels(operation, _status_label(status)).inc()
    if duration is not None:
        GRAPHQL_DURATION.labels(operation).observe(duration)


def add_upload_bytes(n: int) -> None:
    """Record the size of an upload that was accepted and stored."""
    if n > 0:
        UPLOAD_BYTES.inc(n)


def set_job_queue_depth(n: int) -> None:
    JOB_QUEUE_DEPTH.set(max(0, n))


def count_job_failure(kind: str) -> None:
    JOB_FAILURES.labels(_small_label(kind)).inc()


def count_plugin_hook_error(plugin_id: str, hook: str) -> None:
    PLUGIN_HOOK_ERRORS.labels(_small_label(plugin_id), _small_label(hook)).inc()


def metrics_response(request: Request | None = None) -> Response:
    """The Prometheus text exposition of this process (usable as a route endpoint)."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> None:
    """Serve /metrics from a background thread: for processes without an HTTP app (the worker)."""
    start_http_server(port, addr=addr)


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    """The path template of the route that handles `scope`, mounts included.

    `scope` must be the request as it arrived (routing rewrites ``root_path``).
    A mounted app without routes of its own (the GraphQL app) counts as its mount path.
    """
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            inner = route.routes
            if not inner:
                return route.path or "/"
            found = route_template(inner, {**scope, **child})
            template = UNMATCHED if found == UNMATCHED else route.path + found
        else:
            template = getattr(route, "path", UNMATCHED)
        if match is Match.FULL:
            return template
        partial = partial or template  # e.g. 405: the route exists, the method does not
    return partial or UNMATCHED


class MetricsMiddleware:
    """Pure ASGI: counts and times HTTP requests without touching the body stream.

    The route template is found after the response, from the app's routes, and
    left in ``scope["licheng.route"]`` for the access log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = {k: scope[k] for k in ("type", "path", "root_path", "method", "headers") if k in scope}
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_IN_PROGRESS.dec()
            app: Any = scope.get("app")
            route = route_template(list(getattr(app, "routes", [])), arrived)
            scope["licheng.route"] = route
            method = scope["method"] if scope["method"] in METHODS else OTHER
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - start)
