"""The pytest plugin of Udyog: fixtures for testing the kernel and plugins.

Registered by the core distribution under the ``pytest11`` entry point
``udyog``, so it is active wherever ``udyog`` is installed; a plugin's tests
use its fixtures by name and import nothing from the core. (The SDK may not
import the core, and the fixtures need a kernel, so the plugin lives here.)

Which plugins are loaded and enabled comes from the closest marker::

    pytestmark = pytest.mark.udyog_plugins("ledger")

and who ``udyog_user`` is from ``@pytest.mark.udyog_user(roles=..., permissions=...)``
(default: an Owner). Every fixture that reaches the database runs the test
on SQLite and on PostgreSQL (``backend``); the PostgreSQL run needs
``UDYOG_TEST_DATABASE_URL`` (skipped without it, a failure under
``CI=true``). ``--udyog-backend=sqlite`` or ``postgresql`` runs one only.
See docs/testing-plugins.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask

    from udyog.kernel import Kernel
    from udyog.testing import ApiClient, LiveServer, TenantHandle, UserHandle, WebClient

BACKENDS = ("sqlite", "postgresql")
#: The slugs of the two tenants the fixtures make.
TENANT_SLUG = "acme"
OTHER_TENANT_SLUG = "globex"


def in_ci() -> bool:
    """Whether the tests run under CI (``CI=true``): missing services fail instead of skipping."""
    return os.environ.get("CI", "").lower() == "true"


def require_postgres() -> str:
    """The administrative PostgreSQL URL, or skip the test (fail it under CI) when none is configured."""
    from udyog.testing import postgres_admin_url

    url = postgres_admin_url()
    if url is None:
        if in_ci():
            pytest.fail("CI=true but UDYOG_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL not configured (set UDYOG_TEST_DATABASE_URL)")
    return url


# -- options and markers ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--udyog-backend``: the database backends the ``backend`` fixture runs tests on."""
    group = parser.getgroup("udyog", "Udyog fixtures")
    group.addoption(
        "--udyog-backend",
        choices=(*BACKENDS, "all"),
        default="all",
        help="run database tests on this backend only (default: all; PostgreSQL needs UDYOG_TEST_DATABASE_URL)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (they pass ``--strict-markers``)."""
    config.addinivalue_line(
        "markers", "udyog_plugins(*names): plugins udyog_kernel loads and udyog_tenant enables (with what they require)"
    )
    config.addinivalue_line(
        "markers",
        "udyog_user(roles=None, permissions=None, record_rules=()): who udyog_user is (default: an Owner)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the runs on backends ``--udyog-backend`` leaves out."""
    chosen = config.getoption("udyog_backend")
    if chosen == "all":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("backend") if callspec is not None else None
        (drop if param is not None and param != chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- databases and kernels ------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on: ``sqlite``, then ``postgresql``."""
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)


@pytest.fixture(scope="session")
def udyog_migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The test session's migrated template databases (:class:`udyog.testing.MigratedTemplates`)."""
    from udyog.testing import MigratedTemplates

    templates = MigratedTemplates(tmp_path_factory.mktemp("udyog-templates"), require_postgres)
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture
def database_url_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Makes fresh databases: ``factory("sqlite")`` or ``factory("postgresql")`` (dropped afterwards).

    Empty, or a copy of the database at URL ``template=`` (same backend).
    """
    from udyog.testing import copy_sqlite, postgres_database, sqlite_url

    stack = ExitStack()
    counter = [0]

    def make(backend: str, template: str | None = None) -> str:
        counter[0] += 1
        if backend == "sqlite":
            url = sqlite_url(tmp_path, f"db{counter[0]}.sqlite")
            if template is not None:
                copy_sqlite(template, url)
            return url
        return stack.enter_context(postgres_database(require_postgres(), template=template))

    with stack:
        yield make


@pytest.fixture
def kernel_factory(
    database_url_factory: Callable[..., str], udyog_migrated_templates: Any
) -> Iterator[Callable[..., Any]]:
    """Builds migrated kernels: ``kernel_factory(["notes"], backend="sqlite", url=None, **overrides)``.

    Plugin loading is strict: a plugin that fails to load fails the test.
    ``overrides`` are :class:`~udyog.config.Settings` fields (``migrate=False``
    skips the migrations). Without ``url``, the database is a copy of a
    template migrated once per test session for the same backend, plugins and
    overrides (``UDYOG_TEST_TEMPLATES=0``: migrate each one).
    """
    from udyog.testing import build_kernel

    kernels: list[Any] = []
    templates = udyog_migrated_templates

    def make(
        plugins: tuple[str, ...] | list[str] = (), *, backend: str = "sqlite", url: str | None = None, **kw: Any
    ) -> Any:
        if url is None and kw.get("migrate", True) and templates.enabled:
            template = templates.url(backend, plugins, kw)
            kw = {**kw, "migrate": False}
            url = database_url_factory(backend, template)
        kernel = build_kernel(url or database_url_factory(backend), plugins, **kw)
        kernels.append(kernel)
        return kernel

    yield make
    for kernel in kernels:
        kernel.close()


@pytest.fixture
def udyog_plugin_names(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The plugins named by the closest ``udyog_plugins`` marker (none: the core alone)."""
    marker = request.node.get_closest_marker("udyog_plugins")
    if marker is None:
        return ()
    names = tuple(marker.args)
    bad = [n for n in names if not isinstance(n, str)]
    if bad or marker.kwargs:
        raise pytest.UsageError(f"udyog_plugins takes plugin names as strings, got {marker.args!r} {marker.kwargs!r}")
    return names


@pytest.fixture
def udyog_kernel(kernel_factory: Callable[..., Kernel], backend: str, udyog_plugin_names: tuple[str, ...]) -> Kernel:
    """A kernel with the marked plugins and those they require loaded (strictly), on a fresh, migrated database."""
    from udyog.testing import with_requirements

    return kernel_factory(with_requirements(udyog_plugin_names), backend=backend)


@pytest.fixture
def udyog_app(udyog_kernel: Kernel) -> Flask:
    """The Flask application over ``udyog_kernel``, as ``udyog run`` would serve it."""
    from udyog.app import create_app

    # Not app.testing: errors are handled as in production (a test sees the 500 a user would).
    return create_app(kernel=udyog_kernel, dispatch_pending=False)


# -- tenants and users ------------------------------------------------------------------


@pytest.fixture
def udyog_tenant(udyog_kernel: Kernel, udyog_plugin_names: tuple[str, ...]) -> TenantHandle:
    """Tenant ``acme`` with the marked plugins enabled (their setup hooks ran)."""
    from udyog.testing import make_tenant

    return make_tenant(udyog_kernel, TENANT_SLUG, "Acme Test Ltd", plugins=udyog_plugin_names)


@pytest.fixture
def udyog_other_tenant(udyog_kernel: Kernel, udyog_plugin_names: tuple[str, ...]) -> TenantHandle:
    """A second tenant, ``globex``, with the same plugins: for isolation checks."""
    from udyog.testing import make_tenant

    return make_tenant(udyog_kernel, OTHER_TENANT_SLUG, "Globex Test Ltd", plugins=udyog_plugin_names)


@pytest.fixture
def udyog_user_factory(udyog_kernel: Kernel, udyog_tenant: TenantHandle) -> Callable[..., UserHandle]:
    """Makes users: ``factory(roles=None, permissions=None, record_rules=(), tenant=None, email=None)``.

    The user is a member of ``tenant`` (default: ``udyog_tenant``); see
    :func:`udyog.testing.make_user` for roles and permissions.
    """
    from udyog.testing import make_user

    def make(
        *,
        roles: list[str] | tuple[str, ...] | None = None,
        permissions: list[str] | tuple[str, ...] | None = None,
        record_rules: list[str] | tuple[str, ...] = (),
        tenant: TenantHandle | None = None,
        email: str | None = None,
    ) -> UserHandle:
        target = tenant or udyog_tenant
        return make_user(
            udyog_kernel, target.id, email, roles=roles, permissions=permissions, record_rules=record_rules
        )

    return make


@pytest.fixture
def udyog_user(request: pytest.FixtureRequest, udyog_user_factory: Callable[..., UserHandle]) -> UserHandle:
    """A member of ``udyog_tenant``: an Owner, or as the closest ``udyog_user`` marker says."""
    marker = request.node.get_closest_marker("udyog_user")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - {"roles", "permissions", "record_rules", "email"}
    if unknown or (marker is not None and marker.args):
        raise pytest.UsageError(f"udyog_user takes roles=, permissions=, record_rules= and email=, got {options!r}")
    return udyog_user_factory(**options)


@pytest.fixture
def udyog_other_user(udyog_user_factory: Callable[..., UserHandle], udyog_other_tenant: TenantHandle) -> UserHandle:
    """The Owner of ``udyog_other_tenant``."""
    return udyog_user_factory(tenant=udyog_other_tenant)


# -- clients ------------------------------------------------------------------------------


@pytest.fixture
def udyog_client_factory(udyog_app: Flask) -> Callable[..., ApiClient]:
    """Makes API clients: ``factory(user=None)`` (in-process; logged in as ``user`` if given)."""
    from udyog.testing import api_client

    def make(user: UserHandle | None = None) -> ApiClient:
        return api_client(udyog_app, user)

    return make


@pytest.fixture
def udyog_client(udyog_client_factory: Callable[..., ApiClient], udyog_user: UserHandle) -> ApiClient:
    """An API client logged in as ``udyog_user`` (in-process, through Flask's test client)."""
    return udyog_client_factory(udyog_user)


@pytest.fixture
def udyog_other_client(udyog_client_factory: Callable[..., ApiClient], udyog_other_user: UserHandle) -> ApiClient:
    """An API client logged in as the Owner of ``udyog_other_tenant``."""
    return udyog_client_factory(udyog_other_user)


@pytest.fixture
def udyog_live_server(udyog_app: Flask) -> Iterator[LiveServer]:
    """``udyog_app`` served over real HTTP on a free local port (``.url``) for the test's duration."""
    from udyog.testing import LiveServer

    with LiveServer(udyog_app) as server:
        yield server


@pytest.fixture
def udyog_live_client(udyog_live_server: LiveServer, udyog_user: UserHandle) -> ApiClient:
    """An API client logged in as ``udyog_user``, over real HTTP to ``udyog_live_server``."""
    from udyog.testing import api_client

    return api_client(udyog_live_server.url, udyog_user)


@pytest.fixture
def udyog_web_client(udyog_app: Flask, udyog_user: UserHandle) -> WebClient:
    """A browser-like client of the web shell, logged in as ``udyog_user`` through the login form."""
    from udyog.testing import WebClient

    return WebClient(udyog_app, udyog_user)
