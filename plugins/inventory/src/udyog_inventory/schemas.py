"""Marshmallow schemas of the inventory plugin: what the API reads and writes."""

from __future__ import annotations

import decimal
from typing import Any

import marshmallow as ma

from .models import VALUATIONS

MAX_QUANTITY = 10**9
MAX_COST = 10**7
THOUSANDTH = decimal.Decimal("0.001")
MAX_PRICE = 10**15


def _price_fits(value: Any) -> None:
    # A plain validator rather than Range: the Decimal is a string in JSON, and a
    # Range would render its bounds as strings in the OpenAPI document.
    if not 0 <= value < MAX_PRICE:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_PRICE}")


def _three_places(value: Any) -> None:
    try:
        exact = value == value.quantize(THOUSANDTH)
    except decimal.InvalidOperation:  # too many digits to quantize: far out of range
        raise ma.ValidationError(f"must lie between -{MAX_QUANTITY} and {MAX_QUANTITY}") from None
    if not exact:
        raise ma.ValidationError("at most 3 decimals")


def _quantity_fits(value: Any) -> None:
    _three_places(value)
    if not 0 <= value < MAX_QUANTITY:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_QUANTITY}")


def _positive_quantity(value: Any) -> None:
    _three_places(value)
    if not 0 < value < MAX_QUANTITY:
        raise ma.ValidationError(f"must be greater than 0 and less than {MAX_QUANTITY}")


def _nonzero_quantity(value: Any) -> None:
    _three_places(value)
    if value == 0 or not -MAX_QUANTITY < value < MAX_QUANTITY:
        raise ma.ValidationError(f"must not be zero, and lie between -{MAX_QUANTITY} and {MAX_QUANTITY}")


def _cost_fits(value: Any) -> None:
    if not 0 <= value < MAX_COST:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_COST}")


def _factor_fits(value: Any) -> None:
    if not 0 < value < 10**12:
        raise ma.ValidationError("must be greater than 0 and less than 10^12")


def quantity_field(**kwargs: Any) -> ma.fields.Decimal:
    """A quantity in JSON: a decimal string with at most three decimals."""
    kwargs.setdefault("validate", _positive_quantity)
    return ma.fields.Decimal(as_string=True, **kwargs)


def _signed_quantity(value: Any) -> None:
    if not -MAX_QUANTITY < value < MAX_QUANTITY:
        raise ma.ValidationError(f"must lie between -{MAX_QUANTITY} and {MAX_QUANTITY}")
    _three_places(value)


def quantity_filter() -> ma.fields.Decimal:
    """A quantity as a list filter's value (a plain validator: no string bounds in the OpenAPI document)."""
    return ma.fields.Decimal(as_string=True, validate=_signed_quantity)


class CategorySchema(ma.Schema):
    """A product category."""

    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    version = ma.fields.Integer(dump_only=True)


class UnitSchema(ma.Schema):
    """A unit of measure."""

    id = ma.fields.UUID(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=16))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    version = ma.fields.Integer(dump_only=True)


class UnitConversionSchema(ma.Schema):
    """``1 from_unit = factor to_unit``, for one product or all."""

    id = ma.fields.UUID(dump_only=True)
    from_unit_id = ma.fields.UUID(required=True, metadata={"label": "From unit"})
    to_unit_id = ma.fields.UUID(required=True, metadata={"label": "To unit"})
    factor = ma.fields.Decimal(required=True, as_string=True, places=6, validate=_factor_fits)
    product_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Product"})
    version = ma.fields.Integer(dump_only=True)


class ProductSchema(ma.Schema):
    """A product."""

    id = ma.fields.UUID(dump_only=True)
    sku = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    category_id = ma.fields.UUID(allow_none=True, load_default=None, metadata={"label": "Category"})
    unit_id = ma.fields.UUID(required=True, metadata={"label": "Unit"})
    price = ma.fields.Decimal(load_default=0, as_string=True, places=2, validate=_price_fits)
    cost = ma.fields.Decimal(load_default=0, as_string=True, places=2, validate=_cost_fits)
    valuation = ma.fields.String(load_default="fifo", validate=ma.validate.OneOf(VALUATIONS))
    reorder_point = ma.fields.Decimal(allow_none=True, load_default=None, as_string=True, validate=_quantity_fits)
    reorder_qty = ma.fields.Decimal(load_default=0, as_string=True, validate=_quantity_fits)
    track_lots = ma.fields.Boolean(load_default=False)
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class WarehouseSchema(ma.Schema):
    """A warehouse of a branch."""

    id = ma.fields.UUID(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=16))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    branch_id = ma.fields.UUID(required=True, metadata={"label": "Branch"})
    active = ma.fields.Boolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class LotSchema(ma.Schema):
    """A lot of a product."""

    id = ma.fields.UUID(dump_only=True)
    product_id = ma.fields.UUID(required=True, metadata={"label": "Product"})
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    received_on = ma.fields.Date(required=True)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    version = ma.fields.Integer(dump_only=True)


class MoveSchema(ma.Schema):
    """A row of the stock ledger (read-only)."""

    id = ma.fields.UUID(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    product_id = ma.fields.UUID(dump_only=True, metadata={"label": "Product"})
    warehouse_id = ma.fields.UUID(dump_only=True, metadata={"label": "Warehouse"})
    lot_id = ma.fields.UUID(dump_only=True, allow_none=True, metadata={"label": "Lot"})
    quantity = ma.fields.Decimal(dump_only=True, as_string=True)
    on_hand_delta = ma.fields.Decimal(dump_only=True, as_string=True)
    reserved_delta = ma.fields.Decimal(dump_only=True, as_string=True)
    unit_cost = ma.fields.Decimal(dump_only=True, as_string=True)
    value = ma.fields.Decimal(dump_only=True, as_string=True)
    reference = ma.fields.String(dump_only=True)
    reference_id = ma.fields.UUID(dump_only=True, allow_none=True)
    reference_number = ma.fields.String(dump_only=True)
    user_id = ma.fields.UUID(dump_only=True, allow_none=True)
    moved_at = ma.fields.AwareDateTime(dump_only=True)
    note = ma.fields.String(dump_only=True)
    sku = ma.fields.String(dump_only=True, metadata={"label": "SKU"})
    product_name = ma.fields.String(dump_only=True, metadata={"label": "Product"})
    warehouse_code = ma.fields.String(dump_only=True, metadata={"label": "Warehouse"})
    lot_code = ma.fields.String(dump_only=True, metadata={"label": "Lot"})


class BalanceSchema(ma.Schema):
    """Stock of a product in a warehouse (and lot), read-only."""

    id = ma.fields.UUID(dump_only=True)
    product_id = ma.fields.UUID(dump_only=True, metadata={"label": "Product"})
    warehouse_id = ma.fields.UUID(dump_only=True, metadata={"label": "Warehouse"})
    lot_id = ma.fields.UUID(dump_only=True, allow_none=True, metadata={"label": "Lot"})
    on_hand = ma.fields.Decimal(dump_only=True, as_string=True)
    reserved = ma.fields.Decimal(dump_only=True, as_string=True)
    available = ma.fields.Decimal(dump_only=True, as_string=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)
    sku = ma.fields.String(dump_only=True, metadata={"label": "SKU"})
    product_name = ma.fields.String(dump_only=True, metadata={"label": "Product"})
    warehouse_code = ma.fields.String(dump_only=True, metadata={"label": "Warehouse"})
    lot_code = ma.fields.String(dump_only=True, metadata={"label": "Lot"})


_REF = {
    "reference": ma.fields.String(load_default="", validate=ma.validate.Length(max=40)),
    "reference_id": ma.fields.UUID(allow_none=True, load_default=None),
    "reference_number": ma.fields.String(load_default="", validate=ma.validate.Length(max=40)),
    "note": ma.fields.String(load_default="", validate=ma.validate.Length(max=500)),
}


class ReceiptInput(ma.Schema):
    """A receipt: quantity in the product's unit (or in ``unit_id``, converted); a lot by id or by code."""

    product_id = ma.fields.UUID(required=True)
    warehouse_id = ma.fields.UUID(required=True)
    quantity = quantity_field(required=True)
    unit_id = ma.fields.UUID(allow_none=True, load_default=None)
    unit_cost = ma.fields.Decimal(allow_none=True, load_default=None, as_string=True, places=4, validate=_cost_fits)
    lot_id = ma.fields.UUID(allow_none=True, load_default=None)
    lot_code = ma.fields.String(allow_none=True, load_default=None, validate=ma.validate.Length(min=1, max=40))
    received_on = ma.fields.Date(allow_none=True, load_default=None)
    reference = _REF["reference"]
    reference_id = _REF["reference_id"]
    reference_number = _REF["reference_number"]
    note = _REF["note"]


class IssueInput(ma.Schema):
    """An issue out of a warehouse."""

    product_id = ma.fields.UUID(required=True)
    warehouse_id = ma.fields.UUID(required=True)
    quantity = quantity_field(required=True)
    unit_id = ma.fields.UUID(allow_none=True, load_default=None)
    lot_id = ma.fields.UUID(allow_none=True, load_default=None)
    from_reserved = ma.fields.Boolean(load_default=False)
    reference = _REF["reference"]
    reference_id = _REF["reference_id"]
    reference_number = _REF["reference_number"]
    note = _REF["note"]


class TransferInput(ma.Schema):
    """A transfer between two warehouses."""

    product_id = ma.fields.UUID(required=True)
    from_warehouse_id = ma.fields.UUID(required=True)
    to_warehouse_id = ma.fields.UUID(required=True)
    quantity = quantity_field(required=True)
    unit_id = ma.fields.UUID(allow_none=True, load_default=None)
    lot_id = ma.fields.UUID(allow_none=True, load_default=None)
    reference = _REF["reference"]
    reference_id = _REF["reference_id"]
    reference_number = _REF["reference_number"]
    note = _REF["note"]


class AdjustmentInput(ma.Schema):
    """A stock correction: ``quantity_delta`` positive (found) or negative (lost)."""

    product_id = ma.fields.UUID(required=True)
    warehouse_id = ma.fields.UUID(required=True)
    quantity_delta = quantity_field(required=True, validate=_nonzero_quantity)
    unit_cost = ma.fields.Decimal(allow_none=True, load_default=None, as_string=True, places=4, validate=_cost_fits)
    lot_id = ma.fields.UUID(allow_none=True, load_default=None)
    note = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class ValuationArgs(ma.Schema):
    """Arguments of the valuation report."""

    product_id = ma.fields.UUID()


class ValuationLineSchema(ma.Schema):
    """A product's stock quantity and value."""

    product_id = ma.fields.UUID()
    sku = ma.fields.String()
    name = ma.fields.String()
    valuation = ma.fields.String()
    quantity = ma.fields.Decimal(as_string=True)
    value = ma.fields.Decimal(as_string=True)
    unit_cost = ma.fields.Decimal(as_string=True)


class TransferResultSchema(ma.Schema):
    """The two moves of a transfer."""

    out = ma.fields.Nested(MoveSchema)
    into = ma.fields.Nested(MoveSchema, data_key="in")
