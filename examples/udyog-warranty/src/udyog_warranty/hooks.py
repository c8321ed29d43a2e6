"""Hook implementations of the warranty plugin: the core's hooks and the notes plugin's."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from udyog_sdk import Permission, RoleTemplate, hookimpl
from udyog_sdk.fields import FieldContribution
from udyog_sdk.ui import MenuEntry

from .schemas import MAX_MONTHS

#: A claim note's title: ``Claim <serial no.>: what happened``.
CLAIM_TITLE = re.compile(r"^claim\s+([A-Za-z0-9][A-Za-z0-9/-]*)\s*:", re.IGNORECASE)


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
    """A warranty term on the ledger's vouchers, stored in this plugin's side table ``warranty_voucher_term``."""
    from .models import VoucherTerm

    return [
        FieldContribution(
            "ledger.voucher",
            VoucherTerm,
            {
                "warranty_months": ma.fields.Integer(
                    allow_none=True,
                    attribute="months",
                    validate=ma.validate.Range(min=1, max=MAX_MONTHS),
                    metadata={"label": "Warranty (months)", "description": "the term of the goods sold on it"},
                ),
            },
            filters=["warranty_months"],
        )
    ]


@hookimpl
def notes_title_rules(title: str) -> list[str]:
    """The notes plugin's hook: a claim note (``Claim <serial no.>: …``) must name a card under warranty."""
    match = CLAIM_TITLE.match(title)
    if match is None:
        return []
    from .api import tenant_today
    from .services import card_for_serial

    serial_no = match.group(1)
    card = card_for_serial(serial_no)
    if card is None:
        return [f"no warranty card for serial number {serial_no!r}"]
    if card.ends_on < tenant_today():
        return [f"the warranty of {serial_no} ended on {card.ends_on.isoformat()}"]
    return []
