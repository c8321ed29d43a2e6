"""``udyog plugin check``: validate a plugin before it is published.

A plugin is named by its directory (a distribution with ``pyproject.toml``,
installed or not) or by its plugin name (installed). A plugin that is not
installed is made visible to this process only, through a temporary
``.dist-info`` on ``sys.path``; nothing is installed and the deployment's
database is never touched: every database check runs on a scratch SQLite
database (and, on request, a scratch PostgreSQL database).

The checks, in order (a plugin that cannot be loaded skips the checks that
need a kernel):

1. manifest and entry point: loadable, a ``Plugin``, the entry point's name,
   an SDK range that admits the running SDK, requirements installed and of a
   matching version, the migrations shipped as package data;
2. hook implementations against the specifications of the core and of the
   publishers the plugin requires (pluggy's own validation: unknown hook
   names, arguments not in the spec); the plugin's own specifications are
   prefixed and documented;
3. declarations: permissions ``<plugin>.<resource>.<action>`` within the
   plugin's prefix, record rules likewise;
4. loading into a kernel and an app as a deployment would, and every route
   declaring its access with a declared permission;
5. tables: named ``<plugin>_…``, tenant-scoped keys, indexes and references
   leading with ``tenant_id``;
6. migrations: one head on the plugin's own branch, depending on its
   requirements' branches, touching only its own tables (read from the
   files and observed on the database), agreeing with the models
   (autogenerate finds no difference);
7. uninstall: downgrading the branch to base leaves no table, index or
   ``alembic_version`` row of the plugin.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import json
import logging
import re
import sys
import tempfile
import tomllib
import traceback
import types
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import import_module, invalidate_caches
from importlib.metadata import Distribution, EntryPoint, PackageNotFoundError, distribution, entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pluggy
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from udyog.registry import CORE_NAME, ENTRY_POINT_GROUP, PluginState, new_plugin_manager
from udyog_sdk import SDK_VERSION, Permission, Plugin, RecordRule, RoleTemplate

ERROR = "error"
WARNING = "warning"

CHECKS = (
    ("manifest", "manifest and entry point"),
    ("hooks", "hook implementations against the specifications"),
    ("declarations", "permissions, record rules and roles"),
    ("load", "loads into a kernel and an app; routes declare their access"),
    ("tables", "tables: names, tenant_id first"),
    ("migrations", "migrations: own branch, own tables, agree with the models"),
    ("uninstall", "uninstall leaves no trace"),
)

#: alembic operations whose first positional argument is a table name.
_TABLE_FIRST = frozenset(
    {
        "create_table",
        "drop_table",
        "add_column",
        "drop_column",
        "alter_column",
        "batch_alter_table",
        "rename_table",
        "create_table_comment",
        "drop_table_comment",
    }
)
#: alembic operations whose second positional argument is a table name.
_TABLE_SECOND = frozenset(
    {
        "create_index",
        "create_unique_constraint",
        "create_primary_key",
        "create_check_constraint",
        "create_foreign_key",
        "create_exclude_constraint",
        "drop_constraint",
    }
)
_TABLE_KEYWORDS = ("table_name", "source_table", "table")


class CheckError(ValueError):
    """The thing to check cannot be found or read (not a finding about a plugin)."""


@dataclass(frozen=True)
class Finding:
    """One problem: where (file and line when known), how bad and what."""

    level: str
    message: str
    path: Path | None = None
    line: int | None = None

    def render(self) -> str:
        """``path:line: level: message``, the path relative to the working directory when inside it."""
        where = ""
        if self.path is not None:
            where = _display(self.path) + (f":{self.line}" if self.line else "") + ": "
        return f"{where}{self.level}: {self.message}"


@dataclass
class PluginReport:
    """The outcome of every check for one plugin (one entry point)."""

    name: str
    origin: str
    results: dict[str, list[Finding]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, check: str, level: str, message: str, path: Path | None = None, line: int | None = None) -> None:
        """Record a finding of ``check``."""
        self.results.setdefault(check, []).append(Finding(level, message, path, line))

    def passed(self, check: str) -> None:
        """Mark ``check`` as run (with no finding unless added)."""
        self.results.setdefault(check, [])

    @property
    def errors(self) -> list[Finding]:
        """Every error."""
        return [f for found in self.results.values() for f in found if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Every warning."""
        return [f for found in self.results.values() for f in found if f.level == WARNING]

    def has_errors(self, *checks: str) -> bool:
        """Whether any of ``checks`` (default: all) found an error."""
        wanted = checks or tuple(self.results)
        return any(f.level == ERROR for c in wanted for f in self.results.get(c, []))

    def lines(self) -> Iterator[tuple[str, str | None]]:
        """Output lines with a colour hint (None, green, red, yellow)."""
        yield f"{self.name} ({self.origin})", None
        for key, title in CHECKS:
            if key in self.skipped:
                yield f"  skipped  {title}: {self.skipped[key]}", "yellow"
                continue
            if key not in self.results:
                continue
            found = self.results[key]
            note = f" ({self.notes[key]})" if key in self.notes else ""
            if any(f.level == ERROR for f in found):
                yield f"  FAILED   {title}{note}", "red"
            else:
                yield f"  ok       {title}{note}", "green"
            for finding in found:
                yield f"    {finding.render()}", "red" if finding.level == ERROR else "yellow"


@dataclass
class Target:
    """One entry point to check, and what is known of its distribution."""

    name: str
    entry_point: EntryPoint
    distribution: str | None
    dist_version: str | None
    root: Path | None
    pyproject: dict[str, Any] | None

    @property
    def origin(self) -> str:
        """``dist version, path`` for the report's heading."""
        parts = [p for p in (self.distribution, self.dist_version) if p]
        where = f", {_display(self.root)}" if self.root else ""
        return (" ".join(parts) or self.entry_point.value) + where


# -- finding what to check -------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _editable_root(dist: Distribution) -> Path | None:
    """The source directory of a distribution installed from a directory (``pip install -e`` or a path)."""
    try:
        raw = dist.read_text("direct_url.json")
    except OSError:
        raw = None
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _read_pyproject(root: Path) -> dict[str, Any] | None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CheckError(f"{_display(path)}: not valid TOML: {exc}") from None


@contextmanager
def targets_for(argument: str) -> Iterator[list[Target]]:
    """The entry points named by ``argument`` (a directory or an installed plugin name), visible while open."""
    path = Path(argument)
    with ExitStack() as stack:
        if path.exists():
            yield _targets_in_directory(path.resolve(), stack)
        elif re.match(r"^[a-z][a-z0-9_]*$", argument):
            yield [_installed_target(argument)]
        else:
            raise CheckError(f"{argument!r} is neither a directory nor the name of an installed plugin")


def _installed_target(name: str) -> Target:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise CheckError(f"no installed plugin is named {name!r}; pass the plugin's directory to check it uninstalled")
    ep = found[0]
    dist = ep.dist
    root = _editable_root(dist) if dist is not None else None
    return Target(
        name=name,
        entry_point=ep,
        distribution=dist.metadata["Name"] if dist else None,
        dist_version=dist.version if dist else None,
        root=root,
        pyproject=_read_pyproject(root) if root else None,
    )


def _targets_in_directory(root: Path, stack: ExitStack) -> list[Target]:
    if not root.is_dir():
        raise CheckError(f"{_display(root)} is not a directory")
    pyproject = _read_pyproject(root)
    if pyproject is None:
        raise CheckError(f"{_display(root)} has no pyproject.toml: pass a plugin distribution's directory")
    project = pyproject.get("project", {})
    dist_name = project.get("name")
    declared = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    if not dist_name:
        raise CheckError(f"{_display(root / 'pyproject.toml')}: [project] has no name")
    if not declared:
        raise CheckError(
            f'{_display(root / "pyproject.toml")}: no entry point in group "{ENTRY_POINT_GROUP}" '
            f'(add [project.entry-points."{ENTRY_POINT_GROUP}"] with  name = "package:plugin")'
        )
    installed = _installed_distribution(dist_name)
    if installed is not None:
        source = _editable_root(installed)
        if source is None or source.resolve() != root:
            where = _display(source) if source else "a wheel or an index"
            raise CheckError(
                f"{dist_name} is installed from {where}, not from {_display(root)}: "
                f"uninstall it or check it by name (udyog plugin check {next(iter(declared))})"
            )
        eps = [ep for ep in installed.entry_points if ep.group == ENTRY_POINT_GROUP]
        version = installed.version
    else:
        version = str(project.get("version") or "0")
        _make_visible(root, pyproject, dist_name, version, stack)
        eps = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.dist and ep.dist.metadata["Name"] == dist_name]
    return [
        Target(
            name=ep.name,
            entry_point=ep,
            distribution=dist_name,
            dist_version=version,
            root=root,
            pyproject=pyproject,
        )
        for ep in sorted(eps, key=lambda e: e.name)
    ]


def _installed_distribution(name: str) -> Distribution | None:
    try:
        return distribution(name)
    except PackageNotFoundError:
        return None


def _make_visible(root: Path, pyproject: dict[str, Any], dist_name: str, version: str, stack: ExitStack) -> None:
    """Put the sources and a temporary ``.dist-info`` with the entry points on ``sys.path`` (this process only)."""
    where = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {}).get("where")
    sources = [root / w for w in where] if where else [root / "src" if (root / "src").is_dir() else root]
    meta_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="udyog-check-")))
    info = meta_dir / f"{canonicalize_name(dist_name).replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    lines = []
    for group, items in pyproject.get("project", {}).get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in items.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    added = [str(p) for p in sources] + [str(meta_dir)]
    sys.path[:0] = added
    invalidate_caches()

    def restore() -> None:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        invalidate_caches()

    stack.callback(restore)


# -- helpers -------------------------------------------------------------------------------


def _location(obj: Any) -> tuple[Path | None, int | None]:
    """Source file and line of a function, class or module."""
    try:
        target = inspect.unwrap(obj) if callable(obj) else obj
        source = inspect.getsourcefile(target)
        if isinstance(target, types.ModuleType):
            return (Path(source) if source else None), 1
        lines, line = inspect.getsourcelines(target)
    except (TypeError, OSError):
        return None, None
    # The ``def`` or ``class`` line rather than its first decorator.
    for offset, text in enumerate(lines):
        if re.match(r"\s*(async\s+def|def|class)\s", text):
            line += offset
            break
    return (Path(source) if source else None), line


def _exception_location(exc: BaseException, roots: list[Path]) -> tuple[Path | None, int | None]:
    """Where ``exc`` arose: the innermost frame in the plugin's sources, else the innermost frame."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if any(path.is_relative_to(r) for r in roots):
            return Path(frame.filename), frame.lineno
    if frames:
        return Path(frames[-1].filename), frames[-1].lineno
    return None, None


def _package_roots(package: str) -> list[Path]:
    top = package.split(".", 1)[0]
    try:
        spec = find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p).resolve() for p in spec.submodule_search_locations]
    return [Path(spec.origin).resolve().parent] if spec.origin else []


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _line_in(path: Path, pattern: str) -> int | None:
    """The first line of ``path`` matching ``pattern`` (a regular expression)."""
    try:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(pattern, text):
                return number
    except OSError:
        return None
    return None


# -- the checker ------------------------------------------------------------------------------


class PluginChecker:
    """Runs every check for one target."""

    def __init__(self, target: Target, *, postgresql: str | None = None) -> None:
        self.target = target
        self.name = target.name
        self.postgresql = postgresql
        self.report = PluginReport(target.name, target.origin)
        self.manifest: Plugin | None = None
        self.closure: list[str] = []
        self.roots: list[Path] = []
        self.hooks_module: types.ModuleType | None = None
        #: False when the kernel could not load the plugin at all (name, SDK range, requirements).
        self.loadable = True
        self.installed_plugins = frozenset(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        #: Where the manifest is assigned (file and line), for findings about the plugin as a whole.
        self.manifest_location: tuple[Path | None, int | None] = (None, None)
        #: The plugin's migrations directory, the location of findings made on a database.
        self.migrations: Path | None = None

    # 1. manifest ------------------------------------------------------------------------

    def check_manifest(self) -> None:
        """The entry point loads a ``Plugin`` of the same name, for this SDK, with its requirements present."""
        check = "manifest"
        self.report.passed(check)
        ep = self.target.entry_point
        pyproject_path = self.target.root / "pyproject.toml" if self.target.root else None
        ep_line = _line_in(pyproject_path, rf"^\s*{re.escape(ep.name)}\s*=") if pyproject_path else None
        self.roots = _package_roots(ep.module)
        if self.name == CORE_NAME:
            self.loadable = False
            self.report.add(check, ERROR, f"the plugin name {CORE_NAME!r} is reserved for the kernel", pyproject_path)
        try:
            manifest = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding
            path, line = _exception_location(exc, self.roots)
            self.report.add(check, ERROR, f"importing {ep.value} failed: {_describe(exc)}", path, line)
            return
        if not isinstance(manifest, Plugin):
            self.report.add(
                check,
                ERROR,
                f"entry point {ep.name} = {ep.value!r} is a {type(manifest).__name__}, not a udyog_sdk.Plugin",
                pyproject_path,
                ep_line,
            )
            return
        self.manifest = manifest
        self.roots = sorted(set(self.roots) | set(_package_roots(manifest.package)))
        module = sys.modules.get(ep.module)
        manifest_path, _ = _location(module) if module is not None else (None, None)
        attr = ep.attr or ""
        manifest_line = _line_in(manifest_path, rf"^{re.escape(attr)}\s*=") if manifest_path and attr else None
        self.manifest_location = (manifest_path, manifest_line)
        if manifest.name != ep.name:
            self.loadable = False
            self.report.add(
                check,
                ERROR,
                f"the manifest's name {manifest.name!r} differs from the entry point's name {ep.name!r}",
                manifest_path,
                manifest_line,
            )
        if Version(SDK_VERSION) not in SpecifierSet(manifest.sdk):
            self.loadable = False
            self.report.add(
                check,
                ERROR,
                f"the manifest targets udyog-sdk {manifest.sdk}, which excludes the running SDK {SDK_VERSION}",
                manifest_path,
                manifest_line,
            )
        version = self.target.dist_version
        if version and version != "0":
            try:
                if Version(version) != Version(manifest.version):
                    self.report.add(
                        check,
                        WARNING,
                        f"the manifest's version {manifest.version} differs from the distribution's {version}",
                        manifest_path,
                        manifest_line,
                    )
            except InvalidVersion:
                self.report.add(check, ERROR, f"the distribution's version {version!r} is not PEP 440", pyproject_path)
        providers = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == self.name]
        dists = sorted({(e.dist.metadata["Name"] if e.dist else e.value) for e in providers})
        if len(dists) > 1:
            self.loadable = False
            self.report.add(
                check,
                ERROR,
                f"the plugin name {self.name!r} is provided by several distributions: {', '.join(dists)}",
                pyproject_path,
                ep_line,
            )
        self._check_requirements(manifest, manifest_path, manifest_line)
        self._check_packaging(manifest, pyproject_path)

    def _check_requirements(self, manifest: Plugin, path: Path | None, line: int | None) -> None:
        installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        closure: list[str] = []
        errors_before = len(self.report.errors)
        pending = [(manifest.name, r) for r in manifest.requirements]
        seen = {manifest.name}
        while pending:
            owner, requirement = pending.pop(0)
            if requirement.name in seen:
                continue
            seen.add(requirement.name)
            ep = installed.get(requirement.name)
            what = f"requires {requirement}" if owner == manifest.name else f"{owner} requires {requirement}"
            if ep is None:
                self.report.add(
                    "manifest", ERROR, f"{what}, but no plugin {requirement.name!r} is installed here", path, line
                )
                continue
            try:
                dependency = ep.load()
            except Exception as exc:  # noqa: BLE001
                self.report.add("manifest", ERROR, f"{what}, which fails to load: {_describe(exc)}", path, line)
                continue
            if not isinstance(dependency, Plugin):
                self.report.add("manifest", ERROR, f"{what}, whose entry point is not a Plugin", path, line)
                continue
            if requirement.specifier and Version(dependency.version) not in requirement.specifier:
                self.report.add(
                    "manifest",
                    ERROR,
                    f"{what}, but {requirement.name} {dependency.version} is installed",
                    path,
                    line,
                )
                continue
            closure.append(requirement.name)
            pending += [(requirement.name, r) for r in dependency.requirements]
        self.closure = closure
        if len(self.report.errors) > errors_before:
            self.loadable = False

    def _check_packaging(self, manifest: Plugin, pyproject_path: Path | None) -> None:
        pyproject = self.target.pyproject
        if pyproject is None or pyproject_path is None:
            return
        project = pyproject.get("project", {})
        deps = [
            canonicalize_name(re.split(r"[\s<>=!~;\[(]", d, maxsplit=1)[0]) for d in project.get("dependencies", [])
        ]
        if "udyog-sdk" not in deps:
            self.report.add(
                "manifest",
                WARNING,
                'udyog-sdk is not among [project] dependencies (add "udyog-sdk' + _sdk_range() + '")',
                pyproject_path,
                _line_in(pyproject_path, r"^\s*dependencies\s*="),
            )
        backend = pyproject.get("build-system", {}).get("build-backend", "")
        if not backend.startswith("setuptools") or (self.target.root / "MANIFEST.in").is_file():  # type: ignore[operator]
            return
        top = manifest.package.split(".")[0]
        package_data = pyproject.get("tool", {}).get("setuptools", {}).get("package-data", {})
        patterns = [p for key in (top, "*", "") for p in package_data.get(key, [])]
        migrations = manifest.migrations_dir()
        if migrations is not None and not manifest.migrations and not any("migrations" in p for p in patterns):
            self.report.add(
                "manifest",
                ERROR,
                "the migrations are not shipped in the wheel (migrations/ is no package): add "
                f'{top} = ["migrations/*.py"] to [tool.setuptools.package-data]',
                pyproject_path,
            )
        self._check_data_files(top, patterns, pyproject_path)

    def _check_data_files(self, top: str, patterns: list[str], pyproject_path: Path) -> None:
        """Files of the package that are not Python (templates, static files) must be package data too.

        Installed from a wheel, a template left out answers 500 where the
        editable checkout worked.
        """
        roots = [r for r in _package_roots(top) if self.target.root is None or r.is_relative_to(self.target.root)]
        for root in roots:
            shipped = {path for pattern in patterns for path in root.glob(pattern)}
            left_out = sorted(
                path.relative_to(root).as_posix()
                for path in root.rglob("*")
                if path.is_file()
                and path.suffix not in (".py", ".pyc", ".pyi")
                and path.name != "py.typed"
                and "__pycache__" not in path.parts
                and path not in shipped
            )
            if left_out:
                shown = ", ".join(left_out[:5]) + (f" and {len(left_out) - 5} more" if len(left_out) > 5 else "")
                folders = sorted({f.split("/", 1)[0] for f in left_out if "/" in f})
                hint = ", ".join(f'"{d}/**/*"' for d in folders) or '"*.ext"'
                self.report.add(
                    "manifest",
                    ERROR,
                    f"files of {top} are not shipped in the wheel: {shown} "
                    f"(add {hint} to {top} in [tool.setuptools.package-data])",
                    pyproject_path,
                    _line_in(pyproject_path, r"^\s*\[tool\.setuptools\.package-data\]"),
                )

    # 2. hooks ---------------------------------------------------------------------------

    def check_hooks(self) -> None:
        """Every hook implementation matches a specification (pluggy's validation); own specs are prefixed."""
        check = "hooks"
        manifest = self.manifest
        assert manifest is not None
        self.report.passed(check)
        pm = new_plugin_manager()
        publishers = self._publishers(manifest)
        for name, module in publishers.items():
            try:
                pm.add_hookspecs(module)
            except ValueError as exc:
                self.report.add(check, ERROR, f"hook specifications of {name} clash: {exc}", *_location(module))
        own_specs = self._import_module(check, manifest, "hookspecs")
        if own_specs is not None:
            self._check_own_specs(own_specs, pm)
        hooks = self._import_module(check, manifest, "hooks")
        self.hooks_module = hooks
        if hooks is None:
            self.report.notes[check] = "no hooks module"
            return
        count = 0
        known = sorted(pm.hook.__dict__)
        for attr in sorted(dir(hooks)):
            options = pm.parse_hookimpl_opts(hooks, attr)
            if options is None:
                continue
            count += 1
            function = getattr(hooks, attr)
            path, line = _location(function)
            caller = getattr(pm.hook, attr, None)
            if caller is None or caller.spec is None:
                self._unknown_hook(attr, options, known, path, line)
                continue
            namespace = types.SimpleNamespace(**{attr: function})
            try:
                pm.register(namespace, name=f"{self.name}:{attr}")
            except pluggy.PluginValidationError as exc:
                self.report.add(check, ERROR, _validation_message(exc), path, line)
            else:
                pm.unregister(namespace)
        self.report.notes[check] = f"{count} checked"

    def _publishers(self, manifest: Plugin) -> dict[str, types.ModuleType]:
        """Hook specification modules of the plugins this one requires or cooperates with (when installed)."""
        return self._other_plugins_modules([*self.closure, *manifest.optional], "hookspecs", "hooks")

    def _other_plugins_modules(self, names: list[str], kind: str, check: str) -> dict[str, types.ModuleType]:
        """Import module ``kind`` (hookspecs, models) of the installed plugins ``names`` other than this one.

        A plugin that cannot be read is a warning of ``check``.
        """
        found: dict[str, types.ModuleType] = {}
        installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        for name in names:
            ep = installed.get(name)
            if name == self.name or ep is None:
                continue
            try:
                other = ep.load()
                module_name = other.module_name(kind) if isinstance(other, Plugin) else None
                if module_name:
                    found[name] = import_module(module_name)
            except Exception as exc:  # noqa: BLE001
                self.report.add(check, WARNING, f"{kind} of {name} could not be imported: {_describe(exc)}")
        return found

    def _import_module(self, check: str, manifest: Plugin, kind: str) -> types.ModuleType | None:
        module_name = manifest.module_name(kind)
        if module_name is None:
            return None
        try:
            return import_module(module_name)
        except Exception as exc:  # noqa: BLE001
            path, line = _exception_location(exc, self.roots)
            self.report.add(check, ERROR, f"importing {module_name} failed: {_describe(exc)}", path, line)
            return None

    def _check_own_specs(self, module: types.ModuleType, pm: pluggy.PluginManager) -> None:
        prefix = f"{self.name}_"
        for attr in sorted(dir(module)):
            if pm.parse_hookspec_opts(module, attr) is None:
                continue
            function = getattr(module, attr)
            path, line = _location(function)
            if not attr.startswith(prefix):
                self.report.add(
                    "hooks",
                    ERROR,
                    f"hook specification {attr!r} must start with the plugin's name ({prefix}…)",
                    path,
                    line,
                )
            if not (function.__doc__ or "").strip():
                self.report.add(
                    "hooks",
                    ERROR,
                    f"hook specification {attr!r} has no docstring (the hook reference is generated from it: "
                    "say what it receives, returns, its calling mode and since which version)",
                    path,
                    line,
                )
        try:
            pm.add_hookspecs(module)
        except ValueError as exc:
            self.report.add("hooks", ERROR, f"the plugin's hook specifications clash: {exc}", *_location(module))

    def _unknown_hook(self, attr: str, options: Any, known: list[str], path: Path | None, line: int | None) -> None:
        manifest = self.manifest
        assert manifest is not None
        prefix = attr.split("_", 1)[0]
        installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
        if options.get("optionalhook"):
            if prefix in installed and prefix not in manifest.optional and prefix not in manifest.required_names:
                self.report.add(
                    "hooks",
                    WARNING,
                    f"optional hook {attr!r} of plugin {prefix!r}: list {prefix!r} in the manifest's optional",
                    path,
                    line,
                )
            return
        hint = ""
        if prefix != "udyog" and prefix in installed and prefix not in manifest.required_names:
            hint = (
                f" — it is published by plugin {prefix!r}, which this plugin does not require: add it to requires, "
                f"or mark the implementation @hookimpl(optionalhook=True) and list {prefix!r} in optional"
            )
        else:
            close = difflib.get_close_matches(attr, known, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
        self.report.add("hooks", ERROR, f"hook implementation {attr!r} matches no hook specification{hint}", path, line)

    # 3. declarations -------------------------------------------------------------------------

    def check_declarations(self) -> None:
        """Permissions and record rules lie in the plugin's prefix; role templates are well formed."""
        check = "declarations"
        self.report.passed(check)
        hooks = self.hooks_module
        if hooks is None:
            return
        self._import_required_models()
        prefix = f"{self.name}."
        declared: set[str] = set()
        for hook, kind in (("udyog_permissions", Permission), ("udyog_record_rules", RecordRule)):
            values = self._call_declaration(hooks, hook)
            if values is None:
                continue
            path, line = _location(getattr(hooks, hook))
            for value in values:
                if not isinstance(value, kind):
                    self.report.add(
                        check, ERROR, f"{hook} returned a {type(value).__name__}, not a {kind.__name__}", path, line
                    )
                    continue
                key = value.name if isinstance(value, Permission) else value.key
                if not key.startswith(prefix):
                    self.report.add(
                        check, ERROR, f"{hook}: {key!r} lies outside the plugin's prefix {prefix}", path, line
                    )
                if key in declared:
                    self.report.add(check, ERROR, f"{hook}: {key!r} is declared twice", path, line)
                declared.add(key)
        roles = self._call_declaration(hooks, "udyog_roles")
        if roles is not None:
            path, line = _location(hooks.udyog_roles)
            for role in roles:
                if not isinstance(role, RoleTemplate):
                    self.report.add(
                        check, ERROR, f"udyog_roles returned a {type(role).__name__}, not a RoleTemplate", path, line
                    )
                elif not role.name.strip() or len(role.name) > 80:
                    self.report.add(
                        check, ERROR, f"role template name {role.name!r} must have 1-80 characters", path, line
                    )

    def _import_required_models(self) -> None:
        """Import the models of the plugins this one requires, as the kernel does before it loads this one.

        A declaration may build on them: a resource whose table references
        another plugin's table needs that table in the metadata.
        """
        self._other_plugins_modules(self.closure, "models", "declarations")

    def _call_declaration(self, hooks: types.ModuleType, hook: str) -> list[Any] | None:
        function = getattr(hooks, hook, None)
        if function is None:
            return None
        try:
            return list(function())
        except Exception as exc:  # noqa: BLE001
            path, line = _exception_location(exc, self.roots)
            self.report.add("declarations", ERROR, f"{hook} raised {_describe(exc)}", path, line)
            return None

    # 4. loading ----------------------------------------------------------------------------

    def check_load(self, kernel: Any) -> Any | None:
        """The kernel loads the plugin and the app registers its routes; routes declare declared permissions."""
        from udyog.app import access_of, create_app

        check = "load"
        self.report.passed(check)
        record = kernel.registry.get(self.name)
        if record is None or record.state is not PluginState.LOADED:
            self._load_failure(record)
            return None
        try:
            app = create_app(kernel=kernel, dispatch_pending=False)
        except Exception as exc:  # noqa: BLE001
            path, line = _exception_location(exc, self.roots)
            self.report.add(check, ERROR, f"building the app failed: {_describe(exc)}", path, line)
            return None
        if record.state is not PluginState.LOADED:
            self._load_failure(record)
            return None
        owners: dict[str, str] = app.extensions.get("udyog.blueprint_owners", {})
        routes = 0
        for rule in app.url_map.iter_rules():
            blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
            if blueprint is None or owners.get(blueprint) != self.name:
                continue
            routes += 1
            view = app.view_functions.get(rule.endpoint)
            path, line = _location(view)
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            kind, permission = access_of(app, rule.endpoint)
            if kind == "undeclared":
                self.report.add(
                    check,
                    ERROR,
                    f"route {methods} {rule.rule} declares no access (@requires, @authenticated or @public): "
                    "it answers 403 to everyone",
                    path,
                    line,
                )
            elif kind == "permission" and permission not in kernel.security.permissions:
                self.report.add(
                    check,
                    ERROR,
                    f"route {methods} {rule.rule} requires {permission!r}, which no plugin declares",
                    path,
                    line,
                )
            if rule.rule.startswith("/api/") and not rule.rule.startswith(f"/api/v1/{self.name}/"):
                self.report.add(check, WARNING, f"API route {rule.rule} lies outside /api/v1/{self.name}/", path, line)
        self.report.notes[check] = f"{routes} route{'s' if routes != 1 else ''}"
        return app

    def _load_failure(self, record: Any) -> None:
        path, line = self.manifest_location
        message = record.error if record is not None else "the kernel did not discover it"
        failed_hook = re.match(r"^(udyog_\w+) failed", message)
        function = getattr(self.hooks_module, failed_hook.group(1), None) if failed_hook else None
        if function is not None:  # a registration-time hook raised: point at it
            path, line = _location(function)
        self.report.add("load", ERROR, f"the kernel did not load the plugin: {message}", path, line)

    # 5. tables ----------------------------------------------------------------------------

    def owned_tables(self, kernel: Any) -> dict[str, type]:
        """Tables defined by the plugin's models: name → mapped class."""
        from udyog.migrate import table_owner
        from udyog_sdk.models import Base

        found: dict[str, type] = {}
        for mapper in Base.registry.mappers:
            table = mapper.local_table
            if table is not None and table_owner(table.name, kernel) == self.name:
                found[table.name] = mapper.class_
        return found

    def check_tables(self, kernel: Any) -> None:
        """Names start with ``<plugin>_``; tenant-scoped keys, indexes and references lead with tenant_id."""
        from sqlalchemy import ForeignKeyConstraint, UniqueConstraint

        from udyog_sdk.models import is_tenant_model

        check = "tables"
        self.report.passed(check)
        tables = self.owned_tables(kernel)
        self.report.notes[check] = f"{len(tables)} table{'s' if len(tables) != 1 else ''}"
        for name, cls in sorted(tables.items()):
            path, line = _location(cls)
            table = cls.__table__  # type: ignore[attr-defined]
            if not name.startswith(f"{self.name}_"):
                self.report.add(check, ERROR, f"table {name!r} must be named {self.name}_<thing>", path, line)
            if not is_tenant_model(cls):
                self.report.add(
                    check,
                    WARNING,
                    f"table {name!r} is not tenant-scoped (no TenantMixin): every tenant shares its rows",
                    path,
                    line,
                )
                continue
            pk = [c.name for c in table.primary_key.columns]
            if pk[:1] != ["tenant_id"]:
                self.report.add(
                    check, ERROR, f"table {name!r}: the primary key {pk} must lead with tenant_id", path, line
                )
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                columns = [c.name for c in index.columns]
                if columns[:1] != ["tenant_id"]:
                    self.report.add(
                        check,
                        ERROR,
                        f"table {name!r}: index {index.name} on {columns} must lead with tenant_id",
                        path,
                        line,
                    )
            for constraint in table.constraints:
                columns = [c.name for c in constraint.columns]
                if isinstance(constraint, UniqueConstraint) and columns[:1] != ["tenant_id"]:
                    self.report.add(
                        check,
                        ERROR,
                        f"table {name!r}: unique constraint on {columns} must lead with tenant_id "
                        "(unique within a tenant)",
                        path,
                        line,
                    )
                if isinstance(constraint, ForeignKeyConstraint):
                    referred = constraint.referred_table
                    if (
                        "tenant_id" in referred.columns
                        and columns[:1] != ["tenant_id"]
                        and referred.name != "core_tenant"
                    ):
                        self.report.add(
                            check,
                            ERROR,
                            f"table {name!r}: the reference {columns} → {referred.name} must be composite, leading "
                            f"with tenant_id (tenant_fk({columns[0]!r}, {referred.name!r}))",
                            path,
                            line,
                        )

    # 6 and 7. migrations and uninstall ---------------------------------------------------------

    def check_migration_files(self, kernel: Any) -> Path | None:
        """Static checks of the plugin's revisions: its own branch, its requirements, its own tables."""
        from udyog.migrate import MigrationError, script_directory

        check = "migrations"
        self.report.passed(check)
        manifest = self.manifest
        assert manifest is not None
        directory = manifest.migrations_dir()
        if directory is None or not any(p.name != "__init__.py" for p in directory.glob("*.py")):
            if self.owned_tables(kernel):
                self.report.add(
                    check,
                    ERROR,
                    "the plugin defines tables but has no migrations: create migrations/ and run "
                    f"'udyog db revision --plugin {self.name} -m ...'",
                )
            self.report.notes[check] = "no migrations"
            return None
        for file in sorted(directory.glob("*.py")):
            self._scan_revision_file(file)
        try:
            script = script_directory(kernel)
        except Exception as exc:  # noqa: BLE001
            self.report.add(check, ERROR, f"alembic cannot read the revisions: {_describe(exc)}", directory)
            return None
        mine = [r for r in script.walk_revisions() if Path(r.path).resolve().parent == directory.resolve()]
        ids = {r.revision for r in mine}
        heads = [r for r in mine if not (set(r.nextrev) & ids)]
        if len(heads) != 1:
            listed = ", ".join(sorted(r.revision for r in heads))
            self.report.add(
                check, ERROR, f"the branch has {len(heads)} heads ({listed}); it must have exactly one", directory
            )
        bases = [r for r in mine if not r.down_revision]
        for base in bases:
            path = Path(base.path)
            if self.name not in (base.branch_labels or ()):
                self.report.add(
                    check,
                    ERROR,
                    f"the first revision {base.revision} must carry the branch label {self.name!r}",
                    path,
                    _line_in(path, r"^branch_labels"),
                )
            raw = base.dependencies
            depends = (raw,) if isinstance(raw, str) else tuple(raw or ())
            ancestors: set[str] = set()
            for rev in depends:
                ancestors |= {r.revision for r in script.iterate_revisions(rev, "base")}
            for required in self.closure:
                theirs = {r.revision for r in script.walk_revisions() if required in (r.branch_labels or ())}
                if theirs and not (ancestors & theirs):
                    self.report.add(
                        check,
                        ERROR,
                        f"the first revision {base.revision} must depend on plugin {required!r}'s branch "
                        "(its head when written) in depends_on",
                        path,
                        _line_in(path, r"^depends_on"),
                    )
        try:
            from udyog.migrate import branch_heads

            branch_heads(kernel)
        except MigrationError as exc:
            self.report.add(check, ERROR, str(exc), directory)
        self.report.notes[check] = f"{len(mine)} revision{'s' if len(mine) != 1 else ''}"
        self.migrations = directory
        return directory

    def _scan_revision_file(self, file: Path) -> None:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except SyntaxError as exc:
            self.report.add("migrations", ERROR, f"not valid Python: {exc.msg}", file, exc.lineno)
            return
        prefix = f"{self.name}_"
        for node in ast.walk(tree):
            # ``op.<operation>(...)``; a batch's own calls (``batch_op.drop_column``) act on the batch's table.
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "op"
            ):
                continue
            operation = node.func.attr
            table = None
            if operation in _TABLE_FIRST and node.args:
                table = node.args[0]
            elif operation in _TABLE_SECOND and len(node.args) > 1:
                table = node.args[1]
            for keyword in node.keywords:
                if keyword.arg in _TABLE_KEYWORDS:
                    table = keyword.value
            if isinstance(table, ast.Constant) and isinstance(table.value, str) and not table.value.startswith(prefix):
                if table.value.startswith("core_"):
                    whose = "a table of the core"
                elif table.value.split("_", 1)[0] in self.installed_plugins:
                    whose = f"a table of plugin {table.value.split('_', 1)[0]!r}"
                else:
                    whose = f"not named {prefix}…"
                self.report.add(
                    "migrations",
                    ERROR,
                    f"op.{operation} touches {table.value!r} ({whose}): a plugin migrates only its own tables, "
                    f"named {prefix}…; it adds fields to others' records through a side table of its own",
                    file,
                    node.lineno,
                )

    def check_database(self, url: str, label: str) -> None:
        """Upgrade on a scratch database: own tables only, models agree; then downgrade leaves no trace."""
        from udyog.migrate import applied_revisions, downgrade_branch, script_directory, upgrade
        from udyog.testing import build_kernel

        dependencies = build_kernel(url, self.closure, strict=False, migrate=False)
        try:
            upgrade(dependencies, report=lambda line: None)
            before = schema_snapshot(dependencies.db.owner_engine)
        except Exception as exc:  # noqa: BLE001
            self.report.add("migrations", ERROR, f"{label}: upgrading the required plugins failed: {_describe(exc)}")
            return
        finally:
            dependencies.close()
        kernel = build_kernel(url, [*self.closure, self.name], strict=False, migrate=False)
        try:
            try:
                upgrade(kernel, report=lambda line: None)
            except Exception as exc:  # noqa: BLE001
                path, line = _exception_location(exc, self.roots)
                self.report.add("migrations", ERROR, f"{label}: upgrade failed: {_describe(exc)}", path, line)
                return
            after = schema_snapshot(kernel.db.owner_engine)
            self._compare_foreign(before, after, label)
            self._compare_models(kernel, label)
            mine = {
                r.revision for r in script_directory(kernel).walk_revisions() if self.name in (r.branch_labels or ())
            }
            self.report.passed("uninstall")
            try:
                downgrade_branch(kernel, self.name, report=lambda line: None)
            except Exception as exc:  # noqa: BLE001
                path, line = _exception_location(exc, self.roots)
                self.report.add("uninstall", ERROR, f"{label}: downgrade to base failed: {_describe(exc)}", path, line)
                return
            left = schema_snapshot(kernel.db.owner_engine)
            for problem in _differences(before, left, ignore=("alembic_version",), added="left"):
                self.report.add("uninstall", ERROR, f"{label}: after downgrading to base, {problem}", self.migrations)
            remaining = applied_revisions(kernel) & mine
            if remaining:
                self.report.add(
                    "uninstall",
                    ERROR,
                    f"{label}: alembic_version still records {', '.join(sorted(remaining))} after the downgrade",
                    self.migrations,
                )
        finally:
            kernel.close()

    def _compare_foreign(self, before: dict[str, Any], after: dict[str, Any], label: str) -> None:
        prefix = f"{self.name}_"
        for table in sorted(set(after) - set(before)):
            if not table.startswith(prefix) and table != "alembic_version":
                self.report.add(
                    "migrations",
                    ERROR,
                    f"{label}: the upgrade creates table {table!r}, not named {prefix}…",
                    self.migrations,
                )
        shared = {t: before[t] for t in before if t != "alembic_version"}
        for problem in _differences(shared, {t: after[t] for t in shared if t in after}, ignore=()):
            self.report.add(
                "migrations", ERROR, f"{label}: the upgrade changed another's table: {problem}", self.migrations
            )

    def _compare_models(self, kernel: Any, label: str) -> None:
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        from udyog.migrate import compare_type
        from udyog_sdk.models import Base

        owned = set(self.owned_tables(kernel))
        prefix = f"{self.name}_"

        def mine(name: str | None) -> bool:
            return bool(name) and (name in owned or str(name).startswith(prefix))

        def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
            if type_ == "table":
                return name != "alembic_version" and mine(name)
            table = getattr(obj, "table", None)
            return table is None or mine(table.name)

        with kernel.db.owner_engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": compare_type, "include_object": include_object}
            )
            diffs = compare_metadata(context, Base.metadata)
        for diff in diffs:
            self.report.add(
                "migrations",
                ERROR,
                f"{label}: models and migrations differ: {_render_diff(diff)} "
                f"(write a revision: udyog db revision --plugin {self.name} -m ...)",
                self.migrations,
            )

    # running -------------------------------------------------------------------------------------

    def run(self) -> PluginReport:
        """Every check, skipping those that need what an earlier check found broken."""
        import udyog.models  # noqa: F401 - the core's tables, which plugins' tables reference

        self.check_manifest()
        if self.manifest is None or not self.loadable:
            for key in ("hooks", "declarations", "load", "tables", "migrations", "uninstall"):
                self.report.skipped[key] = "the manifest must load first"
            return self.report
        self.check_hooks()
        self.check_declarations()
        if self.report.has_errors("hooks", "declarations"):
            for key in ("load", "tables", "migrations", "uninstall"):
                self.report.skipped[key] = "fix the hooks and declarations first"
            return self.report
        with tempfile.TemporaryDirectory(prefix="udyog-check-db-") as scratch:
            self._run_with_kernel(Path(scratch))
        return self.report

    def _run_with_kernel(self, scratch: Path) -> None:
        from udyog.testing import build_kernel, postgres_database, sqlite_url

        kernel = build_kernel(
            sqlite_url(scratch, "load.sqlite"), [*self.closure, self.name], strict=False, migrate=False
        )
        try:
            app = self.check_load(kernel)
            if app is None:
                for key in ("tables", "migrations", "uninstall"):
                    self.report.skipped[key] = "the plugin must load first"
                return
            self.check_tables(kernel)
            directory = self.check_migration_files(kernel)
        finally:
            kernel.close()
        if directory is None:
            if not self.report.has_errors("migrations"):
                self.report.skipped["uninstall"] = "no migrations: nothing to uninstall"
            return
        self.check_database(sqlite_url(scratch, "scratch.sqlite"), "SQLite")
        if self.postgresql:
            with postgres_database(self.postgresql, prefix="udyog_check") as url:
                self.check_database(url, "PostgreSQL")


def _sdk_range() -> str:
    sdk = Version(SDK_VERSION)
    return f">={sdk.major}.{sdk.minor},<{sdk.major + 1}"


def _validation_message(exc: pluggy.PluginValidationError) -> str:
    text = str(exc)
    # pluggy names the temporary namespace plugin; the location says which function it is.
    return re.sub(r"^Plugin '[^']*' for hook '([^']*)'\s*", r"hook implementation '\1': ", text).replace("\n", " ")


def schema_snapshot(engine: Any) -> dict[str, dict[str, Any]]:
    """Tables with their columns, indexes, unique constraints and foreign keys, as plain comparable data."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    snapshot: dict[str, dict[str, Any]] = {}
    for table in inspector.get_table_names():
        snapshot[table] = {
            "columns": {c["name"]: (str(c["type"]), bool(c["nullable"])) for c in inspector.get_columns(table)},
            "indexes": {
                str(i["name"]): (tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            },
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), str(f["referred_table"])) for f in inspector.get_foreign_keys(table)
            ),
        }
    return snapshot


def _differences(
    expected: dict[str, Any], actual: dict[str, Any], *, ignore: tuple[str, ...], added: str = "added"
) -> list[str]:
    """What differs between two :func:`schema_snapshot` results, in words (``added``: the verb for extras)."""
    problems: list[str] = []
    for table in sorted(set(actual) - set(expected) - set(ignore)):
        problems.append(f"table {table!r} is {added}")
    for table in sorted(set(expected) - set(actual) - set(ignore)):
        problems.append(f"table {table!r} is gone")
    for table in sorted((set(expected) & set(actual)) - set(ignore)):
        was, now = expected[table], actual[table]
        for column in sorted(set(now["columns"]) - set(was["columns"])):
            problems.append(f"column {table}.{column} is {added}")
        for column in sorted(set(was["columns"]) - set(now["columns"])):
            problems.append(f"column {table}.{column} is dropped")
        for column in sorted(set(was["columns"]) & set(now["columns"])):
            if was["columns"][column] != now["columns"][column]:
                problems.append(f"column {table}.{column} is altered")
        for index in sorted(set(now["indexes"]) - set(was["indexes"])):
            problems.append(f"index {index} on {table!r} is {added}")
        for index in sorted(set(was["indexes"]) - set(now["indexes"])):
            problems.append(f"index {index} on {table!r} is dropped")
        if was["unique"] != now["unique"]:
            problems.append(f"the unique constraints of {table!r} changed")
        if was["foreign_keys"] != now["foreign_keys"]:
            problems.append(f"the foreign keys of {table!r} changed")
    return problems


def _render_diff(diff: Any) -> str:
    """One alembic autogenerate difference, in words."""
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(_render_diff(d) for d in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        return f"table {table.name} {'has no migration' if kind == 'add_table' else 'is not in the models'}"
    if kind in ("add_column", "remove_column"):
        _, _, table, column = diff
        where = "in the models but not created by the migrations" if kind == "add_column" else "not in the models"
        return f"column {table}.{column.name} is {where}"
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        where = "in the models but not created by the migrations" if kind == "add_index" else "not in the models"
        return f"index {index.name} on {index.table.name} is {where}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        what = "foreign key" if kind.endswith("_fk") else "constraint"
        where = (
            "in the models but not created by the migrations"
            if kind.startswith("add_")
            else "created by the migrations but not in the models"
        )
        return f"{what} {constraint.name} on {constraint.table.name} is {where}"
    if kind.startswith("modify_"):
        _, _, table, column, _, existing, wanted = diff
        what = kind.removeprefix("modify_")
        return f"column {table}.{column}: {what} is {existing!r} in the database, {wanted!r} in the models"
    return repr(diff)


def check(argument: str, *, postgresql: str | None = None) -> list[PluginReport]:
    """Check the plugin(s) at ``argument`` (a directory or an installed plugin's name)."""
    # The kernel logs each load failure; here they are findings, reported once.
    registry_log = logging.getLogger("udyog.plugins")
    level = registry_log.level
    registry_log.setLevel(logging.CRITICAL)
    try:
        with targets_for(argument) as targets:
            return [PluginChecker(target, postgresql=postgresql).run() for target in targets]
    finally:
        registry_log.setLevel(level)
