"""The administration setup pages in a real browser: the number-series preview, a branch, the audit log."""

from __future__ import annotations

import re
import uuid

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

CSP_WATCH = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def test_the_series_preview_follows_the_typing(page, server, log_in):
    page.add_init_script(CSP_WATCH)
    log_in(server.owner, "/core/series")
    page.locator("#series-table").get_by_role("link", name="Voucher", exact=True).click()
    expect(page).to_have_url(re.compile(r"/core/series/ledger\.voucher$"))
    number = page.locator("#series-preview-number")
    problems = page.locator("#series-preview-problems li")
    expect(number).to_have_text(re.compile(r"^V-\d{4}$"))
    expect(problems).to_have_count(0)
    url = page.url
    pattern = page.locator("#field-pattern")
    pattern.fill("")
    pattern.press_sequentially("LV/{seq:05}", delay=20)
    expect(number).to_have_text(re.compile(r"^LV/\d{5}$"))  # asked of the API while typing, no reload
    expect(page.locator("#series-preview-ok")).to_be_visible()
    pattern.fill("")
    pattern.press_sequentially("VOUCHER-{FY}-{seq:06}", delay=10)
    expect(problems.first).to_contain_text("at most 16 are allowed")
    expect(page.locator("#series-preview-ok")).to_be_hidden()
    expect(page.locator("#series-preview-length")).to_contain_text("characters")
    assert page.url == url
    # Without the script's help, the Preview button shows the same (the page comes back with it).
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#series-preview-problems li").first).to_contain_text("at most 16 are allowed")
    expect(page.locator("#field-pattern")).to_have_value("VOUCHER-{FY}-{seq:06}")
    assert page.evaluate("window.__csp") == []


def test_a_branch_made_through_the_form_shows_in_the_audit_log(page, server, log_in):
    code = "AS" + uuid.uuid4().hex[:6].upper()
    log_in(server.owner, "/core/branches")
    page.get_by_role("link", name="New branch").click()
    page.fill("#field-code", code)
    page.fill("#field-name", f"Setup test {code}")
    page.fill("#field-state_code", "2")
    page.get_by_role("button", name="Create").click()
    expect(page.locator('[data-error-for="state_code"]')).to_contain_text("two digits")
    page.fill("#field-state_code", "27")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Branch {code} created.")
    expect(page.locator(f'tr[data-branch="{code}"]')).to_contain_text(f"Setup test {code}")
    page.goto("/core/audit")
    page.select_option("#filter-entity", "core_branch")
    page.select_option("#filter-action", "insert")
    page.get_by_role("button", name="Filter").click()
    entry = page.locator('[data-change="insert"]', has=page.locator('tr[data-field="code"]', has_text=code))
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Asha Owner")
    expect(entry.locator('tr[data-field="name"]')).to_contain_text(f"Setup test {code}")
