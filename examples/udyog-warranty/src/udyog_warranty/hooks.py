"""Hook implementations of the warranty plugin: the core's hooks and the sales plugin's."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma

from udyog_sdk import Event, Listener, Permission, RoleTemplate, hookimpl
from udyog_sdk.fields import FieldContribution
from udyog_sdk.ui import MenuEntry

from .schemas import MAX_MONTHS


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the cards' API and the plugin's pages."""
    from .api import CARDS, create_pages

    return [CARDS.blueprint(description="Warranty cards"), create_pages()]


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The cards' permissions: ``read``, ``create``, ``write``, ``delete`` and ``import``."""
    from .api import CARDS

    return CARDS.permissions()


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Default roles, seeded into each tenant that enables the plugin (editable there)."""
    return [
        RoleTemplate("Warranty Desk", ("warranty.*",), description="Registers and changes warranty cards"),
        RoleTemplate("Warranty Viewer", ("warranty.card.read",), description="Looks warranty cards up"),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The cards and the expiring warranties in the shell's menu, for users who may read cards."""
    from .api import CARDS

    return [
        CARDS.menu_entry(weight=100),
        MenuEntry("warranty.expiring", "Warranties expiring", "/warranty/expiring", "warranty.card.read", weight=101),
    ]


@hookimpl
def udyog_field_contributions() -> list[FieldContribution]:
    """A warranty term on inventory's products, stored in this plugin's side table ``warranty_product_term``."""
    from .models import ProductTerm

    return [
        FieldContribution(
            "inventory.product",
            ProductTerm,
            {
                "warranty_months": ma.fields.Integer(
                    allow_none=True,
                    attribute="months",
                    validate=ma.validate.Range(min=1, max=MAX_MONTHS),
                    metadata={
                        "label": "Warranty (months)",
                        "description": "the warranty of the product when sold; invoicing it registers a card",
                    },
                ),
            },
            filters=["warranty_months"],
        )
    ]


@hookimpl
def sales_after_invoice(invoice: Any) -> None:
    """Sales' hook: register a warranty card for every invoice line whose product has a warranty term."""
    from .services import register_invoice_cards

    register_invoice_cards(invoice)


def _drop_cards_of_cancelled_invoice(event: Event) -> None:
    """A cancelled invoice takes the cards it registered with it (its reissue registers new ones)."""
    from .services import drop_invoice_cards

    drop_invoice_cards(uuid.UUID(event.payload["invoice_id"]), event.payload["number"])


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    """Listen to ``sales.invoice.cancelled``."""
    return [Listener("sales.invoice.cancelled", _drop_cards_of_cancelled_invoice, name="warranty.drop_cancelled_cards")]
