"""The warranty plugin's resource (REST routes, OpenAPI, generic pages, menu) and its own page."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from udyog_sdk import UdyogError, current_tenant
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from .models import Card
from .schemas import CardSchema
from .services import create_card, expiring, update_card

#: How far ahead the "Expiring" page looks by default, and at most (days).
EXPIRING_DAYS = 30
MAX_EXPIRING_DAYS = 366


class CardResource(Resource):
    """Warranty cards: API routes, pages and permissions (``warranty.card.<action>``) from this declaration."""

    model = Card
    schema = CardSchema
    permission_prefix = "warranty.card"
    label = "warranty card"
    filters = ("serial_no", "product", "customer", "invoice_id", "ends_on")
    sort = ("serial_no", "ends_on", "starts_on")
    default_sort = "serial_no"
    list_columns = ("serial_no", "product", "customer", "ends_on")
    title_field = "serial_no"
    create_only = ("serial_no",)
    importable = True
    exportable = True

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A card keeps a term: on update ``months`` may change but not become empty."""
        if obj is not None and "months" in data and data["months"] is None:
            raise UdyogError("invalid warranty card", status=422, errors={"months": ["give a number of months"]})

    def create(self, data: dict[str, Any]) -> Card:
        """Register through the service, so its rules and its event apply to the API, pages and imports."""
        return create_card(data)

    def update(self, obj: Card, data: dict[str, Any]) -> Card:
        """Change through the service, which keeps the end date in step."""
        return update_card(obj, data)


CARDS = CardResource()


def tenant_today() -> dt.date:
    """Today in the tenant's timezone."""
    return dt.datetime.now(ZoneInfo(current_tenant().timezone)).date()


def create_pages() -> Blueprint:
    """The generic pages of cards at ``/warranty/cards`` and the plugin's own ``/warranty/expiring``."""
    bp = Blueprint("warranty_pages", __name__, url_prefix="/warranty", template_folder="templates")
    CARDS.register_pages(bp)

    @bp.route("/expiring")
    @requires("warranty.card.read")
    def expiring_page() -> str:
        """Cards whose warranty ends within the next ``days`` days (30 unless asked)."""
        raw = request.args.get("days", str(EXPIRING_DAYS))
        error = None
        try:
            days = int(raw)
            if not 0 <= days <= MAX_EXPIRING_DAYS:
                raise ValueError
        except ValueError:
            error = f"days must be a whole number from 0 to {MAX_EXPIRING_DAYS}"
            days = EXPIRING_DAYS
        today = tenant_today()
        return render_template(
            "warranty/expiring.html", cards=expiring(today, days), days=days, today=today, error=error
        )

    return bp
