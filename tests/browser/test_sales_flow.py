"""Issue 7's order-to-invoice flow through the web UI, in a real browser against ``udyog run``.

A tenant with crm, inventory and sales enabled (a server of this module's own:
the suite's shared server runs notes and ledger only). As its Owner, through
the pages only: set up a branch, unit, warehouse and product, receive stock,
create a customer with sales terms, quote and convert (or order directly),
confirm, deliver, invoice, and pay; the credit-limit refusal; a deal moved on
the kanban without script; a GPS check-in on a phone.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from udyog.testing import TEST_PASSWORD, build_kernel, create_member, free_port, served_process

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

PLUGINS = ["crm", "inventory", "sales"]
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class SalesServer:
    """``udyog run`` over a database whose tenant *Bharat Sales* has crm, inventory and sales."""

    url: str
    kernel: Any
    log: Path
    executive_id: str
    owner: str = "owner@bharat.test"
    executive: str = "executive@bharat.test"
    password: str = TEST_PASSWORD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesServer]:
    """This module's server (overrides the suite's ``server``, so ``page`` and ``log_in`` use it)."""
    root = tmp_path_factory.mktemp("sales-browser")
    database = f"sqlite:///{root / 'udyog.db'}"
    kernel = build_kernel(database, PLUGINS, data_dir=str(root))
    from udyog.tenancy import create_tenant

    create_tenant(kernel, "bharat", "Bharat Sales", plugins=PLUGINS)
    create_member(kernel, "bharat", "owner@bharat.test", roles=("Owner",), name="Bela Owner")
    executive = create_member(kernel, "bharat", "executive@bharat.test", roles=("Sales Executive",), name="Esha Exec")
    plugins = root / "plugins.toml"
    plugins.write_text(f"[deployment]\nenabled = {PLUGINS!r}\nstrict = true\n".replace("'", '"'))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_")}
    env.update(UDYOG_DATABASE_URL=database, UDYOG_DATA_DIR=str(root), UDYOG_PLUGINS_FILE=str(plugins))
    log = root / "server.log"
    command = [sys.executable, "-m", "udyog.cli", "run", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    try:
        with served_process(command, port=port, env=env, log=log) as url:
            yield SalesServer(url, kernel, log, str(executive))
    finally:
        kernel.close()


# -- small helpers over the generic pages -------------------------------------------------


def _record_id(page: Any) -> str:
    """The id in the current detail page's address."""
    found = re.search(rf"/({UUID_RE})(?:$|[/?#])", page.url)
    assert found, f"not on a record's page: {page.url}"
    return found.group(1)


def _field(page: Any, label: str) -> Any:
    """The value cell of ``label`` on a generic detail page."""
    term = page.locator("#resource-fields dt").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return term.locator("xpath=following-sibling::dd[1]")


def _save(page: Any) -> None:
    """Submit the generic resource form and wait for the record's detail page."""
    page.locator("#resource-form").get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_be_visible()


def _number(text: str) -> str:
    """A decimal as shown, without grouping or trailing zeros ("1,00,000.00" → "100000", "7.000" → "7")."""
    plain = text.strip().replace(",", "").removeprefix("₹").strip()
    return re.sub(r"\.?0+$", "", plain) if "." in plain else plain


def _amount(page: Any, label: str) -> str:
    """The number a detail page shows for ``label`` (amounts are shown with Indian grouping: 1,00,000.00)."""
    cell = _field(page, label)
    expect(cell).to_be_visible()
    return _number(cell.inner_text())


@dataclass
class Stock:
    """What a test set up in inventory: names as the forms show them, and ids."""

    tag: str
    warehouse: str
    warehouse_id: str
    product: str
    product_id: str
    sku: str


def _set_up_stock(page: Any, tag: str, *, price: str, quantity: str) -> Stock:
    """A branch, a unit, a warehouse and a product through their forms, then a receipt of ``quantity``."""
    branch = f"Branch {tag}"
    page.goto("/core/branches/new")
    page.fill("#field-code", f"B{tag}")
    page.fill("#field-name", branch)
    page.fill("#field-state_code", "27")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Branch B{tag} created.")

    unit = f"Box {tag}"
    page.goto("/inventory/units/new")
    page.fill("#field-code", f"U{tag}")
    page.fill("#field-name", unit)
    _save(page)

    warehouse = f"Depot {tag}"
    page.goto("/inventory/warehouses/new")
    page.fill("#field-code", f"W{tag}")
    page.fill("#field-name", warehouse)
    page.select_option("#field-branch_id", label=branch)
    _save(page)
    warehouse_id = _record_id(page)

    sku, product = f"P{tag}", f"Ghee 1L {tag}"
    page.goto("/inventory/products/new")
    page.fill("#field-sku", sku)
    page.fill("#field-name", product)
    page.select_option("#field-unit_id", label=unit)
    page.fill("#field-price", price)
    page.fill("#field-cost", "100")
    _save(page)
    product_id = _record_id(page)

    page.goto("/inventory/receive")
    page.select_option("#field-product_id", label=f"{sku} — {product}")
    page.select_option("#field-warehouse_id", label=f"W{tag} — {warehouse}")
    page.fill("#field-quantity", quantity)
    page.fill("#field-unit_cost", "100")
    page.fill("#field-reference_number", f"GRN-{tag}")
    page.get_by_role("button", name=re.compile("Receive|Save")).click()
    expect(page.locator("#udyog-flash")).to_contain_text("Stock received.")
    expect(page).to_have_url(re.compile(r"/inventory/moves"))
    stock = Stock(tag, warehouse, warehouse_id, product, product_id, sku)
    assert _on_hand(page, stock) == quantity
    return stock


def _on_hand(page: Any, stock: Stock) -> str:
    """The product's stock on hand in the warehouse, read from the stock balances page (and the balance's page)."""
    page.goto(f"/inventory/balances?product_id={stock.product_id}&warehouse_id={stock.warehouse_id}")
    rows = page.locator("#resource-table tbody tr[data-id]")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").first.click()
    expect(page.locator("#resource-fields")).to_be_visible()
    return _amount(page, "On hand")


def _new_customer(page: Any, tag: str, *, margin: str = "", credit_limit: str = "", owner_id: str = "") -> str:
    """A customer through /crm/customers, with the sales terms sales contributes to its form; returns its name."""
    name = f"Kaveri Stores {tag}"
    page.goto("/crm/customers")
    page.locator("#resource-new").click()
    expect(page).to_have_url(re.compile(r"/crm/customers/new$"))
    page.fill("#field-code", f"C{tag}")
    page.fill("#field-name", name)
    page.fill("#field-billing_state_code", "27")
    page.fill("#field-credit_days", "15")
    page.get_by_label("Margin", exact=False).fill(margin)
    page.get_by_label("Credit limit", exact=False).fill(credit_limit)
    if owner_id:
        page.fill("#field-owner_id", owner_id)
    _save(page)
    expect(page.locator("h1")).to_contain_text(name)
    if margin:
        assert _amount(page, "Margin (%)") == margin
    if credit_limit:
        assert _amount(page, "Credit limit") == credit_limit
    return name


def _order_state(page: Any) -> Any:
    return _field(page, "State")


def _click_action(page: Any, action: str, label: str, flash: str) -> None:
    """Press an order page's action button (a POST form) and wait for the page it redirects back to."""
    form = page.locator(f"#order-{action}")
    expect(form).to_be_visible()
    with page.expect_navigation():
        form.get_by_role("button", name=label, exact=True).click()
    expect(page.locator("#udyog-flash")).to_contain_text(flash)


def _new_order(page: Any, customer: str, stock: Stock, quantity: str, owner_id: str = "") -> str:
    """A draft order through the new-order form's line rows; returns its number."""
    page.goto("/sales/orders")
    page.locator("#resource-new").click()
    expect(page).to_have_url(re.compile(r"/sales/orders/new$"))
    page.select_option("#field-customer_id", label=customer)
    page.select_option("#field-warehouse_id", label=stock.warehouse)
    if owner_id:
        page.fill("#field-owner_id", owner_id)
    page.select_option("[id='field-lines.0.product_id']", label=f"{stock.sku} · {stock.product}")
    page.fill("[id='field-lines.0.quantity']", quantity)
    _save(page)
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*draft\s*$"))
    number = _field(page, "Number").inner_text().strip()
    assert re.fullmatch(r"SO/\S+", number), number
    expect(page.locator("#order-lines tbody tr")).to_have_count(1)
    return number


def _deliver_and_invoice(page: Any, number: str) -> str:
    """Confirm, deliver and invoice the order on its page; returns the invoice's number."""
    _click_action(page, "confirm", "Confirm", f"Order {number} confirmed.")
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*confirmed\s*$"))
    expect(page.locator("#order-confirm")).to_have_count(0)

    _click_action(page, "deliver", "Deliver", f"Order {number} delivered.")
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*delivered\s*$"))
    expect(page.locator("#order-deliver")).to_have_count(0)

    _click_action(page, "invoice", "Invoice", f"Order {number} invoiced.")
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*invoiced\s*$"))
    expect(page.locator("#order-invoice")).to_have_count(0)
    invoice_link = page.locator("#order-invoices a")
    expect(invoice_link).to_have_count(1)
    expect(invoice_link).to_have_text(re.compile(r"^INV/"))
    invoice = invoice_link.inner_text().strip()
    invoice_link.click()
    expect(page).to_have_url(re.compile(rf"/sales/invoices/{UUID_RE}$"))
    expect(page.locator("h1")).to_contain_text(invoice)
    expect(_field(page, "Number")).to_have_text(invoice)
    assert len(invoice) <= 16, invoice  # GST rule 46
    return invoice


# -- the tests ----------------------------------------------------------------------------


def test_a_quote_becomes_an_order_that_is_confirmed_delivered_and_invoiced(page, server, log_in):
    tag = uuid.uuid4().hex[:6].upper()
    log_in(server.owner)
    stock = _set_up_stock(page, tag, price="250", quantity="10")
    customer = _new_customer(page, tag, margin="10", credit_limit="100000")

    # A quote with one line (the line form takes the product's id: crm does not know inventory).
    page.goto("/crm/quotes/new")
    page.select_option("#field-customer_id", label=customer)
    page.fill("#field-quote_date", "2026-05-04")
    _save(page)
    quote_id = _record_id(page)
    quote = _field(page, "Number").inner_text().strip()
    page.goto(f"/crm/quote-lines/new?quote_id={quote_id}")
    page.fill("#field-product_id", stock.product_id)
    page.fill("#field-description", stock.product)
    page.fill("#field-quantity", "3")
    page.fill("#field-unit_price", "260")
    page.select_option("#field-quote_id", label=quote)
    _save(page)
    page.goto(f"/crm/quotes/{quote_id}")
    assert _amount(page, "Total") == "780"

    # Convert: the quote page's button opens the draft order the quote became.
    with page.expect_navigation():
        page.locator("#quote-convert").get_by_role("button", name="Convert into an order").click()
    expect(page).to_have_url(re.compile(rf"/sales/orders/{UUID_RE}$"))
    expect(page.locator("#udyog-flash")).to_contain_text(f"Quote {quote} converted into")
    number = _field(page, "Number").inner_text().strip()
    assert re.fullmatch(r"SO/\S+", number), number
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*draft\s*$"))
    lines = page.locator("#order-lines tbody tr")
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text(stock.product)
    expect(lines.first).to_contain_text("260")  # the quoted price is kept as the agreed price
    order_url = page.url
    # The conversion takes the tenant's first warehouse by code: make sure the order ships from ours.
    # (The order page shows references by name, linked to their pages: the customer, the warehouse, the owner.)
    expect(_field(page, "Customer")).to_have_text(customer)
    expect(_field(page, "Customer").get_by_role("link")).to_have_attribute("href", re.compile(r"^/crm/customers/"))
    expect(_field(page, "Owner")).to_have_text("Bela Owner")
    if _field(page, "Warehouse").inner_text().strip() != stock.warehouse:
        page.locator("#resource-edit").click()
        page.select_option("#field-warehouse_id", label=stock.warehouse)
        _save(page)
    expect(_field(page, "Warehouse")).to_have_text(stock.warehouse)
    expect(_field(page, "Lines")).to_have_count(0)  # the lines are the table below, not a field

    invoice = _deliver_and_invoice(page, number)
    assert _amount(page, "Total") == "780"  # 3 x the quoted 260, no tax without GST

    assert _on_hand(page, stock) == "7"  # 10 received, 3 delivered

    page.goto(f"/crm/quotes/{quote_id}")
    expect(_field(page, "Status")).to_contain_text("converted")
    expect(page.locator("#quote-convert")).to_have_count(0)  # never converted twice
    page.goto(order_url)
    expect(page.locator("#order-invoices")).to_contain_text(invoice)


def test_an_order_made_on_the_new_order_form_is_confirmed_delivered_and_invoiced(page, server, log_in):
    tag = uuid.uuid4().hex[:6].upper()
    log_in(server.owner)
    stock = _set_up_stock(page, tag, price="200", quantity="12")
    customer = _new_customer(page, tag, margin="5", credit_limit="50000")
    number = _new_order(page, customer, stock, "4")
    expect(page.locator("#order-lines tbody tr").first).to_contain_text(stock.product)

    _deliver_and_invoice(page, number)
    assert _amount(page, "Total") == "840"  # 4 x 200 x 1.05 (the customer's margin)
    assert _on_hand(page, stock) == "8"


def test_confirming_over_the_credit_limit_is_refused_and_the_order_stays_draft(page, server, log_in):
    """A Sales Executive (no credit override: the Owner holds it and would pass) is refused on the page."""
    tag = uuid.uuid4().hex[:6].upper()
    log_in(server.owner)
    stock = _set_up_stock(page, tag, price="300", quantity="5")
    customer = _new_customer(page, tag, credit_limit="100", owner_id=server.executive_id)
    number = _new_order(page, customer, stock, "2", owner_id=server.executive_id)  # 600 > 100
    order_url = page.url

    page.context.clear_cookies()
    log_in(server.executive, order_url)
    expect(page.locator("h1")).to_contain_text(number)
    with page.expect_navigation():
        page.locator("#order-confirm").get_by_role("button", name="Confirm", exact=True).click()
    refusal = page.locator("#udyog-flash .alert-danger")
    expect(refusal).to_contain_text(re.compile("credit limit", re.I))
    expect(page.locator("#udyog-flash")).not_to_contain_text(f"Order {number} confirmed.")
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*draft\s*$"))
    expect(page.locator("#order-confirm")).to_be_visible()  # still a draft: it can be confirmed later

    page.context.clear_cookies()
    log_in(server.owner)
    assert _on_hand(page, stock) == "5"
    assert _amount(page, "Reserved") == "0"  # the refusal reserved nothing


def test_a_deal_moves_to_another_stage_on_the_pipeline_without_script(browser, server):
    """The kanban's move form is a plain POST: it works with scripts off (a context of its own)."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/crm/pipeline")
        page.fill("#email", server.owner)
        page.fill("#password", server.password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#pipeline")).to_be_visible()
        title = f"Pipeline deal {uuid.uuid4().hex[:6]}"
        page.locator("#pipeline-new-deal").click()
        page.fill("#field-title", title)
        page.select_option("#field-stage_id", label="Prospecting")
        page.fill("#field-amount", "45000")
        page.locator("#resource-form").get_by_role("button", name="Save").click()
        expect(page.locator("#resource-fields")).to_contain_text(title)

        page.goto("/crm/pipeline")
        card = page.locator(f'article[data-deal="{title}"]')
        expect(page.locator('section[data-stage="Prospecting"]').locator(card)).to_have_count(1)
        card.locator("select[name=stage_id]").select_option(label="Negotiation")
        with page.expect_navigation():
            card.get_by_role("button", name="Move").click()
        expect(page).to_have_url(re.compile(r"/crm/pipeline$"))
        expect(page.locator("#udyog-flash")).to_contain_text(f"{title} moved.")
        expect(page.locator('section[data-stage="Negotiation"]').locator(card)).to_have_count(1)
        expect(page.locator('section[data-stage="Prospecting"]').locator(card)).to_have_count(0)
    finally:
        context.close()


def test_a_check_in_on_a_phone_takes_the_browsers_position(page, server, log_in):
    tag = uuid.uuid4().hex[:6].upper()
    log_in(server.owner)
    customer = _new_customer(page, tag)
    context = page.context
    context.grant_permissions(["geolocation"], origin=server.url)
    context.set_geolocation({"latitude": 12.971599, "longitude": 77.594566, "accuracy": 25})
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto("/crm/checkin")
    expect(page.locator("#geo-status")).to_contain_text("Position found: 12.971599, 77.594566")
    expect(page.locator("#gps_latitude")).to_have_value("12.971599")
    expect(page.locator("#gps_longitude")).to_have_value("77.594566")
    expect(page.locator("#gps_accuracy_m")).to_have_value("25.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the form fits the phone
    page.get_by_label("Customer").select_option(label=f"{customer} (C{tag})")
    page.get_by_label("Note").fill(f"Visited {tag}")
    with page.expect_navigation():
        page.locator("#checkin-form").get_by_role("button", name="Check in").click()
    expect(page.locator("#udyog-flash")).to_contain_text("Checked in.")
    expect(page).to_have_url(re.compile(rf"/crm/checkins/{UUID_RE}$"))
    expect(_field(page, "Latitude")).to_contain_text("12.971599")
    expect(_field(page, "Longitude")).to_contain_text("77.594566")
    expect(_field(page, "Source")).to_contain_text("gps")
    expect(page.locator("#resource-fields")).to_contain_text(f"Visited {tag}")


def test_a_payment_is_allocated_to_the_invoice_which_then_shows_paid(page, server, log_in):
    tag = uuid.uuid4().hex[:6].upper()
    log_in(server.owner)
    stock = _set_up_stock(page, tag, price="150", quantity="6")
    customer = _new_customer(page, tag, credit_limit="10000")
    number = _new_order(page, customer, stock, "2")
    invoice = _deliver_and_invoice(page, number)
    invoice_url = page.url
    expect(_field(page, "State")).to_have_text(re.compile(r"^\s*issued\s*$"))
    assert _amount(page, "Balance") == "300"

    page.goto("/sales/payments")
    page.locator("#resource-new").click()
    page.select_option("#field-customer_id", label=customer)
    page.fill("#field-amount", "300")
    page.select_option("#field-method", "upi")
    page.fill("#field-reference", f"UPI-{tag}")
    _save(page)
    expect(_field(page, "Number")).to_have_text(re.compile(r"^\s*PAY/"))
    assert _amount(page, "Amount") == "300"
    expect(_field(page, "Customer")).to_have_text(customer)  # by name, not by id

    # Allocate it to the invoice: the payment's page must offer it (the API has POST /payments/<id>/allocate).
    allocate = page.locator("form").filter(has=page.get_by_role("button", name=re.compile("Allocate", re.I)))
    expect(allocate, "the payment page offers no way to allocate the payment to an invoice").to_have_count(1)
    choice = allocate.locator("select option").filter(has_text=invoice)
    allocate.locator("select").first.select_option(choice.first.get_attribute("value"))
    expect(allocate.get_by_label(re.compile("Amount", re.I))).to_have_value("300.00")  # min(unallocated, balance)
    allocate.get_by_label(re.compile("Amount", re.I)).fill("300")
    with page.expect_navigation():
        allocate.get_by_role("button", name=re.compile("Allocate", re.I)).click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"allocated to invoice {invoice}")
    assert _amount(page, "Allocated amount") == "300"
    allocations = _field(page, "Allocations")
    expect(allocations.get_by_role("link", name=invoice)).to_have_count(1)  # the invoice, linked to its page
    expect(allocations).to_contain_text("300.00")
    expect(page.locator("#payment-allocate")).to_have_count(0)  # nothing left to allocate

    page.goto(invoice_url)
    expect(_field(page, "State")).to_have_text(re.compile(r"^\s*paid\s*$"))
    assert _amount(page, "Balance") == "0"
    page.goto("/sales/orders")
    page.get_by_role("link", name=number).click()
    expect(_order_state(page)).to_have_text(re.compile(r"^\s*paid\s*$"))


def test_the_menu_of_a_tenant_with_crm_inventory_and_sales_fits_a_desktop(page, server, log_in):
    """At 1280 px the shell's top menu stays within the page: the user menu and the bell on screen."""
    log_in(server.owner)
    width = page.evaluate("document.documentElement.scrollWidth")
    user_menu = page.locator("#udyog-user-menu").bounding_box()
    assert width <= 1280 and user_menu["x"] + user_menu["width"] <= 1280, (
        f"the menu overflows a 1280 px desktop: the page is {width} px wide, the user menu at x={user_menu['x']:.0f}"
    )
