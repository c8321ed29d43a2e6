"""The kernel: plugins, hook bus, database and tenant scopes, without Flask.

The WSGI app, the CLI and workers each build one :class:`Kernel` from
:class:`~udyog.config.Settings`. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Uuid, bindparam, select

from udyog.config import Settings
from udyog.db import Database, PreparedStatement, TenantSession
from udyog.hookbus import HookBus, HookRelay
from udyog.models import Tenant, TenantPlugin
from udyog.registry import CORE_NAME, PluginRegistry, new_plugin_manager
from udyog_sdk import Principal, TenantContext
from udyog_sdk.notifications import NotifyResult
from udyog_sdk.runtime import bind_scope, unbind_scope

if TYPE_CHECKING:
    from udyog.attachments import ScopeAttachments, ScopeWorkFiles
    from udyog_sdk.audit import AuditRecord
    from udyog_sdk.fields import Composition
    from udyog_sdk.jobs import RunStatus

log = logging.getLogger("udyog")


@dataclass
class TenantScope:
    """One unit of work for one tenant: its context, session and hooks."""

    kernel: Kernel
    tenant: TenantContext
    session: TenantSession
    #: The user acted as; None for system work (CLI, listeners of system events).
    user: Principal | None = None
    hooks: HookRelay = field(init=False)

    def __post_init__(self) -> None:
        self.hooks = self.kernel.bus.for_enabled(self.tenant.enabled_plugins)
        if self.user is not None:
            self.session.info["udyog_record_criteria"] = self.kernel.security.criteria(
                self.user, self.tenant.enabled_plugins
            )

    def emit(self, name: str, payload: Mapping[str, Any]) -> uuid.UUID:
        """Record a domain event in this scope's transaction."""
        from udyog.outbox import record

        return record(self.session, name, payload, self)

    def emit_detached(self, name: str, payload: Mapping[str, Any]) -> uuid.UUID:
        """Record a domain event that survives this scope's rollback (see :func:`udyog.outbox.record_detached`)."""
        from udyog.outbox import record_detached

        return record_detached(self.session, name, payload)

    def insert_rows(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows of an unaudited tenant model in one statement (see :mod:`udyog.bulk`)."""
        from udyog.bulk import insert_rows

        insert_rows(self.session, model, rows)

    def update_rows(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Update rows of an unaudited tenant model by id in one statement (see :mod:`udyog.bulk`)."""
        from udyog.bulk import update_rows

        update_rows(self.session, model, rows)

    def write_records(self, records: Iterable[Any]) -> None:
        """Insert new and update changed ORM records now, audited, without the unit of work (:mod:`udyog.records`)."""
        from udyog.records import write_records

        write_records(self.session, records)

    def read_records(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The records ``select(Model)`` gives, read by a prepared statement (see :mod:`udyog.reads`)."""
        from udyog.reads import read_records

        return read_records(self.session, statement, params)

    def read_rows(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows a ``select()`` of one tenant table's columns gives, by a prepared statement (:mod:`udyog.reads`)."""
        from udyog.reads import read_rows

        return read_rows(self.session, statement, params)

    def next_number(self, key: str, *, branch: str | None = None, on: date | None = None) -> str:
        """Take the next number of series ``key`` in this scope's transaction (see :mod:`udyog.series`)."""
        from udyog.series import next_number

        return next_number(self, key, branch=branch, on=on)

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
        """Record notifications of ``event`` in this scope's transaction (see :mod:`udyog.notifications`)."""
        from udyog.notifications import notify

        return notify(self, event, payload, users=users, permission=permission, link=link, roles=roles)

    def enqueue(
        self, task: str, kwargs: Mapping[str, Any], *, key: str | None = None, delay: float | None = None
    ) -> uuid.UUID:
        """Queue a background run of ``task`` in this scope's transaction (see :mod:`udyog.jobs`)."""
        return self.kernel.jobs.enqueue(self, task, kwargs, key=key, delay=delay)

    def attachments(self) -> ScopeAttachments:
        """The attachments of this scope's tenant (see :mod:`udyog.attachments`)."""
        return self.kernel.attachments.bound(self)

    def composition(self, resource: Any) -> Composition | None:
        """The tenant's composed fields of ``resource`` (see :mod:`udyog.composition`), cached."""
        return self.kernel.compositions.compose(resource, self.tenant, self.session)

    def run_status(self, run_id: uuid.UUID) -> RunStatus | None:
        """The tenant's background run ``run_id``, read in this scope's session (see :mod:`udyog.jobs`)."""
        return self.kernel.jobs.status(self, run_id)

    def work_files(self) -> ScopeWorkFiles:
        """The tenant's work files, in the attachment storage (see :mod:`udyog_sdk.workfiles`)."""
        return self.kernel.attachments.work_files(self)

    def audit_history(self, entity: str, record_id: str, *, limit: int = 20) -> list[AuditRecord]:
        """One record's audit entries, newest first (see :mod:`udyog.audit_log`; no permission checked)."""
        from udyog.audit_log import audit_page, user_names
        from udyog_sdk.audit import AuditRecord

        rows, _ = audit_page({"entity": entity, "record_id": str(record_id), "limit": limit}, session=self.session)
        names = user_names(self.session, {row.user_id for row in rows if row.user_id is not None})
        return [
            AuditRecord(
                id=row.id,
                at=row.at,
                action=row.action,
                entity=row.entity,
                record_id=row.record_id,
                user_id=row.user_id,
                user_name=names.get(row.user_id) if row.user_id is not None else None,
                changes=dict(row.changes or {}),
            )
            for row in rows
        ]

    def user_names(self, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
        """The names of the users ``user_ids`` (to show who did what; see :mod:`udyog.audit_log`)."""
        from udyog.audit_log import user_names

        return user_names(self.session, {u for u in user_ids if isinstance(u, uuid.UUID)})


class Kernel:
    """Everything the app, the CLI and workers share for one deployment."""

    def __init__(self, settings: Settings) -> None:
        from udyog import defaults
        from udyog.outbox import Dispatcher

        self.settings = settings
        self.pm = new_plugin_manager()
        self.pm.register(defaults, name=CORE_NAME)
        self.registry = PluginRegistry(self.pm)
        self.registry.load(settings.plugins.enabled, strict=settings.strict_plugins)
        self.bus = HookBus(self.pm, self.registry.order)
        from udyog.rbac import Security

        self.security = Security(self)
        self.db = Database(
            settings.database_url,
            app_role=settings.app_db_role,
            orm_filter=settings.orm_tenant_filter,
        )
        self.dispatcher = Dispatcher(self)
        self.db.dispatcher = self.dispatcher
        from udyog.jobs import Jobs

        self.jobs = Jobs(self)
        from udyog.attachments import Attachments

        self.attachments = Attachments(self)
        from udyog.plugin_settings import PluginSettings

        self.plugin_settings = PluginSettings(self)
        from udyog.composition import Compositions

        self.compositions = Compositions(self)
        self._enabled_cache: dict[tuple[uuid.UUID, int], frozenset[str]] = {}
        self._cache_lock = threading.Lock()

    # -- tenants -----------------------------------------------------------

    def find_tenant(self, session: TenantSession, ref: str | uuid.UUID) -> Tenant | None:
        """The tenant with id or slug ``ref`` (active or not)."""
        tenant_id: uuid.UUID | None
        if isinstance(ref, uuid.UUID):
            tenant_id = ref
        else:
            try:
                tenant_id = uuid.UUID(str(ref))
            except ValueError:
                tenant_id = None
        if tenant_id is not None:
            return session.get(Tenant, tenant_id)
        return session.scalar(select(Tenant).where(Tenant.slug == str(ref)))

    def tenant_context(self, session: TenantSession, ref: str | uuid.UUID) -> TenantContext | None:
        """Resolve ``ref`` and bind ``session`` to it; None if unknown or inactive.

        By id, in a session that has not begun, the tenant's row is read with the
        prepared :data:`TENANT_ROW` (no ORM load: every scope and every event
        delivery starts here); the session is bound first, so the read is the
        transaction's first statement and carries the tenant setting with it.
        """
        if isinstance(ref, uuid.UUID) and session.tenant_id in (None, ref) and not session.in_transaction():
            session.bind_tenant(ref)
            found = TENANT_ROW.rows(session.connection(), {"p_tenant": ref})
            row = tenant_row(found[0]) if found else None
            if row is None or not row.is_active:
                return None
            return self.context_for(session, row)
        tenant = self.find_tenant(session, ref)
        if tenant is None or not tenant.is_active:
            return None
        session.bind_tenant(tenant.id)
        return self.context_for(session, tenant)

    def context_for(
        self, session: TenantSession, tenant: Any, *, enabled: frozenset[str] | None = None
    ) -> TenantContext:
        """The context of a loaded tenant (a ``Tenant`` or a row with its columns; ``session`` bound to it).

        ``enabled`` overrides the stored plugin set (while enablement is changing).
        The row needs ``settings_rev``; ``settings`` is read only when the
        resolved settings of that revision are not cached yet.
        """
        if enabled is None:
            enabled = self.enabled_plugins(session, tenant)
        return TenantContext(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            timezone=tenant.timezone,
            enabled_plugins=enabled,
            settings=self.plugin_settings.resolve(
                tenant.id,
                tenant.settings_rev,
                enabled,
                lambda: self._stored_settings(session, tenant),
                slug=tenant.slug,
            ),
            security_rev=tenant.security_rev,
            fields_rev=getattr(tenant, "fields_rev", 0) or 0,
        )

    def _stored_settings(self, session: TenantSession, tenant: Any) -> Any:
        if isinstance(tenant, Tenant):
            return tenant.settings
        # A short read of its own: reading in ``session`` would begin its transaction, which on
        # SQLite begins writing ones IMMEDIATE, before a task or handler is ready to write.
        with self.db.session(write=False) as reader:
            return reader.scalar(select(Tenant.settings).where(Tenant.id == tenant.id))

    def enabled_plugins(self, session: TenantSession, tenant: Any) -> frozenset[str]:
        """Plugins enabled for ``tenant`` and loaded here, cached per revision."""
        key = (tenant.id, tenant.plugins_rev)
        cached = self._enabled_cache.get(key)
        if cached is not None:
            return cached
        names = frozenset(session.scalars(select(TenantPlugin.plugin)).all())
        enabled = names & self.registry.loaded_names()
        with self._cache_lock:
            stale = [k for k in self._enabled_cache if k[0] == tenant.id]
            for k in stale:
                del self._enabled_cache[k]
            self._enabled_cache[key] = enabled
        return enabled

    @contextmanager
    def tenant_scope(self, ref: str | uuid.UUID | TenantContext, *, write: bool = True) -> Iterator[TenantScope]:
        """Bind a scope for a tenant (CLI commands, tasks, listeners).

        The caller commits (``scope.session.commit()``); anything not
        committed is rolled back when the block ends.
        """
        session = self.db.session(write=write)
        try:
            if isinstance(ref, TenantContext):
                session.bind_tenant(ref.id)
                tenant: TenantContext | None = ref
            else:
                tenant = self.tenant_context(session, ref)
            if tenant is None:
                raise LookupError(f"no active tenant {ref!r}")
            with self.bound(tenant, session) as scope:
                yield scope
        finally:
            session.close()

    @contextmanager
    def bound(
        self, tenant: TenantContext, session: TenantSession, user: Principal | None = None
    ) -> Iterator[TenantScope]:
        """Bind a scope over an existing tenant session (the SDK accessors read it)."""
        scope = TenantScope(self, tenant, session, user)
        token = bind_scope(scope)
        try:
            yield scope
        finally:
            unbind_scope(token)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


#: The tenant's columns as :meth:`Kernel.context_for` needs them (fresh: active, plugins, roles, fields).
TENANT_COLUMNS = (
    "id",
    "slug",
    "name",
    "timezone",
    "settings_rev",
    "is_active",
    "plugins_rev",
    "security_rev",
    "fields_rev",
)

#: The tenant's row by id (prepared once per connection on PostgreSQL).
TENANT_ROW = PreparedStatement(
    "udyog_tenant_row",
    select(*(getattr(Tenant, name) for name in TENANT_COLUMNS)).where(Tenant.id == bindparam("p_tenant")),
    {"p_tenant": Uuid()},
)


def tenant_row(values: Iterable[Any]) -> SimpleNamespace:
    """A row of :data:`TENANT_COLUMNS` values (as the driver gave them) as an object for ``context_for``."""
    row = SimpleNamespace(**dict(zip(TENANT_COLUMNS, values, strict=True)))
    if row.id is not None and not isinstance(row.id, uuid.UUID):
        row.id = uuid.UUID(str(row.id))
    return row
