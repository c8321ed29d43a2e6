"""Everyday record work in a real browser: a version conflict, a CSV import's error report, one tenant's data only.

Also proves the suite's own safety net: a failed test leaves a screenshot.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from udyog.testing import save_screenshots

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _new_voucher(page, party: str, amount: str = "500") -> str:
    """Create a voucher through the form; returns the detail page's path."""
    page.goto("/ledger/vouchers/new")
    page.fill("#field-party", party)
    page.fill("#field-amount", amount)
    page.fill("#field-issued_on", "2026-05-04")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text(party)
    return re.sub(r"^https?://[^/]+", "", page.url)


def test_a_version_conflict_is_explained_and_nothing_is_overwritten(page, server, log_in):
    log_in(server.owner)
    party = f"Conflict Traders {uuid.uuid4().hex[:6]}"
    detail = _new_voucher(page, party)

    mine = page
    theirs = page.context.new_page()  # the same user in a second tab
    mine.goto(f"{detail}/edit")
    theirs.goto(f"{detail}/edit")
    theirs.fill("#field-party", f"{party} (their change)")
    theirs.get_by_role("button", name="Save").click()
    expect(theirs.locator("#resource-fields")).to_contain_text(f"{party} (their change)")

    mine.fill("#field-party", f"{party} (my change)")
    mine.get_by_role("button", name="Save").click()
    conflict = mine.locator("#version-conflict")
    expect(conflict).to_contain_text("was changed by someone else since you opened it")
    expect(mine.locator("#field-party")).to_have_value(f"{party} (my change)")  # the typed text is kept

    mine.goto(detail)  # the other change stands: the stale form wrote nothing
    expect(mine.locator("#resource-fields")).to_contain_text(f"{party} (their change)")
    expect(mine.locator("#resource-fields")).not_to_contain_text("(my change)")

    mine.goto(f"{detail}/edit")  # reloading the form takes the new version: now the change saves
    mine.fill("#field-party", f"{party} (my change)")
    mine.get_by_role("button", name="Save").click()
    expect(mine.locator("#resource-fields")).to_contain_text(f"{party} (my change)")


def test_a_csv_import_reports_each_bad_row_and_imports_nothing_until_it_is_fixed(page, server, log_in, tmp_path):
    tag = uuid.uuid4().hex[:6]
    bad = tmp_path / "vouchers.csv"
    bad.write_text(
        "Party,Amount,Issued on\n"
        f"Import Good {tag},100.00,2026-04-01\n"
        f"Import Bad Amount {tag},abc,2026-04-02\n"
        f",25,2026-04-03\n",
        encoding="utf-8",
    )
    log_in(server.owner, "/ledger/vouchers")
    page.locator("#resource-import").click()
    expect(page).to_have_url(re.compile(r"/ledger/vouchers/import$"))
    page.set_input_files("#import-file", str(bad))
    page.get_by_role("button", name="Upload").click()

    expect(page.locator("#import-refused")).to_contain_text("2 of 3 rows have 2 errors")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(page.locator('#import-errors tr[data-row="3"]')).to_contain_text("Amount")
    expect(page.locator('#import-errors tr[data-row="3"]')).to_contain_text("Not a valid number.")
    expect(page.locator('#import-errors tr[data-row="4"]')).to_contain_text("Party")

    page.goto(f"/ledger/vouchers?party=Import Good {tag}")
    expect(page.locator("#resource-table")).not_to_contain_text(f"Import Good {tag}")  # all or nothing

    good = tmp_path / "vouchers-fixed.csv"
    good.write_text(
        f"Party,Amount,Issued on\nImport Good {tag},100.00,2026-04-01\nImport Fixed {tag},25.50,02/04/2026\n",
        encoding="utf-8",
    )
    page.goto("/ledger/vouchers/import")
    page.set_input_files("#import-file", str(good))
    page.get_by_role("button", name="Upload").click()
    # Imported: the browser lands on the list, which says so (a reload imports nothing twice).
    expect(page.locator("#udyog-flash")).to_contain_text("Imported 2 vouchers.")
    expect(page).to_have_url(re.compile(r"/ledger/vouchers$"))
    table = page.locator("#resource-table")
    expect(table).to_contain_text(f"Import Good {tag}")
    expect(table).to_contain_text(f"Import Fixed {tag}")


def test_after_a_tenant_switch_only_the_other_companys_data_is_shown(page, server, log_in):
    tag = uuid.uuid4().hex[:6]
    log_in(server.owner, "/notes/notebooks/new")
    page.fill("#field-title", f"Acme book {tag}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text(f"Acme book {tag}")
    acme_detail = re.sub(r"^https?://[^/]+", "", page.url)

    page.locator("#udyog-tenant-switcher .dropdown-toggle").click()
    page.locator("#udyog-tenant-switcher").get_by_role("button", name="Zenith Traders").click()
    expect(page.locator("#tenant-name")).to_have_text("Zenith Traders")
    page.goto("/notes/notebooks/new")
    page.fill("#field-title", f"Zenith book {tag}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text(f"Zenith book {tag}")

    page.goto("/notes/notebooks")
    table = page.locator("#resource-table")
    expect(table).to_contain_text(f"Zenith book {tag}")
    expect(table).not_to_contain_text(f"Acme book {tag}")
    page.goto(acme_detail)  # Acme's record, by its address, from Zenith: not there
    expect(page.locator("main")).to_contain_text("Page not found")

    page.goto("/")
    page.wait_for_load_state("load")
    page.locator("#udyog-tenant-switcher .dropdown-toggle").click()
    page.locator("#udyog-tenant-switcher").get_by_role("button", name="Acme Foods").click()
    expect(page.locator("#tenant-name")).to_have_text("Acme Foods")
    page.goto("/notes/notebooks")
    expect(table).to_contain_text(f"Acme book {tag}")
    expect(table).not_to_contain_text(f"Zenith book {tag}")


def test_a_failed_test_leaves_a_screenshot_of_its_pages(page, server, log_in, tmp_path):
    log_in(server.owner)
    node = SimpleNamespace(nodeid="tests/browser/test_x.py::test_y[phone]")

    node.udyog_report_call = SimpleNamespace(failed=False)
    assert save_screenshots(node, [page], tmp_path) == []  # a passing test leaves nothing

    node.udyog_report_call = SimpleNamespace(failed=True)
    saved = save_screenshots(node, [page], tmp_path)
    assert saved == [tmp_path / "test_x__test_y_phone_.png"]
    assert Path(saved[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
