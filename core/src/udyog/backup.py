"""``udyog backup`` / ``udyog restore``: the database's own tools, nothing of ours in between.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (atomic: one
transaction). SQLite: the online backup API (``sqlite3.Connection.backup``),
a consistent copy taken while the application keeps running.

Both refuse to restore over a database that holds tables unless ``force`` is
given; with ``force`` the database ends up exactly as the backup (tables the
backup does not know are dropped, the others replaced). The embedded jobs
queue (``jobs.db``) and Redis are not part of a backup: a run's state lives in
``core_job_run``, and the sweeper sends again what a queue lost (docs/jobs.md).
Attachments are files: back up their directory beside the database
(docs/deployment.md).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from udyog.config import Settings

#: Schemas of PostgreSQL itself, never counted or dropped.
_SYSTEM_SCHEMAS = (
    "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'"
)
#: Relations whose presence makes a database "not empty" (tables, views, sequences).
_RELKINDS = "('r', 'p', 'v', 'm', 'S')"
#: A table, view or sequence entry of ``pg_restore --list``: "<id>; <oid> <oid> TABLE <schema> <name> <owner>".
_TOC_RELATION = re.compile(r"^\d+; \d+ \d+ (TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE) (\S+) (\S+) \S+$")


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did, for the command's report."""

    database: str
    path: Path
    size: int
    dropped: tuple[str, ...] = ()


# -- entry points ---------------------------------------------------------------------------------


def backup(settings: Settings, path: Path) -> Outcome:
    """Back up the configured database to ``path`` (written to a temporary file, then renamed)."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a directory: name the backup file")
    if not path.parent.is_dir():
        raise BackupError(f"directory {path.parent} does not exist")
    partial = path.with_name(f".{path.name}.partial")
    try:
        if settings.dialect == "sqlite":
            database = _sqlite_backup(settings.database_url, partial)
        else:
            database = _pg_backup(settings.database_url, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(database, path, path.stat().st_size)


def restore(settings: Settings, path: Path, *, force: bool = False) -> Outcome:
    """Restore the backup at ``path`` into the configured database.

    Refuses a database that holds tables unless ``force``; then the database is
    replaced exactly (tables absent from the backup are dropped).
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    if settings.dialect == "sqlite":
        return _sqlite_restore(settings.database_url, path, force=force)
    return _pg_restore(settings, path, force=force)


# -- SQLite -------------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_backup(url: str, target: Path) -> str:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"no SQLite database at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # a consistent snapshot, pages copied under SQLite's own locking
        finally:
            destination.close()
    finally:
        source.close()
    return str(source_path)


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
    ]


def _sqlite_restore(url: str, path: Path, *, force: bool) -> Outcome:
    target_path = _sqlite_path(url)
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        backed_up = set(_sqlite_tables(source))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite backup ({exc})") from None
    try:
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            present = _sqlite_tables(target)
            if present and not force:
                raise BackupError(_not_empty(str(target_path), len(present)))
            source.backup(target)  # replaces every page of the target: the database is the backup's
        finally:
            target.close()
    finally:
        source.close()
    dropped = tuple(sorted(set(present) - backed_up))
    return Outcome(str(target_path), path, path.stat().st_size, dropped)


def _not_empty(database: str, tables: int) -> str:
    return (
        f"database {database} is not empty ({tables} tables): restore refuses to overwrite it; "
        "restore into an empty database, or pass --force to replace its contents with the backup's"
    )


# -- PostgreSQL ---------------------------------------------------------------------------------------


def _pg_env(url: str, *, all_tenants: bool = True) -> tuple[dict[str, str], str]:
    """libpq's environment for ``url`` (the password never appears on a command line); and the database name."""
    parsed = make_url(url)
    if not parsed.database:
        raise BackupError("the database URL names no database")
    env = dict(os.environ)
    for variable, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", str(parsed.port) if parsed.port else None),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value:
            env[variable] = value
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("host", "PGHOST")):
        value = parsed.query.get(option)
        if isinstance(value, str):
            env[variable] = value
    if all_tenants:
        # Tables FORCE row-level security: the policies must let the dump read (and the restore
        # write) every tenant's rows, also for a migration user that is not a superuser.
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c udyog.all_tenants=on".strip()
    return env, parsed.database


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install PostgreSQL's client tools of the server's major version "
            "(e.g. apt-get install postgresql-client-15)"
        )
    return found


def _tool_major(tool: str) -> int:
    answer = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"\(PostgreSQL\) (\d+)", answer.stdout)
    if answer.returncode != 0 or match is None:
        raise BackupError(f"could not tell the version of {tool}: {answer.stdout or answer.stderr}".strip())
    return int(match.group(1))


def _server_major(url: str) -> int:
    engine = create_engine(url, poolclass=_null_pool())
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SHOW server_version_num").scalar() or 0) // 10000
    except Exception as exc:  # noqa: BLE001 - any connection failure becomes one clear message
        raise BackupError(f"cannot connect to the database: {exc}") from None
    finally:
        engine.dispose()


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool

    return NullPool


def _check_versions(tool: str, url: str) -> None:
    tool_major, server_major = _tool_major(tool), _server_major(url)
    if tool_major < server_major:
        name = Path(tool).name
        raise BackupError(
            f"{name} {tool_major} is older than the PostgreSQL {server_major} server: "
            f"install the client tools of version {server_major} or newer (e.g. postgresql-client-{server_major})"
        )


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        detail = (answer.stderr or answer.stdout).strip()
        raise BackupError(f"{what} failed (exit {answer.returncode}): {detail}")
    return answer.stdout


def _pg_backup(url: str, target: Path) -> str:
    pg_dump = _tool("pg_dump")
    _check_versions(pg_dump, url)
    env, database = _pg_env(url)
    # Custom format: compressed, restorable selectively and in parallel. Row security enabled with
    # udyog.all_tenants=on: every row is dumped without needing a superuser.
    _run([pg_dump, "--format=custom", "--enable-row-security", f"--file={target}"], env, "pg_dump")
    return database


def _relations(conn: object) -> list[tuple[str, str, str]]:
    rows = conn.exec_driver_sql(  # type: ignore[attr-defined]
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relkind IN {_RELKINDS} AND n.nspname NOT IN {_SYSTEM_SCHEMAS} "
        # Sequences owned by a column go with their table.
        "AND NOT (c.relkind = 'S' AND EXISTS "
        "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) "
        "ORDER BY 1, 2"
    )
    return [(row[0], row[1], row[2]) for row in rows]


def _archive_relations(pg_restore: str, path: Path, env: dict[str, str]) -> set[tuple[str, str]]:
    listing = _run([pg_restore, "--list", str(path)], env, f"reading {path} (pg_restore --list)")
    found = set()
    for line in listing.splitlines():
        match = _TOC_RELATION.match(line.strip())
        if match:
            found.add((match.group(2), match.group(3)))
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_restore(settings: Settings, path: Path, *, force: bool) -> Outcome:
    from udyog.rls import ensure_role

    url = settings.database_url
    pg_restore = _tool("pg_restore")
    _check_versions(pg_restore, url)
    env, database = _pg_env(url)
    # Read the archive first: a file of another format or a newer pg_dump fails here, before any change.
    archived = _archive_relations(pg_restore, path, env)
    engine = create_engine(url, poolclass=_null_pool())
    try:
        with engine.connect() as conn:
            present = _relations(conn)
        if present and not force:
            raise BackupError(_not_empty(database, len(present)))
        if settings.app_db_role:
            # The backup grants the application role its privileges; roles live outside the database.
            ensure_role(engine, settings.app_db_role)
        stale = [(schema, name, kind) for schema, name, kind in present if (schema, name) not in archived]
        if stale:
            # Tables the backup does not know (e.g. of a plugin installed since) would survive a restore
            # and contradict the restored migration versions.
            with engine.begin() as conn:
                for schema, name, kind in stale:
                    what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
                    conn.exec_driver_sql(f"DROP {what} IF EXISTS {_quote(schema)}.{_quote(name)} CASCADE")
    finally:
        engine.dispose()
    command = [
        pg_restore,
        f"--dbname={database}",
        "--single-transaction",  # all or nothing
        "--exit-on-error",
        "--no-owner",  # objects belong to the restoring (migration) user, whatever the source's owner was
        "--enable-row-security",
    ]
    if present:
        command += ["--clean", "--if-exists"]
    _run([*command, str(path)], env, "pg_restore")
    if settings.app_db_role:
        engine = create_engine(url, poolclass=_null_pool())
        try:
            with engine.begin() as conn:
                # The migration user switches to the application role: it must be a member.
                conn.exec_driver_sql(f"GRANT {_quote(settings.app_db_role)} TO CURRENT_USER")
        finally:
            engine.dispose()
    return Outcome(database, path, path.stat().st_size, tuple(f"{s}.{n}" for s, n, _ in stale))
