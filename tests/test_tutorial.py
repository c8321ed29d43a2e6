"""docs/tutorial.md, end to end: every file it shows and every step it names, as a new plugin author does them.

Scaffold ``repairs``; apply the tutorial's files in order (``# file:`` blocks
replace or create a file, ``# add to:`` blocks append); write the migration
with ``udyog db revision``; run the plugin's tests and ``udyog plugin check``
in the author's environment; build a wheel; install it into a separate
deployment environment; ``udyog db upgrade``; start ``udyog run`` (the
restart); enable it for one tenant; and use it over HTTP there while another
tenant of the same deployment sees nothing of it.

Nothing is downloaded: both environments see this one's packages behind
their own (:func:`udyog.testing.overlay_venv`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from udyog.testing import child_env, free_port, overlay_venv, served_process

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n# (file|add to): (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PASSWORD = "tutorial-pass-2026"


def tutorial_edits() -> list[tuple[str, str, str]]:
    """The tutorial's Python blocks that change the plugin: (how, path, text), in reading order."""
    return [(how, path, text) for how, path, text in BLOCK.findall(TUTORIAL.read_text())]


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_tutorial_shows_the_files_it_promises():
    edits = tutorial_edits()
    assert [(how, path) for how, path, _ in edits] == [
        ("file", "src/udyog_repairs/models.py"),
        ("add to", "src/udyog_repairs/schemas.py"),
        ("file", "src/udyog_repairs/api.py"),
        ("file", "src/udyog_repairs/hooks.py"),
        ("file", "tests/test_visits.py"),
    ]
    text = TUTORIAL.read_text()
    for command in (
        "udyog plugin new repairs",
        "pip install -e '.[test]'",
        'udyog db revision --plugin repairs -m "service visits"',
        "udyog plugin check .",
        "pip wheel --no-deps --no-build-isolation -w dist .",
        "pip install udyog_repairs-0.1.0-py3-none-any.whl",
        "udyog db upgrade",
        "udyog plugins enable repairs --tenant acme",
    ):
        assert f"$ {command}" in text, command


def test_the_tutorial_from_scaffold_to_a_tenant(tmp_path):
    # 1. Scaffold, and install it editable into the author's environment.
    author = overlay_venv(tmp_path / "author-venv")
    env = child_env()
    run([str(author), "-m", "udyog.cli", "plugin", "new", "repairs"], cwd=tmp_path, env=env)
    plugin = tmp_path / "udyog-repairs"
    run(
        [str(author), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(plugin)],
        cwd=tmp_path,
        env=env,
    )

    # 2-5. The tutorial's files, in order.
    for how, path, text in tutorial_edits():
        target = plugin / path
        if how == "file":
            target.write_text(text)
        else:
            assert target.is_file(), f"the tutorial adds to {path}, which the scaffold did not write"
            target.write_text(target.read_text() + text)

    # 2. The migration, written by the tool against a scratch database at head.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "plugins.toml").write_text('[deployment]\nenabled = ["repairs"]\nstrict = true\n')
    scratch_env = child_env(UDYOG_PLUGINS_FILE=str(scratch / "plugins.toml"), UDYOG_DATA_DIR=str(scratch / "db"))
    run([str(author), "-m", "udyog.cli", "db", "upgrade"], cwd=plugin, env=scratch_env)
    wrote = run(
        [str(author), "-m", "udyog.cli", "db", "revision", "--plugin", "repairs", "-m", "service visits"],
        cwd=plugin,
        env=scratch_env,
    )
    migrations = sorted((plugin / "src" / "udyog_repairs" / "migrations").glob("*_service_visits.py"))
    assert len(migrations) == 1, wrote.stdout + wrote.stderr
    revision = migrations[0].read_text()
    assert "op.create_table('repairs_visit'" in revision or 'op.create_table("repairs_visit"' in revision
    assert "repairs_item" not in revision.split("def downgrade")[0].split("create_table")[0]  # nothing else created

    # 5. Its tests (the scaffold's and the tutorial's) and the check, in the author's environment.
    tests = run([str(author), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"], cwd=plugin, env=env)
    runs = 24 if os.environ.get("UDYOG_TEST_DATABASE_URL") else 12  # twelve tests, on each configured backend
    summary = tests.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{runs} passed") and "failed" not in summary and "error" not in summary, tests.stdout
    check = run([str(author), "-m", "udyog.cli", "plugin", "check", "."], cwd=plugin, env=env)
    assert check.stdout.splitlines()[-1] == "plugin check passed: 0 errors, 0 warnings (repairs)", check.stdout

    # 6. A wheel.
    run(
        [str(author), "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", "dist", "."],
        cwd=plugin,
        env=env,
    )
    wheel = plugin / "dist" / "udyog_repairs-0.1.0-py3-none-any.whl"
    assert wheel.is_file(), sorted(p.name for p in (plugin / "dist").iterdir())

    # 7. A deployment of its own: install the wheel, select the plugin, upgrade the database.
    deployment = tmp_path / "deployment"
    deployment.mkdir()
    python = overlay_venv(tmp_path / "deployment-venv")
    run([str(python), "-m", "pip", "install", "--quiet", "--no-build-isolation", str(wheel)], cwd=deployment, env=env)
    installed = run([str(python), "-c", "import udyog_repairs; print(udyog_repairs.__file__)"], cwd=tmp_path, env=env)
    assert "deployment-venv" in installed.stdout  # the wheel, not the author's editable checkout
    (deployment / "plugins.toml").write_text('[deployment]\nenabled = ["repairs"]\nstrict = true\n')
    deploy_env = child_env(
        UDYOG_PLUGINS_FILE=str(deployment / "plugins.toml"),
        UDYOG_DATA_DIR=str(deployment / "var"),
        UDYOG_DATABASE_URL=f"sqlite:///{deployment / 'udyog.db'}",
    )
    udyog = [str(python), "-m", "udyog.cli"]
    upgraded = run([*udyog, "db", "upgrade"], cwd=deployment, env=deploy_env)
    assert "upgrade repairs:" in upgraded.stdout and "service visits" in upgraded.stdout, upgraded.stdout
    for slug, name in (("acme", "Acme Workshop"), ("globex", "Globex Traders")):
        run([*udyog, "tenant", "create", slug, "--name", name], cwd=deployment, env=deploy_env)
        owner = [f"owner@{slug}.test", "--name", f"{name} owner", "--tenant", slug, "--role", "Owner"]
        run(
            [*udyog, "user", "create", *owner, "--password", PASSWORD],
            cwd=deployment,
            env=deploy_env,
        )

    # The restart: the deployment's server, with the plugin installed but enabled for no tenant yet.
    port = free_port()
    command = [*udyog, "run", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-jobs"]
    with served_process(command, port=port, env=deploy_env, log=deployment / "server.log", cwd=deployment) as url:
        use_the_deployment(url, udyog, deployment, deploy_env)


def use_the_deployment(url: str, udyog: list[str], deployment: Path, deploy_env: dict[str, str]) -> None:
    """Step 8 against the running deployment: enabled for acme only."""

    def session(slug: str) -> requests.Session:
        http = requests.Session()
        answer = http.post(f"{url}/api/v1/auth/login", json={"email": f"owner@{slug}.test", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['data']['access_token']}"
        return http

    acme, globex = session("acme"), session("globex")
    assert acme.get(f"{url}/api/v1/repairs/items", timeout=10).status_code == 404  # installed, not enabled

    # 8. Enable it for one tenant (no restart).
    enabled = run([*udyog, "plugins", "enable", "repairs", "--tenant", "acme"], cwd=deployment, env=deploy_env)
    assert enabled.stdout.strip() == "enabled for acme: repairs"
    item = {"code": "PUMP-1", "name": "Pump 1 hp", "quantity": 2, "unit_price": "3200.00"}
    made = acme.post(f"{url}/api/v1/repairs/items", json=item, timeout=10)
    assert made.status_code == 201, made.text
    visit = {"item_id": made.json()["data"]["id"], "technician": "Imran", "visited_on": "2026-11-02", "charge": "450"}
    logged = acme.post(f"{url}/api/v1/repairs/visits", json=visit, timeout=10)
    assert logged.status_code == 201, logged.text
    assert logged.json()["data"]["charge"] == "450.00"
    listed = acme.get(f"{url}/api/v1/repairs/visits", timeout=10).json()["data"]
    assert [v["technician"] for v in listed] == ["Imran"]
    # The other tenant of the deployment: none of it.
    assert globex.get(f"{url}/api/v1/repairs/visits", timeout=10).status_code == 404
    assert globex.get(f"{url}/api/v1/repairs/items", timeout=10).status_code == 404
    openapi = acme.get(f"{url}/api/openapi.json", timeout=10)
    assert openapi.status_code == 200 and "/api/v1/repairs/visits" in openapi.text
