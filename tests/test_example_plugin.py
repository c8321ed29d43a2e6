"""examples/udyog-warranty: a third-party plugin, outside the workspace, installed with pip from its folder.

It is not installed in the workspace's environment: the test installs it
(not editable) into an environment of its own that sees the workspace's
packages behind its own, runs its tests there and checks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from udyog.testing import child_env, overlay_venv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "udyog-warranty"


def run(args: list[str], *, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_example_imports_only_the_sdk_and_the_plugins_it_requires():
    allowed = ("udyog_sdk", "udyog_warranty", "udyog_crm", "udyog_inventory", "udyog_sales")
    for path in (EXAMPLE / "src").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) > 1 and words[0] in ("import", "from") and words[1].startswith("udyog"):
                assert words[1].split(".")[0] in allowed, f"{path}: {line}"


@pytest.mark.slow
def test_the_example_installs_from_its_folder_passes_its_tests_and_its_check(tmp_path):
    source = tmp_path / "udyog-warranty"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    python = overlay_venv(tmp_path / "venv")
    run([str(python), "-m", "pip", "install", "--quiet", "--no-build-isolation", str(source)], cwd=tmp_path)
    where = run([str(python), "-c", "import udyog_warranty; print(udyog_warranty.__file__)"], cwd=tmp_path)
    assert str(tmp_path / "venv") in where.stdout  # installed into its environment, not imported from the folder

    tests = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"], cwd=source)
    runs = 33 if os.environ.get("UDYOG_TEST_DATABASE_URL") else 17  # one test without a database, 16 per backend
    summary = tests.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{runs} passed") and "failed" not in summary and "error" not in summary, tests.stdout

    check = run([str(python), "-m", "udyog.cli", "plugin", "check", "warranty"], cwd=tmp_path)
    lines = check.stdout.splitlines()
    assert lines[0].startswith("warranty (udyog-warranty 0.2.0"), check.stdout
    assert lines[-1] == "plugin check passed: 0 errors, 0 warnings (warranty)", check.stdout
