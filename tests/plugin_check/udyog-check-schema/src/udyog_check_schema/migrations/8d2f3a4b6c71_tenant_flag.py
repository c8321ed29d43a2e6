"""a flag on the core's tenant table

Revision ID: 8d2f3a4b6c71
Revises: 4c1e2d3f5a60
Create Date: 2026-11-23 10:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2f3a4b6c71"
down_revision: str | Sequence[str] | None = "4c1e2d3f5a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_tenant") as batch_op:
        batch_op.add_column(sa.Column("checkschema_flag", sa.Boolean(), nullable=True))


def downgrade() -> None:
    pass  # the column is left behind
