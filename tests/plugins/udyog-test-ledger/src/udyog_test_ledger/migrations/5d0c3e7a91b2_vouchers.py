"""vouchers

Revision ID: 5d0c3e7a91b2
Revises:
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models

revision: str = "5d0c3e7a91b2"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = "db64f1ae32d8"


def upgrade() -> None:
    op.create_table(
        "ledger_voucher",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=120), nullable=False),
        sa.Column("amount", sdk_models.Money(precision=18, scale=2), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["core_tenant.id"], name=op.f("fk_ledger_voucher_tenant_id_core_tenant"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_voucher")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_ledger_voucher_tenant_id_number")),
    )
    op.create_index("ix_ledger_voucher_issued_on", "ledger_voucher", ["tenant_id", "issued_on", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_voucher_issued_on", table_name="ledger_voucher")
    op.drop_table("ledger_voucher")
