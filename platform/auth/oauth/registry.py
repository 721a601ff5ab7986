"""Registering third-party clients: apply, approve or reject (a bureau), suspend; connected apps.

A developer applies with any signed-in account; the admins of the chosen
bureau decide for the bureau's schools. Approval issues the client id and, for
confidential clients, a secret shown once and stored only as a hash. Every
step is audited. Another bureau's application is ``NotFound``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from tortoise.expressions import Q

from licheng.auth.oauth.models import ClientKind, ClientStatus, OAuthClient, OAuthConsent, OAuthToken
from licheng.auth.oauth.scopes import parse_scopes
from licheng.errors import Forbidden, InvalidInput, LichengError, NotFound
from licheng.pagination import Page, paginate
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Bureau, Role, School

MAX_REDIRECT_URIS = 10


def _now() -> datetime:
    return datetime.now(timezone.utc)


def hash_secret(secret: str) -> str:
    """Secrets are 256 random bits, so a plain SHA-256 suffices (no password stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: OAuthClient, secret: str) -> bool:
    return bool(client.secret_hash) and hmac.compare_digest(client.secret_hash or "", hash_secret(secret))


def check_redirect_uri(uri: str) -> str:
    """https anywhere; plain http only to this machine (RFC 8252 loopback for native apps)."""
    uri = uri.strip()
    parts = urlsplit(uri)
    bad = InvalidInput(
        "redirect_uris", "轉址網址須為 https，或僅限本機（127.0.0.1、localhost）的 http，且不可含 #",
        "A redirect URI must be https, or http only to 127.0.0.1 or localhost, without a fragment", uri=uri,
    )  # fmt: skip
    if parts.fragment or not parts.hostname or parts.username or len(uri) > 500:
        raise bad
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http":
        if parts.hostname == "localhost":
            return uri
        try:
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return uri
        except ValueError:
            pass
    raise bad


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Application:
    organisation: str
    name: str
    purpose: str
    redirect_uris: list[str]
    kind: ClientKind
    public: bool
    scopes: list[str]


async def apply_for_client(actor: Actor, bureau_id: int, app: Application) -> OAuthClient:
    """Any signed-in account may apply; a school's own integration must come from its staff."""
    actor.require_signed_in()
    if actor.account_id is None:
        raise Forbidden("apply for a client without an account", "在沒有帳號時申請")
    fields = {"organisation": app.organisation.strip(), "name": app.name.strip(), "purpose": app.purpose.strip()}
    for field, value in fields.items():
        if not value or len(value) > (2000 if field == "purpose" else 100):
            raise InvalidInput(field, "此欄位不可空白或過長", "This field is required and must not be too long")
    uris = [check_redirect_uri(uri) for uri in app.redirect_uris]
    if not uris or len(uris) > MAX_REDIRECT_URIS:
        raise InvalidInput("redirect_uris", "請提供 1 到 10 個轉址網址", "Give 1 to 10 redirect URIs")
    scopes = parse_scopes(app.scopes)
    if not scopes:
        raise InvalidInput("scopes", "請至少申請一個授權範圍", "Ask for at least one scope")
    if not await Bureau.exists(id=bureau_id):
        raise NotFound("bureau", "教育局")
    school_id: int | None = None
    if app.kind == ClientKind.SCHOOL:
        school_id = actor.require_role(Role.STAFF)
        if not await School.exists(id=school_id, bureau_id=bureau_id):
            raise InvalidInput("bureau_id", "學校不屬於此教育局", "Your school is not under this bureau")
    client = await OAuthClient.create(
        organisation=fields["organisation"], name=fields["name"], purpose=fields["purpose"], redirect_uris=list(dict.fromkeys(uris)), scopes=scopes, kind=app.kind, public=app.public,
        bureau_id=bureau_id, school_id=school_id, applicant_id=actor.account_id,
    )  # fmt: skip
    await audit.record(
        actor, "oauth_client_applied", "oauth_client", client.id, bureau_id=bureau_id, school_id=school_id,
        changes={"name": client.name, "kind": app.kind.value, "public": app.public, "scopes": scopes},
    )  # fmt: skip
    return client


def visible_clients(actor: Actor) -> Q:
    """The applicant sees their applications; bureau admins see their bureau's."""
    actor.require_signed_in()
    if actor.is_platform_admin:
        return Q()
    return Q(applicant_id=actor.account_id or -1) | Q(bureau_id__in=list(actor.bureau_ids) or [-1])


async def list_clients(actor: Actor, *, first: int | None = None, after: str | None = None) -> Page[OAuthClient]:
    return await paginate(OAuthClient.filter(visible_clients(actor)), first=first, after=after)


async def _client_to_decide(actor: Actor, pk: int) -> OAuthClient:
    """Only the bureau's admins decide; others see nothing (or only their own, read-only)."""
    actor.require_signed_in()
    client = await OAuthClient.get_or_none(id=pk)
    if client is None or not actor.can_admin_bureau(client.bureau_id):
        raise NotFound("client", "應用程式")
    return client


def _wrong_status(client: OAuthClient) -> LichengError:
    return LichengError(
        "CLIENT_STATUS", "此應用程式目前的狀態不能執行此操作", "The client's status does not allow this",
        status=client.status.value,
    )  # fmt: skip


async def approve_client(actor: Actor, pk: int) -> tuple[OAuthClient, str | None]:
    """Issue the client id (and a secret for confidential clients, returned once)."""
    client = await _client_to_decide(actor, pk)
    if client.status != ClientStatus.PENDING:
        raise _wrong_status(client)
    secret = None if client.public else secrets.token_urlsafe(32)
    client.client_id = "lc_" + secrets.token_urlsafe(18)
    client.secret_hash = hash_secret(secret) if secret else None
    client.status, client.decided_by_id, client.decided_at = ClientStatus.APPROVED, actor.account_id, _now()
    await client.save(update_fields=["client_id", "secret_hash", "status", "decided_by_id", "decided_at"])
    _origins_changed()
    await audit.record(
        actor, "oauth_client_approved", "oauth_client", client.id, bureau_id=client.bureau_id,
        school_id=client.school_id, changes={"client_id": client.client_id},
    )  # fmt: skip
    return client, secret


async def reject_client(actor: Actor, pk: int, reason: str) -> OAuthClient:
    client = await _client_to_decide(actor, pk)
    if client.status != ClientStatus.PENDING:
        raise _wrong_status(client)
    return await _decide(actor, client, ClientStatus.REJECTED, reason, "oauth_client_rejected")


async def suspend_client(actor: Actor, pk: int, reason: str) -> OAuthClient:
    """Stops the client at once: its refresh tokens are revoked and its access tokens refused."""
    client = await _client_to_decide(actor, pk)
    if client.status != ClientStatus.APPROVED:
        raise _wrong_status(client)
    await OAuthToken.filter(client_id=client.id, revoked_at=None).update(revoked_at=_now())
    return await _decide(actor, client, ClientStatus.SUSPENDED, reason, "oauth_client_suspended")


async def _decide(actor: Actor, client: OAuthClient, status: ClientStatus, reason: str, action: str) -> OAuthClient:
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("reason", "請說明理由（500 字以內）", "Give a reason (500 characters at most)")
    client.status, client.reason, client.decided_by_id, client.decided_at = status, reason, actor.account_id, _now()
    await client.save(update_fields=["status", "reason", "decided_by_id", "decided_at"])
    _origins_changed()
    await audit.record(
        actor, action, "oauth_client", client.id, bureau_id=client.bureau_id, school_id=client.school_id,
        changes={"reason": reason},
    )  # fmt: skip
    return client


# --- connected apps: remembered consent, revocable by the person -------------------


async def connected_apps(actor: Actor) -> list[OAuthConsent]:
    actor.require_signed_in()
    return await OAuthConsent.filter(account_id=actor.account_id or -1, revoked_at=None).prefetch_related("client").order_by("id")


async def revoke_connected_app(actor: Actor, client_pk: int) -> int:
    """Forget the consent and end every session of this app for this account, in every school."""
    actor.require_signed_in()
    account_id = actor.account_id or -1
    consents = await OAuthConsent.filter(account_id=account_id, client_id=client_pk, revoked_at=None).update(revoked_at=_now())
    if not consents:
        raise NotFound("connected app", "已連結的應用程式")
    await OAuthToken.filter(account_id=account_id, client_id=client_pk, revoked_at=None).update(revoked_at=_now())
    await audit.record(actor, "oauth_consent_revoked", "oauth_client", client_pk)
    return consents


async def has_consent(account_id: int, school_id: int | None, client: OAuthClient, scopes: list[str]) -> bool:
    """A remembered consent covers these scopes, so the page need not ask again."""
    rows = await OAuthConsent.filter(account_id=account_id, school_id=school_id, client_id=client.id, revoked_at=None)
    return any(set(scopes) <= set(row.scope.split()) for row in rows)


async def remember_consent(actor: Actor, client: OAuthClient, scopes: list[str]) -> None:
    """One live consent per account, school and client: a new one replaces the old."""
    account_id = actor.account_id or -1
    await OAuthConsent.filter(
        account_id=account_id, school_id=actor.school_id, client_id=client.id, revoked_at=None
    ).update(revoked_at=_now())
    await OAuthConsent.create(account_id=account_id, school_id=actor.school_id, client_id=client.id, scope=" ".join(scopes))
    await audit.record(actor, "oauth_consent_granted", "oauth_client", client.id, changes={"scopes": scopes})


async def may_serve(client: OAuthClient, school_id: int | None) -> bool:
    """A client approved by a bureau serves that bureau's schools (a school's own client: only it)."""
    if school_id is None:
        return False
    if client.school_id is not None and client.school_id != school_id:
        return False
    return await School.exists(id=school_id, bureau_id=client.bureau_id)


# Bumped on every approval or suspension so that this process's CORS origins reload at once.
origins_version = 0


def _origins_changed() -> None:
    global origins_version
    origins_version += 1


async def allowed_origins() -> set[str]:
    """Origins of approved clients' redirect URIs: the only browsers allowed to call the API."""
    rows = await OAuthClient.filter(status=ClientStatus.APPROVED).values_list("redirect_uris", flat=True)
    return {origin_of(uri) for uris in rows for uri in (uris or [])}  # type: ignore[union-attr]
