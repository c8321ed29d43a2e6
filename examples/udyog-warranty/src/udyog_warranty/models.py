"""Tables of the warranty plugin; each table's name starts with ``warranty_``."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, TenantMixin, VersionedMixin, tenant_fk


class Card(VersionedMixin, TenantMixin, Base):
    """The warranty of one sold unit, by serial number; optionally the sales voucher it was sold on."""

    __tablename__ = "warranty_card"
    __table_args__ = (
        UniqueConstraint("tenant_id", "serial_no"),
        Index("ix_warranty_card_ends_on", "tenant_id", "ends_on", "id"),
        tenant_fk("voucher_id", "ledger_voucher"),
    )

    serial_no: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(String(120))
    customer: Mapped[str] = mapped_column(String(120))
    voucher_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    starts_on: Mapped[dt.date]
    months: Mapped[int] = mapped_column(SmallInteger)
    ends_on: Mapped[dt.date]
    notes: Mapped[str] = mapped_column(Text, default="")


class VoucherTerm(SideTable, Base):
    """The warranty term of the goods sold on a ledger voucher: a field this plugin adds to vouchers."""

    __tablename__ = "warranty_voucher_term"
    __udyog_extends__ = "ledger_voucher"

    months: Mapped[int | None] = mapped_column(SmallInteger, default=None)
