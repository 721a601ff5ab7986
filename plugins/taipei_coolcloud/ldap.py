"""Sign-in against Taipei's directory (臺北市單一身分驗證的 LDAP) with ldap3.

Why it looks the way it does:

- The directory keeps login names apart from people: ``uid=<login>,ou=account``
  holds the national ID in ``cn``; the person is ``cn=<national ID>,ou=people``.
  The service account looks the login up, the account entry is then bound with
  the user's password, and only after that is the person read (so a wrong
  password reveals nothing about the person's status).
- ldap3's synchronous strategy runs in a worker thread (``asyncio.to_thread``):
  the event loop never blocks. Every socket operation has a timeout, and the
  whole attempt has an outer bound, so a hung directory is an error, never a hang.
- The login is checked against a strict alphabet and escaped in the filter; the
  national ID is escaped as an RDN value: LDAP injection cannot reach the query.
- The national ID never leaves this module except inside the identity's
  ``national_id`` field (not in ``repr``), which the core hashes at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ldap3 import BASE, LEVEL, NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from licheng.plugins import DirectoryProvider, ExternalIdentity, HealthReport, LichengError, PluginSettings, SecretStr, secret_setting, setting

from taipei_coolcloud.sso import ROLES, SsoSettings, school_code_map

log = logging.getLogger("taipei_coolcloud.ldap")

PROVIDER_ID = "taipei_ldap"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,252})"
_URI = rf"ldaps?://{_HOST}(?::\d{{1,5}})?/?"
URI_LIST = rf"^(?:{_URI}(?:[ ,]+{_URI})*)?$"
_RDN = r"[A-Za-z][A-Za-z0-9\-]*=[^,=+<>#;\\\"\x00]+"
DN = rf"^{_RDN}(?:,{_RDN})*$"
DN_OR_EMPTY = rf"^(?:{_RDN}(?:,{_RDN})*)?$"
# Login names: tpeduSSO asks for 6+ letters or digits; default accounts are school code + digits.
# A few separators are allowed for e-mail-like names. Anything else cannot be a login.
LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}$")
MAX_PASSWORD = 256
PERSON_ATTRIBUTES = [
    "entryUUID", "displayName", "sn", "givenName", "mail", "o", "employeeType", "employeeNumber",
    "tpClass", "tpSeat", "tpTutorClass", "inetUserStatus",
]  # fmt: skip
REFUSED_STATUSES = {"inactive", "deleted"}


class LdapSettings(PluginSettings):
    ldap_servers: str = setting(
        "", max_length=500, pattern=URI_LIST,
        label_zh="目錄伺服器（LDAP）", label_en="Directory servers (LDAP)",
        help_zh="ldap:// 或 ldaps:// 網址，多台以空白或逗號分隔，依序嘗試；留空則不提供帳號密碼登入",
        help_en="ldap:// or ldaps:// URIs, separated by spaces or commas, tried in order; empty: no directory sign-in",
    )  # fmt: skip
    ldap_base_dn: str = setting(
        "dc=tp,dc=edu,dc=tw", max_length=200, pattern=DN, label_zh="目錄根節點（Base DN）", label_en="Base DN"
    )
    ldap_bind_dn: str = setting(
        "", max_length=200, pattern=DN_OR_EMPTY,
        label_zh="查詢用服務帳號 DN", label_en="Service bind DN",
        help_zh="用來查詢登入帳號；留空則匿名查詢", help_en="Looks login names up; empty: anonymous lookups",
    )  # fmt: skip
    ldap_bind_password: SecretStr | None = secret_setting(label_zh="服務帳號密碼", label_en="Service bind password")
    ldap_connect_timeout: float = setting(
        5.0, ge=0.5, le=30, label_zh="連線逾時（秒）", label_en="Connect timeout (seconds)"
    )
    # Whole seconds: ldap3 sets it as the socket's SO_RCVTIMEO, which takes an integer.
    ldap_receive_timeout: int = setting(5, ge=1, le=60, label_zh="回應逾時（秒）", label_en="Response timeout (seconds)")
    ldap_starttls: bool = setting(False, label_zh="使用 STARTTLS", label_en="Use STARTTLS")
    ldap_ca_file: str = setting(
        "", max_length=400, pattern=r"^(?:/[^\x00]*)?$",
        label_zh="CA 憑證檔路徑", label_en="CA certificate file",
        help_zh="驗證目錄伺服器憑證用的 PEM 檔（絕對路徑）；留空則用系統信任的憑證",
        help_en="PEM file (absolute path) that verifies the directory's certificate; empty: the system's trust store",
    )  # fmt: skip


def unavailable(reason_en: str = "", reason_zh: str = "") -> LichengError:
    """The one error a failing directory gives: clear in both languages, no secrets, no personal data."""
    return LichengError(
        "DIRECTORY_UNAVAILABLE",
        "目前無法連線到臺北市單一身分驗證目錄服務，請稍後再試" + (f"（{reason_zh}）" if reason_zh else ""),
        "The Taipei directory (LDAP) cannot be reached right now; please try again later" + (f" ({reason_en})" if reason_en else ""),
    )


def refused() -> LichengError:
    return LichengError(
        "DIRECTORY_ACCOUNT_REFUSED",
        "此帳號已停用、已刪除或未隸屬任何學校，請洽學校",
        "This directory account is inactive, deleted or belongs to no school: please ask your school",
    )


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    use_ssl: bool

    @staticmethod
    def parse(uri: str) -> Endpoint:
        parts = urlsplit(uri)
        use_ssl = parts.scheme == "ldaps"
        return Endpoint(parts.hostname or "", parts.port or (636 if use_ssl else 389), use_ssl)


@dataclass(frozen=True)
class Directory:
    """The resolved settings, in the shape the worker thread needs."""

    endpoints: tuple[Endpoint, ...]
    base_dn: str
    bind_dn: str
    bind_password: str = field(repr=False)
    connect_timeout: float
    receive_timeout: int
    starttls: bool
    ca_file: str

    @staticmethod
    def of(config: LdapSettings) -> Directory | None:
        uris = [u for u in re.split(r"[ ,]+", config.ldap_servers.strip()) if u]
        if not uris:
            return None
        secret = config.ldap_bind_password.get_secret_value() if config.ldap_bind_password else ""
        return Directory(
            tuple(Endpoint.parse(u) for u in uris), config.ldap_base_dn, config.ldap_bind_dn, secret,
            config.ldap_connect_timeout, config.ldap_receive_timeout, config.ldap_starttls, config.ldap_ca_file,
        )  # fmt: skip

    @property
    def bound(self) -> float:
        """The most one attempt may take: per server, a connect plus a few answers (bind, search, bind, read)."""
        return len(self.endpoints) * (self.connect_timeout + 4 * self.receive_timeout) + 1.0

    def tls(self) -> Tls | None:
        if not (self.starttls or any(e.use_ssl for e in self.endpoints)):
            return None
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise unavailable("the CA file is missing", "找不到 CA 憑證檔")
        return Tls(ca_certs_file=self.ca_file or None, validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT)

    def connection(self, endpoint: Endpoint, user: str | None, password: str | None) -> Connection:
        server = Server(
            endpoint.host, port=endpoint.port, use_ssl=endpoint.use_ssl, tls=self.tls(),
            get_info=NONE, connect_timeout=self.connect_timeout,
        )  # fmt: skip
        return Connection(
            server, user=user, password=password, auto_bind="NONE", read_only=True,
            receive_timeout=self.receive_timeout, raise_exceptions=False, auto_referrals=False,
        )  # fmt: skip

    def bind(self, endpoint: Endpoint, user: str | None, password: str | None) -> tuple[Connection, bool]:
        """Open, STARTTLS if asked, bind. Network failures raise ``LDAPException``; a refused bind is False."""
        conn = self.connection(endpoint, user, password)
        conn.open()
        if self.starttls and not endpoint.use_ssl and not conn.start_tls():
            conn.unbind()
            raise unavailable("STARTTLS failed", "STARTTLS 失敗")
        return conn, bool(conn.bind())

    @contextmanager
    def service(self) -> Iterator[tuple[Connection, Endpoint]]:
        """A connection bound as the service account, on the first server that answers."""
        last = ""
        for endpoint in self.endpoints:
            try:
                conn, ok = self.bind(endpoint, self.bind_dn or None, self.bind_password or None)
            except LDAPException as error:
                last = type(error).__name__
                log.warning("directory %s:%s unreachable: %s", endpoint.host, endpoint.port, last)
                continue
            if not ok:
                code = conn.result.get("result") if conn.result else None
                conn.unbind()
                log.warning("directory %s:%s refused the service bind (result %s)", endpoint.host, endpoint.port, code)
                raise unavailable("the service account was refused", "服務帳號無法登入目錄")
            try:
                yield conn, endpoint
            finally:
                try:
                    conn.unbind()
                except LDAPException:
                    pass
            return
        raise unavailable("no directory server answered" + (f": {last}" if last else ""), "目錄伺服器沒有回應")


def _first(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _all(entry: dict[str, Any], name: str) -> tuple[str, ...]:
    value = entry.get(name) or []
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).strip() for v in values if str(v).strip())


def _entries(conn: Connection) -> list[dict[str, Any]]:
    return [{"dn": r["dn"], **dict(r["attributes"])} for r in (conn.response or []) if r.get("type") == "searchResEntry"]


def _search(conn: Connection, base: str, query: str, scope: str, attributes: list[str]) -> list[dict[str, Any]]:
    """A search whose "no such entry" is empty and whose other failures are the directory's."""
    ok = conn.search(base, query, search_scope=scope, attributes=attributes, size_limit=2, time_limit=10)
    code = (conn.result or {}).get("result", 0)
    if not ok and code not in (0, 32):  # 32: noSuchObject
        raise unavailable(f"search failed with result {code}", "目錄查詢失敗")
    return _entries(conn)


def identity_of(login: str, person: dict[str, Any], codes: Mapping[str, str]) -> ExternalIdentity:
    """The identity of a person entry (tpeduPerson) and the login that proved it.

    Mapped as the single sign-on maps its profile (``sso.identity_mapper``): roles in our
    words, ``o`` through the ``sso_school_codes`` table to our 6-digit codes, so that a
    person signs in the same way through either door.
    """
    # Only the bureau's mapping decides which of our schools an ``o`` means (as for the single
    # sign-on): a six-digit value is not taken as is.
    ours = [codes[o.lower()] for o in _all(person, "o") if o.lower() in codes]
    schools = tuple(dict.fromkeys(c for c in ours if re.fullmatch(r"\d{6}", c)))
    seat = _first(person, "tpSeat")
    name = _first(person, "displayName") or "".join(filter(None, (_first(person, "sn"), _first(person, "givenName"))))
    roles = tuple(dict.fromkeys(ROLES[r] for r in _all(person, "employeeType") if r in ROLES))
    number = _first(person, "employeeNumber")
    student = "student" in roles
    return ExternalIdentity(
        subject=_first(person, "entryUUID") or "",
        login=login,
        name=name or login,
        email=_first(person, "mail"),
        school_code=schools[0] if schools else None,
        roles=roles,
        school_codes=schools,
        student_number=number if student else None,
        staff_number=None if student else number,
        class_code=_first(person, "tpClass"),
        seat=int(seat) if seat and seat.isdigit() else None,
        tutor_class=_first(person, "tpTutorClass"),
        national_id=_first(person, "cn"),
    )


def account_filter(login: str) -> str:
    return f"(&(objectClass=*)(uid={escape_filter_chars(login)}))"


def authenticate_sync(directory: Directory, login: str, password: str, codes: Mapping[str, str] | None = None) -> ExternalIdentity | None:
    """The whole check, in a worker thread. None: no such login, or a wrong password."""
    with directory.service() as (conn, endpoint):
        accounts = _search(conn, f"ou=account,{directory.base_dn}", account_filter(login), LEVEL, ["cn", "uid"])
        if len(accounts) != 1:
            return None
        account = accounts[0]
        national_id = _first(account, "cn")
        if not national_id or login.lower() not in {u.lower() for u in _all(account, "uid")}:
            return None
        try:
            user_conn, ok = directory.bind(endpoint, account["dn"], password)
        except LDAPException as error:
            raise unavailable(type(error).__name__, "目錄伺服器沒有回應") from None
        user_conn.unbind()
        if not ok:
            return None
        people = _search(
            conn, f"cn={escape_rdn(national_id)},ou=people,{directory.base_dn}", "(objectClass=*)", BASE,
            [*PERSON_ATTRIBUTES, "cn"],
        )  # fmt: skip
        if len(people) != 1:
            raise refused()
        person = people[0]
        status = (_first(person, "inetUserStatus") or "active").lower()
        if status in REFUSED_STATUSES or not _all(person, "o"):
            raise refused()
        return identity_of(login, person, codes or {})


async def _bounded(directory: Directory, func: Any, *args: Any) -> Any:
    try:
        return await asyncio.wait_for(asyncio.to_thread(func, directory, *args), timeout=directory.bound)
    except TimeoutError:
        raise unavailable("timed out", "逾時") from None
    except LDAPException as error:
        raise unavailable(type(error).__name__, "目錄伺服器沒有回應") from None


def make_provider(directory: Directory, codes: Mapping[str, str]) -> DirectoryProvider:
    async def authenticate(login: str, password: str) -> ExternalIdentity | None:
        login = (login or "").strip()
        if not LOGIN.match(login) or not password or len(password) > MAX_PASSWORD or "\x00" in password:
            return None  # an empty password would be an anonymous bind: never a sign-in
        identity: ExternalIdentity | None = await _bounded(directory, authenticate_sync, login, password, codes)
        return identity

    return DirectoryProvider(
        id=PROVIDER_ID, label_zh="臺北市單一身分驗證（帳號密碼）", label_en="Taipei single sign-on (account and password)",
        authenticate=authenticate,
    )  # fmt: skip


def directory_providers(config: LdapSettings) -> list[DirectoryProvider]:
    directory = Directory.of(config)
    codes = school_code_map(config) if isinstance(config, SsoSettings) else {}
    return [make_provider(directory, codes)] if directory else []


def _health_sync(directory: Directory) -> None:
    with directory.service() as (conn, _):
        if not _search(conn, directory.base_dn, "(objectClass=*)", BASE, ["objectClass"]):
            raise unavailable("the base DN does not exist", "找不到目錄根節點")


async def ldap_health(config: LdapSettings) -> HealthReport | None:
    """Can we reach a directory server and bind as the service account? None when no directory is set."""
    directory = Directory.of(config)
    if directory is None:
        return None
    try:
        await _bounded(directory, _health_sync)
    except LichengError as error:
        return HealthReport(ok=False, detail_zh=error.message_zh, detail_en=error.message_en)
    return HealthReport(ok=True, detail_zh="目錄服務正常", detail_en="The directory answers")
