"""Test plugin ``ledger``."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="ledger",
    version="0.1.0",
    title="Ledger (test plugin)",
    package=__name__,
    sdk=">=1.2,<2",
    description="Vouchers: a legal document declared as a resource.",
)
