"""Observability: Prometheus metrics and structured JSON logs.

The app wires it with one line, ``observability.install(app, settings)``; the
CLI calls `configure_logging(settings.log_level)` once per process (serve,
worker, migrate), and the worker serves its own metrics with
`start_metrics_server(port)`. Other modules report through the helpers below.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from licheng.observability.logs import (
    RequestContextMiddleware,
    bind_school,
    configure_logging,
    current_request_id,
    log_context,
    redact,
)
from licheng.observability.metrics import (
    MetricsMiddleware,
    add_upload_bytes,
    count_job_failure,
    count_plugin_hook_error,
    metrics_response,
    observe_graphql_operation,
    set_job_queue_depth,
    start_metrics_server,
)
from licheng.settings import Settings

__all__ = [
    "MetricsMiddleware",
    "RequestContextMiddleware",
    "add_upload_bytes",
    "bind_school",
    "configure_logging",
    "count_job_failure",
    "count_plugin_hook_error",
    "current_request_id",
    "install",
    "log_context",
    "metrics_response",
    "observe_graphql_operation",
    "redact",
    "set_job_queue_depth",
    "start_metrics_server",
]


def install(app: Starlette, settings: Settings) -> None:
    """Add the request-id and metrics middlewares and the /metrics route to `app`.

    Call before the app starts. The request-id middleware ends up outermost, so
    the metrics middleware's work (and any error) is logged with the request id.
    /metrics goes first in the routes so a catch-all mount cannot shadow it.
    `settings` is taken so that create_app's wiring stays one line as knobs
    arrive; nothing in it is read today.
    """
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.router.routes.insert(0, Route("/metrics", metrics_response, methods=["GET"], name="metrics"))
