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
from udyog_sdk.pickers import add_choices_route, reference_field
from udyog_sdk.security import requires
from udyog_sdk.ui import Table

from . import services
from .api import RESOURCES, low_stock_products, record_adjustment, record_receipt
from .models import Product, ProductStock, Warehouse
from .schemas import AdjustmentInput, ReceiptInput

#: The most products the low-stock card lists.
LOW_STOCK_ROWS = 8


#: Who may search products on the stock forms: those who may receive or adjust stock.
STOCK_FORM_PERMISSIONS = ("inventory.receipt.create", "inventory.adjustment.create")


def _active_products() -> Any:
    """The products the stock forms offer: the active ones."""
    return select(Product).where(Product.active.is_(True))


def _product_label(product: Any) -> str:
    """A product as the stock forms name it: ``sku — name``."""
    return f"{product.sku} — {product.name}"


def _choices(values: Mapping[str, str], errors: Mapping[str, list[str]]) -> dict[str, Any]:
    """The stock forms' product input (a select for a few, the SDK's search picker for many) and warehouses."""
    product = reference_field(
        "product_id",
        _("Product"),
        _active_products(),
        Product,
        values.get("product_id", ""),
        choices_url=url_for("inventory_pages.stock_products"),
        required=True,
        blank=True,
        describe=_product_label,
    )
    product.errors = list(errors.get("product_id", []))
    warehouses = (
        db_session()
        .execute(
            select(Warehouse.id, Warehouse.code, Warehouse.name)
            .where(Warehouse.active.is_(True))
            .order_by(Warehouse.code)
        )
        .all()
    )
    return {
        "product": product,
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
    return render_template(template, values=values, errors=errors, **_choices(values, errors)), status


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

    # The receipt and adjustment forms' product picker.
    add_choices_route(
        bp,
        "/stock-forms/products",
        "stock_products",
        _active_products,
        Product,
        STOCK_FORM_PERMISSIONS,
        label=_product_label,
        columns=(Product.sku,),
    )

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
