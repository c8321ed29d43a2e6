"""job run result

Revision ID: aaeae416ac64
Revises: 1b78179fea44
Create Date: 2026-11-23 12:05:00.000000

``core_job_run.result``: what a task returned (plain JSON), or the result a
refused run carries (``udyog_sdk.JobFailed``), e.g. an import's row errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models  # noqa: F401 - column types (Money, UTCDateTime)

revision: str = 'aaeae416ac64'
down_revision: str | Sequence[str] | None = '1b78179fea44'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no batch: SQLite would recreate the table).
    op.add_column('core_job_run', sa.Column('result', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), no table rebuild.
    op.execute('ALTER TABLE core_job_run DROP COLUMN result')
