"""Business logic of the warranty plugin: plain functions over the current tenant's session.

Routes, hooks and tests call them alike; the session, the tenant and the
events come from ``udyog_sdk`` (a scope must be bound). Like every service,
they work in the caller's transaction and never commit.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from udyog_crm.services import get_customer
from udyog_inventory.models import Product
from udyog_sdk import UdyogError, db_session, emit

from .models import Card, ProductTerm

#: The term of a card registered by hand without one.
DEFAULT_MONTHS = 12


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ends_on(starts_on: dt.date, months: int) -> dt.date:
    """The last day of a warranty of ``months`` starting on ``starts_on``."""
    return add_months(starts_on, months) - dt.timedelta(days=1)


def product_terms(product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The warranty terms (months) set on these products (the field this plugin contributes).

    Products without a term are left out.
    """
    ids = set(product_ids)
    if not ids:
        return {}
    rows = db_session().execute(
        select(ProductTerm.record_id, ProductTerm.months).where(
            ProductTerm.record_id.in_(ids), ProductTerm.months.is_not(None)
        )
    )
    return {record_id: months for record_id, months in rows}


def create_card(data: dict[str, Any]) -> Card:
    """Register a warranty card; a serial number is registered once (409).

    The term defaults to 12 months. Emits ``warranty.card.registered``.
    """
    session = db_session()
    serial_no = data["serial_no"]
    if session.scalar(select(Card.id).where(Card.serial_no == serial_no)) is not None:
        raise UdyogError(
            "serial number taken", status=409, errors={"serial_no": [f"{serial_no!r} already has a warranty card"]}
        )
    values = dict(data)
    if values.get("months") is None:
        values["months"] = DEFAULT_MONTHS
    values["ends_on"] = ends_on(values["starts_on"], values["months"])
    card = Card(**values)
    session.add(card)
    session.flush()
    emit("warranty.card.registered", {"card_id": str(card.id), "serial_no": serial_no})
    return card


def update_card(card: Card, changes: dict[str, Any]) -> Card:
    """Apply ``changes`` and keep the end date in step with the start and the term."""
    for key, value in changes.items():
        setattr(card, key, value)
    card.ends_on = ends_on(card.starts_on, card.months)
    db_session().flush()
    return card


def free_serial_no(serial_no: str) -> str:
    """``serial_no``, or, when a card has it already, the first free ``<serial_no>-2``, ``-3``, …"""
    session = db_session()
    taken = set(session.scalars(select(Card.serial_no).where(Card.serial_no.like(f"{serial_no}%"))))
    candidate, n = serial_no, 1
    while candidate in taken:
        n += 1
        candidate = f"{serial_no}-{n}"
    return candidate


def register_invoice_cards(invoice: Any) -> list[Card]:
    """Register a card for every line of a sales invoice whose product has a warranty term.

    ``invoice`` is sales' :class:`udyog_sales.models.Invoice` (``id``,
    ``number``, ``customer_id``, ``invoice_date``, ``lines``). One card per
    line, whatever its quantity: serial number ``<invoice number>/<line no>``
    (made unique with ``-2``, ``-3``… should a card have it already, so a
    warranty never refuses an invoice), the product's name, the customer's
    name from crm, the invoice, starting on the invoice date for the
    product's term. Lines of products without a term get no card.
    """
    lines = list(invoice.lines)
    terms = product_terms(line.product_id for line in lines)
    if not terms:
        return []
    session = db_session()
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(set(terms))))}
    customer = get_customer(invoice.customer_id).name
    cards = []
    for line in lines:
        months = terms.get(line.product_id)
        if months is None:
            continue
        product = products[line.product_id]
        cards.append(
            create_card(
                {
                    "serial_no": free_serial_no(f"{invoice.number}/{line.line_no}"),
                    "product": product.name,
                    "customer": customer,
                    "invoice_id": invoice.id,
                    "starts_on": invoice.invoice_date,
                    "months": months,
                    "notes": f"Invoice {invoice.number}, line {line.line_no}: {product.sku}, quantity {line.quantity}",
                }
            )
        )
    return cards


def drop_invoice_cards(invoice_id: uuid.UUID, number: str) -> int:
    """Delete the cards registered from invoice ``number`` (cancelled); how many there were.

    Only the cards the invoice made (serial ``<number>/…``) go: a card
    registered by hand that names the invoice stays.
    """
    session = db_session()
    cards = [
        card
        for card in session.scalars(select(Card).where(Card.invoice_id == invoice_id))
        if card.serial_no.startswith(f"{number}/")
    ]
    for card in cards:
        session.delete(card)
    session.flush()
    return len(cards)


def expiring(today: dt.date, days: int) -> list[Card]:
    """Cards whose warranty ends within ``days`` days from ``today`` (still running), soonest first."""
    return list(
        db_session().scalars(
            select(Card)
            .where(Card.ends_on >= today, Card.ends_on <= today + dt.timedelta(days=days))
            .order_by(Card.ends_on, Card.id)
        )
    )
