"""The ``Plugin`` manifest: what a plugin declares about itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class ManifestError(ValueError):
    """A manifest is malformed (bad name, version or requirement)."""


@dataclass(frozen=True)
class Plugin:
    """The manifest of a Udyog plugin.

    An entry point in group ``udyog.plugins`` points at an instance of this
    class (conventionally ``udyog_<name>:plugin``). Creating the manifest must
    have no side effects beyond the import of the package's ``__init__``.

    Attributes:
        name: unique plugin name, lower case (``crm``); prefixes its tables
            (``crm_customer``), permissions and hook names.
        version: the plugin's version (PEP 440).
        title: human readable title.
        package: the import package (pass ``__name__``); the defaults for
            ``hooks``, ``hookspecs``, ``models`` and ``migrations`` are
            derived from it.
        requires: requirement strings on other plugins (``"crm>=1.0"``);
            they are loaded first and must be enabled for a tenant before this
            plugin can be.
        optional: plugins this one cooperates with when present (it may
            implement their hooks with ``optionalhook=True``); never required.
        sdk: the range of :data:`udyog_sdk.SDK_VERSION` the plugin targets.
        hooks: module holding hook implementations (default ``<package>.hooks``
            if it exists).
        hookspecs: module publishing this plugin's own hook specifications
            (default ``<package>.hookspecs`` if it exists).
        models: module defining the plugin's tables (default
            ``<package>.models`` if it exists).
        migrations: directory of the plugin's alembic branch (default
            ``<package>/migrations`` if it exists).
        description: one paragraph for the plugin list.
    """

    name: str
    version: str
    title: str
    package: str
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    sdk: str = ">=1.0,<2"
    hooks: str | None = None
    hookspecs: str | None = None
    models: str | None = None
    migrations: str | None = None
    description: str = ""
    _requirements: tuple[Requirement, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ManifestError(
                f"plugin name {self.name!r} must be lower case letters, digits and "
                "underscores, starting with a letter (2-40 characters)"
            )
        try:
            Version(self.version)
        except InvalidVersion as exc:
            raise ManifestError(f"plugin {self.name}: invalid version {self.version!r}") from exc
        try:
            SpecifierSet(self.sdk)
        except InvalidSpecifier as exc:
            raise ManifestError(f"plugin {self.name}: invalid sdk range {self.sdk!r}") from exc
        reqs: list[Requirement] = []
        for text in self.requires:
            try:
                reqs.append(Requirement(text))
            except InvalidRequirement as exc:
                raise ManifestError(f"plugin {self.name}: invalid requirement {text!r}: {exc}") from exc
        object.__setattr__(self, "_requirements", tuple(reqs))

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """The parsed ``requires`` entries."""
        return self._requirements

    @property
    def required_names(self) -> tuple[str, ...]:
        """Names of the plugins this one requires, sorted."""
        return tuple(sorted(r.name for r in self._requirements))

    def module_name(self, kind: str) -> str | None:
        """The module for ``kind`` (hooks, hookspecs or models), or None if absent."""
        explicit = getattr(self, kind)
        if explicit:
            return str(explicit)
        candidate = f"{self.package}.{kind}"
        try:
            found = find_spec(candidate)
        except (ImportError, ValueError):  # the package is a plain module: no submodules
            return None
        return candidate if found is not None else None

    def migrations_dir(self) -> Path | None:
        """The directory of this plugin's alembic versions, or None."""
        if self.migrations:
            return Path(self.migrations)
        return package_migrations_dir(self.package)


def package_migrations_dir(package: str) -> Path | None:
    """Find ``<package>/migrations`` without importing the package."""
    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "migrations"
        if candidate.is_dir():
            return candidate
    return None
