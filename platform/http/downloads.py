"""`GET /files/{id}`: a stored file, for whoever may read it, with the read audited.

Authorised by `Authorization: Bearer` or by a short-lived `?ticket=` from
GraphQL's `Upload.downloadUrl` (for plain browser links). Local disk: the
file streams from here as an attachment, never rendered (nosniff, a CSP
sandbox), hashed on the way: a blob that is not what was stored breaks off
before its last byte. S3: a redirect to a presigned URL valid two minutes,
with the same Content-Disposition; `?verify=1` checks the blob first.
Every read of a student's file by someone else goes to the audit trail.
"""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from licheng.errors import LichengError, NotFound
from licheng.http.auth import request_actor
from licheng.http.errors import blob_fault, error_response, store_unavailable
from licheng.storage import service
from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import BlobStoreUnavailable
from licheng.storage.filenames import content_disposition
from licheng.storage.integrity import verified_chunks, verify_blob
from licheng.storage.models import StoredBlob
from licheng.storage.tickets import actor_for_ticket
from licheng.tenants.actor import Actor

log = logging.getLogger("licheng.downloads")
PRESIGNED_FOR = timedelta(seconds=120)


async def _actor(request: Request, blob_id: int) -> Actor:
    ticket = request.query_params.get("ticket")
    if ticket is None:
        return await request_actor(request)
    actor = await actor_for_ticket(request.app.state.settings, ticket, blob_id)
    if actor is None:  # forged, expired, another file's, or its account gone
        raise NotFound("file", "檔案")
    return actor


def _headers(blob: StoredBlob) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(blob.sha256)).decode()
    return {
        "content-disposition": content_disposition(blob.display_filename),
        "content-length": str(blob.size),
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cache-control": "private, no-store",
        "referrer-policy": "no-referrer",
        "repr-digest": f"sha-256=:{digest}:",  # RFC 9530: clients can check what they got
        "etag": f'"{blob.sha256}"',
    }


async def _local(store: BlobStore, blob: StoredBlob) -> Response:
    return StreamingResponse(
        verified_chunks(store, blob.key, int(blob.size), blob.sha256), media_type=blob.mime, headers=_headers(blob)
    )


async def download(request: Request) -> Response:
    blob_id = int(request.path_params["blob_id"])
    store: BlobStore = request.app.state.blob_store
    try:
        actor = await _actor(request, blob_id)
        blob = await service.authorize_download(actor, blob_id)
        url = await store.presigned_get_url(
            blob.key, filename=blob.display_filename, expires=PRESIGNED_FOR, content_type=blob.mime
        )
        if url is None or request.query_params.get("verify") in ("1", "true"):
            problem = await (verify_blob(store, blob.key, int(blob.size), blob.sha256) if url else _exists(store, blob))
            if problem is not None:
                log.error("stored blob %s (row %s) is %s", blob.key, blob.id, problem)
                raise blob_fault("BLOB_MISSING" if problem == "missing" else "BLOB_CORRUPTED")
        if request.method == "HEAD":  # what the file is, not the file: nothing to audit
            return Response(status_code=200, headers=_headers(blob), media_type=blob.mime)
        await service.record_download(actor, blob)
    except LichengError as error:
        return error_response(error)
    except BlobStoreUnavailable:
        log.exception("blob store unavailable during a download")
        return error_response(store_unavailable())
    if url is None:
        return await _local(store, blob)
    return RedirectResponse(url, status_code=307, headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})


async def _exists(store: BlobStore, blob: StoredBlob) -> str | None:
    return None if await store.stat(blob.key) is not None else "missing"
