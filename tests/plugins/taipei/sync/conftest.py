"""The single sign-on's school data API on 127.0.0.1 (a real uvicorn server), and a Taipei school to sync."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from licheng.plugins import configs, service
from licheng.plugins.manager import PluginManager
from licheng.tenants.models import Bureau, Role, School
from taipei_coolcloud.simulator.app import create_simulator
from taipei_coolcloud.simulator.server import serve
from taipei_coolcloud.simulator.state import SimState
from tests.plugins.conftest import make_available

PLUGIN = "taipei_coolcloud"
DC = "tpsh"


@dataclass
class Simulator:
    state: SimState
    url: str


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """The tpeduSSO simulator (OAuth2 + the school data API of ``school_api.py``) on a real socket."""
    state = SimState()
    running = serve(create_simulator(state))
    try:
        yield Simulator(state, running.base_url)
    finally:
        running.stop()


@dataclass
class TaipeiSchool:
    bureau: Bureau
    school: School
    other: School  # same bureau, plugin enabled, never touched by the first school's sync
    staff: Any  # tests.conftest.Member
    admin: Any
    sim: Simulator
    client_id: str
    client_secret: str

    async def configure(self, manager: PluginManager, **values: Any) -> None:
        admin = await self.admin.actor()
        await configs.update_settings(admin, manager, PLUGIN, values, bureau_id=self.bureau.id)

    async def staff_actor(self) -> Any:
        return await self.staff.actor()


def feed(state: SimState, idnos: dict[str, str]) -> None:
    """One school with three classes: 101 (two students), 102 (one student), 103 (empty: the API's 404)."""
    state.users.clear()
    state.schools.clear()
    state.api_calls.clear()
    state.schools[DC] = {
        "name": "臺北市立測試高級中學",
        "classes": [
            {"ou": "101", "description": "1年1班", "grade": "1", "tutor": ["t-lee"]},
            {"ou": "102", "description": "1年2班", "grade": "1", "tutor": []},
            {"ou": "103", "description": "1年3班", "grade": "1"},
        ],
        "subjects": [{"tpSubject": "subj16", "description": "國語文"}],
    }
    state.add_user("教師", "李大同", "lee0001", "pw", uuid="t-lee", idno=idnos["lee"], email="lee@example.tw",
                   o=DC, teacherId="T187", tutorClass="101",
                   teachClass={DC: [{"key": f"{DC},101,subj16", "name": "1年1班國語文"}, {"key": f"{DC},102,subj16", "name": "1年2班國語文"}]})  # fmt: skip
    state.add_user("教師", "陳老師", "chen001", "pw", uuid="t-chen", o=DC, teacherId="T188",
                   teachClass={DC: [{"key": f"{DC},102,subj02", "name": "1年2班數學"}]})  # fmt: skip
    state.add_user("學生", "王小明", "ming001", "pw", uuid="s-ming", idno=idnos["ming"], o=DC, studentId="112001", **{"class": "101"}, seat="7")
    state.add_user("學生", "林小華", "hua0001", "pw", uuid="s-hua", o=DC, studentId="112002", **{"class": "101"}, seat="8")
    state.add_user("學生", "張小美", "mei0001", "pw", uuid="s-mei", o=DC, studentId="112003", **{"class": "102"}, seat="1")
    # Someone of another Taipei school: the sync of ours must never see them.
    state.add_user("學生", "外校生", "other01", "pw", uuid="s-other", o="tpmsh", studentId="999001", **{"class": "101"}, seat="1")


IDNOS = {"lee": "A100000001", "ming": "A100000010"}


@pytest.fixture
async def taipei(factory: Any, manager: PluginManager, simulator: Simulator) -> TaipeiSchool:
    feed(simulator.state, IDNOS)
    client = simulator.state.add_client("http://127.0.0.1/unused")
    bureau = await factory.bureau()
    school, other = await factory.school(bureau), await factory.school(bureau)
    admin = await factory.bureau_admin(bureau)
    staff = await factory.member(school, Role.STAFF)
    await make_available(manager, PLUGIN)
    await service.set_enabled(await admin.actor(), manager, bureau.id, PLUGIN, enabled=True, school_ids=[school.id, other.id])
    taipei = TaipeiSchool(bureau, school, other, staff, admin, simulator, client.id, client.secret)
    await taipei.configure(
        manager, sync_enabled=True, sso_base_url=simulator.url, sso_client_id=client.id, sso_client_secret=client.secret,
        sso_school_codes=f"{DC}={school.code}, tpmsh={other.code}",
    )  # fmt: skip
    return taipei
