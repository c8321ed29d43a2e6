"""Marshmallow schemas of the ``sales`` plugin: what the API reads and writes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_sdk.api import version_field
from udyog_sdk.fields import ExactDecimal

from .models import ORDER_STATES, PAYMENT_METHODS

MAX_AMOUNT = 10**15


def _percent(value: Any) -> None:
    # A plain validator: a Range on an as_string Decimal renders string bounds in OpenAPI.
    if not 0 <= value <= 100:
        raise ma.ValidationError("must be between 0 and 100")


def _positive_quantity(value: Any) -> None:
    if not 0 < value < MAX_AMOUNT:
        raise ma.ValidationError(f"must be more than 0 and less than {MAX_AMOUNT}")


def _positive_amount(value: Any) -> None:
    if not 0 < value < MAX_AMOUNT:
        raise ma.ValidationError(f"must be more than 0 and less than {MAX_AMOUNT}")


def _price(value: Any) -> None:
    if not 0 <= value < MAX_AMOUNT:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_AMOUNT}")


def percent_field(**kwargs: Any) -> ExactDecimal:
    """A percentage 0 to 100 with at most 2 decimals."""
    return ExactDecimal(2, digits=3, validate=_percent, **kwargs)


class OrderLineSchema(ma.Schema):
    """A line of an order: what is ordered, as entered; prices and amounts are set on confirmation."""

    id = ma.fields.UUID(dump_only=True)
    line_no = ma.fields.Integer(dump_only=True)
    product_id = ma.fields.UUID(required=True, metadata={"label": "Product"})
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    quantity = ExactDecimal(3, digits=15, required=True, validate=_positive_quantity)
    discount_pct = percent_field(load_default=None, allow_none=True, metadata={"label": "Discount (%)"})
    agreed_price = ExactDecimal(
        2,
        digits=15,
        load_default=None,
        allow_none=True,
        validate=_price,
        metadata={"description": "A price agreed beforehand (a quote's); used instead of the list price plus margin"},
    )
    unit_price = ExactDecimal(2, dump_only=True)
    amount = ExactDecimal(2, dump_only=True)
    taxable = ExactDecimal(2, dump_only=True)
    tax_amount = ExactDecimal(2, dump_only=True)


def fold_lines(data: Any) -> Any:
    """Fold flat form keys ``lines.<n>.<field>`` into ``lines`` (the order form's rows); trailing empty rows drop.

    Values that are None or "" are left out of a row, so the row's defaults
    apply; rows in the middle stay, so errors keep the form's row numbers.
    """
    if not isinstance(data, dict) or not any(isinstance(k, str) and k.startswith("lines.") for k in data):
        return data
    rows: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        parts = key.split(".") if isinstance(key, str) else []
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and len(parts[1]) <= 3:
            row = rows.setdefault(int(parts[1]), {})
            if value not in (None, ""):
                row[parts[2]] = value
        else:
            out[key] = value
    ordered = [rows.get(i, {}) for i in range(max(rows) + 1)] if rows else []
    while ordered and not ordered[-1]:
        ordered.pop()
    if "lines" not in out:
        out["lines"] = ordered
    return out


class OrderSchema(ma.Schema):
    """A sales order, as the API shows it and as it is created."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    customer_id = ma.fields.UUID(required=True, metadata={"label": "Customer"})
    warehouse_id = ma.fields.UUID(required=True, metadata={"label": "Warehouse"})
    owner_id = ma.fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"label": "Owner", "description": "Default: you", "reference": "user"},
    )
    order_date = ma.fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today"})
    state = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(ORDER_STATES))
    discount_pct = percent_field(load_default=None, allow_none=True, metadata={"label": "Order discount (%)"})
    notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    lines = ma.fields.List(
        ma.fields.Nested(OrderLineSchema), required=True, validate=ma.validate.Length(min=1, max=500)
    )
    subtotal = ExactDecimal(2, dump_only=True)
    discount_amount = ExactDecimal(2, dump_only=True)
    tax_total = ExactDecimal(2, dump_only=True)
    round_off = ExactDecimal(2, dump_only=True)
    total = ExactDecimal(2, dump_only=True)
    taxes = ma.fields.Raw(
        dump_only=True, metadata={"description": "The tax breakdown: line_no, name, rate and amount per tax"}
    )
    confirmed_at = ma.fields.DateTime(dump_only=True)
    delivered_at = ma.fields.DateTime(dump_only=True)
    cancelled_at = ma.fields.DateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)

    @ma.pre_load
    def _fold_form_rows(self, data: Any, **kwargs: Any) -> Any:
        return fold_lines(data)


class OrderUpdateSchema(ma.Schema):
    """A change of a draft order; ``lines``, when given, replace every line."""

    version = version_field()
    customer_id = ma.fields.UUID()
    warehouse_id = ma.fields.UUID()
    owner_id = ma.fields.UUID(allow_none=True)
    order_date = ma.fields.Date()
    discount_pct = percent_field(allow_none=True)
    notes = ma.fields.String(validate=ma.validate.Length(max=2000))
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), validate=ma.validate.Length(min=1, max=500))


class VersionSchema(ma.Schema):
    """The body of an action on a record: the version the client read."""

    version = version_field()


class InvoiceLineSchema(ma.Schema):
    """A line of an invoice."""

    line_no = ma.fields.Integer(dump_only=True)
    product_id = ma.fields.UUID(dump_only=True)
    description = ma.fields.String(dump_only=True)
    quantity = ExactDecimal(3, dump_only=True)
    unit_price = ExactDecimal(2, dump_only=True)
    discount_pct = ExactDecimal(2, dump_only=True)
    taxable = ExactDecimal(2, dump_only=True)
    tax_amount = ExactDecimal(2, dump_only=True)


class InvoiceSchema(ma.Schema):
    """An invoice (read-only: invoices are issued by an order's invoice action, and only cancelled)."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    order_id = ma.fields.UUID(dump_only=True, metadata={"label": "Order"})
    customer_id = ma.fields.UUID(dump_only=True, metadata={"label": "Customer"})
    invoice_date = ma.fields.Date(dump_only=True)
    state = ma.fields.String(dump_only=True)
    subtotal = ExactDecimal(2, dump_only=True)
    discount_amount = ExactDecimal(2, dump_only=True)
    tax_total = ExactDecimal(2, dump_only=True)
    round_off = ExactDecimal(2, dump_only=True)
    total = ExactDecimal(2, dump_only=True)
    paid_amount = ExactDecimal(2, dump_only=True)
    credited_amount = ExactDecimal(2, dump_only=True)
    balance = ExactDecimal(2, dump_only=True)
    lines = ma.fields.List(ma.fields.Nested(InvoiceLineSchema), dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class CreditNoteSchema(ma.Schema):
    """A credit note against an invoice; ``amount`` at most the invoice's balance."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    invoice_id = ma.fields.UUID(required=True, metadata={"label": "Invoice"})
    customer_id = ma.fields.UUID(dump_only=True, metadata={"label": "Customer"})
    note_date = ma.fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today"})
    amount = ExactDecimal(2, digits=15, required=True, validate=_positive_amount)
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    state = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class AllocationInputSchema(ma.Schema):
    """Part of a payment applied to an invoice."""

    invoice_id = ma.fields.UUID(required=True, metadata={"label": "Invoice"})
    amount = ExactDecimal(2, digits=15, required=True, validate=_positive_amount)


class PaymentSchema(ma.Schema):
    """A payment received; ``allocations`` (optional) apply it to invoices at once."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    customer_id = ma.fields.UUID(required=True, metadata={"label": "Customer"})
    payment_date = ma.fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today"})
    amount = ExactDecimal(2, digits=15, required=True, validate=_positive_amount)
    method = ma.fields.String(load_default="bank", validate=ma.validate.OneOf(PAYMENT_METHODS))
    reference = ma.fields.String(load_default="", validate=ma.validate.Length(max=80))
    allocated_amount = ExactDecimal(2, dump_only=True)
    allocations = ma.fields.List(
        ma.fields.Nested(AllocationInputSchema), load_default=list, validate=ma.validate.Length(max=200)
    )
    state = ma.fields.String(dump_only=True, metadata={"description": "received, or cancelled"})
    version = ma.fields.Integer(dump_only=True)


class AllocateSchema(ma.Schema):
    """Allocate part of a payment to an invoice."""

    version = version_field()
    invoice_id = ma.fields.UUID(required=True)
    amount = ExactDecimal(2, digits=15, required=True, validate=_positive_amount)
