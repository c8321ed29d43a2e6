"""Benchmarks for Udyog (``make bench``); not part of the tests.

Every benchmark measures its own baseline in the same run and prints its
figures as ratios against it, plus the absolute numbers; a missed target is
reported, never turned into a failure. Timings use :func:`time.perf_counter`,
several interleaved rounds and their median.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """One issue target: its summary line and whether it was met (None: not measured)."""

    name: str
    summary: str
    met: bool | None


def fmt_time(seconds: float) -> str:
    """``seconds`` with a unit that keeps three significant digits or so."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 10.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.3f} s"


def fmt_mb(megabytes: float) -> str:
    """A memory figure in MB."""
    return f"{megabytes:.1f} MB"


def verdict(met: bool) -> str:
    """``MET`` or ``NOT MET``."""
    return "MET" if met else "NOT MET"


def ratio_outcome(
    name: str,
    baseline_label: str,
    baseline: float,
    ours_label: str,
    ours: float,
    limit: float,
    fmt: Callable[[float], str] = fmt_time,
) -> Outcome:
    """A target of the form ``ours / baseline <= limit``."""
    ratio = ours / baseline
    met = ratio <= limit
    summary = (
        f"{name}: {baseline_label} {fmt(baseline)}, {ours_label} {fmt(ours)}, "
        f"ratio {ratio:.2f} (target <= {limit:.2f}) {verdict(met)}"
    )
    return Outcome(name, summary, met)


def absolute_outcome(
    name: str,
    label: str,
    value: float,
    limit: float,
    fmt: Callable[[float], str],
    context: str = "",
) -> Outcome:
    """A target of the form ``value <= limit``."""
    met = value <= limit
    extra = f", {context}" if context else ""
    summary = f"{name}: {label} {fmt(value)}{extra} (target <= {fmt(limit)}) {verdict(met)}"
    return Outcome(name, summary, met)


def not_measured(name: str, why: str) -> Outcome:
    """A target this run could not measure."""
    return Outcome(name, f"{name}: not measured ({why})", None)


def measure(
    batches: Mapping[str, Callable[[], None]],
    *,
    per_batch: int,
    rounds: int,
    warmup: int = 1,
) -> dict[str, float]:
    """Median seconds per operation of each batch.

    Each batch performs ``per_batch`` operations. Rounds are interleaved (every
    batch once per round, the order rotating) so that drift in machine speed
    hits all batches alike; the garbage collector is off while timing.
    """
    names = list(batches)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for name in names:
            batches[name]()
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                batch = batches[name]
                start = time.perf_counter()
                batch()
                samples[name].append((time.perf_counter() - start) / per_batch)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


def print_heading(title: str) -> None:
    """A benchmark's heading."""
    print()
    print(f"== {title} ==")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain left-aligned table (numbers right-aligned)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = str(cell)
            numeric = i > 0 and text[:1].isdigit()
            out.append(text.rjust(widths[i]) if numeric else text.ljust(widths[i]))
        return "  ".join(out).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def ratio_text(value: float, baseline: float) -> str:
    """``value / baseline`` with two decimals."""
    return f"{value / baseline:.2f}"


def with_postgres(
    outcomes: list[Outcome], name: str, measure_postgres: Callable[[str], list[Outcome]]
) -> list[Outcome]:
    """``outcomes`` plus the PostgreSQL ones when ``UDYOG_TEST_DATABASE_URL`` names a server."""
    admin_url = os.environ.get("UDYOG_TEST_DATABASE_URL")
    if admin_url:
        return [*outcomes, *measure_postgres(admin_url)]
    print("-- PostgreSQL: skipped (set UDYOG_TEST_DATABASE_URL to an administrative URL)")
    return [*outcomes, not_measured(name, "UDYOG_TEST_DATABASE_URL not set")]
