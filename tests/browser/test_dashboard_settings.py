"""The dashboard's widgets and the settings form in a real browser."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def api(server):
    token = requests.post(
        f"{server.url}/api/v1/auth/login", json={"email": server.owner, "password": server.password}, timeout=10
    ).json()["data"]["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_the_dashboard_shows_the_widgets_each_user_may_see(page, server, log_in):
    owner = api(server)
    for party in ("Widget Party A", "Widget Party B"):
        made = owner.post(
            f"{server.url}/api/v1/ledger/vouchers",
            json={"party": party, "amount": "10.00", "issued_on": "2026-05-01"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
    made = owner.post(  # this month: a bar of the chart that is not flat
        f"{server.url}/api/v1/ledger/vouchers",
        json={"party": "Widget Party C", "amount": "1200.00", "issued_on": dt.date.today().isoformat()},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    # Record what the Content-Security-Policy refuses (an inline style in the SVG would be), from the first byte.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    log_in(server.owner)
    dashboard = page.locator("#dashboard")
    keys = ("core.notifications", "ledger.vouchers", "ledger.recent", "ledger.review", "ledger.by_month")
    for key in (*keys, "core.failed_jobs"):
        expect(dashboard.locator(f'[data-widget="{key}"]')).to_be_visible()
    expect(dashboard.locator("[data-widget-unavailable]")).to_have_count(0)
    count = dashboard.locator('[data-widget="ledger.vouchers"] [data-widget-value]')
    expect(count).to_have_text(re.compile(r"^\d+$"))
    assert int(count.inner_text()) >= 2
    expect(dashboard.locator('[data-widget="ledger.recent"]')).to_contain_text("Widget Party B")
    chart = dashboard.locator('[data-widget="ledger.by_month"] svg[role="img"]')
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 80, box  # scaled to the card by its viewBox
    bars = chart.locator("rect[data-chart-bar]")
    expect(bars).to_have_count(6)
    assert max(bar.bounding_box()["height"] for bar in bars.all()) > 20  # this month's bar is drawn
    fill = chart.locator("[data-chart-series]").evaluate("g => getComputedStyle(g).fill")
    assert fill not in ("", "none", "rgb(0, 0, 0)"), fill  # the theme's colour (currentColor of text-primary)
    table = dashboard.locator('[data-widget="ledger.by_month"] [data-chart-table]')
    expect(table.locator("table tbody tr")).to_have_count(6)
    assert table.bounding_box()["width"] <= 1, "the data table is only for screen readers"
    expect(page.get_by_role("img", name="Voucher amounts by month")).to_be_visible()
    assert page.evaluate("window.__csp") == []
    count.click()  # the counter links to the list
    expect(page).to_have_url(re.compile(r"/ledger/vouchers$"))

    page.wait_for_load_state("load")
    page.locator("#udyog-user-menu .dropdown-toggle").click()
    page.get_by_role("button", name="Log out").click()
    log_in(server.member)
    expect(page.locator("#dashboard [data-widget]")).to_have_count(1)  # only what a Member may see
    expect(page.locator('#dashboard [data-widget="core.notifications"]')).to_be_visible()


def test_the_settings_form_validates_saves_and_changes_the_dashboard(page, server, log_in):
    owner = api(server)
    for n in range(6):  # more than the default of 5 recent ones
        made = owner.post(
            f"{server.url}/api/v1/ledger/vouchers",
            json={"party": f"Setting Party {n}", "amount": "10.00", "issued_on": "2026-06-01"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
    log_in(server.owner)
    page.wait_for_load_state("load")
    page.locator('#udyog-menu [data-menu-key="core.admin"] > .dropdown-toggle').click()
    page.locator("#udyog-menu").get_by_role("link", name="Settings").click()
    expect(page.locator("#settings-sections [data-settings-plugin]")).to_have_count(2)
    page.locator('[data-settings-plugin="ledger"]').click()
    expect(page.get_by_role("heading", name="Ledger")).to_be_visible()
    expect(page.locator("#field-recent_count")).to_have_value("5")

    page.fill("#field-recent_count", "25")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-recent_count")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#field-recent_count ~ .invalid-feedback")).to_contain_text("less than or equal to 20")
    expect(page.locator("#field-recent_count")).to_have_value("25")

    page.fill("#field-recent_count", "1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-saved")).to_have_text("Settings saved.")
    expect(page.locator("#field-recent_count")).to_have_value("1")
    expect(page.locator('[data-setting="recent_count"]')).to_have_attribute("data-stored", "")

    page.goto("/")
    recent = page.locator('[data-widget="ledger.recent"] [data-widget-list] li')
    expect(recent).to_have_count(1)  # the plugin read the new setting at once

    page.goto("/core/settings/ledger")
    page.get_by_role("button", name=re.compile("Reset every setting")).click()
    expect(page.locator("#settings-reset")).to_be_visible()
    expect(page.locator("#field-recent_count")).to_have_value("5")
    page.goto("/")
    expect(recent).to_have_count(5)
