"""custom fields

Revision ID: b4b682f7c3cb
Revises: aaeae416ac64
Create Date: 2026-11-23 11:55:28.760887

Per-tenant custom-field definitions (``core_custom_field``), their values with
a typed column per kind of value (``core_custom_value``), and the tenant's
custom-field revision (``core_tenant.fields_rev``) that composed schemas are
cached by (see ``udyog.custom_fields``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models  # noqa: F401 - column types (Money, UTCDateTime)

revision: str = "b4b682f7c3cb"
down_revision: str | Sequence[str] | None = "aaeae416ac64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_custom_field",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("help", sa.String(length=500), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("default", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=True),
        sa.Column("places", sa.Integer(), nullable=True),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("show_in_list", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_core_custom_field_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_core_custom_field")),
        sa.UniqueConstraint("tenant_id", "resource", "name", name=op.f("uq_core_custom_field_tenant_id_resource_name")),
    )
    op.create_table(
        "core_custom_value",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("field_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("value_text", sa.String(length=500), nullable=True),
        sa.Column("value_int", sa.BigInteger(), nullable=True),
        sa.Column("value_decimal", sa.BigInteger(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_bool", sa.Boolean(), nullable=True),
        sa.Column("value_ref", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "field_id"],
            ["core_custom_field.tenant_id", "core_custom_field.id"],
            name=op.f("fk_core_custom_value_tenant_id_field_id_core_custom_field"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core_tenant.id"],
            name=op.f("fk_core_custom_value_tenant_id_core_tenant"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_core_custom_value")),
        sa.UniqueConstraint(
            "tenant_id", "field_id", "record_id", name=op.f("uq_core_custom_value_tenant_id_field_id_record_id")
        ),
    )
    with op.batch_alter_table("core_custom_value", schema=None) as batch_op:
        batch_op.create_index("ix_core_custom_value_date", ["tenant_id", "field_id", "value_date"], unique=False)
        batch_op.create_index("ix_core_custom_value_decimal", ["tenant_id", "field_id", "value_decimal"], unique=False)
        batch_op.create_index("ix_core_custom_value_int", ["tenant_id", "field_id", "value_int"], unique=False)
        batch_op.create_index("ix_core_custom_value_record", ["tenant_id", "record_id"], unique=False)
        batch_op.create_index("ix_core_custom_value_ref", ["tenant_id", "value_ref"], unique=False)
        batch_op.create_index("ix_core_custom_value_text", ["tenant_id", "field_id", "value_text"], unique=False)

    with op.batch_alter_table("core_tenant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields_rev", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch would recreate core_tenant,
    # and with foreign keys on, dropping it would cascade into every tenant's rows.
    op.execute("ALTER TABLE core_tenant DROP COLUMN fields_rev")

    with op.batch_alter_table("core_custom_value", schema=None) as batch_op:
        batch_op.drop_index("ix_core_custom_value_text")
        batch_op.drop_index("ix_core_custom_value_ref")
        batch_op.drop_index("ix_core_custom_value_record")
        batch_op.drop_index("ix_core_custom_value_int")
        batch_op.drop_index("ix_core_custom_value_decimal")
        batch_op.drop_index("ix_core_custom_value_date")

    op.drop_table("core_custom_value")
    op.drop_table("core_custom_field")
