"""Tables of the inventory plugin (published: other plugins import these names).

Masters (versioned, edited by people): :class:`Category`, :class:`Unit`,
:class:`UnitConversion`, :class:`Product`, :class:`Warehouse`, :class:`Lot`.

The stock ledger (written only by :mod:`udyog_inventory.services`, never
edited): :class:`StockMove` (one row per movement), :class:`StockBalance`
(on hand, reserved and available per product, warehouse and lot),
:class:`ProductStock` (the same totals per product, plus the stock's value:
the per-product lock every movement takes first) and :class:`CostLayer`
(FIFO layers).

Quantities are ``Numeric(18, 3)`` (``Money(18, 3)``), amounts ``Money(18, 2)``,
unit costs ``Money(18, 4)``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk, utcnow

ZERO = decimal.Decimal("0")

#: Kinds of stock movement, in the order of the ledger's documentation.
MOVE_KINDS = ("receipt", "issue", "transfer_out", "transfer_in", "adjustment", "reservation", "release")
#: Valuation methods of a product.
VALUATIONS = ("fifo", "average")


def Quantity() -> Money:  # noqa: N802 - a column type, named like one
    """The column type of quantities: exact, three decimals."""
    return Money(18, 3)


class Category(VersionedMixin, TenantMixin, Base):
    """A product category (one level; a name unique per tenant)."""

    __tablename__ = "inventory_category"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Unit(VersionedMixin, TenantMixin, Base):
    """A unit of measure: ``kg``, ``pcs``, ``box12``; the code is unique per tenant."""

    __tablename__ = "inventory_unit"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(60))


class UnitConversion(VersionedMixin, TenantMixin, Base):
    """``1 from_unit = factor * to_unit``, for one product or (``product_id`` None) for all.

    A product's own conversion wins over the general one. The reverse
    direction is derived (``1 / factor``) when only one direction is stored.
    """

    __tablename__ = "inventory_unit_conversion"
    __table_args__ = (
        tenant_fk("from_unit_id", "inventory_unit"),
        tenant_fk("to_unit_id", "inventory_unit"),
        tenant_fk("product_id", "inventory_product"),
        Index("ix_inventory_unit_conversion_units", "tenant_id", "from_unit_id", "to_unit_id"),
    )

    from_unit_id: Mapped[uuid.UUID]
    to_unit_id: Mapped[uuid.UUID]
    factor: Mapped[decimal.Decimal] = mapped_column(Money(18, 6))
    product_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class Product(VersionedMixin, TenantMixin, Base):
    """A stocked product. Resource key ``inventory.product`` (other plugins contribute fields).

    ``price`` is the base selling price, ``cost`` the standard cost used for
    receipts that name none. ``valuation`` is ``fifo`` or ``average``.
    ``reorder_point``: the event ``inventory.stock.below_reorder`` is emitted
    when the total available quantity falls below it, and
    ``inventory.stock.reorder_restored`` when it rises back to it or above.
    """

    __tablename__ = "inventory_product"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        tenant_fk("category_id", "inventory_category"),
        tenant_fk("unit_id", "inventory_unit"),
        Index("ix_inventory_product_name", "tenant_id", "name", "id"),
    )

    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    unit_id: Mapped[uuid.UUID]
    price: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    cost: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    valuation: Mapped[str] = mapped_column(String(8), default="fifo")
    reorder_point: Mapped[decimal.Decimal | None] = mapped_column(Quantity(), default=None)
    reorder_qty: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    track_lots: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Warehouse(VersionedMixin, TenantMixin, Base):
    """A place stock is kept, belonging to a branch of the tenant."""

    __tablename__ = "inventory_warehouse"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        tenant_fk("branch_id", "core_branch"),
    )

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    branch_id: Mapped[uuid.UUID]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Lot(VersionedMixin, TenantMixin, Base):
    """A lot (batch) of a product: a code unique per product, and when it was received.

    Generic on purpose: resource key ``inventory.lot``, so other plugins
    (FSSAI: manufacturing and expiry dates, QC state) contribute their fields
    through a side table, and hold lots back through the hook
    ``inventory_lot_blocked``.
    """

    __tablename__ = "inventory_lot"
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "code"),
        tenant_fk("product_id", "inventory_product"),
        Index("ix_inventory_lot_received", "tenant_id", "product_id", "received_on", "id"),
    )

    product_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(40))
    received_on: Mapped[dt.date]
    note: Mapped[str] = mapped_column(Text, default="")


class StockMove(TenantMixin, Base):
    """One movement of stock: a row of the ledger, never changed afterwards.

    ``quantity`` is the size of the movement (positive); ``on_hand_delta``
    and ``reserved_delta`` say what it did to the balance (receipt +q/0,
    issue -q/0, issue from reserved -q/-q, transfer_out -q/0, transfer_in
    +q/0, adjustment ±q/0, reservation 0/+q, release 0/-q). ``unit_cost``
    and ``value`` (= the cost of the quantity, positive) are zero for
    reservations and releases.
    """

    __tablename__ = "inventory_move"
    __udyog_audit__ = False  # the ledger is its own audit trail
    __table_args__ = (
        tenant_fk("product_id", "inventory_product"),
        tenant_fk("warehouse_id", "inventory_warehouse"),
        tenant_fk("lot_id", "inventory_lot"),
        Index("ix_inventory_move_moved_at", "tenant_id", "moved_at", "id"),
        Index("ix_inventory_move_product", "tenant_id", "product_id", "moved_at", "id"),
        Index("ix_inventory_move_warehouse", "tenant_id", "warehouse_id", "moved_at", "id"),
        Index("ix_inventory_move_reference", "tenant_id", "reference_id"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID]
    lot_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    quantity: Mapped[decimal.Decimal] = mapped_column(Quantity())
    on_hand_delta: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    reserved_delta: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    unit_cost: Mapped[decimal.Decimal] = mapped_column(Money(18, 4), default=ZERO)
    value: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    reference: Mapped[str] = mapped_column(String(40), default="")
    reference_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reference_number: Mapped[str] = mapped_column(String(40), default="")
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    moved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")


class StockBalance(TenantMixin, Base):
    """On hand, reserved and available (= on hand - reserved) of a product in a warehouse, per lot.

    ``lot_key`` is the lot's id as text, or ``''`` without a lot, so the
    unique key works on every database. Rows are created race-free and locked
    (``FOR UPDATE``) before they change; see :mod:`udyog_inventory.services`.
    """

    __tablename__ = "inventory_balance"
    __udyog_audit__ = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "warehouse_id", "lot_key"),
        tenant_fk("product_id", "inventory_product"),
        tenant_fk("warehouse_id", "inventory_warehouse"),
        tenant_fk("lot_id", "inventory_lot"),
        Index("ix_inventory_balance_warehouse", "tenant_id", "warehouse_id", "product_id"),
    )

    product_id: Mapped[uuid.UUID]
    warehouse_id: Mapped[uuid.UUID]
    lot_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lot_key: Mapped[str] = mapped_column(String(36), default="")
    on_hand: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    reserved: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    available: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductStock(TenantMixin, Base):
    """A product's totals across warehouses and its stock value: the per-product lock.

    Every movement of a product locks this row first (``FOR UPDATE``), so
    the valuation (FIFO layers, running average) and the reorder crossing
    are decided by one transaction at a time per product. ``value`` is the
    stock's value; the weighted-average unit cost is ``value / on_hand``.
    """

    __tablename__ = "inventory_product_stock"
    __udyog_audit__ = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id"),
        tenant_fk("product_id", "inventory_product"),
    )

    product_id: Mapped[uuid.UUID]
    on_hand: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    reserved: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    available: Mapped[decimal.Decimal] = mapped_column(Quantity(), default=ZERO)
    value: Mapped[decimal.Decimal] = mapped_column(Money(18, 2), default=ZERO)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CostLayer(TenantMixin, Base):
    """A FIFO cost layer: what a receipt (or a positive adjustment) added, and how much of it is left."""

    __tablename__ = "inventory_cost_layer"
    __udyog_audit__ = False
    __table_args__ = (
        tenant_fk("product_id", "inventory_product"),
        tenant_fk("move_id", "inventory_move"),
        Index("ix_inventory_cost_layer_open", "tenant_id", "product_id", "received_at", "id"),
    )

    product_id: Mapped[uuid.UUID]
    move_id: Mapped[uuid.UUID]
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    quantity: Mapped[decimal.Decimal] = mapped_column(Quantity())
    remaining: Mapped[decimal.Decimal] = mapped_column(Quantity())
    unit_cost: Mapped[decimal.Decimal] = mapped_column(Money(18, 4))
