"""Benchmark 1: per-tenant hook dispatch against a plain pluggy call.

Target: per-tenant hook dispatch adds <= 25% over a plain pluggy call with the
same 10 implementations.

Case A: the tenant disabled plugins that do not implement the hook, so the
relay hands out pluggy's own caller. Case B: the tenant disabled 2 of 12
implementations, so the relay must filter (pluggy's ``_SubsetHookCaller``);
it is compared with a plain manager holding exactly the 10 that run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from tests.bench import (
    Outcome,
    fmt_time,
    measure,
    print_heading,
    print_table,
    ratio_outcome,
    ratio_text,
)
from udyog import hookspecs
from udyog.hookbus import HookBus
from udyog_sdk import TenantContext, hookimpl, hookspec
from udyog_sdk.markers import PROJECT_NAME
from udyog_sdk.runtime import bind_scope, hooks, unbind_scope

CALLS = 2000
ROUNDS = 31
TARGET = 1.25


class BenchSpecs:
    """The benchmark's own hook specification (one broadcast hook)."""

    @hookspec
    def bench_hook(self, x: int) -> int:  # type: ignore[empty-body]
        """Return something computed from ``x`` (broadcast)."""


class Implementer:
    """A plugin implementing ``bench_hook``."""

    def __init__(self, n: int) -> None:
        self.n = n

    @hookimpl
    def bench_hook(self, x: int) -> int:
        return x + self.n


class Bystander:
    """A plugin that implements a core hook, but not ``bench_hook``."""

    @hookimpl
    def udyog_tenant_setup(self, tenant: Any, session: Any) -> None:
        return None


def _manager(names: Iterable[str], bystanders: Iterable[str] = ()) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.add_hookspecs(BenchSpecs)
    for name in names:
        pm.register(Implementer(int(name[1:])), name=name)
    for name in bystanders:
        pm.register(Bystander(), name=name)
    return pm


def _calls(call: Callable[..., Any], n: int = CALLS) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            call(x=1)

    return run


def _direct(functions: list[Callable[..., Any]], n: int = CALLS) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            [f(x=1) for f in functions]

    return run


def _via_accessor(n: int = CALLS) -> Callable[[], None]:
    """``udyog_sdk.hooks().bench_hook(x=1)``: how plugin code calls a hook in a scope."""

    def run() -> None:
        for _ in range(n):
            hooks().bench_hook(x=1)

    return run


def _for_enabled(bus: HookBus, enabled: frozenset[str], n: int = CALLS) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            bus.for_enabled(enabled)

    return run


class _Scope:
    """The least a bound scope needs for :func:`udyog_sdk.hooks`."""

    def __init__(self, relay: Any) -> None:
        self.hooks = relay
        self.tenant = TenantContext(id=uuid.uuid4(), slug="bench", name="Bench", timezone="UTC")
        self.session: Any = None

    def emit(self, name: str, payload: Any) -> Any:
        raise NotImplementedError


def run() -> list[Outcome]:
    """Run the benchmark, print its table, return its targets."""
    ten = [f"p{i}" for i in range(10)]
    twelve = [f"p{i}" for i in range(12)]

    # Case A: the tenant disabled q0 and q1, which do not implement bench_hook.
    pm_a = _manager(ten, bystanders=["q0", "q1", "q2"])
    bus_a = HookBus(pm_a, loaded=[*ten, "q0", "q1", "q2"])
    enabled_a = frozenset([*ten, "q2"])
    relay_a = bus_a.for_enabled(enabled_a)
    plain_a = pm_a.hook.bench_hook

    # Case B: 12 implementations registered, the tenant disabled p10 and p11.
    pm_b = _manager(twelve)
    bus_b = HookBus(pm_b, loaded=twelve)
    relay_b = bus_b.for_enabled(frozenset(ten))
    pm_ten = _manager(ten)
    plain_ten = pm_ten.hook.bench_hook

    functions = [impl.function for impl in plain_a.get_hookimpls()]
    expected = sorted(f(x=1) for f in functions)
    # Sanity (not timing): every variant runs the same 10 implementations.
    for name, caller in [("relay A", relay_a.bench_hook), ("relay B", relay_b.bench_hook), ("plain", plain_ten)]:
        got = sorted(caller(x=1))
        if got != expected:
            raise AssertionError(f"{name} returned {got}, expected {expected}")
    relay_a_kind = type(relay_a.bench_hook).__name__
    relay_b_kind = type(relay_b.bench_hook).__name__

    scope_token = bind_scope(_Scope(relay_a))
    try:
        t = measure(
            {
                "plain": _calls(pm_a.hook.bench_hook),
                "direct": _direct(functions),
                "relay_a": _calls(relay_a.bench_hook),
                "accessor": _via_accessor(),
                "for_enabled": _for_enabled(bus_a, enabled_a),
                "plain_ten": _calls(plain_ten),
                "relay_b": _calls(relay_b.bench_hook),
            },
            per_batch=CALLS,
            rounds=ROUNDS,
        )
    finally:
        unbind_scope(scope_token)

    print_heading(f"1. Hook dispatch: 10 implementations, median of {ROUNDS} rounds x {CALLS} calls")
    print_table(
        ["case", "per call", "ratio", "vs"],
        [
            ["A  plain pluggy: pm.hook.bench_hook(x=1)", fmt_time(t["plain"]), "1.00", "baseline A"],
            [
                "A  direct Python loop over the 10 functions",
                fmt_time(t["direct"]),
                ratio_text(t["direct"], t["plain"]),
                "baseline A",
            ],
            [
                f"A  per-tenant relay, 2 non-implementers disabled ({relay_a_kind})",
                fmt_time(t["relay_a"]),
                ratio_text(t["relay_a"], t["plain"]),
                "baseline A",
            ],
            [
                "A  udyog_sdk.hooks().bench_hook(x=1) in a bound scope",
                fmt_time(t["accessor"]),
                ratio_text(t["accessor"], t["plain"]),
                "baseline A",
            ],
            [
                "A  bus.for_enabled(enabled), cached (once per scope)",
                fmt_time(t["for_enabled"]),
                ratio_text(t["for_enabled"], t["plain"]),
                "baseline A",
            ],
            ["B  plain pluggy with exactly the 10 that run", fmt_time(t["plain_ten"]), "1.00", "baseline B"],
            [
                f"B  per-tenant relay, 12 registered, 2 disabled ({relay_b_kind})",
                fmt_time(t["relay_b"]),
                ratio_text(t["relay_b"], t["plain_ten"]),
                "baseline B",
            ],
        ],
    )
    return [
        ratio_outcome(
            "hook dispatch (no filtering)", "plain pluggy", t["plain"], "per-tenant relay", t["relay_a"], TARGET
        ),
        ratio_outcome(
            "hook dispatch (relay filters 2 of 12)",
            "plain pluggy with the 10",
            t["plain_ten"],
            "per-tenant relay",
            t["relay_b"],
            TARGET,
        ),
    ]


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
