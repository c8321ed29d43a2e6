"""The Udyog plugin ``payroll``: its manifest."""

from udyog_sdk import Plugin

plugin = Plugin(
    name="payroll",
    version="0.1.0",
    title="Payroll",
    package=__name__,
    sdk=">=1.4,<2",
    requires=("hr>=0.1",),
    optional=("vigilance",),  # contributes its rule when vigilance is there
    description=(
        "Salary structures, monthly payroll runs with Indian statutory deductions (EPF, ESI, professional tax,"
        " income-tax TDS), payslips, the payroll register, PF and ESI statements and the bank transfer file."
    ),
)
