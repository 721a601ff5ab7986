"""Browser fixtures: a real server in a subprocess (own SQLite) and Debian's Chromium driven by Playwright.

Chromium comes from the distribution (``apt-get install chromium``), never from
``playwright install``. The tests skip when it or Playwright is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 with its own seeded SQLite; always stopped."""
    port, data = _free_port(), tmp_path_factory.mktemp("console")
    log = (data / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "console" / "server.py"), "--port", str(port), "--data", str(data)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("console server exited: " + (data / "server.log").read_text())
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("console server did not start: " + (data / "server.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        # In CI the browser test is the feature's proof: a missing browser fails, it does not skip.
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


def shot(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
