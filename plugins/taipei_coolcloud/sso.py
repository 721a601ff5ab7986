"""Sign-in through Taipei's single sign-on (臺北市單一身分驗證, tpeduSSO) over OAuth2.

The plugin only describes the provider (URLs, client, scopes) and maps its JSON
to an ``ExternalIdentity``; the core runs the redirect flow (``licheng.http.sso``)
and links the identity to our people (``licheng.auth.external``). Every URL is a
setting because the live service may differ from the archived reference
(../shared/reference/taipei-sso.md); the defaults are the reference's paths.

Quirks handled here: ``o`` is a string or a list (people in several schools);
keys appear only when set; Taipei's school codes (``o``, e.g. "tpsh") are short
names, mapped to our 6-digit Ministry codes by the ``sso_school_codes`` setting
(an unmapped code, even one of six digits, names no school).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from licheng.plugins import ExternalIdentity, HealthReport, OAuthProvider, PluginSettings, SecretStr, secret_setting, setting

PROVIDER_ID = "tpedu"
ROLES = {"學生": "student", "教師": "teacher", "家長": "parent", "校長": "staff", "職工": "staff", "主官管": "staff"}
_MAPPING = r"^\s*([A-Za-z0-9_-]+\s*=\s*\d{6}\s*([,;\n]\s*[A-Za-z0-9_-]+\s*=\s*\d{6}\s*)*)?[,;]?\s*$"


class SsoSettings(PluginSettings):
    sso_client_id: str = setting(
        "", max_length=200, pattern=r"^\d*$", label_zh="單一身分驗證 Client ID", label_en="SSO client ID",
        help_zh="教育局核發的整數代號", help_en="The integer id the bureau registered",
    )  # fmt: skip
    sso_client_secret: SecretStr | None = secret_setting(label_zh="單一身分驗證 Client Secret", label_en="SSO client secret")
    sso_base_url: str = setting(
        "https://ldap.tp.edu.tw", max_length=200, pattern=r"^https?://[^\s/]+(:\d+)?(/[^\s]*)?$",
        label_zh="單一身分驗證網址", label_en="SSO base URL",
    )  # fmt: skip
    sso_authorize_path: str = setting("/oauth/authorize", max_length=200, label_zh="授權路徑", label_en="Authorize path")
    sso_token_path: str = setting("/oauth/token", max_length=200, label_zh="權杖路徑", label_en="Token path")
    sso_user_path: str = setting("/api/v2/user", max_length=200, label_zh="使用者資料路徑", label_en="User path")
    sso_profile_path: str = setting("/api/v2/profile", max_length=200, label_zh="個人資料路徑", label_en="Profile path")
    sso_idno_path: str = setting("/api/v2/idno", max_length=200, label_zh="身分證字號路徑", label_en="National ID path")
    sso_logout_path: str = setting("/api/v2/logout", max_length=200, label_zh="登出路徑", label_en="Logout path")
    sso_scopes: str = setting(
        "user profile idno", max_length=200, pattern=r"^[A-Za-z ]*$", label_zh="授權範圍", label_en="Scopes",
        help_zh="user、profile 為必要；idno 用於首次登入以身分證字號比對教職員與家長，未獲核准時請移除",
        help_en="user and profile are required; idno links staff and parents by national ID on first sign-in (remove it if not granted)",
    )  # fmt: skip
    sso_school_codes: str = setting(
        "", max_length=4000, pattern=_MAPPING, label_zh="學校代碼對照", label_en="School code mapping",
        help_zh="單一身分驗證的學校代碼對應教育部學校代碼，如 tpsh=313302, tpmsh=313301",
        help_en="SSO school codes (o) to our 6-digit Ministry codes, e.g. tpsh=313302, tpmsh=313301",
    )  # fmt: skip
    sso_timeout_seconds: int = setting(10, ge=1, le=60, label_zh="逾時秒數", label_en="Timeout (seconds)")


def school_code_map(config: SsoSettings) -> dict[str, str]:
    """``tpsh=313302, x=123456`` -> {"tpsh": "313302", ...} (keys lower-cased)."""
    pairs = (item.split("=", 1) for item in re.split(r"[,;\n]", config.sso_school_codes) if "=" in item)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _url(config: SsoSettings, path: str) -> str:
    return config.sso_base_url.rstrip("/") + "/" + path.lstrip("/")


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def _first(value: Any) -> str | None:
    values = _as_list(value)
    return values[0].strip() if values else None


def identity_mapper(codes: Mapping[str, str]) -> Any:
    """The ``identity_of`` of the provider: user + profile (+ idno) JSON, merged, to an identity."""

    def identity_of(data: Mapping[str, Any]) -> ExternalIdentity:
        role = ROLES.get(str(data.get("role", "")).strip())
        ours = []
        for code in _as_list(data.get("o")):
            # Only the bureau's mapping decides which of our schools a code means: a six-digit ``o``
            # is not taken as is (the provider would otherwise name any school of the bureau).
            mapped = codes.get(code.strip().lower())
            if mapped:
                ours.append(mapped)
        seat = _first(data.get("seat"))
        return ExternalIdentity(
            subject=str(data.get("uuid") or ""),
            login=str(data.get("uuid") or ""),
            name=str(data.get("name") or ""),
            email=_first(data.get("email")),
            roles=(role,) if role else (),
            school_codes=tuple(dict.fromkeys(ours)),
            student_number=_first(data.get("studentId")),
            staff_number=_first(data.get("teacherId")),
            class_code=_first(data.get("class")),
            seat=int(seat) if seat and seat.isdigit() else None,
            tutor_class=_first(data.get("tutorClass")),
            children=tuple(_as_list(data.get("child"))),
            national_id=_first(data.get("idno")),
        )

    return identity_of


def oauth_providers(config: SsoSettings) -> list[OAuthProvider]:
    """The provider, once a client id and secret are set; nothing before (the sign-in page hides it)."""
    if not config.sso_client_id or config.sso_client_secret is None:
        return []
    scopes = tuple(config.sso_scopes.split())
    profile_urls = [_url(config, config.sso_profile_path)] if "profile" in scopes else []
    if "idno" in scopes:
        profile_urls.append(_url(config, config.sso_idno_path))
    return [
        OAuthProvider(
            id=PROVIDER_ID,
            label_zh="臺北市單一身分驗證",
            label_en="Taipei single sign-on",
            authorize_url=_url(config, config.sso_authorize_path),
            token_url=_url(config, config.sso_token_path),
            userinfo_url=_url(config, config.sso_user_path),
            client_id=config.sso_client_id,
            client_secret=config.sso_client_secret.get_secret_value(),
            scopes=scopes,
            identity_of=identity_mapper(school_code_map(config)),
            profile_urls=tuple(profile_urls),
            logout_url=_url(config, config.sso_logout_path),
            token_auth_method="client_secret_post",
            timeout_seconds=float(config.sso_timeout_seconds),
        )
    ]


async def sso_health(config: SsoSettings) -> HealthReport | None:
    """Can we reach the single sign-on? None when it is not configured. Any HTTP answer below 500 is up
    (an unauthenticated JSON call answers 401)."""
    if not config.sso_client_id or config.sso_client_secret is None:
        return None
    try:
        async with httpx.AsyncClient(timeout=min(config.sso_timeout_seconds, 10)) as client:
            response = await client.get(_url(config, config.sso_user_path), headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        return HealthReport(
            ok=False, detail_zh="無法連線單一身分驗證服務", detail_en=f"Cannot reach the single sign-on ({type(error).__name__})"
        )
    if response.status_code >= 500:
        return HealthReport(ok=False, detail_zh="單一身分驗證服務回應錯誤", detail_en=f"The single sign-on answered {response.status_code}")
    return HealthReport(ok=True)
