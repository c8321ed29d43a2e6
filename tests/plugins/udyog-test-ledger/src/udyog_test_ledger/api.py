"""The ledger's one resource: vouchers, declared."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from udyog_sdk.resources import Resource
from udyog_sdk.series import next_number

from .models import Voucher

MAX_AMOUNT = 10**16


def _amount_fits(value: Any) -> None:
    # A plain validator, not Range: apispec would render a Range's bounds through
    # the field (as strings, for as_string decimals), which is no valid OpenAPI.
    if not 0 <= value < MAX_AMOUNT:
        raise ma.ValidationError(f"must be at least 0 and less than {MAX_AMOUNT}")


class VoucherSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    number = ma.fields.String(dump_only=True)
    party = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    amount = ma.fields.Decimal(
        required=True,
        as_string=True,
        places=2,
        validate=_amount_fits,
    )
    issued_on = ma.fields.Date(required=True)
    cancelled = ma.fields.Boolean(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class VoucherResource(Resource):
    """Vouchers: numbered from the ``ledger.voucher`` series on creation, cancelled instead of deleted."""

    model = Voucher
    schema = VoucherSchema
    permission_prefix = "ledger.voucher"
    legal_document = True
    filters = ("party", "issued_on", "cancelled", "number")
    sort = ("issued_on", "number", "party")
    search = ("party", "number")
    default_sort = "-issued_on"
    list_columns = ("number", "party", "amount", "issued_on", "cancelled")

    def create(self, data: dict[str, Any]) -> Voucher:
        """Take the voucher's number as late as possible, in the same transaction."""
        return super().create({**data, "number": next_number("ledger.voucher")})


VOUCHERS = VoucherResource()
