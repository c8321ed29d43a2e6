"""Benchmark: a month's payroll run for 5,000 and 10,000 employees, on PostgreSQL.

Targets (issue 9): computing the run for 5,000 employees takes at most 10 s,
and for 10,000 at most 2.2 times as long as for 5,000 (linear).

The world, per size, in a fresh database: one tenant with hr and payroll; N
employees in three states (Maharashtra, Karnataka, Delhi), men and women, a
few past 58; salaries from ₹12,000 to ₹2,40,000 a month on the seeded
``STANDARD`` structure (formulas), a tenth on the old regime; the month's
attendance as hr stores it (present on every working day, every tenth
employee absent two days, so loss of pay comes from hr's summary); three
approved earlier months of the financial year, so TDS reads a year to date.
Employees, assignments, attendance and the earlier payslips are inserted in
bulk; the earlier months are computed by the same service.

Measured: ``udyog_payroll.services.compute_run`` for the month in a tenant
scope (the application role, row-level security on) with its commit: every
query (employees, assignments, structures, hr's attendance summary, year to
date, ESI periods), the computation of every payslip and the bulk write. The
first computation and two recomputations (which also delete the previous
payslips); the median is the figure.
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

from tests.bench import Outcome, absolute_outcome, fmt_time, not_measured, print_heading, print_table, verdict

SIZES = tuple(int(n) for n in os.environ.get("UDYOG_BENCH_PAYROLL_SIZES", "5000,10000").split(","))
RUNS = 3
TARGET = 10.0
LINEAR = 2.2
SECRET = "bench-secret-of-at-least-32-bytes-0123456789"
TENANT = "payroll-bench"
PLUGINS = ("hr", "payroll")
YEAR, MONTH = 2025, 7
EARLIER = (4, 5, 6)
STATES = ("MH", "KA", "DL")
CHUNK = 5000


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _world(kernel: Any, size: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The tenant with ``size`` employees, salaries, the month's attendance and three approved months."""
    from udyog.testing import make_tenant
    from udyog_hr.models import Attendance, Employee
    from udyog_payroll import services
    from udyog_payroll.models import Assignment, Structure
    from udyog_sdk.models import new_id

    tenant = make_tenant(kernel, TENANT, "Payroll Bench", plugins=PLUGINS)
    with kernel.tenant_scope(tenant.id) as scope:
        session = scope.session
        structure = session.scalar(select(Structure).where(Structure.code == "STANDARD"))
        employees, assignments, attendance = [], [], []
        first = dt.date(YEAR, MONTH, 1)
        days = [first + dt.timedelta(days=n) for n in range(31)]
        working = [d for d in days if d.isoweekday() != 7]
        for n in range(size):
            employee_id = new_id()
            employees.append(
                {
                    "id": employee_id,
                    "code": f"E{n:06d}",
                    "name": f"Employee {n:06d}",
                    "date_of_joining": dt.date(2015 + n % 10, 1 + n % 12, 1),
                    "date_of_birth": dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                    "gender": "female" if n % 3 == 0 else "male",
                    "work_state": STATES[n % len(STATES)],
                    "uan": f"{100000000000 + n}",
                    "esi_number": f"{1000000000 + n}",
                    "pan": None,
                    "bank_account_number": f"{500000000000 + n}",
                    "bank_ifsc": "HDFC0001234",
                    "active": True,
                    "version": 1,
                }
            )
            assignments.append(
                {
                    "id": new_id(),
                    "employee_id": employee_id,
                    "structure_id": structure.id,
                    "effective_from": dt.date(2025, 4, 1),
                    "monthly_gross": Decimal(12000 + (n * 7919) % 228000),
                    "tax_regime": "old" if n % 10 == 9 else "new",
                    "pf_applicable": True,
                    "esi_applicable": True,
                    "pt_applicable": True,
                    "declared_deductions": Decimal("150000") if n % 10 == 9 else Decimal("0"),
                    "version": 1,
                }
            )
            absent = set(working[3:5]) if n % 10 == 0 else set()
            for day in working:
                attendance.append(
                    {
                        "id": new_id(),
                        "employee_id": employee_id,
                        "attendance_date": day,
                        "status": "absent" if day in absent else "present",
                        "source": "manual",
                        "note": "",
                        "version": 1,
                    }
                )
        for model, rows in ((Employee, employees), (Assignment, assignments), (Attendance, attendance)):
            for start in range(0, len(rows), CHUNK):
                session.execute(insert(model), rows[start : start + CHUNK])
        session.commit()
        for month in EARLIER:  # the year to date TDS reads (every day employed paid: no attendance then)
            run = services.create_run(YEAR, month)
            services.compute_run(run, attendance_lop=False)
            run.state = "approved"  # approval numbers payslips one by one; the year to date only needs the state
            session.commit()
        run = services.create_run(YEAR, MONTH)
        session.commit()
        return tenant.id, run.id


def _measure_size(admin_url: str, size: int) -> tuple[float, list[float], int, int]:
    from udyog.testing import build_kernel, postgres_database
    from udyog_payroll import services
    from udyog_payroll.models import Payslip, Run

    with postgres_database(admin_url, prefix="udyog_bench_payroll") as url, ExitStack() as stack:
        kernel = build_kernel(url, PLUGINS, secret_key=SECRET)
        stack.callback(kernel.close)
        t0 = time.perf_counter()
        tenant_id, run_id = _world(kernel, size)
        print(
            f"-- setup: {size} employees, their attendance and three earlier months, {time.perf_counter() - t0:.1f} s"
        )
        with psycopg2.connect(_dsn(url)) as conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        timings: list[float] = []
        for _ in range(RUNS):
            with kernel.tenant_scope(tenant_id) as scope:
                start = time.perf_counter()
                run = scope.session.scalar(select(Run).where(Run.id == run_id))
                services.compute_run(run)
                scope.session.commit()
                timings.append(time.perf_counter() - start)
        with kernel.tenant_scope(tenant_id) as scope:
            slips = scope.session.scalars(select(Payslip.heads).where(Payslip.run_id == run_id)).all()
            with_lop = sum(1 for heads in slips if Decimal(heads["lop_days"]) > 0)
        return statistics.median(timings), timings, len(slips), with_lop


def _measure(admin_url: str) -> list[Outcome]:
    results: dict[int, float] = {}
    rows = []
    for size in SIZES:
        median, timings, payslips, with_lop = _measure_size(admin_url, size)
        assert payslips == size, f"{payslips} payslips for {size} employees"
        results[size] = median
        rows.append(
            [
                f"{size:,} employees ({with_lop:,} with loss of pay)",
                fmt_time(median),
                ", ".join(fmt_time(t) for t in timings),
                f"{median / size * 1000:.2f} ms",
            ]
        )
    print_table(["payroll run (compute_run + commit)", "median", "runs", "per employee"], rows)
    outcomes = []
    if 5000 in results:
        outcomes.append(
            absolute_outcome("payroll run, 5,000 employees", "median", results[5000], TARGET, fmt_time, "PostgreSQL")
        )
    if 5000 in results and 10000 in results:
        ratio = results[10000] / results[5000]
        met = ratio <= LINEAR
        print(f"-- 10,000 / 5,000: {ratio:.2f} (target <= {LINEAR})")
        outcomes.append(
            Outcome(
                "payroll run, linear",
                f"payroll run, 10,000 vs 5,000 employees: {ratio:.2f}x (target <= {LINEAR}x) {verdict(met)}",
                met,
            )
        )
    return outcomes


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its targets."""
    print_heading(f"Payroll: a month's run for {' and '.join(f'{n:,}' for n in SIZES)} employees, PostgreSQL")
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL")
    if not admin_url:
        print("-- PostgreSQL: skipped (set UDYOG_TEST_DATABASE_URL to an administrative URL)")
        return [not_measured("payroll run", "UDYOG_TEST_DATABASE_URL not set")]
    return _measure(admin_url)


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
