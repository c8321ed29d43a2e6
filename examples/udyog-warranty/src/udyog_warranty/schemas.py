"""Marshmallow schemas of the warranty plugin: what the API reads and writes."""

from __future__ import annotations

import marshmallow as ma

#: The longest warranty term accepted, in months (ten years).
MAX_MONTHS = 120


class CardSchema(ma.Schema):
    """A warranty card, as the API shows it and as it is created."""

    id = ma.fields.UUID(dump_only=True)
    serial_no = ma.fields.String(
        required=True,
        validate=[
            ma.validate.Length(min=1, max=40),
            ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9/-]*$", error="letters, digits, '/' and '-' only"),
        ],
        metadata={"label": "Serial no."},
    )
    product = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    customer = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    invoice_id = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"label": "Sales invoice", "description": "the invoice it was sold on"},
    )
    starts_on = ma.fields.Date(required=True)
    months = ma.fields.Integer(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Range(min=1, max=MAX_MONTHS),
        metadata={"description": "the term; 12 when left empty (cards from invoices take the product's term)"},
    )
    ends_on = ma.fields.Date(dump_only=True, metadata={"description": "the last day of the warranty"})
    notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    version = ma.fields.Integer(dump_only=True)
