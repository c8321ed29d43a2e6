"""ORM records written now, by plain Core statements: the kernel's side of ``udyog_sdk.write_records``.

The unit of work costs several times the statements it emits: for a
document of an order and five lines it sorts dependencies, collects
parameters object by object, and runs the flush events. On a hot path
(confirming an order) that overhead is most of the time spent. This module
writes a given list of records the way a flush would, for the common case,
at a fraction of the cost:

- a **new** record (transient, or pending in the session) is inserted: its
  Python-side column defaults are applied and set on the object, its
  ``tenant_id`` is the session's (another tenant's is refused), rows of one
  table and column set go in one statement; the record then joins the
  session as persistent, as if it had been loaded, without a second write;
- a **loaded** record with changed column attributes is updated: only the
  changed columns, matched by ``tenant_id`` and ``id``; a versioned record
  (``VersionedMixin``) is matched on the version it was read at and bumped,
  so a concurrent change raises ``StaleDataError`` as a flush would; rows of
  one table and column set that are not versioned go in one statement; the
  object is then clean.

Audited models get the same audit entries the flush events write (an
insert's values, an update's before and after), in the same transaction.
Row-level security applies as to any statement.

What this does not do, the ORM still does at the next flush: a record with
a change it cannot write this way (a relationship collection changed, a
column whose old value was never loaded, a default computed by SQL) is
left to the unit of work, which writes it correctly. Pending changes of
*other* objects are flushed first, so the statements here may refer to
them; a pending object that refers to a *new* record given here must wait
for it (pass both, parent first, or add the child after the call). A new
record's foreign key to a parent set by relationship (``line.order =
order``) is copied from the parent, as a flush does; give parents first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import MANYTOONE, Mapper, Session, make_transient_to_detached
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm.exc import StaleDataError, UnmappedColumnError
from sqlalchemy.sql import ClauseElement

from udyog.audit import _fields, _write, insert_entry, is_audited, update_entry
from udyog.bulk import KEY, insert_statement, keyed_table, update_statement
from udyog.db import TenantBoundaryError, python_default, write_many


class _Plan:
    """What one mapper's table needs: its columns by attribute key, the version column, whether audited."""

    __slots__ = ("audited", "columns", "defaults", "fields", "mapper", "parents", "table", "version")

    def __init__(self, mapper: Mapper[Any]) -> None:
        cls = mapper.class_
        table = keyed_table(cls)
        if mapper.inherits is not None or mapper.polymorphic_on is not None:
            raise TypeError(f"{cls.__name__}: inherited mappings are written by the ORM")
        self.mapper = mapper
        self.table = table
        self.columns: dict[str, str] = {}  # attribute key → column name
        #: attribute key → its Python default as a function, or None (computed by the database)
        self.defaults: dict[str, Callable[[], Any] | None] = {}
        for prop in mapper.column_attrs:
            if len(prop.columns) != 1 or prop.columns[0].table is not table:
                continue
            column = prop.columns[0]
            self.columns[prop.key] = column.name
            if column.default is not None:
                self.defaults[prop.key] = python_default(column.default)
            elif column.server_default is not None:
                self.defaults[prop.key] = None
        by_column = {column: key for key, column in self.columns.items()}
        #: Many-to-one relationships: (key, [(foreign key attribute, the parent's attribute it copies)]).
        self.parents: list[tuple[str, list[tuple[str, str]]]] = []
        for rel in mapper.relationships:
            if rel.direction is not MANYTOONE:
                continue
            try:
                pairs = [
                    (by_column[local.name], rel.mapper.get_property_by_column(remote).key)
                    for local, remote in rel.local_remote_pairs
                    if local.table is table and local.name in by_column
                ]
            except UnmappedColumnError:  # a parent keyed by a column it does not map: give the key explicitly
                continue
            self.parents.append((rel.key, pairs))
        version = mapper.version_id_col
        self.version = next((k for k, c in self.columns.items() if version is not None and c == version.name), None)
        self.audited = is_audited(cls)
        self.fields = _fields(mapper) if self.audited else []


@lru_cache(maxsize=256)
def _plan(mapper: Mapper[Any]) -> _Plan:
    return _Plan(mapper)


def _new_row(state: Any, plan: _Plan, tenant_id: Any) -> dict[str, Any] | None:
    """The attribute values an insert of ``state`` writes (defaults applied), or None to leave it to the ORM."""
    values = state.dict
    for rel_key, pairs in plan.parents:  # the foreign keys of a parent set by relationship, as a flush syncs them
        parent = values.get(rel_key)
        if parent is not None:
            held = orm_attributes.instance_state(parent).dict
            for local, remote in pairs:
                if values.get(local) is None and held.get(remote) is not None:
                    values[local] = held[remote]
    row: dict[str, Any] = {}
    for key in plan.columns:
        if key in values and values[key] is not None:
            value = values[key]
            if isinstance(value, ClauseElement):
                return None
            row[key] = value
            continue
        if key == "tenant_id":
            row[key] = tenant_id
            continue
        if key in plan.defaults:
            make = plan.defaults[key]
            if make is None:
                return None  # computed by the database: the ORM fetches it back
            row[key] = make()
        elif key in values:
            row[key] = None
    if row["tenant_id"] != tenant_id:
        raise TenantBoundaryError(f"new {plan.mapper.class_.__name__} for another tenant")
    if plan.version is not None and row.get(plan.version) is None:
        row[plan.version] = 1
    return row


def _changed(state: Any, plan: _Plan) -> dict[str, tuple[Any, Any]] | None:
    """Changed column attributes of a loaded record, key → (before, after); None to leave it to the ORM."""
    committed = state.committed_state
    if state.__dict__.get("_pending_mutations"):  # appends to a collection not loaded: the ORM's to write
        return None
    values = state.dict
    changes: dict[str, tuple[Any, Any]] = {}
    for key, before in committed.items():
        if key not in plan.columns:
            return None  # a relationship changed: the unit of work syncs it
        if before is orm_attributes.NO_VALUE or before is orm_attributes.NEVER_SET or key not in values:
            return None  # its old value was never loaded
        after = values[key]
        if key in KEY or key == plan.version:
            if after != before:
                raise TenantBoundaryError(f"{key} of a {plan.mapper.class_.__name__} cannot change")
            continue
        if isinstance(after, ClauseElement):
            return None
        if after != before:
            changes[key] = (before, after)
    return changes


def write_records(session: Session, records: Iterable[Any]) -> None:
    """Insert the new and update the changed ``records`` now, as described in the module docstring.

    ``records`` are ORM instances of tenant models keyed by ``(tenant_id, id)``;
    new ones are inserted in the order given, one statement per run of rows
    of one table and column set (give parents before their children).
    """
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise TenantBoundaryError("records written in a session bound to no tenant")
    new: list[tuple[Any, _Plan, dict[str, Any]]] = []
    changed: list[tuple[Any, _Plan, dict[str, tuple[Any, Any]]]] = []
    seen: set[int] = set()
    for obj in records:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        state = orm_attributes.instance_state(obj)
        plan = _plan(state.mapper)
        if state.key is None:
            if state.session_id is not None and state.session_id != session.hash_key:
                raise ValueError(f"{type(obj).__name__} is pending in another session")
            row = _new_row(state, plan, tenant_id)
            if row is not None:
                # Still transient: the values become its loaded state (make_transient_to_detached, below),
                # and children given after it find its key.
                state.dict.update(row)
                new.append((obj, plan, row))
            else:
                session.add(obj)  # left to the unit of work
        elif state.session_id == session.hash_key and not state.deleted:
            if state.key[1][0] != tenant_id:
                raise TenantBoundaryError(f"{type(obj).__name__} of another tenant in this session")
            changes = _changed(state, plan)
            if changes is not None and state.modified:  # else left to the unit of work, or clean already
                changed.append((obj, plan, changes))
        else:
            raise ValueError(f"{type(obj).__name__} is not held by this session (detached or deleted)")
    # The updated records are clean from here on, the new ones not yet in the session: the flush of
    # everything else (which the statements below may refer to) leaves them alone.
    held = session.identity_map
    for obj, _, _ in changed:
        state = orm_attributes.instance_state(obj)
        state._commit_all(state.dict, held)
    for obj, _, _ in new:
        if orm_attributes.instance_state(obj).session_id is not None:  # pending (or expunged with its parent)
            session.expunge(obj)
    if session.new or session.dirty or session.deleted:
        session.flush()
    connection = session.connection()
    audit: list[dict[str, Any]] = []
    _insert(connection, new, audit)
    _update(connection, tenant_id, changed, audit)
    if audit:
        _write(session, audit)
    for obj, _, _ in new:
        make_transient_to_detached(obj)
    for obj, _, _ in new:
        session.add(obj)


def _insert(connection: Any, new: list[tuple[Any, _Plan, dict[str, Any]]], audit: list[dict[str, Any]]) -> None:
    run: list[dict[str, Any]] = []
    run_key: tuple[Any, ...] | None = None
    for _, plan, row in new:
        key = (plan.table, tuple(row))
        if key != run_key and run:
            write_many(connection, insert_statement(run_key[0]), run)  # type: ignore[index]
            run = []
        run_key = key
        run.append({plan.columns[k]: v for k, v in row.items()})
        if plan.audited:
            audit.append(insert_entry(row["tenant_id"], plan.table.name, row["id"], row, plan.fields))
    if run:
        write_many(connection, insert_statement(run_key[0]), run)  # type: ignore[index]


def _update(
    connection: Any,
    tenant_id: Any,
    changed: list[tuple[Any, _Plan, dict[str, tuple[Any, Any]]]],
    audit: list[dict[str, Any]],
) -> None:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for obj, plan, changes in changed:
        if not changes:
            continue
        names = tuple(plan.columns[k] for k in changes)
        params = {"udyog_t": tenant_id, "udyog_id": obj.id}
        params.update({f"udyog_v_{plan.columns[k]}": after for k, (_, after) in changes.items()})
        if plan.version is not None:
            current = orm_attributes.instance_state(obj).dict[plan.version]
            column = plan.columns[plan.version]
            params["udyog_version"] = current
            params["udyog_v_" + column] = current + 1
            statement = update_statement(plan.table, names, column)
            if write_many(connection, statement, [params]) != 1:
                raise StaleDataError(
                    f"UPDATE of {plan.table.name} expected to update 1 row at version {current}; 0 were matched"
                )
            orm_attributes.set_committed_value(obj, plan.version, current + 1)
        else:
            groups.setdefault((plan.table, names), []).append(params)
        if plan.audited:
            pairs = [(k, before, after) for k, (before, after) in changes.items() if k in plan.fields]
            entry = update_entry(tenant_id, plan.table.name, obj.id, pairs)
            if entry is not None:
                audit.append(entry)
    for (table, names), rows in groups.items():
        write_many(connection, update_statement(table, names), rows)
