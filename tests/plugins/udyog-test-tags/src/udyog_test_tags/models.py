"""Tables of the tags plugin."""

from __future__ import annotations

import uuid

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, TenantMixin, tenant_fk


class NoteTag(TenantMixin, Base):
    __tablename__ = "tags_note_tag"
    __table_args__ = (
        tenant_fk("note_id", "notes_note", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "note_id", "label"),
    )

    note_id: Mapped[uuid.UUID]
    label: Mapped[str] = mapped_column(String(40))
