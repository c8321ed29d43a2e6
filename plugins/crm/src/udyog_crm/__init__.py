"""The Udyog plugin ``crm``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="crm",
    version="0.1.0",
    title="CRM",
    package=__name__,
    sdk=">=1.7,<2",
    description=(
        "Customers and contacts, leads, a deal pipeline, quotes, field visits with GPS check-ins, "
        "activities and follow-ups."
    ),
)
