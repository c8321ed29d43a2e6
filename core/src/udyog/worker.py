"""Celery, configured by the core: the app, its configuration, the embedded queue.

Flask's ``celery_init_app`` pattern: one Celery app per Flask app, set as
the default (so ``shared_task`` resolves it), whose tasks run inside the
Flask app's context — one context per task, pushed only if none is active.
Production uses Redis as broker and result store; the embedded default
(``make run``, no ``UDYOG_REDIS_URL``) uses kombu's SQLAlchemy transport on
a SQLite file beside the database, so nothing has to be installed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery, Task, signals
from celery.schedules import crontab
from flask import Flask, has_app_context
from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import Engine, create_engine, event

from udyog.jobs import SCHEDULE_TASK, SWEEP_TASK

if TYPE_CHECKING:
    from udyog.config import Settings
    from udyog.kernel import Kernel

log = logging.getLogger("udyog.worker")

#: How often the sweeper re-sends lost runs and delivers pending events.
SWEEP_EVERY = timedelta(seconds=60)


class EmbeddedChannel(kombu_sqla.Channel):  # type: ignore[misc]
    """kombu's SQLAlchemy channel on SQLite, writing like the app does.

    Several processes (web, worker, beat) share the file: WAL, a busy
    timeout, and ``BEGIN IMMEDIATE`` for every transaction, since a SQLite
    transaction that reads first and writes later fails at once under
    contention whatever the timeout.
    """

    def _engine_from_config(self) -> Engine:
        url = self.connection.client.hostname
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine


def _sqlite_connect(dbapi_conn: Any, record: Any) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class EmbeddedTransport(kombu_sqla.Transport):  # type: ignore[misc]
    """The embedded broker: polls the SQLite queue every 100 ms when idle."""

    Channel = EmbeddedChannel
    polling_interval = 0.1


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's configuration for ``settings`` (broker, reliability, limits)."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "result_expires": timedelta(days=1),
        "task_ignore_result": settings.result_backend is None,
        "task_default_queue": settings.jobs_queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Nothing lost: acknowledge after the task, and requeue when the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.jobs_time_limit + 30,
        "task_soft_time_limit": settings.jobs_time_limit,
        "timezone": settings.timezone,
        "enable_utc": True,
        "task_always_eager": settings.jobs_eager,
        "task_eager_propagates": False,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule_filename": os.path.join(settings.data_dir, "celerybeat-schedule"),
    }
    if settings.jobs_embedded:
        config["broker_transport"] = "udyog.worker:EmbeddedTransport"
    else:
        # A dead worker's unacknowledged messages go back to the queue once the visibility timeout
        # passed; every worker looks for such messages about ten times per timeout (at most each minute).
        config["broker_transport_options"] = {
            "visibility_timeout": settings.jobs_visibility_timeout,
            "unacked_restore_interval": max(1, min(60, settings.jobs_visibility_timeout // 10)),
            "unacked_restore_throttle": 1,
        }
        config["result_backend_transport_options"] = {"visibility_timeout": settings.jobs_visibility_timeout}
        # Beat answers pings (``udyog jobs ping --beat``) while its scheduler ticks (Celery 5.7+); remote
        # control (pings) stays within this deployment when several share one Redis. The embedded queue
        # has no broadcast: nothing to ping there.
        config["beat_enable_remote_control"] = True
        config["control_exchange"] = settings.jobs_queue
    return config


def beat_schedule(kernel: Kernel) -> dict[str, dict[str, Any]]:
    """Beat's entries: the sweeper and every plugin schedule."""
    entries: dict[str, dict[str, Any]] = {
        SWEEP_TASK: {"task": SWEEP_TASK, "schedule": SWEEP_EVERY},
    }
    for name, (_, schedule) in sorted(kernel.jobs.schedules.items()):
        if schedule.every is not None:
            when: Any = schedule.every
        else:
            minute, hour, day, month, weekday = (schedule.cron or "").split()
            when = crontab(minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday)
        entries[name] = {"task": SCHEDULE_TASK, "schedule": when, "args": (name,)}
    return entries


def make_celery(kernel: Kernel, app: Flask | None = None) -> Celery:
    """The Celery app of ``kernel`` (bound to the Flask ``app`` when given), tasks registered."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            if app is None or has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name if app is not None else "udyog", task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(kernel.settings))
    celery_app.conf.beat_schedule = beat_schedule(kernel)
    celery_app.set_default()
    celery_app.udyog_kernel = kernel  # type: ignore[attr-defined]
    kernel.jobs.bind_celery(celery_app)
    if app is not None:
        app.extensions["celery"] = celery_app
    return celery_app


def celery_init_app(app: Flask) -> Celery:
    """Flask's documented pattern: a Celery app configured from, and running tasks inside, ``app``."""
    return make_celery(app.extensions["udyog"], app)


@signals.worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked pool process must not share the parent's database connections."""
    from celery import current_app

    kernel = getattr(current_app, "udyog_kernel", None)
    if kernel is not None:
        kernel.db.dispose(close=False)


def watch_parent(parent_pid: int, interval: float = 2.0) -> None:
    """Stop this process (SIGTERM: a warm shutdown) when ``parent_pid`` is gone (``make run`` ended)."""
    import signal

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="udyog-parent-watch", daemon=True).start()
