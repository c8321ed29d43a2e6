"""Shared set-up of the inventory tests: units, a product, two warehouses on two branches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_inventory.models import Product, StockBalance, StockMove, Unit, Warehouse
from udyog_sdk.models import Base


def model_of(table: str) -> Any:
    """The core's mapped class of ``table`` (the tests import nothing from the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == table)


def branch_model() -> Any:
    """The core's branch class."""
    return model_of("core_branch")


def world(session: Any, **product: Any) -> dict[str, Any]:
    """A unit, a product (override its fields), two warehouses; flushed, not committed."""
    branch = branch_model()
    pune = session.scalar(select(branch).where(branch.code == "PUNE"))
    if pune is None:
        pune = branch(code="PUNE", name="Pune", address="", state_code="27")
        blr = branch(code="BLR", name="Bengaluru", address="", state_code="29")
        session.add_all([pune, blr])
        session.flush()
    else:
        blr = session.scalar(select(branch).where(branch.code == "BLR"))
    unit = Unit(code="pcs", name="Piece")
    session.add(unit)
    session.flush()
    values = {
        "sku": "PKL-1",
        "name": "Mango pickle",
        "unit_id": unit.id,
        "price": Decimal("120.00"),
        "cost": Decimal("70.00"),
        "valuation": "fifo",
        **product,
    }
    item = Product(**values)
    one = Warehouse(code="W1", name="Pune FG", branch_id=pune.id)
    two = Warehouse(code="W2", name="Bengaluru depot", branch_id=blr.id)
    session.add_all([item, one, two])
    session.flush()
    return {"product": item, "unit": unit, "w1": one, "w2": two, "branches": (pune, blr)}


def ledger_agrees(session: Any, product_id: Any) -> dict[tuple[Any, Any], tuple[Decimal, Decimal]]:
    """Assert every balance equals the sum of its moves' deltas (and available = on hand - reserved)."""
    sums: dict[tuple[Any, Any, Any], list[Decimal]] = {}
    for move in session.scalars(select(StockMove).where(StockMove.product_id == product_id)):
        entry = sums.setdefault((move.warehouse_id, move.lot_id), [Decimal(0), Decimal(0)])
        entry[0] += move.on_hand_delta
        entry[1] += move.reserved_delta
    balances = {
        (b.warehouse_id, b.lot_id): b
        for b in session.scalars(select(StockBalance).where(StockBalance.product_id == product_id))
    }
    assert set(balances) == set(sums)
    out = {}
    for key, balance in balances.items():
        assert (balance.on_hand, balance.reserved) == tuple(sums[key]), key
        assert balance.available == balance.on_hand - balance.reserved
        out[key] = (balance.on_hand, balance.reserved)
    return out
