"""Hook implementations of the ``sales`` plugin: its parts for the core, its defaults, crm's conversion."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import marshmallow as ma

from udyog_sdk import (
    Event,
    Listener,
    NotificationTemplate,
    Permission,
    RecordRule,
    RoleTemplate,
    SettingsSchema,
    TenantContext,
    hookimpl,
    notify,
)
from udyog_sdk.fields import FieldContribution
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import DashboardWidget, MenuEntry

from .hookspecs import Account, LineTax

# -- the platform's hooks ----------------------------------------------------------------------


@hookimpl
def udyog_blueprints() -> list[Any]:
    """The API (``/api/v1/sales``) and the pages (``/sales``), fresh."""
    from .api import create_blueprint
    from .pages import create_pages

    return [create_blueprint(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Orders, invoices, credit notes and payments, so other plugins may contribute fields to them."""
    from .api import RESOURCES

    return list(RESOURCES)


@hookimpl
def udyog_field_contributions() -> list[FieldContribution]:
    """The account terms on crm's customers (side table ``sales_account``)."""
    from .terms import contribution

    return [contribution()]


ACTIONS = (
    Permission("sales.order.confirm", "Confirm sales orders"),
    Permission("sales.order.deliver", "Deliver sales orders (issue their stock)"),
    Permission("sales.order.cancel", "Cancel sales orders"),
    Permission("sales.order.credit_override", "Confirm orders above the customer's credit limit"),
    Permission("sales.invoice.create", "Issue invoices for orders"),
    Permission("sales.payment.allocate", "Allocate payments to invoices"),
    Permission("sales.account.read", "See customers' sales terms (distributors, outstanding)"),
    Permission("sales.account.write", "Change customers' sales terms (distributor, margin, credit limit)"),
)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The resources' permissions plus the actions."""
    from .api import RESOURCES

    return [p for resource in RESOURCES for p in resource.permissions()] + list(ACTIONS)


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Default roles, merged by name with crm's and inventory's."""
    return [
        RoleTemplate("Sales Manager", ("sales.*",), description="Runs sales: orders, terms, credit overrides"),
        RoleTemplate(
            "Sales Executive",
            (
                "sales.order.read",
                "sales.order.create",
                "sales.order.write",
                "sales.order.delete",
                "sales.order.confirm",
                "sales.order.cancel",
                "sales.account.read",
            ),
            record_rules=("sales.own_orders",),
            description="Takes and confirms own orders",
        ),
        RoleTemplate(
            "Store Keeper", ("sales.order.read", "sales.order.deliver"), description="Delivers confirmed orders"
        ),
        RoleTemplate(
            "Accountant",
            (
                "sales.order.read",
                "sales.invoice.*",
                "sales.credit_note.*",
                "sales.payment.*",
                "sales.account.read",
            ),
            description="Invoices, credit notes and payments",
        ),
    ]


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    """A sales executive sees own orders only."""
    from .models import Order

    return [
        RecordRule(
            "sales.own_orders", Order, lambda principal: Order.owner_id == principal.user_id, "Only own sales orders"
        )
    ]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    """Orders, invoices and credit notes (gap-free, at most 16 characters: GST rule 46) and payments."""
    return [
        SeriesDefinition("sales.order", "Sales order", "SO/{FY}/{seq:05}", reset="financial_year"),
        SeriesDefinition(
            "sales.invoice", "Tax invoice", "INV/{FY}/{seq:04}", reset="financial_year", gap_free=True, max_length=16
        ),
        SeriesDefinition(
            "sales.credit_note", "Credit note", "CN/{FY}/{seq:04}", reset="financial_year", gap_free=True, max_length=16
        ),
        SeriesDefinition("sales.payment", "Payment", "PAY/{FY}/{seq:05}", reset="financial_year"),
    ]


class SalesSettings(ma.Schema):
    """The per-tenant settings of sales."""

    invoice_on_confirm = ma.fields.Boolean(
        load_default=False,
        metadata={
            "label": "Invoice on confirmation",
            "description": "Issue the invoice in the same transaction that confirms an order.",
        },
    )


@hookimpl
def udyog_settings() -> SettingsSchema:
    """``invoice_on_confirm`` (default off)."""
    return SettingsSchema(SalesSettings, title="Sales", description="How orders become invoices.")


GROUP = "sales.root"


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """Orders, invoices, credit notes, payments and distributors."""
    from .api import CREDIT_NOTES, INVOICES, ORDERS, PAYMENTS

    return [
        MenuEntry(GROUP, "Sales", "", None, weight=30, icon="cart"),
        ORDERS.menu_entry(weight=31, parent=GROUP, icon="cart"),
        INVOICES.menu_entry(weight=32, parent=GROUP, icon="receipt"),
        CREDIT_NOTES.menu_entry(weight=33, parent=GROUP, icon="arrow-counterclockwise"),
        PAYMENTS.menu_entry(weight=34, parent=GROUP, icon="cash-coin"),
        MenuEntry(
            "sales.distributors", "Distributors", "/sales/distributors", "sales.account.read", 35, GROUP, "people"
        ),
    ]


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """Sales by month (a bar chart) and the top distributors by outstanding."""
    from .dashboard import widgets

    return widgets()


# -- events and notifications -----------------------------------------------------------------


def _notify_confirmed(event: Event) -> None:
    """Tell the order's owner (else the holders of ``sales.order.read``) that it was confirmed."""
    payload = event.payload
    owner = payload.get("owner_id")
    users = [uuid.UUID(owner)] if owner else None
    notify(
        "sales.order.confirmed",
        {"number": payload["number"], "customer": payload.get("customer", ""), "total": payload["total"]},
        users=users,
        link=f"/sales/orders/{payload['order_id']}",
    )


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    """The confirmation notification goes through the event ``sales.order.confirmed``."""
    return [Listener("sales.order.confirmed", _notify_confirmed, name="sales.notify_confirmed")]


@hookimpl
def udyog_notification_templates() -> list[NotificationTemplate]:
    """The confirmation notification: in the inbox and by e-mail, in English and Hindi."""
    reader = "sales.order.read"
    return [
        NotificationTemplate(
            "sales.order.confirmed",
            "in_app",
            "Order {{ number }} confirmed",
            "{{ customer }}: ₹{{ total }}",
            permission=reader,
        ),
        NotificationTemplate(
            "sales.order.confirmed",
            "email",
            "Order {{ number }} confirmed",
            "Dear {{ recipient.name }},\n\norder {{ number }} of {{ customer }} for ₹{{ total }} is confirmed.",
            permission=reader,
        ),
        NotificationTemplate(
            "sales.order.confirmed",
            "in_app",
            "ऑर्डर {{ number }} की पुष्टि",
            "{{ customer }}: ₹{{ total }}",
            language="hi",
            permission=reader,
        ),
        NotificationTemplate(
            "sales.order.confirmed",
            "email",
            "ऑर्डर {{ number }} की पुष्टि",
            "प्रिय {{ recipient.name }},\n\n{{ customer }} का ऑर्डर {{ number }} (₹{{ total }}) पुष्ट हो गया है।",
            language="hi",
            permission=reader,
        ),
    ]


# -- sales' own defaults for its hooks (trylast: any other plugin's answer wins) ----------------


@hookimpl(trylast=True)
def sales_price_line(order: Any, line: Any, account: Account) -> Decimal | None:
    """An agreed price (from a quote) as it is; else the product's base price times (1 + margin %)."""
    from udyog_inventory.services import products

    from .pricing import unit_price

    if line.agreed_price is not None:
        return Decimal(line.agreed_price)
    product = products([line.product_id]).get(line.product_id)  # read once per transaction
    if product is None or product.price is None:
        return None
    return unit_price(product.price, account.margin_pct)


@hookimpl(trylast=True)
def sales_compute_taxes(order: Any, lines: list[Any]) -> list[LineTax] | None:
    """No tax (GST implements this hook)."""
    return []


@hookimpl(trylast=True)
def sales_round_off(order: Any) -> Decimal | None:
    """No rounding (GST rounds totals to the rupee)."""
    return Decimal("0.00")


@hookimpl(trylast=True)
def sales_allocate_stock(order: Any, line: Any) -> list[Any] | None:
    """Inventory's default allocation from the order's warehouse (lots first in, first out)."""
    from udyog_inventory.services import allocate

    return allocate(line.product_id, order.warehouse_id, line.quantity)


# -- crm's conversion hook --------------------------------------------------------------------


@hookimpl
def crm_quote_convert(quote: Any) -> Any:
    """A draft sales order from the quote's lines (``options["warehouse_id"]``, default the first warehouse)."""
    from udyog_crm.hookspecs import Conversion

    from .services import order_from_quote

    order = order_from_quote(quote)
    return Conversion(kind="sales.order", record_id=order.id, number=order.number, url=f"/sales/orders/{order.id}")


# -- vigilance's hook (optional: sales works without vigilance) ------------------------------------


@hookimpl(optionalhook=True)
def vigilance_rules(rule: Any) -> list[Any]:
    """``sales.credit_limit_breach`` (percent 100) and ``sales.unusual_discount`` (percent 20)."""
    from .alerts import rules

    return rules(rule)


# -- demo data --------------------------------------------------------------------------------


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """Terms for the demo distributors and a few orders in different states (idempotent)."""
    from .demo import load

    load(progress)
