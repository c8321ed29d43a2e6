"""Real workers: ``udyog worker`` processes on the embedded SQLite queue and on real Redis.

Each test starts worker processes exactly as a deployment does (same CLI,
environment-only configuration) on its own queue, queues runs from this
process, and reads the outcome from the database. The kill tests SIGKILL a
worker mid-task and prove the task's effect happens exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from udyog_test_notes.models import Note
from udyog_test_notes.services import create_note, ensure_default_notebook

from udyog.models import JobRun
from udyog.tenancy import create_tenant
from udyog.testing import TEST_APP_ROLE, redis_test_url

IN_CI = os.environ.get("CI", "").lower() == "true"
pytestmark = pytest.mark.xdist_group("workers")  # the workers are CPU-heavy: one such test at a time


def require_redis() -> str:
    url = redis_test_url()
    if url is None:
        if IN_CI:
            pytest.fail("CI=true but UDYOG_TEST_REDIS_URL is not set")
        pytest.skip("Redis not configured (set UDYOG_TEST_REDIS_URL)")
    return url


class Deployment:
    """A migrated database with tenant acme (notes enabled), and the environment of its processes."""

    def __init__(self, kernel: Any, tmp_path: Path, **env: str) -> None:
        self.kernel = kernel
        self.tmp_path = tmp_path
        plugins = tmp_path / "plugins.toml"
        plugins.write_text('[deployment]\nenabled = ["notes"]\n')
        settings = kernel.settings
        self.env = {
            **os.environ,
            "UDYOG_DATABASE_URL": settings.database_url,
            "UDYOG_PLUGINS_FILE": str(plugins),
            "UDYOG_DATA_DIR": settings.data_dir,
            "UDYOG_JOBS_QUEUE": settings.jobs_queue,
            "UDYOG_LOG_LEVEL": "INFO",
            **env,
        }
        self.env.pop("UDYOG_REDIS_URL", None)
        if settings.redis_url:
            self.env["UDYOG_REDIS_URL"] = settings.redis_url
        if settings.app_db_role:
            self.env["UDYOG_APP_DB_ROLE"] = settings.app_db_role
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``udyog worker`` (its own process group, so it can be killed whole)."""
        log = self.tmp_path / f"worker{len(self.processes)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "udyog.cli", "worker", "--loglevel", "INFO", *args],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def queue(self, task: str, **kwargs: Any) -> uuid.UUID:
        with self.kernel.tenant_scope("acme") as scope:
            run_id = scope.enqueue(task, kwargs)
            scope.session.commit()
        return run_id

    def run(self, run_id: uuid.UUID) -> JobRun:
        with self.kernel.tenant_scope("acme", write=False) as scope:
            run = scope.session.scalar(select(JobRun).where(JobRun.id == run_id))
            assert run is not None
            return run

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}\n{self.logs()}")

    def titles(self) -> list[str]:
        with self.kernel.tenant_scope("acme", write=False) as scope:
            return sorted(scope.session.scalars(select(Note.title)).all())


@pytest.fixture(params=["embedded", "redis"])
def broker(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        require_redis()
    return str(request.param)


@pytest.fixture
def deployment_factory(kernel_factory: Any, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(broker: str, backend: str = "sqlite", **env: str) -> Deployment:
        overrides: dict[str, Any] = {"jobs_queue": f"udyog-test-{uuid.uuid4().hex[:8]}"}
        if broker == "redis":
            overrides["redis_url"] = require_redis()
        kernel = kernel_factory(["notes"], backend=backend, **overrides)
        create_tenant(kernel, "acme", "Acme", plugins=["notes"])
        deployment = Deployment(kernel, tmp_path, **env)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop()


def test_a_worker_runs_queued_and_event_triggered_jobs_asynchronously(deployment_factory, broker):
    backend = "postgresql" if broker == "redis" and os.environ.get("UDYOG_TEST_DATABASE_URL") else "sqlite"
    deployment = deployment_factory(broker, backend)
    if backend == "postgresql":
        assert deployment.kernel.settings.app_db_role == TEST_APP_ROLE  # the worker is bound by RLS too
    deployment.worker("--concurrency", "1")
    run_id = deployment.queue("notes.append", title="async", seconds=0.5)
    # Queuing returned at once: the run is waiting or running, not done.
    assert deployment.run(run_id).state in ("queued", "running")
    with deployment.kernel.tenant_scope("acme") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title="bg:event")
        scope.session.commit()  # the outbox hands the event to the background listener as a job
    deployment.wait(lambda: deployment.run(run_id).state == "succeeded", "the queued run")
    deployment.wait(lambda: "indexed:event" in deployment.titles(), "the event-triggered job")
    run = deployment.run(run_id)
    assert run.attempts == 1 and run.worker and run.started_at >= run.created_at
    assert deployment.titles().count("async") == 1 and deployment.titles().count("indexed:event") == 1


def test_beat_fires_schedules_beside_the_worker(deployment_factory, broker):
    deployment = deployment_factory(broker, NOTES_TICK_SECONDS="1")
    deployment.worker("--concurrency", "1", "--beat")

    def ticks() -> list[JobRun]:
        with deployment.kernel.tenant_scope("acme", write=False) as scope:
            return list(
                scope.session.scalars(select(JobRun).where(JobRun.task == "notes.tick", JobRun.state == "succeeded"))
            )

    found = deployment.wait(lambda: len(ticks()) >= 2 and ticks(), "two periodic runs")
    assert all(r.key.startswith("schedule:notes.tick:") and r.user_id is None for r in found)
    assert len({r.key for r in found}) == len(found)  # one run per slot
    assert {"tick 1", "tick 2"} <= set(deployment.titles())


def _kill_mid_task(deployment: Deployment, whole_worker: bool) -> None:
    started = deployment.tmp_path / "started"
    first = deployment.worker("--concurrency", "1", "--hostname", "first@%h")
    run_id = deployment.queue("notes.append", title="exactly once", seconds=4, started_file=str(started))
    deployment.wait(started.exists, "the task to start")
    assert deployment.run(run_id).state == "running"
    if whole_worker:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool: nothing acknowledges the message
        first.wait()
        started.unlink()
        deployment.worker("--concurrency", "1", "--hostname", "second@%h")
    else:
        os.kill(int(started.read_text()), signal.SIGKILL)  # the pool process running the task
        started.unlink()
    deployment.wait(lambda: deployment.run(run_id).state == "succeeded", "the run to complete after the kill")
    assert started.exists()  # the task really ran again
    run = deployment.run(run_id)
    assert run.attempts == 2, deployment.logs()
    assert deployment.titles().count("exactly once") == 1
    time.sleep(1.5)  # nothing runs it a third time
    assert deployment.run(run_id).attempts == 2 and deployment.titles().count("exactly once") == 1


def test_a_killed_worker_s_task_completes_exactly_once_on_redis(deployment_factory):
    # Redis hands an unacknowledged message to another worker after the visibility timeout.
    backend = "postgresql" if os.environ.get("UDYOG_TEST_DATABASE_URL") else "sqlite"
    deployment = deployment_factory("redis", backend, UDYOG_JOBS_VISIBILITY_TIMEOUT="3")
    _kill_mid_task(deployment, whole_worker=True)


def test_a_killed_pool_process_s_task_is_requeued_and_completes_once(deployment_factory, broker):
    # task_reject_on_worker_lost: the worker rejects the message of a pool process that died, and it runs again.
    deployment = deployment_factory(broker)
    _kill_mid_task(deployment, whole_worker=False)
