"""alembic branches per distribution: one head each, models agree, uninstall leaves no trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from udyog.migrate import (
    applied_revisions,
    branch_heads,
    compare_type,
    downgrade_branch,
    migration_plan,
    pending_branches,
    script_directory,
    table_owner,
)
from udyog.tenancy import create_tenant, enable_plugins
from udyog_sdk.models import Base

ALL = ["notes", "tags"]


def test_each_branch_has_exactly_one_head(kernel_factory):
    kernel = kernel_factory(ALL, migrate=False)
    heads = branch_heads(kernel)
    assert set(heads) == {"core", "notes", "tags"}
    script = script_directory(kernel)
    for branch in heads:
        assert len(script.get_revisions(f"{branch}@heads")) == 1
    # tags' first revision depends on the notes branch it requires.
    tags_base = next(r for r in script.walk_revisions() if "tags" in (r.branch_labels or ()) and not r.down_revision)
    notes_revisions = {r.revision for r in script.walk_revisions() if "notes" in (r.branch_labels or ())}
    assert set(tags_base.dependencies) & notes_revisions


def test_version_locations_come_from_installed_plugins_and_targets_from_enabled_ones(kernel_factory):
    kernel = kernel_factory(["notes"], migrate=False)
    plan = migration_plan(kernel)
    assert plan.targets == ["core", "notes"]
    assert {"core", "notes", "tags"} <= set(plan.locations)  # tags installed, not enabled: still known
    assert all(path.is_dir() for path in plan.locations.values())


@pytest.mark.parametrize(
    "distribution", ["core", "notes", "tags", "crm", "inventory", "sales", "gst", "fssai", "hr", "payroll", "vigilance"]
)
def test_models_and_migrations_agree(kernel_factory, backend, distribution):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    kernel = kernel_factory(
        [*ALL, "crm", "inventory", "sales", "gst", "fssai", "hr", "payroll", "vigilance"], backend=backend
    )

    def owned(name: str) -> bool:
        owner = table_owner(name, kernel)
        if owner is None:  # only in the database: judge by the table-name prefix
            owner = "core" if name.startswith("core_") else name.split("_", 1)[0]
        return owner == distribution

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            return name != "alembic_version" and owned(name)
        table = getattr(obj, "table", None)
        return table is None or owned(table.name)

    with kernel.db.owner_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": compare_type, "include_object": include_object}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == [], f"{distribution}: models and migrations differ on {backend}: {diffs}"
    tables = [t for t in Base.metadata.tables if owned(t)]
    assert tables, f"{distribution} owns no table: the comparison would prove nothing"


def test_upgrade_reports_each_step_and_check_passes(tmp_path):
    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text('[deployment]\nenabled = ["notes", "tags"]\nstrict = true\n')
    env = {**os.environ, "UDYOG_PLUGINS_FILE": str(plugins_file), "UDYOG_DATABASE_URL": f"sqlite:///{tmp_path}/u.db"}
    exe = str(Path(sys.executable).with_name("udyog"))
    check = subprocess.run([exe, "db", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode != 0 and "run 'udyog db upgrade'" in check.stderr
    up = subprocess.run([exe, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    lines = up.stdout.splitlines()
    assert any(line.strip().startswith("upgrade core:") for line in lines)
    assert any(line.strip().startswith("upgrade notes:") for line in lines)
    assert any(line.strip().startswith("upgrade tags:") for line in lines)
    assert lines[-1] == f"database at head ({len(lines) - 1} steps applied)" and len(lines) >= 4
    again = subprocess.run([exe, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip().splitlines()[-1] == "database at head (0 steps applied)"
    check = subprocess.run([exe, "db", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0


def test_a_disabled_plugins_applied_revisions_stay_known(kernel_factory, backend):
    from udyog.testing import build_kernel

    full = kernel_factory(ALL, backend=backend)
    url = full.settings.database_url
    full.close()
    # The deployment now enables notes only; the database still holds tags' revision.
    partial = build_kernel(url, ["notes"], migrate=False)
    try:
        assert pending_branches(partial) == []
        assert set(branch_heads(partial).values()) <= applied_revisions(partial) | _ancestors(partial)
    finally:
        partial.close()


def _ancestors(kernel):
    script = script_directory(kernel)
    found = set()
    for rev in applied_revisions(kernel):
        found |= {r.revision for r in script.iterate_revisions(rev, "base")}
    return found


def test_uninstall_downgrades_the_branch_and_leaves_no_trace(kernel_factory, backend):
    kernel = kernel_factory(ALL, backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["tags"])
    before = set(inspect(kernel.db.owner_engine).get_table_names())
    assert "tags_note_tag" in before
    downgrade_branch(kernel, "tags", report=lambda line: None)
    after = set(inspect(kernel.db.owner_engine).get_table_names())
    assert before - after == {"tags_note_tag"}
    tags_revisions = {
        r.revision for r in script_directory(kernel).walk_revisions() if "tags" in (r.branch_labels or ())
    }
    assert not (applied_revisions(kernel) & tags_revisions)
    # notes still works for the tenant.
    assert enable_plugins(kernel, "acme", ["notes"]) == []
    with kernel.tenant_scope("acme") as scope:
        from sqlalchemy import select
        from udyog_test_notes.models import Notebook

        assert scope.session.scalars(select(Notebook.title)).all() == ["Inbox"]


def test_the_core_cannot_be_uninstalled(kernel_factory):
    from udyog.migrate import MigrationError

    kernel = kernel_factory([])
    with pytest.raises(MigrationError):
        downgrade_branch(kernel, "core")


def test_sqlite_migrations_run_with_foreign_keys_off_and_check_them_after(kernel_factory):
    from udyog.migrate import MigrationError, _migration_connection

    kernel = kernel_factory([])
    orphan = (
        "INSERT INTO core_branch (tenant_id, id, code, name, address, is_active, created_at) "
        "VALUES ('00000000000000000000000000000001', '00000000000000000000000000000002', 'X', 'x', '', 1, '2025-01-01')"
    )
    with pytest.raises(MigrationError, match="foreign key violations"), _migration_connection(kernel) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        conn.exec_driver_sql(orphan)  # accepted while foreign keys are off, reported when they come back
        conn.commit()
    with kernel.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        conn.exec_driver_sql("DELETE FROM core_branch WHERE code = 'X'")
        conn.commit()


def test_revisions_are_refused_for_plugins_that_are_not_loaded(kernel_factory):
    from udyog.migrate import MigrationError, revision

    kernel = kernel_factory(["notes"])
    with pytest.raises(MigrationError, match="not loaded"):
        revision(kernel, "tags", "would drop tags tables")


def test_serving_knows_the_database_is_current_without_alembic(kernel_factory, backend, monkeypatch):
    from udyog import migrate

    kernel = kernel_factory(["notes"], backend=backend)
    calls = []
    monkeypatch.setattr(migrate, "pending_branches", lambda k: calls.append(k) or ["checked"])
    assert migrate.branches_behind(kernel) == []  # the fingerprint recorded by upgrade matches
    assert calls == []
    # Another plugin enabled: the fingerprint differs and alembic decides.
    from udyog.testing import build_kernel

    wider = build_kernel(kernel.settings.database_url, ["notes", "tags"], migrate=False)
    try:
        assert migrate.branches_behind(wider) == ["checked"]
    finally:
        wider.close()
    monkeypatch.undo()
    wider = build_kernel(kernel.settings.database_url, ["notes", "tags"], migrate=False)
    try:
        assert migrate.branches_behind(wider) == ["tags"]
    finally:
        wider.close()
