"""The OAuth2 client side of single sign-on: authlib's Starlette client for the redirect,
and reading the provider's user APIs with refresh on an expired token.

Why a module of its own: the routes (``licheng.http.sso``) decide what to answer;
this module only speaks OAuth2 and HTTP to the provider, and turns every provider
failure into one of three typed errors without ever carrying a code, a token or a
secret into a message.
"""

from __future__ import annotations

import warnings

import json
from collections.abc import Mapping
from typing import Any

import httpx
with warnings.catch_warnings():
    # authlib 1.9 announces a future switch to "httpx2" on import; httpx is what we use and test.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

from licheng.errors import LichengError
from licheng.plugins.contracts import ExternalIdentity, OAuthProvider

JSON = {"Accept": "application/json"}


class ProviderUnavailable(Exception):
    """The provider did not answer (connection refused, timeout, 5xx)."""


def provider_error(error: str) -> LichengError:
    """The provider answered with an OAuth2 error; only its error code travels, never a token."""
    if error == "access_denied":
        return LichengError("EXTERNAL_ACCESS_DENIED", "您未同意授權，因此無法登入。", "You did not grant access, so you are not signed in.")
    return LichengError(
        "EXTERNAL_PROVIDER_ERROR",
        "登入服務回覆錯誤，請重新登入；若持續發生請洽學校。",
        "The sign-in service answered with an error: sign in again, and ask your school if it persists.",
        provider_error=error[:64],
    )


def oauth_client(provider: OAuthProvider) -> StarletteOAuth2App:
    """authlib's Starlette client for this provider's configuration (one per request: cheap, and
    each school's bureau may configure its own client)."""
    client = OAuth().register(
        name=provider.id,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        authorize_url=provider.authorize_url,
        access_token_url=provider.token_url,
        client_kwargs={
            "scope": " ".join(provider.scopes),
            "code_challenge_method": "S256",  # PKCE: sent even though tpeduSSO ignores it
            "token_endpoint_auth_method": provider.token_auth_method,
            "timeout": provider.timeout_seconds,
            "headers": JSON,
        },
    )
    assert isinstance(client, StarletteOAuth2App)
    return client


def _json(response: httpx.Response) -> dict[str, Any] | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


async def read_identity_data(provider: OAuthProvider, token: Mapping[str, Any]) -> dict[str, Any]:
    """GET the userinfo URL, then each profile URL, with ``Accept: application/json``, merged in order.

    An expired token is refreshed once against the provider's token endpoint: before
    the call when ``expires_in`` says so (authlib), or after a 401 (clocks differ).
    A profile URL answering 403 (a scope the bureau's client was not granted) is skipped.
    """
    async with AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token=dict(token),
        token_endpoint=provider.token_url,
        token_endpoint_auth_method=provider.token_auth_method,
        timeout=provider.timeout_seconds,
    ) as client:
        merged: dict[str, Any] = {}
        refreshed = False
        for url in (provider.userinfo_url, *provider.profile_urls):
            try:
                response = await client.get(url, headers=JSON)
                if response.status_code == 401 and not refreshed and client.token.get("refresh_token"):
                    await client.refresh_token(provider.token_url, refresh_token=client.token["refresh_token"], headers=JSON)
                    refreshed = True
                    response = await client.get(url, headers=JSON)
            except httpx.HTTPError as error:
                raise ProviderUnavailable(type(error).__name__) from None
            except Exception as error:  # authlib's OAuthError from a refused refresh
                code = getattr(error, "error", None)
                if isinstance(code, str):
                    raise provider_error(code) from None
                raise
            if response.status_code >= 500:
                raise ProviderUnavailable(f"HTTP {response.status_code}")
            if response.status_code == 403 and url != provider.userinfo_url:
                continue
            body = _json(response)
            if response.status_code != 200 or body is None:
                raise provider_error(str((body or {}).get("error") or f"http_{response.status_code}"))
            merged.update(body)
        return merged


def default_identity(data: Mapping[str, Any]) -> ExternalIdentity:
    """For a provider without ``identity_of``: OpenID-style claims."""
    subject = str(data.get("sub") or data.get("uuid") or "")
    return ExternalIdentity(subject=subject, login=str(data.get("preferred_username") or subject),
                            name=str(data.get("name") or ""), email=data.get("email"))  # fmt: skip
