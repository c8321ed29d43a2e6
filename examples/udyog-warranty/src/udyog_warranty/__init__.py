"""The Udyog plugin ``warranty``: warranty cards of sold goods (an example third-party plugin)."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="warranty",
    version="0.1.0",
    title="Warranty",
    package=__name__,
    sdk=">=1.1,<2",
    # Until the bundled business plugins exist, the test plugins play their parts:
    # ``ledger`` has the sales vouchers, ``notes`` the hook this plugin implements.
    requires=("ledger>=0.1", "notes>=0.2"),
    description="Warranty cards per serial number, a warranty term on sales vouchers, claim notes checked.",
)
