"""Hook implementations of the ``inventory`` plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Permission, RoleTemplate, SettingsSchema, TenantContext, hookimpl
from udyog_sdk.ui import DashboardWidget, MenuEntry

#: Permissions of the routes that are not generic resources.
MOVEMENT_PERMISSIONS = (
    ("inventory.receipt.create", "Receive stock"),
    ("inventory.issue.create", "Issue stock"),
    ("inventory.transfer.create", "Transfer stock between warehouses"),
    ("inventory.adjustment.create", "Adjust stock on hand"),
    ("inventory.valuation.read", "See the stock valuation"),
)


@hookimpl
def udyog_settings() -> SettingsSchema:
    """The tenant's stock rules: ``allow_negative_stock``."""
    from .settings import settings_schema

    return settings_schema()


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the API and the pages."""
    from .api import create_blueprint
    from .pages import create_pages

    return [create_blueprint(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Declare the resources by key; ``inventory.product`` and ``inventory.lot`` take field contributions."""
    from .api import RESOURCES

    return list(RESOURCES)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """``inventory.<resource>.<action>`` of every resource, plus the movements and the valuation."""
    from .api import RESOURCES

    declared = [p for resource in RESOURCES for p in resource.permissions()]
    return declared + [Permission(name, text) for name, text in MOVEMENT_PERMISSIONS]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """The Store Keeper runs the stores: every inventory permission."""
    return [RoleTemplate("Store Keeper", ("inventory.*",), description="Keeps the stores: products, stock, ledger")]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The Inventory group: products, stock, movements, valuation and the master data, for users who may read them.

    One dropdown, as crm's and sales' groups are, so that a tenant with all three fits a desktop's menu bar.
    """
    from .api import BALANCES, CATEGORIES, CONVERSIONS, LOTS, MOVES, PRODUCTS, UNITS, WAREHOUSES

    group = "inventory.root"
    return [
        MenuEntry(group, "Inventory", "", None, weight=200, icon="box"),
        PRODUCTS.menu_entry(weight=10, parent=group),
        BALANCES.menu_entry(weight=20, parent=group, label="Stock on hand"),
        MOVES.menu_entry(weight=30, parent=group, label="Stock ledger"),
        MenuEntry("inventory.receive", "Receive stock", "/inventory/receive", "inventory.receipt.create", 40, group),
        MenuEntry("inventory.adjust", "Adjust stock", "/inventory/adjust", "inventory.adjustment.create", 50, group),
        MenuEntry(
            "inventory.valuation", "Stock valuation", "/inventory/valuation", "inventory.valuation.read", 60, group
        ),
        LOTS.menu_entry(weight=70, parent=group),
        WAREHOUSES.menu_entry(weight=80, parent=group),
        CATEGORIES.menu_entry(weight=90, parent=group),
        UNITS.menu_entry(weight=100, parent=group),
        CONVERSIONS.menu_entry(weight=110, parent=group, label="Unit conversions"),
    ]


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """Low stock: the products whose available stock is below their reorder point."""
    from .pages import low_stock_widget

    return [
        DashboardWidget(
            "inventory.low_stock",
            "Low stock",
            low_stock_widget,
            permission="inventory.balance.read",
            url="/inventory/balances?below_reorder=true",
            size="medium",
        )
    ]


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """A food manufacturer's products, two warehouses and opening stock (idempotent)."""
    from .demo import load_demo

    load_demo(session, progress)


@hookimpl(optionalhook=True)
def crm_check_quote_lines(lines: Any) -> dict[int, dict[str, list[str]]] | None:
    """crm's quote lines name products that exist and are active (crm is optional: inventory works without it)."""
    from .services import products

    found = products([line.product_id for line in lines])
    problems: dict[int, dict[str, list[str]]] = {}
    for index, line in enumerate(lines):
        product = found.get(line.product_id)
        if product is None:
            problems[index] = {"product_id": ["no such product"]}
        elif not product.active:
            problems[index] = {"product_id": [f"product {product.sku} is inactive"]}
    return problems or None


@hookimpl(optionalhook=True)
def vigilance_rules(rule: Any) -> list[Any]:
    """``inventory.below_reorder_point``: on the crossing events and daily (vigilance is optional)."""
    from .alerts import rules

    return rules(rule)
