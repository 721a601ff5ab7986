"""Mounting the storage edges on the app, and the objects they share through `app.state`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from licheng.http.cors import StorageCORS
from licheng.http.downloads import download
from licheng.http.limits import limits_provider
from licheng.http.uploads import begin_direct, complete_direct, upload
from licheng.settings import Settings
from licheng.storage.blobstore import make_blob_store


def storage_routes() -> list[BaseRoute]:
    return [
        Route("/uploads", upload, methods=["POST"], name="upload"),
        Route("/uploads/direct", begin_direct, methods=["POST"], name="begin_direct_upload"),
        Route("/uploads/{upload_id}/complete", complete_direct, methods=["POST"], name="complete_direct_upload"),
        Route("/files/{blob_id:int}", download, methods=["GET"], name="download"),
    ]


def install_storage(app: Starlette, settings: Settings) -> None:
    """Routes, the blob store (`app.state.blob_store`), the upload limits
    (`app.state.upload_limits_provider`), the `object_store` readiness check, and CORS
    for approved OAuth clients' origins (`licheng.http.cors`)."""
    store = make_blob_store(settings.resolved_storage_url)
    app.state.blob_store = store
    app.state.upload_limits_provider = limits_provider()
    if not hasattr(app.state, "ready_checks"):
        app.state.ready_checks = {}
    app.state.ready_checks["object_store"] = store.check
    app.router.routes.extend(storage_routes())
    app.add_middleware(StorageCORS)  # approved clients' origins may upload and download from a browser
