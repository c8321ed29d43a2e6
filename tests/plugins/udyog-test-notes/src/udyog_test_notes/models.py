"""Tables of the notes plugin."""

from __future__ import annotations

import uuid

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from udyog_sdk.models import Base, TenantMixin, VersionedMixin, tenant_fk


class Notebook(VersionedMixin, TenantMixin, Base):
    __tablename__ = "notes_notebook"
    __table_args__ = (UniqueConstraint("tenant_id", "title"),)

    title: Mapped[str] = mapped_column(String(120))
    notes: Mapped[list[Note]] = relationship(back_populates="notebook", order_by="Note.title")


class Note(VersionedMixin, TenantMixin, Base):
    __tablename__ = "notes_note"
    __table_args__ = (
        tenant_fk("notebook_id", "notes_notebook"),
        tenant_fk("branch_id", "core_branch"),
    )

    notebook_id: Mapped[uuid.UUID]
    branch_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[int] = mapped_column(Integer, default=0)
    notebook: Mapped[Notebook] = relationship(back_populates="notes")
