"""Hook precedence, crm's quote conversion, the account terms on crm's customers, pages and notifications."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")

import pytest
from sales_kit import ORDERS, order_body, outstanding, register, world

from udyog_sales.hookspecs import LineTax
from udyog_sdk import hookimpl

pytestmark = pytest.mark.udyog_plugins("sales")

CUSTOMERS = "/api/v1/crm/customers"


class _FixedPrice:
    """A plugin pricing every line at 42.00: wins over sales' trylast default."""

    @hookimpl
    def sales_price_line(self, order, line, account):
        return D("42.00")


class _Deferring:
    """A plugin that answers None: the next implementation (sales' default) decides."""

    @hookimpl(tryfirst=True)
    def sales_price_line(self, order, line, account):
        return None


class _Tax:
    """Five per cent on every line's taxable amount."""

    @hookimpl
    def sales_compute_taxes(self, order, lines):
        return [LineTax(line.line_no, "TAX", D("5"), line.taxable * D("0.05")) for line in lines]


class _Checks:
    """Refuses despatch of anything and validation of orders with notes 'bad'."""

    @hookimpl
    def sales_before_despatch(self, order):
        return ["recall hold on batch B-7"]

    @hookimpl
    def sales_validate_order(self, order):
        return ["notes say bad"] if order.notes == "bad" else []


def test_a_plugins_price_wins_over_the_default_and_none_defers(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant, margin="10.00")
    register(udyog_kernel, _Deferring(), "zz_deferring")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    done = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    assert done["lines"][0]["unit_price"] == "110.00"  # deferred to the default
    register(udyog_kernel, _FixedPrice(), "zz_fixed_price")
    register(udyog_kernel, _Tax(), "zz_tax")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", "50.00")), expect=201).data
    done = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    assert done["lines"][0]["unit_price"] == "42.00" and done["lines"][0]["amount"] == "42.00"
    assert (done["tax_total"], done["total"]) == ("2.10", "44.10")
    assert done["taxes"] == [{"line_no": 1, "name": "TAX", "rate": "5", "amount": "2.10"}]


class _RupeeRounding:
    """Rounds totals to the rupee, half up (as GST does); a total of 44.10 gets -0.10."""

    @hookimpl
    def sales_round_off(self, order):
        gross = order.subtotal - order.discount_amount + order.tax_total
        return gross.quantize(D("1"), rounding="ROUND_HALF_UP") - gross


class _BadRounding:
    """Answers a round-off of a whole rupee: refused."""

    @hookimpl
    def sales_round_off(self, order):
        return D("1.00")


def test_the_round_off_hook_rounds_the_total_and_the_invoice_copies_it(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant, margin="10.00")
    plain = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    plain = udyog_client.post(f"{ORDERS}/{plain['id']}/confirm", json={"version": 1}, expect=200).data
    assert (plain["round_off"], plain["total"]) == ("0.00", "110.00")  # sales' default: no rounding
    register(udyog_kernel, _FixedPrice(), "zz_fixed")
    register(udyog_kernel, _Tax(), "zz_tax")
    register(udyog_kernel, _RupeeRounding(), "zz_round")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", "50.00")), expect=201).data
    done = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    assert (done["tax_total"], done["round_off"], done["total"]) == ("2.10", "-0.10", "44.00")
    assert outstanding(udyog_tenant, w["c1"]) == D("110.00") + D("44.00")
    invoice = udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": done["version"]}, expect=201).data
    assert (invoice["round_off"], invoice["total"], invoice["balance"]) == ("-0.10", "44.00", "44.00")


def test_a_round_off_of_a_rupee_or_more_is_refused(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant)
    register(udyog_kernel, _BadRounding(), "zz_bad_round")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=409)
    assert "round_off" in refused.errors
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "draft"


def test_before_despatch_refuses_and_validation_refuses(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant)
    register(udyog_kernel, _Checks(), "zz_checks")
    bad = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None), notes="bad"), expect=201).data
    refused = udyog_client.post(f"{ORDERS}/{bad['id']}/confirm", json={"version": 1}, expect=422)
    assert refused.errors == {"order": ["notes say bad"]}
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": order["version"]}, expect=409)
    assert refused.errors == {"order": ["recall hold on batch B-7"]}
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "confirmed"


def test_a_quote_converts_into_a_draft_order_through_crms_endpoint(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    quote = udyog_client.post(
        "/api/v1/crm/quotes",
        json={
            "customer_id": w["c1"],
            "quote_date": dt.date.today().isoformat(),
            "lines": [
                {"product_id": w["p1"], "description": "Pickle", "quantity": "3", "unit_price": "95.00"},
                {
                    "product_id": w["p2"],
                    "description": "Lime",
                    "quantity": "1",
                    "unit_price": "240",
                    "discount_pct": "10",
                },
            ],
        },
        expect=201,
    ).data
    answer = udyog_client.post(
        f"/api/v1/crm/quotes/{quote['id']}/convert",
        json={"version": quote["version"], "options": {"warehouse_id": w["w1"]}},
        expect=200,
    ).data
    assert answer["status"] == "converted" and answer["converted_kind"] == "sales.order"
    order = udyog_client.get(f"{ORDERS}/{answer['converted_id']}", expect=200).data
    assert order["number"] == answer["converted_number"] and order["state"] == "draft"
    assert order["warehouse_id"] == w["w1"] and order["customer_id"] == w["c1"]
    assert [(ln["quantity"], ln["agreed_price"], ln["discount_pct"]) for ln in order["lines"]] == [
        ("3.000", "95.00", "0.00"),
        ("1.000", "240.00", "10.00"),
    ]
    done = udyog_client.post(f"{ORDERS}/{order['id']}/confirm", json={"version": order["version"]}, expect=200).data
    assert done["total"] == "501.00"  # the quoted prices, not list price plus margin: 285 + 216
    udyog_client.post(
        f"/api/v1/crm/quotes/{quote['id']}/convert", json={"version": answer["version"]}, expect=409
    )  # converted already


def test_a_quote_line_without_a_product_is_refused(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    quote = udyog_client.post(
        "/api/v1/crm/quotes",
        json={
            "customer_id": w["c1"],
            "quote_date": dt.date.today().isoformat(),
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "500"}],
        },
        expect=201,
    ).data
    refused = udyog_client.post(
        f"/api/v1/crm/quotes/{quote['id']}/convert", json={"version": quote["version"]}, expect=422
    )
    assert refused.errors == {"lines.0.product_id": ["no product"]}
    assert udyog_client.get(ORDERS, expect=200).data == []


def test_account_terms_on_crms_customers(udyog_client, udyog_tenant, udyog_user_factory, udyog_client_factory):
    w = world(udyog_tenant, credit_limit="5000.00")
    customer = udyog_client.get(f"{CUSTOMERS}/{w['c1']}", expect=200).data
    assert (customer["is_distributor"], customer["margin_pct"], customer["credit_limit"], customer["outstanding"]) == (
        True,
        "10.00",
        "5000.00",
        "0.00",
    )
    changed = udyog_client.patch(
        f"{CUSTOMERS}/{w['c1']}",
        json={"version": customer["version"], "credit_limit": "7500.00", "outstanding": "-99.00"},
        expect=200,
    ).data
    assert (changed["credit_limit"], changed["outstanding"]) == ("7500.00", "0.00")  # outstanding is read-only
    made = udyog_client.post(
        CUSTOMERS, json={"code": "C9", "name": "New Dist", "is_distributor": True, "margin_pct": "7.5"}, expect=201
    ).data
    assert (made["is_distributor"], made["margin_pct"], made["credit_limit"]) == (True, "7.50", None)
    refused = udyog_client.patch(
        f"{CUSTOMERS}/{w['c1']}", json={"version": changed["version"], "margin_pct": "1.234"}, expect=422
    )
    assert list(refused.errors) == ["margin_pct"]
    listed = udyog_client.get(CUSTOMERS, params={"is_distributor": "true"}, expect=200).data
    assert {c["code"] for c in listed} == {"C1", "C9"}
    # Without sales.account.write, terms sent with a customer are ignored.
    clerk = udyog_client_factory(udyog_user_factory(permissions=["crm.customer.*"]))
    current = clerk.get(f"{CUSTOMERS}/{w['c1']}", expect=200).data
    after = clerk.patch(
        f"{CUSTOMERS}/{w['c1']}", json={"version": current["version"], "credit_limit": None, "name": "X"}, expect=200
    ).data
    assert (after["name"], after["credit_limit"]) == ("X", "7500.00")
    assert outstanding(udyog_tenant, w["c1"]) == D("0.00")


def test_the_order_pages_show_lines_and_actions(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", None)), expect=201).data
    page = udyog_web_client.get(f"/sales/orders/{made['id']}")
    assert page.status_code == 200 and 'id="order-lines"' in page.text and "Mango pickle" in page.text
    assert 'id="order-confirm"' in page.text and 'id="order-deliver"' not in page.text
    answer = udyog_web_client.submit(f"/sales/orders/{made['id']}/confirm", {"version": "1"})
    assert answer.status_code == 303
    page = udyog_web_client.get(f"/sales/orders/{made['id']}")
    assert "confirmed." in page.text and 'id="order-deliver"' in page.text and 'id="order-confirm"' not in page.text
    stale = udyog_web_client.submit(f"/sales/orders/{made['id']}/deliver", {"version": "1"})
    assert stale.status_code == 303
    assert "changed by someone else" in udyog_web_client.get(f"/sales/orders/{made['id']}").text
    version = udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["version"]
    assert udyog_web_client.submit(f"/sales/orders/{made['id']}/invoice", {"version": str(version)}).status_code == 303
    page = udyog_web_client.get(f"/sales/orders/{made['id']}").text
    assert 'id="order-invoices"' in page and "/0001</a>" in page and 'id="order-invoice"' not in page
    home = udyog_web_client.get("/").text
    assert 'href="/sales/orders"' in home and "Sales by month" in home and "Top distributors" in home
    for url in ("/sales/orders", "/sales/invoices", "/sales/credit-notes", "/sales/payments", "/sales/distributors"):
        assert udyog_web_client.get(url).status_code == 200, url
    assert "Sunrise Distributors" in udyog_web_client.get("/sales/distributors").text


def test_the_owner_is_notified_of_a_confirmation(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200)
    inbox = udyog_client.get("/api/v1/core/notifications", expect=200).data
    assert [(n["event"], n["title"]) for n in inbox] == [("sales.order.confirmed", f"Order {made['number']} confirmed")]
    assert inbox[0]["link"] == f"/sales/orders/{made['id']}"


def test_an_order_is_made_through_the_new_order_form(udyog_tenant, udyog_web_client, udyog_client):
    w = world(udyog_tenant)
    form = udyog_web_client.get("/sales/orders/new")
    assert form.status_code == 200 and 'name="lines.0.product_id"' in form.text and "P2 · Lime pickle" in form.text
    values = {"customer_id": w["c1"], "warehouse_id": w["w1"], "lines.0.product_id": w["p1"], "lines.0.quantity": "2"}
    refused = udyog_web_client.submit("/sales/orders/new", {**values, "lines.2.product_id": w["p2"]})
    assert refused.status_code == 422 and udyog_client.get(ORDERS, expect=200).data == []
    answer = udyog_web_client.submit(
        "/sales/orders/new", {**values, "lines.1.product_id": w["p2"], "lines.1.quantity": "1.5", "discount_pct": "1"}
    )
    assert answer.status_code == 303
    (order,) = udyog_client.get(ORDERS, expect=200).data
    assert [(ln["quantity"], ln["description"]) for ln in order["lines"]] == [
        ("2.000", "Mango pickle"),
        ("1.500", "Lime pickle"),
    ]
    assert order["discount_pct"] == "1.00" and answer.headers["Location"].endswith(order["id"])


def test_the_new_order_form_searches_products_when_there_are_many(udyog_tenant, udyog_web_client, udyog_client):
    """Past MAX_CHOICES active products the line rows' product select becomes the SDK's search picker."""
    from sqlalchemy import select

    from udyog_inventory.models import Product
    from udyog_sdk.pickers import MAX_CHOICES

    w = world(udyog_tenant)
    with udyog_tenant.scope() as scope:
        unit = scope.session.scalar(select(Product.unit_id).where(Product.sku == "P1"))
        scope.session.add_all(Product(sku=f"S{i:03}", name=f"Spice {i:03}", unit_id=unit) for i in range(MAX_CHOICES))
        scope.session.commit()
    form = udyog_web_client.get("/sales/orders/new").text
    assert form.count("data-reference-picker") == 8 and 'data-url="/sales/orders/new/products"' in form
    assert "P2 · Lime pickle" not in form and "reference-picker.js" in form
    found = udyog_web_client.get("/sales/orders/new/products", query_string={"q": "p2"}).get_json()
    assert found == [{"id": w["p2"], "label": "P2 · Lime pickle"}]
    values = {"customer_id": w["c1"], "warehouse_id": w["w1"], "lines.0.product_id": w["p2"], "lines.0.quantity": "1"}
    refused = udyog_web_client.submit("/sales/orders/new", {**values, "lines.0.quantity": "lots"})
    assert refused.status_code == 422 and "Now: P2 · Lime pickle." in refused.text  # the chosen product is kept
    made = udyog_web_client.submit("/sales/orders/new", values)
    assert made.status_code == 303
    (order,) = udyog_client.get(ORDERS, expect=200).data
    assert [ln["description"] for ln in order["lines"]] == ["Lime pickle"]
