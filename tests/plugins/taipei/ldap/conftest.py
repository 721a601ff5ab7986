"""A real slapd with Taipei's directory layout, started once per session and always stopped."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taipei_coolcloud.plugin import plugin
from tests.plugins.taipei.ldap import slapd

LETTERS = {"A": 10, "S": 26, "T": 27, "F": 15, "E": 14, "N": 22}


def national_id(letter: str, body: str) -> str:
    """A national ID with a correct check digit (``body``: the sex digit and 7 digits)."""
    value = LETTERS[letter]
    digits = [value // 10, value % 10, *map(int, body)]
    total = sum(d * w for d, w in zip(digits, (1, 9, 8, 7, 6, 5, 4, 3, 2, 1)))
    return f"{letter}{body}{(10 - total % 10) % 10}"


@dataclass(frozen=True)
class Login:
    login: str
    password: str
    national_id: str


@dataclass
class Directory:
    server: slapd.Slapd
    reader_password: str
    people: dict[str, Login]

    def config(self, **values: Any) -> Any:
        base = {
            "ldap_servers": self.server.uri, "ldap_bind_dn": slapd.READER_DN, "ldap_bind_password": self.reader_password,
            "ldap_connect_timeout": 1.0, "ldap_receive_timeout": 1, "sso_school_codes": "tpsh=313302",
        }  # fmt: skip
        return plugin.settings_model(**{**base, **values})


PEOPLE: dict[str, dict[str, Any]] = {
    "student": {"name": "王小明", "role": "學生", "school": "tpsh", "employeeNumber": "112001", "tpClass": "101",
                "tpSeat": "7", "mail": "ming@example.tw"},
    "teacher": {"name": "李大同", "role": "教師", "school": "tpsh", "tpTutorClass": "101", "tpTeachClass": "tpsh,101,subj16"},
    "inactive": {"name": "陳停用", "role": "學生", "school": "tpsh", "status": "inactive"},
    "deleted": {"name": "林刪除", "role": "教師", "school": "tpsh", "status": "deleted"},
    "no_school": {"name": "張無校", "role": "學生", "school": None},
}  # fmt: skip
LOGINS = {"student": "stu1001", "teacher": "teach01", "inactive": "gone01", "deleted": "del001", "no_school": "noorg1"}


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    reader_password = secrets.token_urlsafe(12)
    people: dict[str, Login] = {}
    entries: list[slapd.Entry] = []
    for index, (key, spec) in enumerate(PEOPLE.items()):
        spec = dict(spec)
        idno = national_id("A", f"1{index:07d}")
        login = Login(LOGINS[key], secrets.token_urlsafe(10), idno)
        people[key] = login
        name, role, school, status = spec.pop("name"), spec.pop("role"), spec.pop("school"), spec.pop("status", "active")
        entries.append(slapd.person(idno, name=name, role=role, school=school, status=status, **spec))
        entries.append(slapd.account(login.login, idno, login.password))
    server = slapd.Slapd(Path(tmp_path_factory.mktemp("slapd")), slapd.free_port(), reader_password, tls_port=slapd.free_port())
    server.start(entries)
    try:
        yield Directory(server, reader_password, people)
    finally:
        server.stop()


@pytest.fixture
def hung_server() -> Iterator[str]:
    """A socket that accepts connections and never answers: the worst kind of broken directory."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()
