"""Business logic of the warranty plugin: plain functions over the current tenant's session.

Routes, hooks and tests call them alike; the session, the tenant and the
events come from ``udyog_sdk`` (a scope must be bound).
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from udyog_sdk import UdyogError, db_session, emit

from .models import Card, VoucherTerm

#: The term of a card whose voucher names none.
DEFAULT_MONTHS = 12


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ends_on(starts_on: dt.date, months: int) -> dt.date:
    """The last day of a warranty of ``months`` starting on ``starts_on``."""
    return add_months(starts_on, months) - dt.timedelta(days=1)


def voucher_term(voucher_id: uuid.UUID | None) -> int | None:
    """The warranty term set on a sales voucher (the field this plugin contributes), if any."""
    if voucher_id is None:
        return None
    return db_session().scalar(select(VoucherTerm.months).where(VoucherTerm.record_id == voucher_id))


def create_card(data: dict[str, Any]) -> Card:
    """Register a warranty card; a serial number is registered once (409).

    The term defaults to the sales voucher's warranty term, else 12 months.
    Emits ``warranty.card.registered``.
    """
    session = db_session()
    serial_no = data["serial_no"]
    if session.scalar(select(Card.id).where(Card.serial_no == serial_no)) is not None:
        raise UdyogError(
            "serial number taken", status=409, errors={"serial_no": [f"{serial_no!r} already has a warranty card"]}
        )
    values = dict(data)
    if values.get("months") is None:
        values["months"] = voucher_term(values.get("voucher_id")) or DEFAULT_MONTHS
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


def card_for_serial(serial_no: str) -> Card | None:
    """The current tenant's card of ``serial_no``, or None."""
    return db_session().scalar(select(Card).where(Card.serial_no == serial_no))


def expiring(today: dt.date, days: int) -> list[Card]:
    """Cards whose warranty ends within ``days`` days from ``today`` (still running), soonest first."""
    return list(
        db_session().scalars(
            select(Card)
            .where(Card.ends_on >= today, Card.ends_on <= today + dt.timedelta(days=days))
            .order_by(Card.ends_on, Card.id)
        )
    )
