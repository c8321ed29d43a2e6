"""REST API of sales: declared resources plus the order actions and payment allocation."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from flask import url_for
from sqlalchemy import select

from udyog_sdk import db_session
from udyog_sdk.api import Blueprint, check_version, envelope, ok
from udyog_sdk.pickers import reference_field
from udyog_sdk.resources import FormField, Resource
from udyog_sdk.security import requires

from . import services
from .models import CreditNote, Invoice, Order, Payment
from .schemas import (
    AllocateSchema,
    CreditNoteSchema,
    InvoiceSchema,
    OrderSchema,
    OrderUpdateSchema,
    PaymentSchema,
    VersionSchema,
)

#: The sales pages' blueprint, and its route of the products the new-order form's line rows search.
PAGES_BLUEPRINT = "sales_pages"
LINE_PRODUCTS_ENDPOINT = "order_line_products"


def order_products() -> Any:
    """The products an order line may take on the new-order form: the active ones."""
    from udyog_inventory.models import Product

    return select(Product).where(Product.active.is_(True))


def product_label(product: Any) -> str:
    """A product as the new-order form names it: ``sku · name``."""
    return f"{product.sku} · {product.name}"


class OrderResource(Resource):
    """Sales orders: drafts are created, changed and deleted here; actions have routes of their own."""

    model = Order
    schema = OrderSchema
    update_schema = OrderUpdateSchema
    permission_prefix = "sales.order"
    filters = ("customer_id", "warehouse_id", "owner_id", "state", "order_date", "number")
    sort = ("order_date", "number")
    default_sort = "-order_date"
    search = ("number",)
    list_columns = ("number", "order_date", "customer_id", "state", "total")
    detail_template = "sales/order_detail.html"
    importable = False
    #: Line rows on the new-order form (more lines: add them while a draft, through the API).
    form_rows = 8

    def create(self, data: dict[str, Any]) -> Order:
        """Create the draft through the service (lines, owner, number)."""
        return services.create_order(data)

    def update(self, obj: Order, data: dict[str, Any]) -> Order:
        """Change a draft through the service (confirmed orders answer 409)."""
        return services.update_order(obj, data)

    def form_fields(self, mode: str, obj: Any | None = None) -> list[FormField]:
        """The generic inputs plus, on the new-order form, rows of product, quantity and discount."""
        fields = super().form_fields(mode, obj)
        if mode != "create":
            return fields
        from udyog_inventory.models import Product

        # One query decides: a select of the active products when they are few, else the SDK's search picker.
        first = reference_field(
            "lines.0.product_id",
            "Line 1: product",
            order_products(),
            Product,
            "",
            choices_url=url_for(f"{PAGES_BLUEPRINT}.{LINE_PRODUCTS_ENDPOINT}"),
            required=True,
            nullable=True,
            blank=True,
            describe=product_label,
        )
        for i in range(self.form_rows):
            n = i + 1
            fields += [
                dataclasses.replace(
                    first,
                    name=f"lines.{i}.product_id",
                    label=f"Line {n}: product",
                    required=i == 0,
                    choices=list(first.choices),
                ),
                FormField(f"lines.{i}.quantity", f"Line {n}: quantity", "decimal", i == 0, nullable=True),
                FormField(f"lines.{i}.discount_pct", f"Line {n}: discount (%)", "decimal", nullable=True),
            ]
        return fields

    def delete(self, obj: Order) -> None:
        """Only drafts are deleted; anything else is cancelled (409)."""
        services.require_draft(obj, "deleted (cancel it instead)")
        super().delete(obj)


class InvoiceResource(Resource):
    """Invoices: issued by an order's invoice action; legal documents, cancelled and never deleted."""

    model = Invoice
    schema = InvoiceSchema
    permission_prefix = "sales.invoice"
    legal_document = True
    cancel_field = "state"
    cancelled_value = "cancelled"
    operations = ("list", "get", "delete", "cancel")
    filters = ("order_id", "customer_id", "state", "invoice_date", "number")
    sort = ("invoice_date", "number")
    default_sort = "-invoice_date"
    search = ("number",)
    list_columns = ("number", "invoice_date", "customer_id", "state", "total", "balance")
    detail_template = "sales/invoice_detail.html"
    importable = False

    def cancel(self, obj: Invoice) -> None:
        """Cancel through the service: refused with payments allocated or credit notes issued."""
        services.cancel_invoice(obj)


class CreditNoteResource(Resource):
    """Credit notes against invoices: legal documents with a gap-free number."""

    model = CreditNote
    schema = CreditNoteSchema
    permission_prefix = "sales.credit_note"
    path = "credit-notes"
    label = "Credit note"
    legal_document = True
    cancel_field = "state"
    cancelled_value = "cancelled"
    operations = ("list", "get", "create", "delete", "cancel")
    filters = ("invoice_id", "customer_id", "state", "note_date", "number")
    sort = ("note_date", "number")
    default_sort = "-note_date"
    search = ("number", "reason")
    list_columns = ("number", "note_date", "invoice_id", "amount", "state")
    importable = False

    def create(self, data: dict[str, Any]) -> CreditNote:
        """Issue through the service (balance checks, outstanding, number)."""
        return services.create_credit_note(data)

    def cancel(self, obj: CreditNote) -> None:
        """Cancel through the service: the invoice's balance and the outstanding come back."""
        services.cancel_credit_note(obj)


class PaymentResource(Resource):
    """Payments received; allocated to invoices at once or later (``POST .../allocate``); cancelled, never deleted."""

    model = Payment
    schema = PaymentSchema
    permission_prefix = "sales.payment"
    legal_document = True
    cancel_field = "state"
    cancelled_value = "cancelled"
    operations = ("list", "get", "create", "delete", "cancel")
    filters = ("customer_id", "payment_date", "method", "number", "state")
    sort = ("payment_date", "number")
    default_sort = "-payment_date"
    search = ("number", "reference")
    list_columns = ("number", "payment_date", "customer_id", "amount", "allocated_amount", "method")
    detail_template = "sales/payment_detail.html"
    importable = False

    def create(self, data: dict[str, Any]) -> Payment:
        """Record through the service (outstanding, number, allocations)."""
        return services.create_payment(data)

    def cancel(self, obj: Payment) -> None:
        """Cancel through the service: allocations reversed, the outstanding comes back."""
        services.cancel_payment(obj)


ORDERS = OrderResource()
INVOICES = InvoiceResource()
CREDIT_NOTES = CreditNoteResource()
PAYMENTS = PaymentResource()
RESOURCES = (ORDERS, INVOICES, CREDIT_NOTES, PAYMENTS)


def order_for_action(order_id: uuid.UUID) -> Any:
    """The order an action acts on: through the resource (record rules; 404), read and locked ``FOR UPDATE``.

    One read: the action's :func:`services.lock_order` finds it locked in
    this transaction and does not read it again.
    """
    order = ORDERS.lookup(order_id, for_update=True)
    services.mark_locked(order)
    return order


def create_blueprint() -> Blueprint:
    """The sales API: the resources' routes and the actions (fresh on every call)."""
    bp = Blueprint("sales", __name__, url_prefix="/api/v1/sales", description="Sales: orders, invoices, payments")
    for resource in RESOURCES:
        resource.register(bp)

    @bp.route("/orders/<uuid:order_id>/confirm", methods=["POST"])
    @bp.arguments(VersionSchema)
    @bp.response(200, envelope(OrderSchema))
    @requires("sales.order.confirm")
    def confirm_order(data: dict[str, Any], order_id: uuid.UUID) -> Any:
        """Confirm a draft order

        Prices, validates (credit limit), allocates and reserves stock, marks it
        confirmed, invoices it when the tenant's setting says so and adds it to
        the customer's outstanding: all or nothing. 409 for a credit limit
        breach (unless the user holds `sales.order.credit_override`), short
        stock or a stale version; 422 for problems the validation hook finds.
        """
        order = services.confirm_order(order_for_action(order_id), data["version"])
        db_session().commit()
        return ok(ORDERS.dump(order), message="confirmed")

    @bp.route("/orders/<uuid:order_id>/deliver", methods=["POST"])
    @bp.arguments(VersionSchema)
    @bp.response(200, envelope(OrderSchema))
    @requires("sales.order.deliver")
    def deliver_order(data: dict[str, Any], order_id: uuid.UUID) -> Any:
        """Deliver a confirmed order

        Issues the reserved stock. 409 when a before-despatch hook refuses.
        """
        order = services.deliver_order(order_for_action(order_id), data["version"])
        db_session().commit()
        return ok(ORDERS.dump(order), message="delivered")

    @bp.route("/orders/<uuid:order_id>/invoice", methods=["POST"])
    @bp.arguments(VersionSchema)
    @bp.response(201, envelope(InvoiceSchema))
    @requires("sales.invoice.create")
    def invoice_order(data: dict[str, Any], order_id: uuid.UUID) -> Any:
        """Invoice a confirmed order

        Issues the invoice with the next number of the gap-free series
        `sales.invoice`. 409 when it is invoiced already or a before-invoice
        hook refuses.
        """
        invoice = services.invoice_order(order_for_action(order_id), data["version"])
        db_session().commit()
        return ok(INVOICES.dump(invoice), message="invoiced")

    @bp.route("/orders/<uuid:order_id>/cancel", methods=["POST"])
    @bp.arguments(VersionSchema)
    @bp.response(200, envelope(OrderSchema))
    @requires("sales.order.cancel")
    def cancel_order(data: dict[str, Any], order_id: uuid.UUID) -> Any:
        """Cancel an order

        A draft, or a confirmed and undelivered order without an invoice: its
        reservation is released and the outstanding reduced. 409 otherwise.
        """
        order = services.cancel_order(order_for_action(order_id), data["version"])
        db_session().commit()
        return ok(ORDERS.dump(order), message="cancelled")

    @bp.route("/payments/<uuid:payment_id>/allocate", methods=["POST"])
    @bp.arguments(AllocateSchema)
    @bp.response(200, envelope(PaymentSchema))
    @requires("sales.payment.allocate")
    def allocate_payment(data: dict[str, Any], payment_id: uuid.UUID) -> Any:
        """Allocate part of a payment to an invoice

        At most the invoice's balance and the payment's unallocated amount
        (422 naming `amount`).
        """
        payment = PAYMENTS.lookup(payment_id)
        check_version(payment, data["version"])
        services.allocate_payment(payment, data["invoice_id"], data["amount"])
        db_session().commit()
        return ok(PAYMENTS.dump(payment), message="allocated")

    return bp
