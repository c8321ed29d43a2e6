"""Benchmark: vigilance keeps up with a stream of domain events (issue 10).

Target: offered 10,000 events per minute for 5 minutes, one worker keeps the
queue bounded with p95 event-to-alert lag <= 5 s.

The producer (this process) offers inventory's crossing event
``inventory.stock.below_reorder`` (payload as inventory emits it) at a steady
rate, emitted with ``udyog_sdk.emit`` in transactions of at most ``BATCH``
events, as a busy application commits them; the stock movements that would
cause them are not made (they would measure inventory, not vigilance). On
commit the outbox hands each event to vigilance's batched background
listener: the event waits in the core's inbox and one ``core.deliver_batch``
run per second goes to Redis (docs/events.md): the production path. One
``udyog worker`` (one pool process unless
``UDYOG_BENCH_VIGILANCE_CONCURRENCY`` says otherwise) evaluates the rule
``inventory.below_reorder_point`` for each event: it reads the product's
stock (one query) and raises its alert. The events name ``PRODUCTS``
products, all below their reorder point. The first event of each product
creates its alert (inserted; the tenant's Store Keeper is notified): these
come evenly spread over the run (one event in 50 over five minutes). Every
other event repeats an open alert (de-duplicated: its count and last-seen
are updated): every event touches an alert, the worst case for the rule.

- **Lag** of an event: from its ``created_at`` (written when the producer
  emitted it, before its transaction committed) to the ``finished_at`` of the
  run that evaluated it, i.e. when its alert was committed and visible.
  Reported for every event and for those that created an alert.
- **Queue bounded**: the events waiting for vigilance (its inbox rows) are
  counted every second; the table shows the maximum and the mean over the
  first and the last minute (a queue that grows without bound has a last
  minute well above its first).

PostgreSQL (``UDYOG_TEST_DATABASE_URL``, application role with row-level
security) and Redis (``UDYOG_TEST_REDIS_URL``) are required.
``UDYOG_BENCH_VIGILANCE_SECONDS`` (default 300) and
``UDYOG_BENCH_VIGILANCE_RATE`` (events per minute, default 10,000) change the
offered load.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select

from tests.bench import Outcome, absolute_outcome, not_measured, print_heading, print_table
from tests.bench.jobs import _env, _wait, _worker
from udyog.models import JobRun, ListenerInbox, OutboxEvent
from udyog.tenancy import create_tenant
from udyog.testing import build_kernel, create_member, postgres_database

PRODUCTS = 1000
NAME_LAG = "vigilance: p95 event-to-alert lag at 10,000 events/min"
NAME_BOUNDED = "vigilance: queue bounded under 10,000 events/min"
LAG_TARGET = 5.0
BATCH = 20
PLUGINS = ["inventory", "vigilance"]
#: The runs that evaluate an event (the alerts' notifications are delivered by runs of their own).
EVALUATIONS = and_(JobRun.task == "core.deliver_batch", JobRun.kwargs["listener"].as_string() == "vigilance.evaluate")
EVENT = "inventory.stock.below_reorder"


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def _produce(
    kernel: Any, payload: Callable[[int], dict[str, Any]], rate: float, seconds: float, queue_length: Any
) -> dict[str, Any]:
    """Emit crossing events (``payload(n)`` for the n-th) at ``rate`` per second for ``seconds``.

    The queue's length is sampled every second.
    """
    from udyog_sdk import emit

    start = time.monotonic()
    made = 0
    samples: list[tuple[float, int]] = []
    next_sample = 0.0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= next_sample:
            samples.append((elapsed, queue_length()))
            next_sample += 1.0
        if elapsed >= seconds:
            break
        due = min(int(elapsed * rate) + 1, int(seconds * rate)) - made
        if due <= 0:
            time.sleep(0.002)
            continue
        with kernel.tenant_scope("bench") as scope:
            for _ in range(min(due, BATCH)):
                emit("inventory.stock.below_reorder", payload(made))
                made += 1
            scope.session.commit()
    return {"made": made, "took": time.monotonic() - start, "queue": samples}


def _setup(kernel: Any) -> list[dict[str, str]]:
    """``PRODUCTS`` products with a reorder point and no stock; the crossing event's payload of each."""
    from udyog_inventory.models import Product, Unit

    payloads = []
    with kernel.tenant_scope("bench") as scope:
        unit = Unit(code="pcs", name="Pieces")
        scope.session.add(unit)
        scope.session.flush()
        for n in range(PRODUCTS):
            product = Product(sku=f"B{n:05d}", name=f"Bench item {n}", unit_id=unit.id, reorder_point=10)
            scope.session.add(product)
            scope.session.flush()
            payloads.append(
                {"product_id": str(product.id), "sku": product.sku, "name": product.name,
                 "available": "0.000", "reorder_point": "10.000"}
            )  # fmt: skip
        scope.session.commit()
    return payloads


def _delivered(kernel: Any) -> list[tuple[Any, int]]:
    """(finished_at, events delivered) of every finished evaluation run, in the order they finished."""
    with kernel.tenant_scope("bench", write=False) as scope:
        rows = scope.session.execute(
            select(JobRun.finished_at, JobRun.result)
            .where(EVALUATIONS, JobRun.finished_at.is_not(None))
            .order_by(JobRun.finished_at)
        ).all()
    return [
        (at, int((result or {}).get("delivered", 0)) + int((result or {}).get("dropped", 0))) for at, result in rows
    ]


def _lags(kernel: Any) -> tuple[list[float], list[float]]:
    """Per evaluated event: seconds from its creation to the end of the run that evaluated it (all; alerting ones).

    A run hands vigilance the waiting events oldest first, so with the runs
    in the order they finished and the events in the order they were
    created, the first run's count of events are the oldest ones, and so on.
    """
    with kernel.tenant_scope("bench", write=False) as scope:
        events = scope.session.execute(
            select(OutboxEvent.created_at, OutboxEvent.payload)
            .where(OutboxEvent.name == EVENT)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        ).all()
    every: list[float] = []
    alerting: list[float] = []
    position = 0
    for finished, count in _delivered(kernel):
        for at, payload in events[position : position + count]:
            lag = (finished.replace(tzinfo=UTC) - at.replace(tzinfo=UTC)).total_seconds()
            every.append(lag)
            if payload.get("first"):
                alerting.append(lag)
        position += count
    return every, alerting


def _measure(admin_url: str, redis_url: str, seconds: float, per_minute: float, concurrency: int) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="udyog-bench-vigilance-")))
        url = stack.enter_context(postgres_database(admin_url))
        queue = f"bench-vigilance-{uuid.uuid4().hex[:8]}"
        kernel = build_kernel(url, PLUGINS, redis_url=redis_url, jobs_queue=queue, data_dir=str(tmp))
        stack.callback(kernel.close)
        create_tenant(kernel, "bench", "Bench", plugins=PLUGINS)
        create_member(kernel, "bench", "store@bench.test", roles=("Store Keeper",))  # the rule tells Store Keepers
        products = _setup(kernel)
        plugins = tmp / "plugins.toml"
        plugins.write_text(f"[deployment]\nenabled = {PLUGINS!r}\n".replace("'", '"'))
        env = _env(kernel, queue, redis_url, plugins)
        command = [sys.executable, "-m", "udyog.cli", "worker", "-c", str(concurrency), "--loglevel", "WARNING"]
        with _worker(command, env, tmp / "worker.log") as worker:
            # Warm the worker up (imports, connections) with one event before the clock starts.
            with kernel.tenant_scope("bench") as scope:
                from udyog_sdk import emit

                emit("inventory.stock.below_reorder", {**products[0], "warm_up": True})
                scope.session.commit()

            def finished() -> int:
                return sum(count for _, count in _delivered(kernel))

            _wait(lambda: finished() >= 1, "the worker to evaluate the first event", 120, 0.1, worker)

            step = max(1, int(seconds * per_minute / 60) // PRODUCTS)

            def payload(n: int) -> dict[str, Any]:
                # Product 0's alert was created by the warm-up. Every step-th event is the first of the next
                # product and creates its alert (marked, to tell them apart): new conditions spread evenly over
                # the run; the others repeat the alert of a product seen before.
                new = n // step + 1
                if n % step == 0 and new < PRODUCTS:
                    return {**products[new], "first": True}
                return products[n % min(new, PRODUCTS)]

            def waiting() -> int:
                with kernel.tenant_scope("bench", write=False) as scope:
                    return scope.session.scalar(select(func.count()).select_from(ListenerInbox)) or 0

            produced = _produce(kernel, payload, per_minute / 60.0, seconds, waiting)
            drain_start = time.monotonic()
            _wait(lambda: finished() >= produced["made"] + 1, "the worker to catch up", 1800, 0.2, worker)
            produced["drain"] = time.monotonic() - drain_start
        every, alerting = _lags(kernel)
        with kernel.tenant_scope("bench", write=False) as scope:
            from udyog_vigilance.models import Alert

            produced["alerts"] = scope.session.scalar(select(func.count()).select_from(Alert))
            produced["failed"] = scope.session.execute(
                select(JobRun.task, JobRun.state, func.count(), func.min(JobRun.error))
                .where(JobRun.state.in_(("failed", "retrying")))
                .group_by(JobRun.task, JobRun.state)
            ).all()
        client.delete(queue)
        return {**produced, "lags": every, "alert_lags": alerting}


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its targets."""
    seconds = float(os.environ.get("UDYOG_BENCH_VIGILANCE_SECONDS", "300"))
    per_minute = float(os.environ.get("UDYOG_BENCH_VIGILANCE_RATE", "10000"))
    concurrency = int(os.environ.get("UDYOG_BENCH_VIGILANCE_CONCURRENCY", "1"))
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL") or None
    redis_url = os.environ.get("UDYOG_TEST_REDIS_URL") or None
    print_heading(
        f"Vigilance: {per_minute:,.0f} events/min offered for {seconds:.0f} s, one worker "
        f"({concurrency} pool process{'es' if concurrency > 1 else ''}), PostgreSQL and Redis"
    )
    if not (admin_url and redis_url):
        why = "set UDYOG_TEST_DATABASE_URL and UDYOG_TEST_REDIS_URL"
        print(f"-- skipped ({why})")
        return [not_measured(NAME_LAG, why), not_measured(NAME_BOUNDED, why)]
    r = _measure(admin_url, redis_url, seconds, per_minute, concurrency)
    lags, alert_lags = r["lags"], r["alert_lags"]
    if len(lags) < r["made"] or r["failed"]:
        raise RuntimeError(f"{len(lags)} of {r['made']} events evaluated; runs that did not succeed: {r['failed']}")
    queue = r["queue"]
    minute = [n for t, n in queue if t < 60] or [0]
    last = [n for t, n in queue if t >= queue[-1][0] - 60] or [0]
    offered = r["made"] / r["took"] * 60
    print_table(
        ["", "events", "offered/min", "p50 lag", "p95 lag", "max lag", "queue max", "queue 1st min", "queue last min"],
        [
            ["every event", f"{len(lags)}", f"{offered:,.0f}", f"{statistics.median(lags):.2f} s",
             f"{_p95(lags):.2f} s", f"{max(lags):.2f} s", f"{max(n for _, n in queue)}",
             f"{statistics.mean(minute):.0f}", f"{statistics.mean(last):.0f}"],
            ["created an alert", f"{len(alert_lags)}", "", f"{statistics.median(alert_lags):.2f} s",
             f"{_p95(alert_lags):.2f} s", f"{max(alert_lags):.2f} s", "", "", ""],
        ],
    )  # fmt: skip
    print(f"alerts: {r['alerts']}; the worker caught up {r['drain']:.1f} s after the producer stopped")
    # Bounded: the backlog of the last minute is no more than the first minute's plus ten seconds of load.
    slack = per_minute / 6
    bounded = statistics.mean(last) <= statistics.mean(minute) + slack
    lag = absolute_outcome(
        NAME_LAG, "p95", _p95(lags), LAG_TARGET, lambda v: f"{v:.2f} s",
        context=f"p50 {statistics.median(lags):.2f} s, offered {offered:,.0f}/min for {r['took']:.0f} s",
    )  # fmt: skip
    summary = (
        f"{NAME_BOUNDED}: queue mean {statistics.mean(minute):.0f} in the first minute, "
        f"{statistics.mean(last):.0f} in the last, max {max(n for _, n in queue)} "
        f"(target: last <= first + {slack:.0f}) {'MET' if bounded else 'NOT MET'}"
    )
    return [lag, Outcome(NAME_BOUNDED, summary, bounded)]
