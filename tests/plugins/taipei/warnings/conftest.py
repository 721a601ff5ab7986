"""Early-warning fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1, and a Taipei school in year 115.

The school is the portfolio tests' scene (tests/portfolio/conftest.py): class 101,
student 王小明 with two term-1 course records of 林老師, homeroom 黃導師.
Its bureau enables Taipei CoolCloud with e-mail through the test server.
Dates: term-1 uploads close 2027-02-03, certification 2027-02-10; selection
of year 115 runs 2027-09-01 .. 09-30.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from licheng.plugins import configs, service
from licheng.plugins.manager import PluginManager
from licheng.plugins.runtime import require_enabled
from licheng.portfolio import clock as portfolio_clock
from licheng.tenants.models import Person
from taipei_coolcloud.early_warnings import WarningSettings
from tests.plugins.conftest import make_available
from tests.portfolio.conftest import IN_TERM_1, Clock, Scene, at, make_scene

PLUGIN = "taipei_coolcloud"
SMTP_USER = "licheng-mailer"
SMTP_PASSWORD = "smtp-Pa55-word-9Xq"
FROM = "portfolio@tp.example.edu.tw"

BEFORE_REMINDERS = at(2027, 1, 20)  # uploads close in 14 days: too early to warn (7 days)
NEAR_UPLOAD_DEADLINE = at(2027, 1, 30)  # uploads close 2027-02-03
NEAR_CERTIFICATION_DEADLINE = at(2027, 2, 9)  # certification closes 2027-02-10 (3 days)
NEAR_SELECTION_CLOSE = at(2027, 9, 25)  # selection closes 2027-09-30 (7 days)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()


class Inbox:
    """An aiosmtpd handler keeping what it accepted."""

    def __init__(self) -> None:
        self.messages: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class SmtpServer:
    """aiosmtpd requiring STARTTLS before anything, then a login (as a bureau's server would)."""

    inbox: Inbox
    port: int
    cert: tuple[Path, Path]
    controller: Controller | None = None
    smtputf8: bool = False

    def start(self) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, tls_context=server_tls(*self.cert), require_starttls=True,
            authenticator=_authenticate, auth_required=True, enable_SMTPUTF8=self.smtputf8,
        )  # fmt: skip
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="session")
def smtp_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def trust_smtp_cert(smtp_cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test server's certificate as the only trusted CA (read by ``ssl.create_default_context``)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_cert[0]))
    return smtp_cert[0]


@pytest.fixture(scope="session")
def smtp_server(smtp_cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(Inbox(), free_port(), smtp_cert)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inbox(smtp_server: SmtpServer) -> Inbox:
    smtp_server.inbox.messages.clear()
    return smtp_server.inbox


@pytest.fixture
def clock() -> Iterator[Clock]:
    handle = Clock()
    handle.set(IN_TERM_1)
    yield handle
    portfolio_clock.set_now(None)


def smtp_values(port: int) -> dict[str, Any]:
    return {
        "smtp_enabled": True, "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "starttls",
        "smtp_username": SMTP_USER, "smtp_password": SMTP_PASSWORD, "smtp_from": FROM,
    }  # fmt: skip


@dataclass
class TaipeiSchool:
    """A scene whose bureau enabled Taipei CoolCloud, with e-mail addresses on its people."""

    scene: Scene
    manager: PluginManager
    admin: Any
    emails: dict[str, str] = field(default_factory=dict)

    @property
    def school_id(self) -> int:
        return self.scene.school.id

    async def config(self) -> WarningSettings:
        settings = await require_enabled(self.school_id, PLUGIN, self.manager)
        assert isinstance(settings, WarningSettings)
        return settings

    async def configure(self, values: dict[str, Any]) -> None:
        await configs.update_settings(await self.admin.actor(), self.manager, PLUGIN, values, bureau_id=self.scene.school.bureau_id)

    async def disable(self) -> None:
        await service.set_enabled(await self.admin.actor(), self.manager, self.scene.school.bureau_id, PLUGIN, enabled=False)

    async def give_email(self, member: Any, label: str) -> str:
        address = f"{label}.{member.person.id}@mail.example.edu.tw"
        await Person.filter(id=member.person.id).update(email=address)
        self.emails[label] = address
        return address


async def make_taipei_school(factory: Any, manager: PluginManager, smtp_port: int, *, enable: bool = True) -> TaipeiSchool:
    scene = await make_scene(factory)
    admin = await factory.bureau_admin(await scene.school.bureau)
    school = TaipeiSchool(scene, manager, admin)
    for label in ("student", "teacher", "other_teacher", "homeroom", "staff"):
        await school.give_email(getattr(scene, label), label)
    if enable:
        await make_available(manager, PLUGIN)
        await service.set_enabled(await admin.actor(), manager, scene.school.bureau_id, PLUGIN, enabled=True, all_schools=True)
        await school.configure(smtp_values(smtp_port))
    return school


@pytest.fixture
async def taipei(factory: Any, manager: PluginManager, smtp_server: SmtpServer, clock: Clock, trust_smtp_cert: Path) -> TaipeiSchool:
    return await make_taipei_school(factory, manager, smtp_server.port)
