"""The scopes a third party may ask for, in the plain words the consent page shows.

The GraphQL edge maps every root field to one of these (``licheng.graphql.scopes``).
``FIRST_PARTY`` is no scope a client can be granted: fields behind it (managing
clients, switching school, changing a password) are for Licheng's own console.
"""

from __future__ import annotations

from licheng.errors import InvalidInput

# scope -> (zh-TW, English), in the order the consent page lists them.
SCOPES: dict[str, tuple[str, str]] = {
    "openid": ("確認你的身分（以歷程帳號登入）", "Confirm who you are (sign in with Licheng)"),
    "profile": ("你的姓名、帳號與所屬學校", "Your name, account name and school"),
    "portfolio:read": ("讀取學習歷程檔案（課程學習成果、多元表現）", "Read learning portfolios (course outcomes, diverse performances)"),
    "portfolio:write": ("上傳與修改學習歷程檔案", "Upload and change learning portfolio items"),
    "certify": ("以你的身分認證課程學習成果", "Certify course outcomes as you"),
    "school:read": ("讀取學校、班級與人員名單", "Read the school, its classes and people"),
    "school:admin": ("管理學校資料（匯入人員、設定學期）", "Administer the school (import people, set terms)"),
}
FIRST_PARTY = "first-party"


def parse_scopes(value: str | list[str] | None) -> list[str]:
    """Known scopes, de-duplicated and in canonical order; unknown ones are an input error."""
    items = value.split() if isinstance(value, str) else list(value or [])
    unknown = sorted(set(items) - set(SCOPES))
    if unknown:
        raise InvalidInput("scopes", "不支援的授權範圍", "Unknown scope", unknown=unknown)
    return [scope for scope in SCOPES if scope in items]


def describe(scopes: list[str]) -> list[tuple[str, str, str]]:
    """(scope, zh-TW, English) for a consent page or a connected-apps list."""
    return [(scope, *SCOPES[scope]) for scope in parse_scopes(scopes)]
