"""The tpeduSSO simulator on a real socket for the session, and a Taipei bureau whose schools use it.

``Flow`` drives the browser-free redirect sign-in: our /start, the simulator's
login form and consent step (posted as a browser would), then our /callback.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from licheng.plugins import configs, service
from licheng.plugins.manager import PluginManager
from licheng.settings import Settings
from licheng.tenants.models import Bureau, School
from taipei_coolcloud.simulator import Running, SimClient, SimState, create_simulator, serve
from tests.plugins.conftest import make_available

PLUGIN = "taipei_coolcloud"
_n = itertools.count(1)


@dataclass
class Sim:
    state: SimState
    running: Running
    client: SimClient

    @property
    def base_url(self) -> str:
        return self.running.base_url


@pytest.fixture(scope="session")
def sim(settings: Settings) -> Iterator[Sim]:
    state = SimState()
    client = state.add_client(f"{settings.base_url.rstrip('/')}/auth/sso/tpedu/callback")
    running = serve(create_simulator(state))
    try:
        yield Sim(state, running, client)
    finally:
        running.stop()


@dataclass
class Taipei:
    """A bureau with schools that enabled the plugin; ``codes[i]`` is school i's Taipei code (o)."""

    bureau: Bureau
    schools: list[School]
    codes: list[str]
    admin: Any
    manager: PluginManager
    sim: Sim
    extra: dict[str, Any] = field(default_factory=dict)

    async def configure(self, **values: Any) -> None:
        await configs.update_settings(await self.admin.actor(), self.manager, PLUGIN, values, bureau_id=self.bureau.id)


@pytest_asyncio.fixture
async def taipei(factory: Any, manager: PluginManager, sim: Sim) -> Taipei:
    bureau = await factory.bureau()
    schools = [await factory.school(bureau) for _ in range(3)]
    admin = await factory.bureau_admin(bureau)
    await make_available(manager, PLUGIN)
    await service.set_enabled(await admin.actor(), manager, bureau.id, PLUGIN, enabled=True, all_schools=True)
    n = next(_n)
    codes = [f"tp{n}x{i}" for i in range(len(schools))]
    world = Taipei(bureau, schools, codes, admin, manager, sim)
    await world.configure(
        sso_client_id=sim.client.id,
        sso_client_secret=sim.client.secret,
        sso_base_url=sim.base_url,
        sso_school_codes=", ".join(f"{c}={s.code}" for c, s in zip(codes, schools)),
    )
    return world


def unique_login(prefix: str = "u") -> str:
    return f"{prefix}{next(_n)}sso"


def _fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type=hidden name="([^"]+)" value="([^"]*)">', page))


@dataclass
class Flow:
    """One browser: our app (in process) and the simulator (over the network)."""

    app: httpx.AsyncClient
    sim: Sim
    last_redirect: str = ""

    async def start(self, school: School, next_path: str | None = None) -> httpx.Response:
        params = {"school": school.code, **({"next": next_path} if next_path else {})}
        return await self.app.get("/auth/sso/tpedu/start", params=params)

    async def at_provider(self, authorize_url: str, login: str, password: str, decision: str = "approve") -> str:
        """Log in and consent at the simulator; returns the redirect back to our callback."""
        async with httpx.AsyncClient() as browser:
            form = await browser.get(authorize_url)
            assert form.status_code == 200, form.text
            consent = await browser.post(f"{self.sim.base_url}/oauth/authorize", data={**_fields(form.text), "username": login, "password": password})
            assert consent.status_code == 200, consent.text
            back = await browser.post(f"{self.sim.base_url}/oauth/authorize", data={**_fields(consent.text), "decision": decision})
        assert back.status_code == 302
        self.last_redirect = back.headers["location"]
        return self.last_redirect

    async def callback(self, redirect: str, accept: str = "application/json") -> httpx.Response:
        parts = urlsplit(redirect)
        return await self.app.get(f"{parts.path}?{parts.query}", headers={"accept": accept})

    async def sign_in(self, school: School, login: str, password: str, next_path: str | None = None,
                      accept: str = "application/json") -> httpx.Response:  # fmt: skip
        started = await self.start(school, next_path)
        assert started.status_code == 302, started.text
        return await self.callback(await self.at_provider(started.headers["location"], login, password), accept)


@pytest_asyncio.fixture
async def flow(app: Any, sim: Sim) -> AsyncIterator[Flow]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield Flow(http, sim)
