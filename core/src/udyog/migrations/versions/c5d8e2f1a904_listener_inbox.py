"""listener inbox

Revision ID: c5d8e2f1a904
Revises: b4b682f7c3cb
Create Date: 2026-11-24 05:10:00

Events waiting for batched background listeners (``core_listener_inbox``):
one row per event and listener, delivered and deleted by ``core.deliver_batch``
runs (see docs/events.md, "Batched background listeners").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models

revision: str = "c5d8e2f1a904"
down_revision: str | Sequence[str] | None = "b4b682f7c3cb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_listener_inbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listener", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sdk_models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_core_listener_inbox_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "event_id"],
            ["core_outbox.tenant_id", "core_outbox.id"],
            name=op.f("fk_core_listener_inbox_tenant_id_event_id_core_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_core_listener_inbox")),
        sa.UniqueConstraint(
            "tenant_id", "listener", "event_id", name=op.f("uq_core_listener_inbox_tenant_id_listener_event_id")
        ),
    )
    op.create_index(
        "ix_core_listener_inbox_waiting", "core_listener_inbox", ["tenant_id", "listener", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_core_listener_inbox_waiting", table_name="core_listener_inbox")
    op.drop_table("core_listener_inbox")
