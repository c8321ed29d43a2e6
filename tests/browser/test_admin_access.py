"""The admin access pages in a real browser: a menu entry absent without permission, a plugin disabled
for a tenant vanishing, and a role made through the form that shapes a new member's menu."""

from __future__ import annotations

import re
import uuid

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def menu_keys(page) -> list[str]:
    return page.locator("#udyog-menu [data-menu-key]").evaluate_all("nodes => nodes.map(n => n.dataset.menuKey)")


def test_a_menu_entry_is_absent_for_a_role_without_permission(page, server, log_in):
    log_in(server.member)
    menu = page.locator("#udyog-menu")
    expect(menu.locator('[data-menu-key="core.home"]')).to_be_visible()
    expect(menu.locator('[data-menu-key="core.admin"]')).to_have_count(0)
    expect(menu.locator('[data-menu-key="core.users"]')).to_have_count(0)
    expect(menu.get_by_text("Administration")).to_have_count(0)
    response = page.goto("/core/users")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("Not allowed")
    expect(page.locator("main")).to_contain_text("core.user.read")


def test_a_plugin_disabled_for_a_tenant_vanishes(page, server, log_in):
    from udyog.tenancy import enable_plugins

    try:
        log_in(server.owner, "/core/plugins")
        expect(page.locator('#udyog-menu [data-menu-key="ledger.vouchers"]')).to_be_visible()
        expect(page.locator('tr[data-plugin="ledger"]')).to_have_attribute("data-enabled", "yes")
        page.locator("#disable-ledger").click()
        expect(page.get_by_role("heading", name="Disable ledger for this organisation?")).to_be_visible()
        expect(page.locator("#udyog-breadcrumbs")).to_contain_text("Plugins")
        page.locator("#plugin-confirm-form").get_by_role("button", name="Disable").click()
        expect(page).to_have_url(re.compile(r"/core/plugins$"))
        expect(page.locator("#udyog-flash")).to_contain_text("Disabled for this organisation: ledger.")
        expect(page.locator('tr[data-plugin="ledger"]')).to_have_attribute("data-enabled", "no")
        expect(page.locator('#udyog-menu [data-menu-key="ledger.vouchers"]')).to_have_count(0)
        response = page.goto("/ledger/vouchers")
        assert response is not None and response.status == 404
        expect(page.locator("main")).to_contain_text("Page not found")

        # And back, through the page.
        page.goto("/core/plugins")
        page.locator("#enable-ledger").click()
        page.locator("#plugin-confirm-form").get_by_role("button", name="Enable").click()
        expect(page.locator("#udyog-flash")).to_contain_text("Enabled for this organisation: ledger.")
        expect(page.locator('#udyog-menu [data-menu-key="ledger.vouchers"]')).to_be_visible()
    finally:
        enable_plugins(server.kernel, "acme", ["ledger"])  # other browser tests use the ledger


def test_a_role_made_through_the_form_gives_a_new_member_exactly_its_menu_entry(page, server, log_in):
    suffix = uuid.uuid4().hex[:6]
    role = f"Voucher Reader {suffix}"
    email = f"reader-{suffix}@acme.test"
    log_in(server.owner, "/core/roles")
    page.locator("#new-role").click()
    page.fill("#field-name", role)
    page.fill("#field-description", "Sees the vouchers, nothing else")
    page.check("#perm-ledger\\.voucher\\.read")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Role {role} created.")
    expect(page.locator("#perm-ledger\\.voucher\\.read")).to_be_checked()

    page.goto("/core/users")
    page.locator("#add-member").click()
    page.fill("#field-email", email)
    page.fill("#field-name", f"Rita {suffix}")
    page.fill("#field-password", server.password)
    page.locator("#member-form").get_by_label(role).check()
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Rita {suffix} was added.")
    expect(page.locator("#member-form").get_by_label(role)).to_be_checked()

    page.context.clear_cookies()
    log_in(email)
    assert sorted(menu_keys(page)) == ["core.home", "ledger.vouchers"]
    page.locator('#udyog-menu [data-menu-key="ledger.vouchers"] a').first.click()
    expect(page).to_have_url(re.compile(r"/ledger/vouchers"))
    response = page.goto("/core/users")
    assert response is not None and response.status == 403
