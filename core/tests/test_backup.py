"""``udyog backup`` / ``udyog restore`` on SQLite and the real PostgreSQL: the data comes back exactly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.pool import NullPool
from udyog_test_notes.models import Note
from udyog_test_notes.services import create_note, ensure_default_notebook

from udyog.backup import BackupError, backup, restore
from udyog.cli import main
from udyog.config import Settings
from udyog.pytest_plugin import in_ci
from udyog.tenancy import create_tenant


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (as the owner: row-level security does not hide any), sorted."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = sorted(inspect(conn).get_table_names())
            return {
                table: sorted(tuple(map(repr, row)) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
                for table in tables
            }
    finally:
        engine.dispose()


def udyog(kernel, *args: str, url: str | None = None):
    """Run the CLI as a deployment would, configured by the environment."""
    env = {"UDYOG_DATABASE_URL": url or kernel.settings.database_url, "UDYOG_APP_DB_ROLE": ""}
    if kernel.settings.app_db_role:
        env["UDYOG_APP_DB_ROLE"] = kernel.settings.app_db_role
    return CliRunner().invoke(main, list(args), env=env)


def notes(kernel, tenant: str = "acme") -> list[str]:
    with kernel.tenant_scope(tenant, write=False) as scope:
        return sorted(scope.session.scalars(select(Note.title)).all())


def require_pg_tools() -> None:
    """PostgreSQL's client tools are system packages (make cannot install them): skip without, fail under CI."""
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        if in_ci():
            pytest.fail(f"CI=true but {', '.join(missing)} not on PATH")
        pytest.skip(f"{', '.join(missing)} not on PATH (install postgresql-client)")


@pytest.fixture
def world(kernel_factory, backend):
    if backend == "postgresql":
        require_pg_tools()
    kernel = kernel_factory(["notes"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_tenant(kernel, "globex", "Globex", plugins=["notes"])
    for tenant, titles in (("acme", ["invoice follow-up", "GST filing", "नमस्ते"]), ("globex", ["audit"])):
        with kernel.tenant_scope(tenant) as scope:
            notebook = ensure_default_notebook()
            for title in titles:
                create_note(notebook_id=notebook.id, title=title)
            scope.session.commit()
    return kernel


def test_backup_change_restore_gives_the_data_back_exactly(world, tmp_path, backend):
    kernel = world
    url = kernel.settings.database_url
    before = snapshot(url)
    assert before["notes_note"] and before["core_tenant"]
    file = tmp_path / "udyog.backup"

    done = udyog(kernel, "backup", str(file))
    assert done.exit_code == 0, done.output
    assert f"to {file}" in done.output and file.stat().st_size > 0
    assert not list(tmp_path.glob(".*.partial"))

    # Change, delete and add data; on PostgreSQL also a table the backup does not know.
    with kernel.tenant_scope("acme") as scope:
        for note in scope.session.scalars(select(Note)).all():
            if note.title == "GST filing":
                scope.session.delete(note)
            else:
                note.title = "changed"
        create_note(notebook_id=ensure_default_notebook().id, title="after the backup")
        scope.session.commit()
    create_tenant(kernel, "initech", "Initech", plugins=["notes"])
    stray = create_engine(url, poolclass=NullPool)
    with stray.begin() as conn:
        conn.execute(text("CREATE TABLE stray_plugin_table (id integer PRIMARY KEY)"))
    stray.dispose()
    assert snapshot(url) != before

    refused = udyog(kernel, "restore", str(file))
    assert refused.exit_code == 2
    assert "is not empty" in refused.output and "--force" in refused.output
    assert notes(kernel) == ["after the backup", "changed", "changed"]  # nothing was touched

    kernel.db.dispose()
    done = udyog(kernel, "restore", "--force", str(file))
    assert done.exit_code == 0, done.output
    assert "stray_plugin_table" in done.output
    assert snapshot(url) == before
    # The application (on PostgreSQL its role, bound by row-level security) reads the restored data.
    assert notes(kernel) == ["GST filing", "invoice follow-up", "नमस्ते"]
    assert notes(kernel, "globex") == ["audit"]


def test_restore_into_an_empty_database(world, tmp_path, backend, database_url_factory):
    kernel = world
    file = tmp_path / "udyog.backup"
    assert udyog(kernel, "backup", str(file)).exit_code == 0
    empty = database_url_factory(backend)
    done = udyog(kernel, "restore", str(file), url=empty)
    assert done.exit_code == 0, done.output
    assert snapshot(empty) == snapshot(kernel.settings.database_url)


def test_restore_refuses_a_file_that_is_not_a_backup(world, tmp_path):
    kernel = world
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a backup at all" * 100)
    before = snapshot(kernel.settings.database_url)
    done = udyog(kernel, "restore", "--force", str(junk))
    assert done.exit_code == 2
    assert "error:" in done.output and "Traceback" not in done.output
    assert snapshot(kernel.settings.database_url) == before


def test_backup_names_a_missing_directory(world, tmp_path):
    done = udyog(world, "backup", str(tmp_path / "nowhere" / "udyog.backup"))
    assert done.exit_code == 2 and "does not exist" in done.output


def test_missing_postgresql_tools_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, no pg_restore
    settings = Settings.from_env({"database_url": "postgresql://u@127.0.0.1:1/db"}, environ={})
    with pytest.raises(BackupError, match="pg_dump not found on PATH: install PostgreSQL's client tools"):
        backup(settings, tmp_path / "x.backup")
    (tmp_path / "x.backup").write_bytes(b"PGDMP")
    with pytest.raises(BackupError, match="pg_restore not found on PATH"):
        restore(settings, tmp_path / "x.backup")


@pytest.mark.postgres
def test_a_client_older_than_the_server_is_refused(kernel_factory, tmp_path, monkeypatch):
    kernel = kernel_factory([], backend="postgresql")
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        script = fake / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(BackupError, match=r"pg_dump 9 is older than the PostgreSQL \d+ server: install"):
        backup(kernel.settings, tmp_path / "x.backup")
    assert not (tmp_path / "x.backup").exists()


def test_in_memory_sqlite_is_refused(tmp_path):
    settings = Settings.from_env({"database_url": "sqlite:///:memory:"}, environ={})
    with pytest.raises(BackupError, match="in-memory"):
        backup(settings, Path(tmp_path / "x.backup"))


def test_a_bad_configuration_is_one_error_line(tmp_path):
    plugins = tmp_path / "plugins.toml"
    plugins.write_text("[deployment\n")
    done = CliRunner().invoke(main, ["backup", str(tmp_path / "x.dump")], env={"UDYOG_PLUGINS_FILE": str(plugins)})
    assert done.exit_code == 2 and done.output.startswith(f"error: {plugins}:"), done.output
