"""sales items

Revision ID: 2603ca068501
Revises:
Create Date: 2026-11-23 18:35:40
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models

revision: str = "2603ca068501"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sales",)
# The core's first revision, which creates core_tenant.
depends_on: str | Sequence[str] | None = "db64f1ae32d8"


def upgrade() -> None:
    """Create the items table (tenant-scoped: tenant_id leads every key and index)."""
    op.create_table(
        "sales_item",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sdk_models.Money(precision=18, scale=2), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_sales_item_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "id",
            name=op.f("pk_sales_item"),
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "code",
            name=op.f("uq_sales_item_tenant_id_code"),
        ),
    )
    op.create_index(
        "ix_sales_item_name",
        "sales_item",
        ["tenant_id", "name", "id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the items table and its index."""
    op.drop_index(
        "ix_sales_item_name",
        table_name="sales_item",
    )
    op.drop_table("sales_item")
