"""sales without vigilance (neither loaded nor enabled): it loads, confirms over the limit, and emits its events."""

from __future__ import annotations

from typing import Any

import pytest
from sales_kit import ORDERS, PAYMENTS, order_body, outstanding, world
from sqlalchemy import select

pytestmark = pytest.mark.udyog_plugins("sales")


def events(kernel: Any, name: str) -> list[Any]:
    """The outbox's events called ``name`` (the core's table, read as the tests' system user)."""
    from udyog.models import OutboxEvent

    with kernel.db.session(all_tenants=True) as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.name == name)))


def test_sales_works_without_vigilance_and_announces_limit_changes(udyog_kernel, udyog_client, udyog_tenant):
    assert "vigilance" not in udyog_kernel.registry.loaded_names()
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    made = udyog_client.post(ORDERS, json=order_body(w, ("p1", "12", "25")), expect=201).data
    udyog_client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200)
    udyog_client.post(PAYMENTS, json={"customer_id": w["c1"], "amount": "100.00"}, expect=201)
    assert outstanding(udyog_tenant, w["c1"]) == 800
    customer = udyog_client.get(f"/api/v1/crm/customers/{w['c1']}", expect=200).data
    udyog_client.patch(
        f"/api/v1/crm/customers/{w['c1']}", json={"version": customer["version"], "credit_limit": "500.00"}, expect=200
    )
    [changed] = events(udyog_kernel, "sales.account.credit_limit_changed")
    assert changed.payload == {"customer_id": w["c1"], "old_limit": "1000.00", "credit_limit": "500.00"}
    assert changed.dispatched_at is not None
