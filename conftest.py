"""Shared test setup of the workspace.

Every fixture (``backend``, ``database_url_factory``, ``kernel_factory`` and
the ``udyog_*`` fixtures plugins use) comes from the pytest plugin the core
registers (``udyog.pytest_plugin``, entry point ``pytest11: udyog``), so the
kernel's tests and every plugin's tests share one implementation. See
docs/testing-plugins.md.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run without the plugin rather than fail later with missing fixtures."""
    if not config.pluginmanager.has_plugin("udyog"):
        raise pytest.UsageError(
            "the udyog pytest plugin is not registered: reinstall the core (.venv/bin/pip install -e core) "
            "and do not disable it with -p no:udyog"
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Schedule the long tests (marked ``slow``) first, in their collected order.

    With ``pytest -n 2`` the workers take tests in collection order; a long
    test given out last keeps one worker busy while the other has nothing
    left (longest first keeps both busy to the end). Every worker collects
    and sorts alike, as xdist requires.
    """
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow and len(slow) < len(items):
        chosen = {id(item) for item in slow}
        items[:] = slow + [item for item in items if id(item) not in chosen]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything alive after collection out of the garbage collector's sight (``gc.freeze``).

    The modules, plugins and test items imported so far live for the whole
    run; without this, every full collection (frequent: each test builds
    apps and kernels of tens of thousands of objects) walks all of them
    again. Objects made later are collected as usual.
    """
    import gc

    gc.collect()
    gc.freeze()
