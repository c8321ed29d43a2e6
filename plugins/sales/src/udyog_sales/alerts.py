"""The sales plugin's vigilance rules (contributed through ``vigilance_rules`` when vigilance is installed).

This module never imports vigilance: the hook hands over the ``rule``
factory, and each ``evaluate(ctx)`` reads sales' own tables (a query or
two per evaluation, whatever the number of customers or lines). See
docs/sales.md, "Vigilance rules".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_sdk import db_session
from udyog_sdk.i18n import lazy_gettext as _l

from . import pricing
from .models import AccountTerms, Invoice, Order, OrderLine

CREDIT = "sales.credit_limit_breach"
DISCOUNT = "sales.unusual_discount"
#: The event sales emits when a customer's credit limit is changed (in the changing transaction).
LIMIT_CHANGED = "sales.account.credit_limit_changed"
#: Events after which a customer's outstanding or limit may have crossed the line.
CREDIT_EVENTS = (
    "sales.order.confirmed",
    "sales.order.cancelled",
    "sales.payment.received",
    "sales.payment.cancelled",
    "sales.credit_note.issued",
    LIMIT_CHANGED,
)
HUNDRED = Decimal(100)


def clear_the_rest(ctx: Any, current: set[str]) -> None:
    """Resolve the rule's live alerts whose subject is not in ``current`` (a full scan found them healthy)."""
    for subject in sorted(ctx.live_subjects() - current):
        ctx.clear(subject)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _customers_of(payload: dict[str, Any]) -> list[uuid.UUID]:
    """The customer an event concerns: named in it, or that of the invoice it names (one query)."""
    customer = _uuid(payload.get("customer_id"))
    if customer is not None:
        return [customer]
    invoice = _uuid(payload.get("invoice_id"))
    if invoice is not None:
        found = db_session().scalar(select(Invoice.customer_id).where(Invoice.id == invoice))
        return [found] if found is not None else []
    return []


def _accounts(customer_ids: Iterable[uuid.UUID] | None) -> list[Any]:
    """(customer id, name, outstanding, limit) of the customers with a credit limit; all of them for None."""
    query = (
        select(AccountTerms.record_id, Customer.name, AccountTerms.outstanding, AccountTerms.credit_limit)
        .join(Customer, Customer.id == AccountTerms.record_id)
        .where(AccountTerms.credit_limit.is_not(None))
    )
    if customer_ids is not None:
        query = query.where(AccountTerms.record_id.in_(list(customer_ids)))
    return list(db_session().execute(query))


def check_credit(ctx: Any) -> None:
    """Customers whose outstanding exceeds ``percent`` % of their credit limit (one alert per customer).

    On an event: the customer it concerns (one query), cleared when back under.
    On the daily run: every customer with a limit (one query); the others' alerts are cleared.
    """
    percent = Decimal(ctx.thresholds["percent"])
    customers = _customers_of(ctx.event.payload) if ctx.event is not None else None
    if customers == []:
        return
    current, seen = set(), set()
    for customer_id, name, outstanding, limit in _accounts(customers):
        seen.add(customer_id)
        subject = f"customer:{customer_id}"
        line = pricing.money(Decimal(limit) * percent / HUNDRED)
        if Decimal(outstanding or 0) > line:
            current.add(subject)
            over = Decimal(outstanding) - Decimal(limit)
            ctx.raise_alert(
                subject,
                f"{name}: outstanding ₹{outstanding} exceeds the credit limit ₹{limit}"
                + (f" by ₹{over}" if over > 0 else f" ({percent}% of it)"),
                detail=f"Outstanding ₹{outstanding}; credit limit ₹{limit}; alert above {percent}% of the limit.",
                link=f"/crm/customers/{customer_id}",
                data={"customer_id": str(customer_id), "outstanding": str(outstanding), "credit_limit": str(limit)},
            )
        elif customers is not None:
            ctx.clear(subject)
    if customers is None:
        clear_the_rest(ctx, current)
    else:  # a customer whose limit was removed: no longer limited, nothing to watch
        for customer_id in set(customers) - seen:
            ctx.clear(f"customer:{customer_id}")


def effective_discount(order_id: uuid.UUID) -> tuple[Decimal, Decimal, Decimal]:
    """(gross at the unit prices, taxable after every discount, discount %) of a priced order; one query."""
    rows = db_session().execute(
        select(OrderLine.quantity, OrderLine.unit_price, OrderLine.taxable).where(OrderLine.order_id == order_id)
    )
    gross = net = Decimal(0)
    for quantity, unit_price, taxable in rows:
        gross += Decimal(quantity) * Decimal(unit_price or 0)
        net += Decimal(taxable or 0)
    gross = pricing.money(gross)
    if gross <= 0:
        return gross, net, Decimal(0)
    return gross, net, ((gross - net) * HUNDRED / gross).quantize(Decimal("0.01"))


def check_discount(ctx: Any) -> None:
    """An order confirmed with an effective discount (lines' and order's together) above ``percent`` %."""
    if ctx.event is None:
        return
    payload = ctx.event.payload
    order_id = _uuid(payload.get("order_id"))
    if order_id is None:
        return
    percent = Decimal(ctx.thresholds["percent"])
    gross, net, discount = effective_discount(order_id)
    if discount <= percent:
        return
    number = payload.get("number") or db_session().scalar(select(Order.number).where(Order.id == order_id))
    ctx.raise_alert(
        f"order:{order_id}",
        f"Order {number} for {payload.get('customer', '')} confirmed with a {discount}% discount",
        detail=f"List value ₹{gross}, after discounts ₹{pricing.money(net)} (alert above {percent}%).",
        link=f"/sales/orders/{order_id}",
        data={"order_id": str(order_id), "discount_pct": str(discount), "gross": str(gross), "net": str(net)},
    )


def rules(rule: Callable[..., Any]) -> list[Any]:
    """sales' rules, built with vigilance's ``rule`` factory."""
    return [
        rule(
            key=CREDIT,
            title=_l("Credit limit breached"),
            description=(
                "A customer's outstanding exceeds percent % of its credit limit: after an order confirmed with the "
                "override, a payment or credit note cancelled, or a limit lowered; checked daily too. Cleared when "
                "back under."
            ),
            events=CREDIT_EVENTS,
            cron="30 1 * * *",
            evaluate=check_credit,
            severity="critical",
            thresholds={"percent": Decimal("100")},
            roles=("Sales Manager", "Owner"),
        ),
        rule(
            key=DISCOUNT,
            title=_l("Unusual discount"),
            description="An order confirmed with an effective discount (its lines' and the order's) above percent.",
            events=("sales.order.confirmed",),
            evaluate=check_discount,
            severity="warning",
            thresholds={"percent": Decimal("20")},
            roles=("Sales Manager",),
        ),
    ]
