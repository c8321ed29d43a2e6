"""Tables of the ``fssai`` plugin; each table's name starts with ``fssai_``.

- :class:`Licence`: a branch's FSSAI licence or registration (one per branch: a 1:1 side table of ``core_branch``).
- :class:`Batch`: the food data of an inventory lot (1:1 with ``inventory_lot``): dates, QC, recall hold.
- :class:`ProductFood` / :class:`CustomerFood`: side tables contributing fields to inventory's products
  (shelf life, pack size) and crm's customers (minimum remaining shelf life).
- :class:`Allocation`: which batch served which order line, and how much (written on confirmation).
- :class:`Recall` and :class:`Recovery`: a recall of a batch and the quantities recovered per customer.

Quantities are ``Money(18, 3)`` like inventory's.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk

#: What a licence record is: a state/central licence or a basic registration (both 14 digits).
LICENCE_KINDS = ("licence", "registration")
#: The date a batch carries besides its expiry: of manufacture or of packing.
DATE_KINDS = ("manufacture", "packing")
#: Quality control states of a batch; only ``passed`` batches are allocated.
QC_STATES = ("pending", "passed", "failed")
#: Recall classes (FSS Food Recall Procedure Regulations 2017: I the most serious).
RECALL_CLASSES = ("I", "II", "III")
#: How far down the chain a recall reaches.
RECALL_DEPTHS = ("distributor", "retail", "consumer")
RECALL_STATES = ("open", "closed")


class Licence(VersionedMixin, TenantMixin, Base):
    """The FSSAI licence (or registration) of a branch: 14 digits and an expiry date; one per branch."""

    __tablename__ = "fssai_licence"
    __table_args__ = (
        tenant_fk("branch_id", "core_branch"),
        UniqueConstraint("tenant_id", "branch_id"),
    )

    branch_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(String(14))
    kind: Mapped[str] = mapped_column(String(16), default="licence")
    valid_from: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")


class ProductFood(SideTable, Base):
    """A product's food data (side row of ``inventory_product``): shelf life in days and pack size."""

    __tablename__ = "fssai_product"
    __udyog_extends__ = "inventory_product"

    shelf_life_days: Mapped[int | None] = mapped_column(Integer, default=None, nullable=True)
    pack_size: Mapped[str | None] = mapped_column(String(60), default=None, nullable=True)


class CustomerFood(SideTable, Base):
    """A customer's food terms (side row of ``crm_customer``): the shortest remaining shelf life it accepts."""

    __tablename__ = "fssai_customer"
    __udyog_extends__ = "crm_customer"

    min_remaining_days: Mapped[int | None] = mapped_column(Integer, default=None, nullable=True)


class Batch(VersionedMixin, TenantMixin, Base):
    """A food batch: the FSSAI data of one inventory lot (``lot_id``, unique).

    ``number`` is the lot's code (from the series ``fssai.batch`` when the
    batch is made here). ``produced_on`` is the date of manufacture or of
    packing (``date_kind``); ``expires_on`` (use by) is mandatory and after
    it; ``best_before`` is optional. Only ``qc_status == "passed"`` batches,
    not ``on_hold`` and not expired, are allocated.
    """

    __tablename__ = "fssai_batch"
    __table_args__ = (
        tenant_fk("lot_id", "inventory_lot"),
        tenant_fk("product_id", "inventory_product"),
        UniqueConstraint("tenant_id", "lot_id"),
        Index("ix_fssai_batch_product_expiry", "tenant_id", "product_id", "expires_on"),
        Index("ix_fssai_batch_expiry", "tenant_id", "expires_on", "id"),
        Index("ix_fssai_batch_number", "tenant_id", "number"),
    )

    lot_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(String(40))
    date_kind: Mapped[str] = mapped_column(String(16), default="manufacture")
    produced_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    best_before: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)
    qc_status: Mapped[str] = mapped_column(String(16), default="pending")
    qc_inspector: Mapped[str] = mapped_column(String(120), default="")
    qc_notes: Mapped[str] = mapped_column(Text, default="")
    qc_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None, nullable=True)
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str] = mapped_column(String(500), default="")
    near_expiry_alerted_on: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)
    expired_alerted_on: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)


class Allocation(TenantMixin, Base):
    """How much of a batch serves an order line: recorded when the order is confirmed (the distribution record).

    Indexed by lot for the recall trace (every order of a batch with one index range).
    """

    __tablename__ = "fssai_allocation"
    __udyog_audit__ = False  # written once by the confirmation, never edited
    __table_args__ = (
        tenant_fk("order_id", "sales_order"),
        tenant_fk("line_id", "sales_order_line"),
        tenant_fk("lot_id", "inventory_lot"),
        tenant_fk("customer_id", "crm_customer"),
        Index("ix_fssai_allocation_lot", "tenant_id", "lot_id", "order_id"),
        Index("ix_fssai_allocation_order", "tenant_id", "order_id"),
    )

    order_id: Mapped[uuid.UUID]
    line_id: Mapped[uuid.UUID]
    line_no: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))


class Recall(VersionedMixin, TenantMixin, Base):
    """A recall of a batch: puts it on hold; class, depth and deadline as the tenant decides."""

    __tablename__ = "fssai_recall"
    __table_args__ = (
        tenant_fk("lot_id", "inventory_lot"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_fssai_recall_lot", "tenant_id", "lot_id"),
    )

    number: Mapped[str] = mapped_column(String(40))
    lot_id: Mapped[uuid.UUID]
    recall_class: Mapped[str] = mapped_column(String(4), default="II")
    depth: Mapped[str] = mapped_column(String(16), default="retail")
    reason: Mapped[str] = mapped_column(Text, default="")
    started_on: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="open")
    closed_on: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)


class Recovery(TenantMixin, Base):
    """A quantity of a recalled batch recovered from a customer."""

    __tablename__ = "fssai_recovery"
    __table_args__ = (
        tenant_fk("recall_id", "fssai_recall"),
        tenant_fk("customer_id", "crm_customer"),
        Index("ix_fssai_recovery_recall", "tenant_id", "recall_id", "customer_id"),
    )

    recall_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    quantity: Mapped[decimal.Decimal] = mapped_column(Money(18, 3))
    recovered_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
