"""Tables of the crm plugin (published: other plugins may read them).

Every table is tenant-scoped (``tenant_id`` leads every key and index),
references between them are composite tenant keys, and records people edit
carry a ``version``. Amounts are :class:`udyog_sdk.models.Money`; quantities
``Money(18, 3)``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk

#: Outcomes of a pipeline stage: deals in it are open, won or lost.
STAGE_OUTCOMES = ("open", "won", "lost")
#: Lead states.
LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "lost")
#: Quote states; ``converted`` is set by conversion only.
QUOTE_STATUSES = ("draft", "sent", "accepted", "converted", "cancelled")
#: Kinds of activity.
ACTIVITY_KINDS = ("call", "meeting", "email", "task")
#: Where a check-in's coordinates came from.
CHECKIN_SOURCES = ("gps", "manual")


class Customer(VersionedMixin, TenantMixin, Base):
    """A customer account (a distributor, a retailer, a buyer): addresses, GST state codes, credit terms, owner."""

    __tablename__ = "crm_customer"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_crm_customer_name", "tenant_id", "name", "id"),
        Index("ix_crm_customer_owner", "tenant_id", "owner_id"),
    )

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    billing_address: Mapped[str] = mapped_column(Text, default="")
    billing_state_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    shipping_address: Mapped[str] = mapped_column(Text, default="")
    shipping_state_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    credit_days: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Contact(VersionedMixin, TenantMixin, Base):
    """A person at a customer."""

    __tablename__ = "crm_contact"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        Index("ix_crm_contact_customer", "tenant_id", "customer_id", "name"),
    )

    customer_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(120))
    designation: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class Lead(VersionedMixin, TenantMixin, Base):
    """A prospective customer not yet qualified; may be linked to the customer it became."""

    __tablename__ = "crm_lead"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        Index("ix_crm_lead_status", "tenant_id", "status", "id"),
        Index("ix_crm_lead_owner", "tenant_id", "owner_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    source: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class Stage(VersionedMixin, TenantMixin, Base):
    """A column of the deal pipeline: its order, the probability of winning a deal in it, and its outcome."""

    __tablename__ = "crm_stage"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_crm_stage_sequence", "tenant_id", "sequence", "id"),
    )

    name: Mapped[str] = mapped_column(String(60))
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(8), default="open")


class Deal(VersionedMixin, TenantMixin, Base):
    """An opportunity in the pipeline: its stage, expected amount and close date."""

    __tablename__ = "crm_deal"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        tenant_fk("lead_id", "crm_lead"),
        tenant_fk("stage_id", "crm_stage"),
        Index("ix_crm_deal_stage", "tenant_id", "stage_id", "id"),
        Index("ix_crm_deal_owner", "tenant_id", "owner_id"),
    )

    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    stage_id: Mapped[uuid.UUID]
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=decimal.Decimal("0"))
    expected_close: Mapped[dt.date | None] = mapped_column(nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class Quote(VersionedMixin, TenantMixin, Base):
    """A quotation to a customer, numbered from the series ``crm.quote``; may be converted (to a sales order)."""

    __tablename__ = "crm_quote"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        tenant_fk("customer_id", "crm_customer"),
        tenant_fk("deal_id", "crm_deal"),
        Index("ix_crm_quote_date", "tenant_id", "quote_date", "id"),
        Index("ix_crm_quote_customer", "tenant_id", "customer_id"),
        Index("ix_crm_quote_owner", "tenant_id", "owner_id"),
    )

    number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[uuid.UUID]
    deal_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    quote_date: Mapped[dt.date]
    valid_until: Mapped[dt.date | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    gross_total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=decimal.Decimal("0"))
    discount_total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=decimal.Decimal("0"))
    total: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=decimal.Decimal("0"))
    converted_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    converted_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    converted_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", cascade="all, delete-orphan", order_by="QuoteLine.sequence"
    )


class QuoteLine(VersionedMixin, TenantMixin, Base):
    """One line of a quote: a product (by id; crm does not know inventory) or a description, priced."""

    __tablename__ = "crm_quote_line"
    __table_args__ = (
        tenant_fk("quote_id", "crm_quote"),
        Index("ix_crm_quote_line_quote", "tenant_id", "quote_id", "sequence"),
    )

    quote_id: Mapped[uuid.UUID]
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    product_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))
    unit_price: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    discount_pct: Mapped[decimal.Decimal] = mapped_column(Money(5, 2), default=decimal.Decimal("0"))
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=decimal.Decimal("0"))

    quote: Mapped[Quote] = relationship(back_populates="lines")


class Activity(VersionedMixin, TenantMixin, Base):
    """A call, meeting, e-mail or task, done or to follow up by its due date."""

    __tablename__ = "crm_activity"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        tenant_fk("lead_id", "crm_lead"),
        tenant_fk("deal_id", "crm_deal"),
        Index("ix_crm_activity_due", "tenant_id", "owner_id", "done", "due_on"),
    )

    kind: Mapped[str] = mapped_column(String(8), default="task")
    subject: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[dt.date | None] = mapped_column(nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class CheckIn(VersionedMixin, TenantMixin, Base):
    """A field visit: where (GPS or typed coordinates) and when a user called on a customer."""

    __tablename__ = "crm_checkin"
    __table_args__ = (
        tenant_fk("customer_id", "crm_customer"),
        Index("ix_crm_checkin_at", "tenant_id", "checked_at", "id"),
        Index("ix_crm_checkin_user", "tenant_id", "user_id", "checked_at"),
    )

    customer_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    latitude: Mapped[decimal.Decimal] = mapped_column(Money(9, 6))
    longitude: Mapped[decimal.Decimal] = mapped_column(Money(9, 6))
    accuracy_m: Mapped[decimal.Decimal | None] = mapped_column(Money(10, 2), nullable=True)
    source: Mapped[str] = mapped_column(String(8), default="manual")
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
