"""fssai's vigilance rules end to end (event or schedule → background job → alert), and fssai without vigilance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fssai_kit import BATCHES, ORDERS, draft, fix_clock, make_batch, order, world
from sqlalchemy import select

PLUGINS = ("crm", "inventory", "sales", "fssai", "vigilance")
pytestmark = pytest.mark.udyog_plugins("fssai", "vigilance")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """fssai with vigilance; background jobs run eagerly when the emitting transaction commits."""
    return kernel_factory(PLUGINS, backend=backend, jobs_eager=True)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    fix_clock(monkeypatch)


def alerts(tenant: Any, rule_key: str) -> list[Any]:
    """The tenant's alerts of one rule, oldest first (detached)."""
    from udyog_vigilance.models import Alert

    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(
            select(Alert).where(Alert.rule_key == rule_key).order_by(Alert.first_seen, Alert.subject)
        ).all()
        scope.session.expunge_all()
        return list(rows)


def run_scheduled(tenant: Any, rule_key: str) -> None:
    """Evaluate a scheduled rule for the tenant as its daily run does, and commit."""
    from udyog_vigilance.engine import evaluate_rule_now

    with tenant.scope() as scope:
        assert evaluate_rule_now(rule_key) is not None
        scope.session.commit()


def _act(client: Any, order_id: str, action: str, expect: int) -> Any:
    current = client.get(f"{ORDERS}/{order_id}", expect=200).data
    return client.post(f"{ORDERS}/{order_id}/{action}", json={"version": current["version"]}, expect=expect)


def test_a_refused_despatch_of_a_held_batch_raises_a_critical_alert_that_survives_the_rollback(
    udyog_client, udyog_tenant
):
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10", number="B-7")
    made = order(udyog_client, w, "3")
    udyog_client.post(f"{BATCHES}/{batch['id']}/hold", json={"version": batch["version"], "reason": "leak"}, expect=200)
    assert alerts(udyog_tenant, "fssai.expired_or_held_despatch") == []
    _act(udyog_client, made["id"], "deliver", 409)
    [alert] = alerts(udyog_tenant, "fssai.expired_or_held_despatch")
    assert (alert.subject, alert.severity, alert.state) == (f"despatch:{made['id']}", "critical", "open")
    assert alert.title == f"Despatch of order {made['number']} refused: batch B-7 on hold"
    assert alert.link == f"/sales/orders/{made['id']}" and "batch B-7 is on hold: leak" in alert.detail
    assert alert.data["batches"][0]["batch_id"] == batch["id"]
    _act(udyog_client, made["id"], "deliver", 409)  # tried again: the same alert, counted
    _act(udyog_client, made["id"], "invoice", 409)  # invoicing a held batch: an alert of its own
    despatch, invoice = alerts(udyog_tenant, "fssai.expired_or_held_despatch")
    assert despatch.id == alert.id and despatch.occurrences == 2
    assert invoice.subject == f"invoice:{made['id']}" and invoice.title.startswith("Invoicing of order")
    # the refused operations themselves left nothing behind
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "confirmed"


def test_an_order_that_only_expired_stock_could_serve_is_refused_and_alerted(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-06-01", "2026-11-19", quantity="10", number="OLD")
    made = draft(udyog_client, w, "3")
    udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=409)
    [alert] = alerts(udyog_tenant, "fssai.expired_or_held_despatch")
    assert alert.subject == f"allocate:{made['id']}" and alert.title.endswith("batch OLD expired")
    assert udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data["state"] == "draft"


def test_a_despatch_of_good_batches_raises_nothing(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10")
    made = order(udyog_client, w, "3")
    _act(udyog_client, made["id"], "deliver", 200)
    assert alerts(udyog_tenant, "fssai.expired_or_held_despatch") == []


def test_batches_near_expiry_are_alerted_daily_with_expired_ones_critical(udyog_client, udyog_tenant, monkeypatch):
    w = world(udyog_tenant)
    soon = make_batch(udyog_client, w, "2026-06-01", "2026-12-01", quantity="5", number="SOON")  # 11 days
    make_batch(udyog_client, w, "2026-06-01", "2027-02-01", quantity="5", number="LATER")  # 73 days: outside 30
    gone = make_batch(udyog_client, w, "2026-01-01", "2026-11-18", quantity="2", number="GONE")  # expired
    run_scheduled(udyog_tenant, "fssai.batch_near_expiry")
    expired, near = sorted(alerts(udyog_tenant, "fssai.batch_near_expiry"), key=lambda a: a.title)
    assert near.subject == f"batch:{soon['id']}" and near.severity == "warning"
    assert (
        near.title == "Batch SOON of GHEE expires in 11 days (01-12-2026)"
        and near.link == f"/fssai/batches/{soon['id']}"
    )
    assert "5.000 on hand in W1" in near.detail
    assert expired.subject == f"batch:{gone['id']}" and expired.severity == "critical"
    assert expired.title == "Batch GONE of GHEE expired on 18-11-2026 with stock on hand"
    # the next day's run sees the same batches again: the same alerts, counted
    fix_clock(monkeypatch, dt.datetime(2026, 11, 21, 6, 0, tzinfo=dt.UTC))
    run_scheduled(udyog_tenant, "fssai.batch_near_expiry")
    again = {a.subject: a for a in alerts(udyog_tenant, "fssai.batch_near_expiry")}
    assert set(again) == {near.subject, expired.subject} and again[near.subject].occurrences == 2
    assert again[near.subject].title == "Batch SOON of GHEE expires in 10 days (01-12-2026)"


def test_a_near_expiry_alert_clears_when_the_stock_is_gone(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    make_batch(udyog_client, w, "2026-06-01", "2026-12-01", quantity="3", number="SOON")
    run_scheduled(udyog_tenant, "fssai.batch_near_expiry")
    [alert] = alerts(udyog_tenant, "fssai.batch_near_expiry")
    made = order(udyog_client, w, "3")
    _act(udyog_client, made["id"], "deliver", 200)  # the whole batch despatched: nothing left to expire
    run_scheduled(udyog_tenant, "fssai.batch_near_expiry")
    [cleared] = alerts(udyog_tenant, "fssai.batch_near_expiry")
    assert cleared.id == alert.id and cleared.state == "resolved" and cleared.resolution_note == "condition cleared"
