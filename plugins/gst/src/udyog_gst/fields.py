"""The fields GST contributes to crm's customers, inventory's products and sales' invoices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_sdk.fields import ExactDecimal, FieldContribution
from udyog_sdk.formatting import tenant_today

from .identifiers import IdentifierError, normalise, validate_gstin, validate_pan
from .models import InvoiceTax, Party, ProductTax


class GstinField(ma.fields.String):
    """A GSTIN: normalised (spaces and ``-`` stripped, upper case), then validated; empty means unregistered."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not normalise(text):
            return None
        try:
            return validate_gstin(text)
        except IdentifierError as exc:
            raise ma.ValidationError(str(exc)) from None


class PanField(ma.fields.String):
    """A PAN: normalised, then validated (format and holder type); empty means none."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not normalise(text):
            return None
        try:
            return validate_pan(text)
        except IdentifierError as exc:
            raise ma.ValidationError(str(exc)) from None


class HsnField(ma.fields.String):
    """An HSN or SAC code: digits only, at least as many as the tenant's turnover requires (4 or 6), at most 8."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        from .services import hsn_digits

        text = normalise(super()._deserialize(value, attr, data, **kwargs)).replace(".", "")
        if not text:
            return None
        if not text.isdigit() or len(text) > 8:
            raise ma.ValidationError("an HSN/SAC code is 2 to 8 digits")
        needed = hsn_digits(tenant_today())
        if len(text) < max(needed, 2):
            raise ma.ValidationError(
                f"at least {needed} digits: the previous year's turnover setting requires {needed}-digit HSN codes"
            )
        return text


class Shown(ma.fields.Field):
    """A value shown and never read: input is ignored (GST maintains it)."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        """Always ``missing``: GST alone writes the value."""
        return ma.missing


class ShownString(Shown, ma.fields.String):
    """A string GST maintains."""


class ShownBoolean(Shown, ma.fields.Boolean):
    """A flag GST maintains."""


def _rate(value: Any) -> None:
    if not 0 <= value <= 100:
        raise ma.ValidationError("must be between 0 and 100")


def contributions() -> list[FieldContribution]:
    """GSTIN/PAN/SEZ/export on customers, HSN and rate on products, the GST facts on invoices."""
    readonly = {"widget": "readonly"}
    return [
        FieldContribution(
            "crm.customer",
            Party,
            {
                "gstin": GstinField(
                    allow_none=True,
                    metadata={"label": "GSTIN", "description": "15 characters; empty for an unregistered party"},
                ),
                "pan": PanField(
                    allow_none=True, metadata={"label": "PAN", "description": "Taken from the GSTIN if empty"}
                ),
                "gst_state": ShownString(
                    allow_none=True,
                    attribute="state_code",
                    metadata={"label": "GST state", "description": "From the GSTIN", **readonly},
                ),
                "sez": ma.fields.Boolean(allow_none=True, metadata={"label": "SEZ unit", "description": "Always IGST"}),
                "export": ma.fields.Boolean(
                    allow_none=True, metadata={"label": "Export customer", "description": "Place of supply 96, IGST"}
                ),
            },
            filters=["gstin"],
            list_columns=["gstin"],
        ),
        FieldContribution(
            "inventory.product",
            ProductTax,
            {
                "hsn_code": HsnField(
                    allow_none=True,
                    metadata={"label": "HSN/SAC code", "description": "4 or 6 digits by turnover, up to 8"},
                ),
                "gst_rate": ExactDecimal(
                    2,
                    digits=3,
                    allow_none=True,
                    attribute="rate",
                    validate=_rate,
                    metadata={
                        "label": "GST rate (%)",
                        "description": "Empty: the dated rate of the HSN code (GST → Rates)",
                    },
                ),
                "gst_rate_from": ma.fields.Date(
                    allow_none=True,
                    attribute="rate_from",
                    metadata={"label": "GST rate from", "description": "The product's own rate applies from this date"},
                ),
            },
            filters=["hsn_code"],
            list_columns=["hsn_code"],
        ),
        FieldContribution(
            "sales.invoice",
            InvoiceTax,
            {
                "place_of_supply": ShownString(allow_none=True, metadata={"label": "Place of supply", **readonly}),
                "supplier_gstin": ShownString(allow_none=True, metadata={"label": "Supplier GSTIN", **readonly}),
                "buyer_gstin": ShownString(allow_none=True, metadata={"label": "Buyer GSTIN", **readonly}),
                "eway_bill_needed": ShownBoolean(
                    allow_none=True,
                    metadata={"label": "E-way bill needed", "description": "Inter-state above ₹50,000", **readonly},
                ),
                "einvoice_needed": ShownBoolean(
                    allow_none=True, metadata={"label": "E-invoice (IRN) needed", **readonly}
                ),
            },
            list_columns=["place_of_supply"],
        ),
    ]
