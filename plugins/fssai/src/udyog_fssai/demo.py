"""Demo data of FSSAI: licences of the demo branches, shelf lives, batches with QC passed (one near expiry).

Runs after inventory's and sales' demo data (fssai requires both): the demo
lots become batches. Idempotent: licences, shelf lives and batches are added
only where missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory.models import Lot, Product

from . import rules, services
from .models import Batch, CustomerFood, Licence, ProductFood

# branch code, licence number, kind, years to run
LICENCES = (("PUNE", "11526027000123", "licence", 3), ("BLR", "21226029000456", "registration", 1))
# sku, shelf life in days, pack size
SHELF_LIVES = (
    ("PKL-MANGO-500", 365, "500 g jar"),
    ("PKL-LIME-500", 365, "500 g jar"),
    ("GHE-COW-1L", 270, "1 L tin"),
)
#: Lots whose batch was made this many days before the lot was received (the ghee lot ends up near its expiry).
MADE_BEFORE_RECEIPT = {"GH-2610-07": 225}


def load(session: Any, progress: Callable[[str], None]) -> None:
    """Load the demo licences, shelf lives and batches (see the module's docstring)."""
    today = services.today()
    branch = services._branch_model()
    branches = {b.code: b for b in session.scalars(select(branch))}
    have = set(session.scalars(select(Licence.branch_id)))
    for code, number, kind, years in LICENCES:
        found = branches.get(code)
        if found is not None and found.id not in have:
            session.add(
                Licence(
                    branch_id=found.id,
                    number=number,
                    kind=kind,
                    valid_from=today.replace(day=1),
                    expires_on=rules.add_months(today, 12 * years),
                    note="Demo licence",
                )
            )
    products = {p.sku: p for p in session.scalars(select(Product))}
    shelf = set(session.scalars(select(ProductFood.record_id)))
    for sku, days, pack in SHELF_LIVES:
        product = products.get(sku)
        if product is not None and product.id not in shelf:
            session.add(ProductFood(record_id=product.id, shelf_life_days=days, pack_size=pack))
    session.flush()
    progress("fssai: licences and shelf lives")
    lives = {sku: days for sku, days, _ in SHELF_LIVES}
    skus = {p.id: p.sku for p in products.values()}
    made = set(session.scalars(select(Batch.lot_id)))
    count = 0
    for lot in session.scalars(select(Lot).order_by(Lot.code)):
        sku = skus.get(lot.product_id)
        if lot.id in made or sku not in lives:
            continue
        produced = lot.received_on - dt.timedelta(days=MADE_BEFORE_RECEIPT.get(lot.code, 2))
        session.add(
            Batch(
                lot_id=lot.id,
                product_id=lot.product_id,
                number=lot.code,
                date_kind="manufacture",
                produced_on=produced,
                expires_on=rules.derived_expiry(produced, lives[sku]),
                best_before=None,
                qc_status="passed",
                qc_inspector="R. Kulkarni",
                qc_notes="Demo: moisture, salt and seal checked",
                on_hold=False,
                hold_reason="",
            )
        )
        count += 1
    customer = session.scalar(select(Customer).order_by(Customer.code).limit(1))
    if (
        customer is not None
        and session.scalar(select(CustomerFood.id).where(CustomerFood.record_id == customer.id)) is None
    ):
        session.add(CustomerFood(record_id=customer.id, min_remaining_days=60))
    session.flush()
    progress(f"fssai: {count} batches with QC passed")
