"""Sending e-mail through the bureau's SMTP server (stdlib ``smtplib``, each step in a worker thread).

Why the standard library: one connection per batch, TLS and login are all we
need. Why step by step (``SmtpSession.send`` one message at a time): the caller
records each message as soon as the server accepted it, so a crash or a lost
lease mid-batch never sends an accepted message again, and a bad message costs
only itself. Nothing here logs a message body or an address: callers log counts and ids.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from enum import Enum
from types import TracebackType

SENT = None  # the outcome of a message the server accepted
NOT_TRIED = "NotTried"  # the connection failed before this message's turn
INVALID_ADDRESS = "InvalidAddress"  # the recipient's address cannot be sent to: never retried

# One bare addr-spec: no display name, no list, no space or control character, a dot in the domain.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\.]+(\.[^\s@<>()\[\],;:\"\\.]+)+")


class TlsMode(str, Enum):
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 587)
    IMPLICIT = "implicit"  # TLS from the first byte (SMTPS, port 465)
    NONE = "none"  # no encryption: only without a login


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode
    from_address: str
    username: str = ""
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    body: str
    message_id: str  # the same id on a resend, so a mail system can drop the duplicate


def address_ok(address: str) -> bool:
    """One plain addr-spec (``a@b.tw``), no CR/LF or other control or space character, at most 254 characters.

    Non-ASCII is allowed here; a server without SMTPUTF8 refuses it in ``SmtpSession.send``.
    """
    return len(address) <= 254 and _ADDRESS.fullmatch(address) is not None and address.isprintable()


def _one_line(text: str) -> str:
    return " ".join(text.split())  # CR/LF in a subject (a class name, say) would be a header injection


def compose(config: SmtpConfig, mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = mail.to
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a reminder
    message.set_content(mail.body)  # utf-8, zh-TW first, English below
    return message


def error_name(error: BaseException) -> str:
    return type(error).__name__[:60]


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()  # certificate and host name checked against the system's trust store
    smtp: smtplib.SMTP
    if config.tls is TlsMode.IMPLICIT:
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        if config.tls is TlsMode.STARTTLS:
            smtp.starttls(context=context)
        if config.username:
            if config.tls is TlsMode.NONE:  # the settings refuse this too: never a password in cleartext
                raise smtplib.SMTPNotSupportedError("login without TLS refused")
            smtp.login(config.username, config.password or "")
        smtp.ehlo_or_helo_if_needed()
    except BaseException:
        smtp.close()
        raise
    return smtp


class SmtpSession:
    """One SMTP connection: ``async with SmtpSession(config) as smtp: await smtp.send(mail)``.

    Opening raises on a connection, TLS or login failure. ``send`` never raises:
    it returns ``None`` (accepted) or the error's class name, and sets ``broken``
    when the connection is gone, after which nothing more can be sent.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.broken: str | None = None
        self._smtp: smtplib.SMTP | None = None

    async def open(self) -> None:
        self._smtp = await asyncio.to_thread(_connect, self.config)

    async def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            await asyncio.to_thread(self._quit, smtp)

    async def __aenter__(self) -> SmtpSession:
        await self.open()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @staticmethod
    def _quit(smtp: smtplib.SMTP) -> None:
        try:
            smtp.quit()
        except Exception:  # noqa: BLE001 - already closed or the server went away: nothing left to do
            smtp.close()

    def _send(self, mail: OutgoingMail) -> str | None:
        smtp = self._smtp
        assert smtp is not None, "use SmtpSession in 'async with'"
        if not address_ok(mail.to) or (not mail.to.isascii() and not smtp.has_extn("smtputf8")):
            return INVALID_ADDRESS
        try:
            smtp.send_message(compose(self.config, mail))  # SMTPUTF8 asked for by smtplib when the address needs it
            return SENT
        except smtplib.SMTPServerDisconnected as error:
            self.broken = error_name(error)
            return self.broken
        except smtplib.SMTPException as error:  # refused recipient or sender, data error: this message only
            outcome = error_name(error)  # (SMTPException is an OSError: caught before the socket errors below)
        except OSError as error:  # timeouts, resets: the connection is gone
            self.broken = error_name(error)
            return self.broken
        except Exception as error:  # noqa: BLE001 - a bad header or anything unforeseen: this message only
            outcome = error_name(error)
        try:
            smtp.rset()  # back to a clean transaction for the next message
        except Exception as lost:  # noqa: BLE001
            self.broken = error_name(lost)
        return outcome

    async def send(self, mail: OutgoingMail) -> str | None:
        if self.broken is not None:
            return NOT_TRIED
        return await asyncio.to_thread(self._send, mail)


async def send_one(config: SmtpConfig, mail: OutgoingMail) -> str | None:
    """Send one message on its own connection: ``None`` when accepted, else the error's class name."""
    try:
        async with SmtpSession(config) as session:
            return await session.send(mail)
    except Exception as error:  # noqa: BLE001 - connection, TLS or login failure
        return error_name(error)
