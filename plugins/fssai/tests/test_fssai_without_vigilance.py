"""fssai without vigilance (not installed for the tenant, not loaded): it loads, refuses, and records the attempt."""

from __future__ import annotations

from typing import Any

import pytest
from fssai_kit import BATCHES, ORDERS, fix_clock, make_batch, order, world
from sqlalchemy import select

pytestmark = pytest.mark.udyog_plugins("fssai")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    fix_clock(monkeypatch)


def refused_events(kernel: Any) -> list[Any]:
    """The outbox's ``fssai.batch.use_refused`` events (the core's table, read as the tests' system user)."""
    from udyog.models import OutboxEvent

    with kernel.db.session(all_tenants=True) as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.name == "fssai.batch.use_refused")))


def test_fssai_loads_refuses_a_held_batch_and_records_the_attempt_without_vigilance(
    udyog_kernel, udyog_client, udyog_tenant
):
    assert "vigilance" not in udyog_kernel.registry.loaded_names()
    assert "fssai" in udyog_kernel.registry.loaded_names()
    w = world(udyog_tenant)
    batch = make_batch(udyog_client, w, "2026-10-01", "2027-10-01", quantity="10", number="B-7")
    made = order(udyog_client, w, "3")
    udyog_client.post(f"{BATCHES}/{batch['id']}/hold", json={"version": batch["version"], "reason": "leak"}, expect=200)
    current = udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data
    refused = udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": current["version"]}, expect=409)
    assert refused.errors == {"order": ["batch B-7 is on hold: leak"]}
    [event] = refused_events(udyog_kernel)  # committed on its own, after the refused transaction rolled back
    assert event.payload["operation"] == "despatch" and event.payload["order_id"] == made["id"]
    assert event.payload["batches"] == [
        {"batch_id": batch["id"], "number": "B-7", "kind": "held", "problem": "batch B-7 is on hold: leak"}
    ]
    assert event.dispatched_at is not None  # nobody listens: marked delivered at once
    # the main flow still works: release, despatch
    held = udyog_client.get(f"{BATCHES}/{batch['id']}", expect=200).data
    udyog_client.post(f"{BATCHES}/{batch['id']}/release", json={"version": held["version"]}, expect=200)
    current = udyog_client.get(f"{ORDERS}/{made['id']}", expect=200).data
    udyog_client.post(f"{ORDERS}/{made['id']}/deliver", json={"version": current["version"]}, expect=200)
    assert len(refused_events(udyog_kernel)) == 1
