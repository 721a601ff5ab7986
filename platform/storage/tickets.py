"""Download tickets: a short-lived link to one file for one account, usable without a header.

A browser link (`<a href>`) cannot carry `Authorization: Bearer`, so GraphQL's
`Upload.downloadUrl` hands out `/files/{id}?ticket=...`: the account, the
school, the blob and an expiry, signed (HMAC-SHA256) with a key derived from
the secret key for this purpose only. The download route rebuilds the actor
from the account (roles read afresh), authorises again and audits the read:
a ticket proves who asked, never that he still may.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from licheng.settings import Settings
from licheng.tenants.actor import Actor

TICKET_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Ticket:
    account_id: int
    school_id: int
    blob_id: int
    expires_at: int


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"licheng-download-ticket:" + settings.secret_key.encode()).digest()


def _sign(settings: Settings, body: str) -> str:
    mac = hmac.new(_key(settings), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue_ticket(
    settings: Settings, *, account_id: int, school_id: int, blob_id: int, seconds: int = TICKET_SECONDS
) -> str:
    expires_at = int(time.time()) + seconds
    body = f"{account_id}.{school_id}.{blob_id}.{expires_at}"
    return f"{body}.{_sign(settings, body)}"


def read_ticket(settings: Settings, ticket: str, blob_id: int) -> Ticket | None:
    """The ticket's claims if it is ours, unexpired and for this blob; else None."""
    try:
        account, school, blob, expires, signature = ticket.split(".")
        claims = Ticket(int(account), int(school), int(blob), int(expires))
    except ValueError:
        return None
    body = f"{account}.{school}.{blob}.{expires}"
    if not hmac.compare_digest(signature, _sign(settings, body)):
        return None
    if claims.blob_id != blob_id or claims.expires_at < time.time():
        return None
    return claims


async def actor_for_ticket(settings: Settings, ticket: str, blob_id: int) -> Actor | None:
    """The actor a valid ticket speaks for, rebuilt now (roles read afresh), or None."""
    from licheng.auth.models import Account
    from licheng.auth.service import build_actor

    claims = read_ticket(settings, ticket, blob_id)
    if claims is None:
        return None
    account = await Account.get_or_none(id=claims.account_id, active=True)
    if account is None:
        return None
    actor = await build_actor(account, claims.school_id)
    return actor if actor.school_id == claims.school_id else None
