"""Concurrent movements on PostgreSQL: locked balances never oversell, missing rows are created once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from inventory_kit import ledger_agrees, world
from sqlalchemy import select

from udyog_inventory import services
from udyog_inventory.models import ProductStock, StockBalance, StockMove
from udyog_sdk import UdyogError

pytestmark = [pytest.mark.udyog_plugins("inventory"), pytest.mark.postgres]

THREADS = 32


def _run_together(count: int, work) -> tuple[int, int, list[str]]:
    """Run ``work()`` in ``count`` threads started at once; (successes, 409 refusals, other errors)."""
    start = threading.Barrier(count)
    lock = threading.Lock()
    outcome = {"ok": 0, "refused": 0}
    errors: list[str] = []

    def worker() -> None:
        start.wait()
        try:
            work()
        except UdyogError as exc:
            with lock:
                if exc.status == 409:
                    outcome["refused"] += 1
                else:
                    errors.append(f"{exc.status}: {exc} {exc.errors}")
            return
        except Exception as exc:  # noqa: BLE001 - any other error fails the test
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            outcome["ok"] += 1

    pool = [threading.Thread(target=worker) for _ in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    return outcome["ok"], outcome["refused"], errors


def test_32_concurrent_issues_cannot_oversell(udyog_tenant, backend):
    if backend != "postgresql":
        pytest.skip("SQLite serialises writing transactions; the race needs PostgreSQL")
    with udyog_tenant.scope() as scope:
        w = world(scope.session, valuation="fifo")
        product, warehouse = w["product"].id, w["w1"].id
        services.receive(product, warehouse, Decimal("15"), unit_cost=Decimal("4.00"))
        services.receive(
            product, warehouse, Decimal("30"), unit_cost=Decimal("5.00")
        )  # 45 on hand: room for 22 issues of 2
        scope.session.commit()

    def issue_two() -> None:
        with udyog_tenant.scope() as scope:
            services.issue(product, warehouse, Decimal("2"), reference="test.race")
            scope.session.commit()

    ok, refused, errors = _run_together(THREADS, issue_two)
    assert errors == []
    assert ok + refused == THREADS and ok == 22  # every issue the stock covers succeeds, no more
    with udyog_tenant.scope(write=False) as scope:
        s = scope.session
        balance = s.scalar(select(StockBalance).where(StockBalance.product_id == product))
        assert balance.on_hand >= 0 and balance.on_hand == Decimal("45") - ok * Decimal("2") == Decimal("1")
        issues = s.scalars(select(StockMove).where(StockMove.kind == "issue")).all()
        assert len(issues) == ok
        ledger_agrees(s, product)
        total = s.scalar(select(ProductStock).where(ProductStock.product_id == product))
        # FIFO: 15 at 4.00 and 29 at 5.00 went out; 1 at 5.00 is left
        assert sum(m.value for m in issues) == Decimal("205.00") and total.value == Decimal("5.00")


def test_32_concurrent_first_receipts_create_one_balance_row(udyog_tenant, backend):
    if backend != "postgresql":
        pytest.skip("SQLite serialises writing transactions; the race needs PostgreSQL")
    with udyog_tenant.scope() as scope:
        w = world(scope.session, valuation="average")
        product, warehouse = w["product"].id, w["w2"].id
        scope.session.commit()

    def receive_one() -> None:
        with udyog_tenant.scope() as scope:
            services.receive(product, warehouse, Decimal("1"), unit_cost=Decimal("3.00"))
            scope.session.commit()

    ok, refused, errors = _run_together(THREADS, receive_one)
    assert errors == [] and (ok, refused) == (THREADS, 0)
    with udyog_tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(StockBalance).where(StockBalance.product_id == product)).all()
        assert [(r.warehouse_id, r.on_hand) for r in rows] == [(warehouse, Decimal(THREADS))]
        total = scope.session.scalar(select(ProductStock).where(ProductStock.product_id == product))
        assert (total.on_hand, total.value) == (Decimal(THREADS), Decimal("96.00"))
        ledger_agrees(scope.session, product)
