"""The Udyog plugin ``sales``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="sales",
    version="0.1.0",
    title="Sales",
    package=__name__,
    sdk=">=1.7,<2",
    requires=("crm>=0.1", "inventory>=0.1"),
    optional=("vigilance",),  # contributes its rules when vigilance is there
    description=(
        "Distributor terms, sales orders from draft to paid, gap-free invoices, credit notes, payments "
        "and their allocation; publishes the order-lifecycle hooks."
    ),
)
