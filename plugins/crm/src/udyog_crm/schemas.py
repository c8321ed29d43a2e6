"""Marshmallow schemas of the ``crm`` plugin: what the API reads and writes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

MAX_QUANTITY = 10**9
MAX_PRICE = 10**16


def _price_fits(value: Any) -> None:
    # A plain validator rather than Range: the Decimal is a string in JSON, and a
    # Range would render its bounds as strings in the OpenAPI document.
    if not 0 <= value < MAX_PRICE:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_PRICE}")


class ItemSchema(ma.Schema):
    """An item, as the API shows it and as it is created."""

    id = ma.fields.UUID(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    quantity = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_QUANTITY))
    unit_price = ma.fields.Decimal(required=True, as_string=True, places=2, validate=_price_fits)
    notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    version = ma.fields.Integer(dump_only=True)
