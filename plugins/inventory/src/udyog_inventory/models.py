"""Tables of the plugin; each table's name starts with the plugin's name and an underscore."""

from __future__ import annotations

import decimal

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, Money, TenantMixin, VersionedMixin


class Item(VersionedMixin, TenantMixin, Base):
    """An item of a tenant: unique by code, listed by name."""

    __tablename__ = "inventory_item"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_inventory_item_name", "tenant_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit_price: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    notes: Mapped[str] = mapped_column(Text, default="")
