"""Recall: hold, forward trace, recoveries, the report (JSON, PDF, Excel, page); expiry monitoring; pages."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fssai_kit import BATCHES, ORDERS, RECALLS, fix_clock, make_batch, order, world

pytestmark = pytest.mark.udyog_plugins("fssai")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    fix_clock(monkeypatch)


def _act(client, order_id: str, action: str, expect: int = 200):
    current = client.get(f"{ORDERS}/{order_id}", expect=200).data
    return client.post(f"{ORDERS}/{order_id}/{action}", json={"version": current["version"]}, expect=expect)


def _shipped(client, w, quantity: str, customer: str, *, invoice: bool = True) -> dict:
    made = order(client, w, quantity, customer=customer)
    _act(client, made["id"], "deliver")
    if invoice:
        _act(client, made["id"], "invoice", 201)
    return client.get(f"{ORDERS}/{made['id']}", expect=200).data


def test_a_recall_holds_the_batch_traces_it_and_records_recoveries(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="20", number="GH-2610-07")
    one = _shipped(udyog_client, w, "5", "c1")
    two = _shipped(udyog_client, w, "3", "c2", invoice=False)
    three = _shipped(udyog_client, w, "2", "c1")
    pending = order(udyog_client, w, "4", customer="c2")  # confirmed, not despatched yet
    cancelled = order(udyog_client, w, "1", customer="c2")
    _act(udyog_client, cancelled["id"], "cancel")

    recall = udyog_client.post(
        RECALLS,
        json={"batch_id": batch["id"], "reason": "foreign matter", "recall_class": "I", "depth": "consumer"},
        expect=201,
    ).data
    assert recall["number"] == "RC/2026-27/001" and recall["state"] == "open"
    assert recall["started_on"] == "2026-11-20" and recall["deadline"] == "2026-11-30"  # the setting: 10 days
    held = udyog_client.get(f"{BATCHES}/{batch['id']}", expect=200).data
    assert held["on_hold"] and held["hold_reason"] == "recall RC/2026-27/001: foreign matter"
    again = udyog_client.post(RECALLS, json={"batch_id": batch["id"], "reason": "again"}, expect=409)
    assert "batch_id" in again.errors
    # the hold stops the confirmed order at once
    assert "on hold" in _act(udyog_client, pending["id"], "deliver", 409).errors["order"][0]
    release = udyog_client.post(f"{BATCHES}/{batch['id']}/release", json={"version": held["version"]}, expect=409)
    assert "RC/2026-27/001" in release.errors["on_hold"][0]

    trace = udyog_client.get(f"{BATCHES}/{batch['id']}/trace", expect=200).data
    assert trace["batch_number"] == "GH-2610-07" and trace["despatched"] == "10.000"
    by_order = {r["order_number"]: r for r in trace["rows"]}
    assert set(by_order) == {one["number"], two["number"], three["number"], pending["number"]}
    assert by_order[one["number"]]["customer_name"] == "Sunrise Distributors"
    assert by_order[one["number"]]["invoice_number"] and by_order[one["number"]]["quantity"] == "5.000"
    assert by_order[one["number"]]["despatched_on"] is not None
    assert by_order[two["number"]]["invoice_number"] is None
    assert by_order[pending["number"]]["despatched_on"] is None
    totals = {c["customer_code"]: (c["orders"], c["despatched"]) for c in trace["customers"]}
    assert totals == {"C1": (2, "7.000"), "C2": (2, "3.000")}

    url = f"{RECALLS}/{recall['id']}/recoveries"
    too_much = udyog_client.post(url, json={"customer_id": w["c2"], "quantity": "3.5"}, expect=422)
    assert too_much.errors["quantity"][0].startswith("at most 3")
    udyog_client.post(url, json={"customer_id": w["c1"], "quantity": "4", "note": "from the depot"}, expect=201)
    udyog_client.post(url, json={"customer_id": w["c1"], "quantity": "3"}, expect=201)
    udyog_client.post(url, json={"customer_id": w["c2"], "quantity": "1"}, expect=201)
    over = udyog_client.post(url, json={"customer_id": w["c1"], "quantity": "0.001"}, expect=422)
    assert "quantity" in over.errors
    report = udyog_client.get(f"{RECALLS}/{recall['id']}/report", expect=200).data
    assert (report["despatched"], report["recovered"]) == ("10.000", "8.000")
    rows = {c["customer_code"]: (c["despatched"], c["recovered"], c["outstanding"]) for c in report["customers"]}
    assert rows == {"C1": ("7.000", "7.000", "0.000"), "C2": ("3.000", "1.000", "2.000")}
    assert len(udyog_client.get("/api/v1/fssai/recoveries", expect=200).data) == 3

    pdf = udyog_client.request("GET", f"{RECALLS}/{recall['id']}/report.pdf", expect=200)
    assert (
        pdf.headers["Content-Type"] == "application/pdf"
        and "recall-RC-2026-27-001.pdf" in pdf.headers["Content-Disposition"]
    )
    xlsx = udyog_client.request("GET", f"{RECALLS}/{recall['id']}/report.xlsx", expect=200)
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    workbook = udyog_web_client.get(f"/fssai/recalls/{recall['id']}/report.xlsx")
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["Code", "Customer", "Orders", "Despatched", "Recovered", "Not recovered"]
    assert values[1][:2] == ["C2", "Kaveri Traders"] and float(values[1][5]) == 2.0

    page = udyog_web_client.get(f"/fssai/recalls/{recall['id']}")
    assert page.status_code == 200 and "Kaveri Traders" in page.text and "recall-recovery-form" in page.text
    assert udyog_web_client.get(f"/fssai/recalls/{recall['id']}/report.pdf").data.startswith(b"%PDF")
    assert udyog_web_client.get(f"/fssai/batches/{batch['id']}").status_code == 200

    closed = udyog_client.post(f"{RECALLS}/{recall['id']}/close", json={"version": recall["version"]}, expect=200)
    assert closed.data["state"] == "closed"
    udyog_client.post(url, json={"customer_id": w["c2"], "quantity": "1"}, expect=409)
    current = udyog_client.get(f"{BATCHES}/{batch['id']}", expect=200).data
    udyog_client.post(f"{BATCHES}/{batch['id']}/release", json={"version": current["version"]}, expect=200)


def test_a_recovery_from_a_customer_that_received_nothing_is_refused(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="20")
    _shipped(udyog_client, w, "5", "c1")
    recall = udyog_client.post(RECALLS, json={"batch_id": batch["id"], "reason": "label error"}, expect=201).data
    refused = udyog_client.post(
        f"{RECALLS}/{recall['id']}/recoveries", json={"customer_id": w["c2"], "quantity": "1"}, expect=422
    )
    assert refused.errors == {"customer_id": ["nothing of this batch was despatched to this customer"]}
    refused = udyog_client.post(RECALLS, json={"batch_id": batch["id"], "reason": " "}, expect=422)


def test_the_expiry_watch_lists_batches_within_the_window_and_expired_stock(
    udyog_client, udyog_tenant, udyog_web_client
):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-05-01", "2026-11-19", quantity="5", number="EXPIRED")
    make_batch(udyog_client, w, "2026-06-01", "2026-12-20", quantity="5", number="IN-30")  # 30 days left
    make_batch(udyog_client, w, "2026-06-01", "2026-12-21", quantity="5", number="OUT-31")  # 31 days left
    make_batch(udyog_client, w, "2026-06-01", "2026-12-01", quantity="5", number="EMPTY")
    import uuid

    from udyog_inventory import services as stock

    with udyog_tenant.scope() as scope:
        from sqlalchemy import select
        from udyog_fssai.models import Batch

        empty = scope.session.scalar(select(Batch).where(Batch.number == "EMPTY"))
        stock.adjust(uuid.UUID(w["ghee"]), uuid.UUID(w["w1"]), -5, lot_id=empty.lot_id, note="sold off")
        scope.session.commit()
    rows = udyog_client.get("/api/v1/fssai/expiry", expect=200).data
    assert [(r["number"], r["status"], r["days_left"], r["on_hand"]) for r in rows] == [
        ("EXPIRED", "expired", -1, "5.000"),
        ("IN-30", "near_expiry", 30, "5.000"),
    ]
    wider = udyog_client.get("/api/v1/fssai/expiry", params={"window_days": 31}, expect=200).data
    assert [r["number"] for r in wider] == ["EXPIRED", "IN-30", "OUT-31"]
    udyog_client.get("/api/v1/fssai/expiry", params={"window_days": -1}, expect=422)
    page = udyog_web_client.get("/fssai/expiry")
    assert page.status_code == 200 and "IN-30" in page.text and "OUT-31" not in page.text

    from udyog_fssai import services

    with udyog_tenant.scope() as scope:
        assert services.expiry_scan() == {"near_expiry": 1, "expired": 1}
        assert services.expiry_scan() == {"near_expiry": 0, "expired": 0}  # once per batch and kind
        scope.session.commit()
    events = _events(udyog_tenant)
    assert sorted(e for e in events if e[0].startswith("fssai.batch.") and e[0] != "fssai.batch.created") == [
        ("fssai.batch.expired", "EXPIRED"),
        ("fssai.batch.near_expiry", "IN-30"),
    ]


def _events(tenant) -> list[tuple[str, str]]:
    """(name, batch number) of the tenant's outbox events, read through the SDK's base registry."""
    from sqlalchemy import select

    from udyog_sdk.models import Base

    outbox = next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_outbox")
    with tenant.scope(write=False) as scope:
        rows = scope.session.execute(select(outbox.name, outbox.payload)).all()
    return [(name, (payload or {}).get("number", "")) for name, payload in rows]


def test_the_daily_scan_is_a_schedule_of_the_scan_task(udyog_client, udyog_tenant):
    from udyog_fssai import hooks

    (schedule,) = hooks.udyog_schedules()
    (task,) = hooks.udyog_tasks()
    assert (schedule.name, schedule.task, schedule.cron) == ("fssai.daily_expiry_scan", task.name, "45 0 * * *")
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-06-01", "2026-12-01", quantity="5", number="SOON")
    with udyog_tenant.scope() as scope:
        assert task.func(None) == {"near_expiry": 1, "expired": 0}
        scope.session.commit()


def test_the_list_pages_and_the_menu(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="3", number="PG-1")
    for path in ("/fssai/batches", "/fssai/recalls", "/fssai/licences", "/fssai/recoveries", "/fssai/batches/new"):
        assert udyog_web_client.get(path).status_code == 200, path
    assert "PG-1" in udyog_web_client.get("/fssai/batches").text


def test_the_batch_page_records_qc_and_holds(udyog_client, udyog_tenant, udyog_web_client):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="3", qc="pending")
    answer = udyog_web_client.submit(
        f"/fssai/batches/{batch['id']}/qc",
        {"version": str(batch["version"]), "status": "passed", "inspector": "S. Patil", "notes": ""},
    )
    assert answer.status_code == 303
    current = udyog_client.get(f"{BATCHES}/{batch['id']}", expect=200).data
    assert current["qc_status"] == "passed"
    udyog_web_client.submit(f"/fssai/batches/{batch['id']}/hold", {"version": str(current["version"]), "reason": "x"})
    assert udyog_client.get(f"{BATCHES}/{batch['id']}", expect=200).data["on_hold"] is True


def test_dates_are_the_tenants(udyog_client, udyog_tenant, monkeypatch):
    """00:30 on 1 April in Kolkata is still 31 March in UTC: the recall starts on 1 April."""
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="3")
    fix_clock(monkeypatch, dt.datetime(2027, 3, 31, 19, 0, tzinfo=dt.UTC))
    recall = udyog_client.post(RECALLS, json={"batch_id": batch["id"], "reason": "r"}, expect=201).data
    assert recall["started_on"] == "2027-04-01" and recall["number"] == "RC/2027-28/001"
