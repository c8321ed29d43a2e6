"""tenant settings revision; settings keyed by plugin

Revision ID: 1b78179fea44
Revises: a77c0e5d1f20
Create Date: 2026-11-23 11:32:35.529037

``core_tenant.settings`` becomes ``{plugin: {"version": n, "values": {...}}}``
(see ``udyog.plugin_settings``). The only keys stored before were the tenant's
``language`` and ``locale`` (read by notifications): they move to the core's
own settings as ``core.language``. Other top-level keys had no reader and are
dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import udyog_sdk.models as sdk_models  # noqa: F401 - column types (Money, UTCDateTime)

revision: str = '1b78179fea44'
down_revision: str | Sequence[str] | None = 'a77c0e5d1f20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TENANT = sa.table("core_tenant", sa.column("id", sa.Uuid()), sa.column("settings", sa.JSON()))


def _language(old: dict[str, Any]) -> str | None:
    for key in ("language", "locale"):
        value = old.get(key)
        if isinstance(value, str):
            tag = value.strip().replace("_", "-")
            base, _, region = tag.partition("-")
            tag = f"{base.lower()}-{region}" if region else base.lower()
            if _LANGUAGE.match(tag):
                return tag
    return None


def _is_new_layout(old: dict[str, Any]) -> bool:
    return all(isinstance(v, dict) and set(v) == {"version", "values"} for v in old.values())


def upgrade() -> None:
    with op.batch_alter_table('core_tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_rev', sa.Integer(), server_default='0', nullable=False))
    bind = op.get_bind()
    for tenant_id, raw in bind.execute(sa.select(_TENANT.c.id, _TENANT.c.settings)).all():
        old = json.loads(raw) if isinstance(raw, str) else (raw or {})
        if not old or _is_new_layout(old):
            continue
        language = _language(old)
        new = {"core": {"version": 1, "values": {"language": language}}} if language else {}
        bind.execute(sa.update(_TENANT).where(_TENANT.c.id == tenant_id).values(settings=new))


def downgrade() -> None:
    bind = op.get_bind()
    for tenant_id, raw in bind.execute(sa.select(_TENANT.c.id, _TENANT.c.settings)).all():
        new = json.loads(raw) if isinstance(raw, str) else (raw or {})
        language = ((new.get("core") or {}).get("values") or {}).get("language")
        bind.execute(
            sa.update(_TENANT).where(_TENANT.c.id == tenant_id).values(settings={"language": language} if language else {})
        )
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch would recreate core_tenant,
    # and with foreign keys on, dropping it would cascade into every tenant's rows.
    op.execute('ALTER TABLE core_tenant DROP COLUMN settings_rev')
