"""Marshmallow schemas of the FSSAI plugin: what its API reads and writes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_inventory.schemas import quantity_field

from . import rules
from .models import DATE_KINDS, LICENCE_KINDS, QC_STATES, RECALL_CLASSES, RECALL_DEPTHS, RECALL_STATES


class LicenceNumber(ma.fields.String):
    """A licence number: spaces are dropped, then exactly 14 digits."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = rules.normalise_licence(super()._deserialize(value, attr, data, **kwargs))
        if not rules.licence_valid(text):
            raise ma.ValidationError("exactly 14 digits")
        return text


class LicenceSchema(ma.Schema):
    """A branch's FSSAI licence or registration."""

    id = ma.fields.UUID(dump_only=True)
    branch_id = ma.fields.UUID(required=True, metadata={"label": "Branch"})
    number = LicenceNumber(required=True, metadata={"label": "Licence number", "description": "14 digits"})
    kind = ma.fields.String(load_default="licence", validate=ma.validate.OneOf(LICENCE_KINDS))
    valid_from = ma.fields.Date(allow_none=True, load_default=None)
    expires_on = ma.fields.Date(required=True, metadata={"label": "Expires on"})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    version = ma.fields.Integer(dump_only=True)


def _non_negative_days(value: int) -> None:
    if not 0 <= value <= 36500:
        raise ma.ValidationError("must be between 0 and 36500 days")


class BatchSchema(ma.Schema):
    """A food batch (the FSSAI data of an inventory lot)."""

    id = ma.fields.UUID(dump_only=True)
    product_id = ma.fields.UUID(required=True, metadata={"label": "Product"})
    lot_id = ma.fields.UUID(dump_only=True, metadata={"label": "Lot"})
    number = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"label": "Batch number", "description": "Empty: the next number of the series fssai.batch"},
    )
    date_kind = ma.fields.String(
        load_default="manufacture",
        validate=ma.validate.OneOf(DATE_KINDS),
        metadata={"label": "Date of", "description": "manufacture or packing"},
    )
    produced_on = ma.fields.Date(required=True, metadata={"label": "Manufactured / packed on"})
    expires_on = ma.fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"label": "Use by (expiry)", "description": "Empty: from the product's shelf life"},
    )
    best_before = ma.fields.Date(load_default=None, allow_none=True)
    qc_status = ma.fields.String(
        load_default="pending", validate=ma.validate.OneOf(QC_STATES), metadata={"label": "QC"}
    )
    qc_inspector = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    qc_notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    qc_at = ma.fields.AwareDateTime(dump_only=True)
    on_hold = ma.fields.Boolean(dump_only=True)
    hold_reason = ma.fields.String(dump_only=True)
    warehouse_id = ma.fields.UUID(
        load_only=True,
        load_default=None,
        allow_none=True,
        metadata={"label": "Receive into warehouse", "description": "Optional: receive the batch's stock at once"},
    )
    quantity = quantity_field(load_only=True, load_default=None, allow_none=True)
    unit_cost = ma.fields.Decimal(load_only=True, load_default=None, allow_none=True, as_string=True, places=4)
    version = ma.fields.Integer(dump_only=True)


class BatchUpdateSchema(ma.Schema):
    """What may change on a batch: its dates (with the version read)."""

    version = ma.fields.Integer(required=True)
    date_kind = ma.fields.String(validate=ma.validate.OneOf(DATE_KINDS))
    produced_on = ma.fields.Date()
    expires_on = ma.fields.Date()
    best_before = ma.fields.Date(allow_none=True)


class QcInput(ma.Schema):
    """A QC decision."""

    version = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(QC_STATES))
    inspector = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class HoldInput(ma.Schema):
    """Put a batch on hold."""

    version = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class VersionInput(ma.Schema):
    """The version the client read."""

    version = ma.fields.Integer(required=True)


class ExpiryArgs(ma.Schema):
    """Arguments of the expiry list."""

    window_days = ma.fields.Integer(validate=_non_negative_days)


class ExpiryRowSchema(ma.Schema):
    """A batch with stock that is expired or near its expiry."""

    batch_id = ma.fields.UUID()
    number = ma.fields.String()
    product_id = ma.fields.UUID()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    expires_on = ma.fields.Date()
    days_left = ma.fields.Integer()
    status = ma.fields.String()
    on_hand = ma.fields.Decimal(as_string=True)
    warehouses = ma.fields.List(ma.fields.String())
    on_hold = ma.fields.Boolean()


class TraceRowSchema(ma.Schema):
    """One order of the forward trace."""

    customer_id = ma.fields.UUID()
    customer_code = ma.fields.String()
    customer_name = ma.fields.String()
    order_id = ma.fields.UUID()
    order_number = ma.fields.String()
    order_state = ma.fields.String()
    invoice_number = ma.fields.String(allow_none=True)
    invoice_date = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Decimal(as_string=True)
    despatched_on = ma.fields.AwareDateTime(allow_none=True)


class CustomerTotalSchema(ma.Schema):
    """A customer's despatched and recovered quantities."""

    customer_id = ma.fields.UUID()
    customer_code = ma.fields.String()
    customer_name = ma.fields.String()
    orders = ma.fields.Integer()
    despatched = ma.fields.Decimal(as_string=True)
    recovered = ma.fields.Decimal(as_string=True)
    outstanding = ma.fields.Decimal(as_string=True)


class TraceSchema(ma.Schema):
    """The forward trace of a batch."""

    batch_id = ma.fields.UUID(attribute="batch.id")
    batch_number = ma.fields.String(attribute="batch.number")
    sku = ma.fields.String()
    product_name = ma.fields.String()
    pack_size = ma.fields.String()
    expires_on = ma.fields.Date(attribute="batch.expires_on")
    on_hold = ma.fields.Boolean(attribute="batch.on_hold")
    despatched = ma.fields.Decimal(as_string=True)
    recovered = ma.fields.Decimal(as_string=True)
    customers = ma.fields.List(ma.fields.Nested(CustomerTotalSchema))
    rows = ma.fields.List(ma.fields.Nested(TraceRowSchema))


class RecallSchema(ma.Schema):
    """A recall of a batch."""

    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    batch_id = ma.fields.UUID(required=True, load_only=True, metadata={"label": "Batch"})
    lot_id = ma.fields.UUID(dump_only=True, metadata={"label": "Lot"})
    recall_class = ma.fields.String(load_default="II", validate=ma.validate.OneOf(RECALL_CLASSES))
    depth = ma.fields.String(load_default="retail", validate=ma.validate.OneOf(RECALL_DEPTHS))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
    started_on = ma.fields.Date(load_default=None, allow_none=True)
    deadline = ma.fields.Date(load_default=None, allow_none=True)
    state = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(RECALL_STATES))
    closed_on = ma.fields.Date(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class RecoveryInput(ma.Schema):
    """A quantity recovered from a customer."""

    customer_id = ma.fields.UUID(required=True)
    quantity = quantity_field(required=True)
    recovered_on = ma.fields.Date(load_default=None, allow_none=True)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class RecoverySchema(ma.Schema):
    """A recorded recovery."""

    id = ma.fields.UUID()
    recall_id = ma.fields.UUID()
    customer_id = ma.fields.UUID()
    quantity = ma.fields.Decimal(as_string=True)
    recovered_on = ma.fields.Date()
    note = ma.fields.String()


class FssaiSettings(ma.Schema):
    """The per-tenant settings of the FSSAI plugin."""

    expiry_alert_days = ma.fields.Integer(
        load_default=30,
        validate=_non_negative_days,
        metadata={"label": "Expiry alert window (days)", "description": "Batches expiring within it raise alerts."},
    )
    require_licence = ma.fields.Boolean(
        load_default=False,
        metadata={
            "label": "Require a licence",
            "description": "Refuse despatch and invoicing from branches with no FSSAI licence on record "
            "(an expired licence is always refused).",
        },
    )
    recall_deadline_days = ma.fields.Integer(
        load_default=10,
        validate=_non_negative_days,
        metadata={"label": "Recall deadline (days)", "description": "Default deadline of a new recall."},
    )
