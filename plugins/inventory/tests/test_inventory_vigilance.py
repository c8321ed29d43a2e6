"""inventory's vigilance rule end to end (crossing event or daily run → job → alert); inventory without it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

API = "/api/v1/inventory"
RULE = "inventory.below_reorder_point"


def setup(client: Any, reorder_point: str | None = "10") -> dict[str, str]:
    """Branch PUNE, unit pcs, warehouse W1 and product PKL-1 with ``reorder_point``, through the API."""
    branch = client.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune"}, expect=201).data["id"]
    pcs = client.post(f"{API}/units", json={"code": "pcs", "name": "Piece"}, expect=201).data["id"]
    product = client.post(
        f"{API}/products",
        json={
            "sku": "PKL-1",
            "name": "Mango pickle",
            "unit_id": pcs,
            "price": "120.00",
            "cost": "70.00",
            "reorder_point": reorder_point,
            "reorder_qty": "50",
        },
        expect=201,
    ).data["id"]
    w1 = client.post(f"{API}/warehouses", json={"code": "W1", "name": "Pune FG", "branch_id": branch}, expect=201)
    return {"product": product, "w1": w1.data["id"]}


def move(client: Any, w: dict[str, str], kind: str, quantity: str) -> None:
    """Receive or issue ``quantity`` of PKL-1 in W1."""
    client.post(
        f"{API}/{kind}", json={"product_id": w["product"], "warehouse_id": w["w1"], "quantity": quantity}, expect=201
    )


def alerts(tenant: Any) -> list[Any]:
    """The tenant's alerts of the rule, oldest first (detached)."""
    from udyog_vigilance.models import Alert

    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(Alert).where(Alert.rule_key == RULE).order_by(Alert.first_seen)).all()
        scope.session.expunge_all()
        return list(rows)


@pytest.mark.udyog_plugins("inventory", "vigilance")
class TestWithVigilance:
    @pytest.fixture
    def udyog_kernel(self, kernel_factory: Any, backend: str) -> Any:
        """inventory with vigilance; background jobs run eagerly when the emitting transaction commits."""
        return kernel_factory(("inventory", "vigilance"), backend=backend, jobs_eager=True)

    def test_falling_below_the_point_raises_and_restocking_clears(self, udyog_client, udyog_tenant):
        w = setup(udyog_client)
        move(udyog_client, w, "receipts", "15")
        move(udyog_client, w, "issues", "4")  # 11: still at or above 10
        assert alerts(udyog_tenant) == []
        move(udyog_client, w, "issues", "3")  # 8: crossed
        [alert] = alerts(udyog_tenant)
        assert (alert.subject, alert.severity, alert.state) == (f"product:{w['product']}", "warning", "open")
        assert alert.title == "PKL-1 Mango pickle: 8.000 available, below the reorder point 10.000"
        assert alert.link == f"/inventory/products/{w['product']}" and alert.detail == "Reorder quantity: 50.000."
        move(udyog_client, w, "receipts", "2")  # 10: back at the point
        [cleared] = alerts(udyog_tenant)
        assert cleared.id == alert.id and cleared.state == "resolved"
        move(udyog_client, w, "issues", "1")  # crossed again: a new alert
        assert [a.state for a in alerts(udyog_tenant)] == ["resolved", "open"]

    def test_the_daily_run_finds_products_received_below_their_point(self, udyog_client, udyog_tenant):
        from udyog_vigilance.engine import evaluate_rule_now

        w = setup(udyog_client)
        move(udyog_client, w, "receipts", "6")  # never was at the point: no crossing, no event
        assert alerts(udyog_tenant) == []
        with udyog_tenant.scope() as scope:
            evaluate_rule_now(RULE)
            scope.session.commit()
        [alert] = alerts(udyog_tenant)
        assert (
            alert.subject == f"product:{w['product']}" and alert.event_id is None and "6.000 available" in alert.title
        )

    def test_the_daily_run_clears_a_product_whose_point_was_lowered(self, udyog_client, udyog_tenant):
        from udyog_vigilance.engine import evaluate_rule_now

        def daily_run() -> None:
            with udyog_tenant.scope() as scope:
                evaluate_rule_now(RULE)
                scope.session.commit()

        w = setup(udyog_client)
        move(udyog_client, w, "receipts", "6")
        daily_run()
        assert [a.state for a in alerts(udyog_tenant)] == ["open"]
        product = udyog_client.get(f"{API}/products/{w['product']}", expect=200).data
        udyog_client.patch(  # 6 is at or above the new point: no movement, no event
            f"{API}/products/{w['product']}", json={"version": product["version"], "reorder_point": "5"}, expect=200
        )
        daily_run()
        assert [a.state for a in alerts(udyog_tenant)] == ["resolved"]


@pytest.mark.udyog_plugins("inventory")
def test_inventory_works_without_vigilance_and_announces_both_crossings(udyog_kernel, udyog_client, udyog_tenant):
    from udyog.models import OutboxEvent

    assert "vigilance" not in udyog_kernel.registry.loaded_names()
    w = setup(udyog_client)
    move(udyog_client, w, "receipts", "12")  # from nothing (below) to 12: up across the point
    move(udyog_client, w, "issues", "5")  # 7: down across it
    move(udyog_client, w, "issues", "1")  # 6: still below, no event
    move(udyog_client, w, "receipts", "5")  # 11: up again
    with udyog_kernel.db.session(all_tenants=True) as session:
        names = [
            e.name
            for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at))
            if e.name.startswith("inventory.stock.")
        ]
    assert names == [
        "inventory.stock.reorder_restored",
        "inventory.stock.below_reorder",
        "inventory.stock.reorder_restored",
    ]
