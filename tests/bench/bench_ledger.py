"""Benchmark: the stock ledger's list, first page against a deep page, with 1,000,000 moves in one tenant.

Targets (issue 7): ``GET /api/v1/inventory/moves`` pages by keyset, so a deep
page costs at most 2x the first page, both at most 50 ms, and no page runs a
``COUNT(``.

Setup (not timed): a fresh PostgreSQL database beside
``UDYOG_TEST_DATABASE_URL`` (created and dropped here), migrated with the
inventory plugin; one tenant with an Owner, a branch, 5 warehouses, 200
products and 1,000,000 ``inventory_move`` rows (receipts and issues spread
over a year, ids UUIDv7 in time order) written by ``COPY`` as the database's
owner, then ``VACUUM ANALYZE`` as autovacuum would.

Timed: the full stack (``udyog.app.create_app``, bearer token of an Owner,
the application role with row-level security, the list route's permission
check, keyset page, schema, envelope) driven by Flask's test client:

- first page: ``GET /api/v1/inventory/moves`` (the default sort and limit);
- deep page: the same request with the ``cursor`` that the API would return
  after row 900,000 of that sort. Walking 18,000 pages to get it would take
  minutes, so the cursor is made with the SDK's ``encode_cursor`` from row
  900,000 (read with ``OFFSET`` as the owner, untimed); the bench first
  checks that this construction gives exactly the ``next_cursor`` the API
  returned for the first page, and that the deep page's first row is row
  900,001.

Context rows (not targets), by bare psycopg2 as the owner: the captured page
statements themselves (the database's share), the deep one with a redundant
leading bound on the first sort column added (what an index scan can start
from), and both pages hand-written with a row-value keyset predicate
``(moved_at, id) < (%s, %s)``. The captured statements' ``EXPLAIN (ANALYZE,
BUFFERS)`` is printed. Wall time and this process's CPU time are reported
(the CPU time is the figure least disturbed by other load on the machine).

Every statement the app sends during one first-page and one deep-page
request is captured by a ``before_cursor_execute`` listener: the bench prints
how many were sent and asserts that none contains ``COUNT(``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from typing import Any

import psycopg2
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from tests.bench import Outcome, absolute_outcome, fmt_time, not_measured, print_heading, print_table, verdict

ROWS = int(os.environ.get("UDYOG_BENCH_LEDGER_ROWS", "1000000"))
DEEP = int(ROWS * 0.9)
PRODUCTS = 200
WAREHOUSES = 5
ROUNDS = 25
SECRET = "bench-secret-of-at-least-32-bytes-0123456789"
EMAIL = "owner@ledger.bench"
PASSWORD = "bench-password-2026"
TENANT = "ledger-bench"
RATIO_TARGET = 2.0
ABSOLUTE_TARGET = 0.050
PATH = "/api/v1/inventory/moves"


# -- setup ------------------------------------------------------------------------------


def _uuid7(ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for the millisecond ``ms`` (random tail): ids in time order, as the SDK's new_id makes them."""
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    return uuid.UUID(int=value)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _world(kernel: Any) -> dict[str, Any]:
    """A tenant with an Owner, a branch, warehouses and products (through the ORM, in one scope)."""
    from udyog.tenancy import create_branch
    from udyog.testing import create_member, make_tenant
    from udyog_inventory import models as inv

    tenant = make_tenant(kernel, TENANT, "Ledger Bench", plugins=["inventory"])
    with kernel.tenant_scope(tenant.id) as scope:
        session = scope.session
        branch = create_branch(session, code="PUNE", name="Pune", address="Chakan", state_code="27")
        session.flush()
        unit = inv.Unit(code="NOS", name="Numbers")
        session.add(unit)
        session.flush()
        warehouses = []
        for i in range(WAREHOUSES):
            wh = inv.Warehouse(code=f"WH{i}", name=f"Warehouse {i}", branch_id=branch.id)
            session.add(wh)
            warehouses.append(wh)
        products = []
        for i in range(PRODUCTS):
            product = inv.Product(
                sku=f"SKU-{i:04d}",
                name=f"Product {i}",
                unit_id=unit.id,
                price=Decimal("100.00"),
                cost=Decimal("60.00"),
            )
            session.add(product)
            products.append(product)
        session.flush()
        world = {
            "tenant_id": tenant.id,
            "warehouse_ids": [w.id for w in warehouses],
            "product_ids": [p.id for p in products],
        }
        session.commit()
    world["user_id"] = create_member(kernel, tenant.id, EMAIL, roles=("Owner",), password=PASSWORD)
    return world


def _move_rows(world: dict[str, Any], user_id: uuid.UUID) -> tuple[list[str], Callable[[], Iterator[list[Any]]]]:
    """The columns of ``inventory_move`` and a generator of its rows (every non-null column without a default)."""
    from udyog_inventory.models import StockMove

    table = StockMove.__table__
    start = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    span_ms = 365 * 24 * 3600 * 1000
    step = span_ms // ROWS
    known: dict[str, Callable[[int, dict[str, Any]], Any]] = {
        "id": lambda i, r: r["id"],
        "tenant_id": lambda i, r: world["tenant_id"],
        "kind": lambda i, r: r["kind"],
        "product_id": lambda i, r: r["product_id"],
        "warehouse_id": lambda i, r: r["warehouse_id"],
        "lot_id": lambda i, r: None,
        "quantity": lambda i, r: r["quantity"],
        "on_hand_delta": lambda i, r: r["on_hand_delta"],
        "reserved_delta": lambda i, r: 0,
        "unit_cost": lambda i, r: "60.0000",
        "value": lambda i, r: r["value"],
        "reference": lambda i, r: "bench",
        "reference_id": lambda i, r: None,
        "reference_number": lambda i, r: f"B/{i:07d}",
        "user_id": lambda i, r: user_id,
        "moved_at": lambda i, r: r["moved_at"],
        "note": lambda i, r: "",
        "version": lambda i, r: 1,
        "created_at": lambda i, r: r["moved_at"],
        "updated_at": lambda i, r: r["moved_at"],
    }
    columns: list[str] = []
    for column in table.columns:
        if column.name in known:
            columns.append(column.name)
        elif not column.nullable and column.server_default is None and column.default is None:
            raise AssertionError(f"inventory_move.{column.name} is required and the bench does not know it")
    rng = random.Random(7)

    def rows() -> Iterator[list[Any]]:
        products = world["product_ids"]
        warehouses = world["warehouse_ids"]
        base_ms = int(start.timestamp() * 1000)
        for i in range(ROWS):
            ms = base_ms + i * step + rng.randrange(max(step, 1))
            receipt = i % 3 != 2
            qty = Decimal(rng.randrange(1, 50))
            r = {
                "id": _uuid7(ms, rng),
                "kind": "receipt" if receipt else "issue",
                "product_id": products[i % len(products)],
                "warehouse_id": warehouses[i % len(warehouses)],
                "quantity": qty,
                "on_hand_delta": qty if receipt else -qty,
                "value": qty * Decimal("60.00"),
                "moved_at": dt.datetime.fromtimestamp(ms / 1000, dt.UTC),
            }
            yield [known[name](i, r) for name in columns]

    return columns, rows


def _copy_moves(dsn: str, columns: list[str], rows: Iterator[list[Any]]) -> float:
    """COPY the rows in chunks as the owner; seconds taken."""
    began = time.perf_counter()
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            chunk: list[list[Any]] = []

            def flush() -> None:
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                for row in chunk:
                    writer.writerow(["\\N" if v is None else v for v in row])
                buffer.seek(0)
                cur.copy_expert(
                    f"COPY inventory_move ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
                )
                chunk.clear()

            for row in rows:
                chunk.append(row)
                if len(chunk) >= 100_000:
                    flush()
            if chunk:
                flush()
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE inventory_move")
    finally:
        conn.close()
    return time.perf_counter() - began


# -- measuring ---------------------------------------------------------------------------


class SqlLog:
    """Statements sent by an engine while :meth:`capture` is active."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False


def _signature(cursor: str) -> list[str]:
    import base64
    import json

    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return list(json.loads(raw)["s"])


def _rows_at(dsn: str, tenant_id: uuid.UUID, signature: list[str], position: int) -> list[dict[str, Any]]:
    """The sort values of rows ``position`` and ``position + 1`` (1-based) in ``signature``'s order (untimed)."""
    names = [s.lstrip("-") for s in signature]
    order_sql = ", ".join(f"{s.lstrip('-')} {'DESC' if s.startswith('-') else 'ASC'}" for s in signature)
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {', '.join(names)} FROM inventory_move WHERE tenant_id = %s ORDER BY {order_sql} "
                "OFFSET %s LIMIT 2",
                (str(tenant_id), position - 1),
            )
            found = cur.fetchall()
    finally:
        conn.close()
    return [
        {n: uuid.UUID(v) if n.endswith("id") and isinstance(v, str) else v for n, v in zip(names, row, strict=True)}
        for row in found
    ]


def _cursor_after(signature: list[str], values: dict[str, Any]) -> str:
    """The cursor the API returns after a row with these sort values (the SDK's own encoder)."""
    from types import SimpleNamespace

    from udyog_inventory.models import StockMove
    from udyog_sdk.api import encode_cursor

    order = [(getattr(StockMove, s.lstrip("-")), "desc" if s.startswith("-") else "asc") for s in signature]
    return encode_cursor(order, SimpleNamespace(**values))


def _bare_pages(
    conn: Any, tenant_id: uuid.UUID, signature: list[str], after: dict[str, Any], limit: int
) -> tuple[Callable[[], None], Callable[[], None]] | None:
    """Context: first and deep page written by hand, bare psycopg2, a row-value keyset predicate."""
    names = [s.lstrip("-") for s in signature]
    desc = signature[0].startswith("-")
    if any(s.startswith("-") != desc for s in signature):
        return None  # mixed directions: no single row-value comparison
    op = "<" if desc else ">"
    order_sql = ", ".join(f"{n} {'DESC' if desc else 'ASC'}" for n in names)
    cols = ", ".join(names)
    first_sql = f"SELECT * FROM inventory_move WHERE tenant_id = %s ORDER BY {order_sql} LIMIT %s"
    deep_sql = (
        f"SELECT * FROM inventory_move WHERE tenant_id = %s AND ({cols}) {op} ({', '.join(['%s'] * len(names))}) "
        f"ORDER BY {order_sql} LIMIT %s"
    )

    def first() -> None:
        with conn.cursor() as cur:
            cur.execute(first_sql, (str(tenant_id), limit + 1))
            cur.fetchall()
        conn.rollback()

    def deep() -> None:
        with conn.cursor() as cur:
            cur.execute(deep_sql, (str(tenant_id), *(after[n] for n in names), limit + 1))
            cur.fetchall()
        conn.rollback()

    return first, deep


def _explain(dsn: str, statement: str, parameters: Any) -> list[str]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.rollback()
        conn.close()


def _page_statement(statements: list[tuple[str, Any]]) -> tuple[str, Any]:
    for statement, parameters in statements:
        if "FROM inventory_move" in statement and statement.lstrip().upper().startswith("SELECT"):
            return statement, parameters
    raise AssertionError("no SELECT from inventory_move captured")


def _measure(admin_url: str) -> list[Outcome]:
    from udyog.app import create_app
    from udyog.testing import build_kernel, login, postgres_database

    with postgres_database(admin_url, prefix="udyog_bench_ledger") as url, ExitStack() as stack:
        dsn = _dsn(url)
        kernel = build_kernel(url, ["inventory"], secret_key=SECRET)
        stack.callback(kernel.close)
        t0 = time.perf_counter()
        world = _world(kernel)
        app = create_app(kernel=kernel)
        client = login(app, EMAIL, PASSWORD)
        columns, rows = _move_rows(world, world["user_id"])
        copy_s = _copy_moves(dsn, columns, rows())
        print(
            f"-- setup: {ROWS:,} moves, {PRODUCTS} products, {WAREHOUSES} warehouses; "
            f"COPY + VACUUM ANALYZE {copy_s:.1f} s, whole setup {time.perf_counter() - t0:.1f} s"
        )
        log = SqlLog(kernel.db.engine)

        def get(path: str) -> dict[str, Any]:
            response = client.get(path)
            if response.status_code != 200:
                raise AssertionError(f"GET {path}: {response.status_code} {response.get_data(as_text=True)[:500]}")
            return response.get_json()  # type: ignore[no-any-return]

        with log.capture() as first_sql:
            first = get(PATH)
        pagination = first["meta"]["pagination"]
        limit = int(pagination["limit"])
        signature = _signature(pagination["next_cursor"])
        # Our cursor construction gives exactly what the API returned after its first page.
        check = _cursor_after(signature, _rows_at(dsn, world["tenant_id"], signature, limit)[0])
        if check != pagination["next_cursor"]:
            raise AssertionError(f"cursor construction differs from the API's: {check} != {pagination['next_cursor']}")
        at_deep, after_deep = _rows_at(dsn, world["tenant_id"], signature, DEEP)
        deep_path = f"{PATH}?cursor={_cursor_after(signature, at_deep)}"
        with log.capture() as deep_sql:
            deep = get(deep_path)
        if deep["data"][0]["id"] != str(after_deep["id"]):
            raise AssertionError(f"deep page starts at {deep['data'][0]['id']}, expected row {DEEP + 1}")
        if len(deep["data"]) != limit:
            raise AssertionError(f"deep page has {len(deep['data'])} rows, expected {limit}")
        counts = [s for s, _ in first_sql + deep_sql if re.search(r"count\s*\(", s, re.IGNORECASE)]
        print(
            f"-- SQL per request: first page {len(first_sql)} statements, deep page {len(deep_sql)}; "
            f"statements containing COUNT(: {len(counts)}"
        )
        if counts:
            raise AssertionError(f"a page ran COUNT(: {counts[0][:300]}")
        for label, statements in (("first", first_sql), ("deep", deep_sql)):
            for statement, _ in statements:
                print(f"   {label}: {' '.join(statement.split())[:110]}")
        page_first = _page_statement(first_sql)
        page_deep = _page_statement(deep_sql)
        print("-- the page statement (deep page):")
        print("   " + " ".join(page_deep[0].split()))

        # Timing: interleaved rounds, median (wall clock and this process's CPU time).
        cases: dict[str, Callable[[], None]] = {
            "first": lambda: get(PATH) and None,
            "deep": lambda: get(deep_path) and None,
        }
        conn = psycopg2.connect(dsn)
        stack.callback(conn.close)
        cases["same_first"] = _run_sql(conn, *page_first)
        cases["same_deep"] = _run_sql(conn, *page_deep)
        bounded = _bounded(page_deep, signature, at_deep)
        if bounded is not None:
            cases["bounded_deep"] = _run_sql(conn, *bounded)
        bare = _bare_pages(conn, world["tenant_id"], signature, at_deep, limit)
        if bare is not None:
            cases["bare_first"], cases["bare_deep"] = bare
        for fn in cases.values():
            fn()
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                w, c = time.perf_counter(), time.process_time()
                cases[name]()
                cpu[name].append(time.process_time() - c)
                wall[name].append(time.perf_counter() - w)
        t = {name: statistics.median(v) for name, v in wall.items()}
        c = {name: statistics.median(v) for name, v in cpu.items()}
        for label, (statement, params) in (("first", page_first), ("deep", page_deep)):
            print(f"-- EXPLAIN (ANALYZE, BUFFERS), {label} page (as the owner: no RLS policy):")
            for line in _explain(dsn, statement, params):
                print("   " + line)
        if bounded is not None:
            print("-- EXPLAIN (ANALYZE, BUFFERS), deep page with the leading bound added:")
            for line in _explain(dsn, *bounded):
                print("   " + line)

    labels = {
        "first": "ours: first page, GET " + PATH,
        "deep": f"ours: deep page (after row {DEEP:,}), same route + cursor",
        "same_first": "context: our first-page SQL from bare psycopg2",
        "same_deep": "context: our deep-page SQL from bare psycopg2",
        "bounded_deep": "context: our deep-page SQL + a (further) leading bound on the first sort column",
        "bare_first": "context: hand-written first page, bare psycopg2",
        "bare_deep": "context: hand-written deep page, row-value keyset (a, id) < (...)",
    }
    rows_out = [
        [labels[name], fmt_time(t[name]), fmt_time(c[name]), f"{t[name] / t['first']:.2f}"]
        for name in labels
        if name in t
    ]
    print(f"-- {limit} rows per page, median of {ROUNDS} interleaved rounds; CPU: this process only")
    print_table(["case", "wall", "client CPU", "of first page"], rows_out)
    ratio = t["deep"] / t["first"]
    name = f"ledger deep page ({ROWS:,} moves, PostgreSQL)"
    met = ratio <= RATIO_TARGET
    return [
        Outcome(
            name,
            f"{name}: first {fmt_time(t['first'])}, deep {fmt_time(t['deep'])}, ratio {ratio:.2f} "
            f"(target <= {RATIO_TARGET:.2f}) {verdict(met)}",
            met,
        ),
        absolute_outcome("ledger first page", "first page", t["first"], ABSOLUTE_TARGET, fmt_time),
        absolute_outcome("ledger deep page", "deep page", t["deep"], ABSOLUTE_TARGET, fmt_time),
        Outcome("ledger COUNT per page", "ledger COUNT per page: no COUNT( sent for either page MET", True),
    ]


def _run_sql(conn: Any, statement: str, parameters: Any) -> Callable[[], None]:
    """Run a captured statement with its parameters by bare psycopg2 (as the owner: no RLS policy)."""

    def run() -> None:
        with conn.cursor() as cur:
            cur.execute(statement, parameters)
            cur.fetchall()
        conn.rollback()

    return run


def _bounded(page: tuple[str, Any], signature: list[str], at: dict[str, Any]) -> tuple[str, Any] | None:
    """The page statement with a redundant bound on the first sort column, which an index scan can start from.

    ``(a < v OR (a = v AND id < w))`` implies ``a <= v``; PostgreSQL uses only
    the latter as an index condition.
    """
    statement, parameters = page
    first = signature[0].lstrip("-")
    op = "<=" if signature[0].startswith("-") else ">="
    parts = re.split(r"\sWHERE\s", statement, maxsplit=1)
    if len(parts) != 2 or not isinstance(parameters, dict):
        return None
    head, tail = parts
    bound = f"inventory_move.{first} {op} %(bench_bound)s AND "
    return f"{head} WHERE {bound}{tail}", {**parameters, "bench_bound": at[first]}


def run() -> list[Outcome]:
    """Run the benchmark, print its tables, return its targets."""
    print_heading(f"Stock ledger: GET {PATH}, first page vs deep page, {ROWS:,} moves in one tenant (PostgreSQL)")
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL")
    if not admin_url:
        print("-- PostgreSQL: skipped (set UDYOG_TEST_DATABASE_URL to an administrative URL)")
        return [not_measured("ledger deep page", "UDYOG_TEST_DATABASE_URL not set")]
    return _measure(admin_url)


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
