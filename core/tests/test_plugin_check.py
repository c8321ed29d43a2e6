"""`udyog plugin check`: good plugins pass, each kind of mistake is reported with its file and line.

The command runs in a child process: checking imports a plugin's models into
the shared metadata, which this test process must not see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from udyog.pytest_plugin import require_postgres

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "plugin_check"
UDYOG = str(Path(sys.executable).with_name("udyog"))


def run_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [UDYOG, "plugin", "check", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def findings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if ": error: " in line or ": warning: " in line]


@pytest.mark.parametrize("target", ["ledger", "notes", "tags", "tests/plugins/udyog-test-ledger"])
def test_the_test_plugins_pass_every_check(target):
    result = run_check(target)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("plugin check passed: 0 errors, 0 warnings")
    for title in ("manifest and entry point", "hook implementations", "loads into a kernel", "tables:"):
        assert any(line.strip().startswith("ok") and title in line for line in lines), result.stdout
    assert any(line.strip() == "ok       uninstall leaves no trace" for line in lines), result.stdout
    assert "FAILED" not in result.stdout and "skipped" not in result.stdout


def test_a_good_plugin_passes_on_postgresql_too():
    admin = require_postgres()
    result = run_check("ledger", "--postgresql", admin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("plugin check passed")


def test_an_import_failure_points_at_the_raising_line():
    result = run_check("broken")
    assert result.returncode == 1
    assert findings(result.stdout) == [
        "tests/plugins/udyog-test-broken/src/udyog_test_broken/__init__.py:3: error: importing "
        "udyog_test_broken:plugin failed: RuntimeError: broken on purpose"
    ]
    assert "skipped  hook implementations against the specifications: the manifest must load first" in result.stdout


def test_the_misfits_each_fail_for_their_own_reason():
    result = run_check("tests/plugins/udyog-test-misfits")
    assert result.returncode == 1
    found = findings(result.stdout)
    where = "tests/plugins/udyog-test-misfits/"
    manifests = where + "src/udyog_test_misfits/manifests.py"
    expected = [
        f"{where}src/udyog_test_misfits/badhook_hooks.py:7: error: hook implementation 'udyog_blueprint' "
        "matches no hook specification (did you mean 'udyog_blueprints'?)",
        f"{where}src/udyog_test_misfits/badroutes_hooks.py:7: error: the kernel did not load the plugin: "
        "udyog_blueprints failed: ValueError: cannot build routes",
        f"{manifests}:7: error: requires ghost>=1.0, but no plugin 'ghost' is installed here",
        f"{manifests}:23: error: requires broken, which fails to load: RuntimeError: broken on purpose",
        f"{manifests}:26: error: the manifest targets udyog-sdk >=0.1,<1, which excludes the running SDK 1.7.0",
        f"{manifests}:27: error: requires notes>=9, but notes 0.3.0 is installed",
        f"{where}pyproject.toml:23: error: entry point notamanifest = 'udyog_test_misfits.manifests:not_a_manifest' "
        "is a dict, not a udyog_sdk.Plugin",
    ]
    for line in expected:
        assert line in found, "\n".join(found)
    assert any("dependency cycle: cycle_a -> cycle_b -> cycle_a" in line for line in found)
    assert any("dependency 'badroutes' did not load" in line for line in found)
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith("plugin check failed: 11 errors, 0 warnings (aftercycle, badhook, badroutes")


def test_hook_and_declaration_mistakes_are_reported_with_their_lines():
    result = run_check("tests/plugin_check/udyog-check-hooks")
    assert result.returncode == 1
    found = findings(result.stdout)
    src = "tests/plugin_check/udyog-check-hooks/src/udyog_check_hooks"
    assert found == [
        f"{src}/__init__.py:5: warning: the manifest's version 0.1.0 differs from the distribution's 0.2.0",
        "tests/plugin_check/udyog-check-hooks/pyproject.toml:10: warning: udyog-sdk is not among [project] "
        'dependencies (add "udyog-sdk>=1.7,<2")',
        f"{src}/hookspecs.py:7: error: hook specification 'refresh_totals' must start with the plugin's name "
        "(checkhooks_…)",
        f"{src}/hookspecs.py:7: error: hook specification 'refresh_totals' has no docstring (the hook reference is "
        "generated from it: say what it receives, returns, its calling mode and since which version)",
        f"{src}/hooks.py:20: error: hook implementation 'notes_word_count' matches no hook specification — it is "
        "published by plugin 'notes', which this plugin does not require: add it to requires, or mark the "
        "implementation @hookimpl(optionalhook=True) and list 'notes' in optional",
        f"{src}/hooks.py:14: error: hook implementation 'udyog_menus' matches no hook specification "
        "(did you mean 'udyog_menu'?)",
        f"{src}/hooks.py:9: error: hook implementation 'udyog_tenant_setup': hookimpl definition: "
        "udyog_tenant_setup(tenant: Any, session: Any, colour: str) -> None Argument(s) {'colour'} are declared in "
        "the hookimpl but can not be found in the hookspec",
        f"{src}/hooks.py:32: error: udyog_permissions: 'notes.note.read' lies outside the plugin's prefix checkhooks.",
        f"{src}/hooks.py:32: error: udyog_permissions: 'checkhooks.thing.read' is declared twice",
        f"{src}/hooks.py:42: error: udyog_record_rules: 'other.everything' lies outside the plugin's prefix "
        "checkhooks.",
    ]
    assert "skipped  tables: names, tenant_id first: fix the hooks and declarations first" in result.stdout


def test_table_migration_route_and_uninstall_mistakes_are_reported():
    result = run_check("tests/plugin_check/udyog-check-schema")
    assert result.returncode == 1
    found = findings(result.stdout)
    where = "tests/plugin_check/udyog-check-schema/"
    src = where + "src/udyog_check_schema"
    migrations = src + "/migrations"
    side_table = "a plugin migrates only its own tables, named checkschema_…; it adds fields to others' records "
    side_table += "through a side table of its own"
    assert found == [
        f"{where}pyproject.toml: error: the migrations are not shipped in the wheel (migrations/ is no package): "
        'add udyog_check_schema = ["migrations/*.py"] to [tool.setuptools.package-data]',
        f"{src}/hooks.py:21: error: route GET /api/v1/checkschema/open declares no access (@requires, "
        "@authenticated or @public): it answers 403 to everyone",
        f"{src}/hooks.py:26: error: route GET /api/v1/checkschema/parts requires 'checkschema.part.write', which "
        "no plugin declares",
        f"{src}/models.py:11: error: table 'gadget' must be named checkschema_<thing>",
        f"{src}/models.py:11: error: table 'gadget': index ix_gadget_label on ['label'] must lead with tenant_id",
        f"{src}/models.py:11: error: table 'gadget': unique constraint on ['label'] must lead with tenant_id "
        "(unique within a tenant)",
        f"{migrations}/4c1e2d3f5a60_parts_and_gadgets.py:22: error: op.create_table touches 'gadget' (not named "
        f"checkschema_…): {side_table}",
        f"{migrations}/4c1e2d3f5a60_parts_and_gadgets.py:33: error: op.create_index touches 'gadget' (not named "
        f"checkschema_…): {side_table}",
        f"{migrations}/8d2f3a4b6c71_tenant_flag.py:22: error: op.batch_alter_table touches 'core_tenant' (a table "
        f"of the core): {side_table}",
        f"{migrations}: error: SQLite: the upgrade creates table 'gadget', not named checkschema_…",
        f"{migrations}: error: SQLite: the upgrade changed another's table: column core_tenant.checkschema_flag "
        "is added",
        f"{migrations}: error: SQLite: models and migrations differ: column checkschema_part.colour is in the "
        "models but not created by the migrations (write a revision: udyog db revision --plugin checkschema -m ...)",
        f"{migrations}: error: SQLite: after downgrading to base, table 'gadget' is left",
        f"{migrations}: error: SQLite: after downgrading to base, column core_tenant.checkschema_flag is left",
    ]
    assert result.stdout.splitlines()[-1] == "plugin check failed: 14 errors, 0 warnings (checkschema)"


def test_checking_a_directory_installs_nothing(tmp_path):
    before = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, timeout=120
    ).stdout
    run_check(str(FIXTURES / "udyog-check-hooks"))
    after = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, timeout=120
    ).stdout
    assert before == after and "udyog-check-hooks" not in after


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchplugin", "no installed plugin is named 'nosuchplugin'"),
        ("Not/A/Plugin", "is neither a directory nor the name of an installed plugin"),
        ("docs", "docs has no pyproject.toml: pass a plugin distribution's directory"),
        ("core", 'core/pyproject.toml: no entry point in group "udyog.plugins"'),
    ],
)
def test_a_target_that_is_no_plugin_is_refused_with_status_2(target, message):
    result = run_check(target)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr


def test_the_example_plugin_passes_and_data_files_left_out_of_the_wheel_are_named(tmp_path):
    example = ROOT / "examples" / "udyog-warranty"
    result = run_check(str(example))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "plugin check passed: 0 errors, 0 warnings (warranty)"
    copy = tmp_path / "udyog-warranty"
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(', "templates/**/*.html"', ""))
    line = pyproject.read_text().splitlines().index("[tool.setuptools.package-data]") + 1
    result = run_check(str(copy))
    assert result.returncode == 1
    assert findings(result.stdout) == [
        f"{pyproject}:{line}: error: files of udyog_warranty are not shipped in the wheel: "
        'templates/warranty/expiring.html (add "templates/**/*" to udyog_warranty in [tool.setuptools.package-data])'
    ]
