"""The inventory's web pages: the resources' generic pages, the receipt and adjustment forms, the low-stock card."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import flatten_messages
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires
from udyog_sdk.ui import Table

from . import services
from .api import RESOURCES, low_stock_products, record_adjustment, record_receipt
from .models import Product, ProductStock, Warehouse
from .schemas import AdjustmentInput, ReceiptInput

#: The most products the low-stock card lists.
LOW_STOCK_ROWS = 8


def _choices() -> dict[str, list[tuple[str, str]]]:
    session = db_session()
    products = session.execute(
        select(Product.id, Product.sku, Product.name).where(Product.active.is_(True)).order_by(Product.sku)
    ).all()
    warehouses = session.execute(
        select(Warehouse.id, Warehouse.code, Warehouse.name).where(Warehouse.active.is_(True)).order_by(Warehouse.code)
    ).all()
    return {
        "products": [(str(i), f"{sku} — {name}") for i, sku, name in products],
        "warehouses": [(str(i), f"{code} — {name}") for i, code, name in warehouses],
    }


def _form_page(
    template: str,
    schema: type[ma.Schema],
    record: Callable[[Mapping[str, Any]], Any],
    done: str,
) -> Any:
    """Show the form; on POST load it, record the movement, commit, and go to the ledger (errors inline)."""
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        raw = {k: v for k, v in values.items() if v != ""}
        try:
            data = schema().load(raw)
            record(data)
            db_session().commit()
        except ma.ValidationError as exc:
            errors = flatten_messages(exc.messages)
        except UdyogError as exc:
            db_session().rollback()
            errors = dict(exc.errors) or {"_schema": [str(exc)]}
        else:
            flash(done, "success")
            return redirect(url_for("inventory_pages.moves_list_page"), 303)
    status = 422 if errors else 200
    return render_template(template, values=values, errors=errors, **_choices()), status


def create_pages() -> Blueprint:
    """Pages at ``/inventory``: every resource's generic pages, ``/receive`` and ``/adjust``."""
    bp = Blueprint("inventory_pages", __name__, url_prefix="/inventory", template_folder="templates")
    for resource in RESOURCES:
        resource.register_pages(bp)

    @bp.route("/receive", methods=["GET", "POST"])
    @requires("inventory.receipt.create")
    def receive_page() -> Any:
        """Receive stock into a warehouse (a lot by code for lot-tracked products)."""
        return _form_page("inventory/receive.html", ReceiptInput, record_receipt, _("Stock received."))

    @bp.route("/adjust", methods=["GET", "POST"])
    @requires("inventory.adjustment.create")
    def adjust_page() -> Any:
        """Correct the stock on hand of a product in a warehouse."""
        return _form_page("inventory/adjust.html", AdjustmentInput, record_adjustment, _("Stock adjusted."))

    @bp.route("/valuation")
    @requires("inventory.valuation.read")
    def valuation_page() -> Any:
        """Stock quantity and value per product."""
        lines = services.valuation()
        total = sum((line.value for line in lines), Decimal("0.00"))
        return render_template("inventory/valuation.html", lines=lines, total=total)

    return bp


def low_stock_widget() -> Table:
    """The dashboard card: products below their reorder point, lowest availability first."""
    rows = (
        db_session()
        .execute(
            select(Product.sku, Product.name, ProductStock.available, Product.reorder_point)
            .outerjoin(ProductStock, ProductStock.product_id == Product.id)
            .where(Product.id.in_(low_stock_products()))
            .order_by(Product.sku)
            .limit(LOW_STOCK_ROWS)
        )
        .all()
    )
    return Table(
        columns=(_("SKU"), _("Product"), _("Available"), _("Reorder point")),
        rows=[(sku, name, available if available is not None else 0, point) for sku, name, available, point in rows],
        empty=_("No product is below its reorder point."),
    )
