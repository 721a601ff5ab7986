"""Exchange fixtures: the simulator as a real `licheng central-sim` process on 127.0.0.1, and
schools whose moe_central plugin points at it (keys, endpoint), with students holding national IDs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from licheng.jobs import run_pending
from licheng.portfolio import clock as portfolio_clock
from licheng.portfolio import submission
from licheng.portfolio.models import BatchStatus, CourseOutcome, DiversePerformance, OutcomeStatus, SubmissionBatch
from licheng.settings import Settings
from licheng.tenants import nationalid
from licheng.tenants.models import Bureau, Person, School
from moe_central.crypto import generate_rsa_keypair
from tests.plugins.conftest import make_available

CLI = os.environ.get("LICHENG_TEST_CLI") or str(Path(sys.executable).with_name("licheng"))
PERFORMANCE = {"competition_name": "全國科展", "level": "national", "award": "佳作", "announced_on": "2027-03-01"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Keys:
    central_private: bytes
    central_public: bytes
    school_private: bytes
    school_public: bytes


@pytest.fixture(scope="session")
def exchange_keys() -> Keys:
    return Keys(*generate_rsa_keypair(2048), *generate_rsa_keypair(2048))


@dataclass
class Simulator:
    """The running `licheng central-sim`, and its admin endpoints."""

    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def fault(self, kind: str, times: int = 1, endpoint: str = "upload", **extra: Any) -> None:
        self.admin("POST", "/_faults", json={"kind": kind, "times": times, "endpoint": endpoint, **extra})

    def register(self, school_code: str, public_pem: bytes) -> None:
        self.admin("POST", "/_schools", json={"school_code": school_code, "public_key_pem": public_pem.decode()})

    def packages(self, school_code: str) -> list[dict[str, Any]]:
        return [p for p in self.admin("GET", "/_state")["packages"] if p["school_code"] == school_code]


@pytest.fixture(scope="session")
def simulator(exchange_keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    data_dir = tmp_path_factory.mktemp("central-sim")
    (data_dir / "central_private.pem").write_bytes(exchange_keys.central_private)
    port = free_port()
    log = (data_dir / "sim.log").open("wb")
    process = subprocess.Popen(
        [CLI, "central-sim", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (data_dir / "sim.log").read_text()
            time.sleep(0.1)
        assert httpx.get(url + "/public-key").text.encode() == exchange_keys.central_public
        yield Simulator(url, process, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def sim(simulator: Simulator) -> Iterator[Simulator]:
    """The session's simulator with no fault left armed by another test."""
    simulator.admin("DELETE", "/_faults")
    yield simulator
    simulator.admin("DELETE", "/_faults")


@pytest.fixture
def fast_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll at once and retry within a fraction of a second (the kinds' real backoff is seconds)."""
    import dataclasses

    from licheng.jobs import HANDLERS, RetryPolicy

    monkeypatch.setattr(submission, "POLL_SECONDS", 0.0)
    for kind in ("submission.deliver", "submission.poll"):
        monkeypatch.setitem(HANDLERS, kind, dataclasses.replace(HANDLERS[kind], retry=RetryPolicy(0.05, 0.2, 0.2)))


def national_id(n: int) -> str:
    return f"A1{n % 100_000_000:08d}"


async def give_national_id(person: Person, settings: Settings, n: int) -> None:
    await Person.filter(id=person.id).update(national_id_encrypted=nationalid.encrypt(national_id(n), settings.data_key_bytes))


async def connect_school(manager: Any, factory: Any, sim: Simulator, keys: Keys, bureau: Bureau, *, timeout: float = 5.0) -> None:
    """Make moe_central available, enabled for every school of the bureau, and pointed at the simulator."""
    from licheng.plugins import configs, runtime, service

    admin = await factory.bureau_admin(bureau)
    actor = await admin.actor()
    await make_available(manager, "moe_central")
    await service.set_enabled(actor, manager, bureau.id, "moe_central", enabled=True, all_schools=True)
    values = {"endpoint_url": sim.url, "central_public_key": keys.central_public.decode(),
              "school_private_key": keys.school_private.decode(), "request_timeout": timeout, "connect_timeout": 2.0}  # fmt: skip
    await configs.update_settings(actor, manager, "moe_central", values, bureau_id=bureau.id)
    runtime.install()


async def selected_items(scene: Any, student: Any, *, outcomes: int, performances: int, year: int = 115) -> list[int]:
    """Passed, published and selected outcomes (one course record each) and selected performances, as
    the selection step would leave them (built directly: the workflow itself is tested in tests/portfolio)."""
    now = datetime(2027, 9, 10, tzinfo=UTC)
    ids: list[int] = []
    row: Any
    for n in range(outcomes):
        record = await scene.course_record(student, f"{50 + n:02d}", subject=f"科目{n}")
        row = await CourseOutcome.create(
            school=scene.school, student_id=student.person.id, course_record=record, academic_year=year, term=1,
            brief=f"成果 {n}", status=OutcomeStatus.PASSED, published_at=now, selected_at=now,
        )  # fmt: skip
        ids.append(row.id)
    for n in range(performances):
        row = await DiversePerformance.create(
            school=scene.school, student_id=student.person.id, academic_year=year, kind="competition",
            title=f"競賽 {n}", brief="簡述", details=PERFORMANCE, selected_at=now,
        )  # fmt: skip
        ids.append(row.id)
    return ids


async def drive(settings: Settings, batch_id: int, until: tuple[BatchStatus, ...], *, timeout: float = 30.0) -> SubmissionBatch:
    """Run due jobs in this process until the batch reaches one of `until`."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        await run_pending(50, settings=settings)
        batch = await SubmissionBatch.get(id=batch_id)
        if batch.status in until:
            return batch
        assert time.monotonic() < deadline, f"batch stuck in {batch.status}: {batch.adapter_message}"
        await asyncio.sleep(0.05)


@dataclass
class Clocked:
    values: list[datetime] = field(default_factory=list)

    def set(self, value: datetime) -> None:
        portfolio_clock.set_now(value)


@pytest.fixture
def clock() -> Iterator[Clocked]:
    handle = Clocked()
    yield handle
    portfolio_clock.set_now(None)


async def school_of(batch: SubmissionBatch) -> School:
    return await School.get(id=batch.school_id)


__all__ = ["date"]


@dataclass
class TermSchool:
    """A small school connected to the simulator, with a frozen term batch of its students' records."""

    school: School
    staff: Any  # Actor
    batch: SubmissionBatch
    students: list[Person]
    items_per_student: int


async def term_school(factory: Any, sim: Simulator, keys: Keys, settings: Settings, bureau: Bureau, *,
                      students: int = 2, records: int = 2) -> TermSchool:  # fmt: skip
    """A school of `bureau` (already connected) with `students` students, each with an enrolment and
    `records` course records of 115-1, and the frozen term batch of them."""
    from licheng.portfolio.models import CourseRecord, EnrolmentRecord
    from licheng.tenants.actor import system_actor
    from licheng.tenants.models import Role

    school = await factory.school(bureau)
    sim.register(school.code, keys.school_public)
    people = []
    for n in range(students):
        member = await factory.member(school, Role.STUDENT, name=f"學生{n}")
        await give_national_id(member.person, settings, member.person.id)
        await EnrolmentRecord.create(school=school, student_id=member.person.id, academic_year=115, term=1, grade=10, class_code="101")
        for r in range(records):
            await CourseRecord.create(school=school, student_id=member.person.id, academic_year=115, term=1,
                                      course_code=f"115{school.code}1A1B2C3D4E5F{r:02d}", subject_name="數學", grade=10, credits=2)  # fmt: skip
        people.append(member.person)
    staff = system_actor(school.id)
    batch = await submission.create_batch(staff, 115, 1)
    return TermSchool(school, staff, batch, people, 1 + records)


def receipts_once(rows: list[Any], school: TermSchool) -> bool:
    """One receipt per student of the batch, each listing every item of his once."""
    by_student = {r.student_id: r for r in rows}
    if len(rows) != len(school.students) or set(by_student) != {p.id for p in school.students}:
        return False
    return all(len(r.lines) == school.items_per_student == len({(ln["item_type"], ln["item_id"]) for ln in r.lines}) for r in rows)
