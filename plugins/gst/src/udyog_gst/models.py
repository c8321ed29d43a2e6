"""Tables of the ``gst`` plugin; each name starts with ``gst_``.

Side tables (``SideTable``, 1:1 with the owner's record) hold what GST adds
to other plugins' records: a customer's GSTIN (``gst_party``), a product's
HSN code and rate (``gst_product``), an issued invoice's GST facts
(``gst_invoice``). Registrations belong to core branches.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from udyog_sdk.fields import SideTable
from udyog_sdk.models import Base, Money, TenantMixin, UTCDateTime, VersionedMixin, tenant_fk

from .identifiers import normalise, pan_of, state_of


class Registration(VersionedMixin, TenantMixin, Base):
    """A branch's GST registration: its GSTIN (one registration per state; branches in a state share it)."""

    __tablename__ = "gst_registration"
    __table_args__ = (
        tenant_fk("branch_id", "core_branch"),
        UniqueConstraint("tenant_id", "branch_id"),
        Index("ix_gst_registration_state", "tenant_id", "state_code"),
    )

    branch_id: Mapped[uuid.UUID]
    gstin: Mapped[str] = mapped_column(String(15))
    pan: Mapped[str] = mapped_column(String(10))
    state_code: Mapped[str] = mapped_column(String(2))
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    trade_name: Mapped[str] = mapped_column(String(200), default="")


class Party(SideTable, Base):
    """A customer's GST facts (side row of ``crm_customer``): GSTIN (registered) or none, PAN, SEZ, export."""

    __tablename__ = "gst_party"
    __udyog_extends__ = "crm_customer"

    gstin: Mapped[str | None] = mapped_column(String(15), default=None, nullable=True)
    pan: Mapped[str | None] = mapped_column(String(10), default=None, nullable=True)
    #: Derived from the GSTIN (None for an unregistered party).
    state_code: Mapped[str | None] = mapped_column(String(2), default=None, nullable=True)
    sez: Mapped[bool] = mapped_column(Boolean, default=False)
    export: Mapped[bool] = mapped_column(Boolean, default=False)

    @validates("gstin")
    def _derive(self, key: str, value: str | None) -> str | None:
        """Store the GSTIN normalised and derive the state (and the PAN when none is given)."""
        del key
        value = normalise(value) if value else None
        self.state_code = state_of(value) if value else None
        if value and not self.pan:
            self.pan = pan_of(value)
        return value

    @validates("pan")
    def _pan(self, key: str, value: str | None) -> str | None:
        del key
        if not value and self.gstin:
            return pan_of(self.gstin)  # a registered party's PAN is its GSTIN's
        return normalise(value) if value else None


class ProductTax(SideTable, Base):
    """A product's HSN/SAC code and, optionally, its own GST rate from a date (side row of ``inventory_product``).

    Without ``rate`` the rate comes from the tenant's dated HSN rates
    (``gst_hsn_rate``) by the longest matching HSN prefix; with it, that rate
    applies from ``rate_from`` (before it, the HSN rates still do).
    """

    __tablename__ = "gst_product"
    __udyog_extends__ = "inventory_product"

    hsn_code: Mapped[str | None] = mapped_column(String(8), default=None, nullable=True)
    rate: Mapped[decimal.Decimal | None] = mapped_column(Money(5, 2), default=None, nullable=True)
    rate_from: Mapped[dt.date | None] = mapped_column(Date, default=None, nullable=True)


class HsnRate(VersionedMixin, TenantMixin, Base):
    """A GST rate for an HSN code (or prefix) from a date: the tenant's dated rate table (seeded with shipped data)."""

    __tablename__ = "gst_hsn_rate"
    __table_args__ = (
        UniqueConstraint("tenant_id", "hsn_code", "valid_from"),
        Index("ix_gst_hsn_rate_code", "tenant_id", "hsn_code", "valid_from"),
    )

    hsn_code: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(200), default="")
    valid_from: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[decimal.Decimal] = mapped_column(Money(5, 2))


class InvoiceTax(SideTable, Base):
    """An issued invoice's GST facts, fixed when it is issued (side row of ``sales_invoice``).

    ``lines``: per invoice line ``line_no``, ``hsn``, ``rate``, ``taxable``,
    ``igst``, ``cgst``, ``sgst``, ``utgst`` (strings of decimals).
    """

    __tablename__ = "gst_invoice"
    __udyog_extends__ = "sales_invoice"

    supplier_gstin: Mapped[str | None] = mapped_column(String(15), default=None, nullable=True)
    buyer_gstin: Mapped[str | None] = mapped_column(String(15), default=None, nullable=True)
    place_of_supply: Mapped[str] = mapped_column(String(2))
    inter_state: Mapped[bool] = mapped_column(Boolean, default=False)
    sez: Mapped[bool] = mapped_column(Boolean, default=False)
    export: Mapped[bool] = mapped_column(Boolean, default=False)
    eway_bill_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    einvoice_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Return(TenantMixin, Base):
    """A generated GSTR-1 for a month: the portal's JSON, written by the background job."""

    __tablename__ = "gst_return"
    __table_args__ = (
        Index("ix_gst_return_period", "tenant_id", "period"),
        UniqueConstraint("tenant_id", "run_id"),
    )

    period: Mapped[str] = mapped_column(String(6))
    run_id: Mapped[uuid.UUID | None] = mapped_column(default=None, nullable=True)
    gstin: Mapped[str] = mapped_column(String(15))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    total_value: Mapped[decimal.Decimal] = mapped_column(Money(18, 2))
