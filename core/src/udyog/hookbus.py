"""Per-tenant hook relays over one pluggy manager.

A tenant sees only the plugins it has enabled. For each distinct set of
disabled plugins we build one :class:`HookRelay` and cache it; a relay caches
one caller per hook name (pluggy's ``subset_hook_caller``, which returns the
plain caller when no removed plugin implements the hook). After the first
access a hook is a plain attribute of the relay, so a tenant's hook call costs
one attribute lookup more than a plain pluggy call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from udyog.registry import CORE_NAME
from udyog_sdk.runtime import bind_registration_hooks, unbind_registration_hooks


class HookRelay:
    """Hook callers limited to one set of enabled plugins (``relay.<hook>(...)``)."""

    def __init__(self, pm: pluggy.PluginManager, removed: frozenset[str]) -> None:
        self._pm = pm
        self._removed_names = removed
        self._removed = [p for n in sorted(removed) if (p := pm.get_plugin(n)) is not None]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        caller = self._pm.subset_hook_caller(name, self._removed)
        # Cache as an instance attribute: later lookups never reach __getattr__.
        setattr(self, name, caller)
        return caller

    def call_plugin(self, plugin: str, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` on one plugin only (per-plugin setup/teardown/demo hooks)."""
        if plugin in self._removed_names:
            return []
        caller = getattr(self._pm.hook, hook)
        return [
            impl.function(**{a: kwargs[a] for a in impl.argnames})
            for impl in caller.get_hookimpls()
            if impl.plugin_name == plugin
        ]


class HookBus:
    """The kernel's hook bus: the full relay and cached per-tenant relays."""

    def __init__(self, pm: pluggy.PluginManager, loaded: Iterable[str]) -> None:
        self.pm = pm
        self._lock = threading.Lock()
        self.refresh(loaded)

    def refresh(self, loaded: Iterable[str]) -> None:
        """Forget cached relays after the set of loaded plugins changed."""
        self.loaded = frozenset(loaded)
        self._relays: dict[frozenset[str], HookRelay] = {}
        self.all = self.for_enabled(self.loaded)

    def for_enabled(self, enabled: Iterable[str]) -> HookRelay:
        """The relay for a tenant that enabled ``enabled`` (the core is always on)."""
        removed = self.loaded - frozenset(enabled) - {CORE_NAME}
        relay = self._relays.get(removed)
        if relay is None:
            with self._lock:
                relay = self._relays.get(removed)
                if relay is None:
                    relay = self._relays[removed] = HookRelay(self.pm, removed)
        return relay

    def collect_safely(
        self,
        hook: str,
        on_error: Callable[[str, str], Iterable[str]],
        **kwargs: Any,
    ) -> list[tuple[str, Any]]:
        """Call a registration-time hook on every plugin, keeping who returned what.

        Results come back sorted by plugin name (never registration order). A
        plugin whose implementation raises is unloaded.

        ``on_error(plugin, message)`` unloads the plugin (and its dependants)
        and returns every name it unloaded; their results are dropped and the
        bus is refreshed. The core's own failures propagate.
        """
        caller = getattr(self.pm.hook, hook)
        out: list[tuple[str, Any]] = []
        dropped: set[str] = set()
        # Outside a tenant scope, udyog_sdk.hooks() answers the relay of every loaded plugin meanwhile.
        token = bind_registration_hooks(self.all)
        try:
            for impl in sorted(caller.get_hookimpls(), key=lambda i: i.plugin_name):
                try:
                    result = impl.function(**{a: kwargs[a] for a in impl.argnames})
                except Exception as exc:
                    if impl.plugin_name == CORE_NAME:
                        raise
                    dropped.update(on_error(impl.plugin_name, f"{hook} failed: {type(exc).__name__}: {exc}"))
                    continue
                if result is not None:
                    out.append((impl.plugin_name, result))
        finally:
            unbind_registration_hooks(token)
        if dropped:
            self.refresh(self.loaded - dropped)
        return [(plugin, result) for plugin, result in out if plugin not in dropped]
