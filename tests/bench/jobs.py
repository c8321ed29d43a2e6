"""Benchmark: background jobs on Redis against a bare Celery app with the same broker.

Targets (issue 4): enqueue-to-start latency p95 <= 50 ms with an idle worker;
one worker drains 10,000 trivial tasks at >= 50 % of the rate of a bare
Celery app with the same broker.

Both sides run a real worker process with one prefork pool process and the
same Celery configuration (``udyog.worker.celery_config``: Redis broker and
result store, late acknowledgement, prefetch 1). Ours is ``udyog worker``
executing the notes plugin's ``notes.trivial`` task queued with
``udyog_sdk.enqueue`` for a tenant (the run recorded in the caller's
transaction, sent after commit, claimed and finished in the database with
the tenant and user propagated); the bare app's task does nothing but note
its start in Redis.

- Latency: one run at a time into an idle worker, from just before queuing
  (ours: ``enqueue`` and ``commit``; bare: ``apply_async``) to the task's start
  (ours: the run's ``started_at``; bare: a time the task writes to Redis).
- Drain: N tasks queued with no worker running, then a worker started; the
  rate is N over the time from the first task's start to the queue being
  empty with nothing unacknowledged.

The database is PostgreSQL when ``UDYOG_TEST_DATABASE_URL`` is set (the
application role, row-level security on), SQLite otherwise. Needs
``UDYOG_TEST_REDIS_URL``. ``UDYOG_BENCH_JOBS`` changes N (default 10,000).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from tests.bench import Outcome, absolute_outcome, not_measured, print_heading, print_table, verdict
from udyog.models import JobRun
from udyog.tenancy import create_tenant
from udyog.testing import build_kernel, postgres_database

LATENCY_SAMPLES = 100
LATENCY_TARGET = 0.050
DRAIN_TARGET = 0.50
NAME_LATENCY = "jobs: enqueue-to-start p95 on Redis"
NAME_DRAIN = "jobs: drain rate vs bare Celery"
ROOT = Path(__file__).resolve().parents[2]


def _env(kernel: Any, queue: str, redis_url: str, plugins_file: Path) -> dict[str, str]:
    settings = kernel.settings
    env = {
        **os.environ,
        "UDYOG_DATABASE_URL": settings.database_url,
        "UDYOG_PLUGINS_FILE": str(plugins_file),
        "UDYOG_DATA_DIR": settings.data_dir,
        "UDYOG_JOBS_QUEUE": queue,
        "UDYOG_REDIS_URL": redis_url,
        "UDYOG_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    if settings.app_db_role:
        env["UDYOG_APP_DB_ROLE"] = settings.app_db_role
    return env


@contextmanager
def _worker(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait(
    check: Callable[[], Any],
    what: str,
    timeout: float = 600,
    interval: float = 0.002,
    process: subprocess.Popen[bytes] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}) while waiting for {what}")
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def _drained(client: Any, queue: str) -> bool:
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def _measure(redis_url: str, admin_url: str | None, tasks: int) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="udyog-bench-jobs-")))
        url = stack.enter_context(postgres_database(admin_url)) if admin_url else f"sqlite:///{tmp / 'bench.db'}"
        queue_ours = f"bench-ours-{uuid.uuid4().hex[:8]}"
        queue_bare = f"bench-bare-{uuid.uuid4().hex[:8]}"
        kernel = build_kernel(url, ["notes"], redis_url=redis_url, jobs_queue=queue_ours, data_dir=str(tmp))
        stack.callback(kernel.close)
        create_tenant(kernel, "bench", "Bench", plugins=["notes"])
        plugins = tmp / "plugins.toml"
        plugins.write_text('[deployment]\nenabled = ["notes"]\n')
        env_ours = _env(kernel, queue_ours, redis_url, plugins)
        env_bare = {**env_ours, "UDYOG_JOBS_QUEUE": queue_bare}
        ours_cmd = [sys.executable, "-m", "udyog.cli", "worker", "-c", "1", "--loglevel", "WARNING"]
        bare_cmd = [
            sys.executable, "-m", "celery", "-A", "tests.bench._bare_celery", "worker",
            "-c", "1", "--pool", "prefork", "--loglevel", "WARNING", "-Q", queue_bare,
        ]  # fmt: skip
        sys.path.insert(0, str(ROOT))
        os.environ["UDYOG_REDIS_URL"] = redis_url
        os.environ["UDYOG_JOBS_QUEUE"] = queue_bare
        from tests.bench import _bare_celery

        bare_task = _bare_celery.trivial

        def started_at(run_id: uuid.UUID) -> float | None:
            with kernel.tenant_scope("bench", write=False) as scope:
                value = scope.session.scalar(select(JobRun.started_at).where(JobRun.id == run_id))
            return value.replace(tzinfo=UTC).timestamp() if value is not None else None

        def queue_ours_one(n: int = 0) -> uuid.UUID:
            with kernel.tenant_scope("bench") as scope:
                run_id = scope.enqueue("notes.trivial", {"n": n})
                scope.session.commit()
            return run_id

        results: dict[str, Any] = {}
        # -- latency, idle workers --------------------------------------------------------
        with _worker(ours_cmd, env_ours, tmp / "ours-latency.log") as worker:
            _wait(lambda: started_at(queue_ours_one()), "our worker to start", interval=0.1, process=worker)
            samples = []
            for _ in range(LATENCY_SAMPLES):
                time.sleep(0.02)  # idle between runs
                t0 = time.time()
                run_id = queue_ours_one()
                samples.append(_wait(lambda r=run_id: started_at(r), "a run to start", process=worker) - t0)
            results["ours_latency"] = samples
        with _worker(bare_cmd, env_bare, tmp / "bare-latency.log") as worker:
            mark = f"bench:mark:{uuid.uuid4().hex}"
            bare_task.apply_async(kwargs={"mark": mark})
            _wait(lambda: client.get(mark), "the bare worker to start", interval=0.1, process=worker)
            samples = []
            for i in range(LATENCY_SAMPLES):
                time.sleep(0.02)
                mark = f"bench:mark:{uuid.uuid4().hex}:{i}"
                t0 = time.time()
                bare_task.apply_async(kwargs={"mark": mark})
                samples.append(float(_wait(lambda m=mark: client.get(m), "a bare task to start", process=worker)) - t0)
            results["bare_latency"] = samples
        # -- drain ----------------------------------------------------------------------
        client.delete("bench:bare:first")
        with kernel.tenant_scope("bench", write=False) as scope:
            # The latency runs are the same task: the drain's first start is after the last of them.
            latency_done = scope.session.scalar(select(func.max(JobRun.started_at)))
        for start in range(0, tasks, 500):
            with kernel.tenant_scope("bench") as scope:
                for n in range(start, min(tasks, start + 500)):
                    scope.enqueue("notes.trivial", {"n": n})
                scope.session.commit()
        if admin_url:
            # Statistics, as autovacuum keeps them in a running deployment: without any, the planner
            # may look a run up through the state index and scan every run of the tenant.
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.exec_driver_sql("ANALYZE core_job_run")
        with _worker(ours_cmd, env_ours, tmp / "ours-drain.log") as worker:
            _wait(lambda: _drained(client, queue_ours), "our queue to drain", 1800, 0.05, worker)
            done = time.time()
        with kernel.tenant_scope("bench", write=False) as scope:
            first = scope.session.scalar(select(func.min(JobRun.started_at)).where(JobRun.started_at > latency_done))
            succeeded = scope.session.scalar(
                select(func.count()).select_from(JobRun).where(JobRun.state == "succeeded")
            )
        assert first is not None
        results["ours_drain"] = done - first.replace(tzinfo=UTC).timestamp()
        results["ours_succeeded"] = succeeded
        for n in range(tasks):  # queued only now, so that both workers drain with nothing else in Redis
            bare_task.apply_async(kwargs={"n": n})
        with _worker(bare_cmd, env_bare, tmp / "bare-drain.log") as worker:
            _wait(lambda: _drained(client, queue_bare), "the bare queue to drain", 1800, 0.05, worker)
            done = time.time()
        results["bare_drain"] = done - float(client.get("bench:bare:first") or done)
        client.delete(queue_ours, queue_bare)
        return results


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its targets."""
    tasks = int(os.environ.get("UDYOG_BENCH_JOBS", "10000"))
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL") or None
    redis_url = os.environ.get("UDYOG_TEST_REDIS_URL")
    print_heading(
        f"Background jobs on Redis: latency ({LATENCY_SAMPLES} runs, idle worker) and drain of {tasks} "
        f"trivial tasks, one worker with one pool process; database {'PostgreSQL' if admin_url else 'SQLite'}"
    )
    if not redis_url:
        print("-- skipped (set UDYOG_TEST_REDIS_URL)")
        return [not_measured(NAME_LATENCY, "UDYOG_TEST_REDIS_URL not set"), not_measured(NAME_DRAIN, "no Redis")]
    r = _measure(redis_url, admin_url, tasks)
    ours_rate = tasks / r["ours_drain"]
    bare_rate = tasks / r["bare_drain"]

    def ms(v: float) -> str:
        return f"{v * 1e3:.1f} ms"

    print_table(
        ["", "latency p50", "latency p95", "drain (tasks/s)", "vs bare"],
        [
            ["bare Celery", ms(statistics.median(r["bare_latency"])), ms(_p95(r["bare_latency"])),
             f"{bare_rate:.0f}", "1.00"],
            ["Udyog (tenant run)", ms(statistics.median(r["ours_latency"])), ms(_p95(r["ours_latency"])),
             f"{ours_rate:.0f}", f"{ours_rate / bare_rate:.2f}"],
        ],
    )  # fmt: skip
    if r["ours_succeeded"] < tasks:
        raise RuntimeError(f"only {r['ours_succeeded']} of {tasks} runs succeeded")
    ratio = ours_rate / bare_rate
    drain = Outcome(
        NAME_DRAIN,
        f"{NAME_DRAIN}: bare {bare_rate:.0f}/s, ours {ours_rate:.0f}/s, ratio {ratio:.2f} "
        f"(target >= {DRAIN_TARGET:.2f}) {verdict(ratio >= DRAIN_TARGET)}",
        ratio >= DRAIN_TARGET,
    )
    latency = absolute_outcome(
        NAME_LATENCY,
        "ours",
        _p95(r["ours_latency"]),
        LATENCY_TARGET,
        ms,
        context=f"bare Celery {ms(_p95(r['bare_latency']))}",
    )
    return [latency, drain]
