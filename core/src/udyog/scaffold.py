"""``udyog plugin new``: scaffold a plugin distribution of the standard shape.

The files come from the templates in ``udyog/plugin_template`` (``$name``
placeholders, :class:`string.Template`). The result is a complete, working
plugin: a tenant-scoped model with its migration on the plugin's own alembic
branch, a marshmallow schema, a declared resource (API, pages, menu entry),
permissions and default roles, a service, hook implementations, tests that
use the fixtures of Udyog's pytest plugin, and a README.
"""

from __future__ import annotations

import keyword
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from string import Template

from packaging.version import Version

from udyog.registry import CORE_NAME, PluginRegistry
from udyog_sdk import SDK_VERSION, Plugin
from udyog_sdk.manifest import ManifestError

TEMPLATES = Path(__file__).parent / "plugin_template"
#: Names a plugin may not take although the manifest's pattern admits them.
RESERVED = frozenset({CORE_NAME, "sdk", "api", "test", "tests"})


class ScaffoldError(ValueError):
    """The plugin cannot be scaffolded (bad name, taken name, existing directory)."""


@dataclass(frozen=True)
class Scaffold:
    """What was written: the directory and its files (relative paths)."""

    directory: Path
    files: tuple[str, ...]
    name: str
    distribution: str
    package: str


def check_name(name: str) -> None:
    """Refuse a plugin name the manifest would refuse, a reserved one, or one already taken here."""
    try:
        Plugin(name=name, version="0.1.0", title=name, package=f"udyog_{name}")
    except ManifestError as exc:
        raise ScaffoldError(str(exc)) from None
    if name in RESERVED or keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r} is reserved")
    for ep in PluginRegistry.discover():
        if ep.name == name:
            dist = ep.dist.metadata["Name"] if ep.dist else ep.value
            raise ScaffoldError(f"a plugin named {name!r} is already installed ({dist}): choose another name")
    try:
        taken = find_spec(f"udyog_{name}") is not None
    except (ImportError, ValueError):
        taken = True
    if taken:
        raise ScaffoldError(f"a package udyog_{name} is already importable here: choose another name")


def core_base_revision() -> str:
    """The core branch's first revision (it creates ``core_tenant``, which every tenant table references)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from udyog.migrate import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions").replace("%", "%%"))
    bases = ScriptDirectory.from_config(cfg).get_bases()
    if len(bases) != 1:
        raise ScaffoldError(f"the core's migrations have {len(bases)} bases; expected one")
    return bases[0]


def _requirements() -> tuple[str, str, str]:
    """The SDK range the manifest targets, and the requirement strings on the SDK and the core."""
    sdk = Version(SDK_VERSION)
    sdk_range = f">={sdk.major}.{sdk.minor},<{sdk.major + 1}"
    try:
        core = Version(version("udyog"))
        core_requirement = f"udyog>={core.major}.{core.minor}"
    except PackageNotFoundError:  # running from a source tree without metadata
        core_requirement = "udyog"
    return sdk_range, f"udyog-sdk{sdk_range}", core_requirement


def scaffold(name: str, directory: Path | None = None) -> Scaffold:
    """Write a new plugin distribution for ``name`` into ``directory`` (default ``./udyog-<name>``).

    Refuses (``ScaffoldError``) a bad or taken name, and a directory that
    exists unless it is empty. Nothing is written when it refuses.
    """
    check_name(name)
    distribution = "udyog-" + name.replace("_", "-")
    package = f"udyog_{name}"
    target = Path(directory) if directory is not None else Path.cwd() / distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty directory")
    revision = uuid.uuid4().hex[:12]
    sdk_range, sdk_requirement, core_requirement = _requirements()
    values = {
        "name": name,
        "package": package,
        "dist": distribution,
        "title": name.replace("_", " ").title(),
        "revision": revision,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "core_revision": core_base_revision(),
        "sdk_range": sdk_range,
        "sdk_requirement": sdk_requirement,
        "core_requirement": core_requirement,
    }
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"src/{package}/__init__.py": "__init__.py.tmpl",
        f"src/{package}/models.py": "models.py.tmpl",
        f"src/{package}/schemas.py": "schemas.py.tmpl",
        f"src/{package}/services.py": "services.py.tmpl",
        f"src/{package}/api.py": "api.py.tmpl",
        f"src/{package}/hooks.py": "hooks.py.tmpl",
        f"src/{package}/migrations/{revision}_{name}_items.py": "migration.py.tmpl",
        f"tests/test_{name}.py": "test_plugin.py.tmpl",
    }
    rendered = {path: Template((TEMPLATES / source).read_text()).substitute(values) for path, source in layout.items()}
    for path, text in rendered.items():
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return Scaffold(target, tuple(rendered), name, distribution, package)
