"""Migrations: one alembic branch per distribution, computed from the plugins.

:func:`migration_plan` is the one function that decides which version
directories alembic sees and which branches to upgrade; the CLI and the app
both call it. Every *installed* plugin's directory is a version location (a
database that once applied a now-disabled plugin's revisions still starts);
only the core and *enabled, loaded* plugins are upgraded.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from udyog.registry import CORE_NAME
from udyog_sdk.models import Base, Money

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from udyog.kernel import Kernel

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class MigrationError(RuntimeError):
    """The database is not at the heads the code expects, or a step failed."""


@dataclass(frozen=True)
class MigrationPlan:
    """Version locations (every installed distribution) and the branches to upgrade."""

    locations: dict[str, Path]
    targets: list[str]


def migration_plan(kernel: Kernel) -> MigrationPlan:
    """The plan for ``kernel``'s plugins: core first, then loaded plugins in dependency order."""
    locations: dict[str, Path] = {CORE_NAME: MIGRATIONS_DIR / "versions"}
    locations.update(kernel.registry.migration_dirs())
    targets = [CORE_NAME] + [
        name for name in kernel.registry.order if name in locations and _has_revisions(locations[name])
    ]
    return MigrationPlan(locations=locations, targets=targets)


def _has_revisions(directory: Path) -> bool:
    return any(p.name != "__init__.py" for p in directory.glob("*.py"))


def table_owner(table_name: str, kernel: Kernel) -> str | None:
    """The plugin owning a table: the core (``core_``) or the plugin whose models define it."""
    table = Base.metadata.tables.get(table_name)
    if table is None:
        return None
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            module = mapper.class_.__module__
            if module.startswith("udyog."):
                return CORE_NAME
            for record in kernel.registry.loaded():
                if record.manifest and (
                    module == record.manifest.package or module.startswith(record.manifest.package + ".")
                ):
                    return record.name
    return None


def alembic_config(
    kernel: Kernel,
    connection: Connection,
    *,
    targets_only: bool = False,
    also: tuple[str, ...] = (),
    **attributes: Any,
) -> Config:
    """An alembic Config for ``kernel``'s plan, bound to ``connection``.

    ``targets_only`` limits the version locations to the branches being
    upgraded (new revisions are written against those alone); ``also`` adds
    the locations of these plugins even if they hold no revision yet (a
    plugin's first revision is written into its empty directory).
    """
    from alembic.config import Config

    plan = migration_plan(kernel)
    names = plan.targets + [n for n in also if n not in plan.targets and n in plan.locations]
    locations = [plan.locations[t] for t in names] if targets_only else list(plan.locations.values())
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(str(p).replace("%", "%%") for p in locations))
    cfg.attributes["connection"] = connection
    cfg.attributes["metadata"] = Base.metadata
    cfg.attributes.update(attributes)
    return cfg


def script_directory(kernel: Kernel, connection: Connection | None = None) -> ScriptDirectory:
    """alembic's view of every known revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(kernel, connection))  # type: ignore[arg-type]


@contextmanager
def _migration_connection(kernel: Kernel) -> Iterator[Connection]:
    with kernel.db.owner_engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations recreate tables: with foreign keys on, a
            # cascade from another plugin's side table would delete its rows.
            # The pragma is a no-op inside a transaction, so it goes to the
            # driver connection before SQLAlchemy begins one.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            yield conn
        finally:
            if sqlite:
                if conn.in_transaction():
                    conn.commit()
                driver = conn.connection.driver_connection
                problems = driver.execute("PRAGMA foreign_key_check").fetchall()
                driver.execute("PRAGMA foreign_keys=ON")
                if problems:
                    raise MigrationError(f"foreign key violations after migration: {problems[:5]}")


def branch_heads(kernel: Kernel) -> dict[str, str]:
    """The head revision of each target branch; a branch with several heads is an error."""
    script = script_directory(kernel)
    heads: dict[str, str] = {}
    for branch in migration_plan(kernel).targets:
        found = [r for r in script.get_revisions(f"{branch}@heads") if r is not None]
        if len(found) != 1:
            raise MigrationError(f"branch {branch!r} has {len(found)} heads; it must have exactly one")
        heads[branch] = found[0].revision
    return heads


def applied_revisions(kernel: Kernel) -> set[str]:
    """Revision ids recorded in the database's ``alembic_version`` table."""
    from sqlalchemy import inspect

    with kernel.db.owner_engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}


FINGERPRINT_KEY = "migrations"


def schema_fingerprint(kernel: Kernel) -> str:
    """A digest of the upgrade targets and their revision files, computed without alembic.

    ``udyog db upgrade`` records it once the database is at every head; while
    neither the enabled plugins nor their migration files change, serving
    needs no alembic import to know the database is current.
    """
    plan = migration_plan(kernel)
    digest = hashlib.sha256()
    for branch in plan.targets:
        files = sorted(p.name for p in plan.locations[branch].glob("*.py") if p.name != "__init__.py")
        digest.update(f"{branch}:{','.join(files)};".encode())
    return digest.hexdigest()


def _recorded_fingerprint(kernel: Kernel) -> str | None:
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from udyog.models import SchemaState

    try:
        with kernel.db.session(write=False) as session:
            return session.scalar(select(SchemaState.value).where(SchemaState.key == FINGERPRINT_KEY))
    except DBAPIError:  # no table yet: a new database
        return None


def _record_fingerprint(kernel: Kernel, value: str | None) -> None:
    from sqlalchemy import delete

    from udyog.models import SchemaState

    with kernel.db.session() as session:
        session.execute(delete(SchemaState).where(SchemaState.key == FINGERPRINT_KEY))
        if value is not None:
            session.add(SchemaState(key=FINGERPRINT_KEY, value=value))
        session.commit()


def branches_behind(kernel: Kernel) -> list[str]:
    """Branches not at head; fast when the recorded fingerprint still matches."""
    if _recorded_fingerprint(kernel) == schema_fingerprint(kernel):
        return []
    return pending_branches(kernel)


def pending_branches(kernel: Kernel) -> list[str]:
    """Target branches whose head is not applied (empty: the database is current)."""

    applied = applied_revisions(kernel)
    script: ScriptDirectory = script_directory(kernel)
    pending = []
    for branch, head in branch_heads(kernel).items():
        covered = any(
            head == rev or head in {r.revision for r in script.iterate_revisions(rev, "base")} for rev in applied
        )
        if not covered:
            pending.append(branch)
    return pending


def upgrade(kernel: Kernel, report: Callable[[str], None] = print) -> list[str]:
    """Bring the core and every loaded plugin to its head; report each step.

    Returns the applied steps. On PostgreSQL row-level security and grants
    are refreshed afterwards.
    """
    from alembic import command

    steps: list[str] = []
    state = {"branch": CORE_NAME, "t": time.perf_counter()}

    def on_apply(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        elapsed = (time.perf_counter() - state["t"]) * 1000  # type: ignore[operator]
        revision_id = step.up_revision_id if step.is_upgrade else (step.down_revision_ids or ("base",))[0]
        script = step.revision_map.get_revision(step.up_revision_id) if step.up_revision_id else None
        doc = script.doc if script is not None else ""
        line = (
            f"{'upgrade' if step.is_upgrade else 'downgrade'} {state['branch']}: {revision_id} {doc} ({elapsed:.0f} ms)"
        )
        steps.append(line)
        report(line)
        state["t"] = time.perf_counter()

    plan = migration_plan(kernel)
    with _migration_connection(kernel) as conn:
        cfg = alembic_config(kernel, conn, on_version_apply=on_apply)
        for branch in plan.targets:
            state["branch"] = branch
            command.upgrade(cfg, f"{branch}@head")
        conn.commit()
    if kernel.db.dialect == "postgresql":
        from udyog.rls import apply_row_level_security

        for line in apply_row_level_security(kernel):
            report(line)
    _record_fingerprint(kernel, schema_fingerprint(kernel))
    return steps


def downgrade_branch(kernel: Kernel, branch: str, report: Callable[[str], None] = print) -> None:
    """Remove a plugin's tables: downgrade its branch to base (before uninstalling it)."""
    from alembic import command

    if branch == CORE_NAME:
        raise MigrationError("the core cannot be uninstalled")
    if branch not in migration_plan(kernel).locations:
        raise MigrationError(f"no migrations known for plugin {branch!r}")
    _record_fingerprint(kernel, None)
    with _migration_connection(kernel) as conn:
        cfg = alembic_config(kernel, conn)
        command.downgrade(cfg, f"{branch}@base")
        conn.commit()
    report(f"downgraded {branch} to base")


def revision(
    kernel: Kernel,
    plugin: str,
    message: str,
    *,
    autogenerate: bool = True,
) -> Path:
    """Write a new revision for ``plugin`` (autogenerated from its models only)."""
    from alembic import command

    plan = migration_plan(kernel)
    if plugin != CORE_NAME and plugin not in kernel.registry.order:
        # Its models would be missing and autogenerate would drop its tables.
        raise MigrationError(f"plugin {plugin!r} is not loaded: enable it in plugins.toml first")
    if plugin not in plan.locations:
        raise MigrationError(f"plugin {plugin!r} has no migrations directory")
    directory = plan.locations[plugin]
    script = script_directory(kernel)
    existing = [r for r in script.walk_revisions() if plugin in (r.branch_labels or ()) or _in_dir(r.path, directory)]

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return table_owner(str(name), kernel) == plugin or (reflected and _reflected_owner(str(name), plugin))
        table = getattr(obj, "table", None)
        if table is not None:
            return table_owner(table.name, kernel) == plugin or (reflected and _reflected_owner(table.name, plugin))
        return True

    created: list[Path] = []

    def capture(context: Any, rev: Any, directives: Any) -> None:
        for directive in directives:
            created.append(Path(directory) / f"{directive.rev_id}.py")

    with _migration_connection(kernel) as conn:
        cfg = alembic_config(
            kernel,
            conn,
            targets_only=True,
            also=(plugin,),
            include_object=include_object,
            process_revision_directives=capture,
        )
        kwargs: dict[str, Any] = {"message": message, "autogenerate": autogenerate, "version_path": str(directory)}
        if existing:
            kwargs["head"] = f"{plugin}@head"
        else:
            kwargs["head"] = "base"
            kwargs["branch_label"] = plugin
            if plugin != CORE_NAME:
                deps = [CORE_NAME]
                record = kernel.registry.get(plugin)
                if record and record.manifest:
                    deps += list(record.manifest.required_names)
                heads = branch_heads(kernel)
                kwargs["depends_on"] = [heads[d] for d in deps if d in heads]
        try:
            script_obj = command.revision(cfg, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "CommandError":  # alembic's, without importing alembic.util here
                raise MigrationError(f"{exc} (run 'udyog db upgrade' first)") from exc
            raise
    path = getattr(script_obj, "path", None)
    return Path(path) if path else created[0]


def _in_dir(path: str, directory: Path) -> bool:
    return Path(path).resolve().parent == Path(directory).resolve()


def _reflected_owner(table_name: str, plugin: str) -> bool:
    prefix = "core_" if plugin == CORE_NAME else f"{plugin}_"
    return table_name.startswith(prefix)


def compare_type(
    context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """alembic's type comparison, made to see a ``Money`` column's precision and scale.

    alembic compares a ``TypeDecorator`` by its bare ``impl`` and so finds
    ``NUMERIC(18, 2)`` equal to ``Money(18, 3)``. Returns True when they differ,
    None to let alembic compare any other type.
    """
    if not isinstance(metadata_type, Money):
        return None
    if context.dialect.name == "sqlite":
        length = getattr(inspected_type, "length", None)
        return length is not None and length != metadata_type.precision + 2
    precision, scale = getattr(inspected_type, "precision", None), getattr(inspected_type, "scale", None)
    return (precision, scale) != (metadata_type.precision, metadata_type.scale)
