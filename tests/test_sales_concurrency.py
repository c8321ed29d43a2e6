"""Concurrent confirmations on PostgreSQL: stock is never oversold and invoice numbers never skip or repeat."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from test_order_to_cash import BALANCES, ORDERS, a_customer, stocked_product

pytestmark = [pytest.mark.udyog_plugins("sales"), pytest.mark.postgres]

CLIENTS = 16


def test_concurrent_confirmations_neither_oversell_nor_skip_an_invoice_number(
    udyog_client, udyog_user, udyog_client_factory, backend
):
    if backend != "postgresql":
        pytest.skip("SQLite serialises writing transactions; the race needs PostgreSQL")
    product, house = stocked_product(udyog_client, on_hand="20")  # room for 10 orders of 2
    settings = udyog_client.get("/api/v1/core/settings/sales", expect=200).data
    udyog_client.patch(
        "/api/v1/core/settings/sales",
        json={"version": settings["version"], "values": {"invoice_on_confirm": True}},
        expect=200,
    )
    customers = [a_customer(udyog_client, code=f"D-{n:03}")["id"] for n in range(4)]
    orders = [
        udyog_client.post(
            ORDERS,
            json={
                "customer_id": customers[n % len(customers)],
                "warehouse_id": house["id"],
                "lines": [{"product_id": product["id"], "quantity": "2"}],
            },
            expect=201,
        ).data
        for n in range(CLIENTS)
    ]
    clients = [udyog_client_factory(udyog_user) for _ in orders]
    start = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def confirm(client, order) -> None:
        start.wait()
        answer = client.post(f"{ORDERS}/{order['id']}/confirm", json={"version": order["version"]})
        with lock:
            answers.append((answer.status, answer.body))

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, orders, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 10 + [409] * 6, answers  # the stock covers ten orders of two, no more
    assert all("quantity" in body["errors"] for status, body in answers if status == 409)
    [row] = udyog_client.get(BALANCES, params={"product_id": product["id"]}, expect=200).data
    assert (Decimal(row["on_hand"]), Decimal(row["reserved"]), Decimal(row["available"])) == (20, 20, 0)
    invoiced = udyog_client.get("/api/v1/sales/invoices", params={"limit": 100}, expect=200).data
    numbers = sorted(i["number"] for i in invoiced)
    assert len(numbers) == 10
    prefix = numbers[0].rsplit("/", 1)[0]
    assert numbers == [f"{prefix}/{n:04}" for n in range(1, 11)]  # consecutive from 1: no gap, no repeat
    drafts = udyog_client.get(ORDERS, params={"state": "draft", "limit": 100}, expect=200).data
    assert len(drafts) == 6  # the refused ones are untouched drafts
