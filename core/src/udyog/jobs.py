"""Background jobs: queuing runs, executing them in workers, schedules, recovery.

A *run* (:class:`~udyog.models.JobRun`) is written in the caller's
transaction by :meth:`Jobs.enqueue` and handed to Celery when that
transaction commits. A worker executes it with :meth:`Jobs.execute`:

1. it claims the run (``running``, attempt + 1) in a short transaction, so
   the jobs list shows it while it runs;
2. it calls the task function in a tenant scope acting as the user who
   queued it, and commits the function's work **together with** the move to
   ``succeeded``, guarded by ``state <> 'succeeded'``: whichever execution of
   a run commits first wins and any other (a redelivered message, a
   duplicate sent by the sweeper) rolls back — effects happen exactly once;
3. transient errors are retried with exponential backoff and jitter; other
   errors fail the run with the error kept for the jobs list.

Messages are acknowledged late and rejected when a worker dies, so a killed
worker's run is executed again. :meth:`Jobs.sweep` (periodic) re-sends runs
whose message was never sent or got lost, and delivers outbox events left
pending.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Uuid, bindparam, delete, event, func, literal_column, null, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from udyog.db import PreparedStatement, TenantBoundaryError, TenantSession
from udyog.kernel import TENANT_COLUMNS, TENANT_ROW, tenant_row
from udyog.models import JobRun, ListenerInbox, Membership, Tenant, User
from udyog.registry import CORE_NAME
from udyog_sdk import Event, Principal, TenantContext, UdyogError
from udyog_sdk.jobs import JobFailed, RunStatus, Schedule, TaskDefinition, TransientError
from udyog_sdk.models import UTCDateTime, new_id, utcnow

if TYPE_CHECKING:
    from celery import Celery, Task

    from udyog.kernel import Kernel, TenantScope

log = logging.getLogger("udyog.jobs")

#: Celery task names of the core's system tasks (not tenant runs).
SCHEDULE_TASK = "udyog.schedule"
SWEEP_TASK = "udyog.sweep"
#: The core's tenant task delivering an outbox event to a background listener.
DELIVER_EVENT_TASK = "core.deliver_event"
DELIVER_BATCH_TASK = "core.deliver_batch"
#: A batched listener's run delivers at most this many waiting events; more are left to a follow-up run.
BATCH_LIMIT = 2000
#: Attempts of one event by a batched listener before it is dropped (logged with its last error).
BATCH_MAX_ATTEMPTS = 10
#: Message headers carrying the tenant and the acting user.
TENANT_HEADER = "udyog_tenant"
USER_HEADER = "udyog_user"

FINAL_STATES = ("succeeded", "cancelled")
#: Deliveries beyond the retries a run may get (its worker killed) before it is failed.
REDELIVERY_ALLOWANCE = 3
#: A run queued this long without starting, whose message may be lost, is sent again.
UNSENT_GRACE = timedelta(minutes=1)


class JobError(UdyogError):
    """A run cannot be queued or retried as asked (a 4xx for the API)."""


def plain_json(data: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``data`` as plain JSON data, or TypeError naming ``what``."""
    try:
        return json.loads(json.dumps(dict(data)))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: not plain JSON data ({exc}); pass ids, not objects") from exc


def plain_result(value: Any, task: str) -> Any:
    """A task's result as plain JSON data; a result that is not plain data is a TypeError naming the task."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"task {task}: its result is not plain JSON data ({exc})") from exc


def backoff_delay(definition: TaskDefinition, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): doubling, capped, with ±25 % jitter."""
    base = min(definition.backoff_max, definition.backoff * (2 ** max(0, attempt - 1)))
    return max(0.0, base * random.uniform(0.75, 1.25))


def is_transient(exc: BaseException, definition: TaskDefinition) -> bool:
    """Whether trying again later may succeed: declared errors, deadlocks, lost connections."""
    if isinstance(exc, TransientError) or (definition.retry_on and isinstance(exc, definition.retry_on)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "pgcode", None)
        if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def schedule_slot(schedule: Schedule, now: datetime) -> str:
    """The slot a schedule fires for at ``now``: one run per slot, however many beats fire."""
    epoch = now.timestamp()
    if schedule.every is not None:
        period = schedule.every.total_seconds()
        start = int(epoch // period * period)
    else:
        start = int(epoch // 60 * 60)
    return datetime.fromtimestamp(start).strftime("%Y%m%dT%H%M%S")


@dataclass
class RunContext:
    """The :class:`udyog_sdk.JobContext` of one execution."""

    session: TenantSession
    run_id: uuid.UUID
    attempt: int
    state: Mapping[str, Any] = field(default_factory=dict)

    def progress(self, percent: float, message: str = "", *, state: Mapping[str, Any] | None = None) -> None:
        """Record progress and commit the work so far (a checkpoint)."""
        try:
            value = float(percent)
        except (TypeError, ValueError):
            raise ValueError(f"progress must be a number from 0 to 100, not {percent!r}") from None
        value = min(100.0, max(0.0, value))
        values: dict[str, Any] = {"progress": value, "message": str(message)[:300]}
        if state is not None:
            values["checkpoint"] = plain_json(state, "progress state")
            self.state = values["checkpoint"]
        self.session.execute(
            update(JobRun).where(JobRun.id == self.run_id).values(**values).execution_options(synchronize_session=False)
        )
        self.session.commit()


@dataclass(frozen=True)
class _Claimed:
    kwargs: dict[str, Any]
    user_id: uuid.UUID | None
    checkpoint: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class _Pending:
    run_id: uuid.UUID
    task: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    delay: float | None


class Jobs:
    """The tasks and schedules of the loaded plugins, and the runs of every tenant."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.tasks: dict[str, tuple[str, TaskDefinition]] = {}
        self.schedules: dict[str, tuple[str, Schedule]] = {}
        self._celery: Celery | None = None
        self._add_task(
            CORE_NAME,
            TaskDefinition(
                DELIVER_EVENT_TASK,
                self._deliver_event,
                title="Deliver an event to a background listener",
                # Listeners wait on remote services (SMTP, gateways): retry for about half an hour.
                max_retries=8,
                backoff=10.0,
                backoff_max=900.0,
            ),
        )
        self._add_task(
            CORE_NAME,
            TaskDefinition(
                DELIVER_BATCH_TASK,
                self._deliver_batch,
                title="Deliver waiting events to a batched background listener",
                max_retries=8,
                backoff=10.0,
                backoff_max=900.0,
            ),
        )
        unload = kernel.registry.unload
        for plugin, definitions in kernel.bus.collect_safely("udyog_tasks", on_error=unload):
            self._isolated(plugin, lambda p=plugin, d=definitions: [self._add_task(p, x) for x in d])
        for plugin, schedules in kernel.bus.collect_safely("udyog_schedules", on_error=unload):
            self._isolated(plugin, lambda p=plugin, d=schedules: [self._add_schedule(p, x) for x in d])

    def _isolated(self, plugin: str, work: Callable[[], Any]) -> None:
        """Run a plugin's declarations; an invalid one unloads the plugin (and its dependants) alone."""
        registry = self.kernel.registry
        if plugin != CORE_NAME and plugin not in registry.loaded_names():
            return
        try:
            work()
        except (TypeError, ValueError) as exc:
            if plugin == CORE_NAME:
                raise
            gone = {plugin, *registry.unload(plugin, f"invalid declaration: {exc}")}
            self.tasks = {k: v for k, v in self.tasks.items() if v[0] not in gone}
            self.schedules = {k: v for k, v in self.schedules.items() if v[0] not in gone}
            self.kernel.bus.refresh(registry.order)

    def _add_task(self, plugin: str, definition: Any) -> None:
        if not isinstance(definition, TaskDefinition):
            raise TypeError(f"plugin {plugin}: udyog_tasks must return TaskDefinition objects")
        if definition.plugin != plugin:
            raise ValueError(f"plugin {plugin}: task {definition.name!r} must start with '{plugin}.'")
        if definition.name in self.tasks:
            raise ValueError(f"plugin {plugin}: task {definition.name!r} is registered twice")
        self.tasks[definition.name] = (plugin, definition)

    def _add_schedule(self, plugin: str, schedule: Any) -> None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"plugin {plugin}: udyog_schedules must return Schedule objects")
        if schedule.plugin != plugin:
            raise ValueError(f"plugin {plugin}: schedule {schedule.name!r} must start with '{plugin}.'")
        owner = self.tasks.get(schedule.task)
        if owner is None or owner[0] != plugin:
            raise ValueError(
                f"plugin {plugin}: schedule {schedule.name!r} names no task of its own ({schedule.task!r})"
            )
        if schedule.name in self.schedules:
            raise ValueError(f"plugin {plugin}: schedule {schedule.name!r} is registered twice")
        self.schedules[schedule.name] = (plugin, schedule)

    # -- Celery ------------------------------------------------------------------

    @property
    def celery(self) -> Celery:
        """The Celery app runs are sent through (a sending-only one unless a worker bound its own)."""
        if self._celery is None:
            from udyog.worker import make_celery

            make_celery(self.kernel)
        assert self._celery is not None
        return self._celery

    def bind_celery(self, celery_app: Celery) -> None:
        """Use ``celery_app`` and register every task on it (called once per app)."""
        self._celery = celery_app
        for name, (_, definition) in self.tasks.items():
            self._register(celery_app, name, definition)

        @celery_app.task(name=SCHEDULE_TASK, ignore_result=True, shared=False)
        def _fire(schedule_name: str) -> int:
            return self.fire_schedule(schedule_name)

        @celery_app.task(name=SWEEP_TASK, ignore_result=True, shared=False)
        def _sweep() -> dict[str, int]:
            return self.sweep()

    def _register(self, celery_app: Celery, name: str, definition: TaskDefinition) -> None:
        limit = definition.time_limit or self.kernel.settings.jobs_time_limit
        jobs = self

        def run(task: Task, run_id: str) -> str:
            return jobs.execute(task, definition, run_id)

        run.__name__ = name.replace(".", "_")
        run.__qualname__ = run.__name__
        celery_app.task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            soft_time_limit=limit,
            time_limit=limit + 30,
            max_retries=None,
            ignore_result=True,  # the run's row is its result: nothing for Celery's result store
            shared=False,  # this app's task only: every kernel binds its own
        )(run)

    # -- queuing -----------------------------------------------------------------

    def enqueue(
        self,
        scope: TenantScope,
        task: str,
        kwargs: Mapping[str, Any],
        *,
        key: str | None = None,
        delay: float | None = None,
    ) -> uuid.UUID:
        """Record a run of ``task`` in ``scope``'s transaction; it is sent when the transaction commits."""
        entry = self.tasks.get(task)
        if entry is None:
            raise JobError(f"unknown task {task!r}", errors={"task": ["no loaded plugin registers this task"]})
        plugin, _ = entry
        if plugin != CORE_NAME and not scope.tenant.is_enabled(plugin):
            raise JobError(f"task {task!r} belongs to plugin {plugin!r}, which this tenant has not enabled")
        if key is not None and not (0 < len(key) <= 200):
            raise JobError("a job key has 1 to 200 characters", errors={"key": ["1 to 200 characters"]})
        if delay is not None and delay < 0:
            raise JobError("a delay cannot be negative", errors={"delay": ["must be zero or more"]})
        values = self._run_values(scope, task, kwargs, key, delay)
        session = scope.session
        if key is not None:
            # One statement: the run, unless one with this key exists (then that one's id).
            if not self._insert_keyed(session, [values]):
                existing = session.scalar(select(JobRun.id).where(JobRun.key == key))
                if existing is None:
                    raise JobError(f"run with key {key!r} vanished", errors={"key": ["conflicting run not found"]})
                return existing
        else:
            session.add(JobRun(**values))
        self._to_send(scope, values["id"], task, values["user_id"], delay)
        return values["id"]  # type: ignore[no-any-return]

    def _run_values(
        self, scope: TenantScope, task: str, kwargs: Mapping[str, Any], key: str | None, delay: float | None
    ) -> dict[str, Any]:
        """The columns of a new queued run of ``task`` (checked plain JSON arguments)."""
        now = utcnow()
        return {
            "id": new_id(),
            "task": task,
            "kwargs": plain_json(kwargs, f"arguments of task {task}"),
            "key": key,
            "state": "queued",
            "user_id": scope.user.user_id if scope.user is not None else None,
            "created_at": now,
            "eta": now + timedelta(seconds=delay) if delay else None,
            "sent_at": now,
        }

    @staticmethod
    def _insert_keyed(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        """Insert keyed runs in one statement, skipping keys the tenant already has; the ids inserted.

        A Core statement on the session's connection, stamped with the session's
        tenant here (the ORM's bulk insert would do it at several times the cost).
        """
        tenant_id = session.info.get("tenant_id")
        if tenant_id is None:
            raise TenantBoundaryError("job runs queued in a session bound to no tenant")
        session.flush()
        connection = session.connection()
        statement = _insert_keyed_statement(connection.dialect.name)
        stamped = [{**row, "tenant_id": tenant_id} for row in rows]
        return set(connection.execute(statement, stamped if len(stamped) > 1 else stamped[0]).scalars().all())

    @staticmethod
    def _to_send(scope: TenantScope, run_id: uuid.UUID, task: str, user_id: Any, delay: float | None) -> None:
        """Send run ``run_id`` to the broker once ``scope``'s transaction commits."""
        pending = _Pending(run_id, task, scope.tenant.id, user_id, delay)
        scope.session.info.setdefault("udyog_jobs", []).append(pending)

    def send(self, pending: _Pending) -> None:
        """Hand a committed run to the broker; on failure the sweeper sends it later."""
        headers = {TENANT_HEADER: str(pending.tenant_id), USER_HEADER: str(pending.user_id or "")}
        try:
            self.celery.tasks[pending.task].apply_async(
                args=[str(pending.run_id)],
                task_id=str(pending.run_id),
                headers=headers,
                countdown=pending.delay,
            )
        except Exception:
            log.exception("could not send run %s of %s; the sweeper will send it", pending.run_id, pending.task)
            try:
                with self.kernel.db.session(pending.tenant_id) as session:
                    session.execute(
                        update(JobRun)
                        .where(JobRun.id == pending.run_id, JobRun.state == "queued")
                        .values(sent_at=None)
                        .execution_options(synchronize_session=False)
                    )
                    session.commit()
            except Exception:
                log.exception("could not mark run %s unsent", pending.run_id)

    # -- execution ---------------------------------------------------------------

    def execute(self, task: Task, definition: TaskDefinition, run_id: str) -> str:
        """Execute one delivery of a run's message (see the module docstring); returns the outcome."""
        from celery.exceptions import SoftTimeLimitExceeded

        kernel = self.kernel
        headers = _headers(task)
        try:
            tenant_id = uuid.UUID(headers.get(TENANT_HEADER) or "")
            rid = uuid.UUID(run_id)
        except ValueError:
            log.error("message for %s without a valid tenant header or run id (%r); dropped", definition.name, run_id)
            return "invalid"
        claimed = self._claim(tenant_id, rid, utcnow(), task.request.hostname)
        if claimed is None:
            return "skipped"
        run, row = claimed
        # The task's transaction: the tenant's context (cached per revision), the principal, the task.
        # On SQLite a writing session holds the database's write lock from its first
        # statement (BEGIN IMMEDIATE): the context and the principal are read in a
        # reading session there, so that a task writing in sessions of its own is not
        # locked out by its own execution's reads.
        session = kernel.db.session(tenant_id)
        reader = session if kernel.db.dialect == "postgresql" else kernel.db.session(tenant_id, write=False)
        try:
            tenant = kernel.context_for(reader, row) if row is not None and row.is_active else None
            failure = None
            principal = None
            if tenant is None:
                failure = "the tenant is unknown or inactive"
            elif run.attempts > definition.max_retries + 1 + REDELIVERY_ALLOWANCE:
                # Retries count attempts too, so only deliveries whose worker died get here.
                failure = f"gave up after {run.attempts - 1} attempts: the worker died running it each time"
            elif definition.plugin != CORE_NAME and not tenant.is_enabled(definition.plugin):
                failure = f"plugin {definition.plugin!r} is no longer enabled for this tenant"
            elif run.user_id is not None:
                principal = self.principal(reader, tenant, run.user_id)
                if principal is None:
                    failure = "the user who queued this run is disabled in this tenant"
        except BaseException:
            session.close()
            raise
        finally:
            if reader is not session:
                reader.close()
        if failure is not None or tenant is None:
            session.close()
            self._finish(tenant_id, rid, "failed", error=failure)
            return "failed"
        try:
            with kernel.bound(tenant, session, principal) as scope:
                ctx = RunContext(session, rid, run.attempts, dict(run.checkpoint or {}))
                result = definition.func(ctx, **run.kwargs)
                if result is not None:
                    # Only for tasks that return something: one more statement, in the same transaction.
                    session.execute(
                        update(JobRun)
                        .where(JobRun.id == rid)
                        .values(result=plain_result(result, definition.name))
                        .execution_options(synchronize_session=False)
                    )
                done = _SUCCEED.rows(session.connection(), {"p_tenant": tenant_id, "p_run": rid, "p_at": utcnow()})
                if not done:  # another execution of this run committed first
                    session.rollback()
                    return "duplicate"
                scope.session.commit()
                return "succeeded"
        except SoftTimeLimitExceeded:
            session.rollback()
            self._finish(tenant_id, rid, "failed", error="stopped: the task ran longer than its time limit")
            return "failed"
        except JobFailed as exc:
            session.rollback()
            log.info("run %s of %s refused: %s", rid, definition.name, exc.message)
            result = plain_result(exc.result, definition.name) if exc.result is not None else None
            self._finish(tenant_id, rid, "failed", error=exc.message or "failed", result=result)
            return "failed"
        except Exception as exc:
            session.rollback()
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            if is_transient(exc, definition) and run.attempts <= definition.max_retries:
                countdown = backoff_delay(definition, run.attempts)
                self._finish(
                    tenant_id, rid, "retrying", error=error, eta=utcnow() + timedelta(seconds=countdown), final=False
                )
                log.warning(
                    "run %s of %s: transient %s; retry in %.1fs", rid, definition.name, type(exc).__name__, countdown
                )
                raise task.retry(countdown=countdown, exc=exc, max_retries=None) from exc
            log.exception("run %s of %s failed", rid, definition.name)
            self._finish(tenant_id, rid, "failed", error=error)
            return "failed"
        finally:
            session.close()

    def _claim(
        self, tenant_id: uuid.UUID, run_id: uuid.UUID, now: datetime, worker: str
    ) -> tuple[_Claimed, SimpleNamespace | None] | None:
        """Mark the run running with one more attempt, committed at once; its values and its tenant's row.

        None when the run is not there to claim (it succeeded or was cancelled).
        The claim is bookkeeping: its commit need not wait for the WAL flush
        (asynchronous commit); were it lost in a server crash, the message, not
        yet acknowledged, would run the task again. On PostgreSQL it is one
        statement (the claim and the tenant's row) in a transaction of its own:
        one round trip. Row-level security applies.
        """
        params = {"p_tenant": tenant_id, "p_run": run_id, "p_at": now, "p_worker": worker}
        db = self.kernel.db
        if db.dialect == "postgresql":
            found = db.autocommit_rows(_CLAIM_WITH_TENANT, tenant_id, params)
            if not found:
                return None
            values = found[0]
            tenant_values: tuple[Any, ...] | None = values[4 : 4 + len(TENANT_COLUMNS)]
            if tenant_values is not None and tenant_values[0] is None:  # the tenant's row is not there
                tenant_values = None
        else:
            with db.session(tenant_id) as session:
                connection = session.connection()
                found = _CLAIM.rows(connection, params)
                if not found:
                    return None
                values = found[0]
                tenants = TENANT_ROW.rows(connection, {"p_tenant": tenant_id})
                tenant_values = tenants[0] if tenants else None
                session.commit()
        kwargs, user_id, checkpoint, attempts = values[:4]
        run = _Claimed(kwargs=_json(kwargs), user_id=_uuid(user_id), checkpoint=_json(checkpoint),
                       attempts=int(attempts))  # fmt: skip
        row = None
        if tenant_values is not None:
            row = tenant_row(tenant_values)
        return run, row

    def _finish(
        self,
        tenant_id: uuid.UUID,
        run_id: uuid.UUID,
        state: str,
        *,
        error: str | None = None,
        eta: datetime | None = None,
        final: bool = True,
        result: Any = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "error": error}
        if result is not None:
            values["result"] = result
        if final:
            values["finished_at"] = utcnow()
        if eta is not None:
            values["eta"] = eta
        with self.kernel.db.session(tenant_id) as session:
            session.execute(
                update(JobRun)
                .where(JobRun.id == run_id, JobRun.state.not_in(FINAL_STATES))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def status(self, scope: TenantScope, run_id: uuid.UUID) -> RunStatus | None:
        """The scope's tenant's run ``run_id`` as the SDK shows it (None if the tenant has none)."""
        run = scope.session.scalar(select(JobRun).where(JobRun.id == run_id))
        if run is None:
            return None
        return RunStatus(
            id=run.id,
            task=run.task,
            state=run.state,
            kwargs=dict(run.kwargs or {}),
            user_id=run.user_id,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            progress=run.progress,
            message=run.message,
            error=run.error,
            result=run.result,
        )

    def principal(self, session: TenantSession, tenant: TenantContext, user_id: uuid.UUID) -> Principal | None:
        """The principal of an active member ``user_id`` of ``tenant``, or None."""
        row = session.execute(
            select(User.email, User.name, Membership.branch_id)
            .join(Membership, Membership.user_id == User.id)
            .where(User.id == user_id, User.is_active.is_(True), Membership.is_active.is_(True))
        ).one_or_none()
        if row is None:
            return None
        return self.kernel.security.principal(
            session,
            tenant,
            tenant.security_rev,
            user_id=user_id,
            email=row.email,
            name=row.name,
            branch_id=row.branch_id,
        )

    # -- retry, schedules, recovery ----------------------------------------------

    def retry(self, scope: TenantScope, run_id: uuid.UUID) -> JobRun:
        """Queue a failed or cancelled run again (by its id, keeping its history)."""
        session = scope.session
        run = session.get(JobRun, (scope.tenant.id, run_id))
        if run is None:
            raise JobError("no such job run", status=404)
        if run.state not in ("failed", "cancelled"):
            raise JobError(f"only failed or cancelled runs can be retried; this one is {run.state}", status=409)
        entry = self.tasks.get(run.task)
        if entry is None:
            raise JobError(f"the task {run.task!r} is no longer installed", status=409)
        if entry[0] != CORE_NAME and not scope.tenant.is_enabled(entry[0]):
            raise JobError(f"plugin {entry[0]!r} is not enabled for this tenant", status=409)
        run.state = "queued"
        run.error = None
        run.result = None
        run.finished_at = None
        run.eta = None
        run.sent_at = utcnow()
        user_id = scope.user.user_id if scope.user is not None else run.user_id
        run.user_id = user_id
        session.info.setdefault("udyog_jobs", []).append(_Pending(run.id, run.task, scope.tenant.id, user_id, None))
        return run

    def fire_schedule(self, name: str) -> int:
        """Queue schedule ``name``'s task for every active tenant that enabled its plugin; returns runs queued."""
        entry = self.schedules.get(name)
        if entry is None:
            log.warning("schedule %s is not registered here; ignored", name)
            return 0
        plugin, schedule = entry
        slot = schedule_slot(schedule, utcnow())
        key = f"schedule:{name}:{slot}"
        queued = 0
        for tenant_id in self._active_tenants():
            try:
                with self.kernel.tenant_scope(tenant_id) as scope:
                    if plugin != CORE_NAME and not scope.tenant.is_enabled(plugin):
                        continue
                    if scope.session.scalar(select(JobRun.id).where(JobRun.key == key)) is not None:
                        continue
                    self.enqueue(scope, schedule.task, schedule.kwargs, key=key)
                    scope.session.commit()
                    queued += 1
            except Exception:
                log.exception("schedule %s: could not queue for tenant %s", name, tenant_id)
        return queued

    def _active_tenants(self) -> list[uuid.UUID]:
        with self.kernel.db.session(all_tenants=True, write=False) as session:
            return list(session.scalars(select(Tenant.id).where(Tenant.is_active.is_(True)).order_by(Tenant.id)))

    def sweep(self) -> dict[str, int]:
        """Send runs whose message never left or got lost; deliver pending outbox events."""
        now = utcnow()
        lost_after = timedelta(seconds=self.kernel.settings.jobs_visibility_timeout)
        with self.kernel.db.session(all_tenants=True, write=False) as session:
            rows = session.execute(
                select(
                    JobRun.tenant_id,
                    JobRun.id,
                    JobRun.task,
                    JobRun.user_id,
                    JobRun.state,
                    JobRun.sent_at,
                    JobRun.started_at,
                    JobRun.eta,
                )
                .where(JobRun.state.in_(("queued", "running", "retrying")))
                .order_by(JobRun.created_at)
                .limit(1000)
            ).all()
        resent = 0
        for row in rows:
            if row.task not in self.tasks:
                continue
            due = row.eta or row.sent_at
            if row.state == "queued" and row.sent_at is None:
                stale = (row.eta or now) <= now - UNSENT_GRACE or row.eta is None
            elif row.state in ("queued", "retrying"):
                stale = due is not None and due < now - lost_after
            else:  # running: the worker died and its message is gone (the embedded transport keeps no unacked copy)
                definition = self.tasks[row.task][1]
                limit = timedelta(seconds=(definition.time_limit or self.kernel.settings.jobs_time_limit) + 120)
                stale = row.started_at is not None and row.started_at < now - limit
            if not stale:
                continue
            with self.kernel.db.session(row.tenant_id) as session:
                session.execute(
                    update(JobRun)
                    .where(JobRun.id == row.id, JobRun.state == row.state)
                    .values(sent_at=now)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
            self.send(_Pending(row.id, row.task, row.tenant_id, row.user_id, None))
            resent += 1
        delivered = self.kernel.dispatcher.dispatch_pending()
        batched = self._sweep_inboxes(now)
        return {"resent": resent, "events": delivered, "batched": batched}

    # -- events delivered in the background ----------------------------------------

    def enqueue_deliveries(self, scope: TenantScope, deliveries: list[tuple[Event, str]]) -> int:
        """Queue delivery of each (event, background listener name), once per event and listener.

        One statement for all of them (the events of one commit), in
        ``scope``'s transaction; a delivery queued before is not queued again.
        Returns how many runs were queued now.
        """
        if not deliveries:
            return 0
        rows = []
        for ev, listener_name in deliveries:
            digest = hashlib.sha1(listener_name.encode()).hexdigest()[:16]
            kwargs = {"event_id": str(ev.id), "listener": listener_name}
            rows.append(self._run_values(scope, DELIVER_EVENT_TASK, kwargs, f"event:{ev.id}:{digest}", None))
        made = self._insert_keyed(scope.session, rows)
        for row in rows:
            if row["id"] in made:
                self._to_send(scope, row["id"], DELIVER_EVENT_TASK, row["user_id"], None)
        return len(made)

    def enqueue_batched(self, scope: TenantScope, deliveries: list[tuple[Event, str]]) -> int:
        """Put each (event, batched listener name) into the listener's inbox; queue its run for this second.

        One run per tenant, listener and second (keyed ``batch:<listener>:<second>``)
        starts when that second is over, so it finds every event that arrived
        in it. Returns how many inbox rows were written.
        """
        if not deliveries:
            return 0
        session = scope.session
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = utcnow()
        rows = [{"id": new_id(), "listener": name, "event_id": ev.id, "created_at": now} for ev, name in deliveries]
        statement = insert(ListenerInbox).on_conflict_do_nothing(index_elements=["tenant_id", "listener", "event_id"])
        session.execute(statement, rows)
        second = int(now.timestamp())
        delay = max(0.0, second + 1 - now.timestamp())
        for name in sorted({name for _, name in deliveries}):
            self._queue_batch_run(scope, name, f"{second}", delay)
        return len(rows)

    def _queue_batch_run(self, scope: TenantScope, listener: str, slot: str, delay: float | None) -> None:
        """Queue the run that drains ``listener``'s inbox, unless the run of ``slot`` is still to start.

        If that run has started already (a commit that ended after its second,
        or eager jobs), another one is queued: no event waits for a later one.
        """
        digest = hashlib.sha1(listener.encode()).hexdigest()[:16]
        key = f"batch:{digest}:{slot}"
        values = self._run_values(scope, DELIVER_BATCH_TASK, {"listener": listener}, key, delay)
        if not self._insert_keyed(scope.session, [values]):
            state = scope.session.scalar(select(JobRun.state).where(JobRun.key == key))
            if state == "queued":
                return
            values = self._run_values(scope, DELIVER_BATCH_TASK, {"listener": listener}, f"{key}:{new_id()}", delay)
            scope.session.add(JobRun(**values))
        self._to_send(scope, values["id"], DELIVER_BATCH_TASK, values["user_id"], delay)

    def _sweep_inboxes(self, now: datetime) -> int:
        """Queue a run for every batched listener whose events have waited over half a minute; how many."""
        with self.kernel.db.session(all_tenants=True, write=False) as session:
            stale = session.execute(
                select(ListenerInbox.tenant_id, ListenerInbox.listener)
                .group_by(ListenerInbox.tenant_id, ListenerInbox.listener)
                .having(func.min(ListenerInbox.created_at) < now - timedelta(seconds=30))
            ).all()
        slot = f"sweep:{int(now.timestamp()) // 60}"
        for tenant_id, listener in stale:
            if self.kernel.dispatcher.background_handler(listener) is None:
                continue
            try:
                with self.kernel.tenant_scope(tenant_id) as scope:
                    self._queue_batch_run(scope, listener, slot, None)
                    scope.session.commit()
            except Exception:  # one tenant (inactive, say) must not stop the others' recovery
                log.exception("could not queue the waiting events of %s for tenant %s", listener, tenant_id)
        return len(stale)

    def _deliver_batch(self, ctx: Any, listener: str) -> dict[str, int]:
        """Hand the events waiting for batched listener ``listener`` to its handler, oldest first.

        First all in the run's transaction as they come (no savepoints: the
        common case, where none raises). If one raises, that is rolled back
        and the events are handed over again, each in a savepoint: one that
        raises is rolled back alone and stays waiting (its attempts counted)
        for a later run; so does every event already known to fail. Returns
        how many were delivered, failed and dropped.
        """
        handler = self.kernel.dispatcher.background_handler(listener)
        if handler is None:
            raise LookupError(f"no background listener {listener!r} is loaded")
        from udyog_sdk.runtime import current_scope

        scope = current_scope()
        session = scope.session
        rows, events = self._waiting(session, listener)
        if rows and all(row.attempts == 0 for row in rows):
            try:
                for row in rows:
                    if row.event_id in events:
                        handler(events[row.event_id])
            except Exception:  # noqa: BLE001 - any failure: redo with one savepoint per event
                log.info("batched listener %s: an event failed; delivering each in a savepoint", listener)
                session.rollback()
                rows, events = self._waiting(session, listener)
            else:
                self._delivered(session, [row.id for row in rows], {})
                self._follow_up(scope, listener, rows)
                return {"delivered": len(rows), "failed": 0, "dropped": 0}
        done: list[uuid.UUID] = []
        failed: dict[uuid.UUID, str] = {}
        dropped = 0
        for row in rows:
            ev = events.get(row.event_id)
            if ev is not None:
                try:
                    with session.begin_nested():
                        handler(ev)
                except Exception as exc:
                    log.exception("batched listener %s failed on event %s (%s)", listener, ev.name, ev.id)
                    if row.attempts + 1 < BATCH_MAX_ATTEMPTS:
                        failed[row.id] = f"{type(exc).__name__}: {exc}"[:4000]
                        continue
                    log.error(
                        "batched listener %s gave up on event %s after %d attempts", listener, ev.id, row.attempts + 1
                    )
                    dropped += 1
            done.append(row.id)
        self._delivered(session, done, failed)
        self._follow_up(scope, listener, rows)
        return {"delivered": len(done) - dropped, "failed": len(failed), "dropped": dropped}

    @staticmethod
    def _waiting(session: Session, listener: str) -> tuple[list[Any], dict[uuid.UUID, Event]]:
        """The oldest waiting inbox rows of ``listener`` (locked; others' locked rows skipped) and their events."""
        from udyog.models import OutboxEvent

        waiting = (
            select(ListenerInbox.id, ListenerInbox.event_id, ListenerInbox.attempts)
            .where(ListenerInbox.listener == listener)
            .order_by(ListenerInbox.created_at, ListenerInbox.id)
            .limit(BATCH_LIMIT)
            .with_for_update(skip_locked=True)  # runs of two seconds never take the same events (PostgreSQL)
        )
        rows = session.execute(waiting).all()
        found = session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_([r.event_id for r in rows])))
        return rows, {e.id: Event(e.id, e.tenant_id, e.name, e.payload, e.created_at) for e in found}

    @staticmethod
    def _delivered(session: Session, done: list[uuid.UUID], failed: dict[uuid.UUID, str]) -> None:
        """Delete the inbox rows of delivered (or dropped) events; count an attempt on the failed ones."""
        if done:
            session.execute(
                delete(ListenerInbox).where(ListenerInbox.id.in_(done)).execution_options(synchronize_session=False)
            )
        for inbox_id, error in failed.items():
            session.execute(
                update(ListenerInbox)
                .where(ListenerInbox.id == inbox_id)
                .values(attempts=ListenerInbox.attempts + 1, last_error=error)
                .execution_options(synchronize_session=False)
            )

    def _follow_up(self, scope: TenantScope, listener: str, rows: list[Any]) -> None:
        """A full batch: more may be waiting, so a follow-up run takes them at once."""
        if len(rows) == BATCH_LIMIT:
            self._queue_batch_run(scope, listener, f"more:{new_id()}", None)

    def _deliver_event(self, ctx: Any, event_id: str, listener: str) -> None:
        from udyog.models import OutboxEvent
        from udyog_sdk.runtime import current_scope

        scope = current_scope()
        # Read in a session of its own: the scope's (writing) transaction must not start before
        # the handler, which may work in short transactions of its own (one writer at a time on SQLite).
        with self.kernel.db.session(scope.tenant.id, write=False) as session:
            row = session.get(OutboxEvent, (scope.tenant.id, uuid.UUID(event_id)))
        if row is None:
            raise LookupError(f"event {event_id} not found")
        handler = self.kernel.dispatcher.background_handler(listener)
        if handler is None:
            raise LookupError(f"no background listener {listener!r} is loaded")
        handler(
            Event(id=row.id, tenant_id=row.tenant_id, name=row.name, payload=row.payload, created_at=row.created_at)
        )


_RUNS = JobRun.__table__

#: Claim: running, one more attempt; unless it already succeeded or was cancelled.
_CLAIM_UPDATE = (
    update(_RUNS)
    .where(
        _RUNS.c.tenant_id == bindparam("p_tenant"),
        _RUNS.c.id == bindparam("p_run"),
        _RUNS.c.state != literal_column("'succeeded'"),
        _RUNS.c.state != literal_column("'cancelled'"),
    )
    .values(
        state=literal_column("'running'"),
        started_at=bindparam("p_at"),
        attempts=_RUNS.c.attempts + literal_column("1"),
        worker=bindparam("p_worker"),
    )
    .returning(_RUNS.c.kwargs, _RUNS.c.user_id, _RUNS.c.checkpoint, _RUNS.c.attempts)
)
_CLAIM_PARAMS = {"p_tenant": Uuid(), "p_run": Uuid(), "p_at": UTCDateTime(), "p_worker": String()}
_CLAIM = PreparedStatement("udyog_job_claim", _CLAIM_UPDATE, _CLAIM_PARAMS)


def _claim_with_tenant() -> PreparedStatement:
    """PostgreSQL: the claim and the tenant's row in one statement, with an asynchronous commit."""
    claimed = _CLAIM_UPDATE.cte("claimed")
    statement = select(
        *claimed.c,
        *(getattr(Tenant, name) for name in TENANT_COLUMNS),
        func.set_config(literal_column("'synchronous_commit'"), literal_column("'off'"), true()).label("ac"),
    ).select_from(claimed.outerjoin(Tenant, Tenant.id == bindparam("p_tenant")))
    return PreparedStatement("udyog_job_claim_tenant", statement, _CLAIM_PARAMS)


_CLAIM_WITH_TENANT = _claim_with_tenant()

#: Success, in the task's own transaction: only the first execution to commit gets a row.
_SUCCEED = PreparedStatement(
    "udyog_job_succeed",
    update(_RUNS)
    .where(
        _RUNS.c.tenant_id == bindparam("p_tenant"),
        _RUNS.c.id == bindparam("p_run"),
        _RUNS.c.state != literal_column("'succeeded'"),
    )
    .values(
        state=literal_column("'succeeded'"),
        finished_at=bindparam("p_at"),
        progress=literal_column("100.0"),
        error=null(),
    )
    .returning(_RUNS.c.id),
    {"p_tenant": Uuid(), "p_run": Uuid(), "p_at": UTCDateTime()},
)


def _json(value: Any) -> Any:
    """A JSON column's value as the driver gave it (decoded by psycopg2, text from SQLite's fallback)."""
    return json.loads(value) if isinstance(value, str) else value


@lru_cache(maxsize=4)
def _insert_keyed_statement(dialect: str) -> Any:
    """Insert runs, skipping keys the tenant already has, returning the ids inserted (built once per dialect)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    runs = JobRun.__table__
    return insert(runs).on_conflict_do_nothing(index_elements=["tenant_id", "key"]).returning(runs.c.id)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _headers(task: Task) -> Mapping[str, Any]:
    """The custom message headers (attributes of the request in a worker, ``headers`` when eager)."""
    request = task.request
    found: dict[str, Any] = dict(getattr(request, "headers", None) or {})
    for name in (TENANT_HEADER, USER_HEADER):
        value = getattr(request, name, None)
        if value is not None:
            found[name] = value
    return found


@event.listens_for(TenantSession, "after_commit")
def _send_after_commit(session: Session) -> None:
    pending: list[_Pending] | None = session.info.pop("udyog_jobs", None)
    dispatcher = session.info.get("udyog_dispatcher")
    if pending and dispatcher is not None:
        for item in pending:
            dispatcher.kernel.jobs.send(item)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction: Any) -> None:
    """The outermost transaction ended without a commit (a commit has taken them): forget the sends.

    Not on a savepoint's rollback: the transaction's other runs are still to be
    sent (one queued inside the savepoint, rolled back, is skipped at its claim).
    """
    if transaction.parent is None:
        session.info.pop("udyog_jobs", None)
