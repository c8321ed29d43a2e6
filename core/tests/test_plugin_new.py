"""`udyog plugin new`: a scaffold of the standard shape whose tests pass right after `pip install -e`."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from udyog.testing import child_env, overlay_venv

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UDYOG = str(BIN / "udyog")


def udyog(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([UDYOG, *args], cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=300)


def test_the_scaffold_has_the_standard_shape(tmp_path):
    result = udyog("plugin", "new", "warranty", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "udyog-warranty"
    assert result.stdout.splitlines()[0] == f"created udyog-warranty in {root}"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    migration = next(f for f in files if "/migrations/" in f)
    assert files == sorted(
        [
            "README.md",
            "pyproject.toml",
            "src/udyog_warranty/__init__.py",
            "src/udyog_warranty/api.py",
            "src/udyog_warranty/hooks.py",
            "src/udyog_warranty/models.py",
            "src/udyog_warranty/schemas.py",
            "src/udyog_warranty/services.py",
            migration,
            "tests/test_warranty.py",
        ]
    )
    assert migration.endswith("_warranty_items.py")
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."udyog.plugins"]\nwarranty = "udyog_warranty:plugin"' in pyproject
    assert 'dependencies = ["udyog-sdk>=1.7,<2"]' in pyproject
    assert 'udyog_warranty = ["migrations/*.py"]' in pyproject
    revision = (root / migration).read_text()
    assert 'branch_labels: str | Sequence[str] | None = ("warranty",)' in revision
    assert 'depends_on: str | Sequence[str] | None = "db64f1ae32d8"' in revision  # the core's first revision
    assert '__tablename__ = "warranty_item"' in (root / "src/udyog_warranty/models.py").read_text()
    assert 'pytestmark = pytest.mark.udyog_plugins("warranty")' in (root / "tests/test_warranty.py").read_text()
    assert "from udyog_sdk import Plugin" in (root / "src/udyog_warranty/__init__.py").read_text()
    for path in (root / "src").rglob("*.py"):
        text = path.read_text()
        assert "import udyog." not in text and "from udyog." not in text and "from udyog import" not in text, path


def test_the_scaffold_is_lint_clean_with_the_workspace_rules(tmp_path):
    udyog("plugin", "new", "spare_parts_with_a_long_name_of_40_ch", cwd=tmp_path)
    root = tmp_path / "udyog-spare-parts-with-a-long-name-of-40-ch"
    config = str(ROOT / "pyproject.toml")
    check = subprocess.run(
        [str(BIN / "ruff"), "check", "--config", config, str(root / "src")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    tests = subprocess.run(
        [str(BIN / "ruff"), "check", "--config", config, "--extend-ignore", "ANN,D1", str(root / "tests")],
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout
    formatted = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "--config", config, str(root)], capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout


def test_the_scaffold_passes_plugin_check_before_it_is_installed(tmp_path):
    udyog("plugin", "new", "warranty", "--dir", "work/warranty", cwd=tmp_path)
    result = udyog("plugin", "check", "work/warranty", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "warranty (udyog-warranty 0.1.0, work/warranty)"
    assert "ok       uninstall leaves no trace" in result.stdout
    assert result.stdout.splitlines()[-1] == "plugin check passed: 0 errors, 0 warnings (warranty)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Warranty"], "plugin name 'Warranty' must be lower case letters, digits and underscores"),
        (["w"], "plugin name 'w' must be lower case letters"),
        (["warranty-claims"], "plugin name 'warranty-claims' must be lower case letters"),
        (["core"], "plugin name 'core' is reserved"),
        (["sdk"], "plugin name 'sdk' is reserved"),
        (["notes"], "a plugin named 'notes' is already installed (udyog-test-notes): choose another name"),
        (["test_ledger"], "a package udyog_test_ledger is already importable here: choose another name"),
        (["warranty", "--dir", "occupied"], "occupied already exists and is not an empty directory"),
        (["warranty", "--dir", "a-file"], "a-file already exists and is not an empty directory"),
    ],
)
def test_bad_names_and_taken_places_are_refused(tmp_path, args, message):
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "keep.txt").write_text("mine")
    (tmp_path / "a-file").write_text("mine")
    result = udyog("plugin", "new", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "occupied"]  # nothing written
    assert (tmp_path / "occupied" / "keep.txt").read_text() == "mine"


def test_an_empty_directory_may_receive_the_scaffold(tmp_path):
    (tmp_path / "empty").mkdir()
    result = udyog("plugin", "new", "warranty", "--dir", "empty", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty" / "src" / "udyog_warranty" / "hooks.py").is_file()


@pytest.mark.slow
def test_the_scaffolds_tests_pass_right_after_pip_install(tmp_path):
    """Scaffold, install it editable into a fresh venv (nothing downloaded), run its tests and its check there."""
    made = udyog("plugin", "new", "warranty", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    plugin = tmp_path / "udyog-warranty"
    python = overlay_venv(tmp_path / "venv")
    ours = sysconfig.get_paths()["purelib"]
    env = child_env()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet", "-e", str(plugin)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert not list(Path(ours).glob("*udyog_warranty*")), "installed into the venv under test, not ours"
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=plugin,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    summary = tests.stdout.strip().splitlines()[-1]
    runs = 16 if os.environ.get("UDYOG_TEST_DATABASE_URL") else 8  # SQLite, and PostgreSQL when configured
    assert summary.startswith(f"{runs} passed") and "failed" not in summary and "error" not in summary, tests.stdout
    check = subprocess.run(
        [str(python), "-m", "udyog.cli", "plugin", "check", "warranty"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[0] == "warranty (udyog-warranty 0.1.0, udyog-warranty)"
