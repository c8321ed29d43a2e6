"""Invoices, credit notes and payments: gap-free numbers, legal documents, balances, allocation."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")
from typing import Any

import pytest
from sales_kit import CREDIT_NOTES, INVOICES, ORDERS, PAYMENTS, order_body, outstanding, register, world

from udyog_sdk import UdyogError, hookimpl

pytestmark = pytest.mark.udyog_plugins("sales")


def invoiced(client: Any, w: dict[str, str], quantity: str = "1") -> dict[str, Any]:
    """Create, confirm and invoice an order of P1 (₹110 each at 10% margin); the invoice."""
    made = client.post(ORDERS, json=order_body(w, ("p1", quantity, None)), expect=201).data
    order = client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    return client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": order["version"]}, expect=201).data


class _FailAfterInvoice:
    """Refuses after the invoice took its number: the number must come back."""

    @hookimpl
    def sales_after_invoice(self, invoice):
        if invoice.total == D("330.00"):
            raise UdyogError("refused after numbering", status=409, errors={"invoice": ["refused"]})


def test_invoice_numbers_are_consecutive_and_never_lost_to_a_failed_transaction(
    udyog_client, udyog_tenant, udyog_kernel
):
    w = world(udyog_tenant)
    register(udyog_kernel, _FailAfterInvoice(), "zz_fail_after_invoice")
    first = invoiced(udyog_client, w, "1")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "3", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": order["version"]}, expect=409)
    second = invoiced(udyog_client, w, "2")
    third = invoiced(udyog_client, w, "4")
    numbers = [i["number"] for i in (first, second, third)]
    assert [n.rsplit("/", 1)[1] for n in numbers] == ["0001", "0002", "0003"]
    assert all(n.startswith("INV/") and len(n) <= 16 for n in numbers)
    listed = udyog_client.get(INVOICES, params={"sort": "number"}, expect=200).data
    assert [i["number"] for i in listed] == numbers


def test_invoices_are_legal_documents(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w)
    refused = udyog_client.delete(f"{INVOICES}/{invoice['id']}", expect=409)
    assert "legal document" in refused.message and "never deleted" in refused.message
    udyog_client.patch(f"{INVOICES}/{invoice['id']}", json={"version": invoice["version"]}, expect=405)
    udyog_client.post(INVOICES, json={"order_id": invoice["order_id"]}, expect=405)
    cancelled = udyog_client.post(
        f"{INVOICES}/{invoice['id']}/cancel", json={"version": invoice["version"]}, expect=200
    ).data
    assert cancelled["state"] == "cancelled" and cancelled["number"] == invoice["number"]
    udyog_client.post(f"{INVOICES}/{invoice['id']}/cancel", json={"version": cancelled["version"]}, expect=409)
    # The order may be invoiced again: the next number, the cancelled one is kept.
    order = udyog_client.get(f"{ORDERS}/{invoice['order_id']}", expect=200).data
    again = udyog_client.post(f"{ORDERS}/{order['id']}/invoice", json={"version": order["version"]}, expect=201).data
    assert again["number"].endswith("/0002")


def test_an_invoice_with_payments_allocated_is_not_cancelled(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w)
    udyog_client.post(
        PAYMENTS,
        json={
            "customer_id": w["c1"],
            "amount": "50.00",
            "allocations": [{"invoice_id": invoice["id"], "amount": "50"}],
        },
        expect=201,
    )
    current = udyog_client.get(f"{INVOICES}/{invoice['id']}", expect=200).data
    assert (current["paid_amount"], current["balance"], current["state"]) == ("50.00", "60.00", "issued")
    refused = udyog_client.post(f"{INVOICES}/{invoice['id']}/cancel", json={"version": current["version"]}, expect=409)
    assert "payments" in refused.message


def test_credit_notes_reduce_the_balance_and_the_outstanding(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "2")  # 220.00
    assert outstanding(udyog_tenant, w["c1"]) == D("220.00")
    refused = udyog_client.post(CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "220.01"}, expect=422)
    assert list(refused.errors) == ["amount"] and "220.00" in refused.errors["amount"][0]
    note = udyog_client.post(
        CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "20.00", "reason": "damaged jar"}, expect=201
    ).data
    assert note["number"].startswith("CN/") and note["number"].endswith("/0001")
    assert note["customer_id"] == w["c1"]
    current = udyog_client.get(f"{INVOICES}/{invoice['id']}", expect=200).data
    assert (current["credited_amount"], current["balance"]) == ("20.00", "200.00")
    assert outstanding(udyog_tenant, w["c1"]) == D("200.00")
    udyog_client.delete(f"{CREDIT_NOTES}/{note['id']}", expect=409)
    udyog_client.patch(f"{CREDIT_NOTES}/{note['id']}", json={"version": note["version"]}, expect=405)
    refused = udyog_client.post(f"{INVOICES}/{invoice['id']}/cancel", json={"version": current["version"]}, expect=409)
    assert "credit notes" in refused.message
    full = udyog_client.post(CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "200.00"}, expect=201).data
    assert full["number"].endswith("/0002")
    assert udyog_client.get(f"{INVOICES}/{invoice['id']}", expect=200).data["state"] == "paid"
    udyog_client.post(f"{CREDIT_NOTES}/{note['id']}/cancel", json={"version": note["version"]}, expect=200)
    current = udyog_client.get(f"{INVOICES}/{invoice['id']}", expect=200).data
    assert (current["credited_amount"], current["balance"], current["state"]) == ("200.00", "20.00", "issued")
    assert outstanding(udyog_tenant, w["c1"]) == D("20.00")
    cancelled = udyog_client.post(
        f"{INVOICES}/{invoice['id']}/cancel", json={"version": current["version"]}, expect=409
    )
    assert cancelled.errors == {"state": ["credit notes issued"]}


def test_payments_are_allocated_within_balance_and_amount(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    one = invoiced(udyog_client, w, "1")  # 110.00
    two = invoiced(udyog_client, w, "2")  # 220.00
    payment = udyog_client.post(
        PAYMENTS, json={"customer_id": w["c1"], "amount": "300.00", "method": "upi", "reference": "UTR1"}, expect=201
    ).data
    assert payment["number"].startswith("PAY/") and payment["allocated_amount"] == "0.00"
    assert outstanding(udyog_tenant, w["c1"]) == D("30.00")
    url = f"{PAYMENTS}/{payment['id']}/allocate"
    refused = udyog_client.post(url, json={"version": 1, "invoice_id": one["id"], "amount": "110.01"}, expect=422)
    assert list(refused.errors) == ["amount"] and "balance" in refused.errors["amount"][0]
    payment = udyog_client.post(url, json={"version": 1, "invoice_id": one["id"], "amount": "110.00"}, expect=200).data
    assert payment["allocated_amount"] == "110.00"
    assert udyog_client.get(f"{INVOICES}/{one['id']}", expect=200).data["state"] == "paid"
    refused = udyog_client.post(
        url, json={"version": payment["version"], "invoice_id": two["id"], "amount": "200.00"}, expect=422
    )
    assert "unallocated" in refused.errors["amount"][0]
    udyog_client.post(url, json={"version": 1, "invoice_id": two["id"], "amount": "1.00"}, expect=409)  # stale
    payment = udyog_client.post(
        url, json={"version": payment["version"], "invoice_id": two["id"], "amount": "190.00"}, expect=200
    ).data
    current = udyog_client.get(f"{INVOICES}/{two['id']}", expect=200).data
    assert (current["paid_amount"], current["balance"], current["state"]) == ("190.00", "30.00", "issued")
    refused = udyog_client.post(
        PAYMENTS, json={"customer_id": w["c1"], "amount": "0", "allocations": [{"invoice_id": two["id"]}]}, expect=422
    )
    assert set(refused.errors) == {"amount", "allocations.0.amount"}


def test_a_cancelled_payment_reverses_its_allocations_and_the_outstanding(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    one = invoiced(udyog_client, w, "1")  # 110.00
    two = invoiced(udyog_client, w, "2")  # 220.00
    payment = udyog_client.post(
        PAYMENTS,
        json={
            "customer_id": w["c1"],
            "amount": "300.00",
            "allocations": [{"invoice_id": one["id"], "amount": "110.00"}, {"invoice_id": two["id"], "amount": "100"}],
        },
        expect=201,
    ).data
    assert payment["state"] == "received"
    assert outstanding(udyog_tenant, w["c1"]) == D("30.00")
    assert udyog_client.get(f"{INVOICES}/{one['id']}", expect=200).data["state"] == "paid"

    udyog_client.delete(f"{PAYMENTS}/{payment['id']}", expect=409)  # never deleted: cancelled
    cancelled = udyog_client.post(
        f"{PAYMENTS}/{payment['id']}/cancel", json={"version": payment["version"]}, expect=200
    ).data
    assert cancelled["state"] == "cancelled" and cancelled["number"] == payment["number"]
    assert outstanding(udyog_tenant, w["c1"]) == D("330.00")
    for invoice, total in ((one, "110.00"), (two, "220.00")):
        current = udyog_client.get(f"{INVOICES}/{invoice['id']}", expect=200).data
        assert (current["paid_amount"], current["balance"], current["state"]) == ("0.00", total, "issued")

    udyog_client.post(f"{PAYMENTS}/{payment['id']}/cancel", json={"version": cancelled["version"]}, expect=409)
    refused = udyog_client.post(
        f"{PAYMENTS}/{payment['id']}/allocate",
        json={"version": cancelled["version"], "invoice_id": one["id"], "amount": "1.00"},
        expect=409,
    )
    assert "cancelled" in refused.message
    # Nothing paid any more: the invoice can be cancelled now.
    version = udyog_client.get(f"{INVOICES}/{one['id']}", expect=200).data["version"]
    udyog_client.post(f"{INVOICES}/{one['id']}/cancel", json={"version": version}, expect=200)


def test_an_invoice_of_another_customer_is_not_allocated(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w)
    refused = udyog_client.post(
        PAYMENTS,
        json={"customer_id": w["c2"], "amount": "10", "allocations": [{"invoice_id": invoice["id"], "amount": "10"}]},
        expect=422,
    )
    assert refused.errors == {"allocations.0.invoice_id": ["an invoice of another customer"]}
    assert udyog_client.get(PAYMENTS, expect=200).data == []


def test_invoice_on_confirm_issues_the_invoice_in_the_confirmation(udyog_client, udyog_tenant):
    from sales_kit import invoice_on_confirm

    w = world(udyog_tenant)
    invoice_on_confirm(udyog_client)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p2", "1", None)), expect=201).data
    udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200)
    invoices = udyog_client.get(INVOICES, params={"order_id": made["id"]}, expect=200).data
    assert [(i["total"], i["state"]) for i in invoices] == [("275.00", "issued")]
    assert invoices[0]["lines"][0]["unit_price"] == "275.00"


@pytest.mark.udyog_user(roles=["Accountant"], permissions=["crm.customer.read"])
def test_an_accountant_handles_documents_but_not_orders(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    udyog_client.get(INVOICES, expect=200)
    refused = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=403)
    assert refused.errors == {"permission": ["sales.order.create"]}
    udyog_client.post(PAYMENTS, json={"customer_id": w["c1"], "amount": "5.00"}, expect=201)


def test_concurrent_invoice_actions_on_one_order_issue_one_invoice(
    udyog_client, udyog_tenant, udyog_user, udyog_client_factory
):
    import threading

    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    clients = [udyog_client_factory(udyog_user) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def invoice(client):
        barrier.wait()
        answer = client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": order["version"]})
        statuses.append(answer.status)

    threads = [threading.Thread(target=invoice, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert len(udyog_client.get(INVOICES, params={"order_id": made["id"]}, expect=200).data) == 1
