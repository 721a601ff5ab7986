"""Fixtures for the OAuth provider: approved clients and a browser that walks the consent page."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio

from licheng.auth.oauth import registry
from licheng.auth.oauth.models import ClientKind, OAuthClient
from licheng.tenants.actor import Actor
from licheng.tenants.models import Bureau, Role
from tests.conftest import PASSWORD

REDIRECT = "https://app.example.org/callback"


@dataclass
class Registered:
    row: OAuthClient
    client_id: str
    secret: str | None


async def register_client(
    factory: Any, bureau: Bureau, *, public: bool = False, scopes: tuple[str, ...] = ("profile", "school:read"),
    redirect_uris: tuple[str, ...] = (REDIRECT,), kind: ClientKind = ClientKind.VENDOR, applicant: Any = None,
) -> Registered:  # fmt: skip
    developer = applicant or await factory.member(await factory.school(bureau), Role.STAFF)
    admin = await factory.bureau_admin(bureau)
    application = registry.Application(
        organisation="好學科技", name="學習歷程小幫手", purpose="讓學生在手機上查看學習歷程",
        redirect_uris=list(redirect_uris), kind=kind, public=public, scopes=list(scopes),
    )  # fmt: skip
    row = await registry.apply_for_client(await developer.actor(), bureau.id, application)
    row, secret = await registry.approve_client(await admin.actor(), row.id)
    assert row.client_id
    return Registered(row, row.client_id, secret)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Browser:
    """A person's browser at /oauth/authorize (keeps cookies), plus the client's back channel."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def authorize_url(self, client_id: str, challenge: str | None, *, state: str = "xyz", scope: str = "profile school:read",
                      redirect_uri: str = REDIRECT, method: str = "S256") -> str:  # fmt: skip
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope, "state": state}
        if challenge:
            params |= {"code_challenge": challenge, "code_challenge_method": method}
        return "/oauth/authorize?" + urlencode(params)

    async def consent(self, url: str, member: Any | None, decision: str = "allow", school_code: str = "") -> httpx.Response:
        page = await self.http.get(url)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        form = {"csrf_token": csrf.group(1), "decision": decision}
        if member is not None:
            form |= {"login": member.login, "password": PASSWORD, "school_code": school_code}
        return await self.http.post(url, data=form)

    async def code_for(self, client: Registered, member: Any, **kwargs: Any) -> tuple[str, str]:
        """(code, verifier) after signing in and allowing."""
        verifier, challenge = pkce_pair()
        response = await self.consent(self.authorize_url(client.client_id, challenge, **kwargs), member)
        assert response.status_code == 302, response.text
        return redirect_params(response)["code"], verifier

    async def token(self, client: Registered, **form: str) -> httpx.Response:
        auth = (client.client_id, client.secret) if client.secret else None
        if not client.secret:
            form["client_id"] = client.client_id
        return await self.http.post("/oauth/token", data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)

    async def tokens_for(self, client: Registered, member: Any, **kwargs: Any) -> dict[str, Any]:
        code, verifier = await self.code_for(client, member, **kwargs)
        response = await self.token(
            client, grant_type="authorization_code", code=code, redirect_uri=kwargs.get("redirect_uri", REDIRECT),
            code_verifier=verifier,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()


def redirect_params(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@pytest_asyncio.fixture
async def browser(app: Any) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Browser(http)


async def bureau_admin_actor(factory: Any, bureau: Bureau) -> Actor:
    return await (await factory.bureau_admin(bureau)).actor()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(settings: Any, database: None) -> Iterator[str]:
    """`licheng serve` on 127.0.0.1 over the session's database, stopped at the end."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")} | {
        "LICHENG_DATABASE_URL": settings.resolved_database_url,
        "LICHENG_SECRET_KEY": settings.secret_key,
        "LICHENG_DATA_DIR": str(settings.data_dir),
        "LICHENG_STORAGE_URL": settings.resolved_storage_url,
        "LICHENG_BASE_URL": base,
        "LICHENG_JOBS_IN_PROCESS": "false",  # the session's jobs are the tests' to run, not this server's
        "PYTHONUNBUFFERED": "1",
    }
    cli = str(Path(sys.executable).with_name("licheng"))
    log = open(settings.data_dir / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((settings.data_dir / f"serve-{port}.log").read_text(errors="replace"))
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
