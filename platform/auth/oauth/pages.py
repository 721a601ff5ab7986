"""The sign-in and consent page: server-rendered, bilingual (zh-TW first), no JavaScript.

Kept deliberately plain: one form posts back to the same URL (the OAuth
parameters stay in the query string) with a CSRF token bound to them.
"""

from __future__ import annotations

from html import escape

from licheng.auth.oauth.scopes import describe

_STYLE = (
    "body{font-family:system-ui,'Noto Sans TC',sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.3rem}.en{color:#666;font-size:.9em}label{display:block;margin:.6rem 0}"
    "input[type=text],input[type=password]{width:100%;padding:.4rem}button{padding:.5rem 1.2rem;margin-right:.6rem}"
    ".error{color:#a00;border:1px solid #a00;padding:.5rem}li{margin:.3rem 0}"
)


def _page(title_zh: str, title_en: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-Hant-TW"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title_zh)} · {escape(title_en)}</title><style>{_STYLE}</style></head>"
        f'<body><h1>{escape(title_zh)} <span class="en">{escape(title_en)}</span></h1>{body}</body></html>'
    )


def consent_page(
    *, app_name: str, organisation: str, scopes: list[str], csrf: str, signed_in_as: str | None,
    error: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """Ask to sign in (unless a session exists) and to allow the listed scopes."""
    items = "".join(
        f'<li>{escape(zh)} <span class="en">{escape(en)}</span> <code>{escape(scope)}</code></li>'
        for scope, zh, en in describe(scopes)
    )
    problem = f'<p class="error">{escape(error[0])}<br><span class="en">{escape(error[1])}</span></p>' if error else ""
    required = "" if signed_in_as else " required"
    who = (
        f'<label>帳號 <span class="en">Account</span><input type="text" name="login" autocomplete="username"{required}></label>'
        f'<label>密碼 <span class="en">Password</span><input type="password" name="password" autocomplete="current-password"{required}></label>'
        '<label>學校代碼（有多所學校時填寫） <span class="en">School code (if you belong to several)</span>'
        '<input type="text" name="school_code"></label>'
    )
    if signed_in_as:
        who = (
            f"<p>目前登入：{escape(signed_in_as)} <span class=\"en\">Signed in as {escape(signed_in_as)}</span></p>"
            f"<details><summary>不是你？以其他帳號登入 <span class=\"en\">Not you? Sign in as someone else</span></summary>{who}</details>"
        )
    body = (
        f"{problem}<p><strong>{escape(app_name)}</strong>（{escape(organisation)}）想要取得以下權限："
        f'<br><span class="en">{escape(app_name)} ({escape(organisation)}) asks to:</span></p><ul>{items}</ul>'
        '<p class="en">It can never do more than your own roles allow. 它不能做超過你本身身分所能做的事。</p>'
        f'<form method="post"><input type="hidden" name="csrf_token" value="{escape(csrf)}">{who}'
        '<button type="submit" name="decision" value="allow">允許 Allow</button>'
        '<button type="submit" name="decision" value="deny" formnovalidate>拒絕 Deny</button></form>'
    )
    return _page("授權第三方應用程式", "Authorize an application", body)


def error_page(zh: str, en: str) -> str:
    """For requests we cannot send back to the client (unknown client, wrong redirect URI)."""
    return _page("無法授權", "Cannot authorize", f'<p class="error">{escape(zh)}<br><span class="en">{escape(en)}</span></p>')
