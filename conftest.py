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
