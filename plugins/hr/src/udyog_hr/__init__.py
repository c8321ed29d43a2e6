"""The Udyog plugin ``hr``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="hr",
    version="0.1.0",
    title="HR",
    package=__name__,
    sdk=">=1.2,<2",
    description=(
        "Employees, departments, shifts, holidays, attendance with GPS check-in and branch geofences, "
        "leave types with balances, accrual and approvals, and the monthly attendance summary for payroll."
    ),
)
