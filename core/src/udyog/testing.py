"""Helpers for tests of the kernel and of plugins: databases and kernels.

``UDYOG_TEST_DATABASE_URL`` names an administrative PostgreSQL URL (such as
``postgresql://postgres@127.0.0.1:5432/test``); each test database is created
beside it and dropped afterwards. The application role used for row-level
security is :data:`TEST_APP_ROLE`.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from udyog.config import PluginsFile, Settings, normalize_database_url
from udyog.kernel import Kernel

TEST_APP_ROLE = "udyog_test_app"
TEST_PASSWORD = "correct horse battery staple"


def postgres_admin_url() -> str | None:
    """The administrative PostgreSQL URL for tests, if configured."""
    return os.environ.get("UDYOG_TEST_DATABASE_URL") or None


def redis_test_url() -> str | None:
    """The Redis URL for tests, if configured."""
    return os.environ.get("UDYOG_TEST_REDIS_URL") or None


@contextmanager
def postgres_database(admin_url: str, prefix: str = "udyog_t") -> Iterator[str]:
    """Create a fresh PostgreSQL database; yield its URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin_url = normalize_database_url(admin_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def sqlite_url(directory: Path, name: str = "udyog.db") -> str:
    """A SQLite URL for a file in ``directory``."""
    return f"sqlite:///{directory / name}"


def build_kernel(
    database_url: str,
    plugins: Iterable[str] = (),
    *,
    strict: bool = True,
    migrate: bool = True,
    **overrides: Any,
) -> Kernel:
    """A kernel on ``database_url`` with ``plugins`` enabled, migrated to head.

    On PostgreSQL the application role :data:`TEST_APP_ROLE` is used (unless
    ``app_db_role`` is overridden), so row-level security applies.
    """
    values: dict[str, Any] = {
        "database_url": database_url,
        "plugins": PluginsFile(enabled=tuple(plugins)),
        "strict_plugins": strict,
    }
    if database_url.startswith("postgresql"):
        values["app_db_role"] = TEST_APP_ROLE
    values["password_hash_profile"] = "fast"
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        # The embedded job queue lives beside the test database, never in the working directory.
        values["data_dir"] = str(Path(database_url.removeprefix("sqlite:///")).parent)
    else:
        values["data_dir"] = tempfile.mkdtemp(prefix="udyog-test-")
    values.update(overrides)
    kernel = Kernel(Settings.from_env(values, environ={}))
    if migrate:
        from udyog.migrate import upgrade

        upgrade(kernel, report=lambda line: None)
    return kernel


def create_member(
    kernel: Kernel,
    tenant: str | uuid.UUID,
    email: str,
    roles: Iterable[str] = ("Owner",),
    *,
    password: str = TEST_PASSWORD,
    name: str | None = None,
) -> uuid.UUID:
    """A user who is a member of ``tenant`` with ``roles`` (creating the user if needed)."""
    from udyog.auth import add_membership, create_user, user_by_email

    existing = user_by_email(kernel, email)
    if existing is not None:
        add_membership(kernel, tenant, existing.id, roles)
        return existing.id
    return create_user(kernel, email, name or email.split("@")[0], password, tenant=tenant, roles=roles)


def login(app: Any, email: str, password: str = TEST_PASSWORD, tenant: str | None = None) -> Any:
    """A Flask test client carrying a bearer token for ``email`` (acting for ``tenant``)."""
    client = app.test_client()
    body: dict[str, Any] = {"email": email, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    response = client.post("/api/v1/auth/login", json=body)
    if response.status_code != 200:
        raise AssertionError(f"login of {email} failed: {response.status_code} {response.get_json()}")
    token = response.get_json()["data"]["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.udyog_tokens = response.get_json()["data"]
    return client


class RetryScheduledError(Exception):
    """Raised by :func:`execute_run` where a worker would schedule a retry."""

    def __init__(self, countdown: float | None) -> None:
        super().__init__(f"retry in {countdown} s")
        self.countdown = countdown


def execute_run(kernel: Kernel, tenant_id: uuid.UUID, run_id: uuid.UUID, *, user_id: uuid.UUID | None = None) -> str:
    """Execute one delivery of a queued run's message in this process, as a worker would.

    Returns the outcome (``succeeded``, ``failed``, ``skipped``, ``duplicate``),
    or ``retrying`` where a worker would schedule a retry, so that tests can
    step through attempts one at a time (Celery's eager mode runs every retry
    at once).
    """
    from types import SimpleNamespace

    from udyog.jobs import TENANT_HEADER, USER_HEADER
    from udyog.models import JobRun

    with kernel.db.session(tenant_id, write=False) as session:
        run = session.get(JobRun, (tenant_id, run_id))
        if run is None:
            raise LookupError(f"no run {run_id}")
        task_name = run.task

    def retry(countdown: float | None = None, **_: Any) -> RetryScheduledError:
        return RetryScheduledError(countdown)

    headers = {TENANT_HEADER: str(tenant_id), USER_HEADER: str(user_id or "")}
    attempt = SimpleNamespace(request=SimpleNamespace(hostname="test@local", headers=headers), retry=retry)
    definition = kernel.jobs.tasks[task_name][1]
    try:
        return kernel.jobs.execute(attempt, definition, str(run_id))  # type: ignore[arg-type]
    except RetryScheduledError:
        return "retrying"
