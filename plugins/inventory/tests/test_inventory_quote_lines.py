"""With crm beside it, inventory checks the products crm's quote lines name (``crm_check_quote_lines``)."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.udyog_plugins("inventory", "crm")

API = "/api/v1/inventory"
QUOTES = "/api/v1/crm/quotes"
LINES = "/api/v1/crm/quote-lines"


def test_quote_lines_must_name_an_existing_active_product(udyog_client):
    client = udyog_client
    unit = client.post(f"{API}/units", json={"code": "pcs", "name": "Piece"}, expect=201).data["id"]
    product = client.post(
        f"{API}/products", json={"sku": "PKL-1", "name": "Mango pickle 500 g", "unit_id": unit}, expect=201
    ).data
    customer = client.post(
        "/api/v1/crm/customers", json={"code": "DIST", "name": "Deccan Foods", "billing_state_code": "27"}, expect=201
    ).data["id"]
    line = {"description": "Pickle", "quantity": "2", "unit_price": "100.00"}
    header = {"customer_id": customer, "quote_date": "2026-06-15"}

    unknown = str(uuid.uuid4())
    refused = client.post(QUOTES, json={**header, "lines": [{**line}, {**line, "product_id": unknown}]}, expect=422)
    assert refused.errors == {"lines.1.product_id": ["no such product"]}
    assert client.get(QUOTES, expect=200).data == []  # nothing half-written: no quote, no number taken

    quote = client.post(QUOTES, json={**header, "lines": [{**line, "product_id": product["id"]}]}, expect=201).data
    refused = client.post(LINES, json={**line, "quote_id": quote["id"], "product_id": unknown}, expect=422)
    assert refused.errors == {"product_id": ["no such product"]}

    added = client.post(LINES, json={**line, "quote_id": quote["id"]}, expect=201).data  # no product: free text
    client.patch(f"{API}/products/{product['id']}", json={"version": product["version"], "active": False}, expect=200)
    refused = client.patch(
        f"{LINES}/{added['id']}", json={"version": added["version"], "product_id": product["id"]}, expect=422
    )
    assert refused.errors == {"product_id": ["product PKL-1 is inactive"]}
    # A line already naming the product may still change otherwise.
    [first] = [x for x in client.get(LINES, params={"quote_id": quote["id"]}, expect=200).data if x["product_id"]]
    client.patch(f"{LINES}/{first['id']}", json={"version": first["version"], "quantity": "3"}, expect=200)
