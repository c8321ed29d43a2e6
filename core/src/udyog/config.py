"""Settings from the environment (``UDYOG_*``), ``plugins.toml`` and overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-secret-change-me-before-deploying"


class ConfigError(ValueError):
    """The configuration is invalid (bad plugins.toml, bad variable)."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number


def _names(value: str | None) -> tuple[str, ...] | None:
    """A comma-separated list (None when unset or empty)."""
    names = tuple(part.strip().lower() for part in (value or "").split(",") if part.strip())
    return names or None


def _truthy(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class PluginsFile:
    """The deployment's plugin selection, read from ``plugins.toml``.

    ``enabled`` holds plugin names, or ``"*"`` for every installed plugin.
    ``settings`` holds the ``[settings.<plugin>]`` tables (parsed and validated;
    not yet exposed to plugins).
    """

    enabled: tuple[str, ...] = ()
    strict: bool = False
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> PluginsFile:
        """Parse ``path``; a missing file means no plugins are enabled."""
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        deployment = data.get("deployment", {})
        enabled = deployment.get("enabled", [])
        if not isinstance(enabled, list) or not all(isinstance(x, str) for x in enabled):
            raise ConfigError(f"{path}: [deployment] enabled must be a list of plugin names")
        settings = data.get("settings", {})
        if not isinstance(settings, dict):
            raise ConfigError(f"{path}: [settings] must be a table of tables")
        return cls(
            enabled=tuple(enabled),
            strict=bool(deployment.get("strict", False)),
            settings=settings,
        )

    def is_enabled(self, name: str) -> bool:
        """Whether the deployment enables plugin ``name``."""
        return "*" in self.enabled or name in self.enabled


@dataclass(frozen=True)
class Settings:
    """Everything the kernel is configured with."""

    database_url: str
    secret_key: str
    plugins: PluginsFile
    strict_plugins: bool = False
    #: The application's own database role on PostgreSQL (non-owner, not a
    #: superuser, subject to row-level security). Migrations run as the URL's
    #: user; the app switches to this role when it is set.
    app_db_role: str | None = None
    #: Switch off the ORM tenant filter (tests only: proves RLS holds alone).
    orm_tenant_filter: bool = True
    #: Dispatch outbox events left pending by a previous process at start.
    dispatch_pending_on_start: bool = True
    #: argon2 cost: "default" (RFC 9106 low-memory profile) or "fast" (tests only).
    password_hash_profile: str = "default"
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are
    #: trusted (0: none). The login limit per address needs the client's address.
    proxy_hops: int = 0
    #: Send auth cookies only over HTTPS (set on any deployment served over TLS).
    secure_cookies: bool = False
    #: Lifetime of access tokens in minutes (refresh tokens live with the login session).
    access_token_minutes: int = 15
    #: Redis: the broker and result store of background jobs in production.
    redis_url: str | None = None
    #: Where local files live (the embedded SQLite database and job queue, beat's state).
    data_dir: str = "var"
    #: Seconds a task may run before it is stopped (per-task limits may differ).
    jobs_time_limit: int = 1500
    #: Seconds after which Redis hands an unacknowledged message (a dead worker's) to another worker.
    #: Must exceed the longest task; see docs/jobs.md.
    jobs_visibility_timeout: int = 1800
    #: Run tasks in the sending process when their transaction commits (tests only).
    jobs_eager: bool = False
    #: The Celery queue of this deployment (several deployments may share one Redis).
    jobs_queue: str = "udyog"
    #: The timezone of cron schedules.
    timezone: str = "Asia/Kolkata"
    #: SMTP server for e-mail notifications (None: e-mails are written to the log).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "udyog@localhost"
    smtp_starttls: bool = False
    #: SMS and WhatsApp gateways: "log" (write to the log) or "module:factory".
    sms_gateway: str = "log"
    whatsapp_gateway: str = "log"
    #: Attachments: where files live (None: ``<data_dir>/attachments``), the largest file,
    #: the content types allowed (None: the default allow-list), and the storage
    #: ("local" or "module:factory"); see docs/attachments.md.
    attachments_dir: str | None = None
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_types: tuple[str, ...] | None = None
    attachment_storage: str = "local"
    #: Imports: the largest file, the most rows, and from how many rows on a file is imported
    #: by a background job; exports: the most rows a list export holds (docs/import-export.md).
    import_max_bytes: int = 10 * 1024 * 1024
    import_max_rows: int = 10_000
    import_background_rows: int = 200
    export_max_rows: int = 10_000
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``) and overrides.

        Overrides use the field names (``database_url``, ``plugins``, ...);
        ``plugins`` may be a :class:`PluginsFile`, a list of names, or a path.
        """
        env = os.environ if environ is None else environ
        plugins_path = Path(env.get("UDYOG_PLUGINS_FILE", "plugins.toml"))
        database_url = env.get("UDYOG_DATABASE_URL") or _default_sqlite_url(env)
        settings = cls(
            database_url=database_url,
            secret_key=env.get("UDYOG_SECRET_KEY", DEFAULT_SECRET_KEY),
            plugins=PluginsFile.read(plugins_path),
            strict_plugins=_truthy(env.get("UDYOG_STRICT_PLUGINS")),
            app_db_role=env.get("UDYOG_APP_DB_ROLE") or None,
            redis_url=env.get("UDYOG_REDIS_URL") or None,
            data_dir=env.get("UDYOG_DATA_DIR", "var"),
            jobs_time_limit=_int(env, "UDYOG_JOBS_TIME_LIMIT", 1500),
            jobs_visibility_timeout=_int(env, "UDYOG_JOBS_VISIBILITY_TIMEOUT", 1800),
            jobs_eager=_truthy(env.get("UDYOG_JOBS_EAGER")),
            jobs_queue=env.get("UDYOG_JOBS_QUEUE") or "udyog",
            timezone=env.get("UDYOG_TIMEZONE", "Asia/Kolkata"),
            secure_cookies=_truthy(env.get("UDYOG_SECURE_COOKIES")),
            proxy_hops=_int(env, "UDYOG_PROXY_HOPS", 0),
            smtp_host=env.get("UDYOG_SMTP_HOST") or None,
            smtp_port=_int(env, "UDYOG_SMTP_PORT", 25),
            smtp_user=env.get("UDYOG_SMTP_USER") or None,
            smtp_password=env.get("UDYOG_SMTP_PASSWORD") or None,
            smtp_from=env.get("UDYOG_SMTP_FROM") or "udyog@localhost",
            smtp_starttls=_truthy(env.get("UDYOG_SMTP_STARTTLS")),
            sms_gateway=env.get("UDYOG_SMS_GATEWAY") or "log",
            whatsapp_gateway=env.get("UDYOG_WHATSAPP_GATEWAY") or "log",
            attachments_dir=env.get("UDYOG_ATTACHMENTS_DIR") or None,
            attachment_max_bytes=_int(env, "UDYOG_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024),
            attachment_types=_names(env.get("UDYOG_ATTACHMENT_TYPES")),
            attachment_storage=env.get("UDYOG_ATTACHMENT_STORAGE") or "local",
            import_max_bytes=_int(env, "UDYOG_IMPORT_MAX_BYTES", 10 * 1024 * 1024),
            import_max_rows=_int(env, "UDYOG_IMPORT_MAX_ROWS", 10_000),
            import_background_rows=_int(env, "UDYOG_IMPORT_BACKGROUND_ROWS", 200),
            export_max_rows=_int(env, "UDYOG_EXPORT_MAX_ROWS", 10_000),
        )
        settings = replace(settings, database_url=normalize_database_url(settings.database_url))
        if settings.plugins.strict:
            settings = replace(settings, strict_plugins=True)
        if overrides:
            values = dict(overrides)
            plugins = values.get("plugins")
            if isinstance(plugins, (list, tuple)):
                values["plugins"] = PluginsFile(enabled=tuple(plugins))
            elif isinstance(plugins, (str, Path)):
                values["plugins"] = PluginsFile.read(Path(plugins))
            known = {f for f in cls.__dataclass_fields__}
            unknown = set(values) - known
            if unknown:
                raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
            settings = replace(settings, **values)
            settings = replace(settings, database_url=normalize_database_url(settings.database_url))
        return settings

    @property
    def jobs_embedded(self) -> bool:
        """Whether jobs go through the embedded SQLite queue (no Redis configured)."""
        return not self.redis_url

    @property
    def broker_url(self) -> str:
        """The Celery broker: Redis in production, kombu's SQLAlchemy transport on a SQLite file otherwise."""
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{Path(self.data_dir).resolve() / 'jobs.db'}"

    @property
    def result_backend(self) -> str | None:
        """Where Celery keeps task results: Redis in production; none in the embedded mode.

        Runs keep their own state, progress and errors (``core_job_run``); the
        result store only serves tools that read Celery results.
        """
        return self.redis_url or None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]


def normalize_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2 (SQLAlchemy 2.1 defaults to psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _default_sqlite_url(env: Mapping[str, str]) -> str:
    path = Path(env.get("UDYOG_DATA_DIR", "var")) / "udyog.db"
    return f"sqlite:///{path}"
