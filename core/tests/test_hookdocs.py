"""Every hook specification is documented, and docs/hooks.md says what the specs say."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from udyog.hookdocs import hook_functions, render_hook_reference, spec_modules

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


@pytest.fixture(scope="module")
def kernel():
    from udyog.config import PluginsFile, Settings
    from udyog.kernel import Kernel

    # The reference covers the core and the plugins bundled in plugins/.
    bundled = sorted(p.name for p in (DOCS.parents[1] / "plugins").iterdir() if (p / "pyproject.toml").exists())
    kernel = Kernel(
        Settings.from_env({"database_url": "sqlite://", "plugins": PluginsFile(enabled=tuple(bundled))}, environ={})
    )
    yield kernel
    kernel.close()


def test_every_hook_spec_has_a_complete_docstring(kernel):
    for publisher, module in spec_modules(kernel):
        specs = hook_functions(module)
        assert specs, f"{publisher} publishes a hookspecs module without hooks"
        for name, func in specs:
            prefix = "udyog_" if publisher == "core" else f"{publisher}_"
            assert name.startswith(prefix), f"hook {name} of {publisher} must start with {prefix}"
            doc = inspect.getdoc(func) or ""
            assert len(doc.splitlines()[0]) > 10, f"{name}: no one-line summary"
            assert "Returns" in doc, f"{name}: the return contract is not documented"
            assert "Since" in doc, f"{name}: the version it appeared in is not documented"


def test_hook_reference_is_current(kernel):
    expected = render_hook_reference(kernel)
    assert DOCS.exists(), "docs/hooks.md is missing: run `make docs`"
    assert DOCS.read_text(encoding="utf-8") == expected, "docs/hooks.md is stale: run `make docs`"
    for _publisher, module in spec_modules(kernel):
        for name, _ in hook_functions(module):
            assert f"### `{name}`" in expected


def test_the_reference_renders_plugin_published_hooks_too():
    from udyog.config import PluginsFile, Settings
    from udyog.kernel import Kernel

    kernel = Kernel(
        Settings.from_env({"database_url": "sqlite://", "plugins": PluginsFile(enabled=("notes",))}, environ={})
    )
    try:
        text = render_hook_reference(kernel)
    finally:
        kernel.close()
    assert "## Hooks published by `notes`" in text
    assert "### `notes_word_count`" in text and "*Calling mode:* firstresult" in text
