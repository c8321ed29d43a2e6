"""Tables of the ``sales`` plugin; each table's name starts with ``sales_``.

Amounts are ``Money(18, 2)``, quantities ``Money(18, 3)``, percentages
``Money(5, 2)``. References to crm's customers and inventory's products,
warehouses and lots are composite tenant keys (``tenant_fk``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk

ZERO = decimal.Decimal("0.00")

ORDER_STATES = ("draft", "confirmed", "delivered", "invoiced", "paid", "cancelled")
INVOICE_STATES = ("issued", "paid", "cancelled")
CREDIT_NOTE_STATES = ("issued", "cancelled")
PAYMENT_METHODS = ("cash", "bank", "upi", "cheque", "card", "other")


class AccountTerms(SideTable, Base):
    """A customer's sales terms: a side row of crm's customer (``crm_customer``), one per customer.

    ``outstanding`` is maintained by sales only (confirmations add, credit
    notes, payments and cancellations subtract); its API field ignores input.
    """

    __tablename__ = "sales_account"
    __udyog_extends__ = "crm_customer"

    is_distributor: Mapped[bool] = mapped_column(Boolean, default=False)
    margin_pct: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=ZERO)
    credit_limit: Mapped[decimal.Decimal | None] = mapped_column(Money(18, 2), default=None, nullable=True)
    outstanding: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)


class Order(VersionedMixin, TenantMixin, Base):
    """A sales order: draft (editable) → confirmed → delivered → invoiced → paid, or cancelled."""

    __tablename__ = "sales_order"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        tenant_fk("warehouse_id", "inventory_warehouse"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_sales_order_date", "tenant_id", "order_date", "id"),
        Index("ix_sales_order_customer", "tenant_id", "customer_id", "order_date"),
        Index("ix_sales_order_owner", "tenant_id", "owner_id", "order_date"),
        Index("ix_sales_order_state", "tenant_id", "state", "order_date"),
    )

    number: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None, nullable=True)
    order_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    discount_pct: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=ZERO)
    subtotal: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    discount_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    tax_total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    #: Added to the total to round it (``sales_round_off``; GST rounds to the rupee), e.g. -0.40.
    round_off: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO, server_default="0")
    total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None, nullable=True)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.line_no"
    )
    reservations: Mapped[list[Reservation]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Reservation.id"
    )
    invoices: Mapped[list[Invoice]] = relationship(viewonly=True, order_by="Invoice.number")


class OrderLine(TenantMixin, Base):
    """A line of an order: a product, a quantity and a discount; priced on confirmation."""

    __tablename__ = "sales_order_line"
    __table_args__ = (
        tenant_fk("order_id", "sales_order", ondelete="CASCADE"),
        tenant_fk("product_id", "inventory_product"),
        UniqueConstraint("tenant_id", "order_id", "line_no"),
        Index("ix_sales_order_line_product", "tenant_id", "product_id"),
    )

    order_id: Mapped[uuid.UUID]
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID]
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))
    discount_pct: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=ZERO)
    #: A price agreed beforehand (a converted quote's); the default pricing uses it instead of the list price.
    agreed_price: Mapped[decimal.Decimal | None] = mapped_column(Money(18, 2), default=None, nullable=True)
    unit_price: Mapped[decimal.Decimal | None] = mapped_column(Money(18, 2), default=None, nullable=True)
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    taxable: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    tax_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)

    order: Mapped[Order] = relationship(back_populates="lines")


class Reservation(TenantMixin, Base):
    """Stock reserved for an order line on confirmation: released on cancellation, issued on delivery."""

    __tablename__ = "sales_reservation"
    __table_args__ = (
        tenant_fk("order_id", "sales_order", ondelete="CASCADE"),
        tenant_fk("line_id", "sales_order_line", ondelete="CASCADE"),
        tenant_fk("product_id", "inventory_product"),
        tenant_fk("warehouse_id", "inventory_warehouse"),
        tenant_fk("lot_id", "inventory_lot"),
        Index("ix_sales_reservation_order", "tenant_id", "order_id"),
        Index("ix_sales_reservation_lot", "tenant_id", "lot_id"),
    )

    order_id: Mapped[uuid.UUID]
    line_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID]
    lot_id: Mapped[uuid.UUID | None] = mapped_column(default=None, nullable=True)
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))

    order: Mapped[Order] = relationship(back_populates="reservations")


class Invoice(VersionedMixin, TenantMixin, Base):
    """A tax invoice for an order: a legal document with a gap-free number, never edited or deleted."""

    __tablename__ = "sales_invoice"
    __udyog_deletable__ = False
    __table_args__ = (
        tenant_fk("order_id", "sales_order"),
        tenant_fk("customer_id", "crm_customer"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_sales_invoice_date", "tenant_id", "invoice_date", "id"),
        Index("ix_sales_invoice_order", "tenant_id", "order_id"),
        Index("ix_sales_invoice_customer", "tenant_id", "customer_id", "invoice_date"),
    )

    number: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="issued")
    subtotal: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    discount_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    tax_total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    #: The order's round-off, copied when the invoice is issued.
    round_off: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO, server_default="0")
    total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    paid_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    credited_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    balance: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)

    lines: Mapped[list[InvoiceLine]] = relationship(cascade="all", order_by="InvoiceLine.line_no")


class InvoiceLine(TenantMixin, Base):
    """A line of an invoice, copied from the order line when the invoice is issued."""

    __tablename__ = "sales_invoice_line"
    __udyog_deletable__ = False
    __table_args__ = (
        tenant_fk("invoice_id", "sales_invoice"),
        tenant_fk("product_id", "inventory_product"),
        UniqueConstraint("tenant_id", "invoice_id", "line_no"),
    )

    invoice_id: Mapped[uuid.UUID]
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID]
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))
    unit_price: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    discount_pct: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=ZERO)
    taxable: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    tax_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)


class CreditNote(VersionedMixin, TenantMixin, Base):
    """A credit note against an invoice (a legal document): reduces the invoice's balance and the outstanding."""

    __tablename__ = "sales_credit_note"
    __udyog_deletable__ = False
    __table_args__ = (
        tenant_fk("invoice_id", "sales_invoice"),
        tenant_fk("customer_id", "crm_customer"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_sales_credit_note_date", "tenant_id", "note_date", "id"),
        Index("ix_sales_credit_note_invoice", "tenant_id", "invoice_id"),
    )

    number: Mapped[str] = mapped_column(String(40))
    invoice_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    note_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    reason: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(16), default="issued")


class Payment(VersionedMixin, TenantMixin, Base):
    """A payment received from a customer; allocated to its invoices (in part or whole)."""

    __tablename__ = "sales_payment"
    __udyog_deletable__ = False
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_sales_payment_date", "tenant_id", "payment_date", "id"),
        Index("ix_sales_payment_customer", "tenant_id", "customer_id", "payment_date"),
    )

    number: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[uuid.UUID]
    payment_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    allocated_amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    method: Mapped[str] = mapped_column(String(16), default="bank")
    reference: Mapped[str] = mapped_column(String(80), default="")
    #: ``received``, or ``cancelled`` (its allocations reversed; it keeps its number).
    state: Mapped[str] = mapped_column(String(16), default="received", server_default="received")

    allocations: Mapped[list[PaymentAllocation]] = relationship(cascade="all", order_by="PaymentAllocation.id")


class PaymentAllocation(TenantMixin, Base):
    """Part of a payment applied to an invoice."""

    __tablename__ = "sales_payment_allocation"
    __udyog_deletable__ = False
    __table_args__ = (
        tenant_fk("payment_id", "sales_payment"),
        tenant_fk("invoice_id", "sales_invoice"),
        Index("ix_sales_payment_allocation_payment", "tenant_id", "payment_id"),
        Index("ix_sales_payment_allocation_invoice", "tenant_id", "invoice_id"),
    )

    payment_id: Mapped[uuid.UUID]
    invoice_id: Mapped[uuid.UUID]
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))


@event.listens_for(AccountTerms.credit_limit, "set", active_history=True)
def _credit_limit_changed(target: AccountTerms, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Emit ``sales.account.credit_limit_changed`` when a stored customer's limit changes (in the same transaction).

    New rows are left out (a new customer owes nothing yet), and so is work
    outside a tenant scope; the event names the customer, the old and the new limit.
    """
    from udyog_sdk import emit
    from udyog_sdk.runtime import active_tenant

    state = inspect(target)
    if not state.persistent or active_tenant() is None or target.record_id is None:
        return
    try:
        old = None if oldvalue in (None, NO_VALUE, NEVER_SET) else decimal.Decimal(oldvalue)
        new = None if value is None else decimal.Decimal(value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        return  # not a number: the column's own checks refuse it
    if old == new:
        return
    emit(
        "sales.account.credit_limit_changed",
        {
            "customer_id": str(target.record_id),
            "old_limit": None if old is None else str(old),
            "credit_limit": None if new is None else str(new),
        },
    )
