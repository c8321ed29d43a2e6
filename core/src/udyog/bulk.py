"""Many rows of an unaudited tenant table in one Core statement: the kernel's side of ``udyog_sdk.insert_rows``.

The tenant session refuses Core statements against tenant tables (they
would slip past its tenant filter), and the ORM's bulk insert and its bulk
update by primary key cost several times what the statement itself does.
For the tables a plugin keeps as its own trail, append-heavy and not
audited (inventory's moves, balances and cost layers), these two functions
write plain Core statements on the session's connection, and do here what
the session's guards would do: every inserted row is stamped with the
session's tenant (a row naming another is refused), every update matches
``tenant_id`` and ``id``, and neither touches another tenant's rows.
Row-level security applies to them on PostgreSQL like to any statement.

Audited models are refused: their changes must go through the ORM, whose
flush events write the audit log, or through :mod:`udyog.records`, which
writes ORM records by plain statements and audits them as a flush would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, insert, inspect, update

from udyog.db import TenantBoundaryError, write_many
from udyog_sdk.models import is_tenant_model

KEY = ("tenant_id", "id")


def keyed_table(model: type) -> Table:
    """``model``'s table, which these statements (and :mod:`udyog.records`) may write: a tenant model keyed by
    (tenant_id, id); ``TypeError`` otherwise."""
    if not is_tenant_model(model):
        raise TypeError(f"{getattr(model, '__name__', model)!r} is not a tenant model")
    table = inspect(model).local_table
    if not isinstance(table, Table) or tuple(c.name for c in table.primary_key.columns) != KEY:
        raise TypeError(f"{model.__name__}: only tables keyed by (tenant_id, id) are written this way")
    return table


@lru_cache(maxsize=256)
def _table(model: type) -> Table:
    """``model``'s table, checked once per model: an unaudited tenant model keyed by (tenant_id, id)."""
    from udyog.audit import is_audited

    table = keyed_table(model)
    if is_audited(model):
        raise TypeError(
            f"{model.__name__} is audited: write it through the ORM (session.add, or session.execute(insert(...)))"
            " or udyog_sdk.write_records, so that the audit log records the change"
        )
    return table


def _checked(session: Any, model: type, rows: Sequence[Mapping[str, Any]], what: str) -> tuple[Table, Any, list[str]]:
    """(table, the session's tenant, the column names the rows give), after every check of :func:`_table`,
    that the session is bound to a tenant, that no row names another, and that every row gives the same
    columns, all of them the table's.
    """
    table = _table(model)
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise TenantBoundaryError(f"rows of {model.__name__} written in a session bound to no tenant")
    if any(row.get("tenant_id", tenant_id) != tenant_id for row in rows):
        raise TenantBoundaryError(f"{what} of {model.__name__} rows of another tenant")
    names = list(rows[0])
    wanted = set(names)
    if any(set(row) != wanted for row in rows):
        raise ValueError(f"{what} of {table.name}: every row must give the same columns")
    unknown = sorted(wanted - set(table.c.keys()))
    if unknown:
        raise ValueError(f"{what} of {table.name}: no column {', '.join(unknown)}")
    return table, tenant_id, names


def insert_rows(session: Any, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (column name → value, the same columns in each) of ``model`` in one statement.

    ``tenant_id`` is the session's (a row naming another tenant is refused);
    ``id`` and other columns with defaults may be left out. Pending ORM
    changes are flushed first, as the ORM's own statements do, so the rows
    may refer to records added to the session just before.
    """
    if not rows:
        return
    table, tenant_id, _ = _checked(session, model, rows, "insert")
    session.flush()
    write_many(session.connection(), insert_statement(table), [{**row, "tenant_id": tenant_id} for row in rows])


@lru_cache(maxsize=512)
def insert_statement(table: Table) -> Any:
    """``INSERT INTO table``, built once per table (run again, it skips building and keying its SQL)."""
    return insert(table)


@lru_cache(maxsize=512)
def update_statement(table: Table, names: tuple[str, ...], version: str | None = None) -> Any:
    """``UPDATE table SET name = :udyog_v_<name> ... WHERE tenant_id = :udyog_t AND id = :udyog_id``, built once.

    With ``version`` (a version column) the row is matched on ``:udyog_version`` too and
    the column set to ``:udyog_v_<version>``.
    """
    where = [table.c.tenant_id == bindparam("udyog_t"), table.c.id == bindparam("udyog_id")]
    values: dict[str, Any] = {name: bindparam(f"udyog_v_{name}") for name in names}
    if version is not None:
        where.append(table.c[version] == bindparam("udyog_version"))
        values[version] = bindparam(f"udyog_v_{version}")
    return update(table).where(*where).values(values)


def update_rows(session: Any, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows of ``model`` by ``id``: each row maps ``id`` and the columns to set (the same in each row).

    One statement for all (on PostgreSQL one round trip), limited to the
    session's tenant. ``tenant_id`` and ``id`` are never changed (a row
    naming another tenant is refused). Pending ORM changes are flushed
    first; an ORM object of an updated row in the session is expired, so
    its next access reads the new values.
    """
    if not rows:
        return
    table, tenant_id, given = _checked(session, model, rows, "update")
    names = [n for n in given if n not in KEY]
    if "id" not in rows[0]:
        raise ValueError(f"update of {table.name}: every row needs its id")
    if not names:
        raise ValueError(f"update of {table.name}: no column to set")
    session.flush()
    write_many(
        session.connection(),
        update_statement(table, tuple(names)),
        [{"udyog_t": tenant_id, "udyog_id": row["id"], **{f"udyog_v_{n}": row[n] for n in names}} for row in rows],
    )
    mapper = inspect(model)
    held = session.identity_map
    for row in rows:
        obj = held.get(mapper.identity_key_from_primary_key([tenant_id, row["id"]]))
        if obj is not None:
            session.expire(obj)
