"""The inventory plugin's vigilance rule (contributed through ``vigilance_rules`` when vigilance is installed).

This module never imports vigilance: the hook hands over the ``rule``
factory, and ``evaluate(ctx)`` reads inventory's own tables (one query per
evaluation). See docs/inventory.md, "Vigilance rules".
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, or_, select

from udyog_sdk import db_session
from udyog_sdk.i18n import lazy_gettext as _l

from .models import Product, ProductStock
from .services import QTY, REORDER_EVENT, RESTOCKED_EVENT

BELOW_REORDER = "inventory.below_reorder_point"
ZERO = decimal.Decimal(0)


def clear_the_rest(ctx: Any, current: set[str]) -> None:
    """Resolve the rule's live alerts whose subject is not in ``current`` (a full scan found them healthy)."""
    for subject in sorted(ctx.live_subjects() - current):
        ctx.clear(subject)


def _stock_rows(product_id: uuid.UUID | None) -> list[Any]:
    """(id, sku, name, point, reorder qty, available) of one product, or of every active product below its point."""
    query = select(
        Product.id, Product.sku, Product.name, Product.reorder_point, Product.reorder_qty, ProductStock.available
    ).outerjoin(ProductStock, ProductStock.product_id == Product.id)
    if product_id is not None:
        return list(db_session().execute(query.where(Product.id == product_id)))
    below = query.where(
        Product.reorder_point.is_not(None),
        Product.active.is_(True),
        or_(
            and_(ProductStock.id.is_(None), Product.reorder_point > ZERO),
            ProductStock.available < Product.__table__.c.reorder_point,
        ),
    )
    return list(db_session().execute(below))


def check_reorder(ctx: Any) -> None:
    """Products whose total available stock is below their reorder point (one alert per product).

    On inventory's crossing events: that product (one query), cleared when
    back at or above the point. Daily: every active product below its point
    (one query); the others' alerts are cleared.
    """
    product_id = None
    if ctx.event is not None:
        try:
            product_id = uuid.UUID(str(ctx.event.payload.get("product_id")))
        except ValueError:
            return
    current = set()
    for pid, sku, name, point, reorder_qty, available in _stock_rows(product_id):
        subject = f"product:{pid}"
        available = decimal.Decimal(available if available is not None else ZERO).quantize(QTY)
        if point is None or available >= point:
            if product_id is not None:
                ctx.clear(subject)
            continue
        current.add(subject)
        point = decimal.Decimal(point).quantize(QTY)
        ctx.raise_alert(
            subject,
            f"{sku} {name}: {available} available, below the reorder point {point}",
            detail=f"Reorder quantity: {decimal.Decimal(reorder_qty or ZERO).quantize(QTY)}.",
            link=f"/inventory/products/{pid}",
            data={"product_id": str(pid), "available": str(available), "reorder_point": str(point)},
        )
    if product_id is None:
        clear_the_rest(ctx, current)


def rules(rule: Callable[..., Any]) -> list[Any]:
    """inventory's rule, built with vigilance's ``rule`` factory."""
    return [
        rule(
            key=BELOW_REORDER,
            title=_l("Stock below reorder point"),
            description=(
                "A product's total available stock (every warehouse) is below its reorder point: on the movement "
                "that crosses it, and every day (for changed reorder points). Cleared when back at or above it."
            ),
            events=(REORDER_EVENT, RESTOCKED_EVENT),
            cron="0 2 * * *",
            evaluate=check_reorder,
            severity="warning",
            roles=("Store Keeper",),
        ),
    ]
