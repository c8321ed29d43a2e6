"""Plugin discovery, dependency resolution and load isolation, with real distributions.

The test plugins under tests/plugins/ are installed into the environment as
distributions with entry points in group ``udyog.plugins``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from udyog.app import create_app
from udyog.config import PluginsFile, Settings
from udyog.kernel import Kernel
from udyog.registry import PluginLoadError, PluginRegistry, PluginState, new_plugin_manager

EVERYTHING = ["*"]


def load(enabled: list[str], strict: bool = False) -> PluginRegistry:
    registry = PluginRegistry(new_plugin_manager())
    registry.load(enabled, strict=strict)
    return registry


def test_discovery_is_sorted_by_name_and_imports_nothing_not_enabled(monkeypatch):
    from importlib.metadata import EntryPoint

    names = [ep.name for ep in PluginRegistry.discover()]
    assert names == sorted(names)
    assert {"notes", "tags", "broken", "cycle_a"} <= set(names)
    loaded: list[str] = []
    original = EntryPoint.load
    monkeypatch.setattr(EntryPoint, "load", lambda self: loaded.append(self.name) or original(self))
    registry = load(["notes"])
    assert loaded == ["notes"]  # plugins not enabled are never imported
    assert registry.get("broken").state is PluginState.NOT_ENABLED
    assert registry.get("tags").version == "0.2.0"  # from the distribution metadata, unimported


def test_good_plugins_load_in_dependency_order():
    registry = load(["tags", "notes"], strict=True)
    assert registry.order == ["notes", "tags"]
    assert registry.get("tags").state is PluginState.LOADED
    assert registry.pm.get_plugin("notes") is not None


@pytest.mark.parametrize(
    ("name", "state", "fragment"),
    [
        ("broken", PluginState.FAILED, "import failed: RuntimeError: broken on purpose"),
        ("needsghost", PluginState.FAILED, "missing dependency: requires ghost>=1.0 which is not installed"),
        ("cycle_a", PluginState.FAILED, "dependency cycle: cycle_a -> cycle_b -> cycle_a"),
        ("cycle_b", PluginState.FAILED, "dependency cycle: cycle_b -> cycle_a -> cycle_b"),
        ("aftercycle", PluginState.SKIPPED, "dependency 'cycle_a' is part of a dependency cycle"),
        ("dependant", PluginState.SKIPPED, "dependency 'broken' did not load (import failed"),
        ("oldsdk", PluginState.FAILED, "incompatible SDK version: targets udyog-sdk >=0.1,<1, running 1.7.0"),
        ("newnotes", PluginState.FAILED, "incompatible dependency version: requires notes>=9, installed notes 0.3.0"),
        ("badhook", PluginState.FAILED, "hook implementation 'udyog_blueprint' matches no hook specification"),
        ("notamanifest", PluginState.FAILED, "is a dict, not a udyog_sdk.Plugin"),
    ],
)
def test_each_failure_is_recorded_with_its_cause_and_the_rest_loads(name, state, fragment):
    registry = load(EVERYTHING)
    record = registry.get(name)
    assert record.state is state
    assert fragment in record.error
    assert registry.get("notes").state is PluginState.LOADED
    assert registry.get("tags").state is PluginState.LOADED
    # Nothing of a failed plugin stays registered.
    assert registry.pm.get_plugin(name) is None


def test_missing_dependency_that_is_installed_but_not_enabled():
    registry = load(["tags"])
    assert registry.get("tags").state is PluginState.FAILED
    assert "installed but not enabled in plugins.toml" in registry.get("tags").error


def test_enabled_but_not_installed_is_reported():
    registry = load(["nosuchplugin", "notes"])
    assert registry.get("nosuchplugin").state is PluginState.FAILED
    assert registry.get("nosuchplugin").error == "enabled in plugins.toml but not installed"
    assert registry.order == ["notes"]


def test_strict_mode_makes_a_load_error_of_an_enabled_plugin_fatal():
    with pytest.raises(PluginLoadError, match="broken: import failed"):
        load(["notes", "broken"], strict=True)
    # Broken plugins that are installed but not enabled do not matter in strict mode.
    assert load(["notes"], strict=True).order == ["notes"]


def test_a_registration_hook_failure_unloads_the_plugin_and_its_dependants(tmp_path):
    settings = Settings.from_env(
        {
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "plugins": PluginsFile(enabled=("notes", "badroutes", "routesuser")),
        },
        environ={},
    )
    kernel = Kernel(settings)
    app = create_app(kernel=kernel, dispatch_pending=False)
    assert kernel.registry.get("badroutes").state is PluginState.FAILED
    assert "udyog_blueprints failed: ValueError: cannot build routes" in kernel.registry.get("badroutes").error
    assert kernel.registry.get("routesuser").state is PluginState.SKIPPED
    assert kernel.registry.order == ["notes"]
    assert "badroutes" not in kernel.bus.loaded
    assert kernel.pm.get_plugin("routesuser") is None
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert "/api/v1/notes/notes" in rules


def test_load_errors_are_shown_by_the_api(tmp_path):
    settings = Settings.from_env(
        {
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "plugins": PluginsFile(enabled=("notes", "broken", "dependant")),
        },
        environ={},
    )
    kernel = Kernel(Settings.from_env({**settings.__dict__, "password_hash_profile": "fast"}, environ={}))
    from udyog.migrate import upgrade
    from udyog.tenancy import create_tenant
    from udyog.testing import create_member, login

    upgrade(kernel, report=lambda line: None)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test")
    app = create_app(kernel=kernel, dispatch_pending=False)
    assert app.test_client().get("/api/v1/plugins").status_code == 401
    body = login(app, "owner@acme.test").get("/api/v1/plugins").get_json()
    rows = {row["name"]: row for row in body["data"]}
    assert rows["broken"]["state"] == "failed"
    assert "broken on purpose" in rows["broken"]["error"]
    assert rows["dependant"]["state"] == "skipped"
    assert rows["notes"]["state"] == "loaded"
    assert rows["tags"]["state"] == "not-enabled"
    assert rows["notes"]["enabled_for_tenant"] is True


def _udyog(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("udyog")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_plugins_list_shows_states_errors_and_a_log_line(tmp_path):
    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text('[deployment]\nenabled = ["notes", "tags", "broken", "dependant", "cycle_a", "cycle_b"]\n')
    env = {
        **os.environ,
        "UDYOG_PLUGINS_FILE": str(plugins_file),
        "UDYOG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    env.pop("UDYOG_STRICT_PLUGINS", None)
    result = _udyog(["plugins", "list", "--json"], env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["tags"]["state"] == "loaded" and rows["tags"]["requires"] == ["notes>=0.2"]
    assert rows["cycle_a"]["error"] == "dependency cycle: cycle_a -> cycle_b -> cycle_a"
    assert "plugin broken not loaded (failed): import failed" in result.stderr
    text = _udyog(["plugins", "list"], env)
    assert "broken on purpose" in text.stdout
    strict = _udyog(["--strict", "plugins", "list"], env)
    assert strict.returncode != 0
    assert "strict plugin loading" in strict.stderr


def test_a_plugin_may_not_take_the_kernels_name():
    from importlib.metadata import EntryPoint

    registry = PluginRegistry(new_plugin_manager())
    ep = EntryPoint(name="core", value="udyog_test_notes:plugin", group="udyog.plugins")
    registry.load(["core"], entry_points_=[ep])
    assert registry.get("core").state is PluginState.FAILED
    assert "reserved" in registry.get("core").error


def test_strict_mode_also_fails_on_a_late_registration_failure(tmp_path):
    settings = Settings.from_env(
        {
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "plugins": PluginsFile(enabled=("notes", "badroutes")),
            "strict_plugins": True,
        },
        environ={},
    )
    kernel = Kernel(settings)
    with pytest.raises(PluginLoadError, match="badroutes: udyog_blueprints failed"):
        create_app(kernel=kernel, dispatch_pending=False)


def test_a_plugin_name_provided_twice_loads_neither():
    from importlib.metadata import EntryPoint

    registry = PluginRegistry(new_plugin_manager())
    eps = [
        EntryPoint(name="notes", value="udyog_test_notes:plugin", group="udyog.plugins"),
        EntryPoint(name="notes", value="udyog_test_tags:plugin", group="udyog.plugins"),
    ]
    registry.load(["notes"], entry_points_=eps)
    assert registry.get("notes").state is PluginState.FAILED
    assert "provided by several distributions" in registry.get("notes").error
    assert registry.order == []


def test_plugins_contribute_cli_commands(tmp_path):
    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text('[deployment]\nenabled = ["notes"]\n')
    env = {**os.environ, "UDYOG_PLUGINS_FILE": str(plugins_file), "UDYOG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert _udyog(["notes-hello"], env).stdout.strip() == "hello from notes"
    assert "notes-hello" in _udyog(["--help"], env).stdout
