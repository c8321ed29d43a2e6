"""The Udyog plugin ``inventory``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="inventory",
    version="0.1.0",
    title="Inventory",
    package=__name__,
    sdk=">=1.7,<2",
    optional=("crm", "vigilance"),  # checks crm's quote lines when crm is there; contributes rules to vigilance
    description=(
        "Products, units, warehouses per branch, a stock ledger with locked balances, reservations,"
        " reorder points, lots, FIFO and weighted-average valuation."
    ),
)
