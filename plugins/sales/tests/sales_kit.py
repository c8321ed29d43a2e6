"""Shared set-up of the sales tests: a branch, a warehouse with stock, two products, customers with terms."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory import services as stock
from udyog_inventory.models import Product, StockBalance, StockMove, Unit, Warehouse
from udyog_sales.models import AccountTerms
from udyog_sdk.models import Base

ORDERS = "/api/v1/sales/orders"
INVOICES = "/api/v1/sales/invoices"
CREDIT_NOTES = "/api/v1/sales/credit-notes"
PAYMENTS = "/api/v1/sales/payments"


def branch_model() -> Any:
    """The core's branch class by table name (the tests import nothing from the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


def world(
    tenant: Any,
    *,
    margin: str = "10.00",
    credit_limit: str | None = None,
    on_hand: str = "100",
    owner_id: Any = None,
) -> dict[str, str]:
    """Commit a world in ``tenant``: products P1 (₹100) and P2 (₹250) with stock, warehouse W1, customer C1 with terms.

    Returns the ids as strings (for the API).
    """
    with tenant.scope() as scope:
        session = scope.session
        branch = branch_model()
        pune = branch(code="PUNE", name="Pune", address="", state_code="27")
        session.add(pune)
        session.flush()
        unit = Unit(code="pcs", name="Piece")
        session.add(unit)
        session.flush()
        one = Product(sku="P1", name="Mango pickle", unit_id=unit.id, price=Decimal("100.00"), cost=Decimal("60"))
        two = Product(sku="P2", name="Lime pickle", unit_id=unit.id, price=Decimal("250.00"), cost=Decimal("150"))
        house = Warehouse(code="W1", name="Pune FG", branch_id=pune.id)
        customer = Customer(code="C1", name="Sunrise Distributors", owner_id=owner_id)
        other = Customer(code="C2", name="Kaveri Traders", owner_id=owner_id)
        session.add_all([one, two, house, customer, other])
        session.flush()
        for product in (one, two):
            stock.receive(product.id, house.id, Decimal(on_hand), unit_cost=product.cost)
        session.add(
            AccountTerms(
                record_id=customer.id,
                is_distributor=True,
                margin_pct=Decimal(margin),
                credit_limit=Decimal(credit_limit) if credit_limit is not None else None,
                outstanding=Decimal("0.00"),
            )
        )
        session.commit()
        return {
            "p1": str(one.id),
            "p2": str(two.id),
            "w1": str(house.id),
            "c1": str(customer.id),
            "c2": str(other.id),
        }


def order_body(w: dict[str, str], *lines: tuple[str, str, str | None], **header: Any) -> dict[str, Any]:
    """An order of customer C1 from W1; each line is (product key, quantity, discount % or None)."""
    rows = [{"product_id": w[p], "quantity": q, **({"discount_pct": d} if d is not None else {})} for p, q, d in lines]
    return {"customer_id": w["c1"], "warehouse_id": w["w1"], "lines": rows, **header}


def outstanding(tenant: Any, customer_id: str) -> Decimal:
    """The customer's outstanding balance."""
    with tenant.scope(write=False) as scope:
        value = scope.session.scalar(
            select(AccountTerms.outstanding).where(AccountTerms.record_id == uuid.UUID(customer_id))
        )
        return value if value is not None else Decimal("0.00")


def balance(tenant: Any, product_id: str) -> tuple[Decimal, Decimal]:
    """(on hand, reserved) of a product across its balances."""
    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(StockBalance).where(StockBalance.product_id == uuid.UUID(product_id))).all()
        return sum((r.on_hand for r in rows), Decimal(0)), sum((r.reserved for r in rows), Decimal(0))


def moves(tenant: Any, kind: str) -> int:
    """How many stock moves of ``kind`` the tenant has."""
    with tenant.scope(write=False) as scope:
        return len(scope.session.scalars(select(StockMove.id).where(StockMove.kind == kind)).all())


def register(kernel: Any, implementer: object, name: str) -> None:
    """Register a plugin-like object of hook implementations with the test's kernel (all tenants see it)."""
    kernel.pm.register(implementer, name=name)
    kernel.bus.refresh(kernel.registry.order)


def invoice_on_confirm(client: Any, on: bool = True) -> None:
    """Switch the tenant's setting ``invoice_on_confirm``."""
    version = client.get("/api/v1/core/settings/sales", expect=200).data["version"]
    client.patch(
        "/api/v1/core/settings/sales", json={"version": version, "values": {"invoice_on_confirm": on}}, expect=200
    )
