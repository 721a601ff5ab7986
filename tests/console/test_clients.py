"""In a real browser: a bureau admin approves a developer's application (the secret shown once),
rejects another with a reason and suspends the approved one; a person disconnects a connected app on a phone."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from playwright.async_api import expect

from tests.console.conftest import shot
from tests.console.server import PASSWORD
from tests.console.test_browser import sign_in

REDIRECT = "https://app.example.org/callback"


class Api:
    """GraphQL and the OAuth endpoints of the console server, as a developer's or a person's program would call them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token = ""

    async def ok(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        assert not body.get("errors"), body
        return body["data"]

    async def sign_in(self, login: str) -> None:
        self.token = ""
        data = await self.ok("mutation($l: String!, $p: String!) { signIn(login: $l, password: $p) { accessToken } }", l=login, p=PASSWORD)
        self.token = data["signIn"]["accessToken"]

    async def apply(self, name: str) -> str:
        """staff-a applies, as any developer would, for a vendor app serving the Taipei bureau."""
        await self.sign_in("staff-a")
        bureau = (await self.ok("{ viewer { school { bureau { id } } } }"))["viewer"]["school"]["bureau"]["id"]
        data = await self.ok(
            "mutation($i: OAuthClientApplicationInput!) { applyForOauthClient(input: $i) { id status } }",
            i={"bureauId": bureau, "organisation": "好學科技", "name": name, "purpose": "讓學生在手機上查看學習歷程",
               "redirectUris": [REDIRECT], "kind": "VENDOR", "scopes": ["profile"]},
        )  # fmt: skip
        assert data["applyForOauthClient"]["status"] == "PENDING"
        return data["applyForOauthClient"]["id"]

    async def connect(self, client_id: str, secret: str | None, login: str = "staff-a") -> dict[str, Any]:
        """The person allows the app on the consent page; the app exchanges the code (with its secret)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        url = "/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "profile",
            "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
        })  # fmt: skip
        page = await self.http.get(url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        allowed = await self.http.post(url, data={"csrf_token": csrf.group(1), "decision": "allow", "login": login, "password": PASSWORD})
        assert allowed.status_code == 302, allowed.text
        code = parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
        auth = (client_id, secret) if secret else httpx.USE_CLIENT_DEFAULT
        response = await self.http.post("/oauth/token", data=form, auth=auth)
        assert response.status_code == 200, response.text
        return response.json()


def _api(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=30)


async def test_a_bureau_admin_approves_with_the_secret_shown_once_rejects_and_suspends(page: Any, console_server: str) -> None:
    async with _api(console_server) as http:
        api = Api(http)
        wanted = await api.apply("學習歷程小幫手")
        doubtful = await api.apply("來路不明的應用程式")

        await sign_in(page, console_server, "tpe-admin", "/console/apps/")
        await expect(page.get_by_role("heading", name="應用程式審核")).to_be_visible()
        pending = page.locator("#pending")
        item = pending.get_by_role("article", name="學習歷程小幫手")
        await expect(item).to_contain_text("你的姓名、帳號與所屬學校")
        await expect(item).to_contain_text(REDIRECT)
        await item.get_by_role("button", name="核准").click()

        box = page.locator("#secret-box")
        await expect(box.get_by_role("heading")).to_have_text("已核准「學習歷程小幫手」：請交付以下資料給申請者")
        await expect(box.get_by_role("heading")).to_be_focused()
        await expect(box).to_contain_text("只會顯示這一次")
        secret = await page.get_by_label("用戶端密鑰").input_value()
        client_id = (await box.locator("#secret-client-id code").text_content() or "").strip()
        assert len(secret) >= 40 and client_id.startswith("lc_")
        await box.get_by_role("button", name="複製密鑰").click()
        await expect(page.locator("#status")).to_have_text(re.compile("已複製到剪貼簿|已選取密鑰"))
        await expect(page.locator("#approved").get_by_role("article", name=re.compile("學習歷程小幫手"))).to_contain_text(client_id)
        await expect(pending).not_to_contain_text("學習歷程小幫手")
        await page.screenshot(path=shot("clients-approved-secret"), full_page=True)

        # Reject with the keyboard only: open the disclosure, type the reason, press Enter.
        other = pending.get_by_role("article", name="來路不明的應用程式")
        await other.get_by_text("拒絕…").focus()
        await page.keyboard.press("Enter")
        reason = other.get_by_label("拒絕理由")
        await reason.press("Enter")
        await expect(other.locator(".error")).to_have_text("請填寫理由")
        await expect(reason).to_be_focused()
        await reason.fill("用途說明不足")
        await reason.press("Enter")
        await expect(page.locator("#status")).to_have_text("已拒絕「來路不明的應用程式」")
        await expect(pending).to_contain_text("目前沒有待審核的申請")

        # The secret is gone once the page is left, and it works for the app.
        await page.reload()
        await expect(page.locator("#approved")).to_contain_text(client_id)
        await expect(page.locator("#secret-box")).to_be_hidden()
        assert secret not in await page.content()
        tokens = await api.connect(client_id, secret)

        suspend = page.locator("#approved").get_by_role("article", name=re.compile("學習歷程小幫手"))
        await suspend.get_by_text("停權…").click()
        await suspend.get_by_label("停權理由").fill("資安事件調查中")
        await suspend.get_by_role("button", name="確認停權").click()
        await expect(page.locator("#status")).to_contain_text("已停權「學習歷程小幫手」")
        await expect(page.locator("#approved")).to_contain_text("目前沒有已核准的應用程式")

        await api.sign_in("tpe-admin")
        rows = {e["node"]["id"]: e["node"] for e in (await api.ok("{ oauthClients(first: 100) { edges { node { id status reason } } } }"))["oauthClients"]["edges"]}
        assert rows[wanted]["status"] == "SUSPENDED" and rows[wanted]["reason"] == "資安事件調查中"
        assert rows[doubtful] == {"id": doubtful, "status": "REJECTED", "reason": "用途說明不足"}
        refreshed = await http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=(client_id, secret))
        assert refreshed.status_code in (400, 401)


async def test_a_person_disconnects_a_connected_app_on_a_phone(browser: Any, console_server: str) -> None:
    async with _api(console_server) as http:
        api = Api(http)
        applied = await api.apply("作業提醒")
        await api.sign_in("tpe-admin")
        approved = (await api.ok("mutation($id: ID!) { approveOauthClient(id: $id) { clientSecret client { clientId } } }", id=applied))["approveOauthClient"]
        tokens = await api.connect(approved["client"]["clientId"], approved["clientSecret"])

        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-TW")
        page = await context.new_page()
        page.set_default_timeout(15_000)
        try:
            await sign_in(page, console_server, "staff-a", "/console/apps/")
            await expect(page.get_by_role("heading", name="已連結的應用程式")).to_be_visible()
            await expect(page.locator("#review-section")).to_be_hidden()  # not a bureau admin
            app = page.locator("#connected").get_by_role("article", name="作業提醒")
            await expect(app).to_contain_text("你的姓名、帳號與所屬學校")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
            await page.screenshot(path=shot("connected-apps-phone"), full_page=True)

            await app.get_by_role("button", name="中斷與「作業提醒」的連結").click()
            await expect(page.locator("#status")).to_have_text("已中斷與「作業提醒」的連結")
            await expect(page.locator("#connected")).not_to_contain_text("作業提醒")
            await expect(page.get_by_role("heading", name="已連結的應用程式")).to_be_focused()
            await page.screenshot(path=shot("connected-apps-revoked-phone"), full_page=True)
        finally:
            await context.close()

        await api.sign_in("staff-a")
        assert all(a["client"]["name"] != "作業提醒" for a in (await api.ok("{ connectedApps { client { name } } }"))["connectedApps"])
        refreshed = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(approved["client"]["clientId"], approved["clientSecret"]),
        )  # fmt: skip
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
