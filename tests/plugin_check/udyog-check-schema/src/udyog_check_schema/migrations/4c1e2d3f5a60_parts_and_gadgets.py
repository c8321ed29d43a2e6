"""parts and gadgets

Revision ID: 4c1e2d3f5a60
Revises:
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c1e2d3f5a60"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("checkschema",)
depends_on: str | Sequence[str] | None = "db64f1ae32d8"


def upgrade() -> None:
    op.create_table(
        "gadget",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["core_tenant.id"], name=op.f("fk_gadget_tenant_id_core_tenant"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_gadget")),
        sa.UniqueConstraint("label", name=op.f("uq_gadget_label")),
    )
    op.create_index("ix_gadget_label", "gadget", ["label"], unique=False)
    op.create_table(
        "checkschema_part",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_checkschema_part_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_checkschema_part")),
    )


def downgrade() -> None:
    op.drop_table("checkschema_part")  # gadget is forgotten
