"""PostgreSQL row-level security: the second wall behind the ORM tenant filter.

Every table with a ``tenant_id`` column gets ``ENABLE`` and ``FORCE ROW LEVEL
SECURITY`` and a policy comparing ``tenant_id`` with the per-transaction
setting ``udyog.tenant_id``. The application role (``UDYOG_APP_DB_ROLE``)
owns nothing and is no superuser, so the policies bind it. System work that
spans tenants (the outbox scan) sets ``udyog.all_tenants`` for its
transaction only. The application role may insert into the audit log
(``core_audit``) but never update or delete it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from udyog.kernel import Kernel

POLICY = "udyog_tenant_isolation"
PREDICATE = (
    "(tenant_id = NULLIF(current_setting('udyog.tenant_id', true), '')::uuid "
    "OR current_setting('udyog.all_tenants', true) = 'on')"
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_role(engine: Engine, role: str) -> bool:
    """Create the application role if missing (safe against a concurrent creator)."""
    from sqlalchemy.exc import DBAPIError

    with engine.connect() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(r)s", {"r": role}).scalar():
            return False
        try:
            conn.exec_driver_sql(f"CREATE ROLE {_quote(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            conn.commit()
        except DBAPIError:
            conn.rollback()
            if conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(r)s", {"r": role}).scalar():
                return False
            raise
        return True


def apply_row_level_security(kernel: Kernel) -> list[str]:
    """Create the app role if needed, grant it DML, and (re)create the policies."""
    role = kernel.settings.app_db_role
    report: list[str] = []
    engine = kernel.db.owner_engine
    if role and ensure_role(engine, role):
        report.append(f"created database role {role}")
    with engine.begin() as conn:
        if role:
            schema = _quote(conn.exec_driver_sql("SELECT current_schema()").scalar() or "public")
            r = _quote(role)
            # The owner switches to the role with SET ROLE, so it must be a member.
            conn.exec_driver_sql(f"GRANT {r} TO CURRENT_USER")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {r}")
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {r}")
            conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {r}")
            conn.exec_driver_sql(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {r}")
            # The audit log is append-only for the application (udyog.audit).
            conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON core_audit FROM {r}")
        tables = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT c.table_name FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema "
                "WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' "
                "AND t.table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]
        for table in tables:
            q = _quote(table)
            conn.exec_driver_sql(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
            conn.exec_driver_sql(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY")
            conn.exec_driver_sql(f"DROP POLICY IF EXISTS {POLICY} ON {q}")
            conn.exec_driver_sql(f"CREATE POLICY {POLICY} ON {q} USING {PREDICATE} WITH CHECK {PREDICATE}")
        report.append(f"row-level security on {len(tables)} tenant tables")
    return report
