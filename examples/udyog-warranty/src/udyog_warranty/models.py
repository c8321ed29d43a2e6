"""Tables of the warranty plugin; each table's name starts with ``warranty_``."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, TenantMixin, VersionedMixin, tenant_fk


class Card(VersionedMixin, TenantMixin, Base):
    """The warranty of sold goods, by serial number; optionally the sales invoice they were sold on.

    Cards registered from an invoice (the hook ``sales_after_invoice``) are
    numbered ``<invoice number>/<line no>``; cards registered by hand carry
    the unit's own serial number.
    """

    __tablename__ = "warranty_card"
    __table_args__ = (
        UniqueConstraint("tenant_id", "serial_no"),
        Index("ix_warranty_card_ends_on", "tenant_id", "ends_on", "id"),
        Index("ix_warranty_card_invoice_id", "tenant_id", "invoice_id"),
        tenant_fk("invoice_id", "sales_invoice"),
    )

    serial_no: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(200))
    customer: Mapped[str] = mapped_column(String(200))
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    starts_on: Mapped[dt.date]
    months: Mapped[int] = mapped_column(SmallInteger)
    ends_on: Mapped[dt.date]
    notes: Mapped[str] = mapped_column(Text, default="")


class ProductTerm(SideTable, Base):
    """The warranty term of an inventory product: the field ``warranty_months`` this plugin adds to products."""

    __tablename__ = "warranty_product_term"
    __udyog_extends__ = "inventory_product"

    months: Mapped[int | None] = mapped_column(SmallInteger, default=None)
