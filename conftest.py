"""Shared fixtures for every test of the workspace.

``backend`` runs a test on SQLite and, when ``UDYOG_TEST_DATABASE_URL`` is set,
on PostgreSQL; under ``CI=true`` a missing PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from udyog.testing import build_kernel, postgres_admin_url, postgres_database, sqlite_url

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_postgres() -> str:
    """The admin URL, or skip (fail under CI) when PostgreSQL is not configured."""
    url = postgres_admin_url()
    if url is None:
        if IN_CI:
            pytest.fail("CI=true but UDYOG_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL not configured (set UDYOG_TEST_DATABASE_URL)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on."""
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)


@pytest.fixture
def database_url_factory(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes fresh, empty databases: ``factory("sqlite")`` or ``factory("postgresql")``."""
    stack = ExitStack()
    counter = [0]

    def make(backend: str) -> str:
        counter[0] += 1
        if backend == "sqlite":
            return sqlite_url(tmp_path, f"db{counter[0]}.sqlite")
        return stack.enter_context(postgres_database(require_postgres()))

    with stack:
        yield make


@pytest.fixture
def kernel_factory(database_url_factory: Callable[[str], str]) -> Iterator[Callable[..., Any]]:
    """Builds migrated kernels: ``kernel_factory(["notes"], backend="sqlite", url=None, **overrides)``."""
    kernels: list[Any] = []

    def make(
        plugins: tuple[str, ...] | list[str] = (), *, backend: str = "sqlite", url: str | None = None, **kw: Any
    ) -> Any:
        kernel = build_kernel(url or database_url_factory(backend), plugins, **kw)
        kernels.append(kernel)
        return kernel

    yield make
    for kernel in kernels:
        kernel.close()
