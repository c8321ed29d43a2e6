"""SDK 1.3: ``hooks()`` answers the relay of every loaded plugin while the kernel collects registration-time hooks."""

from __future__ import annotations

import pluggy
import pytest

from udyog.hookbus import HookBus
from udyog_sdk import hookimpl, hooks, hookspec
from udyog_sdk.markers import PROJECT_NAME
from udyog_sdk.runtime import NoScopeError


class _Specs:
    @hookspec
    def demo_contributions(self) -> list[str]:
        """What each plugin contributes."""

    @hookspec
    def demo_declarations(self) -> list[str]:
        """Declarations built from everyone's contributions."""


class _Collector:
    @hookimpl
    def demo_declarations(self) -> list[str]:
        return sorted(x for answer in hooks().demo_contributions() for x in answer)


class _Contributor:
    def __init__(self, word: str) -> None:
        self.word = word

    @hookimpl
    def demo_contributions(self) -> list[str]:
        return [self.word]


def test_a_registration_hook_sees_every_loaded_plugins_contributions_and_only_then():
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(_Specs)
    pm.register(_Collector(), name="collector")
    pm.register(_Contributor("b"), name="beta")
    pm.register(_Contributor("a"), name="alpha")
    bus = HookBus(pm, ["collector", "alpha", "beta"])
    assert bus.collect_safely("demo_declarations", on_error=lambda p, m: [p]) == [("collector", ["a", "b"])]
    with pytest.raises(NoScopeError):  # outside the collection there is no relay without a tenant scope
        hooks()
