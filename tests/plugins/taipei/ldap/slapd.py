"""A real OpenLDAP ``slapd`` for the tests: its own slapd.conf, schema and data, on 127.0.0.1.

The directory mirrors Taipei's layout (reference: ../shared/reference/taipei-sso.md,
"Directory (LDAP)"): people at ``cn=<national ID>,ou=people``, login names at
``uid=<login>,ou=account`` whose ``cn`` holds the national ID. The tpedu
attributes get OIDs under OpenLDAP's experimental arc (1.3.6.1.4.1.4203.666),
which exists for exactly this kind of private test schema.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SYSTEM_SCHEMA = Path("/etc/ldap/schema")
MODULE_PATH = Path("/usr/lib/ldap")
BASE = "dc=tp,dc=edu,dc=tw"
READER_DN = f"cn=reader,{BASE}"

_ARC = "1.3.6.1.4.1.4203.666.11.7"
_ATTRS = ["tpClass", "tpSeat", "tpTeachClass", "tpTutorClass", "tpCharacter", "tpAdminSchools", "inetUserStatus", "gender", "birthDate"]
TPEDU_SCHEMA = "\n".join(
    [
        *(
            f"attributetype ( {_ARC}.1.{i} NAME '{name}' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch"
            " SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )"
            for i, name in enumerate(_ATTRS, start=1)
        ),
        f"objectclass ( {_ARC}.2.1 NAME 'tpeduPerson' SUP inetOrgPerson STRUCTURAL MAY ( {' $ '.join(_ATTRS)} ) )",
        f"objectclass ( {_ARC}.2.2 NAME 'tpeduAccount' SUP top STRUCTURAL MUST ( uid $ cn ) MAY ( userPassword $ description ) )",
        "",
    ]
)


def ssha(password: str) -> str:
    """An {SSHA} userPassword value, as tpeduSSO stores them (salted SHA-1)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls(root: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (CA file, certificate, key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("Licheng test CA")).issuer_name(name("Licheng test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = root / "ca.pem", root / "server.pem", root / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def _conf(root: Path, port: int, reader_password: str, tls: bool = False) -> str:
    tls_lines = (
        f"TLSCACertificateFile {root / 'ca.pem'}\nTLSCertificateFile {root / 'server.pem'}\n"
        f"TLSCertificateKeyFile {root / 'server.key'}\n"
    ) if tls else ""  # fmt: skip
    includes = "\n".join(f"include {SYSTEM_SCHEMA / n}.schema" for n in ("core", "cosine", "inetorgperson", "nis"))
    return f"""{includes}
include {root / 'tpedu.schema'}
{tls_lines}pidfile {root / 'slapd.pid'}
modulepath {MODULE_PATH}
moduleload back_mdb
database mdb
maxsize 33554432
suffix "{BASE}"
rootdn "cn=admin,{BASE}"
rootpw "{reader_password}-root"
directory {root / 'data'}
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="{READER_DN}" read
  by * none
"""


@dataclass
class Entry:
    dn: str
    attrs: dict[str, list[str]]

    def ldif(self) -> str:
        lines = [f"dn: {self.dn}"]
        for name, values in self.attrs.items():
            for value in values:
                if value.isascii():
                    lines.append(f"{name}: {value}")
                else:
                    lines.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
        return "\n".join(lines) + "\n"


def base_entries(reader_password: str) -> list[Entry]:
    return [
        Entry(BASE, {"objectClass": ["dcObject", "organization"], "dc": ["tp"], "o": ["臺北市教育局"]}),
        Entry(f"ou=people,{BASE}", {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
        Entry(f"ou=account,{BASE}", {"objectClass": ["organizationalUnit"], "ou": ["account"]}),
        Entry(READER_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"], "cn": ["reader"], "userPassword": [ssha(reader_password)]}),
    ]


def person(national_id: str, *, name: str, role: str, school: str | None, status: str | None = "active", **extra: str) -> Entry:
    attrs: dict[str, list[str]] = {
        "objectClass": ["tpeduPerson"], "cn": [national_id], "sn": [name[0]], "givenName": [name[1:]],
        "displayName": [name], "employeeType": [role],
    }  # fmt: skip
    if school:
        attrs["o"] = [school]
    if status:
        attrs["inetUserStatus"] = [status]
    for key, value in extra.items():
        attrs[key] = [value]
    return Entry(f"cn={national_id},ou=people,{BASE}", attrs)


def account(login: str, national_id: str, password: str) -> Entry:
    attrs = {"objectClass": ["tpeduAccount"], "uid": [login], "cn": [national_id], "userPassword": [ssha(password)]}
    return Entry(f"uid={login},ou=account,{BASE}", attrs)


@dataclass
class Slapd:
    """One running slapd. ``stop()`` is idempotent; the fixture always calls it."""

    root: Path
    port: int
    reader_password: str = field(repr=False)
    tls_port: int | None = None  # also listen on ldaps:// here (and offer STARTTLS) with a test CA
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    def start(self, entries: list[Entry]) -> Slapd:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "tpedu.schema").write_text(TPEDU_SCHEMA)
        conf = self.root / "slapd.conf"
        if self.tls_port:
            make_tls(self.root)
        conf.write_text(_conf(self.root, self.port, self.reader_password, tls=bool(self.tls_port)))
        ldif = self.root / "data.ldif"
        ldif.write_text("\n".join(e.ldif() for e in base_entries(self.reader_password) + entries))
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True, timeout=30)
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", " ".join([self.uri, *([self.tls_uri] if self.tls_port else [])]), "-d", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {self.process.stderr.read().decode() if self.process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not start within 10 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
