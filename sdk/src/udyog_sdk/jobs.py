"""Background jobs: the tasks and schedules a plugin registers, and how it queues work.

A plugin returns :class:`TaskDefinition` objects from ``udyog_tasks`` and
:class:`Schedule` objects from ``udyog_schedules``. Code acting for a tenant
queues a run with :func:`enqueue`; the run is recorded in the caller's
transaction and handed to the workers when that transaction commits (a
rollback queues nothing). The task function is called in a worker, inside a
tenant scope acting as the user who queued it, with a :class:`JobContext`
and the keyword arguments given to :func:`enqueue` (plain JSON data: ids,
never ORM objects).

Effects are exactly-once for tasks that only change the database: the work
a task does, its return value (the run's ``result``) and the run's success
are committed in one transaction, and a
run that already succeeded is never executed again (a worker killed before
the commit loses nothing, and its redelivered message runs the task anew).
:meth:`JobContext.progress` is a checkpoint: it commits the work done so far
with the progress, so a task that reports progress must resume from
:attr:`JobContext.state` rather than redo what it committed. See
``docs/jobs.md``.

A task that decides its work must not happen (an import whose rows have
errors) raises :class:`JobFailed`: its work is rolled back and the run
fails at once with that message and result. :func:`run_status` reads a run.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from udyog_sdk.runtime import current_scope

TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class TransientError(Exception):
    """Raise from a task when trying again later may succeed (a busy remote service).

    The run is retried with exponential backoff up to the task's
    ``max_retries``; database deadlocks, serialisation failures and lost
    connections count as transient too.
    """


class JobFailed(Exception):  # noqa: N818 - named for what the run does, like TransientError
    """Raise from a task to end its run as failed at once, with a message and a result.

    Everything the run wrote is rolled back and it is not retried (a user may
    retry it from the jobs list). ``message`` becomes the run's ``error``
    (no traceback: it is meant for people) and ``result`` (plain JSON data,
    such as an import's row errors) its ``result``.
    """

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


@dataclass(frozen=True)
class RunStatus:
    """What is known about one run of a background task (see :func:`run_status`)."""

    id: uuid.UUID
    task: str
    #: queued, running, retrying, succeeded, failed or cancelled.
    state: str
    kwargs: Mapping[str, Any]
    user_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: Percent, as the task last reported it (None before any report).
    progress: float | None
    message: str
    error: str | None
    #: What the task returned, or the result of its :class:`JobFailed`.
    result: Any

    @property
    def finished(self) -> bool:
        """Whether the run ended (succeeded, failed or cancelled): it changes no more unless retried."""
        return self.state in ("succeeded", "failed", "cancelled")


class JobContext(Protocol):
    """What a running task knows about its run."""

    @property
    def run_id(self) -> uuid.UUID:
        """The run's id: stable across retries and redeliveries (an idempotency key)."""
        ...

    @property
    def attempt(self) -> int:
        """1 for the first execution, 2 for the first retry or redelivery, …"""
        ...

    @property
    def state(self) -> Mapping[str, Any]:
        """What the last :meth:`progress` checkpoint saved (empty at first)."""
        ...

    def progress(self, percent: float, message: str = "", *, state: Mapping[str, Any] | None = None) -> None:
        """Report progress (0 to 100) and commit the work done so far, with ``state`` to resume from."""
        ...


@dataclass(frozen=True)
class TaskDefinition:
    """A task a plugin registers through ``udyog_tasks``.

    Attributes:
        name: ``<plugin>.<task>`` (dotted lower-case words); the plugin's own prefix.
        func: called as ``func(ctx, **kwargs)`` in a tenant scope; whatever it
            writes through :func:`udyog_sdk.db_session` is committed with the
            run's success, or rolled back with its failure. What it returns
            (plain JSON data, or None) is kept as the run's ``result``.
        title: shown in the jobs list.
        max_retries: retries after :class:`TransientError` (or ``retry_on``)
            before the run fails.
        retry_on: more exception types counted as transient.
        backoff: the first retry's delay in seconds; each next one doubles (with
            jitter), up to ``backoff_max``.
        backoff_max: the longest delay between retries, in seconds.
        time_limit: seconds after which the run is stopped and failed (None: the
            deployment's default).
    """

    name: str
    func: Callable[..., Any]
    title: str = ""
    max_retries: int = 5
    retry_on: tuple[type[BaseException], ...] = ()
    backoff: float = 2.0
    backoff_max: float = 600.0
    time_limit: int | None = None

    def __post_init__(self) -> None:
        if not TASK_NAME_RE.match(self.name):
            raise ValueError(f"invalid task name {self.name!r}: use <plugin>.<task> in dotted lower-case words")
        if self.max_retries < 0 or self.backoff < 0 or self.backoff_max < 0:
            raise ValueError(f"task {self.name}: max_retries, backoff and backoff_max must not be negative")
        if not callable(self.func):
            raise ValueError(f"task {self.name}: func must be callable")

    @property
    def plugin(self) -> str:
        """The plugin prefix of the name."""
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Schedule:
    """A periodic run a plugin registers through ``udyog_schedules``.

    Exactly one of ``every`` (an interval) and ``cron`` (five fields:
    minute hour day-of-month month day-of-week, in the deployment's
    timezone) is given. The task is queued once per slot for every active
    tenant that enabled the plugin, even if several beat processes fire.

    Attributes:
        name: ``<plugin>.<schedule>``.
        task: the task queued (a name from ``udyog_tasks``).
        every: the interval between runs.
        cron: a crontab expression such as ``"30 2 * * *"``.
        kwargs: keyword arguments passed to the task.
    """

    name: str
    task: str
    every: timedelta | None = None
    cron: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TASK_NAME_RE.match(self.name):
            raise ValueError(f"invalid schedule name {self.name!r}: use <plugin>.<schedule>")
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name}: give exactly one of every and cron")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError(f"schedule {self.name}: every must be at least one second")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"schedule {self.name}: cron needs five fields (minute hour day month weekday)")

    @property
    def plugin(self) -> str:
        """The plugin prefix of the name."""
        return self.name.split(".", 1)[0]


def run_status(run_id: uuid.UUID) -> RunStatus | None:
    """The current tenant's run ``run_id`` (None if it has no such run).

    Any code acting for the tenant may read it; routes that show runs check
    their own permission first.
    """
    return current_scope().run_status(run_id)


def enqueue(
    task: str,
    kwargs: Mapping[str, Any] | None = None,
    *,
    key: str | None = None,
    delay: float | None = None,
) -> uuid.UUID:
    """Queue a run of ``task`` for the current tenant, as the current user, in the current transaction.

    ``kwargs`` must be plain JSON data. ``key`` makes queuing idempotent: a
    second call with the same key (for this tenant) returns the first run's
    id and queues nothing. ``delay`` postpones the start by that many
    seconds. The run reaches a worker when the transaction commits.
    """
    return current_scope().enqueue(task, dict(kwargs or {}), key=key, delay=delay)
