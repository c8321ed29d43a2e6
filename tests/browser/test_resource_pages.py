"""Declared resources through their generic pages in a real browser: list, new, detail, edit, cancel, delete."""

from __future__ import annotations

import re

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_a_voucher_from_the_list_to_new_detail_edit_and_cancel(page, server, log_in):
    log_in(server.owner)
    page.locator('#udyog-menu [data-menu-key="ledger.vouchers"] a').click()
    expect(page).to_have_url(re.compile(r"/ledger/vouchers$"))
    page.locator("#resource-new").click()
    page.fill("#field-party", "Kaveri Distributors")
    page.fill("#field-amount", "1250.50")
    page.fill("#field-issued_on", "2026-04-02")
    page.get_by_role("button", name="Save").click()

    fields = page.locator("#resource-fields")
    expect(fields).to_contain_text("Kaveri Distributors")
    expect(fields).to_contain_text("1,250.50")  # decimals grouped in the tenant's locale (docs/locale.md)
    expect(page.locator("h1")).to_contain_text(re.compile(r"V-\d{4}"))  # numbered from the series
    number = re.search(r"V-\d{4}", page.locator("h1").inner_text()).group(0)

    page.locator("#resource-edit").click()
    expect(page.locator("#field-party")).to_have_value("Kaveri Distributors")
    page.fill("#field-party", "Kaveri Distributors Pvt Ltd")
    page.get_by_role("button", name="Save").click()
    expect(fields).to_contain_text("Kaveri Distributors Pvt Ltd")

    page.locator("#resource-cancel").click()
    page.get_by_role("button", name="Cancel voucher").click()
    expect(page.locator("#cancelled-badge")).to_be_visible()
    expect(page.locator("#resource-edit")).to_have_count(0)  # cancelled documents are not edited
    expect(page.locator("#resource-delete")).to_have_count(0)  # and never deleted

    page.get_by_role("link", name="Vouchers").first.click()
    row = page.locator("tr", has_text=number)
    expect(row).to_contain_text("Kaveri Distributors Pvt Ltd")


def test_validation_errors_are_shown_on_the_form(page, server, log_in):
    log_in(server.owner, "/ledger/vouchers/new")
    page.fill("#field-party", "")
    page.fill("#field-amount", "twelve")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#field-party")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#field-amount")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#field-amount ~ .invalid-feedback")).to_have_text("Not a valid number.")
    expect(page.locator("#field-issued_on ~ .invalid-feedback")).to_be_visible()
    expect(page.locator("#field-amount")).to_have_value("twelve")  # what was typed stays
    expect(page).to_have_url(re.compile(r"/ledger/vouchers/new$"))

    page.fill("#field-party", "Fixed Party")
    page.fill("#field-amount", "10")
    page.fill("#field-issued_on", "2026-04-03")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text("Fixed Party")


def test_a_note_is_deleted_after_confirmation(page, server, log_in):
    log_in(server.owner, "/notes/notes/new")
    page.fill("#field-title", "Delete me from the browser")
    page.fill("#field-body", "short lived")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text("Delete me from the browser")

    page.locator("#resource-delete").click()
    expect(page.locator("main")).to_contain_text("Delete me from the browser")
    page.get_by_role("button", name="Delete note").click()
    expect(page).to_have_url(re.compile(r"/notes/notes$"))
    expect(page.locator("#udyog-flash")).to_contain_text("Note Delete me from the browser deleted.")
    expect(page.locator("#resource-table")).not_to_contain_text("Delete me from the browser")
