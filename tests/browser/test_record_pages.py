"""A record's detail page and the shell around it, in a real browser: files, search, the password page."""

from __future__ import annotations

import re
import uuid

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_a_file_uploaded_on_the_detail_page_is_listed_and_downloads(page, server, log_in):
    title = f"Board meeting {uuid.uuid4().hex[:8]}"
    log_in(server.owner, "/notes/notes/new")
    page.fill("#field-title", title)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Note {title} created.")
    expect(page.locator("#udyog-breadcrumbs")).to_contain_text(title)
    expect(page.locator("#attachment-table")).to_contain_text("No files attached.")

    page.set_input_files(
        "#attachment-file",
        files=[{"name": "minutes.txt", "mimeType": "text/plain", "buffer": b"Agreed: ship on Friday.\n"}],
    )
    page.locator("#attachment-upload").get_by_role("button", name="Upload").click()
    expect(page.locator("#udyog-flash")).to_contain_text("File minutes.txt attached")
    row = page.locator("#attachment-table tr", has_text="minutes.txt")
    expect(row).to_contain_text("24 bytes")
    expect(row).to_contain_text("Asha Owner")

    with page.expect_download() as download:
        row.get_by_role("link", name="minutes.txt").click()
    assert download.value.suggested_filename == "minutes.txt"
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == b"Agreed: ship on Friday.\n"

    # The history shows who created it.
    expect(page.locator("#history")).to_contain_text("Created")
    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete file").click()
    expect(page.locator("#udyog-flash")).to_contain_text("File minutes.txt deleted")
    expect(page.locator("#attachment-table")).to_contain_text("No files attached.")


def test_a_list_is_searched_with_its_filters(page, server, log_in):
    tag = uuid.uuid4().hex[:8]
    log_in(server.owner, "/ledger/vouchers/new")
    for party in (f"Search {tag} 50% Traders", f"Search {tag} 500 Traders"):
        page.goto("/ledger/vouchers/new")
        page.fill("#field-party", party)
        page.fill("#field-amount", "10")
        page.fill("#field-issued_on", "2026-04-03")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#udyog-flash")).to_contain_text("created.")

    page.goto("/ledger/vouchers")
    page.fill("#resource-search", f"{tag} 50%")
    page.locator("#resource-filters").get_by_role("button", name="Apply").click()
    rows = page.locator("#resource-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"Search {tag} 50% Traders")
    expect(page.locator("#resource-search")).to_have_value(f"{tag} 50%")

    page.fill("#resource-search", tag.upper())  # case does not matter
    page.locator("#resource-filters").get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)


def test_a_member_changes_their_password_and_logs_in_with_it(page, server, log_in):
    from udyog.testing import create_member

    email = f"pw-{uuid.uuid4().hex[:8]}@acme.test"
    create_member(server.kernel, "acme", email, roles=("Member",), name="Pia Password")
    new_password = "a brand new passphrase 2026"
    log_in(email)

    page.locator("#udyog-user-menu .dropdown-toggle").click()
    page.locator("#udyog-change-password").click()
    expect(page).to_have_url(re.compile(r"/core/account/password$"))

    page.fill("#field-current_password", "not the password")
    page.fill("#field-new_password", new_password)
    page.fill("#field-new_password_repeat", new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#field-current_password")).to_have_class(re.compile(r"\bis-invalid\b"))

    page.fill("#field-current_password", server.password)
    page.fill("#field-new_password", new_password)
    page.fill("#field-new_password_repeat", new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#udyog-flash")).to_contain_text("Your password was changed.")

    page.locator("#udyog-user-menu .dropdown-toggle").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#email")).to_be_visible()
    page.fill("#email", email)
    page.fill("#password", server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".alert")).to_contain_text("Invalid e-mail or password.")
    page.fill("#email", email)
    page.fill("#password", new_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#udyog-user-menu")).to_contain_text("Pia Password")
