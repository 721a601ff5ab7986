"""``create_app(settings)``: the Starlette application (GraphQL, health, and what features mount)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL
from tortoise import connections

from licheng import db, observability
from licheng.auth.oauth import routes as oauth_routes
from licheng.auth.service import actor_for_token
from licheng.console.routes import console_app
from licheng.graphql.context import Context
from licheng.graphql.schema import build_schema
from licheng.http import install_storage
from licheng.http.ratelimit import RateLimitMiddleware
from licheng.http.sso import sso_routes
from licheng.jobs.worker import InProcessJobs
from licheng.plugins import manager as plugin_manager
from licheng.portfolio import download_rules
from licheng.plugins import runtime as plugin_runtime
from licheng.settings import Settings


class LichengGraphQL(GraphQL):
    """Resolves the actor from the bearer token once per request."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(build_schema(debug=settings.debug), graphql_ide="graphiql" if settings.debug else None)
        self.settings = settings

    async def get_context(self, request: Any, response: Any = None) -> Context:  # type: ignore[override]
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        actor = await actor_for_token(self.settings, bearer)
        observability.bind_school(actor.school_id)  # later log lines of this request carry the school
        return Context(request=request, settings=self.settings, actor=actor)


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the database answers. Features add their checks (object store) to ``READY_CHECKS``."""
    problems: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        problems["database"] = type(exc).__name__
    for name, check in request.app.state.ready_checks.items():
        try:
            await check()
        except Exception as exc:  # noqa: BLE001
            problems[name] = type(exc).__name__
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> Starlette:
    """The app. ``manage_db=False`` when the caller (tests, the demo) already opened the database."""
    settings = settings or Settings()
    app_plugins = plugin_manager.configure(settings)  # discovery; Settings.plugins restricts
    plugin_runtime.install()  # plugin policy layers into the portfolio's policy

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await db.init_db(settings)
        jobs = InProcessJobs(settings) if manage_db and settings.runs_jobs_in_process else None
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                await jobs.stop()
            if manage_db:
                await db.close_db()

    graphql_app = LichengGraphQL(settings)
    app = Starlette(
        debug=False,
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/console", app=console_app()),  # the web console, a client of /graphql
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ready_checks = {}
    oauth_routes.mount(app, settings)  # /oauth/* (authorization server) and client-origin CORS on the API
    install_storage(app, settings)  # POST /uploads, GET /files/{id}, blob store, object_store readiness
    download_rules.install()  # who may open a student's file: the portfolio's roles, not every teacher
    app.router.routes.extend(sso_routes())  # /auth/sso/*: single sign-on through identity-provider plugins
    app.state.plugins = app_plugins
    if settings.rate_limit_per_minute:
        app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    observability.install(app, settings)  # request ids, JSON access log, /metrics
    return app
