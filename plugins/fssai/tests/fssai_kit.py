"""Shared set-up of the FSSAI tests: a branch with a warehouse, a lot-tracked product, customers; a fixed clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from udyog_crm.models import Customer
from udyog_inventory.models import Product, Unit, Warehouse
from udyog_sales.models import AccountTerms
from udyog_sdk.models import Base

ORDERS = "/api/v1/sales/orders"
INVOICES = "/api/v1/sales/invoices"
BATCHES = "/api/v1/fssai/batches"
LICENCES = "/api/v1/fssai/licences"
RECALLS = "/api/v1/fssai/recalls"
PRODUCTS = "/api/v1/inventory/products"
CUSTOMERS = "/api/v1/crm/customers"

#: The tests' "now": 20 November 2026, 11:30 in Kolkata.
NOW = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 20)


def fix_clock(monkeypatch: Any, when: dt.datetime = NOW) -> None:
    """Make the FSSAI plugin's clock read ``when``."""
    from udyog_fssai import services

    monkeypatch.setattr(services, "clock", lambda: when)


def branch_model() -> Any:
    """The core's branch class by table name (the tests import nothing from the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


def world(tenant: Any) -> dict[str, str]:
    """Commit branch PUNE, warehouse W1, lot-tracked product GHEE (pcs, ₹500), plain product SALT, customers C1, C2."""
    with tenant.scope() as scope:
        session = scope.session
        pune = branch_model()(code="PUNE", name="Pune", address="", state_code="27")
        session.add(pune)
        session.flush()
        unit = Unit(code="pcs", name="Piece")
        session.add(unit)
        session.flush()
        ghee = Product(
            sku="GHEE",
            name="Cow ghee 1 L",
            unit_id=unit.id,
            price=Decimal("500.00"),
            cost=Decimal("400"),
            track_lots=True,
        )
        salt = Product(sku="SALT", name="Salt 1 kg", unit_id=unit.id, price=Decimal("20.00"), cost=Decimal("10"))
        house = Warehouse(code="W1", name="Pune FG", branch_id=pune.id)
        one = Customer(code="C1", name="Sunrise Distributors")
        two = Customer(code="C2", name="Kaveri Traders")
        session.add_all([ghee, salt, house, one, two])
        session.flush()
        for customer in (one, two):
            session.add(AccountTerms(record_id=customer.id, is_distributor=True, margin_pct=Decimal("0.00")))
        session.commit()
        return {
            "branch": str(pune.id),
            "ghee": str(ghee.id),
            "salt": str(salt.id),
            "w1": str(house.id),
            "c1": str(one.id),
            "c2": str(two.id),
        }


def make_batch(
    client: Any,
    w: dict[str, str],
    produced_on: str,
    expires_on: str | None = None,
    *,
    quantity: str = "10",
    qc: str = "passed",
    number: str | None = None,
) -> dict[str, Any]:
    """A batch of GHEE received into W1 with ``quantity``, QC as asked (through the API)."""
    body: dict[str, Any] = {
        "product_id": w["ghee"],
        "produced_on": produced_on,
        "warehouse_id": w["w1"],
        "quantity": quantity,
        "qc_status": qc,
        "qc_inspector": "R. Kulkarni" if qc != "pending" else "",
    }
    if expires_on is not None:
        body["expires_on"] = expires_on
    if number is not None:
        body["number"] = number
    return client.post(BATCHES, json=body, expect=201).data  # type: ignore[no-any-return]


def order(client: Any, w: dict[str, str], quantity: str, customer: str = "c1", product: str = "ghee") -> dict[str, Any]:
    """A confirmed order of ``quantity`` of a product for a customer from W1."""
    body = {
        "customer_id": w[customer],
        "warehouse_id": w["w1"],
        "lines": [{"product_id": w[product], "quantity": quantity}],
    }
    made = client.post(ORDERS, json=body, expect=201).data
    return client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200).data  # type: ignore[no-any-return]


def draft(client: Any, w: dict[str, str], quantity: str, customer: str = "c1") -> dict[str, Any]:
    """A draft order of GHEE."""
    body = {
        "customer_id": w[customer],
        "warehouse_id": w["w1"],
        "lines": [{"product_id": w["ghee"], "quantity": quantity}],
    }
    return client.post(ORDERS, json=body, expect=201).data  # type: ignore[no-any-return]


def reserved_lots(tenant: Any, order_id: str) -> list[tuple[str, Decimal]]:
    """(lot code, quantity) of an order's reservations, in expiry order of allocation."""
    import uuid

    from sqlalchemy import select

    from udyog_inventory.models import Lot
    from udyog_sales.models import Reservation

    with tenant.scope(write=False) as scope:
        rows = scope.session.execute(
            select(Lot.code, Reservation.quantity)
            .join(Lot, Lot.id == Reservation.lot_id)
            .where(Reservation.order_id == uuid.UUID(order_id))
            .order_by(Lot.code)
        ).all()
        return [(code, qty) for code, qty in rows]
