"""The audit log, and the rows the ORM refuses to delete.

Every insert, update and delete of a tenant-scoped row is recorded in
``core_audit`` (:class:`udyog.models.AuditEntry`) in the same transaction:
who (the user of the bound scope, if any), when, which record (the table name
and the row's id), the action, and the values:

- ``insert``: ``{"after": {field: value}}`` with every loaded column;
- ``update``: ``{field: {"before": x, "after": y}}`` for the changed columns only;
- ``delete``: ``{"before": {field: value}}``.

Values are JSON-safe (UUIDs, decimals and timestamps become strings).
``tenant_id`` and ``id`` are left out of the values (the entry carries them),
and so is the optimistic-locking ``version``.

Both ways of writing through a :class:`~udyog.db.TenantSession` are covered:
the unit of work (``session.add``, attribute changes, ``session.delete``;
``after_flush``), and ORM bulk statements (``session.execute(update(Model)...)``,
``delete(Model)``, ``insert(Model)`` with rows; ``do_orm_execute``, which reads
the affected rows before and after the statement). Not covered: rows removed by
a database ``ON DELETE CASCADE`` and the legacy ``Session.bulk_*`` methods,
which bypass the ORM's events.

A model opts out with ``__udyog_audit__ = False`` (the audit table itself, the
outbox and number-series counters do); one bulk update opts out with
``execution_options(udyog_audit=False)`` (machine bookkeeping on an audited
model, such as a counter of repeats; inserts and deletes are always audited). The log is never edited: the ORM refuses
updates and deletes of :class:`~udyog.models.AuditEntry`, and on PostgreSQL the
application role has no ``UPDATE`` or ``DELETE`` on ``core_audit``
(:mod:`udyog.rls`).

A model whose rows are legal documents sets ``__udyog_deletable__ = False``:
deleting one through the ORM (unit of work or bulk ``delete``) raises
:class:`~udyog_sdk.UdyogError` with status 409 ("cancel or reverse it").
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import math
import uuid
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Result
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session
from sqlalchemy.sql import ClauseElement

from udyog.db import TenantSession, write_many
from udyog.models import AuditEntry
from udyog_sdk import UdyogError
from udyog_sdk.models import is_tenant_model, new_id, utcnow
from udyog_sdk.runtime import NoScopeError, current_scope

#: Class attribute: ``False`` keeps a tenant model out of the audit log.
AUDIT_ATTRIBUTE = "__udyog_audit__"
#: Execution option: ``update(Model)…execution_options(udyog_audit=False)`` keeps one bulk update out of the log.
STATEMENT_OPT_OUT = "udyog_audit"
#: Class attribute: ``False`` makes the ORM refuse to delete the model's rows.
DELETABLE_ATTRIBUTE = "__udyog_deletable__"

INSERT, UPDATE, DELETE = "insert", "update", "delete"
_SKIPPED_FIELDS = frozenset({"tenant_id", "id"})
_OLD_VALUES = "udyog_audit_old"
_CHUNK = 500  # ids per IN list when reading rows back after a bulk update


class AuditLogImmutableError(RuntimeError):
    """Code tried to change or delete audit entries (a bug, never a user error)."""


def is_audited(cls: type) -> bool:
    """Whether changes of ``cls``'s rows are recorded (tenant models unless opted out)."""
    return is_tenant_model(cls) and getattr(cls, AUDIT_ATTRIBUTE, True) is not False


def is_deletable(cls: type) -> bool:
    """Whether the ORM may delete ``cls``'s rows (``__udyog_deletable__ = False`` refuses)."""
    return getattr(cls, DELETABLE_ATTRIBUTE, True) is not False


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data: UUIDs, decimals, timestamps and bytes become strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, ClauseElement):
        return "(computed by the database)"
    return str(value)


def _actor() -> uuid.UUID | None:
    """The user the bound scope acts as, or None (system work, no scope)."""
    try:
        scope = current_scope()
    except NoScopeError:
        return None
    user = getattr(scope, "user", None)
    user_id = getattr(user, "user_id", None)
    return user_id if isinstance(user_id, uuid.UUID) else None


def _not_deletable(cls: type) -> UdyogError:
    noun = getattr(cls, "__tablename__", cls.__name__)
    return UdyogError(
        f"{noun} rows are legal documents and are never deleted: cancel or reverse them instead",
        status=409,
        errors={"_schema": ["not deletable: cancel or reverse it"]},
    )


def _fields(mapper: Mapper[Any]) -> list[str]:
    """The audited column attributes of ``mapper`` (computed once per mapper)."""
    found = _FIELDS.get(mapper)
    if found is None:
        version = mapper.version_id_col
        found = _FIELDS[mapper] = [
            attr.key
            for attr in mapper.column_attrs
            if attr.key not in _SKIPPED_FIELDS and not (version is not None and version in attr.columns)
        ]
    return found


_FIELDS: weakref.WeakKeyDictionary[Mapper[Any], list[str]] = weakref.WeakKeyDictionary()


def _write(session: Session, entries: list[dict[str, Any]]) -> None:
    """Insert entries on the flush's connection: same transaction, no second flush."""
    if not entries:
        return
    now = utcnow()
    user_id = _actor()
    for entry in entries:
        entry.update(id=new_id(), at=now, user_id=user_id)
    write_many(session.connection(), _INSERT, entries)


_INSERT = insert(AuditEntry.__table__)  # built once: run again, it skips building and keying its SQL


def _entry(tenant_id: Any, table: str, record_id: Any, action: str, changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "entity": table,
        "record_id": str(record_id),
        "action": action,
        "changes": changes,
    }


def insert_entry(
    tenant_id: Any, table: str, record_id: Any, values: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """The entry of an inserted row: the audited ``fields`` that ``values`` gives."""
    after = {k: json_safe(values[k]) for k in fields if k in values}
    return _entry(tenant_id, table, record_id, INSERT, {"after": after})


def update_entry(
    tenant_id: Any, table: str, record_id: Any, pairs: Iterable[tuple[str, Any, Any]]
) -> dict[str, Any] | None:
    """The entry of an updated row from ``(field, before, after)`` pairs, unchanged fields left out; None if none."""
    changes = {k: {"before": json_safe(a), "after": json_safe(b)} for k, a, b in pairs if a != b}
    return _entry(tenant_id, table, record_id, UPDATE, changes) if changes else None


def record(
    session: Session, tenant_id: uuid.UUID, entity: str, record_id: Any, action: str, changes: dict[str, Any]
) -> None:
    """Log a change the ORM events cannot see (values kept outside a tenant table), in this transaction.

    ``entity`` names what changed (``core_settings``), ``action`` is
    ``insert``, ``update`` or ``delete`` and ``changes`` follows the log's
    format; values are made JSON-safe. The user is the bound scope's.
    """
    if action not in (INSERT, UPDATE, DELETE):
        raise ValueError(f"unknown audit action {action!r}")
    _write(session, [_entry(tenant_id, entity, record_id, action, json_safe(changes))])


# -- the unit of work ---------------------------------------------------------------


def _fetch(session: Session, state: InstanceState[Any], keys: list[str]) -> dict[str, Any]:
    cls = state.class_
    tenant_id, record_id = state.identity or (None, None)
    stmt = select(*(getattr(cls, k) for k in keys)).where(cls.tenant_id == tenant_id, cls.id == record_id)
    with session.no_autoflush:
        row = session.execute(stmt).one_or_none()
    return dict(zip(keys, row, strict=True)) if row is not None else {}


@event.listens_for(TenantSession, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Refuse edits of the log and deletes of legal documents; read old values the flush cannot tell."""
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditLogImmutableError("audit entries are never deleted")
        if not is_deletable(type(obj)):
            raise _not_deletable(type(obj))
    old: dict[InstanceState[Any], dict[str, Any]] = {}
    for obj in session.dirty:
        if isinstance(obj, AuditEntry):
            if session.is_modified(obj):
                raise AuditLogImmutableError("audit entries are never edited")
            continue
        if not is_audited(type(obj)):
            continue
        state = inspect(obj)
        # A column set without its old value loaded (expired or deferred): read it now.
        changed = state.committed_state  # the attributes set since load: no other one has history
        unknown = [
            key
            for key in _fields(state.mapper)
            if key in changed and (h := state.attrs[key].history).added and not h.deleted and not h.unchanged
        ]
        if unknown and state.key is not None:
            old[state] = _fetch(session, state, unknown)
    for obj in session.deleted:
        if not is_audited(type(obj)):
            continue
        state = inspect(obj)
        unloaded = [key for key in _fields(state.mapper) if key in state.unloaded]
        if unloaded and state.key is not None:
            old[state] = _fetch(session, state, unloaded)
    if old:
        session.info[_OLD_VALUES] = old


@event.listens_for(TenantSession, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    """Record what the flush wrote (attribute history is still there until the flush ends)."""
    old: dict[InstanceState[Any], dict[str, Any]] = session.info.pop(_OLD_VALUES, {})
    new = session.new
    entries: list[dict[str, Any]] = []
    for state, (isdelete, listonly) in list(flush_context.states.items()):
        if listonly or not is_audited(state.class_):
            continue
        obj = state.obj()
        if obj is None:
            continue
        fields = _fields(state.mapper)
        values = state.dict
        tenant_id, record_id = state.identity or (values.get("tenant_id"), values.get("id"))
        table = state.mapper.local_table.name
        if isdelete:
            known = old.get(state, {})
            before = {k: json_safe(values[k] if k in values else known.get(k)) for k in fields}
            entries.append(_entry(tenant_id, table, record_id, DELETE, {"before": before}))
        elif obj in new:
            entries.append(insert_entry(values.get("tenant_id"), table, values.get("id"), values, fields))
        else:
            changes = _changes(state, fields, old.get(state, {}))
            if changes:
                entries.append(_entry(tenant_id, table, record_id, UPDATE, changes))
    _write(session, entries)


def _changes(state: InstanceState[Any], fields: list[str], known: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    changed = state.committed_state  # the attributes set since load: no other one has history
    for key in fields:
        if key not in changed:
            continue
        history = state.attrs[key].history
        if not history.added and not history.deleted:
            continue
        before = history.deleted[0] if history.deleted else known.get(key)
        after = history.added[0] if history.added else None
        if before == after and not isinstance(after, ClauseElement):
            continue
        changes[key] = {"before": json_safe(before), "after": json_safe(after)}
    return changes


# -- ORM bulk statements -----------------------------------------------------------------


@event.listens_for(TenantSession, "do_orm_execute")
def _bulk_statements(state: ORMExecuteState) -> Result[Any] | None:
    """Guard the log and legal documents against bulk statements, and audit bulk writes.

    Runs after the tenant filter (registered later), so the statements it
    issues itself are scoped like any other.
    """
    if not (state.is_update or state.is_delete or state.is_insert):
        return None
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    if (state.is_update or state.is_delete) and getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AuditLogImmutableError("audit entries are never edited or deleted")
    if not state.is_orm_statement or state.execution_options.get("udyog_raw"):
        return None
    mapper = state.bind_mapper
    if mapper is None:
        return None
    cls = mapper.class_
    if state.is_delete and not is_deletable(cls):
        raise _not_deletable(cls)
    if not is_audited(cls) or (state.is_update and state.execution_options.get(STATEMENT_OPT_OUT) is False):
        return None
    if state.is_insert:
        return _bulk_insert(state, mapper)
    return _bulk_change(state, mapper)


def _param_rows(state: ORMExecuteState) -> list[dict[str, Any]]:
    params = state.parameters
    if isinstance(params, Mapping):
        return [dict(params)] if params else []
    return [dict(p) for p in params or ()]


def _bulk_insert(state: ORMExecuteState, mapper: Mapper[Any]) -> Result[Any] | None:
    rows = _param_rows(state)
    if not rows:
        return None  # insert(...).values(): refused for tenant tables by the tenant guard
    if any("id" not in row or row["id"] is None for row in rows):
        rows = [{**row, "id": row.get("id") or new_id()} for row in rows]
        params = state.parameters
        state.parameters = rows[0] if isinstance(params, Mapping) else rows  # type: ignore[misc]
    result = state.invoke_statement()
    fields = _fields(mapper)
    table = mapper.local_table.name
    tenant_id = state.session.info.get("tenant_id")
    entries = [insert_entry(row.get("tenant_id", tenant_id), table, row["id"], row, fields) for row in rows]
    _write(state.session, entries)
    return result


def _bulk_change(state: ORMExecuteState, mapper: Mapper[Any]) -> Result[Any]:
    cls = mapper.class_
    statement: Any = state.statement
    fields = _fields(mapper)
    columns = [cls.tenant_id, cls.id, *(getattr(cls, k) for k in fields)]
    rows = _param_rows(state)
    if rows and state.is_update:  # bulk update by primary key: session.execute(update(M), [{...}])
        where = cls.id.in_([row["id"] for row in rows if row.get("id") is not None])
    else:
        where = statement.whereclause
    probe = select(*columns)
    if where is not None:
        probe = probe.where(where)
    session = state.session
    with session.no_autoflush:
        before = {row[1]: row for row in session.execute(probe.with_for_update())}
    result = state.invoke_statement()
    if not before:
        return result
    table = mapper.local_table.name
    if state.is_delete:
        entries = [
            _entry(
                row[0],
                table,
                row[1],
                DELETE,
                {"before": {k: json_safe(v) for k, v in zip(fields, row[2:], strict=True)}},
            )
            for row in before.values()
        ]
    else:
        ids = list(before)
        after = {}
        with session.no_autoflush:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                after.update((row[1], row) for row in session.execute(select(*columns).where(cls.id.in_(chunk))))
        entries = []
        for record_id, old_row in before.items():
            new_row = after.get(record_id)
            if new_row is None:
                continue
            entry = update_entry(old_row[0], table, record_id, zip(fields, old_row[2:], new_row[2:], strict=True))
            if entry is not None:
                entries.append(entry)
    _write(session, entries)
    return result
