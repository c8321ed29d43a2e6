"""Plugin discovery, dependency resolution and isolated loading.

Our own loader loop instead of pluggy's ``load_setuptools_entrypoints``: every
entry point is loaded and registered under a guard, failures are recorded
against the plugin (and its dependants are skipped with that cause), and the
rest of the system starts. Strict mode turns any load error of an *enabled*
plugin into :class:`PluginLoadError`.
"""

from __future__ import annotations

import enum
import importlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from udyog_sdk import SDK_VERSION, Plugin
from udyog_sdk.manifest import package_migrations_dir
from udyog_sdk.markers import PROJECT_NAME

log = logging.getLogger("udyog.plugins")

ENTRY_POINT_GROUP = "udyog.plugins"
CORE_NAME = "core"


class PluginState(enum.StrEnum):
    """Where a discovered plugin ended up."""

    LOADED = "loaded"
    NOT_ENABLED = "not-enabled"  # installed, not enabled in plugins.toml
    FAILED = "failed"  # its own import, manifest or registration failed
    SKIPPED = "skipped"  # it is fine, but a dependency is not


class PluginLoadError(RuntimeError):
    """Strict mode: an enabled plugin could not be loaded."""


@dataclass
class PluginRecord:
    """What the registry knows of one discovered plugin."""

    name: str
    entry_point: str
    distribution: str | None
    dist_version: str | None
    state: PluginState = PluginState.NOT_ENABLED
    error: str | None = None
    manifest: Plugin | None = None
    modules: dict[str, ModuleType] = field(default_factory=dict)
    package: str | None = None

    @property
    def version(self) -> str | None:
        """The manifest's version, or the distribution's before loading."""
        return self.manifest.version if self.manifest else self.dist_version

    @property
    def requires(self) -> tuple[str, ...]:
        """Requirement strings of the manifest (empty before loading)."""
        return self.manifest.requires if self.manifest else ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the CLI and the API."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.manifest.title if self.manifest else None,
            "distribution": self.distribution,
            "state": self.state.value,
            "error": self.error,
            "requires": list(self.requires),
            "optional": list(self.manifest.optional) if self.manifest else [],
        }


class PluginRegistry:
    """Discovers, resolves and loads plugins into a pluggy manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.strict = False
        self.records: dict[str, PluginRecord] = {}
        #: Loaded plugin names in dependency order (ties by name).
        self.order: list[str] = []

    # -- discovery ---------------------------------------------------------

    @staticmethod
    def discover(group: str = ENTRY_POINT_GROUP) -> list[EntryPoint]:
        """Installed entry points of ``group``, sorted by name (never filesystem order).

        Two distributions providing the same plugin name both appear; the
        registry refuses to load either.
        """
        return sorted(entry_points(group=group), key=lambda ep: (ep.name, ep.value))

    def load(
        self,
        enabled: Iterable[str] | None,
        *,
        strict: bool = False,
        entry_points_: Iterable[EntryPoint] | None = None,
    ) -> None:
        """Discover, resolve and register plugins.

        ``enabled`` selects which discovered plugins to load (``"*"`` for all);
        others are recorded as not enabled and never imported.
        """
        eps = list(entry_points_) if entry_points_ is not None else self.discover()
        self.strict = strict
        wanted = set(enabled or ())
        providers: dict[str, list[str]] = {}
        for ep in eps:
            dist = ep.dist
            providers.setdefault(ep.name, []).append(dist.metadata["Name"] if dist else ep.value)
        for ep in eps:
            if ep.name in self.records:
                continue
            dist = ep.dist
            record = PluginRecord(
                name=ep.name,
                entry_point=ep.value,
                distribution=dist.metadata["Name"] if dist else None,
                dist_version=dist.version if dist else None,
                package=ep.module.split(".", 1)[0],
            )
            self.records[ep.name] = record
            duplicate = len(providers[ep.name]) > 1
            if duplicate:
                message = f"plugin name provided by several distributions: {', '.join(providers[ep.name])}"
                if "*" in wanted or ep.name in wanted:
                    self._fail(record, message)
                else:  # not asked for: reported, but not a load failure
                    record.error = message
            elif "*" in wanted or ep.name in wanted:
                self._load_manifest(record, ep)
        for name in sorted(wanted - {"*"} - set(self.records)):
            self.records[name] = PluginRecord(
                name=name,
                entry_point="",
                distribution=None,
                dist_version=None,
                state=PluginState.FAILED,
                error="enabled in plugins.toml but not installed",
            )
        self._resolve()
        self._register_all()
        failures = [r for r in self.records.values() if r.state in (PluginState.FAILED, PluginState.SKIPPED)]
        for record in failures:
            log.error("plugin %s not loaded (%s): %s", record.name, record.state.value, record.error)
        if strict and failures:
            lines = "; ".join(f"{r.name}: {r.error}" for r in sorted(failures, key=lambda r: r.name))
            raise PluginLoadError(f"strict plugin loading: {lines}")

    def _fail(self, record: PluginRecord, message: str, state: PluginState = PluginState.FAILED) -> None:
        record.state = state
        record.error = message

    def _load_manifest(self, record: PluginRecord, ep: EntryPoint) -> None:
        if ep.name == CORE_NAME:
            self._fail(record, f"the plugin name {CORE_NAME!r} is reserved for the kernel")
            return
        try:
            manifest = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import error is recorded, not raised
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        if not isinstance(manifest, Plugin):
            self._fail(record, f"entry point {ep.value!r} is a {type(manifest).__name__}, not a udyog_sdk.Plugin")
            return
        if manifest.name != ep.name:
            self._fail(record, f"manifest name {manifest.name!r} differs from entry point name {ep.name!r}")
            return
        record.manifest = manifest
        record.package = manifest.package
        if Version(SDK_VERSION) not in SpecifierSet(manifest.sdk):
            self._fail(
                record,
                f"incompatible SDK version: targets udyog-sdk {manifest.sdk}, running {SDK_VERSION}",
            )
            return
        record.state = PluginState.LOADED  # provisional until resolution

    # -- resolution --------------------------------------------------------

    def _resolve(self) -> None:
        """Check requirements and order candidates topologically (ties by name)."""
        candidates = {n: r for n, r in self.records.items() if r.state is PluginState.LOADED}
        changed = True
        while changed:
            changed = False
            for name in sorted(candidates):
                record = candidates[name]
                assert record.manifest is not None
                problem = self._requirement_problem(record)
                if problem:
                    message, state = problem
                    self._fail(record, message, state)
                    del candidates[name]
                    changed = True
        # Kahn's algorithm; a name-sorted ready list makes ties deterministic.
        deps = {n: set(r.manifest.required_names) for n, r in candidates.items() if r.manifest}
        order: list[str] = []
        ready = sorted(n for n, d in deps.items() if not d)
        remaining = {n: set(d) for n, d in deps.items() if d}
        while ready:
            name = ready.pop(0)
            order.append(name)
            for other in sorted(remaining):
                remaining[other].discard(name)
                if not remaining[other]:
                    del remaining[other]
                    ready.append(other)
            ready.sort()
        if remaining:
            cycles = self._cycle_members(remaining)
            for name in sorted(remaining):
                if name in cycles:
                    self._fail(self.records[name], f"dependency cycle: {cycles[name]}")
                else:
                    blocker = sorted(remaining[name])[0]
                    self._fail(
                        self.records[name],
                        f"dependency {blocker!r} is part of a dependency cycle",
                        PluginState.SKIPPED,
                    )
        self.order = order

    def _requirement_problem(self, record: PluginRecord) -> tuple[str, PluginState] | None:
        assert record.manifest is not None
        for req in record.manifest.requirements:
            dep = self.records.get(req.name)
            if dep is None:
                return f"missing dependency: requires {req} which is not installed", PluginState.FAILED
            if dep.state is PluginState.NOT_ENABLED:
                return (
                    f"missing dependency: requires {req} which is installed but not enabled in plugins.toml",
                    PluginState.FAILED,
                )
            if dep.state in (PluginState.FAILED, PluginState.SKIPPED):
                return f"dependency {req.name!r} did not load ({dep.error})", PluginState.SKIPPED
            if dep.version is not None and req.specifier and Version(dep.version) not in req.specifier:
                return (
                    f"incompatible dependency version: requires {req}, installed {req.name} {dep.version}",
                    PluginState.FAILED,
                )
        return None

    @staticmethod
    def _cycle_members(remaining: dict[str, set[str]]) -> dict[str, str]:
        """For nodes on a cycle, a readable path of that cycle."""
        found: dict[str, str] = {}
        for start in sorted(remaining):
            path = [start]
            seen = {start}
            node = start
            while True:
                nexts = sorted(d for d in remaining.get(node, ()) if d in remaining)
                if not nexts:
                    break
                node = nexts[0]
                if node == start:
                    found[start] = " -> ".join([*path, start])
                    break
                if node in seen:
                    break
                seen.add(node)
                path.append(node)
        return found

    # -- registration ------------------------------------------------------

    def _register_all(self) -> None:
        """Import hookspecs, models and hooks per plugin in order; isolate failures."""
        final: list[str] = []
        # Pass 1: publish every plugin's hook specifications, so that hook
        # implementations can be checked against them whatever the order.
        for name in self.order:
            record = self.records[name]
            if self._blocked_by_dependency(record):
                continue
            try:
                spec_module = self._import(record, "hookspecs")
                if spec_module is not None:
                    self.pm.add_hookspecs(spec_module)
            except Exception as exc:  # noqa: BLE001
                self._fail(record, f"hook specifications failed: {type(exc).__name__}: {exc}")
        # Pass 2: models and hook implementations.
        for name in self.order:
            record = self.records[name]
            if record.state is not PluginState.LOADED or self._blocked_by_dependency(record):
                continue
            try:
                self._import(record, "models")
                hooks_module = self._import(record, "hooks")
                if hooks_module is not None:
                    self.pm.register(hooks_module, name=name)
                    self._check_hookimpls(name)
            except Exception as exc:  # noqa: BLE001
                self._unregister(name)
                self._fail(record, f"registration failed: {type(exc).__name__}: {exc}")
                continue
            final.append(name)
        self.order = final

    def _blocked_by_dependency(self, record: PluginRecord) -> bool:
        assert record.manifest is not None
        for dep_name in record.manifest.required_names:
            dep = self.records[dep_name]
            if dep.state is not PluginState.LOADED:
                if record.state is PluginState.LOADED:
                    self._fail(
                        record,
                        f"dependency {dep_name!r} did not load ({dep.error})",
                        PluginState.SKIPPED,
                    )
                return True
        return False

    def _import(self, record: PluginRecord, kind: str) -> ModuleType | None:
        assert record.manifest is not None
        module_name = record.manifest.module_name(kind)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        record.modules[kind] = module
        return module

    def _check_hookimpls(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is None:
                impls = [i for i in caller.get_hookimpls() if i.plugin_name == name]
                if any(not i.optionalhook for i in impls):
                    raise LookupError(
                        f"hook implementation {caller.name!r} matches no hook specification "
                        "(misspelt, or the publishing plugin is not required; mark optional "
                        "cooperation with @hookimpl(optionalhook=True))"
                    )

    def _unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)

    def unload(self, name: str, message: str) -> list[str]:
        """Record a late failure of ``name``, unregister it and its dependants.

        Returns every plugin unloaded. Used when a registration-time hook of
        the plugin raises after it was registered.
        """
        unloaded: list[str] = []
        record = self.records[name]
        self._unregister(name)
        self._fail(record, message)
        unloaded.append(name)
        for other in self.dependants(name, list(self.order)):
            self._unregister(other)
            self._fail(self.records[other], f"dependency {name!r} did not load ({message})", PluginState.SKIPPED)
            unloaded.append(other)
        self.order = [n for n in self.order if n not in unloaded]
        for n in unloaded:
            log.error("plugin %s unloaded: %s", n, self.records[n].error)
        if self.strict:
            raise PluginLoadError(f"strict plugin loading: {name}: {message}")
        return unloaded

    # -- queries -----------------------------------------------------------

    def loaded(self) -> list[PluginRecord]:
        """Loaded plugins in dependency order."""
        return [self.records[n] for n in self.order]

    def loaded_names(self) -> frozenset[str]:
        """Names of the loaded plugins."""
        return frozenset(self.order)

    def get(self, name: str) -> PluginRecord | None:
        """The record of ``name``, if discovered."""
        return self.records.get(name)

    def __iter__(self) -> Iterator[PluginRecord]:
        return iter(self.records[n] for n in sorted(self.records))

    def dependency_closure(self, names: Iterable[str]) -> list[str]:
        """``names`` plus everything they require, in load order."""
        wanted: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(name)
            record = self.records.get(name)
            if record and record.manifest:
                stack.extend(record.manifest.required_names)
        return [n for n in self.order if n in wanted]

    def dependants(self, name: str, among: Iterable[str]) -> list[str]:
        """Plugins in ``among`` that require ``name`` (directly or not)."""
        among_set = set(among)
        return sorted(other for other in among_set if other != name and name in self.dependency_closure([other]))

    def migration_dirs(self) -> dict[str, Path]:
        """Migration directories of every *installed* plugin, loaded or not.

        Installed-but-disabled plugins keep their revisions known to alembic
        (a database that once applied them must still start); the packages
        are located without being imported.
        """
        dirs: dict[str, Path] = {}
        for record in self:
            path: Path | None = None
            if record.manifest is not None:
                path = record.manifest.migrations_dir()
            elif record.package:
                try:
                    path = package_migrations_dir(record.package)
                except (ImportError, ValueError):
                    path = None
            if path is not None:
                dirs[record.name] = path
        return dirs


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with the core's hook specifications."""
    from udyog import hookspecs

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm
