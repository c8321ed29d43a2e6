"""The Udyog plugin ``inventory``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="inventory",
    version="0.1.0",
    title="Inventory",
    package=__name__,
    sdk=">=1.2,<2",
    optional=("crm",),  # checks the products of crm's quote lines when crm is there
    description=(
        "Products, units, warehouses per branch, a stock ledger with locked balances, reservations,"
        " reorder points, lots, FIFO and weighted-average valuation."
    ),
)
