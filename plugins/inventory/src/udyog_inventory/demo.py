"""Demo data: a food manufacturer's stores (``udyog demo`` / ``make run``); idempotent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_sdk.models import Base

from . import services
from .models import Category, Product, StockMove, Unit, UnitConversion, Warehouse

UNITS = (("kg", "Kilogram"), ("pcs", "Piece"), ("box12", "Box of 12"))
CATEGORIES = ("Pickles", "Spices", "Papad", "Ghee")
# sku, name, category, unit, price, cost, valuation, reorder point, reorder qty, lots
PRODUCTS = (
    ("PKL-MANGO-500", "Mango pickle 500 g jar", "Pickles", "pcs", "120.00", "72.00", "fifo", "60", "240", True),
    ("PKL-LIME-500", "Lime pickle 500 g jar", "Pickles", "pcs", "110.00", "66.00", "fifo", "40", "240", True),
    ("SPC-TURMERIC", "Turmeric powder", "Spices", "kg", "260.00", "180.00", "average", "25", "100", False),
    ("SPC-CHILLI", "Red chilli powder", "Spices", "kg", "320.00", "230.00", "average", "25", "100", False),
    ("PPD-URAD-200", "Urad papad 200 g pack", "Papad", "pcs", "55.00", "31.00", "average", "100", "500", False),
    ("GHE-COW-1L", "Cow ghee 1 L tin", "Ghee", "pcs", "640.00", "510.00", "fifo", "30", "120", True),
)
WAREHOUSES = (("PUNE-FG", "Pune finished goods", "PUNE"), ("BLR-DEPOT", "Bengaluru depot store", "BLR"))
# sku, warehouse, quantity, unit cost, lot code, received days ago
OPENING = (
    ("PKL-MANGO-500", "PUNE-FG", "180", "70.00", "MP-2611-01", 40),
    ("PKL-MANGO-500", "PUNE-FG", "240", "74.00", "MP-2611-02", 12),
    ("PKL-LIME-500", "PUNE-FG", "150", "66.00", "LP-2611-01", 20),
    ("SPC-TURMERIC", "PUNE-FG", "80", "178.50", None, 30),
    ("SPC-CHILLI", "PUNE-FG", "20", "231.00", None, 30),
    ("PPD-URAD-200", "BLR-DEPOT", "600", "30.50", None, 10),
    ("GHE-COW-1L", "BLR-DEPOT", "48", "505.00", "GH-2610-07", 25),
    ("GHE-COW-1L", "PUNE-FG", "90", "512.00", "GH-2611-02", 8),
)
OPENING_REFERENCE = "inventory.opening"


def _branch_model() -> Any:
    """The core's branch class, found by table name (plugins never import the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


def load_demo(session: Any, progress: Callable[[str], None]) -> None:
    """Units, categories, products, two warehouses and opening stock with lots."""
    units = {u.code: u for u in session.scalars(select(Unit))}
    for code, name in UNITS:
        if code not in units:
            units[code] = Unit(code=code, name=name)
            session.add(units[code])
    session.flush()
    general = select(UnitConversion.id).where(
        UnitConversion.from_unit_id == units["box12"].id, UnitConversion.to_unit_id == units["pcs"].id
    )
    if session.scalar(general) is None:
        session.add(UnitConversion(from_unit_id=units["box12"].id, to_unit_id=units["pcs"].id, factor=Decimal(12)))
    categories = {c.name: c for c in session.scalars(select(Category))}
    for name in CATEGORIES:
        if name not in categories:
            categories[name] = Category(name=name, description="")
            session.add(categories[name])
    session.flush()
    products = {p.sku: p for p in session.scalars(select(Product))}
    for sku, name, category, unit, price, cost, valuation, point, qty, lots in PRODUCTS:
        if sku in products:
            continue
        products[sku] = Product(
            sku=sku,
            name=name,
            description="",
            category_id=categories[category].id,
            unit_id=units[unit].id,
            price=Decimal(price),
            cost=Decimal(cost),
            valuation=valuation,
            reorder_point=Decimal(point),
            reorder_qty=Decimal(qty),
            track_lots=lots,
            active=True,
        )
        session.add(products[sku])
    session.flush()
    papad = products["PPD-URAD-200"]
    specific = select(UnitConversion.id).where(UnitConversion.product_id == papad.id)
    if session.scalar(specific) is None:  # a pack of papad weighs 200 g
        session.add(
            UnitConversion(
                from_unit_id=units["pcs"].id, to_unit_id=units["kg"].id, factor=Decimal("0.2"), product_id=papad.id
            )
        )
    progress("inventory: units, categories, products")
    branch = _branch_model()
    branches = {b.code: b for b in session.scalars(select(branch))}
    warehouses = {w.code: w for w in session.scalars(select(Warehouse))}
    for code, name, branch_code in WAREHOUSES:
        if code not in warehouses and branch_code in branches:
            warehouses[code] = Warehouse(code=code, name=name, branch_id=branches[branch_code].id, active=True)
            session.add(warehouses[code])
    session.flush()
    opened = select(StockMove.id).where(StockMove.reference == OPENING_REFERENCE).limit(1)
    if session.scalar(opened) is not None or len(warehouses) < len(WAREHOUSES):
        return
    today = dt.date.today()
    for sku, warehouse, quantity, cost, lot_code, days_ago in OPENING:
        product = products[sku]
        lot_id = None
        if lot_code:
            lot_id = services.ensure_lot(product.id, lot_code, received_on=today - dt.timedelta(days=days_ago)).id
        services.receive(
            product.id,
            warehouses[warehouse].id,
            Decimal(quantity),
            unit_cost=Decimal(cost),
            lot_id=lot_id,
            reference=OPENING_REFERENCE,
            reference_number="OPENING",
            note="Opening stock",
        )
    progress("inventory: two warehouses and opening stock")
