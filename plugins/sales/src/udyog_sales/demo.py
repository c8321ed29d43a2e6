"""Demo data of sales: terms for the demo distributors and a few orders in different states.

Runs after crm's and inventory's demo data (sales requires both). Idempotent:
terms are set only for customers without any, orders only when the tenant
has none.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory import services as stock
from udyog_inventory.models import Product, Warehouse
from udyog_sdk import UdyogError, db_session

from . import services
from .models import AccountTerms, Order

TERMS = (
    (True, Decimal("8.00"), Decimal("500000.00")),
    (True, Decimal("10.00"), Decimal("250000.00")),
    (True, Decimal("5.00"), None),
    (False, Decimal("0.00"), Decimal("50000.00")),
)


def load(progress: Callable[[str], None]) -> None:
    """Load the demo terms and orders (see the module's docstring)."""
    session = db_session()
    customers = list(session.scalars(select(Customer).order_by(Customer.code).limit(len(TERMS))))
    for customer, (distributor, margin, limit) in zip(customers, TERMS, strict=False):
        if session.scalar(select(AccountTerms.id).where(AccountTerms.record_id == customer.id)) is None:
            session.add(
                AccountTerms(
                    record_id=customer.id,
                    is_distributor=distributor,
                    margin_pct=margin,
                    credit_limit=limit,
                    outstanding=Decimal("0.00"),
                )
            )
    session.flush()
    progress(f"sales: terms for {len(customers)} customers")
    if session.scalar(select(Order.id).limit(1)) is not None or not customers:
        return
    warehouse = session.scalar(select(Warehouse).order_by(Warehouse.code).limit(1))
    products = []
    if warehouse is not None:
        candidates = session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.sku).limit(20))
        products = [p for p in candidates if stock.available(p.id, warehouse.id) >= Decimal("10")][:3]
    if warehouse is None or not products:
        progress("sales: no warehouse or stock in the demo, no orders")
        return
    made = []
    for i, customer in enumerate(customers[:3]):
        lines = [
            {"product_id": p.id, "quantity": Decimal(2 + i), "discount_pct": Decimal("2.50") if j == 0 else None}
            for j, p in enumerate(products)
        ]
        made.append(
            services.create_order(
                {"customer_id": customer.id, "warehouse_id": warehouse.id, "discount_pct": Decimal(i), "lines": lines}
            )
        )
    steps = (
        ("confirmed", lambda o: services.confirm_order(o, o.version)),
        ("delivered and invoiced", lambda o: _deliver_and_invoice(o)),
    )
    for order, (what, step) in zip(made[1:], steps, strict=False):
        try:
            with session.begin_nested():
                step(order)
        except UdyogError as exc:
            progress(f"sales: demo order {order.number} left as it was ({exc.message})")
        else:
            progress(f"sales: demo order {order.number} {what}")
    session.flush()


def _deliver_and_invoice(order: Order) -> None:
    services.confirm_order(order, order.version)
    db_session().flush()
    services.deliver_order(order, order.version)
    db_session().flush()
    services.invoice_order(order, order.version)
