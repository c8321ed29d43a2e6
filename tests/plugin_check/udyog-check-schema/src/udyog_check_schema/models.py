"""Tables, wrong in several ways."""

from __future__ import annotations

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, TenantMixin


class Gadget(TenantMixin, Base):
    """No plugin prefix; its index and unique constraint do not lead with tenant_id."""

    __tablename__ = "gadget"
    __table_args__ = (UniqueConstraint("label"), Index("ix_gadget_label", "label"))

    label: Mapped[str] = mapped_column(String(40))


class Part(TenantMixin, Base):
    """Has a column its migration does not create."""

    __tablename__ = "checkschema_part"

    code: Mapped[str] = mapped_column(String(20))
    colour: Mapped[str] = mapped_column(String(20))
