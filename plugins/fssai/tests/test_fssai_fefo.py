"""FEFO allocation, the blocks (expired, held, failed, customer minimum), licence checks and invoice details."""

from __future__ import annotations

import datetime as dt

import pytest
from fssai_kit import (
    BATCHES,
    CUSTOMERS,
    INVOICES,
    LICENCES,
    ORDERS,
    draft,
    fix_clock,
    make_batch,
    order,
    reserved_lots,
    world,
)

from udyog_sdk import hookimpl

pytestmark = pytest.mark.udyog_plugins("fssai")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    fix_clock(monkeypatch)


def _act(client, order_id: str, action: str, expect: int):
    current = client.get(f"{ORDERS}/{order_id}", expect=200).data
    return client.post(f"{ORDERS}/{order_id}/{action}", json={"version": current["version"]}, expect=expect)


def test_earliest_expiry_first_whatever_the_receipt_date(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    # received first, expires last; received last, expires first
    make_batch(udyog_client, w, "2026-09-01", "2027-09-01", quantity="10", number="A-LATE")
    make_batch(udyog_client, w, "2026-10-01", "2027-01-15", quantity="4", number="B-EARLY")
    make_batch(udyog_client, w, "2026-11-01", "2027-03-01", quantity="5", number="C-MID")
    one = order(udyog_client, w, "6")
    assert reserved_lots(udyog_tenant, one["id"]) == [("B-EARLY", 4), ("C-MID", 2)]
    two = order(udyog_client, w, "5")
    assert reserved_lots(udyog_tenant, two["id"]) == [("A-LATE", 2), ("C-MID", 3)]


def test_never_expired_held_or_failed_batches(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-05-01", "2026-11-19", quantity="5", number="EXPIRED")  # expired yesterday
    make_batch(udyog_client, w, "2026-05-01", "2026-11-20", quantity="1", number="TODAY")  # usable today
    make_batch(udyog_client, w, "2026-06-01", "2026-12-01", quantity="5", number="FAILED", qc="failed")
    make_batch(udyog_client, w, "2026-06-01", "2026-12-02", quantity="5", number="PENDING", qc="pending")
    held = make_batch(udyog_client, w, "2026-06-01", "2026-12-03", quantity="5", number="HELD")
    udyog_client.post(f"{BATCHES}/{held['id']}/hold", json={"version": held["version"], "reason": "leak"}, expect=200)
    make_batch(udyog_client, w, "2026-07-01", "2027-07-01", quantity="3", number="GOOD")
    made = order(udyog_client, w, "4")
    assert reserved_lots(udyog_tenant, made["id"]) == [("GOOD", 3), ("TODAY", 1)]
    short = draft(udyog_client, w, "1")
    refused = udyog_client.post(f"{ORDERS}/{short['id']}/confirm", json={"version": short["version"]}, expect=409)
    reason = refused.errors["lines.0.quantity"][0]
    assert reason.startswith("only 0 of GHEE can be allocated")
    for why in ("EXPIRED expired on 19-11-2026", "FAILED has QC failed", "PENDING has QC pending", "HELD is on hold"):
        assert why in reason


def test_inventorys_default_allocation_skips_blocked_batches_too(udyog_client, udyog_tenant):
    from udyog_inventory import services as stock

    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-05-01", "2026-11-19", quantity="5", number="OLD")
    make_batch(udyog_client, w, "2026-06-01", "2027-06-01", quantity="5", number="NEW")
    import uuid

    with udyog_tenant.scope(write=False):
        got = stock.allocate(uuid.UUID(w["ghee"]), uuid.UUID(w["w1"]), 5)
    assert len(got) == 1 and got[0].quantity == 5


def test_a_customers_minimum_remaining_shelf_life(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-06-01", "2027-01-19", quantity="5", number="SIXTY")  # 60 days left
    make_batch(udyog_client, w, "2026-06-01", "2027-01-18", quantity="5", number="FIFTY9")  # 59 days left
    make_batch(udyog_client, w, "2026-09-01", "2027-09-01", quantity="5", number="LONG")
    customer = udyog_client.get(f"{CUSTOMERS}/{w['c1']}", expect=200).data
    assert customer["min_remaining_days"] is None
    udyog_client.patch(
        f"{CUSTOMERS}/{w['c1']}", json={"version": customer["version"], "min_remaining_days": 60}, expect=200
    )
    demanding = order(udyog_client, w, "7", customer="c1")
    assert reserved_lots(udyog_tenant, demanding["id"]) == [("LONG", 2), ("SIXTY", 5)]
    relaxed = order(udyog_client, w, "5", customer="c2")  # no minimum: the earliest expiry first
    assert reserved_lots(udyog_tenant, relaxed["id"]) == [("FIFTY9", 5)]


def test_products_without_lots_keep_the_default_allocation(udyog_client, udyog_tenant):
    from udyog_inventory import services as stock

    w = world(udyog_tenant)
    import uuid

    with udyog_tenant.scope() as scope:
        stock.receive(uuid.UUID(w["salt"]), uuid.UUID(w["w1"]), 50, unit_cost=10)
        scope.session.commit()
    made = order(udyog_client, w, "5", product="salt")
    assert made["state"] == "confirmed"


def test_the_allocation_is_recorded_and_printed_on_the_invoice(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-11-01", "2027-01-30", quantity="2", number="SHORT")  # 90 days: DD/MM/YY
    make_batch(udyog_client, w, "2026-10-02", "2027-06-29", quantity="9", number="LONG")  # month and year
    made = order(udyog_client, w, "3")
    _act(udyog_client, made["id"], "deliver", 200)
    invoice = _act(udyog_client, made["id"], "invoice", 201).data
    from sqlalchemy import select
    from udyog_fssai.models import Allocation

    from udyog_sales import services as sales
    from udyog_sales.models import Invoice

    with udyog_tenant.scope(write=False) as scope:
        rows = scope.session.execute(select(Allocation.line_no, Allocation.quantity)).all()
        assert sorted(rows) == [(1, 1), (1, 2)]
        details = sales.invoice_line_details(scope.session.scalar(select(Invoice)))
    assert details == {
        1: [
            "Batch SHORT · Mfg 01/11/26 · Use by 30/01/27 · Qty 2",
            "Batch LONG · Mfg OCT 2026 · Use by JUN 2027 · Qty 1",
        ]
    }
    page = udyog_web_client.get(f"/sales/invoices/{invoice['id']}")
    assert page.status_code == 200
    assert "Batch SHORT · Mfg 01/11/26 · Use by 30/01/27 · Qty 2" in page.text  # sales' invoice page prints them


def test_a_held_batch_stops_despatch_and_invoicing_at_once(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10", number="B-7")
    made = order(udyog_client, w, "3")
    udyog_client.post(
        f"{BATCHES}/{batch['id']}/hold", json={"version": batch["version"], "reason": "recall"}, expect=200
    )
    refused = _act(udyog_client, made["id"], "deliver", 409)
    assert refused.errors == {"order": ["batch B-7 is on hold: recall"]}
    refused = _act(udyog_client, made["id"], "invoice", 409)
    assert refused.errors == {"invoice": ["batch B-7 is on hold: recall"]}
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "confirmed"
    assert udyog_client.get(INVOICES, expect=200).data == []


def test_a_batch_that_expired_after_confirmation_is_not_despatched(udyog_client, udyog_tenant, monkeypatch):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-06-01", "2026-11-25", quantity="10", number="SOON")
    made = order(udyog_client, w, "3")
    fix_clock(monkeypatch, dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC))
    refused = _act(udyog_client, made["id"], "deliver", 409)
    assert refused.errors == {"order": ["batch SOON expired on 25-11-2026"]}


def _licence(client, w, expires_on: str) -> None:
    body = {"branch_id": w["branch"], "number": "11526027000123", "expires_on": expires_on}
    client.post(LICENCES, json=body, expect=201)


def test_an_expired_licence_refuses_despatch_and_invoicing(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10")
    _licence(udyog_client, w, "2026-11-19")
    made = order(udyog_client, w, "2")
    message = "the FSSAI licence 11526027000123 of branch PUNE expired on 19-11-2026: renew it first"
    assert _act(udyog_client, made["id"], "deliver", 409).errors == {"order": [message]}
    assert _act(udyog_client, made["id"], "invoice", 409).errors == {"invoice": [message]}


def test_the_licence_is_valid_through_its_expiry_date_in_the_tenants_timezone(udyog_client, udyog_tenant, monkeypatch):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10")
    _licence(udyog_client, w, "2027-03-31")
    first = order(udyog_client, w, "1")
    second = order(udyog_client, w, "1")
    # 31 March 23:30 in Kolkata (18:00 UTC): the licence's last day
    fix_clock(monkeypatch, dt.datetime(2027, 3, 31, 18, 0, tzinfo=dt.UTC))
    _act(udyog_client, first["id"], "deliver", 200)
    # 1 April 00:30 in Kolkata, though still 31 March in UTC: expired
    fix_clock(monkeypatch, dt.datetime(2027, 3, 31, 19, 0, tzinfo=dt.UTC))
    refused = _act(udyog_client, second["id"], "deliver", 409)
    assert "expired on 31-03-2027" in refused.errors["order"][0]


def test_a_missing_licence_is_refused_only_when_the_setting_asks(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10")
    made = order(udyog_client, w, "1")
    version = udyog_client.get("/api/v1/core/settings/fssai", expect=200).data["version"]
    udyog_client.patch(
        "/api/v1/core/settings/fssai", json={"version": version, "values": {"require_licence": True}}, expect=200
    )
    refused = _act(udyog_client, made["id"], "deliver", 409)
    assert refused.errors == {"order": ["branch PUNE has no FSSAI licence on record"]}


class _BlocksEverything:
    @hookimpl
    def inventory_lot_blocked(self, lot_ids):
        return {lot_id: "quarantined by another plugin" for lot_id in lot_ids}


def test_fefo_respects_other_plugins_blocks(udyog_client, udyog_tenant, udyog_kernel):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10")
    udyog_kernel.pm.register(_BlocksEverything(), name="zz_blocks")
    udyog_kernel.bus.refresh(udyog_kernel.registry.order)
    made = draft(udyog_client, w, "1")
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=409)
    assert "quarantined by another plugin" in refused.errors["lines.0.quantity"][0]


def test_a_tenant_without_fssai_confirms_delivers_and_invoices(udyog_other_client, udyog_other_tenant):
    w = world(udyog_other_tenant)
    disabled = udyog_other_client.post("/api/v1/core/plugins/fssai/disable", expect=200).data
    assert "fssai" not in disabled["enabled_plugins"] and "sales" in disabled["enabled_plugins"]
    import uuid

    from udyog_inventory import services as stock

    with udyog_other_tenant.scope() as scope:
        lot = stock.ensure_lot(uuid.UUID(w["ghee"]), "PLAIN-1")
        stock.receive(uuid.UUID(w["ghee"]), uuid.UUID(w["w1"]), 5, unit_cost=400, lot_id=lot.id)
        scope.session.commit()
    made = order(udyog_other_client, w, "2")
    assert made["state"] == "confirmed"
    _act(udyog_other_client, made["id"], "deliver", 200)
    invoice = _act(udyog_other_client, made["id"], "invoice", 201).data
    assert invoice["number"]
    udyog_other_client.get(BATCHES, expect=404)
    assert "shelf_life_days" not in udyog_other_client.get(f"/api/v1/inventory/products/{w['ghee']}", expect=200).data
