"""Mounting the storage edges on the app, and the objects they share through `app.state`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from licheng.http.downloads import download
from licheng.http.limits import limits_provider
from licheng.http.uploads import upload
from licheng.settings import Settings
from licheng.storage.blobstore import make_blob_store


def storage_routes() -> list[BaseRoute]:
    return [
        Route("/uploads", upload, methods=["POST"], name="upload"),
        Route("/files/{blob_id:int}", download, methods=["GET"], name="download"),
    ]


def install_storage(app: Starlette, settings: Settings) -> None:
    """Routes, the blob store (`app.state.blob_store`), the upload limits
    (`app.state.upload_limits_provider`) and the `object_store` readiness check."""
    store = make_blob_store(settings.resolved_storage_url)
    app.state.blob_store = store
    app.state.upload_limits_provider = limits_provider()
    if not hasattr(app.state, "ready_checks"):
        app.state.ready_checks = {}
    app.state.ready_checks["object_store"] = store.check
    app.router.routes.extend(storage_routes())
