"""Benchmark: gap-free numbering with 8 concurrent writers on PostgreSQL, against a bare counter.

Target: our gap-free numbering commits at least 50% of the transactions per
second of a bare counter on the same server.

Baseline: 8 threads, each on its own psycopg2 connection (as the database's
owner: no row-level security, no ORM), loop ``UPDATE bench_counter SET value
= value + 1 WHERE id = 1 RETURNING value`` and ``COMMIT``. Every transaction
waits for the previous one's row lock, so this is the ceiling of any
gap-free counter on this server.

Ours: 8 threads, each in its own tenant scope (a ``TenantSession`` on the
application role, row-level security enforced), loop ``next_number
("notes.note")`` and ``commit()``: the series row read ``FOR KEY SHARE``, the
counter incremented by ``UPDATE ... RETURNING`` in the caller's transaction
(both prepared statements), the tenant set per transaction (sent with the
series read). Two context rows: a fresh tenant scope per transaction (what a
request or task pays on top: the tenant's row read again), and the same SQL
as ours sent by bare psycopg2 (``set_config`` with the series row ``FOR KEY
SHARE`` in one round trip, the counter ``UPDATE ... RETURNING``, ``COMMIT``;
unprepared), which separates the cost of the statements from the cost of
Python and SQLAlchemy.

Rounds of a fixed duration run interleaved (baseline, ours, context, then
rotated); the median of commits per second is reported. After the rounds,
both counters are checked against the commits counted: nothing lost, nothing
doubled. Needs ``UDYOG_TEST_DATABASE_URL`` (an administrative URL); the
database and an application role are created here and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg2
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from tests.bench import Outcome, not_measured, print_heading, print_table, verdict
from udyog.config import PluginsFile, Settings, normalize_database_url
from udyog.kernel import Kernel
from udyog.migrate import upgrade
from udyog.models import NumberSeries, SeriesCounter
from udyog.series import set_series
from udyog.tenancy import create_tenant
from udyog.testing import postgres_database
from udyog_sdk.series import next_number

WRITERS = 8
ROUND_SECONDS = 2.0
ROUNDS = 7
TARGET = 0.50
KEY = "notes.note"
TENANT = "bench"
NAME = "series numbering (PostgreSQL, 8 writers)"


def _run_threads(worker: Callable[[Callable[[], bool]], int], seconds: float) -> float:
    """Run ``WRITERS`` copies of ``worker`` for ``seconds``; commits per second of them all.

    ``worker(go)`` loops while ``go()`` is true and returns its commits.
    """
    start = threading.Barrier(WRITERS + 1)
    deadline = [0.0]
    counts = [0] * WRITERS
    failures: list[BaseException] = []

    def go() -> bool:
        return time.perf_counter() < deadline[0]

    def run(index: int) -> None:
        start.wait()
        try:
            counts[index] = worker(go)
        except BaseException as exc:  # noqa: BLE001 - reported after the round
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"a writer failed: {failures[0]!r}") from failures[0]
    return sum(counts) / elapsed


class Baseline:
    """A bare counter row updated by plain psycopg2 connections."""

    def __init__(self, dsn: str) -> None:
        self.connections = [psycopg2.connect(dsn) for _ in range(WRITERS)]
        self.commits = 0
        self._lock = threading.Lock()
        with self.connections[0].cursor() as cur:
            cur.execute("CREATE TABLE bench_counter (id integer PRIMARY KEY, value bigint NOT NULL)")
            cur.execute("INSERT INTO bench_counter VALUES (1, 0)")
        self.connections[0].commit()

    def round(self, seconds: float) -> float:
        """Commits per second of one round."""
        pool = iter(self.connections)
        pick = threading.Lock()

        def worker(go: Callable[[], bool]) -> int:
            with pick:
                conn = next(pool)
            done = 0
            with conn.cursor() as cur:
                while go():
                    cur.execute("UPDATE bench_counter SET value = value + 1 WHERE id = 1 RETURNING value")
                    cur.fetchone()
                    conn.commit()
                    done += 1
            with self._lock:
                self.commits += done
            return done

        return _run_threads(worker, seconds)

    def value(self) -> int:
        """The counter's value now."""
        with self.connections[0].cursor() as cur:
            cur.execute("SELECT value FROM bench_counter WHERE id = 1")
            row = cur.fetchone()
        self.connections[0].commit()
        return int(row[0])

    def close(self) -> None:
        """Close the connections."""
        for conn in self.connections:
            conn.close()


class Ours:
    """Gap-free numbers of a tenant's series, taken through the SDK accessor."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.commits = 0
        self.numbers: set[str] = set()
        self._lock = threading.Lock()

    def _record(self, done: int, numbers: list[str]) -> None:
        with self._lock:
            self.commits += done
            self.numbers.update(numbers)

    def round(self, seconds: float) -> float:
        """One tenant scope per writer; each transaction takes one number and commits."""

        def worker(go: Callable[[], bool]) -> int:
            numbers: list[str] = []
            with self.kernel.tenant_scope(TENANT) as scope:
                while go():
                    numbers.append(next_number(KEY))
                    scope.session.commit()
            self._record(len(numbers), numbers)
            return len(numbers)

        return _run_threads(worker, seconds)

    def round_scope_per_transaction(self, seconds: float) -> float:
        """Context: a fresh tenant scope (and tenant lookup) for every transaction, as a request has."""

        def worker(go: Callable[[], bool]) -> int:
            numbers: list[str] = []
            while go():
                with self.kernel.tenant_scope(TENANT) as scope:
                    numbers.append(next_number(KEY))
                    scope.session.commit()
            self._record(len(numbers), numbers)
            return len(numbers)

        return _run_threads(worker, seconds)

    def counter_total(self) -> int:
        """The sum of the series' counters."""
        with self.kernel.tenant_scope(TENANT, write=False) as scope:
            series_id = scope.session.scalar(select(NumberSeries.id).where(NumberSeries.key == KEY))
            values = scope.session.scalars(select(SeriesCounter.value).where(SeriesCounter.series_id == series_id))
            return sum(values)


class SameSql:
    """Context: our statements for one number, sent by bare psycopg2 (same counter row as ours)."""

    def __init__(self, dsn: str, tenant_id: Any, series_id: Any, period: str) -> None:
        self.connections = [psycopg2.connect(dsn) for _ in range(WRITERS)]
        self.params = {"t": str(tenant_id), "s": str(series_id), "p": period, "k": KEY}
        self.commits = 0
        self._lock = threading.Lock()

    def round(self, seconds: float) -> float:
        """Commits per second of one round."""
        pool = iter(self.connections)
        pick = threading.Lock()

        def worker(go: Callable[[], bool]) -> int:
            with pick:
                conn = next(pool)
            done = 0
            with conn.cursor() as cur:
                while go():
                    cur.execute(
                        "SELECT set_config('udyog.tenant_id', %(t)s, true), "
                        "set_config('udyog.all_tenants', 'off', true); "
                        "SELECT id, key, pattern, reset, gap_free, max_length, allowed_chars, version FROM core_series "
                        "WHERE tenant_id = %(t)s AND key = %(k)s FOR KEY SHARE",
                        self.params,
                    )
                    cur.fetchone()
                    cur.execute(
                        "UPDATE core_series_counter SET value = value + 1 WHERE tenant_id = %(t)s "
                        "AND series_id = %(s)s AND period = %(p)s AND branch = '' RETURNING value",
                        self.params,
                    )
                    cur.fetchone()
                    conn.commit()
                    done += 1
            with self._lock:
                self.commits += done
            return done

        return _run_threads(worker, seconds)

    def close(self) -> None:
        """Close the connections."""
        for conn in self.connections:
            conn.close()


@contextmanager
def _database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh database (udyog.testing.postgres_database) and an application role, both dropped after."""
    role = f"udyog_bench_app_{secrets.token_hex(4)}"
    try:
        with postgres_database(admin_url, prefix="udyog_bench_series") as url:
            yield url, role
    finally:
        admin = create_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            admin.dispose()


def _kernel(url: str, role: str) -> Kernel:
    values: dict[str, Any] = {
        "database_url": url,
        "plugins": PluginsFile(enabled=("notes",)),
        "app_db_role": role,
        "strict_plugins": True,
    }
    return Kernel(Settings.from_env(values, environ={}))


def _measure(admin_url: str) -> dict[str, float]:
    with _database(admin_url) as (url, role), ExitStack() as stack:
        kernel = _kernel(url, role)
        stack.callback(kernel.close)
        upgrade(kernel, report=lambda line: None)
        create_tenant(kernel, TENANT, "Bench", plugins=["notes"])
        with kernel.tenant_scope(TENANT) as scope:
            set_series(scope, KEY, pattern="N/{FY_SHORT}/{seq:07}")
            scope.session.commit()
        ours = Ours(kernel)
        ours.round(0.1)  # creates the counter of the current period
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        baseline = Baseline(dsn)
        stack.callback(baseline.close)
        with kernel.tenant_scope(TENANT, write=False) as scope:
            counter = scope.session.execute(select(SeriesCounter.series_id, SeriesCounter.period)).one()
            same_sql = SameSql(dsn, scope.tenant.id, counter.series_id, counter.period)
        stack.callback(same_sql.close)
        cases: dict[str, Callable[[float], float]] = {
            "baseline": baseline.round,
            "ours": ours.round,
            "scope_per_tx": ours.round_scope_per_transaction,
            "same_sql": same_sql.round,
        }
        for run in cases.values():  # warm-up: connections, caches, the counter row
            run(0.3)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                samples[name].append(cases[name](ROUND_SECONDS))
        # Sanity, not timing: every commit counted is in the counters, once.
        if baseline.value() != baseline.commits:
            raise AssertionError(f"baseline counter {baseline.value()} != {baseline.commits} commits")
        if ours.counter_total() != ours.commits + same_sql.commits or len(ours.numbers) != ours.commits:
            raise AssertionError(
                f"series counters {ours.counter_total()}, {len(ours.numbers)} distinct numbers, "
                f"{ours.commits} + {same_sql.commits} commits"
            )
        return {name: statistics.median(values) for name, values in samples.items()}


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its target."""
    print_heading(
        f"Number series: gap-free numbering, {WRITERS} concurrent writers on one series, "
        f"median of {ROUNDS} rounds x {ROUND_SECONDS:.0f} s"
    )
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL")
    if not admin_url:
        print("-- PostgreSQL: skipped (set UDYOG_TEST_DATABASE_URL to an administrative URL)")
        return [not_measured(NAME, "UDYOG_TEST_DATABASE_URL not set")]
    rates = _measure(admin_url)
    base = rates["baseline"]
    print_table(
        ["case", "commits/s", "of baseline"],
        [
            ["baseline: psycopg2 UPDATE ... RETURNING + COMMIT", f"{base:.0f}", "100%"],
            [
                "ours: next_number() + commit(), a tenant scope per writer",
                f"{rates['ours']:.0f}",
                _share(rates["ours"], base),
            ],
            [
                "context: a fresh tenant scope per transaction",
                f"{rates['scope_per_tx']:.0f}",
                _share(rates["scope_per_tx"], base),
            ],
            [
                "context: our SQL from bare psycopg2 (no ORM, no Python work)",
                f"{rates['same_sql']:.0f}",
                _share(rates["same_sql"], base),
            ],
        ],
    )
    share = rates["ours"] / base
    met = share >= TARGET
    summary = (
        f"{NAME}: baseline {base:.0f} commits/s, ours {rates['ours']:.0f} commits/s, "
        f"{share:.0%} of baseline (target >= {TARGET:.0%}) {verdict(met)}"
    )
    return [Outcome(NAME, summary, met)]


def _share(value: float, base: float) -> str:
    return f"{value / base:.0%}"


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
