"""A tiny Starlette app of our own with observability installed (not the real app)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from licheng import observability
from licheng.settings import Settings

log = logging.getLogger("licheng.tests.observability")


class UploadProbe:
    """Lets a test see that the endpoint read the first chunk before the client sent the last."""

    def __init__(self) -> None:
        self.first_chunk = asyncio.Event()


async def item(request: Request) -> Response:
    log.info("item %s requested", request.path_params["item_id"])
    return PlainTextResponse("ok")


async def school_item(request: Request) -> Response:
    observability.bind_school(int(request.path_params["school_id"]))
    log.info("inside school")
    return PlainTextResponse("ok")


async def boom(request: Request) -> Response:
    raise RuntimeError("boom")


async def upload(request: Request) -> Response:
    probe: UploadProbe = request.app.state.upload_probe
    total = 0
    async for chunk in request.stream():
        if chunk:
            probe.first_chunk.set()
        total += len(chunk)
    observability.add_upload_bytes(total)
    return JSONResponse({"bytes": total})


async def graphql_like(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("graphql")(scope, receive, send)


def build_app(settings: Settings) -> Starlette:
    app = Starlette(
        routes=[
            Route("/items/{item_id}", item),
            Route("/schools/{school_id}/items", school_item),
            Route("/boom", boom),
            Route("/upload", upload, methods=["POST"]),
            Mount("/api", routes=[Route("/things/{item_id}", item)]),
            Mount("/graphql", app=graphql_like),
        ]
    )
    app.state.upload_probe = UploadProbe()
    observability.install(app, settings)
    return app


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return build_app(settings)


@pytest_asyncio.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def json_logs() -> Iterator[None]:
    """configure_logging for one test, then put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    observability.configure_logging("DEBUG")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
