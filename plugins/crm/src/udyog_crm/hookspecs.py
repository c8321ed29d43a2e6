"""Hooks the crm plugin publishes, and the data they carry.

``crm_quote_convert`` turns an accepted quote into a document of another
plugin (the sales plugin makes a sales order); ``crm_check_quote_lines`` lets
a plugin that knows the products (inventory) refuse a quote line naming one
that does not exist. crm never imports those plugins: it hands over plain
frozen dataclasses and stores what comes back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from udyog_sdk import hookspec


@dataclass(frozen=True)
class QuoteLineData:
    """One line of a quote, as a converter sees it (quantity in the product's unit, prices in rupees)."""

    product_id: uuid.UUID | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal


@dataclass(frozen=True)
class QuoteData:
    """A quote handed to ``crm_quote_convert``: its identity, customer, date, lines and the caller's options."""

    quote_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    quote_date: dt.date
    lines: tuple[QuoteLineData, ...]
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Conversion:
    """What a converter made of a quote: the kind of record (``sales.order``), its id, number and page."""

    kind: str
    record_id: uuid.UUID
    number: str
    url: str | None = None


@hookspec(firstresult=True)
def crm_quote_convert(quote: QuoteData) -> Conversion | None:
    """Convert a quote into another plugin's document (a sales order), in the caller's transaction.

    Called by ``POST /api/v1/crm/quotes/<id>/convert`` (and the quote's page)
    for a quote that is neither converted nor cancelled, with the options the
    client sent (``{"warehouse_id": ...}``) in ``quote.options``. Create the
    document through ``db_session()`` without committing: crm commits once
    the quote is marked converted, so a failure anywhere leaves nothing
    behind. Refuse with ``udyog_sdk.UdyogError`` (422 or 409, field errors);
    crm passes the refusal to the client unchanged.

    Returns: a :class:`Conversion`, or None to let another plugin convert.
    ``firstresult``: the first non-None answer wins. With no answer at all
    the endpoint answers 409 "no enabled plugin converts quotes (enable
    sales)".

    Since: crm 0.1.
    """


@hookspec
def crm_check_quote_lines(lines: Sequence[QuoteLineData]) -> Mapping[int, Mapping[str, Sequence[str]]] | None:
    """Problems with quote lines about to be stored, by the line's position in ``lines``, then by field.

    Called before a quote is created with its lines, before a line is added,
    and before a line's product changes (only lines naming a product are
    passed). crm refuses with 422, naming the field under the line
    (``lines.1.product_id`` when a quote is created, ``product_id`` for one
    line). Inventory implements it (optionally: it works without crm) and
    refuses products that do not exist or are inactive.

    Returns: ``{index: {field: [message, ...]}}`` for the lines with
    problems, or None when they are fine. Every plugin's answer counts.

    Since: crm 0.1 (added after the first release of the hooks; check for the spec before relying on it).
    """
