"""Hook implementations of the ``gst`` plugin: its parts for the core and its answers to sales' hooks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma

from udyog_sdk import (
    JobContext,
    Permission,
    RoleTemplate,
    SettingsSchema,
    TaskDefinition,
    TenantContext,
    hookimpl,
)
from udyog_sdk.fields import ExactDecimal, FieldContribution
from udyog_sdk.series import SeriesConstraint
from udyog_sdk.ui import MenuEntry

RULE_46_KEYS = ("sales.invoice", "sales.credit_note")

# -- the platform's hooks ----------------------------------------------------------------------


@hookimpl
def udyog_blueprints() -> list[Any]:
    """The API (``/api/v1/gst``) and the pages (``/gst``), fresh."""
    from .api import create_blueprint
    from .pages import create_pages

    return [create_blueprint(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Registrations and HSN rates."""
    from .api import RESOURCES

    return list(RESOURCES)


@hookimpl
def udyog_field_contributions() -> list[FieldContribution]:
    """GSTIN/PAN on customers, HSN and rate on products, the GST facts on invoices."""
    from .fields import contributions

    return contributions()


ACTIONS = (
    Permission("gst.invoice.read", "See and print GST tax invoices"),
    Permission("gst.return.read", "See and download GSTR-1 returns"),
    Permission("gst.return.generate", "Generate GSTR-1 returns"),
)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The resources' permissions plus invoices and returns."""
    from .api import RESOURCES

    return [p for resource in RESOURCES for p in resource.permissions()] + list(ACTIONS)


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """The accountant files GST; the sales manager sees tax invoices."""
    return [
        RoleTemplate("Accountant", ("gst.*",), description="Invoices, credit notes, payments and GST returns"),
        RoleTemplate(
            "Sales Manager",
            ("gst.invoice.read", "gst.registration.read", "gst.rate.read"),
            description="Runs sales: orders, terms, credit overrides",
        ),
    ]


@hookimpl
def udyog_series_constraints(key: str) -> list[SeriesConstraint]:
    """CGST rule 46 on invoices and credit notes: 16 characters of ``A-Za-z0-9/-``, restarting each financial year.

    The first character must also be a letter or digit (not ``0`` with
    e-invoicing); constraints cannot say that, so the invoice hook checks it
    (:func:`udyog_gst.services.check_invoice_number`) and the series check
    route reports it.
    """
    if key not in RULE_46_KEYS:
        return []
    return [
        SeriesConstraint(
            key,
            "GST rule 46: at most 16 characters, only A-Z a-z 0-9 - /",
            max_length=16,
            allowed_chars="A-Za-z0-9/-",
        ),
        SeriesConstraint(key, "GST rule 46: numbers restart each financial year", resets=("financial_year",)),
    ]


def _crore(value: Any) -> None:
    if not 0 <= value < 10**15:
        raise ma.ValidationError("must be at least 0 and less than 1000000000000000")


class GstSettings(ma.Schema):
    """The per-tenant settings of GST."""

    turnover_previous_year = ExactDecimal(
        2,
        digits=15,
        load_default=Decimal("0.00"),
        validate=_crore,
        metadata={
            "label": "Turnover of the previous year (₹)",
            "description": "Up to ₹5 crore: 4-digit HSN codes; above: 6 digits.",
        },
    )
    aggregate_turnover = ExactDecimal(
        2,
        digits=15,
        load_default=Decimal("0.00"),
        validate=_crore,
        metadata={
            "label": "Highest aggregate turnover since 2017-18 (₹)",
            "description": "Above the e-invoice threshold (₹5 crore from 01-08-2023) invoices need an IRN.",
        },
    )
    round_to_rupee = ma.fields.Boolean(
        load_default=True,
        metadata={"label": "Round invoice totals to the rupee", "description": "With an explicit round-off line."},
    )


@hookimpl
def udyog_settings() -> SettingsSchema:
    """Turnovers (HSN digits, e-invoicing) and rounding."""
    return SettingsSchema(GstSettings, title="GST", description="Turnover thresholds and rounding.")


@hookimpl
def udyog_tenant_setup(tenant: TenantContext, session: Any) -> None:
    """Copy the shipped HSN rates (with the 22-09-2025 changes) into the tenant's rate table (idempotent)."""
    from .services import seed_rates

    seed_rates()


def run_gstr1(ctx: JobContext, period: str, gstin: str | None = None) -> dict[str, Any]:
    """The background job: build and store the month's GSTR-1 of ``gstin``; the result names the stored return."""
    from .gstr1 import generate

    ctx.progress(10, f"GSTR-1 {period}")
    row = generate(period, run_id=ctx.run_id, gstin=gstin)
    return {"return_id": str(row.id), "period": period, "gstin": row.gstin}


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """``gst.gstr1``: GSTR-1 for a month."""
    return [TaskDefinition("gst.gstr1", run_gstr1, title="GSTR-1", max_retries=2, time_limit=1200)]


GROUP = "gst.root"


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """Registrations, HSN rates and GSTR-1."""
    from .api import RATES, REGISTRATIONS

    return [
        MenuEntry(GROUP, "GST", "", None, weight=40, icon="bank"),
        REGISTRATIONS.menu_entry(weight=41, parent=GROUP, icon="building"),
        RATES.menu_entry(weight=42, parent=GROUP, icon="percent"),
        MenuEntry("gst.returns", "GSTR-1", "/gst/returns", "gst.return.read", 43, GROUP, "file-earmark-spreadsheet"),
    ]


# -- sales' hooks ----------------------------------------------------------------------------------


@hookimpl
def sales_compute_taxes(order: Any, lines: list[Any]) -> list[Any] | None:
    """CGST + SGST (or UTGST) within a state, IGST across states and for SEZ and exports, per line."""
    from .services import line_taxes

    return line_taxes(order, lines)


@hookimpl
def sales_round_off(order: Any) -> Decimal | None:
    """The total rounded to the rupee (half up) when the tenant's setting says so."""
    from .services import round_off

    return round_off(order.subtotal - order.discount_amount + order.tax_total)


@hookimpl
def sales_after_invoice(invoice: Any) -> None:
    """Fix the invoice's GST facts (GSTINs, place of supply, lines, e-way bill and e-invoice flags)."""
    from .services import snapshot_invoice

    snapshot_invoice(invoice)


# -- demo data --------------------------------------------------------------------------------


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """The branch's GSTIN, customers' GSTINs, HSN codes on the demo products (idempotent)."""
    from .demo import load

    load(progress)
