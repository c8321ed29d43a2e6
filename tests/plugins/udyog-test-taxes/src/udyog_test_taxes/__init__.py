"""Test plugin ``taxes``: fields contributed to other plugins' resources."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="taxes",
    version="0.1.0",
    title="Taxes (test plugin)",
    package=__name__,
    sdk=">=1.1,<2",
    requires=("ledger>=0.1", "notes>=0.2"),
    description="HSN code and tax rate on vouchers, a review date on notes: side tables of its own.",
)
