"""Marshmallow schemas of the ``crm`` plugin: what the API reads and writes.

Bounds fit the columns. Decimal bounds are plain validator functions: a
``Range`` on an ``as_string`` decimal would render its bounds as strings in
the OpenAPI document.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import marshmallow as ma

from udyog_sdk.api import UTCDateTimeField
from udyog_sdk.fields import ExactDecimal

from .models import ACTIVITY_KINDS, CHECKIN_SOURCES, LEAD_STATUSES, QUOTE_STATUSES, STAGE_OUTCOMES

#: GST state codes (the first two characters of a GSTIN): 01 to 38, and 97 for "other territory".
STATE_CODES = frozenset({f"{n:02d}" for n in range(1, 39)} | {"97"})

MAX_AMOUNT = decimal.Decimal(10) ** 16
MAX_QUANTITY = decimal.Decimal(10) ** 15
EDITABLE_QUOTE_STATUSES = ("draft", "sent", "accepted")


def _between(low: decimal.Decimal, high: decimal.Decimal, *, low_open: bool = False) -> Callable[[Any], None]:
    """A validator: ``low <= value <= high`` (``low < value`` with ``low_open``)."""

    def check(value: Any) -> None:
        if value is None:
            return
        if (value <= low if low_open else value < low) or value > high:
            sign = ">" if low_open else "at least"
            raise ma.ValidationError(f"must be {sign} {low} and at most {high}")

    return check


def _state_code(value: str | None) -> None:
    if value is not None and value not in STATE_CODES:
        raise ma.ValidationError("must be a GST state code: two digits from 01 to 38, or 97")


def _state_field(label: str) -> ma.fields.String:
    return ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=_state_code,
        metadata={"label": label, "description": "GST state code, e.g. 27 for Maharashtra"},
    )


def _text(max_length: int, **kwargs: Any) -> ma.fields.String:
    kwargs.setdefault("load_default", "")
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


def _name(max_length: int, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=max_length), **kwargs)


def _phone() -> ma.fields.String:
    return ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Regexp(r"^\+?[0-9 ()-]{6,32}$", error="must be a phone number: digits, spaces, + ( ) -"),
    )


def _email() -> ma.fields.Email:
    return ma.fields.Email(allow_none=True, load_default=None, validate=ma.validate.Length(max=254))


def _owner() -> ma.fields.UUID:
    return ma.fields.UUID(
        allow_none=True,
        metadata={"label": "Owner", "description": "The user who owns the record; the creating user when left out"},
    )


class CustomerSchema(ma.Schema):
    """A customer account."""

    id = ma.fields.UUID(dump_only=True)
    code = _name(32)
    name = _name(200)
    email = _email()
    phone = _phone()
    billing_address = _text(2000, metadata={"widget": "textarea"})
    billing_state_code = _state_field("Billing state code")
    shipping_address = _text(2000, metadata={"widget": "textarea"})
    shipping_state_code = _state_field("Shipping state code")
    credit_days = ma.fields.Integer(
        load_default=0, validate=ma.validate.Range(min=0, max=3650), metadata={"label": "Credit days"}
    )
    owner_id = _owner()
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class ContactSchema(ma.Schema):
    """A person at a customer."""

    id = ma.fields.UUID(dump_only=True)
    customer_id = ma.fields.UUID(required=True, metadata={"label": "Customer"})
    name = _name(120)
    designation = _text(120)
    email = _email()
    phone = _phone()
    is_primary = ma.fields.Boolean(load_default=False, metadata={"label": "Primary contact"})
    version = ma.fields.Integer(dump_only=True)


class LeadSchema(ma.Schema):
    """A lead."""

    id = ma.fields.UUID(dump_only=True)
    name = _name(200)
    company = _text(200)
    email = _email()
    phone = _phone()
    state_code = _state_field("State code")
    source = _text(60)
    status = ma.fields.String(load_default="new", validate=ma.validate.OneOf(LEAD_STATUSES))
    customer_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Customer"})
    owner_id = _owner()
    notes = _text(4000, metadata={"widget": "textarea"})
    version = ma.fields.Integer(dump_only=True)


class StageSchema(ma.Schema):
    """A pipeline stage."""

    id = ma.fields.UUID(dump_only=True)
    name = _name(60)
    sequence = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=0, max=10000))
    probability = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=100), metadata={"label": "Probability (%)"}
    )
    outcome = ma.fields.String(load_default="open", validate=ma.validate.OneOf(STAGE_OUTCOMES))
    version = ma.fields.Integer(dump_only=True)


class DealSchema(ma.Schema):
    """A deal; its stage changes through ``POST /deals/<id>/move`` (or the edit form)."""

    id = ma.fields.UUID(dump_only=True)
    title = _name(200)
    customer_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Customer"})
    lead_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Lead"})
    stage_id = ma.fields.UUID(required=True, metadata={"label": "Stage"})
    amount = ExactDecimal(2, digits=16, load_default=decimal.Decimal("0"), validate=_between(0, MAX_AMOUNT))
    expected_close = ma.fields.Date(allow_none=True, load_default=None)
    closed_at = UTCDateTimeField(dump_only=True)
    owner_id = _owner()
    notes = _text(4000, metadata={"widget": "textarea"})
    version = ma.fields.Integer(dump_only=True)


class DealMoveSchema(ma.Schema):
    """Move a deal to another stage: the stage and the version the client read."""

    stage_id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))


class QuoteLineInputSchema(ma.Schema):
    """A line given with a new quote."""

    product_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Product"})
    description = _name(200)
    quantity = ExactDecimal(3, digits=15, required=True, validate=_between(0, MAX_QUANTITY, low_open=True))
    unit_price = ExactDecimal(2, digits=16, required=True, validate=_between(0, MAX_AMOUNT))
    discount_pct = ExactDecimal(
        2, digits=3, load_default=decimal.Decimal("0"), validate=_between(0, 100), metadata={"label": "Discount %"}
    )


class QuoteLineSchema(QuoteLineInputSchema):
    """A line of a quote as its own resource (``/quote-lines``); any change of a line re-totals its quote."""

    id = ma.fields.UUID(dump_only=True)
    quote_id = ma.fields.UUID(required=True, metadata={"label": "Quote"})
    sequence = ma.fields.Integer(load_default=None, allow_none=True, validate=ma.validate.Range(min=0, max=100000))
    amount = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    version = ma.fields.Integer(dump_only=True)


class QuoteLineOutSchema(QuoteLineInputSchema):
    """A line as shown inside its quote."""

    id = ma.fields.UUID(dump_only=True)
    sequence = ma.fields.Integer(dump_only=True)
    amount = ma.fields.Decimal(dump_only=True, as_string=True, places=2)


class QuoteSchema(ma.Schema):
    """A quote; its number comes from the series ``crm.quote``, its totals from its lines."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    customer_id = ma.fields.UUID(required=True, metadata={"label": "Customer"})
    deal_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Deal"})
    quote_date = ma.fields.Date(required=True)
    valid_until = ma.fields.Date(allow_none=True, load_default=None)
    status = ma.fields.String(load_default="draft", validate=ma.validate.OneOf(("draft", "sent", "accepted")))
    gross_total = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    discount_total = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    total = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    converted_kind = ma.fields.String(dump_only=True)
    converted_id = ma.fields.UUID(dump_only=True)
    converted_number = ma.fields.String(dump_only=True)
    owner_id = _owner()
    notes = _text(4000, metadata={"widget": "textarea"})
    lines = ma.fields.List(
        ma.fields.Nested(QuoteLineInputSchema),
        load_default=list,
        validate=ma.validate.Length(max=500),
        metadata={"description": "The lines of a new quote (later: /quote-lines)"},
    )
    version = ma.fields.Integer(dump_only=True)

    @ma.validates_schema
    def _valid_after_date(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("quote_date"), data.get("valid_until")
        if start is not None and end is not None and end < start:
            raise ma.ValidationError("must be on or after the quote date", "valid_until")

    @ma.post_dump(pass_original=True)
    def _lines(self, data: dict[str, Any], obj: Any, **kwargs: Any) -> dict[str, Any]:
        data["lines"] = QuoteLineOutSchema(many=True).dump(obj.lines)
        return data


class QuoteUpdateSchema(ma.Schema):
    """A change of a quote's header (lines change through ``/quote-lines``); ``cancelled`` cancels it."""

    customer_id = ma.fields.UUID(metadata={"label": "Customer"})
    deal_id = ma.fields.UUID(allow_none=True, metadata={"label": "Deal"})
    quote_date = ma.fields.Date()
    valid_until = ma.fields.Date(allow_none=True)
    status = ma.fields.String(validate=ma.validate.OneOf(("draft", "sent", "accepted", "cancelled")))
    owner_id = ma.fields.UUID(allow_none=True, metadata={"label": "Owner"})
    notes = _text(4000, load_default=ma.missing, metadata={"widget": "textarea"})
    version = ma.fields.Integer(required=True)


class QuoteConvertSchema(ma.Schema):
    """Convert a quote: the version the client read and options for the converter (``warehouse_id``...)."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    options = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=64)), load_default=dict)


class CheckInUpdateSchema(ma.Schema):
    """A check-in's note may be completed later; where, when and who stay as recorded."""

    note = _text(2000, load_default=ma.missing, metadata={"widget": "textarea"})
    version = ma.fields.Integer(required=True)


class ActivitySchema(ma.Schema):
    """An activity or follow-up."""

    id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(load_default="task", validate=ma.validate.OneOf(ACTIVITY_KINDS))
    subject = _name(200)
    notes = _text(4000, metadata={"widget": "textarea"})
    due_on = ma.fields.Date(allow_none=True, load_default=None, metadata={"label": "Due on"})
    done = ma.fields.Boolean(load_default=False)
    done_at = UTCDateTimeField(dump_only=True)
    customer_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Customer"})
    lead_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Lead"})
    deal_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Deal"})
    owner_id = _owner()
    version = ma.fields.Integer(dump_only=True)


class CheckInSchema(ma.Schema):
    """A GPS check-in of a field visit."""

    id = ma.fields.UUID(dump_only=True)
    customer_id = ma.fields.UUID(required=True, metadata={"label": "Customer"})
    user_id = ma.fields.UUID(dump_only=True)
    latitude = ExactDecimal(
        6, digits=3, required=True, validate=_between(-90, 90),
        metadata={"description": "Degrees north, -90 to 90, at most 6 decimals"},
    )  # fmt: skip
    longitude = ExactDecimal(
        6, digits=3, required=True, validate=_between(-180, 180),
        metadata={"description": "Degrees east, -180 to 180, at most 6 decimals"},
    )  # fmt: skip
    accuracy_m = ExactDecimal(
        2, digits=6, allow_none=True, load_default=None, validate=_between(0, decimal.Decimal("100000")),
        metadata={"label": "Accuracy (m)", "description": "Radius of the fix in metres, at least 0"},
    )  # fmt: skip
    source = ma.fields.String(load_default="manual", validate=ma.validate.OneOf(CHECKIN_SOURCES))
    checked_at = UTCDateTimeField(
        allow_none=True, load_default=None, metadata={"description": "When; now when left out"}
    )
    note = _text(2000, metadata={"widget": "textarea"})
    version = ma.fields.Integer(dump_only=True)


__all__ = [
    "QUOTE_STATUSES",
    "ActivitySchema",
    "CheckInSchema",
    "ContactSchema",
    "CustomerSchema",
    "DealMoveSchema",
    "DealSchema",
    "LeadSchema",
    "QuoteConvertSchema",
    "QuoteLineSchema",
    "QuoteSchema",
    "QuoteUpdateSchema",
    "StageSchema",
]
