"""Benchmark: the forward trace of a recalled batch shipped on 10,000 order lines, on PostgreSQL.

Target (issue 8): the trace (every customer, order, invoice, quantity and
despatch date of the batch, with totals per customer; the PDF excluded)
answers in at most 1 s on PostgreSQL.

The world: one tenant with crm, inventory, sales and fssai; one branch and
warehouse, one lot-tracked product, one batch (QC passed), 500 distributors.
A few orders go through the real services (confirm with FEFO, deliver,
invoice), so the rows are the ones the plugins write; the rest, up to
10,000 order lines of that batch, are the same rows inserted in bulk (orders
delivered and invoiced, one line each, their invoices and FSSAI allocation
rows), because 10,000 confirmations would take the set-up minutes.

Measured: ``udyog_fssai.services.trace`` in a tenant scope (the application
role, row-level security on), the median of several runs; as the baseline,
the same queries by bare psycopg2 (the orders' join and the customers' names;
rows fetched, nothing added up). The figure,
its ratio to the 1 s target and its ratio to the baseline are printed.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import psycopg2
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from tests.bench import Outcome, absolute_outcome, fmt_time, not_measured, print_heading, print_table

LINES = int(os.environ.get("UDYOG_BENCH_RECALL_LINES", "10000"))
CUSTOMERS = 500
REAL_ORDERS = 5
RUNS = 7
TARGET = 1.0
SECRET = "bench-secret-of-at-least-32-bytes-0123456789"
TENANT = "recall-bench"
PLUGINS = ("crm", "inventory", "sales", "fssai")

BARE_TRACE = """
SELECT a.customer_id, a.order_id, o.number, o.state, i.number, i.invoice_date, a.quantity, o.delivered_at
FROM fssai_allocation a
JOIN sales_order o ON o.tenant_id = a.tenant_id AND o.id = a.order_id
LEFT JOIN sales_invoice i ON i.tenant_id = a.tenant_id AND i.order_id = a.order_id AND i.state <> 'cancelled'
WHERE a.tenant_id = %s AND a.lot_id = %s AND o.state <> 'cancelled'
"""
BARE_CUSTOMERS = "SELECT id, code, name FROM crm_customer WHERE tenant_id = %s AND id = ANY(%s::uuid[])"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _world(kernel: Any) -> tuple[uuid.UUID, uuid.UUID]:
    """The tenant, a batch shipped on ``LINES`` order lines; returns (tenant id, batch id)."""
    from udyog_fssai import services as fssai
    from udyog_fssai.models import Allocation, Batch

    from udyog.tenancy import create_branch
    from udyog.testing import make_tenant
    from udyog_crm.models import Customer
    from udyog_inventory import models as inv
    from udyog_sales import services as sales
    from udyog_sales.models import AccountTerms, Invoice, InvoiceLine, Order, OrderLine
    from udyog_sdk.models import new_id

    tenant = make_tenant(kernel, TENANT, "Recall Bench", plugins=PLUGINS)
    with kernel.tenant_scope(tenant.id) as scope:
        session = scope.session
        branch = create_branch(session, code="PUNE", name="Pune", address="Chakan", state_code="27")
        unit = inv.Unit(code="pcs", name="Piece")
        session.add(unit)
        session.flush()
        warehouse = inv.Warehouse(code="FG", name="Finished goods", branch_id=branch.id)
        product = inv.Product(
            sku="GHEE-1L",
            name="Cow ghee 1 L",
            unit_id=unit.id,
            price=Decimal("600"),
            cost=Decimal("480"),
            track_lots=True,
        )
        session.add_all([warehouse, product])
        session.flush()
        today = fssai.today()
        batch = fssai.create_batch(
            {
                "product_id": product.id,
                "number": "GH-BENCH-1",
                "produced_on": today - dt.timedelta(days=20),
                "expires_on": today + dt.timedelta(days=250),
                "qc_status": "passed",
                "qc_inspector": "Bench",
                "warehouse_id": warehouse.id,
                "quantity": Decimal(LINES * 2),
                "unit_cost": Decimal("480"),
            }
        )
        customers = []
        for i in range(CUSTOMERS):
            customer = Customer(code=f"D{i:04d}", name=f"Distributor {i:04d}")
            customers.append(customer)
        session.add_all(customers)
        session.flush()
        session.add_all(
            AccountTerms(record_id=c.id, is_distributor=True, margin_pct=Decimal("0"), outstanding=Decimal("0"))
            for c in customers
        )
        session.flush()
        for i in range(REAL_ORDERS):  # the real path: FEFO allocation, reservation, despatch, invoice
            order = sales.create_order(
                {
                    "customer_id": customers[i].id,
                    "warehouse_id": warehouse.id,
                    "lines": [{"product_id": product.id, "quantity": Decimal(2)}],
                }
            )
            sales.confirm_order(order, order.version)
            sales.deliver_order(order, order.version)
            sales.invoice_order(order, order.version)
        session.commit()
        lot_id, product_id, batch_id = batch.lot_id, product.id, batch.id
        now = dt.datetime.now(dt.UTC)
        orders, lines, invoices, invoice_lines, allocations = [], [], [], [], []
        for n in range(REAL_ORDERS, LINES):
            customer = customers[n % CUSTOMERS].id
            order_id, line_id, invoice_id = new_id(), new_id(), new_id()
            money = {"subtotal": Decimal("1200.00"), "discount_amount": Decimal("0.00"), "tax_total": Decimal("0.00")}
            orders.append(
                {
                    "id": order_id,
                    "number": f"SO/B/{n:06d}",
                    "customer_id": customer,
                    "warehouse_id": warehouse.id,
                    "order_date": today,
                    "state": "invoiced",
                    "total": Decimal("1200.00"),
                    "taxes": [],
                    "notes": "",
                    "confirmed_at": now,
                    "delivered_at": now,
                    "version": 1,
                    "discount_pct": Decimal("0"),
                    **money,
                }
            )
            lines.append(
                {
                    "id": line_id,
                    "order_id": order_id,
                    "line_no": 1,
                    "product_id": product_id,
                    "description": "ghee",
                    "quantity": Decimal(2),
                    "discount_pct": Decimal("0"),
                    "unit_price": Decimal("600.00"),
                    "amount": Decimal("1200.00"),
                    "taxable": Decimal("1200.00"),
                    "tax_amount": Decimal("0.00"),
                }
            )
            invoices.append(
                {
                    "id": invoice_id,
                    "number": f"IB/{n:06d}",
                    "order_id": order_id,
                    "customer_id": customer,
                    "invoice_date": today,
                    "state": "issued",
                    "total": Decimal("1200.00"),
                    "paid_amount": Decimal("0"),
                    "credited_amount": Decimal("0"),
                    "balance": Decimal("1200.00"),
                    "version": 1,
                    **money,
                }
            )
            invoice_lines.append(
                {
                    "id": new_id(),
                    "invoice_id": invoice_id,
                    "line_no": 1,
                    "product_id": product_id,
                    "description": "ghee",
                    "quantity": Decimal(2),
                    "unit_price": Decimal("600.00"),
                    "discount_pct": Decimal("0"),
                    "taxable": Decimal("1200.00"),
                    "tax_amount": Decimal("0.00"),
                }
            )
            allocations.append(
                {
                    "id": new_id(),
                    "order_id": order_id,
                    "line_id": line_id,
                    "line_no": 1,
                    "lot_id": lot_id,
                    "product_id": product_id,
                    "customer_id": customer,
                    "quantity": Decimal(2),
                }
            )
        for model, rows in (
            (Order, orders),
            (OrderLine, lines),
            (Invoice, invoices),
            (InvoiceLine, invoice_lines),
            (Allocation, allocations),
        ):
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start : start + 2000])
        session.commit()
        count = len(session.scalars(select(Allocation.id).where(Allocation.lot_id == lot_id)).all())
        assert count == LINES, f"{count} allocation rows, expected {LINES}"
        assert session.get(Batch, (tenant.id, batch_id)) is not None
    return tenant.id, batch_id


def _measure(admin_url: str) -> list[Outcome]:
    from udyog_fssai import services as fssai
    from udyog_fssai.models import Batch

    from udyog.testing import TEST_APP_ROLE, build_kernel, postgres_database

    with postgres_database(admin_url, prefix="udyog_bench_recall") as url, ExitStack() as stack:
        kernel = build_kernel(url, PLUGINS, secret_key=SECRET)
        stack.callback(kernel.close)
        t0 = time.perf_counter()
        tenant_id, batch_id = _world(kernel)
        print(f"-- setup: {LINES} order lines of one batch, {CUSTOMERS} distributors, {time.perf_counter() - t0:.1f} s")
        with psycopg2.connect(_dsn(url)) as conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        sizes: list[tuple[int, int]] = []

        def ours() -> None:
            with kernel.tenant_scope(tenant_id) as scope:
                batch = scope.session.get(Batch, (tenant_id, batch_id))
                result = fssai.trace(batch)
                sizes.append((len(result.rows), len(result.customers)))
                scope.session.rollback()

        conn = psycopg2.connect(_dsn(url))
        stack.callback(conn.close)
        with conn.cursor() as cur:
            cur.execute(f'SET ROLE "{TEST_APP_ROLE}"')
        conn.commit()
        lot_id = None
        with kernel.tenant_scope(tenant_id) as scope:
            lot_id = scope.session.get(Batch, (tenant_id, batch_id)).lot_id

        def bare() -> None:
            with conn.cursor() as cur:
                cur.execute("SELECT set_config('udyog.tenant_id', %s, true)", (str(tenant_id),))
                cur.execute(BARE_TRACE, (str(tenant_id), str(lot_id)))
                wanted = sorted({str(row[0]) for row in cur.fetchall()})
                cur.execute(BARE_CUSTOMERS, (str(tenant_id), wanted))
                cur.fetchall()
            conn.commit()

        timings: dict[str, list[float]] = {"ours": [], "bare": []}
        ours()
        bare()  # warm-up
        for _ in range(RUNS):
            for name, work in (("ours", ours), ("bare", bare)):
                start = time.perf_counter()
                work()
                timings[name].append(time.perf_counter() - start)
        median = {name: statistics.median(values) for name, values in timings.items()}
        rows, customers = sizes[-1]
        print_table(
            ["trace of one batch", "median", "ratio to target (1 s)", "ratio to bare SQL"],
            [
                ["bare SQL (psycopg2, the same two queries, rows fetched)", fmt_time(median["bare"]), "", "1.00"],
                [
                    f"udyog_fssai.services.trace ({rows} orders, {customers} customers)",
                    fmt_time(median["ours"]),
                    f"{median['ours'] / TARGET:.2f}",
                    f"{median['ours'] / median['bare']:.2f}",
                ],
            ],
        )
        return [
            absolute_outcome(
                "recall trace, 10,000 order lines",
                "median",
                median["ours"],
                TARGET,
                fmt_time,
                f"{rows} orders of {customers} customers, PDF excluded",
            )
        ]


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its target."""
    print_heading(f"FSSAI: forward trace of a batch shipped on {LINES} order lines, PostgreSQL")
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL")
    if not admin_url:
        print("-- PostgreSQL: skipped (set UDYOG_TEST_DATABASE_URL to an administrative URL)")
        return [not_measured("recall trace", "UDYOG_TEST_DATABASE_URL not set")]
    return _measure(admin_url)


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
