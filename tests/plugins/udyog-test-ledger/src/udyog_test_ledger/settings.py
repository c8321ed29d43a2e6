"""The ledger's per-tenant settings (exercise the SDK's settings contract in tests)."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma

from udyog_sdk import SettingsSchema, hookimpl


class LedgerSettings(ma.Schema):
    recent_count = ma.fields.Integer(
        load_default=5,
        strict=False,
        validate=ma.validate.Range(min=1, max=20),
        metadata={"label": "Recent vouchers shown", "description": "How many the dashboard lists."},
    )
    approval_limit = ma.fields.Decimal(
        load_default=Decimal("100000.00"),
        as_string=True,
        places=2,
        validate=ma.validate.Range(min=0, max=10**15),
        metadata={"description": "Vouchers above this amount are listed for review on the dashboard."},
    )
    show_cancelled = ma.fields.Boolean(
        load_default=False,
        metadata={"label": "List cancelled vouchers", "description": "Whether the recent list includes them."},
    )


@hookimpl
def udyog_settings() -> SettingsSchema:
    return SettingsSchema(LedgerSettings, title="Ledger", description="Vouchers on the dashboard and their review.")
