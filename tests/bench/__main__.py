"""``python -m tests.bench [name ...]``: run the benchmarks (default: all; names in ``BENCHMARKS``).

Prints each benchmark's table and then every issue target with MET or NOT
MET. A missed target never fails the run; a benchmark that crashes does
(exit status 1, after the others ran).
"""

from __future__ import annotations

import platform
import sys
import time
import traceback
from collections.abc import Callable

from tests.bench import Outcome, not_measured

BENCHMARKS: dict[str, tuple[str, str]] = {
    "hooks": ("tests.bench.hook_dispatch", "hook dispatch"),
    "scoping": ("tests.bench.tenant_scoping", "tenant scoping"),
    "startup": ("tests.bench.startup", "start-up and memory"),
    "auth_get": ("tests.bench.auth_get", "authenticated GET"),
    "series": ("tests.bench.series", "number series"),
    "jobs": ("tests.bench.jobs", "background jobs"),
    "ledger": ("tests.bench.bench_ledger", "stock ledger pages"),
    "sales": ("tests.bench.bench_sales", "order to invoice"),
    "recall": ("tests.bench.bench_recall", "recall trace"),
    "payroll": ("tests.bench.bench_payroll", "payroll run"),
    "vigilance": ("tests.bench.bench_vigilance", "vigilance event stream"),
}


def _runner(module: str) -> Callable[[], list[Outcome]]:
    import importlib

    return importlib.import_module(module).run  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    """Run the selected benchmarks; 0 unless one crashed."""
    selected = argv or list(BENCHMARKS)
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    import pluggy
    import sqlalchemy

    print(
        f"Udyog benchmarks: Python {platform.python_version()}, pluggy {pluggy.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {platform.machine()}"
    )
    outcomes: list[Outcome] = []
    crashed = False
    started = time.perf_counter()
    for name in selected:
        module, title = BENCHMARKS[name]
        t0 = time.perf_counter()
        try:
            outcomes.extend(_runner(module)())
        except Exception:  # noqa: BLE001 - report the crash, run the other benchmarks
            crashed = True
            traceback.print_exc()
            outcomes.append(not_measured(title, "the benchmark crashed"))
        print(f"({title}: {time.perf_counter() - t0:.1f} s)")
    print()
    print("== Targets ==")
    for outcome in outcomes:
        print(outcome.summary)
    met = sum(1 for o in outcomes if o.met is True)
    missed = sum(1 for o in outcomes if o.met is False)
    unmeasured = sum(1 for o in outcomes if o.met is None)
    print(
        f"{met} met, {missed} not met, {unmeasured} not measured "
        f"(in {time.perf_counter() - started:.0f} s; figures vary with machine load)"
    )
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
