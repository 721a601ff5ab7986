"""What the tpeduSSO simulator knows: people, registered clients, its RSA key, codes and tokens.

``SimState`` is plain data the tests fill and read:

- ``users``: uuid -> ``SimUser`` (role in Chinese, login name, password, optional
  national ID, and ``profile``: the extra keys of ``/api/v2/profile`` exactly as the
  reference names them, e.g. ``{"o": "tpsh", "studentId": "112001", "class": "101",
  "seat": "7"}``; keys are sent only when set, ``o`` may be a list).
- ``clients``: client id (an integer, as text) -> ``SimClient`` (40-character secret,
  the one redirect URI that matches exactly).
- ``schools``: Taipei school code -> ``{"name": "...", "classes": [{"ou": "101",
  "description": "1年1班", "grade": "1", "tutor": [uuid]}], "subjects": [...]}``, for the
  school data API (``school_api.py``); who is in a class comes from ``users``
  (profile ``o`` and ``class``; teachers' ``teachClass``).
- what happened, for assertions: ``authorize_requests`` (query parameters),
  ``token_requests`` (form fields, the client secret removed), ``api_calls``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from starlette.requests import Request

ERRORS = {
    "access_denied": "The resource owner or authorization server denied the request.",
    "invalid_client": "Client authentication failed",
    "invalid_grant": "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token "
    "is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
    "invalid_request": "The request is missing a required parameter, includes an invalid parameter value, "
    "includes a parameter more than once, or is otherwise malformed.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
}


class SsoError(Exception):
    """An error the way tpeduSSO answers it: ``{error, error_description, message[, hint]}``,
    or a redirect to the login page (``redirect``) for a call that did not ask for JSON."""

    def __init__(self, status: int, error: str = "", hint: str | None = None, redirect: str | None = None) -> None:
        super().__init__(error or redirect)
        self.status = status
        self.redirect = redirect
        description = ERRORS.get(error, error)
        self.body: dict[str, Any] = {"error": error, "error_description": description, "message": description}
        if hint:
            self.body["hint"] = hint


@dataclass
class SimUser:
    uuid: str
    role: str  # 學生, 教師, 家長, 校長, 職工, 主官管
    name: str
    login: str
    password: str
    idno: str | None = field(default=None, repr=False)
    email: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimClient:
    id: str
    secret: str = field(repr=False)
    redirect_uri: str
    name: str = "client"


@dataclass
class SimState:
    users: dict[str, SimUser] = field(default_factory=dict)
    clients: dict[str, SimClient] = field(default_factory=dict)
    schools: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))
    access_ttl: int = 7200  # seconds; the live service used 2 hours to 15 days
    refresh_ttl: int = 14 * 86400
    ttl_by_grant: dict[str, int] = field(default_factory=dict)  # e.g. {"authorization_code": -60}: born expired
    # Grants whose access tokens the API answers 401 as expired while expires_in still says
    # they are valid (clock skew, an early revocation): exercises refresh-on-401.
    stale_grants: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale_jtis: set[str] = field(default_factory=set)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    api_calls: list[tuple[str, int]] = field(default_factory=list)

    def add_client(self, redirect_uri: str, name: str = "Licheng") -> SimClient:
        """Register a client as the bureau does: an integer id and a 40-character secret."""
        client = SimClient(str(len(self.clients) + 1), secrets.token_hex(20), redirect_uri, name)
        self.clients[client.id] = client
        return client

    def add_user(self, role: str, name: str, login: str, password: str, *, idno: str | None = None,
                 email: str | None = None, uuid: str | None = None, **profile: Any) -> SimUser:  # fmt: skip
        user = SimUser(uuid or _uuid(), role, name, login, password, idno, email, profile)
        self.users[user.uuid] = user
        return user

    def user_by_login(self, login: str) -> SimUser | None:
        return next((u for u in self.users.values() if u.login == login), None)

    def issue(self, client_id: str, subject: str, scopes: list[str], grant: str, refresh: bool = True) -> dict[str, Any]:
        """A token response: an RS256 JWT access token with the reference's claims, and a refresh token."""
        now = int(time.time())
        jti = secrets.token_hex(40)
        ttl = self.ttl_by_grant.get(grant, self.access_ttl)
        claims = {"aud": client_id, "jti": jti, "iat": now, "nbf": now, "exp": now + ttl,
                  "sub": subject, "scopes": scopes}  # fmt: skip
        if grant in self.stale_grants:
            self.stale_jtis.add(jti)
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": ttl,
            "access_token": jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, self.key),
        }
        if refresh:
            token = secrets.token_hex(64)
            self.refresh_tokens[token] = {"client": client_id, "sub": subject, "scopes": scopes,
                                          "exp": now + self.refresh_ttl}  # fmt: skip
            answer["refresh_token"] = token
        return answer

    def check_bearer(self, request: Request, scope: str | None = None) -> dict[str, Any]:
        """The claims of the request's access token, or ``SsoError`` as tpeduSSO answers:
        a redirect to the login page without ``Accept: application/json``, 401 for a
        missing, bad or expired token, 403 for a missing scope."""
        if "application/json" not in request.headers.get("accept", ""):
            raise SsoError(302, redirect="/login")
        header = request.headers.get("authorization", "")
        if header[:7].lower() != "bearer ":
            raise SsoError(401, "access_denied", "Missing \"Authorization\" header")
        try:
            token = jwt.decode(header[7:].strip(), self.key, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(exp={"essential": True}, nbf={"essential": True}).validate(token.claims)
        except (JoseError, ValueError):
            raise SsoError(401, "access_denied", "The JWT could not be verified or has expired") from None
        claims = dict(token.claims)
        if claims.get("jti") in self.stale_jtis:
            raise SsoError(401, "access_denied", "Access token could not be verified")
        if scope and scope not in claims.get("scopes", []):
            raise SsoError(403, "invalid_scope", f"Check the `{scope}` scope")
        return claims


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())
