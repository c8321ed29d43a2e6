"""The ``udyog`` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import click

from udyog_sdk import UdyogError
from udyog_sdk.series import RESETS


class _Obj:
    """Builds the kernel on first use (once per command)."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._kernel: Any = None

    @property
    def argv(self) -> list[str]:
        """The global options this command was given, for a child ``udyog`` process."""
        argv: list[str] = []
        if self.overrides.get("database_url"):
            argv += ["--database-url", self.overrides["database_url"]]
        if "strict_plugins" in self.overrides:
            argv.append("--strict" if self.overrides["strict_plugins"] else "--no-strict")
        return argv

    @property
    def kernel(self) -> Any:
        if self._kernel is None:
            from udyog.config import Settings
            from udyog.kernel import Kernel

            self._kernel = Kernel(Settings.from_env(self.overrides or None))
        return self._kernel


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _udyog_errors(fn: Any) -> Any:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UdyogError as exc:
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
            _fail(exc.message + (f" ({detail})" if detail else ""))
        except LookupError as exc:
            _fail(str(exc))

    return wrapper


class _PluginCommands(click.Group):
    """The core's commands plus those plugins contribute through ``udyog_cli_commands``."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if "plugin_commands" in ctx.meta:
            return ctx.meta["plugin_commands"]
        found: dict[str, click.Command] = {}
        owners: dict[str, str] = {}
        try:
            if not isinstance(ctx.obj, _Obj):
                ctx.obj = _Obj(_overrides(ctx.params.get("database_url"), ctx.params.get("strict")))
            kernel = ctx.obj.kernel
            contributions = kernel.bus.collect_safely("udyog_cli_commands", on_error=kernel.registry.unload)
        except Exception:  # noqa: BLE001 - a broken configuration must not hide the core's commands
            contributions = []
        for plugin, commands in contributions:
            for command in commands:
                name = command.name or ""
                if name in self.commands or name in found:
                    other = owners.get(name, "core")
                    raise click.ClickException(f"command {name!r} of plugin {plugin!r} clashes with {other!r}")
                found[name] = command
                owners[name] = plugin
        ctx.meta["plugin_commands"] = found
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        if not ctx.resilient_parsing and os.environ.get("UDYOG_CLI_NO_PLUGINS") != "1":
            names |= set(self._plugin_commands(ctx))
        return sorted(names)

    def invoke(self, ctx: click.Context) -> Any:
        """Report the kernel's expected failures as ``error:`` lines (exit 2), not tracebacks."""
        from udyog.migrate import MigrationError
        from udyog.registry import PluginLoadError

        try:
            return super().invoke(ctx)
        except (MigrationError, PluginLoadError) as exc:
            _fail(str(exc))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return self._plugin_commands(ctx).get(cmd_name)


@click.group(cls=_PluginCommands)
@click.option("--database-url", envvar="UDYOG_DATABASE_URL", help="Database URL (default: SQLite under ./var).")
@click.option("--strict/--no-strict", default=None, help="Fail if an enabled plugin cannot be loaded.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, strict: bool | None) -> None:
    """Udyog — a plugin-based ERP for Indian manufacturers and distributors."""
    logging.basicConfig(
        level=os.environ.get("UDYOG_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    if not isinstance(ctx.obj, _Obj):  # looking up a plugin command may have built it already
        ctx.obj = _Obj(_overrides(database_url, strict))


def _overrides(database_url: str | None, strict: bool | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    if strict is not None:
        overrides["strict_plugins"] = strict
    return overrides


def _ensure_sqlite_dir(kernel: Any) -> None:
    url: str = kernel.settings.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        os.makedirs(os.path.dirname(url.removeprefix("sqlite:///")) or ".", exist_ok=True)


# -- db ----------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: _Obj) -> None:
    """Bring the core and every enabled plugin to its head, reporting each step."""
    from udyog.migrate import upgrade

    kernel = obj.kernel
    _ensure_sqlite_dir(kernel)
    steps = upgrade(kernel, report=lambda line: click.echo(f"  {line}"))
    click.echo(f"database at head ({len(steps)} step{'s' if len(steps) != 1 else ''} applied)")


@db.command("check")
@click.pass_obj
def db_check(obj: _Obj) -> None:
    """Exit non-zero unless the database is at every head."""
    from udyog.migrate import pending_branches

    pending = pending_branches(obj.kernel)
    if pending:
        _fail(f"database not at head for: {', '.join(pending)} — run 'udyog db upgrade'")
    click.echo("database at head")


@db.command("revision")
@click.option("--plugin", "plugin", required=True, help="Branch to add the revision to (core or a plugin).")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Do not autogenerate from the models.")
@click.pass_obj
def db_revision(obj: _Obj, plugin: str, message: str, empty: bool) -> None:
    """Write a new migration for one plugin, autogenerated from its models."""
    from udyog.migrate import revision

    path = revision(obj.kernel, plugin, message, autogenerate=not empty)
    click.echo(f"wrote {path}")


# -- backup and restore ----------------------------------------------------------


def _settings(obj: _Obj) -> Any:
    """The configuration alone (backup, restore and pings load no plugin); a bad one is an ``error:`` line."""
    from udyog.config import ConfigError, Settings

    try:
        return Settings.from_env(obj.overrides or None)
    except ConfigError as exc:
        _fail(str(exc))


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.pass_obj
def backup_cmd(obj: _Obj, path: str) -> None:
    """Back up the database to PATH with its own tools (pg_dump custom format, or SQLite's backup API).

    Safe while the application runs. Attachments are files: back up their
    directory too (docs/deployment.md).
    """
    from pathlib import Path

    from udyog.backup import BackupError, backup

    try:
        outcome = backup(_settings(obj), Path(path))
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"backed up {outcome.database} to {outcome.path} ({outcome.size} bytes)")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that holds tables (its contents are lost; tables the backup lacks are dropped).",
)
@click.pass_obj
def restore_cmd(obj: _Obj, path: str, force: bool) -> None:
    """Restore the backup at PATH into the configured database (stop web, workers and beat first).

    Refuses a database that is not empty unless --force. PostgreSQL restores in
    one transaction: on an error nothing of the backup is applied.
    """
    from pathlib import Path

    from udyog.backup import BackupError, restore

    try:
        outcome = restore(_settings(obj), Path(path), force=force)
    except BackupError as exc:
        _fail(str(exc))
    if outcome.dropped:
        click.echo(f"dropped what the backup does not hold: {', '.join(outcome.dropped)}")
    click.echo(f"restored {outcome.path} into {outcome.database}")
    click.echo("run 'udyog db upgrade' if this release's migrations are newer than the backup")


# -- tenants and branches ------------------------------------------------------


@main.group()
def tenant() -> None:
    """Tenants (companies)."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The company's name.")
@click.option("--timezone", default="Asia/Kolkata", show_default=True)
@click.option("--plugins", default="", help="Comma-separated plugins to enable (with their dependencies).")
@click.option("--all-plugins", is_flag=True, help="Enable every loaded plugin.")
@click.pass_obj
@_udyog_errors
def tenant_create(obj: _Obj, slug: str, name: str, timezone: str, plugins: str, all_plugins: bool) -> None:
    """Create a tenant."""
    from udyog.tenancy import create_tenant

    kernel = obj.kernel
    names = list(kernel.registry.order) if all_plugins else [p for p in plugins.split(",") if p]
    tenant_id = create_tenant(kernel, slug, name, timezone=timezone, plugins=names)
    click.echo(f"tenant {slug} created ({tenant_id})")


@tenant.command("list")
@click.pass_obj
def tenant_list(obj: _Obj) -> None:
    """List tenants."""
    from sqlalchemy import select

    from udyog.models import Tenant

    with obj.kernel.db.session(write=False) as session:
        for t in session.scalars(select(Tenant).order_by(Tenant.slug)):
            click.echo(f"{t.slug:20} {t.name:40} {t.timezone:16} {'active' if t.is_active else 'inactive'}  {t.id}")


@main.group()
def branch() -> None:
    """Branches (sites) of a tenant."""


@branch.command("create")
@click.argument("code")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant slug or id.")
@click.option("--name", required=True)
@click.option("--state-code", default=None, help="Two-digit state code, e.g. 27 for Maharashtra.")
@click.option("--address", default="")
@click.pass_obj
@_udyog_errors
def branch_create(obj: _Obj, code: str, tenant_ref: str, name: str, state_code: str | None, address: str) -> None:
    """Add a branch to a tenant."""
    from udyog.tenancy import create_branch

    with obj.kernel.tenant_scope(tenant_ref) as scope:
        b = create_branch(scope.session, code=code, name=name, address=address, state_code=state_code)
        scope.session.commit()
        click.echo(f"branch {b.code} created for {scope.tenant.slug} ({b.id})")


# -- users and roles -------------------------------------------------------------


@main.group()
def user() -> None:
    """Users and their memberships."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--tenant", "tenant_ref", default=None, help="Make the user a member of this tenant.")
@click.option("--role", "roles", multiple=True, help="Role in that tenant (repeatable).")
@click.option("--password", default=None, help="Password (prompted when omitted).")
@click.option("--no-password", is_flag=True, help="Create the user without a password (cannot log in yet).")
@click.pass_obj
@_udyog_errors
def user_create(
    obj: _Obj,
    email: str,
    name: str,
    tenant_ref: str | None,
    roles: tuple[str, ...],
    password: str | None,
    no_password: bool,
) -> None:
    """Create a user, optionally a member of a tenant with roles."""
    from udyog.auth import create_user

    if password is None and not no_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if roles and not tenant_ref:
        _fail("--role needs --tenant")
    user_id = create_user(obj.kernel, email, name, password, tenant=tenant_ref, roles=roles)
    click.echo(f"user {email} created ({user_id})" + (f", member of {tenant_ref}" if tenant_ref else ""))


@user.command("password")
@click.argument("email")
@click.option("--password", default=None, help="The new password (prompted when omitted).")
@click.pass_obj
@_udyog_errors
def user_password(obj: _Obj, email: str, password: str | None) -> None:
    """Set a user's password (an administrator's reset); every login of the user ends."""
    from udyog.auth import set_password, user_by_email

    found = user_by_email(obj.kernel, email)
    if found is None:
        _fail(f"no user {email}")
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with obj.kernel.db.session() as session:
        set_password(obj.kernel, session, found.id, password)
        session.commit()
    click.echo(f"password of {email} set; their logins were ended")


@user.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_obj
@_udyog_errors
def user_disable(obj: _Obj, email: str, enable: bool) -> None:
    """Disable a user everywhere (every login ends at once), or enable them again."""
    from udyog.auth import set_user_active, user_by_email

    found = user_by_email(obj.kernel, email)
    if found is None:
        _fail(f"no user {email}")
    with obj.kernel.db.session() as session:
        set_user_active(session, found.id, enable)
        session.commit()
    click.echo(f"{email} {'enabled' if enable else 'disabled; their logins were ended'}")


@main.group()
def role() -> None:
    """Roles of a tenant."""


@role.command("assign")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True)
@click.option("--tenant", "tenant_ref", required=True)
@click.pass_obj
@_udyog_errors
def role_assign(obj: _Obj, email: str, roles: tuple[str, ...], tenant_ref: str) -> None:
    """Give a user roles in a tenant (making them a member if needed)."""
    from udyog.auth import add_membership, user_by_email

    found = user_by_email(obj.kernel, email)
    if found is None:
        _fail(f"no user {email}")
    add_membership(obj.kernel, tenant_ref, found.id, roles)
    click.echo(f"{email} now holds {', '.join(roles)} in {tenant_ref}")


@role.command("list")
@click.option("--tenant", "tenant_ref", required=True)
@click.pass_obj
@_udyog_errors
def role_list(obj: _Obj, tenant_ref: str) -> None:
    """List a tenant's roles with their permissions and record rules."""
    from sqlalchemy import select

    from udyog.models import Role

    with obj.kernel.tenant_scope(tenant_ref, write=False) as scope:
        for r in scope.session.scalars(select(Role).order_by(Role.name)):
            rules = f"  rules: {', '.join(r.record_rules)}" if r.record_rules else ""
            click.echo(f"{r.name:20} {', '.join(r.permissions)}{rules}")


# -- plugins -------------------------------------------------------------------


@main.group()
def plugins() -> None:
    """Installed plugins and their enablement per tenant."""


@plugins.command("list")
@click.option("--tenant", "tenant_ref", default=None, help="Also show which plugins this tenant enabled.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
@_udyog_errors
def plugins_list(obj: _Obj, tenant_ref: str | None, as_json: bool) -> None:
    """Every discovered plugin: version, state, dependencies and load error."""
    from udyog.app import create_app

    kernel = obj.kernel
    # Build the app as the server would, so late registration failures show too.
    create_app(kernel=kernel, dispatch_pending=False)
    enabled: set[str] | None = None
    if tenant_ref:
        from udyog.tenancy import tenant_plugins

        enabled = set(tenant_plugins(kernel, tenant_ref))
    rows = []
    for record in kernel.registry:
        row = record.as_dict()
        if enabled is not None:
            row["enabled_for_tenant"] = record.name in enabled
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    colours = {"loaded": "green", "not-enabled": None, "failed": "red", "skipped": "yellow"}
    for row in rows:
        flag = ""
        if enabled is not None:
            flag = " [enabled]" if row["enabled_for_tenant"] else " [off]"
        requires = f" requires {', '.join(row['requires'])}" if row["requires"] else ""
        line = f"{row['name']:16} {row['version'] or '?':10} {row['state']:12}{flag}{requires}"
        click.secho(line, fg=colours.get(row["state"]))
        if row["error"]:
            click.secho(f"    {row['error']}", fg="red")


@plugins.command("enable")
@click.argument("names", nargs=-1, required=True)
@click.option("--tenant", "tenant_ref", required=True)
@click.pass_obj
@_udyog_errors
def plugins_enable(obj: _Obj, names: tuple[str, ...], tenant_ref: str) -> None:
    """Enable plugins (and their dependencies) for a tenant; no restart needed."""
    from udyog.tenancy import enable_plugins

    added = enable_plugins(obj.kernel, tenant_ref, names)
    click.echo(f"enabled for {tenant_ref}: {', '.join(added) if added else 'nothing new'}")


@plugins.command("disable")
@click.argument("names", nargs=-1, required=True)
@click.option("--tenant", "tenant_ref", required=True)
@click.option(
    "--purge-settings", is_flag=True, help="Also forget the tenant's settings of these plugins (kept by default)."
)
@click.pass_obj
@_udyog_errors
def plugins_disable(obj: _Obj, names: tuple[str, ...], tenant_ref: str, purge_settings: bool) -> None:
    """Disable plugins for a tenant (their data and settings stay); no restart needed."""
    from udyog.tenancy import disable_plugins

    removed = disable_plugins(obj.kernel, tenant_ref, names, purge_settings=purge_settings)
    click.echo(f"disabled for {tenant_ref}: {', '.join(removed) if removed else 'nothing'}")


@plugins.command("uninstall")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the plugin's tables and data are dropped.")
@click.pass_obj
@_udyog_errors
def plugins_uninstall(obj: _Obj, name: str, yes: bool) -> None:
    """Drop a plugin's tables (downgrade its branch to base); then pip uninstall it."""
    from udyog.tenancy import uninstall_plugin

    kernel = obj.kernel
    record = kernel.registry.get(name)
    if record is None:
        _fail(f"no plugin {name!r} is installed")
    if not yes:
        _fail(f"uninstalling {name} drops its tables and data; repeat with --yes")
    uninstall_plugin(kernel, name, report=click.echo)
    dist = record.distribution or f"udyog-{name}"
    click.echo(f"now remove the package: pip uninstall {dist}; then drop {name} from plugins.toml and restart")


# -- number series ------------------------------------------------------------------


@main.group()
def series() -> None:
    """Number series of a tenant (patterns, reset periods, limits)."""


@series.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant slug or id.")
@click.pass_obj
@_udyog_errors
def series_list(obj: _Obj, tenant_ref: str) -> None:
    """Each series: key, pattern, reset period and the next number (not taken); problems below it."""
    from udyog.series import catalog_problems, list_series

    with obj.kernel.tenant_scope(tenant_ref, write=False) as scope:
        items = list_series(scope)
    for item in items:
        gap_free = " gap-free" if item["gap_free"] else ""
        click.echo(
            f"{item['key']:24} {item['pattern']:28} {item['reset']:15} next {item['next_number'] or '-'}{gap_free}"
        )
        for field_name, problems in item["compliance"]["errors"].items():
            for problem in problems:
                click.secho(f"    ! {field_name}: {problem}", fg="yellow")
    for plugin, problems in sorted(catalog_problems(obj.kernel).items()):
        for problem in problems:
            click.secho(f"error: plugin {plugin}: {problem}", fg="red", err=True)


@series.command("set")
@click.argument("key")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant slug or id.")
@click.option("--pattern", default=None, help="e.g. 'INV/{FY}/{seq:04}'.")
@click.option("--reset", type=click.Choice(RESETS), default=None)
@click.option("--gap-free/--no-gap-free", default=None)
@click.option("--max-length", type=int, default=None, help="The series' own length limit (0: none).")
@click.option("--allowed-chars", default=None, help="Allowed characters, e.g. 'A-Za-z0-9/-' ('': no limit).")
@click.pass_obj
@_udyog_errors
def series_set(
    obj: _Obj,
    key: str,
    tenant_ref: str,
    pattern: str | None,
    reset: str | None,
    gap_free: bool | None,
    max_length: int | None,
    allowed_chars: str | None,
) -> None:
    """Change a series' settings; they are checked against every limit in force first."""
    from udyog.series import KEEP, set_series

    changes: dict[str, Any] = {
        "pattern": KEEP if pattern is None else pattern,
        "reset": KEEP if reset is None else reset,
        "gap_free": KEEP if gap_free is None else gap_free,
        "max_length": KEEP if max_length is None else (max_length or None),
        "allowed_chars": KEEP if allowed_chars is None else (allowed_chars or None),
    }
    with obj.kernel.tenant_scope(tenant_ref) as scope:
        item = set_series(scope, key, **changes)
        scope.session.commit()
        slug = scope.tenant.slug
    click.echo(f"series {key} of {slug}: {item['pattern']} ({item['reset']}), next {item['next_number'] or '-'}")


# -- events ----------------------------------------------------------------------


@main.group()
def events() -> None:
    """The domain event outbox."""


@events.command("dispatch")
@click.pass_obj
def events_dispatch(obj: _Obj) -> None:
    """Deliver events left pending (a crash after commit, failed listeners)."""
    count = obj.kernel.dispatcher.dispatch_pending()
    click.echo(f"delivered {count} pending event(s)")


# -- serving and demo ----------------------------------------------------------------


@main.command("demo")
@click.pass_obj
def demo_cmd(obj: _Obj) -> None:
    """Create the demo tenant with every loaded plugin enabled (idempotent)."""
    from udyog.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo

    slug = load_demo(obj.kernel, report=lambda line: click.echo(f"  {line}"))
    click.echo(f"demo tenant ready: {slug}")
    password = os.environ.get("UDYOG_DEMO_PASSWORD", DEMO_PASSWORD)
    click.secho(f"log in as {DEMO_EMAIL} with password {password}", fg="green")


def _require_head(kernel: Any) -> None:
    from udyog.migrate import branches_behind

    pending = branches_behind(kernel)
    if pending:
        _fail(f"database not at head for: {', '.join(pending)} — run 'udyog db upgrade' first")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--jobs/--no-jobs",
    "with_jobs",
    default=None,
    help="Start a job worker with beat beside the server (default: only with the embedded queue, no Redis).",
)
@click.pass_obj
def run_cmd(obj: _Obj, host: str, port: int, workers: int, with_jobs: bool | None) -> None:
    """Serve the API with gunicorn (a production WSGI server), with a job worker in the embedded mode."""
    import subprocess

    from udyog.app import create_app
    from udyog.server import serve

    kernel = obj.kernel
    _require_head(kernel)
    app = create_app(kernel=kernel)
    kernel.db.dispose()
    worker = None
    if kernel.settings.jobs_embedded if with_jobs is None else with_jobs:
        # The worker inherits the environment (database, plugins file, data directory) and
        # stops when this process ends.
        worker = subprocess.Popen(
            [sys.executable, "-m", "udyog.cli", *obj.argv, "worker", "--beat", "--parent-pid", str(os.getpid())]
        )
        click.secho(f"job worker with beat started (pid {worker.pid})", fg="green")
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.secho(
        f"Udyog is serving at http://{shown}:{port}/  (API: /api/v1/health, OpenAPI: /api/openapi.json)", fg="green"
    )
    try:
        serve(app, host=host, port=port, workers=workers)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


@main.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, type=int, help="Pool processes.")
@click.option("--pool", default="prefork", show_default=True, type=click.Choice(["prefork", "solo", "threads"]))
@click.option("--beat/--no-beat", default=False, help="Run beat (the scheduler) inside this worker.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Worker name (default: udyog@<host>).")
@click.option("--parent-pid", default=None, type=int, hidden=True)
@click.pass_obj
def worker_cmd(
    obj: _Obj, concurrency: int, pool: str, beat: bool, loglevel: str, hostname: str | None, parent_pid: int | None
) -> None:
    """Run a Celery worker executing background jobs (Redis, or the embedded SQLite queue)."""
    from udyog.app import create_app
    from udyog.worker import watch_parent

    kernel = obj.kernel
    _require_head(kernel)
    _ensure_sqlite_dir(kernel)
    app = create_app(kernel=kernel, dispatch_pending=False)
    kernel.db.dispose()
    if parent_pid is not None:
        watch_parent(parent_pid)
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", f"--pool={pool}"]
    if hostname:
        argv += ["--hostname", hostname]
    if beat:
        argv.append("--beat")
    app.extensions["celery"].worker_main(argv)


@main.command("beat")
@click.option("--loglevel", default="INFO", show_default=True)
@click.pass_obj
def beat_cmd(obj: _Obj, loglevel: str) -> None:
    """Run beat, which queues the plugins' periodic tasks (run exactly one per deployment)."""
    from udyog.app import create_app

    kernel = obj.kernel
    _require_head(kernel)
    _ensure_sqlite_dir(kernel)
    app = create_app(kernel=kernel, dispatch_pending=False)
    kernel.db.dispose()
    app.extensions["celery"].start(["beat", f"--loglevel={loglevel}"])


@main.group("jobs")
def jobs_group() -> None:
    """Background jobs: health checks of workers and beat (for container health checks)."""


@jobs_group.command("ping")
@click.option("--beat", is_flag=True, help="Ping beat (the scheduler) instead of the workers.")
@click.option("--timeout", default=5.0, show_default=True, type=float, help="Seconds to wait for answers.")
@click.option("--any-host", is_flag=True, help="A process on any host may answer, not only one on this host.")
@click.pass_obj
def jobs_ping(obj: _Obj, beat: bool, timeout: float, any_host: bool) -> None:
    """Exit 0 when a worker (or beat) on this host answers a ping through the deployment's broker.

    Beat answers as ``celerybeat@<host>`` and stops answering when its scheduler
    stopped ticking, so a wedged beat fails this check too.
    """
    import socket

    from celery import Celery

    from udyog.worker import celery_config

    settings = _settings(obj)
    if settings.jobs_embedded:
        _fail("the embedded queue answers no pings: this check needs UDYOG_REDIS_URL")
    app = Celery("udyog-ping")
    app.config_from_object(celery_config(settings))
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # noqa: BLE001 - an unreachable broker is an unhealthy worker
        _fail(f"cannot reach the broker: {exc}")
    names = sorted(name for reply in replies for name in reply)
    host = socket.gethostname()
    what = "beat" if beat else "worker"
    mine = [
        name
        for name in names
        if name.startswith("celerybeat@") is beat and (any_host or name.partition("@")[2] == host)
    ]
    if not mine:
        where = "" if any_host else f" on host {host}"
        others = f" (others did: {', '.join(names)})" if names else ""
        _fail(f"no {what}{where} answered within {timeout:g} s{others}")
    click.echo(f"answered: {', '.join(mine)}")


# -- plugin development ------------------------------------------------------------------


@main.group()
def plugin() -> None:
    """Plugin development: scaffold a new plugin, check one before publishing."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=None,
    help="Directory to create (default: ./udyog-NAME); it must not exist or be empty.",
)
def plugin_new(name: str, directory: str | None) -> None:
    """Scaffold the plugin distribution udyog-NAME: model, migration, schema, resource, page, hooks, tests."""
    from pathlib import Path

    from udyog.scaffold import ScaffoldError, scaffold

    try:
        made = scaffold(name, Path(directory) if directory else None)
    except ScaffoldError as exc:
        _fail(str(exc))
        return
    click.echo(f"created {made.distribution} in {made.directory}")
    for path in made.files:
        click.echo(f"  {path}")
    click.echo(f"next: pip install -e '{made.directory}[test]' && (cd {made.directory} && pytest)")
    click.echo(f"      udyog plugin check {made.directory}")


@plugin.command("check")
@click.argument("target", default=".")
@click.option(
    "--postgresql",
    "postgresql",
    envvar="UDYOG_CHECK_POSTGRESQL_URL",
    default=None,
    help="Also run the database checks on a scratch database created beside this administrative PostgreSQL URL.",
)
def plugin_check_cmd(target: str, postgresql: str | None) -> None:
    """Check a plugin before publishing it: TARGET is its directory (default: .) or an installed plugin's name.

    Exits with status 1 when a check finds an error, 2 when TARGET cannot be read.
    """
    from udyog.plugin_check import CheckError, check

    try:
        reports = check(target, postgresql=postgresql)
    except CheckError as exc:
        _fail(str(exc))
        return
    errors = warnings = 0
    for report in reports:
        for line, colour in report.lines():
            click.secho(line, fg=colour)
        errors += len(report.errors)
        warnings += len(report.warnings)
    names = ", ".join(r.name for r in reports)
    summary = f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''} ({names})"
    if errors:
        click.secho(f"plugin check failed: {summary}", fg="red")
        sys.exit(1)
    click.secho(f"plugin check passed: {summary}", fg="green")


# -- docs ------------------------------------------------------------------------------


@main.group()
def docs() -> None:
    """Generated documentation."""


@docs.command("hooks")
@click.option("--output", "-o", default="-", help="File to write (default: standard output).")
@click.pass_obj
def docs_hooks(obj: _Obj, output: str) -> None:
    """Write the hook reference (Markdown) from the hook specifications."""
    from udyog.hookdocs import render_hook_reference

    text = render_hook_reference(obj.kernel)
    if output == "-":
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}")


if __name__ == "__main__":  # pragma: no cover
    main()
