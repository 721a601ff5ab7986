"""What authlib's (synchronous) server sees: Starlette requests, our clients, codes and tokens.

authlib ships Flask and Django integrations, not Starlette. The edge reads the
whole request first (``RequestData``) and runs authlib in a worker thread
(``licheng.auth.oauth.provider``); the storage functions here are coroutines
that the grants call back on the event loop. Codes and refresh tokens are
claimed with a conditional update, so two racing uses cannot both win.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from anyio import from_thread
from authlib.oauth2.rfc6749 import ClientMixin, JsonPayload, OAuth2Payload, OAuth2Request
from starlette.requests import Request

from licheng.auth import tokens
from licheng.auth.models import Account
from licheng.auth.oauth.models import ClientKind, ClientStatus, OAuthClient, OAuthCode, OAuthToken
from licheng.auth.oauth.registry import secret_matches
from licheng.auth.oauth.scopes import SCOPES, parse_scopes
from licheng.settings import Settings
from licheng.tenants import audit

CODE_SECONDS = 300
MAX_BODY = 64 * 1024
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def on_loop(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run a database coroutine on the event loop from authlib's worker thread."""
    return from_thread.run(func, *args)


def access_jti(token: str) -> str | None:
    """The ``jti`` of a token we signed (callers verified the signature already)."""
    try:
        segment = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return str(payload["jti"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


# --- the Starlette adapter ------------------------------------------------------------


@dataclass(frozen=True)
class RequestData:
    """Everything authlib may read, taken from the Starlette request before leaving the loop."""

    method: str
    uri: str
    headers: Mapping[str, str]
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    json: Any = None

    @classmethod
    async def read(cls, request: Request, public_base_url: str) -> RequestData:
        form: list[tuple[str, str]] = []
        body_json: Any = None
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_BODY:
                body = b""
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/x-www-form-urlencoded"):
                form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            elif content_type.startswith("application/json") and body:
                try:
                    body_json = json.loads(body)
                except ValueError:
                    body_json = None
        # authlib refuses plain http; it checks the public URL (TLS ends at the ingress).
        uri = public_base_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return cls(request.method, uri, request.headers, list(request.query_params.multi_items()), form, body_json)


class FormPayload(OAuth2Payload):
    def __init__(self, data: RequestData) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in data.query + data.form:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):
    def __init__(self, data: RequestData) -> None:
        super().__init__(method=data.method, uri=data.uri, headers=data.headers)
        self.payload = FormPayload(data)
        self._args = dict(reversed(data.query))  # first value wins
        self._form = dict(reversed(data.form))

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class JsonBodyPayload(JsonPayload):
    def __init__(self, data: Any) -> None:
        self._data = data if isinstance(data, dict) else {}

    @property
    def data(self) -> dict[str, Any]:
        return self._data


# --- what authlib sees of our rows ------------------------------------------------------


@dataclass
class GrantUser:
    """The resource owner: an account acting in one school (or none)."""

    account_id: int
    school_id: int | None

    def get_user_id(self) -> int:
        return self.account_id


class RegisteredClient(ClientMixin):
    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id or ""

    def get_default_redirect_uri(self) -> str | None:
        return self.row.redirect_uris[0] if len(self.row.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """What was asked, narrowed to what the bureau approved; None (invalid_scope) when nothing is left."""
        if not scope:
            return " ".join(self.row.scopes)
        allowed = [s for s in parse_scopes([s for s in scope.split() if s in SCOPES]) if s in self.row.scopes]
        return " ".join(allowed) or None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact match, no prefixes

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            # A school's own confidential integration acts in its school as its applicant.
            return not self.row.public and self.row.kind == ClientKind.SCHOOL and self.row.school_id is not None
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class IssuedCode:
    row: OAuthCode

    @property
    def family(self) -> str:
        return self.row.code_hash[:32]

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method

    # OpenID Connect (authlib's AuthorizationCodeMixin)
    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.created_at.timestamp())

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return ["pwd"]


@dataclass
class IssuedToken:
    """A refresh token row, seen either through the refresh token or its access token."""

    row: OAuthToken
    kind: str  # "access_token" | "refresh_token"
    expires_at: int

    def check_client(self, client: RegisteredClient) -> bool:
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(_now().timestamp()))

    def is_expired(self) -> bool:
        return self.expires_at <= int(_now().timestamp())

    def is_revoked(self) -> bool:
        used = self.kind == "refresh_token" and self.row.used_at is not None
        return bool(self.row.revoked_at) or used or self.row.client.status != ClientStatus.APPROVED


# --- storage (async, on the loop) -----------------------------------------------------------


async def approved_client(client_id: str) -> RegisteredClient | None:
    row = await OAuthClient.get_or_none(client_id=client_id, status=ClientStatus.APPROVED)
    return RegisteredClient(row) if row else None


async def save_code(code: str, request: OAuth2Request) -> None:
    client: RegisteredClient = request.client
    await OAuthCode.create(
        code_hash=tokens.hash_refresh_token(code), client_id=client.row.id, account_id=request.user.account_id,
        school_id=request.user.school_id, redirect_uri=request.payload.redirect_uri or client.get_default_redirect_uri(),
        scope=request.scope or "", code_challenge=request.payload.data["code_challenge"],
        code_challenge_method=request.payload.data.get("code_challenge_method", "S256"),
        nonce=(request.payload.data.get("nonce") or None) if "openid" in (request.scope or "").split() else None,
        expires_at=_now() + timedelta(seconds=CODE_SECONDS),
    )  # fmt: skip


async def claim_code(code: str, client: RegisteredClient) -> IssuedCode | None:
    """Single use: the first claim wins; a second use revokes what the first one got (RFC 6749 4.1.2)."""
    code_hash = tokens.hash_refresh_token(code)
    claimed = await OAuthCode.filter(
        code_hash=code_hash, client_id=client.row.id, used_at=None, expires_at__gt=_now()
    ).update(used_at=_now())
    row = await OAuthCode.get_or_none(code_hash=code_hash, client_id=client.row.id)
    if claimed == 1 and row is not None:
        return IssuedCode(row)
    if row is not None and row.used_at is not None:
        await OAuthToken.filter(family=IssuedCode(row).family, revoked_at=None).update(revoked_at=_now())
        await audit.record(None, "oauth_code_reused", "oauth_client", client.row.id, school_id=row.school_id)
    return None


async def find_refresh(token: str) -> IssuedToken | None:
    """A live refresh token; a used one coming back means it leaked, so its family ends."""
    row = await OAuthToken.get_or_none(token_hash=tokens.hash_refresh_token(token)).prefetch_related("client")
    if row is None or row.revoked_at or row.expires_at < _now():
        return None
    if row.used_at is None:
        return IssuedToken(row, "refresh_token", int(row.expires_at.timestamp()))
    await end_leaked_family(row)
    return None


async def claim_refresh(token: IssuedToken) -> bool:
    """Use the token up, after the request was found valid (a refused scope must not burn it).

    Exactly one racing request wins; the loser's tokens, already saved in the
    family, are revoked with the rest of it.
    """
    if await OAuthToken.filter(id=token.row.id, used_at=None).update(used_at=_now()) == 1:
        return True
    await end_leaked_family(token.row)
    return False


async def end_leaked_family(row: OAuthToken) -> None:
    await OAuthToken.filter(family=row.family, revoked_at=None).update(revoked_at=_now())
    await audit.record(None, "oauth_refresh_token_reused", "oauth_client", row.client_id, school_id=row.school_id)


async def active_user(account_id: int, school_id: int | None) -> GrantUser | None:
    return GrantUser(account_id, school_id) if await Account.exists(id=account_id, active=True) else None


async def store_token(settings: Settings, token: dict[str, Any], request: OAuth2Request) -> None:
    client: RegisteredClient = request.client
    if isinstance(request.refresh_token, IssuedToken):
        family = request.refresh_token.row.family
    elif isinstance(request.authorization_code, IssuedCode):
        family = request.authorization_code.family
    else:
        family = secrets.token_hex(16)
    user: GrantUser = request.user or GrantUser(client.row.applicant_id, client.row.school_id)
    refresh = token.get("refresh_token")
    await OAuthToken.create(
        client_id=client.row.id, account_id=user.account_id, school_id=user.school_id, scope=token.get("scope", ""),
        family=family, token_hash=tokens.hash_refresh_token(refresh or secrets.token_urlsafe(32)),
        access_jti=access_jti(token["access_token"]), used_at=None if refresh else _now(),
        expires_at=_now() + timedelta(days=settings.refresh_token_days),
    )  # fmt: skip


async def find_token(settings: Settings, value: str, hint: str | None) -> IssuedToken | None:
    if value.count(".") == 2 and hint != "refresh_token":
        claims = tokens.read_access_token(settings, value)
        jti = access_jti(value)
        if claims is None or jti is None:
            return None
        row = await OAuthToken.get_or_none(access_jti=jti).prefetch_related("client")
        return IssuedToken(row, "access_token", claims.expires_at) if row else None
    row = await OAuthToken.get_or_none(token_hash=tokens.hash_refresh_token(value)).prefetch_related("client")
    return IssuedToken(row, "refresh_token", int(row.expires_at.timestamp())) if row else None


async def revoke_family(family: str) -> None:
    await OAuthToken.filter(family=family, revoked_at=None).update(revoked_at=_now())


async def token_is_live(bearer: str) -> bool:
    """A third-party access token still counts: its family is not revoked and its client not suspended."""
    jti = access_jti(bearer)
    if jti is None:
        return False
    row = await OAuthToken.get_or_none(access_jti=jti).prefetch_related("client")
    return row is not None and row.revoked_at is None and row.client.status == ClientStatus.APPROVED
