"""Helpers for tests of the kernel and of plugins: databases, kernels, tenants, users and clients.

The pytest plugin :mod:`udyog.pytest_plugin` builds its fixtures from these
helpers; the kernel's own tests call them directly.

``UDYOG_TEST_DATABASE_URL`` names an administrative PostgreSQL URL (such as
``postgresql://postgres@127.0.0.1:5432/test``); each test database is created
beside it and dropped afterwards. The application role used for row-level
security is :data:`TEST_APP_ROLE`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from udyog.config import PluginsFile, Settings, normalize_database_url
from udyog.kernel import Kernel

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

    from udyog.kernel import TenantScope

TEST_APP_ROLE = "udyog_test_app"
TEST_PASSWORD = "correct horse battery staple"


def postgres_admin_url() -> str | None:
    """The administrative PostgreSQL URL for tests, if configured."""
    return os.environ.get("UDYOG_TEST_DATABASE_URL") or None


def redis_test_url() -> str | None:
    """The Redis URL for tests, if configured."""
    return os.environ.get("UDYOG_TEST_REDIS_URL") or None


@contextmanager
def postgres_database(admin_url: str, prefix: str = "udyog_t", *, template: str | None = None) -> Iterator[str]:
    """Create a fresh PostgreSQL database (a copy of database URL ``template`` if given); yield its URL; drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin_url = normalize_database_url(admin_url)
    # No pool: a database kept for a whole session (a template) must not hold an idle admin connection.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def sqlite_url(directory: Path, name: str = "udyog.db") -> str:
    """A SQLite URL for a file in ``directory``."""
    return f"sqlite:///{directory / name}"


def copy_sqlite(source_url: str, target_url: str) -> None:
    """Copy SQLite database ``source_url`` into the new file of ``target_url`` (the backup API: WAL included)."""
    import sqlite3

    source = sqlite3.connect(source_url.removeprefix("sqlite:///"))
    target = sqlite3.connect(target_url.removeprefix("sqlite:///"))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


class MigratedTemplates:
    """Migrated databases kept for the length of a test session, copied for each test that wants the same schema.

    Migrating core and plugins from nothing takes one to three seconds per
    database; copying a migrated one takes milliseconds (a file copy on
    SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). A template is made
    by :func:`build_kernel` exactly as a test's own database would be, once per
    backend, plugin list and settings, and is never used by a test itself.
    ``UDYOG_TEST_TEMPLATES=0`` turns the copying off (every test migrates).
    """

    def __init__(self, directory: Path, admin_url: Callable[[], str]) -> None:
        self.directory = directory
        self.admin_url = admin_url
        self.enabled = os.environ.get("UDYOG_TEST_TEMPLATES", "1") != "0"
        self._urls: dict[tuple[Any, ...], str] = {}
        self._stack = ExitStack()

    def url(self, backend: str, plugins: Iterable[str], overrides: Mapping[str, Any]) -> str:
        """The template for this schema, migrated on first use."""
        names = tuple(plugins)
        key = (backend, names, tuple(sorted((k, repr(v)) for k, v in overrides.items())))
        found = self._urls.get(key)
        if found is not None:
            return found
        if backend == "sqlite":
            url = sqlite_url(self.directory, f"template{len(self._urls)}.sqlite")
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            url = self._stack.enter_context(postgres_database(self.admin_url(), prefix="udyog_tpl"))
        kernel = build_kernel(url, names, **overrides)
        kernel.close()
        self._urls[key] = url
        return url

    def close(self) -> None:
        """Drop the PostgreSQL templates (the SQLite files go with their directory)."""
        self._urls.clear()
        self._stack.close()


def with_requirements(plugins: Iterable[str]) -> list[str]:
    """``plugins`` and every plugin they require (read from the installed manifests), sorted by name.

    A deployment selects dependencies in ``plugins.toml`` itself; a test
    naming the plugin it tests gets what that plugin needs. Names that are not
    installed, or whose manifest does not load, are kept as given so that the
    kernel reports them.
    """
    from importlib.metadata import entry_points

    from udyog.registry import ENTRY_POINT_GROUP
    from udyog_sdk import Plugin

    installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    found: set[str] = set()
    pending = list(plugins)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        ep = installed.get(name)
        if ep is None:
            continue
        try:
            manifest = ep.load()
        except Exception:  # noqa: BLE001 - the kernel reports the failure when it loads the plugin
            continue
        if isinstance(manifest, Plugin):
            pending.extend(manifest.required_names)
    return sorted(found)


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


@contextmanager
def statements_seen(engine: Any, listener: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """The SQL of every statement run on ``engine`` meanwhile, whitespace collapsed, in order.

    ``listener``, when given, is called with each statement as it runs.

    Statements the kernel runs on the driver's cursor, not through
    SQLAlchemy's statement events, are included: prepared ones
    (:class:`udyog.db.PreparedStatement`: ``udyog_sdk.read_records``,
    number series, job claims) as the SQL they run (``$1``-style
    parameters), not as ``EXECUTE``; writes of :func:`udyog.db.write_many`
    (``write_records``, ``insert_rows``, the audit log) once per call, as
    their one-row SQL.
    """
    from sqlalchemy import event

    from udyog import db

    seen: list[str] = []

    def add(sql: str) -> None:
        flat = " ".join(sql.split())
        seen.append(flat)
        if listener is not None:
            listener(flat)

    def statement(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if not sql.startswith(("EXECUTE ", "PREPARE ")):
            add(sql)

    def prepared(connection: Any, sql: str) -> None:
        if connection.engine.pool is engine.pool:  # the engine or one of its option copies (the writing one)
            add(sql)

    event.listen(engine, "before_cursor_execute", statement)
    db.PREPARED_OBSERVERS.append(prepared)
    try:
        yield seen
    finally:
        db.PREPARED_OBSERVERS.remove(prepared)
        event.remove(engine, "before_cursor_execute", statement)


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


# -- tenants, users and clients (the pytest plugin's fixtures are built from these) --


@dataclass(frozen=True)
class TenantHandle:
    """A tenant made for a test: its id, slug, name and the plugins enabled for it."""

    kernel: Kernel = field(repr=False)
    id: uuid.UUID
    slug: str
    name: str
    plugins: tuple[str, ...]

    def scope(self, *, write: bool = True) -> AbstractContextManager[TenantScope]:
        """A scope bound to this tenant, for calling a plugin's services directly.

        Inside it the SDK's accessors work (``udyog_sdk.db_session()``,
        ``emit()``, ``hooks()``, ``current_tenant()``); nothing is committed
        unless the test calls ``scope.session.commit()``.
        """
        return self.kernel.tenant_scope(self.id, write=write)


def make_tenant(kernel: Kernel, slug: str, name: str | None = None, plugins: Iterable[str] = ()) -> TenantHandle:
    """Create a tenant with ``plugins`` (and what they require) enabled."""
    from udyog.tenancy import create_tenant, tenant_plugins

    title = name or slug.replace("-", " ").title()
    tenant_id = create_tenant(kernel, slug, title, plugins=list(plugins))
    return TenantHandle(kernel, tenant_id, slug, title, tuple(tenant_plugins(kernel, tenant_id)))


@dataclass(frozen=True)
class UserHandle:
    """A user made for a test, a member of ``tenant`` holding ``roles``."""

    id: uuid.UUID
    email: str
    password: str = field(repr=False)
    tenant: str
    roles: tuple[str, ...]


def make_user(
    kernel: Kernel,
    tenant: str | uuid.UUID,
    email: str | None = None,
    *,
    roles: Iterable[str] | None = None,
    permissions: Iterable[str] | None = None,
    record_rules: Iterable[str] = (),
    password: str = TEST_PASSWORD,
    name: str | None = None,
) -> UserHandle:
    """A member of ``tenant`` with ``roles`` and, optionally, exactly ``permissions``.

    Without ``roles`` and ``permissions`` the user is an ``Owner``. With
    ``permissions`` (patterns such as ``ledger.voucher.read`` or
    ``ledger.*``) or ``record_rules``, a role of the user's own holding just
    those is created and given to them, besides any ``roles``. Patterns that
    match no declared permission, unknown rules and unknown roles raise
    ``ValueError`` naming them (a test asking for the impossible fails at once).
    """
    from sqlalchemy import select

    from udyog.models import Role, Tenant
    from udyog.rbac import bump_security

    role_names = list(roles) if roles is not None else ([] if permissions or record_rules else ["Owner"])
    with kernel.db.session(write=False) as session:
        found = kernel.find_tenant(session, tenant)
        if found is None:
            raise ValueError(f"no tenant {tenant!r}")
        slug = found.slug
        session.bind_tenant(found.id)
        known = set(session.scalars(select(Role.name)))
    unknown = [r for r in role_names if r not in known]
    if unknown:
        raise ValueError(
            f"no role {', '.join(map(repr, unknown))} in tenant {slug} (roles: {', '.join(sorted(known))})"
        )
    email = email or f"user-{uuid.uuid4().hex[:8]}@{slug}.test"
    wanted_permissions = sorted(set(permissions or ()))
    wanted_rules = sorted(set(record_rules))
    if wanted_permissions or wanted_rules:
        problems = kernel.security.validate_role(wanted_permissions, wanted_rules)
        if problems:
            raise ValueError("; ".join(m for messages in problems.values() for m in messages))
        role_name = f"test: {email}"[:80]
        with kernel.db.session() as session:
            tenant_row = session.get(Tenant, found.id)
            assert tenant_row is not None
            session.bind_tenant(tenant_row.id)
            session.add(
                Role(
                    name=role_name,
                    description="made by a test",
                    permissions=wanted_permissions,
                    record_rules=wanted_rules,
                    is_default=False,
                )
            )
            session.flush()
            bump_security(session)
            session.commit()
        role_names.append(role_name)
    user_id = create_member(kernel, found.id, email, role_names, password=password, name=name)
    return UserHandle(user_id, email, password, slug, tuple(role_names))


@dataclass(frozen=True)
class ApiResponse:
    """One answer of the API: its status and the envelope (``body``)."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str] = field(repr=False)
    text: str = field(repr=False)
    body: Any = field(repr=False)

    @property
    def success(self) -> bool | None:
        """The envelope's ``success``."""
        return self._get("success")

    @property
    def data(self) -> Any:
        """The envelope's ``data``."""
        return self._get("data")

    @property
    def message(self) -> str | None:
        """The envelope's ``message``."""
        return self._get("message")

    @property
    def errors(self) -> dict[str, list[str]]:
        """The error envelope's field errors (empty when there are none)."""
        return self._get("errors") or {}

    @property
    def meta(self) -> dict[str, Any]:
        """The envelope's ``meta``."""
        return self._get("meta") or {}

    @property
    def pagination(self) -> dict[str, Any]:
        """``meta.pagination`` of a list."""
        return dict(self.meta.get("pagination") or {})

    def _get(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None

    def expect(self, status: int) -> ApiResponse:
        """This response if its status is ``status``; else an AssertionError showing the body."""
        if self.status != status:
            raise AssertionError(f"{self.method} {self.url}: expected {status}, got {self.status}: {self.text[:2000]}")
        return self


#: A transport sends (method, path, query, JSON body, headers) and returns (status, headers, body bytes).
Transport = Callable[[str, str, Mapping[str, Any] | None, Any, Mapping[str, str]], tuple[int, dict[str, str], bytes]]


def flask_transport(app: Flask) -> Transport:
    """Requests through Flask's test client (in the test's process, no socket)."""
    client = app.test_client()

    def send(
        method: str, path: str, params: Mapping[str, Any] | None, body: Any, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        kwargs: dict[str, Any] = {"method": method, "headers": dict(headers), "query_string": params}
        if body is not None:
            kwargs["json"] = body
        response = client.open(path, **kwargs)
        return response.status_code, dict(response.headers), response.get_data()

    return send


def http_transport(base_url: str, timeout: float = 30.0) -> Transport:
    """Requests over real HTTP to ``base_url`` (a :class:`LiveServer` or any deployment)."""

    def send(
        method: str, path: str, params: Mapping[str, Any] | None, body: Any, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        url = base_url.rstrip("/") + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        data = None
        sent = dict(headers)
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    return send


class ApiClient:
    """A JSON client of the REST API whose helpers return the envelope as an :class:`ApiResponse`.

    ``client.post("/api/v1/ledger/vouchers", json={...}, expect=201).data``
    — ``expect`` turns an unexpected status into an AssertionError that shows
    the answer. The same client runs in-process (:func:`flask_transport`) or
    over real HTTP (:func:`http_transport`).
    """

    def __init__(self, transport: Transport, *, user: UserHandle | None = None) -> None:
        self.transport = transport
        self.user = user
        self.headers: dict[str, str] = {"Accept": "application/json"}
        self.tokens: dict[str, Any] = {}

    def login(self, email: str, password: str = TEST_PASSWORD, tenant: str | None = None) -> ApiClient:
        """Log in through ``/api/v1/auth/login``; later requests carry the bearer token."""
        body: dict[str, Any] = {"email": email, "password": password}
        if tenant is not None:
            body["tenant"] = tenant
        answer = self.post("/api/v1/auth/login", json=body)
        if answer.status != 200:
            raise AssertionError(f"login of {email} failed: {answer.status} {answer.text[:500]}")
        self.tokens = dict(answer.data)
        self.headers["Authorization"] = f"Bearer {answer.data['access_token']}"
        return self

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: int | None = None,
    ) -> ApiResponse:
        """Send one request; the answer's JSON body (if any) is parsed."""
        status, answer_headers, raw = self.transport(method, path, params, json, {**self.headers, **(headers or {})})
        text = raw.decode("utf-8", errors="replace")
        try:
            body = _json_loads(text) if text else None
        except ValueError:
            body = None
        response = ApiResponse(method, path, status, answer_headers, text, body)
        return response.expect(expect) if expect is not None else response

    def get(self, path: str, *, params: Mapping[str, Any] | None = None, expect: int | None = None) -> ApiResponse:
        """GET ``path`` with query ``params``."""
        return self.request("GET", path, params=params, expect=expect)

    def post(self, path: str, *, json: Any = None, expect: int | None = None) -> ApiResponse:
        """POST ``json`` to ``path``."""
        return self.request("POST", path, json=json, expect=expect)

    def put(self, path: str, *, json: Any = None, expect: int | None = None) -> ApiResponse:
        """PUT ``json`` to ``path``."""
        return self.request("PUT", path, json=json, expect=expect)

    def patch(self, path: str, *, json: Any = None, expect: int | None = None) -> ApiResponse:
        """PATCH ``path`` with ``json``."""
        return self.request("PATCH", path, json=json, expect=expect)

    def delete(self, path: str, *, expect: int | None = None) -> ApiResponse:
        """DELETE ``path``."""
        return self.request("DELETE", path, expect=expect)


def _json_loads(text: str) -> Any:
    # The request helpers' ``json`` parameter shadows the module inside them.
    return json.loads(text)


def api_client(target: Flask | str, user: UserHandle | None = None) -> ApiClient:
    """An :class:`ApiClient` for an app (in-process) or a base URL (HTTP), logged in as ``user`` if given."""
    transport = http_transport(target) if isinstance(target, str) else flask_transport(target)
    client = ApiClient(transport, user=user)
    if user is not None:
        client.login(user.email, user.password, tenant=user.tenant)
    return client


class LiveServer:
    """Serves an app over real HTTP on a free local port, in a thread, until closed."""

    def __init__(self, app: Flask, host: str = "127.0.0.1") -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                """No access log in test output."""

        self._server = make_server(host, 0, app, threaded=True, request_handler=QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="udyog-live-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def form_token(html: str) -> str:
    """The CSRF token of the first form in a shell page."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    if found is None:
        raise AssertionError(f"the page has no CSRF field: {html[:500]}")
    return found.group(1)


def web_login(app: Flask, email: str, password: str = TEST_PASSWORD, next_url: str = "/") -> FlaskClient:
    """A Flask test client logged in through the shell's login form (cookies and CSRF, as a browser)."""
    client = app.test_client()
    page = client.get(f"/login?next={next_url}")
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": form_token(page.text), "next": next_url},
    )
    if answer.status_code != 302:
        raise AssertionError(f"web login of {email} failed: {answer.status_code} {answer.text[:500]}")
    return client


class WebClient:
    """A browser-like client of the web shell, logged in through the login form (cookies and CSRF)."""

    def __init__(self, app: Flask, user: UserHandle) -> None:
        self.user = user
        self.client: FlaskClient = app.test_client()
        page = self.client.get("/login")
        answer = self.client.post(
            "/login",
            data={"email": user.email, "password": user.password, "csrf_token": form_token(page.text), "next": "/"},
        )
        if answer.status_code != 302:
            raise AssertionError(f"web login of {user.email} failed: {answer.status_code} {answer.text[:500]}")

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET a page (``query_string=`` and other test-client arguments pass through)."""
        return self.client.get(path, **kwargs)

    def submit(self, path: str, data: Mapping[str, Any]) -> TestResponse:
        """POST a form as the shell's pages do, with the CSRF double-submit value."""
        token = self.client.get_cookie("csrf_access_token")
        if token is None:
            raise AssertionError("not logged in: no CSRF cookie")
        return self.client.post(path, data={**data, "csrf_token": token.value})


# -- separate environments (installing plugins as their authors and deployers do) ----------


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child ``udyog`` or ``pip``, without the deployment's ``UDYOG_*`` settings.

    ``UDYOG_TEST_*`` stay (the child's tests find the same PostgreSQL and Redis).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_") or k.startswith("UDYOG_TEST_")}
    env.update(NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.update(extra)
    return env


def overlay_venv(path: Path) -> Path:
    """A virtual environment at ``path`` that sees this environment's packages behind its own; its Python.

    What is installed into it stays there, and nothing is downloaded to make
    it: a ``.pth`` file adds this environment's site-packages (the core, the
    SDK, pip, setuptools and pytest) after the new environment's own.
    """
    import subprocess
    import sys
    import sysconfig

    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True, timeout=120
    )
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "udyog_workspace.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


# -- servers in processes of their own -----------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_process(
    command: list[str],
    *,
    port: int,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    timeout: float = 90.0,
) -> Iterator[str]:
    """Run ``command`` (a server on 127.0.0.1:``port``) in a process group of its own; yield its base URL.

    Yields once ``/api/v1/health`` answers 200, and fails with the server's
    output (written to ``log``) if the process exits first or ``timeout``
    seconds pass. Stops the whole group afterwards (SIGTERM, then SIGKILL).
    """
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None:
                raise AssertionError(f"{' '.join(command)} exited {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{' '.join(command)} did not serve within {timeout:.0f} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:  # the server already exited (and its failure is being reported)
            pass
        else:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def screenshot_path(nodeid: str, directory: Path) -> Path:
    """The file a failed browser test's screenshot goes to: ``<module>__<test name>.png`` in ``directory``."""
    module, _, name = nodeid.partition("::")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return directory / f"{Path(module).stem}__{safe}.png"


def save_screenshots(item: Any, pages: list[Any], directory: Path) -> list[Path]:
    """Screenshot every open Playwright page of a test whose call phase failed; returns the files written.

    ``item`` is the pytest item; the browser tests' ``pytest_runtest_makereport``
    wrapper leaves the call phase's report on it as ``udyog_report_call``. A
    page that cannot be captured (it crashed) is reported on stderr and
    skipped, so the test's own failure stays what the run shows.
    """
    report = getattr(item, "udyog_report_call", None)
    if report is None or not report.failed:
        return []
    saved = []
    for number, page in enumerate(pages):
        path = screenshot_path(item.nodeid, directory)
        if number:
            path = path.with_name(f"{path.stem}-{number}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # noqa: BLE001 - a crashed page must not hide the test's failure
            print(f"screenshot of {item.nodeid} failed: {exc}", file=sys.stderr)
            continue
        saved.append(path)
        print(f"screenshot of the failed test {item.nodeid}: {path}", file=sys.stderr)
    return saved
