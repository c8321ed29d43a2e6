"""Engines, sessions and automatic tenant scoping.

One :class:`TenantSession` serves one tenant. A ``do_orm_execute`` listener
adds the tenant criterion to every ORM select, update and delete (the tenant
id read outside the criteria lambda, so it becomes a bound parameter);
``before_flush`` stamps ``tenant_id`` on new rows and refuses cross-tenant
writes; Core and ``text()`` statements are refused in a tenant-bound session.
On PostgreSQL the tenant is also set per transaction
(``set_config('udyog.tenant_id', ..., true)``) for the row-level security
policies behind the ORM filter.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Delete, Select, Update

from udyog_sdk.models import Base, TenantMixin, is_tenant_model


class TenantBoundaryError(RuntimeError):
    """Code tried to cross a tenant boundary (a bug, never a user error)."""


class TenantSession(Session):
    """A session bound to at most one tenant for its whole life."""

    def __init__(
        self,
        *args: Any,
        tenant_id: uuid.UUID | None = None,
        all_tenants: bool = False,
        orm_filter: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.info["tenant_id"] = tenant_id
        self.info["all_tenants"] = all_tenants
        self.info["orm_filter"] = orm_filter

    @property
    def tenant_id(self) -> uuid.UUID | None:
        """The tenant this session serves (None: not yet bound, or system session)."""
        return self.info["tenant_id"]

    def bind_tenant(self, tenant_id: uuid.UUID) -> None:
        """Bind a still unbound session to ``tenant_id`` (once; never re-bound)."""
        current = self.info["tenant_id"]
        if current is not None:
            if current != tenant_id:
                raise TenantBoundaryError("a session never serves two tenants")
            return
        if self.info["all_tenants"]:
            raise TenantBoundaryError("a system session cannot be bound to a tenant")
        self.info["tenant_id"] = tenant_id
        if self.in_transaction():
            _set_db_tenant(self.connection(), tenant_id, False)


def tenant_tables() -> frozenset[Table]:
    """Tables of every tenant-scoped mapped class."""
    return frozenset(
        m.local_table  # type: ignore[misc]
        for m in Base.registry.mappers
        if is_tenant_model(m.class_) and isinstance(m.local_table, Table)
    )


def _statement_tables(statement: Any) -> Iterable[Table]:
    if isinstance(statement, Select):
        for from_ in statement.get_final_froms():
            yield from (t for t in _walk_tables(from_))
    elif isinstance(statement, (Update, Delete)):
        yield from _walk_tables(statement.table)


def _walk_tables(clause: Any) -> Iterable[Table]:
    if isinstance(clause, Table):
        yield clause
        return
    for child in clause.get_children():
        yield from _walk_tables(child)


@lru_cache(maxsize=4096)
def _tenant_criteria(tenant_id: uuid.UUID) -> Any:
    """The loader-criteria option for one tenant, built once and reused.

    The id is a closure variable outside the lambda, so SQLAlchemy's lambda
    caching turns it into a bound parameter: one cached SQL form serves all
    tenants.
    """
    return with_loader_criteria(TenantMixin, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    info = state.session.info
    if info["all_tenants"] or state.execution_options.get("udyog_raw"):
        return
    if state.is_select or state.is_update or state.is_delete:
        if not state.is_orm_statement:
            scoped = tenant_tables()
            if any(t in scoped for t in _statement_tables(state.statement)):
                raise TenantBoundaryError("Core statements against tenant tables are refused; use the ORM")
            return
        tenant_id = info["tenant_id"]
        if tenant_id is None:
            if any(is_tenant_model(m.class_) for m in state.all_mappers):
                raise TenantBoundaryError("tenant data queried in a session bound to no tenant")
            return
        if state.is_update:
            _guard_update(state)
        if state.is_column_load or state.is_relationship_load:
            # Column and relationship loads inherit the criteria of the parent
            # statement's options; adding it again would be redundant.
            return
        state.statement = _scoped(state.statement, tenant_id, info.get("udyog_record_criteria") or None, info)
        return
    if state.is_insert:
        _guard_insert(state)
        return
    if info["tenant_id"] is not None:
        raise TenantBoundaryError(
            "text() statements are refused in a tenant session; use the ORM "
            "(or execution_options(udyog_raw=True) for statements on global tables)"
        )


#: Per statement object: its scoped forms by (tenant, record rules). A statement
#: built once and run often (module-level, bound parameters) is scoped once per
#: tenant and rule set, and its SQL cache key is computed once, not per execution.
_SCOPED: weakref.WeakKeyDictionary[Any, dict[tuple[uuid.UUID, int], tuple[Any, Any]]] = weakref.WeakKeyDictionary()
_SCOPED_PER_STATEMENT = 64


def _scoped(statement: Any, tenant_id: uuid.UUID, rules: list[Any] | None, info: dict[str, Any]) -> Any:
    """``statement`` with the tenant criterion (unless switched off in tests) and the record rules."""
    key = (tenant_id, id(rules))
    try:
        forms = _SCOPED.get(statement)
    except TypeError:  # not weakly referenceable: scope it afresh
        forms = None
    if forms is not None:
        hit = forms.get(key)
        if hit is not None and hit[0] is rules:  # the very rule list (ids of dead lists may be reused)
            return hit[1]
    options = [] if not info["orm_filter"] else [_tenant_criteria(tenant_id)]  # tests: RLS alone
    options.extend(rules or ())
    scoped = statement.options(*options) if options else statement
    try:
        if forms is None:
            forms = _SCOPED.setdefault(statement, {})
        if len(forms) >= _SCOPED_PER_STATEMENT:
            forms.clear()
        forms[key] = (rules, scoped)
    except TypeError:
        pass
    return scoped


def _guard_insert(state: ORMExecuteState) -> None:
    """ORM bulk inserts into tenant tables: stamp each parameter row, refuse others' rows.

    ``session.execute(insert(Model), [{...}, ...])`` is allowed (rows are
    stamped with the session's tenant); ``insert(...).values(...)`` and Core
    inserts into tenant tables are refused, since their values cannot be
    checked here.
    """
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    if table is None or table not in tenant_tables():
        return
    tenant_id = state.session.info["tenant_id"]
    if tenant_id is None:
        raise TenantBoundaryError("insert into a tenant table in a session bound to no tenant")
    if not state.is_orm_statement or statement._values or statement._multi_values:
        raise TenantBoundaryError(
            "insert into tenant tables with session.add() or session.execute(insert(Model), [rows])"
        )
    params = state.parameters
    rows = [params] if isinstance(params, dict) else list(params or [])
    for row in rows:
        if row.get("tenant_id", tenant_id) != tenant_id:
            raise TenantBoundaryError("insert of a row for another tenant")
    stamped = [{**row, "tenant_id": tenant_id} for row in rows]
    state.parameters = stamped[0] if isinstance(params, dict) else stamped  # type: ignore[misc]


def _guard_update(state: ORMExecuteState) -> None:
    """Refuse ORM updates that would move rows to another tenant."""
    statement: Any = state.statement
    values = getattr(statement, "_values", None) or {}
    if any(getattr(key, "key", key) == "tenant_id" for key in values):
        raise TenantBoundaryError("tenant_id cannot be changed by an update")
    tenant_id = state.session.info["tenant_id"]
    params = state.parameters
    rows = [params] if isinstance(params, dict) else list(params or [])
    if any("tenant_id" in row and row["tenant_id"] != tenant_id for row in rows):
        raise TenantBoundaryError("bulk update of another tenant's rows")


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_guard(session: Session, flush_context: Any, instances: Any) -> None:
    info = session.info
    tenant_id = info["tenant_id"]
    all_tenants = info["all_tenants"]
    for obj in session.new:
        if not is_tenant_model(type(obj)):
            continue
        if obj.tenant_id is None:
            if tenant_id is None:
                raise TenantBoundaryError(f"new {type(obj).__name__} without a tenant")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and obj.tenant_id != tenant_id:
            raise TenantBoundaryError(f"new {type(obj).__name__} for another tenant")
        elif tenant_id is None and not all_tenants:
            raise TenantBoundaryError(f"new {type(obj).__name__} in a session bound to no tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if not is_tenant_model(type(obj)):
            continue
        from sqlalchemy import inspect

        history = inspect(obj).attrs.tenant_id.history
        if history.has_changes() and history.deleted:
            raise TenantBoundaryError(f"tenant_id of a {type(obj).__name__} cannot change")
        if tenant_id is not None and obj.tenant_id != tenant_id:
            raise TenantBoundaryError(f"{type(obj).__name__} of another tenant in this session")


@event.listens_for(TenantSession, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        _set_db_tenant(connection, session.info["tenant_id"], session.info["all_tenants"])


_SET_TENANT_SQL = "SELECT set_config('udyog.tenant_id', %(t)s, true), set_config('udyog.all_tenants', %(a)s, true)"
_SET_TENANT_PREFIX = (
    "SELECT set_config('udyog.tenant_id', %(udyog_rls_t)s, true), "
    "set_config('udyog.all_tenants', %(udyog_rls_a)s, true); "
)
#: Key in the DBAPI connection's info: the tenant settings still to send in this transaction.
_PENDING_TENANT = "udyog_pending_tenant"
#: Dialects (one per engine) whose connections send the settings with the next statement.
_DEFERRING_DIALECTS: weakref.WeakSet[Any] = weakref.WeakSet()


def _set_db_tenant(connection: Connection, tenant_id: uuid.UUID | None, all_tenants: bool) -> None:
    """Set the transaction's tenant for row-level security (PostgreSQL; elsewhere nothing).

    With psycopg2 the settings ride with the transaction's next statement, in
    the same round trip (see :func:`_send_pending_tenant`); otherwise they are
    sent now.
    """
    if connection.dialect.name != "postgresql":
        return
    params = {"t": str(tenant_id) if tenant_id else "", "a": "on" if all_tenants else "off"}
    if connection.dialect in _DEFERRING_DIALECTS:
        connection.info[_PENDING_TENANT] = params
        return
    _send_tenant_now(connection.connection.dbapi_connection, params)


def _send_tenant_now(dbapi_connection: Any, params: dict[str, str]) -> None:
    # Straight to the driver's cursor: no SQLAlchemy execution context.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_SET_TENANT_SQL, params)
    finally:
        cursor.close()


def _send_pending_tenant(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """Send a pending ``set_config`` of the tenant with the transaction's first statement (psycopg2).

    A compiled statement with named parameters gets the ``set_config``
    prepended (psycopg2 sends both in one round trip, and the statement's
    result is the last one's); anything else (executemany, a server-side
    cursor, raw driver SQL) is preceded by it on a cursor of its own. Either
    way the setting is in force before the statement runs.
    """
    pending = conn.info.pop(_PENDING_TENANT, None)
    if pending is None:
        return statement, parameters
    if (
        executemany
        or getattr(cursor, "name", None)
        or not isinstance(parameters, dict)
        or context is None
        or context.compiled is None
    ):
        _send_tenant_now(cursor.connection, pending)
        return statement, parameters
    return _SET_TENANT_PREFIX + statement, {**parameters, "udyog_rls_t": pending["t"], "udyog_rls_a": pending["a"]}


def _drop_pending_tenant(conn: Connection) -> None:
    """The transaction ended before any statement needed its tenant: forget it."""
    conn.info.pop(_PENDING_TENANT, None)


def _drop_pending_tenant_on_checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info.pop(_PENDING_TENANT, None)


#: Called with the connection and the SQL of every run of a prepared statement (:class:`PreparedStatement`):
#: those runs do not pass through SQLAlchemy's statement events (see :func:`udyog.testing.statements_seen`).
PREPARED_OBSERVERS: list[Callable[[Connection, str], None]] = []


class PreparedStatement:
    """A fixed statement of the kernel's hot paths (a SELECT, or DML with RETURNING), run on a connection.

    On PostgreSQL the statement is prepared once per pooled connection
    (``PREPARE``, which outlives transactions and rollbacks) and then run with
    ``EXECUTE``: the server neither parses nor plans it again (for a join of
    four tables that is most of its cost). Elsewhere the compiled statement
    comes from SQLAlchemy's cache. Results carry the columns' types as the
    statement would.

    The statement bypasses the ORM and its tenant filter, so it must filter by
    tenant itself (a parameter compared with every tenant table's
    ``tenant_id``); on PostgreSQL row-level security still applies. Kernel
    code only. A connection pooler in front of PostgreSQL must keep server
    sessions per client connection (PgBouncer in session mode), as SQL-level
    prepared statements live in the server session.
    """

    def __init__(self, name: str, statement: Any, params: dict[str, Any], *, prepare: bool = True) -> None:
        """``params``: the statement's bound parameter names with their SQL types, in order."""
        from sqlalchemy import bindparam, column, text

        self.name = name
        self.statement = statement
        self.prepare = prepare
        self._params = params
        self._columns = [column(c.name, c.type) for c in statement.exported_columns]
        self._pg_sql: str | None = None
        self._processors: list[tuple[int, Any]] | None = None  # (column index, result processor)
        self._binders: list[tuple[str, Any]] | None = None  # (parameter, bind processor)
        #: ``EXECUTE name(%(a)s, ...)`` for the driver's own cursor (psycopg2's named parameters).
        self._driver_sql = f"EXECUTE {name}({', '.join(f'%({k})s' for k in params)})"
        placeholders = ", ".join(f":{k}" for k in params)
        self._execute = (
            text(f"EXECUTE {name}({placeholders})")
            .bindparams(*(bindparam(k, type_=t) for k, t in params.items()))
            .columns(*self._columns)
        )

    def _prepare_sql(self, connection: Connection) -> str:
        if self._pg_sql is None:
            import re

            compiled = self.statement.compile(dialect=connection.dialect)
            order = list(self._params)
            sql = re.sub(r"%\((\w+)\)s", lambda m: f"${order.index(m.group(1)) + 1}", compiled.string)
            sql = sql.replace("%%", "%")
            types = ", ".join(t.compile(dialect=connection.dialect) for t in self._params.values())
            self._pg_sql = f"PREPARE {self.name}({types}) AS {sql}"
        return self._pg_sql

    def execute(self, connection: Connection, params: dict[str, Any]) -> Any:
        """The statement's result for ``params`` (a SQLAlchemy ``Result``) in the connection's transaction."""
        if connection.dialect.name != "postgresql" or not self.prepare:
            return connection.execute(self.statement, params)
        prepared: set[str] = connection.connection.info.setdefault("udyog_prepared", set())
        if self.name not in prepared:
            connection.exec_driver_sql(self._prepare_sql(connection))
            prepared.add(self.name)
        self._observe(connection)
        return connection.execute(self._execute, params)

    def _observe(self, connection: Connection) -> None:
        for observer in PREPARED_OBSERVERS:
            observer(connection, self._prepare_sql(connection).split(" AS ", 1)[1])

    def rows(self, connection: Connection, params: dict[str, Any], *, processed: bool = False) -> list[tuple[Any, ...]]:
        """The statement's rows for ``params`` as plain tuples, in the connection's transaction.

        With psycopg2 the ``EXECUTE`` goes straight to the driver's cursor (no
        SQLAlchemy execution context, result object or statement events; the
        echo log does not show it), with the transaction's pending tenant
        setting in the same round trip, as :meth:`execute` would send it.
        The values are the driver's, which for the kernel's column types
        (UUID, text, integers, booleans) are what :meth:`execute` returns;
        ``processed=True`` passes them through the columns' result processing
        (any type: decimals quantized, timestamps made UTC, ...), as
        :meth:`execute` does. Parameters pass through their types' bind
        processing either way.
        Driver errors are raised as SQLAlchemy's (``DBAPIError`` and its
        subclasses); a lost connection is invalidated. Elsewhere this is
        :meth:`execute`'s rows.
        """
        dialect = connection.dialect
        if dialect not in _DEFERRING_DIALECTS or not self.prepare:
            return [tuple(row) for row in self.execute(connection, params)]
        fairy = connection.connection
        info = fairy.info
        prepared: set[str] | None = info.get("udyog_prepared")
        if prepared is None:
            prepared = info["udyog_prepared"] = set()
        dbapi_connection = fairy.dbapi_connection
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        sql: str = self._driver_sql
        try:
            if self.name not in prepared:
                # Its own round trip, once per connection: a PREPARE outlives the
                # transaction even when the EXECUTE sent with it fails.
                sql = self._prepare_sql(connection)
                cursor.execute(sql)
                prepared.add(self.name)
                sql = self._driver_sql
            if PREPARED_OBSERVERS:
                self._observe(connection)
            binders = self._binders
            if binders is None:
                binders = self._binders = [
                    (key, bind)
                    for key, t in self._params.items()
                    if (bind := t.dialect_impl(dialect).bind_processor(dialect)) is not None
                ]
            if binders:
                params = {**params}
                for key, bind in binders:
                    if key in params:
                        params[key] = bind(params[key])
            pending = info.pop(_PENDING_TENANT, None)
            if pending is not None:
                sql = _SET_TENANT_PREFIX + sql
                params = {**params, "udyog_rls_t": pending["t"], "udyog_rls_a": pending["a"]}
            cursor.execute(sql, params)
            found: list[tuple[Any, ...]] = cursor.fetchall()
            if processed and found:
                found = self._process(dialect, cursor.description, found)
        except dialect.loaded_dbapi.Error as exc:
            _raise_driver_error(connection, exc, sql, params, dbapi_connection, cursor)
        finally:
            cursor.close()
        return found

    def _process(self, dialect: Any, description: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` through the result processors of the columns' types (found once, from the driver's type codes)."""
        processors = self._processors
        if processors is None:
            found = [
                column.type.dialect_impl(dialect).result_processor(dialect, entry[1])
                for column, entry in zip(self._columns, description, strict=True)
            ]
            processors = self._processors = [(i, p) for i, p in enumerate(found) if p is not None]
        if not processors:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            out.append(tuple(values))
        return out


class _Dml:
    """A Core INSERT or UPDATE compiled for one dialect and set of parameter keys, for :func:`write_many`."""

    __slots__ = ("binds", "head", "insert", "sql", "template")

    def __init__(self, compiled: Any, insert: bool, defaults: dict[str, Callable[[], Any]]) -> None:
        dialect = compiled.dialect
        #: (name in the SQL, key in a row, bind processor or None, Python default for a key a row leaves out)
        self.binds = [
            (
                compiled.bind_names[bind],
                bind.key,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
                defaults.get(bind.key),
            )
            for bind in compiled.binds.values()
        ]
        self.insert = insert
        self.sql: str = compiled.string
        head, _, values = self.sql.partition(" VALUES ")
        self.head = head.encode()
        self.template = values


#: (statement, parameter keys, dialect) → its compiled form, or None when SQLAlchemy must run it.
_DML: dict[tuple[Any, tuple[str, ...], Any], _Dml | None] = {}
_DML_LIMIT = 1024


def _dml(connection: Connection, statement: Any, keys: tuple[str, ...]) -> _Dml | None:
    key = (statement, keys, connection.dialect)
    try:
        return _DML[key]
    except KeyError:
        pass
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(keys))
    defaults = {}
    for column in compiled.insert_prefetch:  # columns the rows leave out, with a Python default
        default = python_default(column.default)
        if default is not None:
            defaults[column.key] = default
    plain = (
        not compiled.update_prefetch
        and not compiled.returning
        and all(bind.key in keys or bind.key in defaults for bind in compiled.binds.values())
    )
    found = _Dml(compiled, compiled.isinsert, defaults) if plain else None
    if len(_DML) >= _DML_LIMIT:
        _DML.clear()
    _DML[key] = found
    return found


def python_default(default: Any) -> Callable[[], Any] | None:
    """A column default computed in Python (a scalar, or a callable such as ``new_id``), as a function; else None
    (no default, or one the database computes)."""
    if default is None or default.is_sequence or default.is_clause_element:
        return None
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        function = default.arg
        return lambda: function(None)
    return None


def write_many(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> int:
    """Run a Core INSERT or UPDATE (no RETURNING) for ``rows`` in one round trip; the rows it matched.

    ``connection.execute(statement, rows)`` without SQLAlchemy's execution
    context: on PostgreSQL (psycopg2) the statement is compiled once per set
    of keys, each row's values pass through the columns' bind processing and
    are rendered by the driver, and many rows go in one statement (an
    INSERT's rows as one multi-row ``VALUES``; UPDATEs joined by ``;``, the
    count then being the last one's). The transaction's pending tenant
    setting goes with it, as with any statement. Statement events and the
    echo log do not see it (:data:`PREPARED_OBSERVERS` do). Elsewhere, and
    for a statement whose SQL or Python-side defaults SQLAlchemy must
    compute per execution, this is ``connection.execute``'s rowcount.
    """
    if not rows:
        return 0
    dialect = connection.dialect
    plan = _dml(connection, statement, tuple(rows[0])) if dialect in _DEFERRING_DIALECTS else None
    if plan is None:
        return int(connection.execute(statement, rows if len(rows) > 1 else rows[0]).rowcount)
    values = []
    for row in rows:
        given: dict[str, Any] = {}
        for name, key, bind, default in plan.binds:
            if key in row:
                value = row[key]
            elif default is not None:
                value = default()
            else:  # rows of different keys: SQLAlchemy reports it
                return int(connection.execute(statement, rows).rowcount)
            given[name] = value if bind is None else bind(value)
        values.append(given)
    fairy = connection.connection
    dbapi_connection = fairy.dbapi_connection
    cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    sql: Any = plan.sql
    try:
        for observer in PREPARED_OBSERVERS:
            observer(connection, plan.sql)
        pending = fairy.info.pop(_PENDING_TENANT, None)
        prefix = b""
        if pending is not None:
            prefix = cursor.mogrify(_SET_TENANT_PREFIX, {"udyog_rls_t": pending["t"], "udyog_rls_a": pending["a"]})
        if len(values) == 1:
            sql = prefix + cursor.mogrify(plan.sql, values[0])
        elif plan.insert:
            sql = prefix + plan.head + b" VALUES " + b",".join(cursor.mogrify(plan.template, v) for v in values)
        else:
            sql = prefix + b";".join(cursor.mogrify(plan.sql, v) for v in values)
        cursor.execute(sql)
        count = int(cursor.rowcount)
    except dialect.loaded_dbapi.Error as exc:
        text = sql if isinstance(sql, str) else sql.decode(errors="replace")
        _raise_driver_error(connection, exc, text, values, dbapi_connection, cursor)
        raise  # not reached: _raise_driver_error raises
    finally:
        cursor.close()
    return count


def _raise_driver_error(
    connection: Connection, exc: Exception, sql: str, params: Any, dbapi_connection: Any, cursor: Any
) -> None:
    """Raise a driver error as SQLAlchemy would: wrapped in ``DBAPIError``; a lost connection invalidated."""
    from sqlalchemy import exc as sa_exc

    dialect = connection.dialect
    disconnect = dialect.is_disconnect(exc, dbapi_connection, cursor)
    if disconnect and not connection.invalidated:
        connection.invalidate(exc)
    raise sa_exc.DBAPIError.instance(
        sql,
        params,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=connection.engine.hide_parameters,
        connection_invalidated=disconnect,
        dialect=dialect,
    ) from exc


class Database:
    """The engine(s) and session factory of one deployment."""

    def __init__(self, url: str, *, app_role: str | None = None, orm_filter: bool = True, echo: bool = False) -> None:
        from udyog import audit  # noqa: F401 - registers the audit log's session listeners

        self.url = url
        self.orm_filter = orm_filter
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        self.app_role = app_role
        self.echo = echo
        self.engine = self._create_engine(url, app_role=app_role, echo=echo)
        self._owner_engine: Engine | None = None
        self._autocommit_engine: Engine | None = None
        # Writing transactions begin IMMEDIATE on SQLite (see _sqlite_begin).
        self.write_engine = self.engine.execution_options(udyog_write=True)
        self._factory = sessionmaker(class_=TenantSession, expire_on_commit=False)
        #: The outbox dispatcher sessions hand their committed events to.
        self.dispatcher: Any = None

    def _create_engine(self, url: str, *, app_role: str | None, echo: bool, **options: Any) -> Engine:
        if self.dialect == "sqlite":
            engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        # No pre-ping (a round trip per checkout); connections are recycled
        # hourly and a dropped one fails one request, not the process.
        options = {"pool_recycle": 3600, "pool_size": 10, "max_overflow": 20, **options}
        if make_url(url).get_driver_name() == "psycopg2":
            # An executemany UPDATE or DELETE (the ORM's bulk update by primary key, its flush of
            # several changed rows) goes as one round trip (execute_batch) instead of one per row:
            # for the sales benchmark -1.5 ms of database CPU and -2 ms of ours per order. Rowcounts
            # of such a batch are not reported, so versioned rows stay one statement each (the ORM's
            # own rule); single statements report theirs as before.
            options.setdefault("executemany_mode", "values_plus_batch")
        engine = create_engine(url, echo=echo, **options)
        if engine.dialect.driver == "psycopg2":
            event.listen(engine, "before_cursor_execute", _send_pending_tenant, retval=True)
            event.listen(engine, "commit", _drop_pending_tenant)
            event.listen(engine, "rollback", _drop_pending_tenant)
            event.listen(engine.pool, "checkin", _drop_pending_tenant_on_checkin)
            _DEFERRING_DIALECTS.add(engine.dialect)
        if app_role:
            role = app_role

            def _set_role(dbapi_conn: Any, record: Any) -> None:
                with dbapi_conn.cursor() as cur:
                    cur.execute(f'SET ROLE "{role}"')
                dbapi_conn.commit()

            event.listen(engine, "connect", _set_role)
        return engine

    @property
    def owner_engine(self) -> Engine:
        """The engine of the URL's own user (migrations, RLS setup): no SET ROLE.

        Without an application role this is :attr:`engine`.
        """
        if self.app_role is None:
            return self.engine
        if self._owner_engine is None:
            self._owner_engine = create_engine(self.url, echo=self.echo, poolclass=NullPool)
        return self._owner_engine

    def session(
        self,
        tenant_id: uuid.UUID | None = None,
        *,
        write: bool = True,
        all_tenants: bool = False,
    ) -> TenantSession:
        """A new session for ``tenant_id`` (or unbound, or ``all_tenants`` for system work)."""
        bind = self.write_engine if write else self.engine
        session: TenantSession = self._factory(  # type: ignore[assignment]
            bind=bind,
            tenant_id=tenant_id,
            all_tenants=all_tenants,
            orm_filter=self.orm_filter,
        )
        session.info["udyog_dispatcher"] = self.dispatcher
        return session

    def autocommit_rows(
        self, statement: PreparedStatement, tenant_id: uuid.UUID, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run one kernel statement for ``tenant_id`` as a transaction of its own, committed at once.

        With psycopg2 the tenant settings, the statement and its commit take
        one round trip: the connection is in autocommit mode and the settings
        and the statement go in one query string, which the server runs as one
        implicit transaction (row-level security applies). Elsewhere it is a
        short transaction of its own.
        """
        if self.engine.dialect in _DEFERRING_DIALECTS:
            with self.autocommit_engine.connect() as conn:
                _set_db_tenant(conn, tenant_id, False)
                return statement.rows(conn, params)
        with self.session(tenant_id) as session:
            found = statement.rows(session.connection(), params)
            session.commit()
            return found

    @property
    def autocommit_engine(self) -> Engine:
        """An engine whose connections stay in autocommit mode (PostgreSQL), for statements that commit alone.

        Its own small pool: switching a pooled connection of :attr:`engine`
        to autocommit and back costs the driver a round trip each way.
        """
        if self._autocommit_engine is None:
            self._autocommit_engine = self._create_engine(
                self.url, app_role=self.app_role, echo=self.echo, isolation_level="AUTOCOMMIT", pool_size=2
            )
        return self._autocommit_engine

    def probe(self, timeout: float = 2.0) -> str | None:
        """None when the database answers ``SELECT 1`` within about ``timeout`` seconds, else why not.

        On PostgreSQL a connection of its own (not the pool's: a pool waiting
        for a free connection, or a server that accepts the TCP connection and
        never answers, would hold a health check for 30 s or for ever) with
        libpq's ``connect_timeout`` and a ``statement_timeout``; elsewhere the
        engine's own connection.
        """
        from sqlalchemy.exc import SQLAlchemyError

        engine = self.engine
        if self.dialect == "postgresql":
            seconds = max(1, round(timeout))
            engine = create_engine(
                self.url,
                poolclass=NullPool,
                connect_args={"connect_timeout": seconds, "options": f"-c statement_timeout={seconds * 1000}"},
            )
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            return f"unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}"
        finally:
            if engine is not self.engine:
                engine.dispose()
        return None

    def dispose(self, *, close: bool = True) -> None:
        """Drop every pooled connection; ``close=False`` after a fork (the parent's are left to the parent)."""
        self.engine.dispose(close=close)
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose(close=close)
        if self._owner_engine is not None and close:
            self._owner_engine.dispose()


def _sqlite_connect(dbapi_conn: Any, record: Any) -> None:
    # Take transaction control from pysqlite so that BEGIN is ours to emit.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # A transaction that reads first and writes later gets "database is
    # locked" at once, whatever the busy timeout: writers begin IMMEDIATE.
    if conn.get_execution_options().get("udyog_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:  # a deferred BEGIN takes no lock and cannot fail: straight to the driver
        conn.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]
