"""CORS on /uploads and /files/{id}: an approved client's web ui may upload and download from a
browser (preflight, then the request), never with credentials; other origins get nothing."""

from __future__ import annotations

import uuid

import pytest

from licheng.auth.oauth import registry
from licheng.storage import service
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import StoredBlob
from licheng.tenants.models import Role
from tests.http.conftest import Files
from tests.oauth.conftest import bureau_admin_actor, register_client
from tests.storage import samples



def preflight(origin: str, method: str, headers: str) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method, "access-control-request-headers": headers}


@pytest.fixture
async def scene(factory):
    """A bureau's approved client whose web ui has an origin of its own, and a student."""
    bureau = await factory.bureau()
    school = await factory.school(bureau)
    origin = f"https://ui-{uuid.uuid4().hex[:8]}.example.tw"
    client = await register_client(factory, bureau, redirect_uris=(f"{origin}/oauth/callback",))
    student = await factory.member(school, Role.STUDENT)
    return bureau, client, student, origin


async def test_an_approved_ui_uploads_from_a_browser(files: Files, scene) -> None:
    _, _, student, ui = scene
    answer = await files.http.options("/uploads", headers=preflight(ui, "POST", "authorization, content-type, x-filename"))
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ui
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert {"authorization", "content-type", "x-filename"} <= {
        h.strip() for h in answer.headers["access-control-allow-headers"].split(",")
    }
    assert "access-control-allow-credentials" not in answer.headers
    uploaded = await files.upload(student, samples.pdf(), "報告.pdf", headers={"origin": ui})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.headers["access-control-allow-origin"] == ui
    assert "Origin" in uploaded.headers["vary"]
    assert "access-control-allow-credentials" not in uploaded.headers and "set-cookie" not in uploaded.headers
    # A refusal is readable too, so the ui can show its message.
    refused = await files.upload(student, b"not a file", "x.pdf", headers={"origin": ui})
    assert refused.status_code == 415 and refused.headers["access-control-allow-origin"] == ui


async def test_an_approved_ui_downloads_from_a_browser(files: Files, scene) -> None:
    _, _, student, ui = scene
    response = await files.upload(student, samples.pdf(), "報告.pdf")
    row = await StoredBlob.get(id=service.upload_pk(response.json()["uploadId"]))
    path = f"/files/{row.id}"
    answer = await files.http.options(path, headers=preflight(ui, "GET", "authorization"))
    assert answer.status_code == 204 and answer.headers["access-control-allow-methods"] == "GET"
    download = await files.download(student, row.id, **{})
    assert "access-control-allow-origin" not in download.headers  # no Origin, no CORS
    token = await files.token(student)
    download = await files.http.get(path, headers={"origin": ui, "authorization": f"Bearer {token}"})
    assert download.status_code == (200 if isinstance(files.store, LocalBlobStore) else 307)
    assert download.headers["access-control-allow-origin"] == ui
    assert "Content-Disposition" in download.headers["access-control-expose-headers"]


async def test_other_origins_and_methods_get_no_cors(files: Files, scene) -> None:
    _, _, student, ui = scene
    evil = {**preflight(ui, "POST", "authorization"), "origin": "https://evil.example"}
    answer = await files.http.options("/uploads", headers=evil)
    assert answer.status_code == 403 and "access-control-allow-origin" not in answer.headers
    wrong_method = await files.http.options("/uploads", headers=preflight(ui, "PUT", "authorization"))
    assert wrong_method.status_code == 403
    # Sent anyway (no browser): it is answered, but without CORS headers a browser would not show it.
    response = await files.upload(student, samples.pdf(), "a.pdf", headers={"origin": "https://evil.example"})
    assert response.status_code == 201 and "access-control-allow-origin" not in response.headers


async def test_a_suspended_clients_ui_loses_upload_access_at_once(files: Files, factory, scene) -> None:
    bureau, client, _, ui = scene
    headers = preflight(ui, "POST", "authorization, content-type")
    assert (await files.http.options("/uploads", headers=headers)).status_code == 204
    await registry.suspend_client(await bureau_admin_actor(factory, bureau), client.row.id, "停權")
    assert (await files.http.options("/uploads", headers=headers)).status_code == 403


async def test_the_direct_upload_steps_pass_the_preflight_too(files: Files, scene) -> None:
    _, _, _, ui = scene
    for path in ("/uploads/direct", "/uploads/VXBsb2FkOjQy/complete"):
        answer = await files.http.options(path, headers=preflight(ui, "POST", "authorization"))
        assert answer.status_code == 204 and answer.headers["access-control-allow-origin"] == ui
    refused = await files.http.options("/uploads/a/b/complete", headers=preflight(ui, "POST", "authorization"))
    assert "access-control-allow-origin" not in refused.headers  # not a storage path: no CORS here
