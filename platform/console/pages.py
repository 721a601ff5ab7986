"""Server-rendered shells of the console pages: layout, navigation, forms and empty regions.

The server renders what never depends on data (labels, forms, headings) so a
page is readable at once and works with assistive technology; the script
fills the regions from the public GraphQL API. Everything is escaped here.
"""

from __future__ import annotations

import json
from html import escape

from licheng.console.i18n import EN, MESSAGES


def _t(lang: str, key: str) -> str:
    return escape(MESSAGES[lang].get(key, EN.get(key, key)))


def _field(lang: str, name: str, key: str, kind: str = "text", **attrs: str) -> str:
    extra = " ".join(f'{k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<div class="field"><label for="{name}">{_t(lang, key)}</label>'
        f'<input id="{name}" name="{name}" type="{kind}" {extra}></div>'
    )


def _signin(lang: str) -> str:
    return f"""
<section id="signin" class="card" hidden aria-labelledby="signin-title">
  <h2 id="signin-title">{_t(lang, "signin.title")}</h2>
  <form id="signin-form" novalidate>
    {_field(lang, "login", "signin.login", autocomplete="username", required="required")}
    {_field(lang, "password", "signin.password", "password", autocomplete="current-password", required="required")}
    {_field(lang, "school_code", "signin.school", inputmode="numeric", maxlength="6")}
    <button type="submit">{_t(lang, "signin.submit")}</button>
  </form>
</section>"""


def _plugins(lang: str, plugin_id: str | None) -> str:
    if plugin_id is None:
        return f"""
<h1 id="page-title" tabindex="-1">{_t(lang, "plugins.title")}</h1>
<p>{_t(lang, "plugins.intro")}</p>
<div class="field" id="bureau-choice" hidden><label for="bureau">{_t(lang, "plugins.bureau")}</label><select id="bureau"></select></div>
<div id="plugin-list" class="scroll" aria-busy="true"></div>"""
    return f"""
<p><a href="./">← {_t(lang, "plugins.title")}</a></p>
<h1 id="page-title" tabindex="-1" data-plugin-id="{escape(plugin_id)}">{escape(plugin_id)}</h1>
<p id="plugin-meta"></p>
<section class="card" aria-labelledby="enable-title" id="enable-section" hidden>
  <h2 id="enable-title">{_t(lang, "plugin.enablement")}</h2>
  <form id="enable-form">
    <fieldset><legend>{_t(lang, "plugin.enablement")}</legend>
      <label class="inline"><input type="radio" name="scope" value="all" id="scope-all"> {_t(lang, "plugin.all_schools")}</label>
      <label class="inline"><input type="radio" name="scope" value="some" id="scope-some"> {_t(lang, "plugin.chosen_schools")}</label>
      <div id="school-choices" class="choices"></div>
    </fieldset>
    <button type="submit">{_t(lang, "plugin.save_enablement")}</button>
    <button type="button" id="disable" class="secondary">{_t(lang, "plugin.disable")}</button>
  </form>
</section>
<section class="card" aria-labelledby="settings-title">
  <h2 id="settings-title">{_t(lang, "plugin.settings")}</h2>
  <div class="field" id="scope-choice"><label for="settings-scope">{_t(lang, "plugin.scope")}</label><select id="settings-scope"></select></div>
  <form id="settings-form" novalidate>
    <div id="settings-fields" aria-busy="true"></div>
    <button type="button" id="preview-button" class="secondary">{_t(lang, "plugin.preview")}</button>
    <button type="submit">{_t(lang, "plugin.save")}</button>
  </form>
</section>
<section class="card" aria-labelledby="preview-title" id="preview-section" hidden>
  <h2 id="preview-title" tabindex="-1">{_t(lang, "preview.title")}</h2>
  <p id="preview-term"></p>
  <div id="preview" class="scroll"></div>
</section>
<section class="card" aria-labelledby="health-title">
  <h2 id="health-title">{_t(lang, "health.title")}</h2>
  <div id="health" class="scroll"></div>
  <button type="button" id="health-check" class="secondary">{_t(lang, "health.check")}</button>
</section>
<section class="card" aria-labelledby="audit-title">
  <h2 id="audit-title">{_t(lang, "audit.title")}</h2>
  <div id="audit" class="scroll"></div>
</section>"""


def _onboarding(lang: str) -> str:
    kinds = "".join(f'<option value="{k.upper()}">{_t(lang, "onboarding.kind." + k)}</option>' for k in ("general", "vocational", "comprehensive"))
    return f"""
<h1 id="page-title" tabindex="-1">{_t(lang, "onboarding.title")}</h1>
<section class="card platform-only" aria-labelledby="bureau-title" hidden>
  <h2 id="bureau-title">{_t(lang, "onboarding.create_bureau")}</h2>
  <form id="bureau-form" data-mutation="createBureau">
    {_field(lang, "bureau_code", "onboarding.code", required="required", pattern="[a-z0-9_-]{2,32}")}
    {_field(lang, "bureau_name", "onboarding.name", required="required")}
    <button type="submit">{_t(lang, "onboarding.submit")}</button>
  </form>
  <h2>{_t(lang, "onboarding.add_admin")}</h2>
  <form id="admin-form">
    <div class="field"><label for="admin_bureau">{_t(lang, "onboarding.bureaus")}</label><select id="admin_bureau" class="bureau-select"></select></div>
    {_field(lang, "admin_login", "onboarding.admin_login", required="required")}
    <button type="submit">{_t(lang, "onboarding.submit")}</button>
  </form>
  <h2>{_t(lang, "onboarding.catalogue")}</h2>
  <div id="catalogue" class="scroll"></div>
</section>
<section class="card" aria-labelledby="school-title">
  <h2 id="school-title">{_t(lang, "onboarding.create_school")}</h2>
  <form id="school-form">
    <div class="field"><label for="school_bureau">{_t(lang, "onboarding.bureaus")}</label><select id="school_bureau" class="bureau-select"></select></div>
    {_field(lang, "school_code_new", "onboarding.school_code", required="required", maxlength="6")}
    {_field(lang, "school_name", "onboarding.name", required="required")}
    <div class="field"><label for="school_kind">{_t(lang, "onboarding.kind")}</label><select id="school_kind">{kinds}</select></div>
    <button type="submit">{_t(lang, "onboarding.submit")}</button>
  </form>
  <h2>{_t(lang, "onboarding.invite_staff")}</h2>
  <form id="staff-form">
    <div class="field"><label for="staff_school">{_t(lang, "onboarding.schools")}</label><select id="staff_school"></select></div>
    {_field(lang, "staff_login", "onboarding.staff_login", required="required")}
    {_field(lang, "staff_name", "onboarding.staff_name", required="required")}
    <button type="submit">{_t(lang, "onboarding.submit")}</button>
  </form>
  <p id="staff-result" role="status"></p>
  <h2>{_t(lang, "onboarding.schools")}</h2>
  <div id="school-list" class="scroll"></div>
</section>"""


def _imports(lang: str) -> str:
    kinds = "".join(f'<option value="{k.upper()}">{_t(lang, "imports.kind." + k)}</option>' for k in ("classes", "students", "teachers", "parents"))
    return f"""
<h1 id="page-title" tabindex="-1">{_t(lang, "imports.title")}</h1>
<p>{_t(lang, "imports.intro")}</p>
<section class="card" aria-labelledby="import-title">
  <h2 id="import-title">{_t(lang, "imports.title")}</h2>
  <form id="import-form">
    <div class="field"><label for="import_kind">{_t(lang, "imports.kind")}</label><select id="import_kind">{kinds}</select></div>
    {_field(lang, "import_file", "imports.file", "file", accept=".csv,text/csv", required="required")}
    <label class="inline"><input type="checkbox" id="import_dry_run" checked> {_t(lang, "imports.dry_run")}</label>
    <button type="submit">{_t(lang, "imports.submit")}</button>
  </form>
</section>
<section class="card" aria-labelledby="report-title" id="report-section" hidden>
  <h2 id="report-title" tabindex="-1">{_t(lang, "imports.report")}</h2>
  <div id="report"></div>
</section>"""


def _apps(lang: str) -> str:
    return f"""
<h1 id="page-title" tabindex="-1">{_t(lang, "apps.title")}</h1>
<section class="card" aria-labelledby="review-title" id="review-section" hidden>
  <h2 id="review-title">{_t(lang, "apps.review")}</h2>
  <p>{_t(lang, "apps.review_intro")}</p>
  <div id="secret-box" class="secret" hidden>
    <h3 id="secret-title" tabindex="-1"></h3>
    <p id="secret-client-id"></p>
    <div class="field" id="secret-field"><label for="client-secret">{_t(lang, "apps.secret")}</label>
      <input id="client-secret" type="text" readonly autocomplete="off" spellcheck="false" aria-describedby="secret-hint">
      <p class="hint" id="secret-hint">{_t(lang, "apps.secret_hint")}</p>
      <button type="button" id="copy-secret" class="secondary">{_t(lang, "apps.copy")}</button></div>
    <p id="secret-none" hidden>{_t(lang, "apps.no_secret")}</p>
  </div>
  <h3 id="pending-title" tabindex="-1">{_t(lang, "apps.pending")}</h3>
  <div id="pending" aria-labelledby="pending-title" aria-busy="true"></div>
  <h3 id="approved-title" tabindex="-1">{_t(lang, "apps.decided")}</h3>
  <div id="approved" aria-labelledby="approved-title" aria-busy="true"></div>
</section>
<section class="card" aria-labelledby="connected-title">
  <h2 id="connected-title" tabindex="-1">{_t(lang, "connected.title")}</h2>
  <p>{_t(lang, "connected.intro")}</p>
  <div id="connected" aria-busy="true"></div>
</section>"""


PAGES = {"plugins": "nav.plugins", "onboarding": "nav.onboarding", "imports": "nav.imports", "apps": "nav.apps"}


def render(page: str, lang: str, *, plugin_id: str | None = None, version: str = "") -> str:
    """A whole page: the shell, the page's static part, and the messages for the script."""
    body = {
        "plugins": lambda: _plugins(lang, plugin_id), "onboarding": lambda: _onboarding(lang),
        "imports": lambda: _imports(lang), "apps": lambda: _apps(lang),
    }[page]()  # fmt: skip
    other = "en" if lang == "zh-TW" else "zh-TW"
    current = ' aria-current="page"'
    nav = "".join(
        f'<li><a href="/console/{name}/"{current if name == page else ""}>{_t(lang, key)}</a></li>' for name, key in PAGES.items()
    )
    messages = json.dumps(MESSAGES[lang], ensure_ascii=False).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_t(lang, PAGES[page])} · {_t(lang, "app")}</title>
<link rel="stylesheet" href="/console/static/console.css?v={version}">
</head>
<body data-page="{page}" data-lang="{lang}">
<a class="skip" href="#main">{_t(lang, "skip")}</a>
<header>
  <p class="brand">{_t(lang, "app")}</p>
  <nav aria-label="{_t(lang, "nav")}"><ul>{nav}</ul></nav>
  <p class="who"><span id="who"></span>
    <a href="?lang={other}" lang="{other}" id="lang-switch">{_t(lang, "lang.switch")}</a>
    <button type="button" id="signout" class="link" hidden>{_t(lang, "signout")}</button></p>
</header>
<main id="main">
<div id="status" role="status" aria-live="polite"></div>
<div id="alert" role="alert"></div>
{_signin(lang)}
<div id="page" hidden>{body}</div>
</main>
<script type="application/json" id="messages">{messages}</script>
<script src="/console/static/console.js?v={version}" defer></script>
<script src="/console/static/{page}.js?v={version}" defer></script>
</body>
</html>
"""
