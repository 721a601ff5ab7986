"""In a real browser: a bureau admin enables Taipei CoolCloud for two schools, lowers a cap,
previews who is affected, saves, and sees the audit entry; a bad value shows a field error."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.console.conftest import shot
from tests.console.server import PASSWORD, SCHOOLS

CAP = "每學期提交認證件數上限"


async def sign_in(page: Any, base: str, login: str, path: str = "/console/") -> None:
    await page.goto(base + path)
    form = page.locator("#signin-form")
    await form.get_by_label("帳號").fill(login)
    await form.get_by_label("密碼").fill(PASSWORD)
    await form.get_by_role("button", name="登入").click()
    await expect(page.locator("#who")).to_contain_text(login)


async def test_a_bureau_admin_enables_configures_previews_and_audits_a_plugin(page: Any, console_server: str) -> None:
    await sign_in(page, console_server, "tpe-admin")
    await expect(page.get_by_role("heading", name="外掛管理")).to_be_visible()
    await page.get_by_role("link", name=re.compile("臺北酷課雲")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("臺北酷課雲")

    await page.get_by_label("選定的學校").check()
    await page.get_by_label(re.compile(SCHOOLS[0][1])).check()
    await page.get_by_label(re.compile(SCHOOLS[1][1])).check()
    await page.get_by_role("button", name="儲存啟用範圍").click()
    await expect(page.locator("#status")).to_have_text("已儲存")
    await expect(page.locator("#audit")).to_contain_text("啟用外掛")

    await page.get_by_label(CAP).fill("9")
    await page.get_by_role("button", name="預覽影響").click()
    preview = page.locator("#preview")
    await expect(preview).to_contain_text(SCHOOLS[0][1])
    await expect(preview).to_contain_text(SCHOOLS[1][1])
    await expect(preview).not_to_contain_text(SCHOOLS[2][1])
    await expect(preview.get_by_role("row").filter(has_text=SCHOOLS[0][1]).filter(has_text=CAP)).to_contain_text("3 位")
    await expect(preview.get_by_role("row").filter(has_text=SCHOOLS[1][1]).filter(has_text=CAP)).to_contain_text("0 位")
    await page.screenshot(path=shot("plugin-preview"), full_page=True)

    await page.get_by_role("button", name="儲存設定").click()
    await expect(page.locator("#status")).to_have_text("已儲存")
    entry = page.locator("#audit").get_by_role("row").filter(has_text="變更教育局設定")
    await expect(entry).to_contain_text(CAP + ": 12 → 9")
    await expect(entry).to_contain_text("王科長")
    await expect(page.get_by_label(CAP)).to_have_value("9")
    await page.screenshot(path=shot("plugin-saved-audit"), full_page=True)


async def test_a_bad_setting_shows_a_field_error(page: Any, console_server: str) -> None:
    await sign_in(page, console_server, "tpe-admin", "/console/plugins/taipei_coolcloud")
    field = page.get_by_label(CAP)
    await field.fill("0")
    await page.get_by_role("button", name="儲存設定").click()
    error = page.locator('[data-field="outcomes_per_term"] .error')
    await expect(error).to_have_text("須大於或等於 1")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_be_focused()
    await page.screenshot(path=shot("plugin-field-error"), full_page=True)


async def test_the_console_works_in_english_on_a_phone(browser: Any, console_server: str) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    try:
        await page.goto(console_server + "/console/plugins/?lang=en")
        await page.get_by_label("Account").fill("tpe-admin")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_label("Password").press("Enter")
        await expect(page.get_by_role("heading", name="Plugins")).to_be_visible()
        await expect(page.get_by_role("link", name=re.compile("Taipei CoolCloud"))).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        await page.screenshot(path=shot("plugins-phone-en"), full_page=True)
    finally:
        await context.close()


async def test_staff_import_a_csv_and_see_the_error_report(page: Any, console_server: str, tmp_path) -> None:
    csv = tmp_path / "classes.csv"
    csv.write_text("code,name,grade\n101,一年一班,10\n102,,13\n", encoding="utf-8")
    await sign_in(page, console_server, "staff-a", "/console/imports/")
    await page.get_by_label("匯入類別").select_option("CLASSES")
    await page.get_by_label("CSV 檔案").set_input_files(str(csv))
    await page.get_by_role("button", name="上傳").click()
    report = page.locator("#report")
    await expect(report).to_contain_text("錯誤")
    await expect(report.get_by_role("row").filter(has_text="3")).not_to_have_count(0)
    await page.screenshot(path=shot("imports-error-report"), full_page=True)


async def test_a_platform_admin_onboards_a_bureau_and_a_school(page: Any, console_server: str) -> None:
    await sign_in(page, console_server, "platform", "/console/onboarding/")
    await page.get_by_label("代碼", exact=True).fill("ntpc")
    await page.get_by_label("名稱", exact=True).first.fill("新北市政府教育局")
    await page.locator("#bureau-form").get_by_role("button", name="送出").click()
    await expect(page.locator("#status")).to_have_text("已建立")
    await page.locator("#school_bureau").select_option(label="新北市政府教育局 (ntpc)")
    await page.get_by_label("學校代碼（6 碼）").fill("014301")
    await page.locator("#school_name").fill("新北市立測試高中")
    await page.locator("#school-form").get_by_role("button", name="送出").click()
    await expect(page.locator("#school-list")).to_contain_text("新北市立測試高中")
    await expect(page.locator("#catalogue")).to_contain_text("臺北酷課雲")
    await page.screenshot(path=shot("onboarding"), full_page=True)
