"""crm, inventory and sales together, over real HTTP: quote → order → confirm → deliver → invoice → paid.

Also: each plugin works alone (crm alone, inventory alone), and a tenant that
has not enabled sales cannot convert quotes while another tenant can.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from udyog.tenancy import disable_plugins

CUSTOMERS = "/api/v1/crm/customers"
QUOTES = "/api/v1/crm/quotes"
PRODUCTS = "/api/v1/inventory/products"
WAREHOUSES = "/api/v1/inventory/warehouses"
BALANCES = "/api/v1/inventory/balances"
MOVES = "/api/v1/inventory/moves"
ORDERS = "/api/v1/sales/orders"
INVOICES = "/api/v1/sales/invoices"
PAYMENTS = "/api/v1/sales/payments"
CREDIT_NOTES = "/api/v1/sales/credit-notes"


def a_customer(client, code: str = "D-001", **terms: object) -> dict:
    body = {"code": code, "name": "Deccan Distributors", "billing_state_code": "27", "credit_days": 30, **terms}
    return client.post(CUSTOMERS, json=body, expect=201).data


def stocked_product(client, *, on_hand: str = "50") -> tuple[dict, dict]:
    """A product priced ₹120.00 with ``on_hand`` units received into a new warehouse; (product, warehouse)."""
    unit = client.post("/api/v1/inventory/units", json={"code": "jar", "name": "Jar"}, expect=201).data
    product = client.post(
        PRODUCTS, json={"sku": "MP-500", "name": "Mango pickle 500 g", "unit_id": unit["id"], "price": "120.00"}
    ).expect(201)
    branch = client.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune", "state_code": "27"}).expect(201)
    house = client.post(WAREHOUSES, json={"code": "FG", "name": "Finished goods", "branch_id": branch.data["id"]})
    house.expect(201)
    client.post(
        "/api/v1/inventory/receipts",
        json={
            "product_id": product.data["id"],
            "warehouse_id": house.data["id"],
            "quantity": on_hand,
            "unit_cost": "70.00",
        },
        expect=201,
    )
    return product.data, house.data


def stock_of(client, product_id: str) -> tuple[Decimal, Decimal]:
    [row] = client.get(BALANCES, params={"product_id": product_id}, expect=200).data
    return Decimal(row["on_hand"]), Decimal(row["reserved"])


@pytest.mark.udyog_plugins("crm")
def test_crm_works_alone(udyog_client, udyog_kernel):
    assert set(udyog_kernel.registry.order) >= {"crm"}
    assert not {"inventory", "sales"} & set(udyog_kernel.registry.order)
    customer = a_customer(udyog_client)
    assert "credit_limit" not in customer  # sales' fields exist only where sales is enabled
    quote = udyog_client.post(
        QUOTES,
        json={
            "customer_id": customer["id"],
            "quote_date": dt.date.today().isoformat(),
            "lines": [{"description": "Mango pickle", "quantity": "10", "unit_price": "120.00"}],
        },
        expect=201,
    ).data
    refused = udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json={"version": quote["version"]}, expect=409)
    assert "sales" in refused.message
    udyog_client.get(ORDERS, expect=404)
    udyog_client.get(PRODUCTS, expect=404)


@pytest.mark.udyog_plugins("inventory")
def test_inventory_works_alone(udyog_client, udyog_kernel):
    assert not {"crm", "sales"} & set(udyog_kernel.registry.order)
    product, _ = stocked_product(udyog_client, on_hand="12")
    assert stock_of(udyog_client, product["id"]) == (Decimal("12"), Decimal("0"))
    udyog_client.get(CUSTOMERS, expect=404)
    udyog_client.get(ORDERS, expect=404)


@pytest.mark.udyog_plugins("sales")
def test_the_order_to_cash_flow_over_http(udyog_live_client):
    client = udyog_live_client
    product, house = stocked_product(client)
    customer = a_customer(client, is_distributor=True, margin_pct="5.00", credit_limit="100000.00")
    assert (customer["margin_pct"], customer["credit_limit"], customer["outstanding"]) == ("5.00", "100000.00", "0.00")

    # A quote of 10 jars converts into a draft order.
    quote = client.post(
        QUOTES,
        json={
            "customer_id": customer["id"],
            "quote_date": dt.date.today().isoformat(),
            "lines": [
                {"product_id": product["id"], "description": product["name"], "quantity": "10", "unit_price": "120.00"}
            ],
        },
        expect=201,
    ).data
    converted = client.post(
        f"{QUOTES}/{quote['id']}/convert",
        json={"version": quote["version"], "options": {"warehouse_id": house["id"]}},
        expect=200,
    ).data
    assert converted["status"] == "converted" and converted["converted_kind"] == "sales.order"
    order = client.get(f"{ORDERS}/{converted['converted_id']}", expect=200).data
    assert order["state"] == "draft" and order["number"] == converted["converted_number"]

    # Confirmation keeps the quoted 120.00 a jar (an agreed price; the 5% margin prices lines
    # that have none): 10 jars = 1200.00, reserved and owed.
    order = client.post(f"{ORDERS}/{order['id']}/confirm", json={"version": order["version"]}, expect=200).data
    assert (order["state"], order["total"]) == ("confirmed", "1200.00")
    assert stock_of(client, product["id"]) == (Decimal("50"), Decimal("10"))
    assert client.get(f"{CUSTOMERS}/{customer['id']}", expect=200).data["outstanding"] == "1200.00"

    # Delivery issues the reservation.
    order = client.post(f"{ORDERS}/{order['id']}/deliver", json={"version": order["version"]}, expect=200).data
    assert order["state"] == "delivered"
    assert stock_of(client, product["id"]) == (Decimal("40"), Decimal("0"))
    kinds = [m["kind"] for m in client.get(MOVES, params={"product_id": product["id"]}, expect=200).data]
    assert sorted(kinds) == ["issue", "receipt", "reservation"]

    # The invoice is numbered from the gap-free series and cannot be deleted.
    invoice = client.post(f"{ORDERS}/{order['id']}/invoice", json={"version": order["version"]}, expect=201).data
    assert client.get(f"{ORDERS}/{order['id']}", expect=200).data["state"] == "invoiced"
    assert [i["id"] for i in client.get(INVOICES, params={"order_id": order["id"]}, expect=200).data] == [invoice["id"]]
    assert invoice["number"].startswith("INV/") and len(invoice["number"]) <= 16
    assert (invoice["total"], invoice["balance"], invoice["state"]) == ("1200.00", "1200.00", "issued")
    client.delete(f"{INVOICES}/{invoice['id']}", expect=409)

    # A credit note of 60.00 and a payment of the remaining 1140.00 settle it.
    client.post(CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "60.00", "reason": "2 jars leaked"}).expect(
        201
    )
    client.post(
        PAYMENTS,
        json={
            "customer_id": customer["id"],
            "amount": "1140.00",
            "method": "upi",
            "allocations": [{"invoice_id": invoice["id"], "amount": "1140.00"}],
        },
        expect=201,
    )
    invoice = client.get(f"{INVOICES}/{invoice['id']}", expect=200).data
    assert (invoice["state"], invoice["balance"], invoice["paid_amount"]) == ("paid", "0.00", "1140.00")
    assert client.get(f"{ORDERS}/{order['id']}", expect=200).data["state"] == "paid"
    assert client.get(f"{CUSTOMERS}/{customer['id']}", expect=200).data["outstanding"] == "0.00"


def quote_of(client, customer_id: str, product_id: str | None) -> dict:
    line = {"product_id": product_id, "description": "Lime pickle", "quantity": "1", "unit_price": "90.00"}
    body = {"customer_id": customer_id, "quote_date": dt.date.today().isoformat(), "lines": [line]}
    return client.post(QUOTES, json=body, expect=201).data


@pytest.mark.udyog_plugins("sales")
def test_a_tenant_without_sales_cannot_convert_while_another_can(
    udyog_kernel, udyog_client, udyog_other_client, udyog_other_tenant
):
    disable_plugins(udyog_kernel, udyog_other_tenant.slug, ["sales"])
    # acme has sales: its quote becomes an order.
    product, house = stocked_product(udyog_client)
    quote = quote_of(udyog_client, a_customer(udyog_client)["id"], product["id"])
    body = {"version": quote["version"], "options": {"warehouse_id": house["id"]}}
    assert udyog_client.post(f"{QUOTES}/{quote['id']}/convert", json=body, expect=200).data["status"] == "converted"
    # globex turned sales off: nobody converts its quotes, and it has no sales routes or fields.
    quote = quote_of(udyog_other_client, a_customer(udyog_other_client)["id"], None)
    refused = udyog_other_client.post(f"{QUOTES}/{quote['id']}/convert", json={"version": quote["version"]}, expect=409)
    assert "sales" in refused.message
    udyog_other_client.get(ORDERS, expect=404)
    assert "credit_limit" not in udyog_other_client.get(CUSTOMERS, expect=200).data[0]
    assert "credit_limit" in udyog_client.get(CUSTOMERS, expect=200).data[0]
