"""Orders: pricing by hand, the credit limit, the all-or-nothing confirmation, lifecycle, cancellation, record rules."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")

import pytest
from sales_kit import ORDERS, balance, invoice_on_confirm, moves, order_body, outstanding, register, world
from sqlalchemy import select

from udyog_sales import pricing
from udyog_sales.models import Invoice, Order, Reservation
from udyog_sdk import UdyogError, hookimpl

pytestmark = pytest.mark.udyog_plugins("sales")


def test_pricing_arithmetic_by_hand():
    assert pricing.unit_price(D("100.00"), D("10.00")) == D("110.00")
    assert pricing.unit_price(D("99.99"), D("7.50")) == D("107.49")  # 107.48925 → half up
    assert pricing.line_amount(D("3"), D("110.00"), D("5.00")) == D("313.50")
    assert pricing.order_discount(D("1000.00"), D("2.50")) == D("25.00")
    shares = pricing.spread([D("313.50"), D("550.00")], D("17.27"))
    assert sum(shares) == D("863.50") - D("17.27") and shares == [D("307.23"), D("539.00")]
    assert pricing.spread([D("0.00"), D("10.00")], D("1.00")) == [D("0.00"), D("9.00")]


def test_a_confirmation_prices_lines_with_margin_and_both_discounts(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="10.00")
    made = udyog_client.post(
        ORDERS, json=order_body(w, ("p1", "3", "5.00"), ("p2", "2", None), discount_pct="2.00"), expect=201
    ).data
    assert made["state"] == "draft" and made["number"].startswith("SO/") and made["total"] == "0.00"
    done = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200).data
    # P1: 100 x 1.10 = 110.00; 3 x 110 = 330 less 5% = 313.50. P2: 250 x 1.10 = 275.00; 2 x 275 = 550.00.
    one, two = done["lines"]
    assert (one["unit_price"], one["amount"]) == ("110.00", "313.50")
    assert (two["unit_price"], two["amount"]) == ("275.00", "550.00")
    # Subtotal 863.50; order discount 2% = 17.27; total 846.23 (no tax by default).
    assert (done["subtotal"], done["discount_amount"], done["tax_total"], done["total"]) == (
        "863.50",
        "17.27",
        "0.00",
        "846.23",
    )
    assert D(one["taxable"]) + D(two["taxable"]) == D("846.23")
    assert done["state"] == "confirmed" and done["confirmed_at"]
    assert outstanding(udyog_tenant, w["c1"]) == D("846.23")
    assert balance(udyog_tenant, w["p1"]) == (D("100"), D("3")) and balance(udyog_tenant, w["p2"]) == (D("100"), D("2"))


def test_drafts_are_editable_and_confirmed_orders_are_not(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    changed = udyog_client.patch(
        f"{ORDERS}/{made['id']}",
        json={"version": made["version"], "lines": [{"product_id": w["p2"], "quantity": "4"}], "notes": "call first"},
        expect=200,
    ).data
    assert [(ln["product_id"], ln["quantity"]) for ln in changed["lines"]] == [(w["p2"], "4.000")]
    confirmed = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": changed["version"]}, expect=200)
    refused = udyog_client.patch(
        f"{ORDERS}/{made['id']}", json={"version": confirmed.data["version"], "notes": "late"}, expect=409
    )
    assert "confirmed" in refused.message
    udyog_client.delete(f"{ORDERS}/{made['id']}", expect=409)
    refused = udyog_client.post(ORDERS, json=order_body(w, ("p1", "0", None), ("p1", "1", "101")), expect=422)
    assert set(refused.errors) == {"lines.0.quantity", "lines.1.discount_pct"}


SELLER = ["sales.order.read", "sales.order.create", "sales.order.confirm", "crm.customer.read"]


@pytest.mark.udyog_user(permissions=SELLER)
def test_the_credit_limit_refuses_a_confirmation_naming_it(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    first = udyog_client.post(ORDERS, json=order_body(w, ("p1", "6", None)), expect=201).data
    udyog_client.post(f"{ORDERS}/{first['id']}/confirm", json={"version": 1}, expect=200)  # 600 of 1000
    second = udyog_client.post(ORDERS, json=order_body(w, ("p1", "5", None)), expect=201).data
    refused = udyog_client.post(f"{ORDERS}/{second['id']}/confirm", json={"version": 1}, expect=409)
    assert "credit limit" in refused.message and "1000.00" in refused.message
    assert "credit_limit" in refused.errors
    assert outstanding(udyog_tenant, w["c1"]) == D("600.00")
    assert balance(udyog_tenant, w["p1"]) == (D("100"), D("6"))
    assert udyog_client.get(f"{ORDERS}/{second['id']}", expect=200).data["state"] == "draft"


@pytest.mark.udyog_user(roles=["Sales Executive"], permissions=["sales.order.credit_override", "crm.customer.read"])
def test_the_override_permission_passes_the_credit_limit(udyog_client, udyog_tenant, udyog_user):
    w = world(udyog_tenant, margin="0.00", credit_limit="100.00", owner_id=udyog_user.id)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p2", "1", None)), expect=201).data
    udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200)
    assert outstanding(udyog_tenant, w["c1"]) == D("250.00")


class _FailLate:
    """A plugin that refuses at the last step of a confirmation (after the invoice was numbered)."""

    @hookimpl
    def sales_after_confirm(self, order):
        raise UdyogError("after-confirm refused", status=409, errors={"order": ["refused late"]})


def test_a_failure_at_a_late_step_leaves_nothing_behind(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant, credit_limit="100000.00")
    invoice_on_confirm(udyog_client)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", None), ("p2", "1", None)), expect=201).data
    register(udyog_kernel, _FailLate(), "zz_fail_late")
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=409)
    assert refused.errors == {"order": ["refused late"]}
    with udyog_tenant.scope(write=False) as scope:
        order = scope.session.scalar(select(Order).where(Order.id == uuid.UUID(made["id"])))
        assert order.state == "draft" and order.total == 0 and order.confirmed_at is None
        assert scope.session.scalars(select(Reservation)).all() == []
        assert scope.session.scalars(select(Invoice)).all() == []
    assert moves(udyog_tenant, "reservation") == 0
    assert balance(udyog_tenant, w["p1"]) == (D("100"), D("0"))
    assert outstanding(udyog_tenant, w["c1"]) == D("0.00")
    udyog_kernel.pm.unregister(name="zz_fail_late")
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    done = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    invoices = udyog_client.get("/api/v1/sales/invoices", expect=200).data
    assert [i["number"].rsplit("/", 1)[1] for i in invoices] == ["0001"]  # the failed attempt's number came back
    assert invoices[0]["order_id"] == done["id"] and invoices[0]["total"] == done["total"]


def test_short_stock_refuses_the_confirmation(udyog_client, udyog_tenant):
    w = world(udyog_tenant, on_hand="5")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", None), ("p2", "6", None)), expect=201).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=409)
    assert any("quantity" in key for key in refused.errors)
    assert balance(udyog_tenant, w["p1"]) == (D("5"), D("0"))  # line 1's reservation was rolled back too
    assert outstanding(udyog_tenant, w["c1"]) == D("0.00")


def test_the_lifecycle_to_paid(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="0.00")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "2", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": order["version"]}, expect=201)
    order = udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data
    assert order["state"] == "confirmed"  # invoiced before delivery: invoiced once delivered
    order = udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": order["version"]}, expect=200).data
    assert order["state"] == "invoiced" and order["delivered_at"]
    assert balance(udyog_tenant, w["p1"]) == (D("98"), D("0"))
    assert moves(udyog_tenant, "issue") == 1
    udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": order["version"]}, expect=409)
    invoice = udyog_client.get("/api/v1/sales/invoices", params={"order_id": made["id"]}, expect=200).data[0]
    udyog_client.post(
        "/api/v1/sales/payments",
        json={
            "customer_id": w["c1"],
            "amount": "200.00",
            "allocations": [{"invoice_id": invoice["id"], "amount": "200.00"}],
        },
        expect=201,
    )
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "paid"
    assert outstanding(udyog_tenant, w["c1"]) == D("0.00")


def test_delivery_then_invoice(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": order["version"]}, expect=200).data
    assert order["state"] == "delivered"
    invoice = udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": order["version"]}, expect=201).data
    assert invoice["total"] == order["total"] == "110.00" and invoice["balance"] == "110.00"
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "invoiced"
    again = udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data
    udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": again["version"]}, expect=409)


def test_each_order_action_reads_the_order_once_and_for_update(udyog_client, udyog_tenant, udyog_kernel):
    from udyog.testing import statements_seen

    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    with statements_seen(udyog_kernel.db.engine) as seen:
        version = made["version"]
        for action in ("confirm", "deliver"):
            version = udyog_client.post(f"{ORDERS}/{made['id']}/{action}", json={"version": version}, expect=200).data[
                "version"
            ]
        udyog_client.post(f"{ORDERS}/{made['id']}/invoice", json={"version": version}, expect=201)
    reads = [s for s in seen if s.startswith(("SELECT", "select")) and " FROM sales_order " in f"{s} "]
    # One read per action (the lookup), not a second one by the service; locking on PostgreSQL
    # (SQLite serialises writing transactions and has no FOR UPDATE).
    assert len(reads) == 3, reads
    assert all("sales_order.id =" in r for r in reads)
    if udyog_kernel.db.dialect == "postgresql":
        assert all(r.endswith("FOR UPDATE") for r in reads), reads
    # a stale version still gets its 409 from the order read once
    udyog_client.post(f"{ORDERS}/{made['id']}/cancel", json={"version": 1}, expect=409)


def test_a_confirmation_reads_availability_once_and_no_reservations(udyog_client, udyog_tenant, udyog_kernel):
    from udyog.testing import statements_seen

    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "3", None), ("p2", "2", None)), expect=201).data
    plain: list[str] = []
    reservation_reads: list[str] = []

    def count(flat):
        if "SELECT" in flat and "FROM sales_reservation" in flat:
            reservation_reads.append(flat)
        # the plain availability reads (not the reservation's locking read of whole rows)
        if flat.startswith("SELECT inventory_balance.available ") or "sum(inventory_balance.available)" in flat:
            plain.append(flat)

    with statements_seen(udyog_kernel.db.engine, count):
        udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200)
    assert len(plain) == 1, plain  # both lines' availability; the reservation then locks and checks again
    assert "GROUP BY" in plain[0]
    assert reservation_reads == []  # a draft holds none: its reservations are added without reading any


def test_cancelling_a_confirmed_order_releases_stock_and_outstanding(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "4", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    assert outstanding(udyog_tenant, w["c1"]) == D("440.00")
    done = udyog_client.post(f"{ORDERS}/{made['id']}/cancel", json={"version": order["version"]}, expect=200).data
    assert done["state"] == "cancelled"
    assert balance(udyog_tenant, w["p1"]) == (D("100"), D("0")) and moves(udyog_tenant, "release") == 1
    assert outstanding(udyog_tenant, w["c1"]) == D("0.00")
    udyog_client.post(f"{ORDERS}/{made['id']}/cancel", json={"version": done["version"]}, expect=409)
    draft = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    assert udyog_client.post(f"{ORDERS}/{draft['id']}/cancel", json={"version": 1}, expect=200).data["state"] == (
        "cancelled"
    )


def test_a_delivered_order_is_not_cancelled(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": 1}, expect=200).data
    order = udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": order["version"]}, expect=200).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/cancel", json={"version": order["version"]}, expect=409)
    assert "credit note" in refused.message


def test_a_sales_executive_sees_own_orders_only(udyog_client, udyog_tenant, udyog_user_factory, udyog_client_factory):
    w = world(udyog_tenant)
    mine = udyog_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    executive = udyog_user_factory(roles=["Sales Executive"], permissions=["crm.customer.read"])
    client = udyog_client_factory(executive)
    theirs = client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=201).data
    assert theirs["owner_id"] == str(executive.id)
    assert [o["id"] for o in client.get(ORDERS, expect=200).data] == [theirs["id"]]
    client.get(f"{ORDERS}/{mine['id']}", expect=404)
    client.post(f"{ORDERS}/{mine['id']}/confirm", json={"version": 1}, expect=404)
    assert {o["id"] for o in udyog_client.get(ORDERS, expect=200).data} == {mine["id"], theirs["id"]}
    refused = client.post(f"{ORDERS}/{theirs['id']}/deliver", json={"version": 1}, expect=403)
    assert refused.errors == {"permission": ["sales.order.deliver"]}


def test_unknown_references_are_422(udyog_client, udyog_tenant, udyog_other_client):
    w = world(udyog_tenant)
    refused = udyog_client.post(ORDERS, json={**order_body(w, ("p1", "1", None)), "customer_id": w["w1"]}, expect=422)
    assert refused.errors == {"customer_id": ["no such customer"]}
    body = order_body(w, ("p1", "1", None))
    body["lines"][0]["product_id"] = w["c1"]
    assert udyog_client.post(ORDERS, json=body, expect=422).errors == {"lines.0.product_id": ["no such product"]}
    udyog_other_client.post(ORDERS, json=order_body(w, ("p1", "1", None)), expect=422)


@pytest.mark.udyog_user(permissions=SELLER)
def test_concurrent_confirmations_of_one_customer_cannot_both_pass_the_limit(
    udyog_client, udyog_tenant, udyog_user, udyog_client_factory
):
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    made = [udyog_client.post(ORDERS, json=order_body(w, ("p1", "3", None)), expect=201).data for _ in range(6)]
    clients = [udyog_client_factory(udyog_user) for _ in made]
    barrier = threading.Barrier(len(made))
    statuses: list[int] = []

    def confirm(client, order):
        barrier.wait()
        statuses.append(client.post(f"{ORDERS}/{order['id']}/confirm", json={"version": 1}).status)

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, made, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 409, 409, 409]  # 3 x 300 fit in 1000, a fourth does not
    assert outstanding(udyog_tenant, w["c1"]) == D("900.00")
    assert balance(udyog_tenant, w["p1"]) == (D("100"), D("9"))
