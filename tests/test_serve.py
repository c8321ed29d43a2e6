"""`make run` end to end over real HTTP: install, migrate, demo tenant, gunicorn."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from udyog.testing import free_port, served_process

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def make_run(tmp_path: Path, **extra_env: str) -> Iterator[tuple[str, Path, Path]]:
    """`make run` on a free port with its own data directory; yields (base URL, log, tmp_path)."""
    port = free_port()
    env = {**os.environ, "UDYOG_DATA_DIR": str(tmp_path / "var"), "PORT": str(port)}
    for name in ("UDYOG_DATABASE_URL", "UDYOG_PLUGINS_FILE", "UDYOG_STRICT_PLUGINS", "UDYOG_REDIS_URL"):
        env.pop(name, None)
    env.update(extra_env)
    log = tmp_path / "run.log"
    with served_process(
        ["make", "--no-print-directory", "run"], port=port, env=env, log=log, cwd=ROOT, timeout=180
    ) as base:
        yield base, log, tmp_path


@pytest.fixture
def served(tmp_path):
    with make_run(tmp_path) as served:
        yield served


@pytest.mark.slow
def test_make_run_serves_the_api_with_the_demo_tenant(served):
    base, log, tmp = served
    output = log.read_text()
    assert "Udyog is serving at http://localhost:" in output
    assert "demo tenant ready: demo" in output
    assert "database at head" in output
    assert (tmp / "var" / "udyog.db").exists()
    health = requests.get(f"{base}/api/v1/health", timeout=5).json()
    assert health == {
        "success": True,
        "message": "OK",
        "data": {"status": "ok", "database": "ok", "version": "0.1.0"},
        "meta": {},
    }
    assert "log in as owner@sunrise.example with password sunrise-demo-2026" in output
    assert requests.get(f"{base}/api/v1/plugins", timeout=5).status_code == 401
    spec = requests.get(f"{base}/api/openapi.json", timeout=5).json()  # anonymous: the public paths only
    assert spec["openapi"].startswith("3.") and "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/core/branches" not in spec["paths"]
    login = requests.post(
        f"{base}/api/v1/auth/login",
        json={"email": "owner@sunrise.example", "password": "sunrise-demo-2026"},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    demo = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    spec = requests.get(f"{base}/api/openapi.json", headers=demo, timeout=5).json()  # the demo tenant's document
    assert "/api/v1/core/branches" in spec["paths"]
    assert "swagger-ui-bundle.js" in requests.get(f"{base}/api/docs", timeout=5).text  # served offline
    assert requests.get(f"{base}/api/docs/swagger-ui-bundle.js", timeout=5).status_code == 200
    assert requests.get(f"{base}/api/v1/plugins", headers=demo, timeout=5).json()["success"] is True
    branches = requests.get(f"{base}/api/v1/core/branches", headers=demo, timeout=5).json()["data"]
    assert [b["code"] for b in branches] == ["BLR", "PUNE"]
    # The bundled business plugins are enabled for the demo tenant, with their demo records.
    plugins = requests.get(f"{base}/api/v1/plugins", headers=demo, timeout=5).json()["data"]
    enabled = {p["name"] for p in plugins if p["enabled_for_tenant"]}
    assert {"crm", "inventory", "sales"} <= enabled
    for path in ("crm/customers", "crm/deals", "inventory/products", "inventory/balances", "sales/orders"):
        listed = requests.get(f"{base}/api/v1/{path}", headers=demo, timeout=5)
        assert listed.status_code == 200 and listed.json()["data"], (path, listed.text)
    [invoice] = requests.get(f"{base}/api/v1/sales/invoices", headers=demo, timeout=5).json()["data"]
    assert invoice["number"].startswith("INV/")
    assert "Traceback" not in output  # demo data loads without a logged error (events wait for the commit)
    bad = requests.post(f"{base}/api/v1/core/branches", headers=demo, json={"code": "x", "state_code": 27}, timeout=5)
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"code", "name", "state_code"}
    made = requests.post(
        f"{base}/api/v1/core/branches",
        headers=demo,
        json={"code": "NGP", "name": "Nagpur", "state_code": "27"},
        timeout=5,
    )
    assert made.status_code == 201 and made.json()["data"]["code"] == "NGP"
    again = requests.post(f"{base}/api/v1/core/branches", headers=demo, json={"code": "NGP", "name": "Dup"}, timeout=5)
    assert again.status_code == 409 and again.json()["errors"] == {"code": ["branch 'NGP' already exists"]}
    garbage = requests.post(
        f"{base}/api/v1/core/branches",
        headers={**demo, "Content-Type": "application/json"},
        data=b"{not json",
        timeout=5,
    )
    assert garbage.status_code == 400 and garbage.json()["success"] is False
    assert requests.get(f"{base}/api/v1/core/branches/not-a-uuid", headers=demo, timeout=5).status_code == 404


@pytest.mark.slow
def test_make_run_serves_the_web_ui_login_and_shell(served):
    import re

    base, log, tmp = served
    browser = requests.Session()
    page = browser.get(f"{base}/", timeout=10)  # follows the redirect to the login page
    assert [r.status_code for r in page.history] == [302]
    assert page.url == f"{base}/login?next=/" and page.status_code == 200
    assert 'name="password"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    shell = browser.post(
        f"{base}/login",
        data={"email": "owner@sunrise.example", "password": "sunrise-demo-2026", "csrf_token": token, "next": "/"},
        timeout=10,
    )
    assert shell.status_code == 200 and shell.url == f"{base}/", shell.text
    assert "Sunrise Foods Pvt Ltd" in shell.text and "Asha Deshmukh" in shell.text
    menu = re.findall(r'data-menu-key="([^"]+)"', shell.text)
    assert {"core.home", "core.branches", "core.users", "core.roles", "core.plugins"} <= set(menu)
    assert browser.cookies.get("csrf_access_token")
    # Every asset comes from this server, without a login.
    assets = re.findall(r'(?:href|src)="(/bootstrap/static/[^"]+)"', shell.text)
    # Nothing is fetched from elsewhere (an SVG chart's xmlns names a namespace, it fetches nothing).
    elsewhere = r'(?:href|src|action)="(?:https?:)?//(?!127\.0\.0\.1|localhost)'
    assert len(assets) >= 3 and not re.search(elsewhere, shell.text)
    assert "Sales by month" in shell.text and "Low stock" in shell.text  # the business plugins' dashboard cards
    for path in assets:
        assert requests.get(f"{base}{path}", timeout=10).status_code == 200, path
    assert "Pune factory" in browser.get(f"{base}/core/branches", timeout=10).text
    out = browser.post(f"{base}/logout", data={"csrf_token": browser.cookies["csrf_access_token"]}, timeout=10)
    assert out.url == f"{base}/login" and browser.get(f"{base}/", timeout=10).url == f"{base}/login?next=/"


@pytest.mark.slow
def test_make_run_runs_periodic_and_event_triggered_jobs_without_a_broker(tmp_path):
    plugins = tmp_path / "plugins.toml"
    plugins.write_text('[deployment]\nenabled = ["notes"]\n')
    with make_run(tmp_path, UDYOG_PLUGINS_FILE=str(plugins), NOTES_TICK_SECONDS="2") as (base, log, tmp):
        assert "job worker with beat started" in log.read_text()
        login = requests.post(
            f"{base}/api/v1/auth/login",
            json={"email": "owner@sunrise.example", "password": "sunrise-demo-2026"},
            timeout=10,
        )
        demo = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        book = requests.get(f"{base}/api/v1/notes/notebooks", headers=demo, timeout=5).json()["data"][0]
        made = requests.post(
            f"{base}/api/v1/notes/notes",
            headers=demo,
            json={"notebook_id": book["id"], "title": "bg:served"},
            timeout=5,
        )
        assert made.status_code == 201, made.text

        def succeeded(task: str) -> list[dict]:
            runs = requests.get(f"{base}/api/v1/core/jobs?task={task}", headers=demo, timeout=5).json()["data"]
            return [r for r in runs if r["state"] == "succeeded"]

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            len(succeeded("notes.tick")) >= 2 and succeeded("core.deliver_event")
        ):
            time.sleep(0.5)
        ticks, deliveries = succeeded("notes.tick"), succeeded("core.deliver_event")
        assert len(ticks) >= 2, log.read_text()[-3000:]
        assert deliveries, log.read_text()[-3000:]
        titles = {
            n["title"] for n in requests.get(f"{base}/api/v1/notes/notes", headers=demo, timeout=5).json()["data"]
        }
        assert "indexed:served" in titles
        assert (tmp / "var" / "jobs.db").exists()  # the embedded queue: a SQLite file, no broker
