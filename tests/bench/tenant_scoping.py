"""Benchmark 2: ORM tenant scoping against a hand-written tenant filter.

Target: automatic tenant scoping adds <= 15% to a single-row select against
the same query with a hand-written tenant filter.

Baseline: a system session (``all_tenants=True``; the scoping listener returns
at once) running ``select(Branch).where(Branch.tenant_id == tid, Branch.id ==
bid)``. Ours: a tenant-bound session running ``select(Branch).where(Branch.id
== bid)``, the tenant criterion added by the ``do_orm_execute`` listener. One
session per case is reused for every iteration; ``expunge_all()`` after each
select keeps the identity map from answering.

Runs on a fresh SQLite file and, when ``UDYOG_TEST_DATABASE_URL`` names an
administrative PostgreSQL URL, on a fresh PostgreSQL database (created and
dropped here), both as the URL's user (row-level security bypassed) and as an
application role (row-level security enforced).
"""

from __future__ import annotations

import random
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select

from tests.bench import (
    Outcome,
    fmt_time,
    measure,
    print_heading,
    print_table,
    ratio_outcome,
    ratio_text,
    with_postgres,
)
from udyog.config import Settings, normalize_database_url
from udyog.db import Database, TenantSession
from udyog.kernel import Kernel
from udyog.migrate import upgrade
from udyog.models import Branch
from udyog.tenancy import create_branch, create_tenant

BRANCHES_PER_TENANT = 1000
SELECTS = 100
ROUNDS = 19
TARGET = 1.15


@dataclass
class Dataset:
    """Two tenants and their branch ids."""

    tenant: uuid.UUID
    branch_ids: list[uuid.UUID]
    other_tenant: uuid.UUID
    other_branch_ids: list[uuid.UUID]


def _kernel(url: str, *, app_db_role: str | None = None) -> Kernel:
    settings = Settings.from_env({"database_url": url, "plugins": [], "app_db_role": app_db_role}, environ={})
    return Kernel(settings)


def _populate(kernel: Kernel) -> Dataset:
    """Create two tenants with ``BRANCHES_PER_TENANT`` branches each."""
    tenants: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    for slug in ("bench-a", "bench-b"):
        tenant_id = create_tenant(kernel, slug, f"Bench {slug[-1].upper()}")
        with kernel.db.session(tenant_id) as session:
            ids = [
                create_branch(session, code=f"B{i:04d}", name=f"Branch {i}", state_code="27").id
                for i in range(BRANCHES_PER_TENANT)
            ]
            session.commit()
        tenants.append((tenant_id, ids))
    (a, a_ids), (b, b_ids) = tenants
    return Dataset(a, a_ids, b, b_ids)


def _hand_filtered(session: TenantSession, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> Callable[[], None]:
    def run() -> None:
        for bid in ids:
            session.execute(select(Branch).where(Branch.tenant_id == tenant_id, Branch.id == bid)).scalar()
            session.expunge_all()

    return run


def _by_id(session: TenantSession, ids: list[uuid.UUID]) -> Callable[[], None]:
    def run() -> None:
        for bid in ids:
            session.execute(select(Branch).where(Branch.id == bid)).scalar()
            session.expunge_all()

    return run


def _check(data: Dataset, system: TenantSession, scoped: TenantSession) -> None:
    """Sanity, not timing: both queries find the row; the scoped one hides the other tenant's."""
    bid = data.branch_ids[0]
    found = system.execute(select(Branch).where(Branch.tenant_id == data.tenant, Branch.id == bid)).scalar()
    if found is None or scoped.execute(select(Branch).where(Branch.id == bid)).scalar() is None:
        raise AssertionError("a branch of the tenant was not found")
    if scoped.execute(select(Branch).where(Branch.id == data.other_branch_ids[0])).scalar() is not None:
        raise AssertionError("the tenant-bound session saw another tenant's branch")
    system.expunge_all()
    scoped.expunge_all()


def _time_queries(db: Database, unfiltered_db: Database, data: Dataset) -> dict[str, float]:
    """Median seconds per select: hand filter, automatic scoping, and context cases."""
    ids = random.Random(7).choices(data.branch_ids, k=SELECTS)
    with ExitStack() as stack:
        system = stack.enter_context(db.session(all_tenants=True, write=False))
        scoped = stack.enter_context(db.session(data.tenant, write=False))
        system_by_id = stack.enter_context(db.session(all_tenants=True, write=False))
        no_orm_filter = stack.enter_context(unfiltered_db.session(data.tenant, write=False))
        _check(data, system, scoped)
        return measure(
            {
                "hand": _hand_filtered(system, data.tenant, ids),
                "scoped": _by_id(scoped, ids),
                "system_by_id": _by_id(system_by_id, ids),
                "no_orm_filter": _by_id(no_orm_filter, ids),
            },
            per_batch=SELECTS,
            rounds=ROUNDS,
        )


def _rows(t: dict[str, float], no_filter_label: str) -> list[list[str]]:
    base = t["hand"]
    return [
        ["baseline: system session, hand-written tenant filter", fmt_time(base), "1.00"],
        ["tenant-bound session, criterion added by the listener", fmt_time(t["scoped"]), ratio_text(t["scoped"], base)],
        [
            "context: system session, id only (no tenant criterion)",
            fmt_time(t["system_by_id"]),
            ratio_text(t["system_by_id"], base),
        ],
        [
            f"context: tenant-bound session, ORM filter off ({no_filter_label})",
            fmt_time(t["no_orm_filter"]),
            ratio_text(t["no_orm_filter"], base),
        ],
    ]


def _print(title: str, t: dict[str, float], no_filter_label: str) -> None:
    print(f"-- {title}")
    print_table(["case", "per select", "ratio"], _rows(t, no_filter_label))


def _outcome(backend: str, t: dict[str, float]) -> Outcome:
    return ratio_outcome(
        f"tenant scoping ({backend})", "hand-written filter", t["hand"], "automatic scoping", t["scoped"], TARGET
    )


def _sqlite() -> Outcome:
    with tempfile.TemporaryDirectory(prefix="udyog-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        kernel = _kernel(url)
        unfiltered = Database(url, orm_filter=False)
        try:
            upgrade(kernel, report=lambda line: None)
            data = _populate(kernel)
            t = _time_queries(kernel.db, unfiltered, data)
        finally:
            unfiltered.dispose()
            kernel.close()
    _print("SQLite (file, WAL)", t, "no tenant criterion at all")
    return _outcome("SQLite", t)


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh database and a fresh application role, both dropped afterwards."""
    name = f"udyog_bench_{secrets.token_hex(4)}"
    role = f"udyog_bench_app_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False), role
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        admin.dispose()


def _postgres(admin_url: str) -> list[Outcome]:
    admin_url = normalize_database_url(admin_url)
    with _postgres_database(admin_url) as (url, role), ExitStack() as stack:
        # Migrated with the application role: row-level security, grants and the role.
        app = _kernel(url, app_db_role=role)
        stack.callback(app.close)
        upgrade(app, report=lambda line: None)
        data = _populate(app)
        owner = _kernel(url)
        stack.callback(owner.close)
        owner_unfiltered = Database(url, orm_filter=False)
        stack.callback(owner_unfiltered.dispose)
        app_unfiltered = Database(url, app_role=role, orm_filter=False)
        stack.callback(app_unfiltered.dispose)
        t_owner = _time_queries(owner.db, owner_unfiltered, data)
        t_app = _time_queries(app.db, app_unfiltered, data)
    _print("PostgreSQL as the URL's user (superuser: row-level security bypassed)", t_owner, "no tenant criterion")
    _print("PostgreSQL as the application role (row-level security enforced)", t_app, "RLS alone")
    return [_outcome("PostgreSQL, RLS bypassed", t_owner), _outcome("PostgreSQL, app role with RLS", t_app)]


def run() -> list[Outcome]:
    """Run the benchmark, print its tables, return its targets."""
    print_heading(
        f"2. ORM tenant scoping: single-row select by id, 2 tenants x {BRANCHES_PER_TENANT} branches, "
        f"median of {ROUNDS} rounds x {SELECTS} selects"
    )
    return with_postgres([_sqlite()], "tenant scoping (PostgreSQL)", _postgres)


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
