"""The side tables of the taxes plugin: one row per voucher or note it adds fields to."""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, Money


class VoucherTax(SideTable, Base):
    """HSN code and tax rate of a ledger voucher."""

    __tablename__ = "taxes_voucher_tax"
    __udyog_extends__ = "ledger_voucher"

    hsn_code: Mapped[str | None] = mapped_column(String(8), default=None)
    rate: Mapped[decimal.Decimal | None] = mapped_column(Money(5, 2), default=None)


class NoteReview(SideTable, Base):
    """When a note is due for review, and whether it was reviewed."""

    __tablename__ = "taxes_note_review"
    __udyog_extends__ = "notes_note"

    review_due: Mapped[dt.date | None] = mapped_column(default=None)
    reviewed: Mapped[bool] = mapped_column(default=False)
