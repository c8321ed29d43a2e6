"""The demo data: a food manufacturer's stores, loaded twice without duplicates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from inventory_kit import branch_model, ledger_agrees
from sqlalchemy import select

from udyog_inventory import services
from udyog_inventory.demo import load_demo
from udyog_inventory.models import Lot, Product, StockMove, Warehouse

pytestmark = pytest.mark.udyog_plugins("inventory")


def test_the_demo_loads_once_and_stock_agrees(udyog_tenant):
    steps: list[str] = []
    with udyog_tenant.scope() as scope:
        s = scope.session
        branch = branch_model()
        s.add_all([branch(code="PUNE", name="Pune factory"), branch(code="BLR", name="Bengaluru depot")])
        s.flush()
        load_demo(s, steps.append)
        s.commit()
        load_demo(s, steps.append)
        s.commit()
        assert len(s.scalars(select(Product)).all()) == 6
        assert sorted(s.scalars(select(Warehouse.code))) == ["BLR-DEPOT", "PUNE-FG"]
        assert len(s.scalars(select(StockMove)).all()) == 8
        mango = s.scalar(select(Product).where(Product.sku == "PKL-MANGO-500"))
        lots = s.scalars(select(Lot).where(Lot.product_id == mango.id).order_by(Lot.received_on)).all()
        assert [lot.code for lot in lots] == ["MP-2611-01", "MP-2611-02"]
        pune = s.scalar(select(Warehouse.id).where(Warehouse.code == "PUNE-FG"))
        plan = services.allocate(mango.id, pune, Decimal("200"))
        assert [(a.lot_id, a.quantity) for a in plan] == [(lots[0].id, Decimal("180")), (lots[1].id, Decimal("20"))]
        ledger_agrees(s, mango.id)
    assert steps.count("inventory: two warehouses and opening stock") == 1
