"""The Udyog plugin ``fssai``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="fssai",
    version="0.1.0",
    title="FSSAI batches",
    package=__name__,
    sdk=">=1.3,<2",
    requires=("crm>=0.1", "inventory>=0.1", "sales>=0.1"),
    optional=("vigilance",),  # contributes its rules when vigilance is there
    description=(
        "FSSAI licences per branch, food batches on inventory lots (manufacture, expiry, QC), first-expiry-first-out"
        " allocation, expiry alerts, recall hold, forward trace and the recall report."
    ),
)
