"""ORM records read by a prepared statement: the kernel's side of ``udyog_sdk.read_records``.

An ORM query costs several times its round trip in Python: the session's
execution events, the compile state, the loading context, the result
object. For a hot path that reads a handful of records by key (an order
``FOR UPDATE``, its lines, the customer's account) that overhead is most of
the time spent. :func:`read_records` runs a statement built once at module
level, ``select(Model).where(...)`` with bound parameters, the way a plain
statement runs, and builds the records itself:

- the statement gets the tenant criterion (``tenant_id`` equal to the
  session's) in SQL of its own, compiled once per statement; on PostgreSQL
  it is prepared once per pooled connection and run with ``EXECUTE``
  (:class:`udyog.db.PreparedStatement`), so the server neither parses nor
  plans it again;
- values pass through the column types' result processing, as any query's;
- a row whose record the session already holds gives that record (as the
  ORM does); with ``populate_existing`` (a read ``FOR UPDATE`` that must see
  the latest committed state) its columns are overwritten and its loaded
  relationships expired, as the ORM does; a new row becomes a persistent
  record held by the session, as if the ORM had loaded it;
- pending changes are flushed first when the session autoflushes.

The ORM answers instead, with the same result, whenever this could differ
from it: a record rule of the current user concerns the model (rules are
ORM loader criteria), the session reads across tenants or is bound to none,
the model is mapped with inheritance, eager relationships, deferred columns
or ``load`` event listeners. Rows whose SQL has an expanding parameter
(``in_(bindparam(..., expanding=True))``) are read by the compiled
statement without ``PREPARE``.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Tuple, any_, bindparam
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select, operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
from sqlalchemy.types import NullType

from udyog.db import PreparedStatement
from udyog_sdk.models import Base, is_tenant_model

#: The tenant parameter every planned statement gets (a name no plugin statement uses).
TENANT_PARAM = "udyog_read_tenant"

_EAGER_SAFE = frozenset({"select", "raise", "raise_on_sql", "noload", "write_only", "dynamic"})
_names = itertools.count(1)
_lock = threading.Lock()


def _preparable(statement: Select[Any], dialect: Any) -> Select[Any]:
    """``statement`` for ``PREPARE``: on PostgreSQL ``column IN (list)`` becomes ``column = ANY(array)``.

    An expanding parameter is rendered per call with as many placeholders as
    the list has items, so its SQL cannot be prepared; an array parameter is
    one placeholder (the driver sends the list as an array). A tuple ``IN``
    stays as it is, and the statement is then run unprepared.
    """
    if dialect.name != "postgresql":
        return statement

    def replace(element: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator is operators.in_op
            and isinstance(element.right, BindParameter)
            and element.right.expanding
            and not isinstance(element.left, Tuple)
        ):
            return element.left == any_(bindparam(element.right.key, type_=ARRAY(element.left.type)))
        return None

    return visitors.replacement_traverse(statement, {}, replace)  # type: ignore[no-any-return]


def _prepared(
    name: str, statement: Select[Any], tenant_column: Any, dialect: Any
) -> tuple[PreparedStatement, dict[str, Any]]:
    """``statement`` with the tenant criterion, prepared, and the values of its literals (``state != 'cancelled'``)."""
    scoped = _preparable(statement, dialect).where(tenant_column == bindparam(TENANT_PARAM))
    compiled = scoped.compile(dialect=dialect)
    binds = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}  # by the name in the SQL
    static = {
        name: bind.effective_value
        for name, bind in binds.items()
        if name != TENANT_PARAM and not bind.required and bind.callable is None
    }
    expanding = any(bind.expanding for bind in binds.values())
    typed = all(not isinstance(bind.type, NullType) for bind in binds.values())
    prepared = PreparedStatement(
        f"{name}_{next(_names)}", scoped, {n: bind.type for n, bind in binds.items()}, prepare=typed and not expanding
    )
    return prepared, static


class _Plan:
    """One statement's compiled form for one dialect: its prepared SQL, parameters and column keys."""

    __slots__ = ("keys", "mapper", "prepared", "primary_key", "relationships", "static")

    def __init__(self, statement: Select[Any], mapper: Mapper[Any], dialect: Any) -> None:
        self.mapper = mapper
        self.keys = [mapper.get_property_by_column(column).key for column in statement.selected_columns]
        self.primary_key = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
        self.relationships = [rel.key for rel in mapper.relationships]
        self.prepared, self.static = _prepared("udyog_read", statement, mapper.local_table.c.tenant_id, dialect)


#: Per statement object: what a reader made of it, by (reader, dialect name).
_PLANS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()


def _cached(statement: Any, reader: str, dialect: Any, make: Callable[[], Any]) -> Any:
    """``make()``'s plan of ``statement`` for ``reader`` and ``dialect``, made once."""
    key = (reader, dialect.name)
    forms = _PLANS.get(statement)
    if forms is not None:
        known = forms.get(key)
        if known is not None:
            return known
    plan = make()
    with _lock:
        _PLANS.setdefault(statement, {})[key] = plan
    return plan


def _entity(statement: Any) -> Mapper[Any]:
    """The mapper of ``select(Model)``; ``TypeError`` for any other statement."""
    if not isinstance(statement, Select):
        raise TypeError("read_records takes a select(Model) statement")
    described = statement.column_descriptions
    if (
        len(described) != 1
        or not isinstance(described[0]["entity"], type)
        or described[0]["expr"] is not (described[0]["entity"])
    ):
        raise TypeError("read_records takes a select(Model) statement of one tenant model")
    cls = described[0]["entity"]
    if not is_tenant_model(cls):
        raise TypeError(f"{cls.__name__} is not a tenant model")
    return sa_inspect(cls)


def _plannable(mapper: Mapper[Any], statement: Select[Any]) -> bool:
    """Whether reading ``statement`` without the ORM gives what the ORM would."""
    if mapper.inherits is not None or mapper.polymorphic_on is not None or mapper.with_polymorphic:
        return False
    if any(rel.lazy not in _EAGER_SAFE for rel in mapper.relationships):
        return False
    if any(prop.deferred for prop in mapper.column_attrs):
        return False
    if mapper.class_manager.dispatch.load or mapper.class_manager.dispatch.refresh:
        return False
    if len(statement.selected_columns) != len(mapper.column_attrs):
        return False
    return not statement.get_execution_options().keys() - {"populate_existing"}


def _plan(statement: Select[Any], dialect: Any) -> tuple[Mapper[Any], _Plan | None]:
    """(the model's mapper, the plan, or None when the ORM must read it)."""

    def make() -> tuple[Mapper[Any], _Plan | None]:
        mapper = _entity(statement)
        return mapper, _Plan(statement, mapper, dialect) if _plannable(mapper, statement) else None

    return _cached(statement, "records", dialect, make)  # type: ignore[no-any-return]


def _ruled(session: Session, cls: type) -> bool:
    """Whether a record rule of the session's user concerns ``cls``."""
    for option in session.info.get("udyog_record_criteria") or ():
        root = getattr(option, "root_entity", None)
        if root is None:
            entity = getattr(option, "entity", None)
            root = getattr(entity, "class_", None)
        if root is None or issubclass(cls, root):
            return True
    return False


def _rows(
    session: Session, connection: Any, model: type, plan: Any, params: Mapping[str, Any] | None
) -> list[tuple[Any, ...]] | None:
    """``plan``'s rows for ``params`` by its prepared statement; None when the ORM must read (see the module)."""
    info = session.info
    tenant_id = info.get("tenant_id")
    if plan is None or info.get("all_tenants") or tenant_id is None or _ruled(session, model):
        return None
    if session.autoflush:
        session.flush()
    values = {**plan.static, **(params or {}), TENANT_PARAM: tenant_id}
    return plan.prepared.rows(connection, values, processed=True)  # type: ignore[no-any-return]


def read_records(session: Session, statement: Select[Any], params: Mapping[str, Any] | None = None) -> list[Any]:
    """The records ``statement`` selects with ``params``: what ``session.scalars(statement, params).all()`` gives.

    ``statement`` is ``select(Model)`` of one tenant model (where, order by,
    limit, ``with_for_update()``, the option ``populate_existing``), built
    once and run often.
    """
    connection = session.connection()
    mapper, plan = _plan(statement, connection.dialect)
    rows = _rows(session, connection, mapper.class_, plan, params)
    if rows is None:
        return list(session.scalars(statement, params))
    if not rows:
        return []
    refresh = bool(statement.get_execution_options().get("populate_existing"))
    identity_map = session.identity_map
    keys = plan.keys
    primary_key = plan.primary_key
    cls = mapper.class_
    new_instance = mapper.class_manager.new_instance
    found: list[Any] = []
    for row in rows:
        values_by_key = dict(zip(keys, row, strict=True))
        identity = (cls, tuple(values_by_key[key] for key in primary_key), None)
        held = identity_map.get(identity)
        if held is None:
            record = new_instance()
            record.__dict__.update(values_by_key)
            make_transient_to_detached(record)
            session.add(record)
            found.append(record)
            continue
        if refresh:
            for key, value in values_by_key.items():
                set_committed_value(held, key, value)
            loaded = [key for key in plan.relationships if key in held.__dict__]
            if loaded:
                session.expire(held, loaded)
        found.append(held)
    return found


class _RowPlan:
    """A select of columns of one tenant table, compiled for one dialect with the tenant criterion."""

    __slots__ = ("keys", "model", "prepared", "static")

    def __init__(self, statement: Select[Any], table: Any, model: type, dialect: Any) -> None:
        self.model = model
        self.keys = [column.key for column in statement.selected_columns]
        self.prepared, self.static = _prepared("udyog_rows", statement, table.c.tenant_id, dialect)


def _row_plan(statement: Any, dialect: Any) -> _RowPlan:
    return _cached(statement, "rows", dialect, lambda: _new_row_plan(statement, dialect))  # type: ignore[no-any-return]


def _new_row_plan(statement: Any, dialect: Any) -> _RowPlan:
    if not isinstance(statement, Select):
        raise TypeError("read_rows takes a select() of columns")
    if any(isinstance(d["expr"], type) for d in statement.column_descriptions):
        raise TypeError("read_rows takes a select() of columns, not of a model: use read_records")
    froms = statement.get_final_froms()
    mapper = None
    if len(froms) == 1:
        mapper = next((m for m in Base.registry.mappers if m.local_table is froms[0]), None)
    if mapper is None or not is_tenant_model(mapper.class_) or mapper.inherits is not None:
        raise TypeError("read_rows takes a select() of columns of one tenant model's table")
    return _RowPlan(statement, froms[0], mapper.class_, dialect)


def read_rows(
    session: Session, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows ``statement`` selects with ``params``, as dicts by column key: ``session.execute(...).mappings()``.

    ``statement`` is a ``select()`` of columns (or expressions of them) of
    one tenant model's table, built once and run often; the tenant criterion
    is added as for :func:`read_records`, and the ORM reads it instead on
    the same conditions (a record rule of the user on the model, a session
    across tenants).
    """
    connection = session.connection()
    plan = _row_plan(statement, connection.dialect)
    rows = _rows(session, connection, plan.model, plan, params)
    if rows is None:
        return [dict(row) for row in session.execute(statement, params).mappings()]
    keys = plan.keys
    return [dict(zip(keys, row, strict=True)) for row in rows]
