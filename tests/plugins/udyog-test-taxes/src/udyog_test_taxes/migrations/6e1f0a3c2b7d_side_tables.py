"""side tables

Revision ID: 6e1f0a3c2b7d
Revises:
Create Date: 2026-11-23 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models

revision: str = "6e1f0a3c2b7d"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("taxes",)
depends_on: str | Sequence[str] | None = ("db64f1ae32d8", "5d0c3e7a91b2", "3a1bea6df428")


def upgrade() -> None:
    op.create_table(
        "taxes_voucher_tax",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("hsn_code", sa.String(length=8), nullable=True),
        sa.Column("rate", sdk_models.Money(precision=5, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "record_id"],
            ["ledger_voucher.tenant_id", "ledger_voucher.id"],
            name=op.f("fk_taxes_voucher_tax_tenant_id_record_id_ledger_voucher"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_taxes_voucher_tax_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_taxes_voucher_tax")),
        sa.UniqueConstraint("tenant_id", "record_id", name=op.f("uq_taxes_voucher_tax_tenant_id_record_id")),
    )
    op.create_table(
        "taxes_note_review",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "record_id"],
            ["notes_note.tenant_id", "notes_note.id"],
            name=op.f("fk_taxes_note_review_tenant_id_record_id_notes_note"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_taxes_note_review_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_taxes_note_review")),
        sa.UniqueConstraint("tenant_id", "record_id", name=op.f("uq_taxes_note_review_tenant_id_record_id")),
    )


def downgrade() -> None:
    op.drop_table("taxes_note_review")
    op.drop_table("taxes_voucher_tax")
