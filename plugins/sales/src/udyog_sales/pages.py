"""Web pages of sales: the resources' generic pages, the order actions and the distributors list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from udyog_sdk import UdyogError, db_session
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires

from . import services
from .api import CREDIT_NOTES, INVOICES, ORDERS, PAYMENTS
from .models import AccountTerms

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
        order = ORDERS.lookup(record_id)
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
    bp.add_url_rule("/distributors", "distributors", requires("sales.account.read")(distributors_page), methods=["GET"])
    return bp
