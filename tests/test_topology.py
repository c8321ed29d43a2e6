"""The deployment of docker/compose.yaml, without Docker: every process on 127.0.0.1.

One fresh PostgreSQL database, Redis (its own queue), a shared data directory
(the compose file's shared volume), and the processes the compose file runs,
started by the same commands with the same environment: ``udyog db upgrade``
(the one-shot migration), two ``udyog run --no-jobs`` web processes, one
``udyog worker`` and exactly one ``udyog beat``. The flows cross them: a
request on web 1 queues a job, the worker runs it, web 2 shows the result;
beat's schedule fires; a vigilance alert raised by a request on web 1 is read
from web 2.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import requests

from udyog.pytest_plugin import require_postgres
from udyog.testing import TEST_APP_ROLE, free_port, postgres_database, redis_test_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("workers")]

PASSWORD = "topology-pass-2026"
OWNER = "owner@acme.test"


def _installed(name: str) -> bool:
    return any(ep.name == name for ep in entry_points(group="udyog.plugins"))


VIGILANCE = _installed("vigilance")
PLUGINS = ["crm", "inventory", "sales", "notes", *(["vigilance"] if VIGILANCE else [])]


@dataclass
class Topology:
    """The running deployment: the two web processes' URLs, the environment, the logs."""

    web: list[str]
    env: dict[str, str]
    logs: list[Path]
    token: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, web: int, path: str, **kw: Any) -> requests.Response:
        return self.session.get(f"{self.web[web]}{path}", headers=self.headers(), timeout=15, **kw)

    def post(self, web: int, path: str, **kw: Any) -> requests.Response:
        return self.session.post(f"{self.web[web]}{path}", headers=self.headers(), timeout=30, **kw)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Poll ``check`` until it answers something true (never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{self.output()}")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "udyog.cli", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"udyog {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _background(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop processes and every child of theirs (each its own process group): SIGTERM to all, then wait."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    """Whether the web process at ``url`` answers ``/api/v1/health`` (fails at once if it exited)."""
    if process.poll() is not None:
        pytest.fail(f"{url}: the web process exited with {process.returncode}")
    try:
        return requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    admin = require_postgres()
    redis = redis_test_url()
    if redis is None:
        pytest.skip("Redis not configured (set UDYOG_TEST_REDIS_URL)")
    root = tmp_path_factory.mktemp("topology")
    shared = root / "shared"  # the compose file's shared volume: attachments, work files, beat's state
    shared.mkdir()
    plugins = root / "plugins.toml"
    plugins.write_text("[deployment]\nenabled = [" + ", ".join(f'"{p}"' for p in PLUGINS) + "]\nstrict = true\n")
    with postgres_database(admin, prefix="udyog_topo") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_") or k.startswith("UDYOG_TEST_")}
        env.update(
            {
                "UDYOG_DATABASE_URL": url,
                "UDYOG_APP_DB_ROLE": TEST_APP_ROLE,
                "UDYOG_REDIS_URL": redis,
                "UDYOG_JOBS_QUEUE": f"udyog-topology-{uuid.uuid4().hex[:8]}",
                "UDYOG_DATA_DIR": str(shared),
                "UDYOG_PLUGINS_FILE": str(plugins),
                "UDYOG_SECRET_KEY": secrets.token_urlsafe(32),  # one key for every process
                "UDYOG_IMPORT_BACKGROUND_ROWS": "2",  # a three-row file is imported by the worker
                "NOTES_TICK_SECONDS": "1",
                "UDYOG_LOG_LEVEL": "INFO",
            }
        )
        # The one-shot migration first, as the compose file's `migrate` service.
        assert "database at head" in _cli(env, "db", "upgrade")
        logs: list[Path] = []
        processes: list[subprocess.Popen[bytes]] = []
        try:
            # Then everything at once, as compose starts the services once `migrate` succeeded: the worker,
            # beat and two web processes, while the operator creates a tenant and its owner.
            ports = [free_port(), free_port()]
            for name, args in (
                ("worker", ["worker", "--concurrency", "1", "--hostname", "topology@%h"]),
                ("beat", ["beat"]),
                ("web1", ["run", "--no-jobs", "--port", str(ports[0]), "--workers", "1"]),
                ("web2", ["run", "--no-jobs", "--port", str(ports[1]), "--workers", "1"]),
            ):
                log = root / f"{name}.log"
                logs.append(log)
                processes.append(_background([sys.executable, "-m", "udyog.cli", *args], env, log))
            _cli(env, "tenant", "create", "acme", "--name", "Acme Foods", "--plugins", ",".join(PLUGINS))
            _cli(env, "user", "create", OWNER, "--name", "Owner", "--tenant", "acme", "--role", "Owner",
                 "--password", PASSWORD)  # fmt: skip
            topology = Topology([f"http://127.0.0.1:{port}" for port in ports], env, logs)
            for url, process in zip(topology.web, processes[2:], strict=True):
                topology.wait(lambda url=url, process=process: _healthy(url, process), f"{url} to serve", timeout=60)
            login = requests.post(
                f"{topology.web[0]}/api/v1/auth/login", json={"email": OWNER, "password": PASSWORD}, timeout=30
            )
            assert login.status_code == 200, login.text
            topology.token = login.json()["data"]["access_token"]
            yield topology
        finally:
            _stop(processes)  # every process group at once, then the database


def test_every_web_process_is_ready_and_shares_the_login(topology):
    for number in (0, 1):
        ready = requests.get(f"{topology.web[number]}/api/v1/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["data"] | {"version": None} == {
            "status": "ready", "database": "ok", "broker": "ok", "version": None,
        }  # fmt: skip
    # A token issued by web 1 is honoured by web 2: the secret key is shared, sessions live in the database.
    me = topology.get(1, "/api/v1/auth/me")
    assert me.status_code == 200, me.text


def test_a_request_on_web_1_queues_a_job_the_worker_runs_and_web_2_shows(topology):
    rows = ["code,name", "TOPO-1,Shree Traders", "TOPO-2,Lakshmi Stores", "TOPO-3,Ganesh Agencies"]
    queued = topology.post(
        0, "/api/v1/crm/customers/import", files={"file": ("customers.csv", "\n".join(rows).encode(), "text/csv")}
    )
    assert queued.status_code == 202, queued.text  # more rows than UDYOG_IMPORT_BACKGROUND_ROWS: a background job
    job = queued.json()["data"]
    assert job["rows"] == 3

    def finished() -> dict[str, Any] | None:
        status = topology.get(1, job["status_url"])  # the other web process reads the run's state
        assert status.status_code == 200, status.text
        data = status.json()["data"]
        return data if data["finished"] else None

    result = topology.wait(finished, "the worker to run the import")
    assert result["state"] == "succeeded", result
    run = topology.get(1, f"/api/v1/core/jobs/{job['job_id']}").json()["data"]
    assert run["task"] == "core.import_records" and run["attempts"] == 1 and run["started_at"], run
    # The web processes run without jobs (--no-jobs): the worker ran it.
    worker_log = topology.logs[0].read_text(errors="replace")
    assert f"Task core.import_records[{job['job_id']}] succeeded" in worker_log or job["job_id"] in worker_log
    customers = topology.get(1, "/api/v1/crm/customers", params={"q": "TOPO", "limit": 10}).json()["data"]
    assert sorted(c["code"] for c in customers) == ["TOPO-1", "TOPO-2", "TOPO-3"]


def test_exactly_one_beat_fires_the_schedules(topology):
    def ticks() -> list[dict[str, Any]]:
        runs = topology.get(1, "/api/v1/core/jobs", params={"task": "notes.tick", "state": "succeeded"})
        assert runs.status_code == 200, runs.text
        return runs.json()["data"] if len(runs.json()["data"]) >= 2 else []

    runs = topology.wait(ticks, "beat to fire notes.tick twice (the worker runs them)")
    assert all(run["user_id"] is None for run in runs)  # queued by a schedule, not a user
    assert "Scheduler: Sending due task notes.tick" in topology.logs[1].read_text(errors="replace")
    assert list(Path(topology.env["UDYOG_DATA_DIR"]).glob("celerybeat-schedule*"))  # beat's state file


def test_worker_and_beat_answer_the_container_health_checks(topology):
    # The compose file's health checks of the worker and beat services.
    other = {**topology.env, "UDYOG_JOBS_QUEUE": "another-deployment"}  # pings stay within a deployment
    checks = [
        subprocess.Popen(
            [sys.executable, "-m", "udyog.cli", "jobs", "ping", *args, "--timeout", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env, args in ((topology.env, []), (topology.env, ["--beat"]), (other, []))
    ]
    (worker, _), (beat, _), (_, elsewhere) = (check.communicate(timeout=60) for check in checks)
    assert [check.returncode for check in checks] == [0, 0, 2], (worker, beat, elsewhere)
    assert "answered: topology@" in worker and "answered: celerybeat@" in beat
    assert "no worker on host" in elsewhere


def _sales_world(env: dict[str, str]) -> dict[str, str]:
    """A warehouse with stock, a product and a distributor with a ₹1000 credit limit, committed in the database.

    Written through the plugins' models in this process (a kernel on the same database, as any process of the
    deployment); the flow under test then runs over HTTP and through the worker only.
    """
    from decimal import Decimal

    from udyog.config import Settings
    from udyog.kernel import Kernel
    from udyog.models import Branch
    from udyog_crm.models import Customer
    from udyog_inventory import services as stock
    from udyog_inventory.models import Product, Unit, Warehouse
    from udyog_sales.models import AccountTerms

    kernel = Kernel(Settings.from_env(environ=env))
    try:
        with kernel.tenant_scope("acme") as scope:
            session = scope.session
            branch = Branch(code="PUNE", name="Pune", address="", state_code="27")
            unit = Unit(code="pcs", name="Piece")
            session.add_all([branch, unit])
            session.flush()
            product = Product(sku="P1", name="Mango pickle", unit_id=unit.id, price=Decimal("100.00"), cost=Decimal(60))
            house = Warehouse(code="W1", name="Pune FG", branch_id=branch.id)
            customer = Customer(code="C1", name="Sunrise Distributors")
            session.add_all([product, house, customer])
            session.flush()
            stock.receive(product.id, house.id, Decimal(100), unit_cost=product.cost)
            session.add(
                AccountTerms(
                    record_id=customer.id,
                    is_distributor=True,
                    margin_pct=Decimal("0.00"),
                    credit_limit=Decimal("1000.00"),
                    outstanding=Decimal("0.00"),
                )
            )
            session.commit()
            return {"product": str(product.id), "warehouse": str(house.id), "customer": str(customer.id)}
    finally:
        kernel.close()


def test_an_order_over_the_credit_limit_on_web_1_raises_an_alert_seen_on_web_2(topology):
    if not VIGILANCE:
        pytest.skip("the vigilance plugin is not installed")
    rules = topology.get(0, "/api/v1/vigilance/rules")
    assert rules.status_code == 200, rules.text
    if "sales.credit_limit_breach" not in {rule["key"] for rule in rules.json()["data"]}:
        pytest.skip("sales contributes no sales.credit_limit_breach rule")
    world = _sales_world(topology.env)
    body = {
        "customer_id": world["customer"],
        "warehouse_id": world["warehouse"],
        "lines": [{"product_id": world["product"], "quantity": "12"}],  # ₹1200 against a ₹1000 limit
    }
    made = topology.post(0, "/api/v1/sales/orders", json=body)
    assert made.status_code == 201, made.text
    order = made.json()["data"]
    # The owner confirms over the limit (the credit override); the rule is evaluated by the worker.
    confirmed = topology.post(0, f"/api/v1/sales/orders/{order['id']}/confirm", json={"version": order["version"]})
    assert confirmed.status_code == 200, confirmed.text

    def alert() -> dict[str, Any] | None:
        listed = topology.get(1, "/api/v1/vigilance/alerts", params={"rule_key": "sales.credit_limit_breach"})
        assert listed.status_code == 200, listed.text
        found = listed.json()["data"]
        return found[0] if found else None

    found = topology.wait(alert, "the credit-limit alert on web 2")
    assert found["state"] == "open" and found["subject"] == f"customer:{world['customer']}", found
    assert "Sunrise Distributors" in found["title"] and "exceeds the credit limit ₹1000.00" in found["title"]
    counts = topology.get(1, "/api/v1/vigilance/alerts/counts")
    assert counts.status_code == 200 and counts.json()["data"]["live"] >= 1, counts.text
