"""Hook implementations of the taxes plugin: its field contributions."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_sdk import hookimpl
from udyog_sdk.fields import ExactDecimal, FieldContribution


@hookimpl
def udyog_field_contributions() -> list[FieldContribution]:
    from .models import NoteReview, VoucherTax

    return [
        FieldContribution(
            "ledger.voucher",
            VoucherTax,
            {
                "hsn_code": ma.fields.String(
                    allow_none=True,
                    validate=ma.validate.Regexp(r"^[0-9]{4,8}$", error="4 to 8 digits"),
                    metadata={"label": "HSN code", "description": "Harmonised System of Nomenclature, 4 to 8 digits"},
                ),
                "tax_rate": ExactDecimal(
                    2,
                    digits=3,
                    allow_none=True,
                    attribute="rate",
                    validate=_not_negative,
                    metadata={"label": "Tax rate (%)"},
                ),
            },
            filters=["hsn_code"],
            list_columns=["hsn_code"],
        ),
        FieldContribution(
            "notes.note",
            NoteReview,
            {
                "review_due": ma.fields.Date(allow_none=True, metadata={"label": "Review due"}),
                "reviewed": ma.fields.Boolean(metadata={"description": "checked once someone reviewed the note"}),
            },
            filters=["review_due", "reviewed"],
        ),
    ]


def _not_negative(value: Any) -> None:
    # A plain validator, not Range: apispec would render a Range's bounds as strings for as_string decimals.
    if value < 0:
        raise ma.ValidationError("must not be negative")
