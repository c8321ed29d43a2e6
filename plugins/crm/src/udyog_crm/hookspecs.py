"""Hooks the crm plugin publishes, and the data they carry.

``crm_quote_convert`` turns an accepted quote into a document of another
plugin (the sales plugin makes a sales order). crm never imports that
plugin: it hands over plain frozen dataclasses and stores what comes back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
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
