"""Per-tenant settings of the inventory plugin."""

from __future__ import annotations

import marshmallow as ma

from udyog_sdk import SettingsSchema


class InventorySettings(ma.Schema):
    """What a tenant may change about its stock rules."""

    allow_negative_stock = ma.fields.Boolean(
        load_default=False,
        metadata={
            "label": "Allow negative stock",
            "description": "Let issues and adjustments take on hand below zero (reservations never may).",
        },
    )


def settings_schema() -> SettingsSchema:
    """The declaration returned from ``udyog_settings``."""
    return SettingsSchema(InventorySettings, title="Inventory", description="Rules of the stock ledger.")
