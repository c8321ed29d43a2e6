"""Runtime accessors: the current tenant, its session, its hooks, events.

The host (the core) binds a *scope* for each request, task or CLI command
that acts for a tenant; these functions read it. Plugins call them and never
reach into the core.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

    from sqlalchemy.orm import Session

    from udyog_sdk.attachments import AttachmentService
    from udyog_sdk.audit import AuditRecord
    from udyog_sdk.fields import Composition
    from udyog_sdk.jobs import RunStatus
    from udyog_sdk.notifications import NotifyResult
    from udyog_sdk.security import Principal
    from udyog_sdk.workfiles import WorkFiles


class UdyogError(Exception):
    """An error meant for the user: the API turns it into a 4xx response.

    Attributes:
        message: what went wrong, in words a user understands.
        status: the HTTP status (400, 403, 404, 409, 422).
        errors: field name → list of messages, when specific fields are at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = dict(errors or {})


class NoScopeError(RuntimeError):
    """Raised when tenant data is reached outside any request, task or command scope."""


@dataclass(frozen=True)
class TenantContext:
    """What code running for a tenant knows about it."""

    id: uuid.UUID
    slug: str
    name: str
    timezone: str
    enabled_plugins: frozenset[str] = field(default_factory=frozenset)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: Revision of the tenant's roles and assignments (permission caches key on it).
    security_rev: int = 0
    #: Revision of the tenant's custom-field definitions (composed schemas key on it).
    fields_rev: int = 0

    def is_enabled(self, plugin: str) -> bool:
        """Whether ``plugin`` is enabled for this tenant."""
        return plugin in self.enabled_plugins


class Scope(Protocol):
    """What the host binds for a unit of work (request, task, command)."""

    @property
    def tenant(self) -> TenantContext:
        """The tenant acted for."""
        ...

    @property
    def session(self) -> Session:
        """The tenant-bound session."""
        ...

    @property
    def hooks(self) -> Any:
        """The hook relay of the tenant's enabled plugins."""
        ...

    @property
    def user(self) -> Principal | None:
        """The user acted as (None for system work)."""
        ...

    def emit(self, name: str, payload: Mapping[str, Any]) -> uuid.UUID:
        """Record a domain event in the scope's transaction."""
        ...

    def emit_detached(self, name: str, payload: Mapping[str, Any]) -> uuid.UUID:
        """Record a domain event in a transaction of its own, after the scope's ends (since 1.3)."""
        ...

    def next_number(self, key: str, *, branch: str | None = None, on: date | None = None) -> str:
        """Take the next number of series ``key`` in the scope's transaction."""
        ...

    def insert_rows(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows of an unaudited tenant model in one statement, in the scope's transaction (since 1.5)."""
        ...

    def update_rows(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Update rows of an unaudited tenant model by id in one statement, in the scope's transaction (since 1.5)."""
        ...

    def write_records(self, records: Iterable[Any]) -> None:
        """Insert new and update changed ORM records now, audited, without the unit of work (since 1.6)."""
        ...

    def read_records(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The records a ``select(Model)`` statement gives, read without the ORM's query machinery (since 1.7)."""
        ...

    def read_rows(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows a ``select()`` of one tenant table's columns gives, as dicts, prepared (since 1.7)."""
        ...

    def enqueue(
        self, task: str, kwargs: Mapping[str, Any], *, key: str | None = None, delay: float | None = None
    ) -> uuid.UUID:
        """Queue a background run of ``task`` in the scope's transaction."""
        ...

    def notify(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        users: Iterable[uuid.UUID] | None = None,
        permission: str | None = None,
        link: str = "",
        roles: Iterable[str] | None = None,
    ) -> NotifyResult:
        """Record notifications of ``event`` in the scope's transaction (see :func:`udyog_sdk.notify`)."""
        ...

    def attachments(self) -> AttachmentService:
        """The attachments of the scope's tenant (see :mod:`udyog_sdk.attachments`)."""
        ...

    def composition(self, resource: Any) -> Composition | None:
        """The tenant's composed fields of ``resource`` (see :meth:`udyog_sdk.resources.Resource.composition`)."""
        ...

    def run_status(self, run_id: uuid.UUID) -> RunStatus | None:
        """The tenant's background run ``run_id`` (see :func:`udyog_sdk.jobs.run_status`)."""
        ...

    def work_files(self) -> WorkFiles:
        """The tenant's private work files (see :mod:`udyog_sdk.workfiles`)."""
        ...

    def audit_history(self, entity: str, record_id: str, *, limit: int = 20) -> list[AuditRecord]:
        """One record's audit entries, newest first (see :mod:`udyog_sdk.audit`)."""
        ...

    def user_names(self, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        """user id → name of the users ``user_ids`` (see :func:`user_names`)."""
        ...


_scope: ContextVar[Scope | None] = ContextVar("udyog_scope", default=None)
#: The relay of every loaded plugin while the host collects a registration-time hook (host API).
_registration_hooks: ContextVar[Any] = ContextVar("udyog_registration_hooks", default=None)


def bind_scope(scope: Scope) -> Token[Scope | None]:
    """Bind ``scope`` as current (host API: called by the core, not by plugins)."""
    return _scope.set(scope)


def unbind_scope(token: Token[Scope | None]) -> None:
    """Restore the scope that was current before :func:`bind_scope`."""
    _scope.reset(token)


def bind_registration_hooks(relay: Any) -> Token[Any]:
    """Bind the relay of every loaded plugin while a registration-time hook is collected (host API)."""
    return _registration_hooks.set(relay)


def unbind_registration_hooks(token: Token[Any]) -> None:
    """Restore the state before :func:`bind_registration_hooks` (host API)."""
    _registration_hooks.reset(token)


def current_scope() -> Scope:
    """The bound scope, or :class:`NoScopeError`."""
    scope = _scope.get()
    if scope is None:
        raise NoScopeError(
            "no tenant scope is active: this runs outside a request, task or command acting for a tenant"
        )
    return scope


def active_tenant() -> TenantContext | None:
    """The current tenant, or None where no tenant scope is bound."""
    scope = _scope.get()
    return scope.tenant if scope is not None else None


def current_tenant() -> TenantContext:
    """The tenant the current request, task or command acts for."""
    return current_scope().tenant


def current_user() -> Principal | None:
    """The user the current request or task acts as, or None for system work."""
    return current_scope().user


def user_names(user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """user id → name of the users ``user_ids``, to show who did what (an uploader, an editor).

    Unknown ids (and None) are left out; a host that cannot tell names answers ``{}``.
    """
    reader = getattr(current_scope(), "user_names", None)
    return dict(reader(user_ids)) if reader is not None else {}


def db_session() -> Session:
    """The tenant-scoped SQLAlchemy session of the current scope.

    Every ORM select, update and delete through it is limited to the current
    tenant, and new tenant-scoped rows are stamped with it.
    """
    return current_scope().session


def hooks() -> Any:
    """The hook relay for the current tenant: only plugins enabled for it fire.

    Plugins that publish hook specifications call them through this, e.g.
    ``hooks().sales_price_line(line=line)``.

    Outside any tenant scope, while the host collects a registration-time hook
    (``udyog_event_listeners``, ``udyog_tasks``, ``udyog_schedules``, ...), it is
    the relay of every loaded plugin (since 1.3): a plugin can build its
    declarations from what other plugins contribute to its own hook.
    """
    scope = _scope.get()
    if scope is None:
        relay = _registration_hooks.get()
        if relay is not None:
            return relay
    return current_scope().hooks


def emit(name: str, payload: Mapping[str, Any]) -> uuid.UUID:
    """Record domain event ``name`` in the outbox, in the current transaction.

    Listeners run after the transaction commits; nothing is delivered if it
    rolls back. ``payload`` must be JSON-serialisable plain data (ids, not
    ORM objects). Returns the event id.
    """
    return current_scope().emit(name, payload)


def insert_rows(model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` of ``model`` in one statement, in the current transaction (since 1.5).

    For a plugin's own trail: a table of a tenant model that opts out of the
    audit log (``__udyog_audit__ = False``) and is keyed by ``(tenant_id, id)``,
    written often (a stock ledger's moves). Each row maps column names to
    values, the same columns in every row; ``tenant_id`` is the current
    tenant's, ``id`` and other defaulted columns may be left out. Costs a
    fraction of the ORM's bulk insert. No objects enter the session. Audited
    models raise ``TypeError``: write them through the ORM, which audits, or
    with :func:`write_records`.
    """
    current_scope().insert_rows(model, rows)


def update_rows(model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows of ``model`` by id in one statement, in the current transaction (since 1.5).

    Each row maps ``id`` and the columns to set (the same columns in every
    row); only the current tenant's rows are touched. The same models as
    :func:`insert_rows`. Read the rows locked first (``FOR UPDATE``) when the
    new values derive from the old ones. An ORM object of an updated row
    that the session holds is expired (its next access reads the new values).
    """
    current_scope().update_rows(model, rows)


def write_records(records: Iterable[Any]) -> None:
    """Write ``records`` now: new ones inserted, changed columns of loaded ones updated (since 1.6).

    For a hot path that writes a document (an order and its lines) where the
    unit of work would cost several times its statements. ``records`` are ORM
    instances of tenant models keyed by ``(tenant_id, id)``: a new one
    (transient or pending) is inserted with its Python-side defaults applied,
    one statement per run of rows of one table (give parents first, their
    foreign keys set), and then held by the session as if loaded; a loaded
    one has its changed columns updated, matched on its version when it is
    versioned (a concurrent change raises ``StaleDataError``, answered 409).
    The audit log gets what a flush would write, in the same transaction;
    the tenant is the current one (another's raises ``TenantBoundaryError``).
    A record with a change this cannot write (a changed relationship
    collection, a default computed by SQL) is left to the ORM's next flush.
    Pending changes of other objects are flushed first.
    """
    current_scope().write_records(records)


def emit_detached(name: str, payload: Mapping[str, Any]) -> uuid.UUID:
    """Record domain event ``name`` so that it survives a rollback of the current transaction (since 1.3).

    For recording an *attempt* the caller is about to refuse (a refused
    despatch, a blocked login): the refusal raises, the transaction rolls
    back, and an event added by :func:`emit` would vanish with it. This one is
    written for the current tenant in a short transaction of its own as soon
    as the current transaction ends, whether it rolls back or commits (at once
    if none is open), and is then delivered like any other event. The name
    and payload are checked at once; returns the event id.
    """
    return current_scope().emit_detached(name, payload)


def read_records(statement: Any, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The records ``statement`` selects: what ``db_session().scalars(statement, params).all()`` gives (since 1.7).

    For a hot path that reads records by key (a document ``FOR UPDATE``,
    its lines, a customer's account), where the ORM's query machinery
    would cost several times the round trip. ``statement`` is
    ``select(Model)`` of one tenant model, with ``where``, ``order_by``,
    ``limit``, ``with_for_update()`` and the option ``populate_existing`` as
    needed, and named bound parameters (``bindparam("order_id")``) whose
    values ``params`` gives. **Build it once, at module level**: its SQL is
    compiled once (and on PostgreSQL prepared once per connection), keyed by
    the statement object.

    The records are the session's, as a query's would be: one the session
    holds already is returned as held (overwritten by the row with
    ``populate_existing``), a new one is held by the session as if loaded;
    pending changes are flushed first (unless autoflush is off). The tenant
    criterion is added; where anything could make the result differ from
    the ORM's (a record rule of the current user on the model, a model with
    inheritance, eager relationships, deferred columns or ``load``
    listeners) the ORM reads it instead. Another statement raises
    ``TypeError``.
    """
    return current_scope().read_records(statement, params)


def read_rows(statement: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows ``statement`` selects, as dicts by column key: ``db_session().execute(...).mappings()`` (since 1.7).

    The companion of :func:`read_records` for a ``select()`` of columns (or
    expressions of them: ``func.sum(...)``, labels) of **one** tenant
    model's table, with ``where``, ``group_by``, ``order_by`` and
    ``with_for_update()`` as needed: a ledger's balance rows locked for an
    update by id. Built once at module level, compiled once, prepared on
    PostgreSQL; the tenant criterion is added, and the ORM reads it instead
    when a record rule of the current user concerns the model. A statement
    over several tables, or of a whole model, raises ``TypeError``.
    """
    return current_scope().read_rows(statement, params)
