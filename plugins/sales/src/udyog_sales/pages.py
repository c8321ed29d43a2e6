"""Web pages of sales: the resources' generic pages, the order actions and the distributors list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import check_version
from udyog_sdk.i18n import gettext as _
from udyog_sdk.pickers import add_choices_route
from udyog_sdk.security import requires

from . import services
from .api import (
    CREDIT_NOTES,
    INVOICES,
    LINE_PRODUCTS_ENDPOINT,
    ORDERS,
    PAYMENTS,
    order_for_action,
    order_products,
    product_label,
)
from .models import AccountTerms, Invoice, Payment

ACTIONS: dict[str, tuple[str, Callable[[Any, int | None], Any], str]] = {
    "confirm": ("sales.order.confirm", services.confirm_order, "Order %(number)s confirmed."),
    "deliver": ("sales.order.deliver", services.deliver_order, "Order %(number)s delivered."),
    "invoice": ("sales.invoice.create", services.invoice_order, "Order %(number)s invoiced."),
    "cancel": ("sales.order.cancel", services.cancel_order, "Order %(number)s cancelled."),
}


def _version(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _action_view(action: str) -> Callable[..., Response]:
    permission, act, done = ACTIONS[action]

    def view(record_id: uuid.UUID) -> Response:
        order = order_for_action(record_id)
        number = order.number
        try:
            act(order, _version(request.form.get("version")))
            db_session().commit()
        except UdyogError as exc:
            db_session().rollback()
            details = "; ".join(m for messages in exc.errors.values() for m in messages)
            flash(f"{exc.message}" + (f" ({details})" if details and details not in exc.message else ""), "danger")
        else:
            flash(_(done, number=number), "success")
        return redirect(url_for(f"{request.blueprint}.orders_detail_page", record_id=record_id), code=303)

    view.__name__ = f"order_{action}"
    view.__doc__ = f"{action.capitalize()} the order (a POST form on its detail page)."
    return requires(permission)(view)


def open_invoices(payment: Payment) -> list[Invoice]:
    """The payment's customer's invoices that still have a balance (issued, not cancelled), oldest first."""
    query = (
        select(Invoice)
        .where(Invoice.customer_id == payment.customer_id, Invoice.state == "issued", Invoice.balance > 0)
        .order_by(Invoice.invoice_date, Invoice.number)
        .limit(200)
    )
    return list(db_session().scalars(query))


def _amount(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        return None
    return value if value.is_finite() else None


@requires("sales.payment.allocate")
def payment_allocate(record_id: uuid.UUID) -> Response:
    """Allocate part of the payment to one of its customer's open invoices (the payment page's form).

    An empty amount allocates the smaller of the unallocated amount and the
    invoice's balance. The outcome, or the refusal, is flashed on the payment's page.
    """
    payment = PAYMENTS.lookup(record_id)
    back = redirect(url_for(f"{request.blueprint}.payments_detail_page", record_id=record_id), code=303)
    invoice_id = _uuid(request.form.get("invoice_id"))
    raw_amount = (request.form.get("amount") or "").strip()
    amount = _amount(raw_amount) if raw_amount else None
    if invoice_id is None:
        flash(_("Choose an invoice to allocate the payment to."), "danger")
        return back  # type: ignore[return-value]
    if raw_amount and amount is None:
        flash(_("Amount: %(value)s is not a number.", value=raw_amount[:40]), "danger")
        return back  # type: ignore[return-value]
    try:
        check_version(payment, _version(request.form.get("version")))
        if amount is None:
            balance = db_session().scalar(select(Invoice.balance).where(Invoice.id == invoice_id))
            unallocated = payment.amount - payment.allocated_amount
            amount = min(unallocated, balance) if balance is not None else unallocated  # the service names a bad id
        allocation = services.allocate_payment(payment, invoice_id, amount)
        number = db_session().scalar(select(Invoice.number).where(Invoice.id == allocation.invoice_id))
        db_session().commit()
    except UdyogError as exc:
        db_session().rollback()
        details = "; ".join(f"{k}: {m}" for k, messages in exc.errors.items() for m in messages)
        flash(f"{exc.message}" + (f" ({details})" if details else ""), "danger")
    except StaleDataError:
        db_session().rollback()
        flash(_("This payment was changed by someone else: reload the page and try again."), "danger")
    else:
        flash(
            _(
                "%(amount)s of payment %(number)s allocated to invoice %(invoice)s.",
                amount=str(amount),
                number=payment.number,
                invoice=number,
            ),
            "success",
        )
    return back  # type: ignore[return-value]


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        return None


def distributors_page() -> Response:
    """Customers with sales terms: distributor flag, margin, credit limit and outstanding, largest outstanding first."""
    from udyog_crm.models import Customer

    query = (
        select(Customer, AccountTerms)
        .join(AccountTerms, AccountTerms.record_id == Customer.id)
        .order_by(AccountTerms.outstanding.desc(), Customer.name)
        .limit(500)
    )
    only = request.args.get("all") != "1"
    if only:
        query = query.where(AccountTerms.is_distributor.is_(True))
    rows = db_session().execute(query).all()
    html = render_template(
        "sales/distributors.html",
        rows=rows,
        only_distributors=only,
        breadcrumbs=[(_("Sales"), None), (_("Distributors"), None)],
    )
    return Response(html)


def create_pages() -> Blueprint:
    """A fresh blueprint at ``/sales``: orders, invoices, credit notes and payments pages, actions, distributors."""
    bp = Blueprint("sales_pages", __name__, url_prefix="/sales", template_folder="templates")
    for resource in (ORDERS, INVOICES, CREDIT_NOTES, PAYMENTS):
        resource.register_pages(bp)
    for action in ACTIONS:
        bp.add_url_rule(f"/orders/<uuid:record_id>/{action}", f"order_{action}", _action_view(action), methods=["POST"])
    bp.add_url_rule("/payments/<uuid:record_id>/allocate", "payment_allocate", payment_allocate, methods=["POST"])
    from udyog_inventory.models import Product

    # The new-order form's line products, searched when there are too many for a select.
    add_choices_route(
        bp,
        "/orders/new/products",
        LINE_PRODUCTS_ENDPOINT,
        order_products,
        Product,
        ("sales.order.create",),
        label=product_label,
        columns=(Product.sku,),
    )
    bp.context_processor(
        lambda: {"sales_open_invoices": open_invoices, "sales_invoice_line_details": services.invoice_line_details}
    )
    bp.add_url_rule("/distributors", "distributors", requires("sales.account.read")(distributors_page), methods=["GET"])
    return bp
