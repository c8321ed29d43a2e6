"""The Udyog plugin ``warranty``: warranty cards of sold goods (an example third-party plugin)."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="warranty",
    version="0.2.0",
    title="Warranty",
    package=__name__,
    sdk=">=1.2,<2",
    # inventory has the products (this plugin adds a warranty term to them), sales the invoices
    # (its hook ``sales_after_invoice`` registers the cards); crm has the customers' names.
    requires=("crm>=0.1", "inventory>=0.1", "sales>=0.1"),
    description="Warranty cards per serial number, a warranty term on products, cards registered from invoices.",
)
