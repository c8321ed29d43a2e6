"""Sales' pages: references by name, the order's lines, allocating a payment on its page, the customer form's terms.

Also the menu of a tenant with crm, inventory and sales: one dropdown per plugin.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sales_kit import ORDERS, PAYMENTS, order_body, world

from udyog.testing import WebClient

pytestmark = pytest.mark.udyog_plugins("sales")

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def field(text: str, label: str) -> str:
    """The HTML of a generic detail page's value of ``label``."""
    found = re.search(rf"<dt[^>]*>{re.escape(label)}</dt>\s*<dd[^>]*>(.*?)</dd>", text, re.S)
    assert found is not None, f"no field {label!r}"
    return found.group(1).strip()


def flashes(text: str) -> str:
    found = re.search(r'id="udyog-flash".*?</div>\s*</div>', text, re.S)
    return html.unescape(found.group(0)) if found else ""


def invoiced_order(client: Any, w: dict[str, str], quantity: str = "2") -> dict[str, Any]:
    """An order of C1 (P1 at 100 + 10 % margin), confirmed, delivered and invoiced; returns the invoice."""
    made = client.post(ORDERS, json=order_body(w, ("p1", quantity, None)), expect=201).data
    client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200)
    client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": 2}, expect=200)
    return client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": 3}, expect=201).data  # type: ignore[no-any-return]


def test_the_order_page_shows_references_by_name_and_the_lines_as_a_table(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", "5"), ("p2", "1", None)), expect=201).data
    page = udyog_web_client.get(f"/sales/orders/{made['id']}").text
    assert field(page, "Customer") == f'<a href="/crm/customers/{w["c1"]}">Sunrise Distributors</a>'
    assert field(page, "Warehouse") == f'<a href="/inventory/warehouses/{w["w1"]}">Pune FG</a>'
    owner = field(page, "Owner")
    assert owner and not re.search(UUID, owner)  # the user's name
    assert '<dt class="col-sm-4 col-lg-3">Lines</dt>' not in page  # not a field: the section below
    assert "[{" not in page and "Decimal(" not in page  # nothing printed as Python
    lines = re.search(r'<section class="card mb-3" id="order-lines".*?</section>', page, re.S).group(0)
    rows = re.findall(r"<tr data-line=.*?</tr>", lines, re.S)
    assert len(rows) == 2
    assert f'<a href="/inventory/products/{w["p1"]}">Mango pickle</a>' in rows[0] and "5.00" in rows[0]
    assert f'<a href="/inventory/products/{w["p2"]}">Lime pickle</a>' in rows[1]
    # The invoice page: the customer and order by name, its lines a table with the products' names.
    invoice = invoiced_order(udyog_client, w)
    page = udyog_web_client.get(f"/sales/invoices/{invoice['id']}").text
    assert field(page, "Customer").endswith(">Sunrise Distributors</a>")
    assert re.fullmatch(r'<a href="/sales/orders/[^"]+">SO/[^<]+</a>', field(page, "Order"))
    assert ">Mango pickle</a>" in field(page, "Lines") and "<table" in field(page, "Lines")


def test_a_payment_is_allocated_on_its_page(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    invoice = invoiced_order(udyog_client, w)  # 2 x 110 = 220
    assert invoice["balance"] == "220.00"
    payment = udyog_client.post(
        PAYMENTS, json={"customer_id": w["c1"], "amount": "500.00", "method": "upi"}, expect=201
    ).data
    url = f"/sales/payments/{payment['id']}"
    page = udyog_web_client.get(url).text
    assert field(page, "Customer").endswith(">Sunrise Distributors</a>")
    assert "<table" in field(page, "Allocations") and "[]" not in field(page, "Allocations")  # none yet: an empty table
    form = re.search(r'<form method="post" action="([^"]+)" id="payment-allocate-form".*?</form>', page, re.S)
    assert form is not None and form.group(1) == f"{url}/allocate"
    assert f'<option value="{invoice["id"]}">{invoice["number"]}' in form.group(0)
    assert 'name="amount"' in form.group(0) and 'value="220.00"' in form.group(0)  # min(unallocated, balance)

    # Refusals are flashed on the page, and nothing changes.
    too_much = udyog_web_client.submit(
        f"{url}/allocate", {"version": "1", "invoice_id": invoice["id"], "amount": "300"}
    )
    assert too_much.status_code == 303 and too_much.headers["Location"].endswith(url)
    assert "at most the invoice's balance 220.00" in flashes(udyog_web_client.get(url).text)
    stale = udyog_web_client.submit(f"{url}/allocate", {"version": "7", "invoice_id": invoice["id"], "amount": "1"})
    assert stale.status_code == 303 and "changed by someone else" in flashes(udyog_web_client.get(url).text)
    nonsense = udyog_web_client.submit(f"{url}/allocate", {"version": "1", "invoice_id": invoice["id"], "amount": "x"})
    assert nonsense.status_code == 303 and "is not a number" in flashes(udyog_web_client.get(url).text)
    assert udyog_client.get(f"{PAYMENTS}/{payment['id']}", expect=200).data["allocated_amount"] == "0.00"

    # An empty amount allocates min(unallocated, balance): the whole invoice.
    done = udyog_web_client.submit(f"{url}/allocate", {"version": "1", "invoice_id": invoice["id"], "amount": ""})
    assert done.status_code == 303
    page = udyog_web_client.get(url).text
    assert f"allocated to invoice {invoice['number']}" in flashes(page)
    allocations = field(page, "Allocations")
    assert (
        f'<a href="/sales/invoices/{invoice["id"]}">{invoice["number"]}</a>' in allocations and "220.00" in allocations
    )
    assert "payment-allocate-form" not in page and 'id="payment-no-open-invoices"' in page  # 280 left, nothing open
    paid = udyog_client.get(f"/api/v1/sales/invoices/{invoice['id']}", expect=200).data
    assert (paid["state"], paid["balance"]) == ("paid", "0.00")
    order = udyog_client.get(f"{ORDERS}/{paid['order_id']}", expect=200).data
    assert order["state"] == "paid"


def test_allocating_needs_its_permission(udyog_app, udyog_client, udyog_tenant, udyog_user_factory):
    w = world(udyog_tenant)
    invoice = invoiced_order(udyog_client, w)
    payment = udyog_client.post(PAYMENTS, json={"customer_id": w["c1"], "amount": "50.00"}, expect=201).data
    reader = WebClient(udyog_app, udyog_user_factory(permissions=["sales.payment.read", "sales.invoice.read"]))
    url = f"/sales/payments/{payment['id']}"
    page = reader.get(url)
    assert page.status_code == 200 and "payment-allocate" not in page.text
    refused = reader.submit(f"{url}/allocate", {"version": "1", "invoice_id": invoice["id"], "amount": "10"})
    assert refused.status_code == 403
    assert udyog_client.get(f"{PAYMENTS}/{payment['id']}", expect=200).data["allocated_amount"] == "0.00"


def test_the_customer_form_shows_no_outstanding_input_but_the_page_shows_it(udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    form = udyog_web_client.get(f"/crm/customers/{w['c1']}/edit").text
    assert 'name="credit_limit"' in form and 'name="margin_pct"' in form
    assert 'name="outstanding"' not in form  # sales maintains it
    assert 'name="outstanding"' not in udyog_web_client.get("/crm/customers/new").text
    page = udyog_web_client.get(f"/crm/customers/{w['c1']}").text
    assert field(page, "Outstanding") == "0.00"


def test_inventory_is_one_dropdown_of_the_menu(udyog_tenant, udyog_web_client):
    world(udyog_tenant)
    home = udyog_web_client.get("/").text
    menu = re.search(r'<ul class="navbar-nav[^"]*" id="udyog-menu">.*?\n      </ul>', home, re.S)
    assert menu is not None
    tops = re.findall(r'<li class="nav-item[^"]*" data-menu-key="([^"]+)"', menu.group(0))
    assert "inventory.root" in tops and not [k for k in tops if k.startswith("inventory.") and k != "inventory.root"]
    assert {"crm.root", "sales.root"} <= set(tops), tops
    assert 'href="/inventory/products"' in menu.group(0) and 'href="/inventory/receive"' in menu.group(0)
