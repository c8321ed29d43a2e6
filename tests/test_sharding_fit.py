"""The schema fits a tenant-sharded PostgreSQL (Citus, distribution column ``tenant_id``): docs/deployment.md.

Checked against the catalog of a database migrated with every bundled plugin:
every tenant table's primary key and unique indexes lead with ``tenant_id``,
and every foreign key between tenant tables includes it (co-located); the
tables without ``tenant_id`` are the few the documentation names as reference
tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))
#: docs/deployment.md, "A tenant-sharded PostgreSQL": reference (or coordinator-local) tables.
WITHOUT_TENANT = {
    "alembic_version",
    "core_auth_session",
    "core_login_failure",
    "core_schema_state",
    "core_tenant",
    "core_user",
}

TENANT_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
"""


@pytest.mark.postgres
def test_every_tenant_table_can_be_distributed_by_tenant_id(kernel_factory):
    kernel = kernel_factory(BUNDLED, backend="postgresql")
    engine = create_engine(kernel.settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tenant = {name for _, name in conn.exec_driver_sql(TENANT_TABLES)}
            every = set(
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                ).scalars()
            )
            leading = conn.exec_driver_sql(
                "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid), "
                "(SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = x.indkey[0]) "
                f"FROM pg_index x JOIN ({TENANT_TABLES}) c(oid, relname) ON c.oid = x.indrelid "
                "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indisunique OR x.indisprimary"
            ).all()
            keys = conn.exec_driver_sql(
                "SELECT c.relname, k.conname, r.relname, "
                "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' "
                "AND a.attnum = ANY (k.conkey)) "
                f"FROM pg_constraint k JOIN ({TENANT_TABLES}) c(oid, relname) ON c.oid = k.conrelid "
                "JOIN pg_class r ON r.oid = k.confrelid WHERE k.contype = 'f'"
            ).all()
    finally:
        engine.dispose()
    assert len(tenant) > 50  # every bundled plugin's tables are there
    assert every - tenant == WITHOUT_TENANT
    primary = {table for table, *_ in leading}
    assert primary == tenant  # every tenant table has a primary key
    not_leading = [(table, definition) for table, _, definition, first in leading if first != "tenant_id"]
    assert not_leading == [], "unique keys must lead with tenant_id (Citus requires the distribution column)"
    not_colocated = [
        (table, name, target) for table, name, target, has_tenant in keys if target in tenant and not has_tenant
    ]
    assert not_colocated == [], "foreign keys between tenant tables must include tenant_id"
    to_reference = {target for table, name, target, has_tenant in keys if target not in tenant}
    assert to_reference <= {"core_tenant", "core_user"}  # reference tables in Citus
