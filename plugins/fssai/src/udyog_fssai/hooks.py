"""Hook implementations of the ``fssai`` plugin: its parts for the core, its answers to inventory's and sales' hooks."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma

from udyog_sdk import (
    JobContext,
    Permission,
    RoleTemplate,
    Schedule,
    SettingsSchema,
    TaskDefinition,
    TenantContext,
    hookimpl,
)
from udyog_sdk.fields import FieldContribution
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import DashboardWidget, MenuEntry

#: Permissions of the actions that are not generic resource operations.
ACTIONS = (
    Permission("fssai.batch.qc", "Record QC decisions on batches"),
    Permission("fssai.batch.hold", "Put batches on hold and release them"),
    Permission("fssai.recall.write", "Close recalls"),
    Permission("fssai.recovery.create", "Record quantities recovered in a recall"),
)
SCAN_TASK = "fssai.expiry_scan"

# -- the platform's hooks ----------------------------------------------------------------------


@hookimpl
def udyog_blueprints() -> list[Any]:
    """The API (``/api/v1/fssai``) and the pages (``/fssai``), fresh."""
    from .api import create_blueprint
    from .pages import create_pages

    return [create_blueprint(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Licences, batches, recalls and recoveries (other plugins may contribute fields to them)."""
    from .api import RESOURCES

    return list(RESOURCES)


def _days(value: int) -> None:
    if not 0 <= value <= 36500:
        raise ma.ValidationError("must be between 0 and 36500 days")


@hookimpl
def udyog_field_contributions() -> list[FieldContribution]:
    """Shelf life and pack size on inventory's products; minimum remaining shelf life on crm's customers."""
    from .models import CustomerFood, ProductFood

    return [
        FieldContribution(
            "inventory.product",
            ProductFood,
            {
                "shelf_life_days": ma.fields.Integer(
                    allow_none=True,
                    validate=_days,
                    metadata={"label": "Shelf life (days)", "description": "A new batch's expiry: production + this"},
                ),
                "pack_size": ma.fields.String(
                    allow_none=True,
                    validate=ma.validate.Length(max=60),
                    metadata={"label": "Pack size", "description": "As printed in recall traces (500 g jar)"},
                ),
            },
            filters=["shelf_life_days"],
            list_columns=["shelf_life_days"],
        ),
        FieldContribution(
            "crm.customer",
            CustomerFood,
            {
                "min_remaining_days": ma.fields.Integer(
                    allow_none=True,
                    validate=_days,
                    metadata={
                        "label": "Minimum shelf life left (days)",
                        "description": "Batches with less shelf life left are not allocated to this customer",
                    },
                ),
            },
        ),
    ]


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The resources' permissions plus QC, hold, closing recalls and recording recoveries."""
    from .api import RESOURCES

    declared = {p.name: p for resource in RESOURCES for p in resource.permissions()}
    for permission in ACTIONS:
        declared.setdefault(permission.name, permission)
    return list(declared.values())


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Food Safety Officer (everything FSSAI), QC Inspector (QC decisions), Store Keeper (batches)."""
    return [
        RoleTemplate("Food Safety Officer", ("fssai.*",), description="Licences, batches, QC, expiry and recalls"),
        RoleTemplate(
            "QC Inspector", ("fssai.batch.read", "fssai.batch.qc"), description="Passes or fails food batches"
        ),
        RoleTemplate(
            "Store Keeper", ("fssai.batch.read", "fssai.batch.create"), description="Makes and receives batches"
        ),
    ]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    """Batch numbers (``B2611-0001``, monthly) and recall numbers (``RC/2026-27/001``)."""
    return [
        SeriesDefinition("fssai.batch", "Food batch", "B{YY}{MM}-{seq:04}", reset="monthly"),
        SeriesDefinition("fssai.recall", "Recall", "RC/{FY}/{seq:03}", reset="financial_year"),
    ]


@hookimpl
def udyog_settings() -> SettingsSchema:
    """``expiry_alert_days`` (30), ``require_licence`` (off), ``recall_deadline_days`` (10)."""
    from .schemas import FssaiSettings

    return SettingsSchema(FssaiSettings, title="FSSAI", description="Expiry alerts, licences and recalls.")


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The Food safety group: batches, the expiry watch, recalls, recoveries and licences."""
    from .api import BATCHES, LICENCES, RECALLS, RECOVERIES

    group = "fssai.root"
    return [
        MenuEntry(group, "Food safety", "", None, weight=220, icon="shield-check"),
        BATCHES.menu_entry(weight=10, parent=group),
        MenuEntry("fssai.expiry", "Expiry watch", "/fssai/expiry", "fssai.batch.read", 20, group),
        RECALLS.menu_entry(weight=30, parent=group),
        RECOVERIES.menu_entry(weight=40, parent=group),
        LICENCES.menu_entry(weight=50, parent=group),
    ]


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """Near expiry: batches with stock that expired or expire within the window."""
    from .pages import expiry_widget

    return [
        DashboardWidget(
            "fssai.expiry",
            "Batches near expiry",
            expiry_widget,
            permission="fssai.batch.read",
            url="/fssai/expiry",
            size="medium",
        )
    ]


def run_expiry_scan(ctx: JobContext) -> dict[str, int]:
    """The daily expiry scan of one tenant (events for batches near expiry and expired)."""
    from .services import expiry_scan

    return expiry_scan()


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """The expiry scan."""
    return [TaskDefinition(SCAN_TASK, run_expiry_scan, title="FSSAI expiry scan", max_retries=3)]


@hookimpl
def udyog_schedules() -> list[Schedule]:
    """The expiry scan every day at 00:45 UTC (06:15 in India)."""
    return [Schedule("fssai.daily_expiry_scan", SCAN_TASK, cron="45 0 * * *")]


# -- inventory's hook ---------------------------------------------------------------------------


@hookimpl
def inventory_lot_blocked(lot_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Lots whose batch is on hold, not QC-passed or expired (lots without FSSAI data are free)."""
    from .services import blocked_lots

    return blocked_lots(lot_ids)


# -- sales' hooks ---------------------------------------------------------------------------------


@hookimpl
def sales_allocate_stock(order: Any, line: Any) -> list[Any] | None:
    """First expiry, first out for lot-tracked products (wins over sales' trylast default); None for others."""
    from .services import fefo_allocate

    return fefo_allocate(order, line)


@hookimpl
def sales_after_confirm(order: Any) -> None:
    """Record which batch serves which order line (the distribution record the recall trace reads)."""
    from .services import record_allocations

    record_allocations(order)


@hookimpl
def sales_before_despatch(order: Any) -> list[str]:
    """Refuse despatch from a branch whose licence expired, and of batches on hold, failed or expired.

    A refusal for the batches is recorded (``fssai.batch.use_refused``, surviving the rollback).
    """
    from .services import licence_problems, refuse_blocked_batches

    return licence_problems(order) + refuse_blocked_batches(order, despatch=True)


@hookimpl
def sales_before_invoice(order: Any) -> list[str]:
    """Refuse invoicing from a branch whose licence expired, and of batches on hold (recorded as for despatch)."""
    from .services import licence_problems, refuse_blocked_batches

    return licence_problems(order) + refuse_blocked_batches(order, despatch=False)


@hookimpl
def sales_invoice_line_details(invoice: Any, line: Any) -> list[str]:
    """The line's batches with their label dates (``Batch B2611-0001 · Mfg 01/11/26 · Use by 15/12/26``)."""
    from .services import invoice_line_details

    return invoice_line_details(invoice, line)


# -- vigilance's hook (optional: fssai works without vigilance) ------------------------------------


@hookimpl(optionalhook=True)
def vigilance_rules(rule: Any) -> list[Any]:
    """``fssai.batch_near_expiry`` (daily, ``days`` 30) and ``fssai.expired_or_held_despatch`` (on a refused use)."""
    from .alerts import rules

    return rules(rule)


# -- demo data --------------------------------------------------------------------------------


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """The demo branch's licence, shelf lives, batches with QC passed (one near expiry) (idempotent)."""
    from .demo import load

    load(session, progress)
