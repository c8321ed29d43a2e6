"""Tables of the ledger plugin."""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, Money, TenantMixin, VersionedMixin


class Voucher(VersionedMixin, TenantMixin, Base):
    """A numbered voucher: a legal document, cancelled and never deleted."""

    __tablename__ = "ledger_voucher"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_ledger_voucher_issued_on", "tenant_id", "issued_on", "id"),
    )
    __udyog_deletable__ = False

    number: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(120))
    amount: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
    issued_on: Mapped[dt.date]
    cancelled: Mapped[bool] = mapped_column(default=False)
