"""Per-tenant plugin settings: declarations, resolution cached per revision, changes.

Plugins declare a schema through ``udyog_settings`` (see
:class:`udyog_sdk.SettingsSchema`). A tenant's value of a setting is, first
found: the value the tenant stored, the deployment's value in
``plugins.toml`` (``[settings.<plugin>]``), the schema's ``load_default``.

**Storage.** One place: ``core_tenant.settings``, keyed by plugin::

    {"ledger": {"version": 3, "values": {"recent_count": 8}}}

Only values the tenant set are stored, in the schema's dumped (JSON) form;
``version`` counts the changes of that plugin's settings (optimistic locking).
Every change bumps ``core_tenant.settings_rev`` and is written to the audit
log (entity ``core_settings``, record id the plugin's name).

**Reading costs nothing per request.** :meth:`PluginSettings.resolve` loads
the stored values through each enabled plugin's schema once per (tenant,
settings revision, enabled plugins) and process, and caches the read-only
result, which becomes :attr:`udyog_sdk.TenantContext.settings`. The per-request
login check reads only the revision; the JSON is read again after a change.

**Stale values.** A stored value the schema no longer accepts (a plugin
upgrade changed a field) falls back to the deployment's value or the default,
with a warning in the log; values of fields that no longer exist are ignored.
The tenant's next save drops both.

**Disabling** a plugin keeps its stored settings (enabling it again restores
them) unless the tenant asks to purge them (:func:`purge`);
uninstalling a plugin purges them from every tenant.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from sqlalchemy import select

from udyog.models import Tenant
from udyog.registry import CORE_NAME
from udyog_sdk import SettingsSchema, UdyogError
from udyog_sdk.api import flatten_messages

if TYPE_CHECKING:
    from udyog.db import TenantSession
    from udyog.kernel import Kernel
    from udyog_sdk import Principal

log = logging.getLogger("udyog.settings")

#: The audit log's entity for settings changes.
AUDIT_ENTITY = "core_settings"
#: Permissions to see and to change settings (plus a declaration's own ``permission``).
READ_PERMISSION = "core.settings.read"
MANAGE_PERMISSION = "core.settings.manage"

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The 404 for a plugin without settings here (the name is not echoed: it came from the path).
NO_SETTINGS = "this plugin has no settings for this tenant (not installed, not enabled, or none declared)"


class SettingsDeclarationError(ValueError):
    """A plugin's ``udyog_settings`` declaration breaks a rule (the plugin is unloaded)."""


@dataclass(frozen=True)
class Declared:
    """A validated settings declaration."""

    plugin: str
    spec: SettingsSchema
    schema: ma.Schema
    #: The deployment's values from plugins.toml (validated, input form).
    deployment: Mapping[str, Any]
    #: What a tenant that stored nothing gets (loaded values).
    defaults: Mapping[str, Any]

    @property
    def title(self) -> str:
        """The settings page's heading."""
        return self.spec.title

    def names(self) -> list[str]:
        """The settings' input names, in declaration order."""
        return [f.data_key or name for name, f in self.schema.fields.items()]

    def dump(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Loaded values in their JSON form."""
        return dict(self.schema.dump(values))


@dataclass(frozen=True)
class Loaded:
    """A plugin's settings for one tenant: values and what the tenant stored."""

    values: Mapping[str, Any]
    #: The stored values (JSON form), as kept in the database.
    stored: Mapping[str, Any]
    version: int
    #: Stored values that were not used: field → reasons.
    problems: Mapping[str, list[str]]


def _entry(raw: Any) -> tuple[int, dict[str, Any]]:
    """(version, stored values) of one plugin's entry in ``core_tenant.settings``."""
    if isinstance(raw, Mapping):
        version = raw.get("version")
        values = raw.get("values")
        if isinstance(version, int) and isinstance(values, Mapping):
            return version, dict(values)
    return 0, {}


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # SQLite's JSON through a raw driver row
        value = json.loads(value)
    return dict(value) if isinstance(value, Mapping) else {}


class PluginSettings:
    """The declared settings of every loaded plugin, and per-tenant resolution."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.declared: dict[str, Declared] = {}
        for plugin, spec in kernel.bus.collect_safely("udyog_settings", on_error=kernel.registry.unload):
            self._isolated(plugin, spec)
        deployment = kernel.settings.plugins.settings
        for name in sorted(set(deployment) - set(self.declared)):
            log.warning("plugins.toml has [settings.%s], but no loaded plugin %r declares settings", name, name)
        self._cache: dict[uuid.UUID, tuple[int, frozenset[str], Mapping[str, Mapping[str, Any]]]] = {}
        self._lock = threading.Lock()

    # -- declarations --------------------------------------------------------------

    def _isolated(self, plugin: str, spec: Any) -> None:
        registry = self.kernel.registry
        if plugin != CORE_NAME and plugin not in registry.loaded_names():
            return
        try:
            self.declared[plugin] = self._declare(plugin, spec)
        except SettingsDeclarationError as exc:
            if plugin == CORE_NAME:
                raise
            gone = {plugin, *registry.unload(plugin, f"invalid declaration: {exc}")}
            self.declared = {k: v for k, v in self.declared.items() if k not in gone}
            self.kernel.bus.refresh(registry.order)

    def _declare(self, plugin: str, spec: Any) -> Declared:
        def fail(message: str) -> SettingsDeclarationError:
            return SettingsDeclarationError(f"plugin {plugin}: udyog_settings: {message}")

        if not isinstance(spec, SettingsSchema):
            raise fail(f"must return a SettingsSchema, not {type(spec).__name__}")
        if not isinstance(spec.title, str) or not spec.title.strip():
            raise fail("the title must be a non-empty string")
        schema_spec: Any = spec.schema
        if isinstance(schema_spec, type) and issubclass(schema_spec, ma.Schema):
            schema = schema_spec()
        elif isinstance(schema_spec, ma.Schema):
            schema = schema_spec
        else:
            raise fail(f"schema must be a marshmallow Schema class or instance, not {schema_spec!r}")
        if not schema.fields:
            raise fail("the schema has no fields")
        for name, fld in schema.fields.items():
            if fld.dump_only or fld.load_only:
                raise fail(f"field {name!r} is dump_only or load_only: settings are read and written alike")
            if fld.load_default is ma.missing:
                raise fail(f"field {name!r} has no load_default: every setting needs a default")
        if spec.permission is not None:
            owner = self.kernel.security.permissions.get(spec.permission)
            if owner is None or owner[0] != plugin:
                raise fail(f"permission {spec.permission!r} is not one the plugin declares")
        deployment = dict(self.kernel.settings.plugins.settings.get(plugin, {}))
        try:
            defaults = schema.load(deployment, unknown=ma.RAISE)
            json.dumps(schema.dump(defaults))
        except ma.ValidationError as exc:
            problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in flatten_messages(exc.messages).items())
            where = f"plugins.toml [settings.{plugin}]" if deployment else "the defaults"
            raise fail(f"{where} do not load: {problems}") from None
        except (TypeError, ValueError) as exc:
            raise fail(f"the defaults cannot be stored as JSON: {exc}") from None
        return Declared(plugin, spec, schema, MappingProxyType(deployment), MappingProxyType(dict(defaults)))

    def declaration(self, plugin: str) -> Declared | None:
        """The declaration of ``plugin``, if it declares settings and is loaded."""
        return self.declared.get(plugin)

    def visible(self, enabled: Iterable[str]) -> list[Declared]:
        """Declarations of the core and the ``enabled`` plugins, in page order."""
        wanted = {CORE_NAME, *enabled}
        found = [d for p, d in self.declared.items() if p in wanted]
        return sorted(found, key=lambda d: (d.spec.weight, d.title.casefold(), d.plugin))

    # -- resolution ----------------------------------------------------------------------

    def load(self, declared: Declared, raw: Any, *, tenant: str = "?") -> Loaded:
        """One plugin's entry of ``core_tenant.settings`` loaded through its schema (stale values dropped)."""
        version, stored = _entry(raw)
        names = set(declared.names())
        problems: dict[str, list[str]] = {
            key: ["not a setting of this plugin (any more): ignored"] for key in stored if key not in names
        }
        known = {k: v for k, v in stored.items() if k in names}
        try:
            values = declared.schema.load({**declared.deployment, **known}, unknown=ma.EXCLUDE)
        except ma.ValidationError as exc:
            found = flatten_messages(exc.messages)
            bad = {key.split(".", 1)[0] for key in found}
            problems.update(found)
            kept = {} if "_schema" in bad else {k: v for k, v in known.items() if k not in bad}
            try:
                values = declared.schema.load({**declared.deployment, **kept}, unknown=ma.EXCLUDE)
            except ma.ValidationError:
                values = dict(declared.defaults)
        if problems:
            log.warning(
                "tenant %s: stored settings of %s do not load (%s); using the defaults for them",
                tenant,
                declared.plugin,
                "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(problems.items())),
            )
        return Loaded(MappingProxyType(dict(values)), MappingProxyType(stored), version, MappingProxyType(problems))

    def resolve(
        self,
        tenant_id: uuid.UUID,
        rev: int,
        enabled: frozenset[str],
        read: Callable[[], Any],
        *,
        slug: str = "?",
    ) -> Mapping[str, Mapping[str, Any]]:
        """The settings of the core and every enabled plugin that declares some: plugin → values.

        Cached per (tenant, ``rev``, ``enabled``); ``read()`` returns the
        stored ``core_tenant.settings`` and is called only on a miss.
        """
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] == rev and (cached[1] is enabled or cached[1] == enabled):
            return cached[2]
        if not self.declared:
            return _EMPTY
        raw = _json(read())
        resolved: dict[str, Mapping[str, Any]] = {}
        for plugin, declared in self.declared.items():
            if plugin == CORE_NAME or plugin in enabled:
                resolved[plugin] = self.load(declared, raw.get(plugin), tenant=slug).values
        result: Mapping[str, Mapping[str, Any]] = MappingProxyType(resolved)
        with self._lock:
            self._cache[tenant_id] = (rev, enabled, result)
        return result

    # -- access ----------------------------------------------------------------------------

    def may_read(self, declared: Declared, user: Principal | None) -> bool:
        """Whether ``user`` may see ``declared``'s settings (None: system work, always)."""
        if user is None:
            return True
        extra = declared.spec.permission
        return user.can(READ_PERMISSION) and (extra is None or user.can(extra))

    def may_change(self, declared: Declared, user: Principal | None) -> bool:
        """Whether ``user`` may change ``declared``'s settings (None: system work, always)."""
        if user is None:
            return True
        extra = declared.spec.permission
        return user.can(MANAGE_PERMISSION) and (extra is None or user.can(extra))


def accessible(kernel: Kernel, plugin: str, *, change: bool = False) -> Declared:
    """The declaration of ``plugin`` for the current request: 404 unless the tenant has it, 403 without access.

    The route itself requires ``core.settings.read`` (or ``.manage``); a
    declaration's own ``permission`` is checked here.
    """
    from udyog_sdk import current_tenant, current_user

    declared = kernel.plugin_settings.declaration(plugin)
    tenant = current_tenant()
    if declared is None or (plugin != CORE_NAME and not tenant.is_enabled(plugin)):
        raise UdyogError(NO_SETTINGS, status=404)
    user = current_user()
    allowed = (
        kernel.plugin_settings.may_change(declared, user) if change else kernel.plugin_settings.may_read(declared, user)
    )
    if not allowed:
        needed = declared.spec.permission or (MANAGE_PERMISSION if change else READ_PERMISSION)
        raise UdyogError(f"permission required: {needed}", status=403, errors={"permission": [needed]})
    return declared


def as_data(declared: Declared, loaded: Loaded, *, can_change: bool) -> dict[str, Any]:
    """One plugin's settings as the API shows them (JSON values)."""
    return {
        "plugin": declared.plugin,
        "title": declared.title,
        "description": declared.spec.description,
        "version": loaded.version,
        "values": declared.dump(loaded.values),
        "defaults": declared.dump(declared.defaults),
        "stored": sorted(loaded.stored),
        "invalid": {k: list(v) for k, v in loaded.problems.items()},
        "can_change": can_change,
    }


# -- reading and changing a tenant's settings ----------------------------------------------------


def _stored_settings(session: TenantSession, tenant_id: uuid.UUID, *, lock: bool) -> Tenant:
    query = select(Tenant).where(Tenant.id == tenant_id)
    if lock:
        # FOR NO KEY UPDATE: serialises settings changes without blocking the tenant's inserts
        # (their foreign keys take FOR KEY SHARE on the tenant's row).
        query = query.with_for_update(key_share=True)
    tenant = session.scalar(query)
    if tenant is None:
        raise UdyogError("no such tenant", status=404)
    return tenant


def read(kernel: Kernel, session: TenantSession, tenant_id: uuid.UUID, plugin: str) -> tuple[Declared, Loaded]:
    """A plugin's settings as stored now for the session's tenant (fresh from the database)."""
    declared = kernel.plugin_settings.declaration(plugin)
    if declared is None:
        raise UdyogError(NO_SETTINGS, status=404)
    tenant = _stored_settings(session, tenant_id, lock=False)
    raw = _json(tenant.settings).get(plugin)
    return declared, kernel.plugin_settings.load(declared, raw, tenant=tenant.slug)


def save(
    kernel: Kernel,
    session: TenantSession,
    tenant_id: uuid.UUID,
    plugin: str,
    values: Any,
    version: int,
    *,
    partial: bool,
) -> tuple[Declared, Loaded]:
    """Store a tenant's settings of ``plugin`` (the caller commits); returns them as stored.

    ``values`` maps setting names to input values; ``partial`` keeps the
    stored values not named (PATCH), otherwise values left out fall back to
    their defaults (PUT). ``version`` must be the version read (0 before the
    first save), else 409. Invalid input answers 422 naming each field as
    ``values.<name>``; nothing is written then. A save that changes nothing
    keeps the version.
    """
    declared = kernel.plugin_settings.declaration(plugin)
    if declared is None:
        raise UdyogError(NO_SETTINGS, status=404)
    if not isinstance(values, Mapping):
        raise UdyogError("invalid settings", status=422, errors={"values": ["must be an object"]})
    tenant = _stored_settings(session, tenant_id, lock=True)
    current = _json(tenant.settings)
    loaded = kernel.plugin_settings.load(declared, current.get(plugin), tenant=tenant.slug)
    if version != loaded.version:
        raise UdyogError(
            "these settings were changed by someone else since you read them: reload them and apply your change again",
            status=409,
            errors={"version": [f"stale: the settings are at version {loaded.version}"]},
        )
    names = set(declared.names())
    errors = {f"values.{key}": ["not a setting of this plugin"] for key in values if key not in names}
    usable = {k: v for k, v in loaded.stored.items() if k not in loaded.problems}
    given = {k: v for k, v in values.items() if k in names}
    wanted = {**usable, **given} if partial else given
    try:
        result = declared.schema.load({**declared.deployment, **wanted}, unknown=ma.RAISE)
    except ma.ValidationError as exc:
        errors.update({f"values.{key}": messages for key, messages in flatten_messages(exc.messages).items()})
    if errors:
        raise UdyogError("invalid settings", status=422, errors=errors)
    dumped = declared.dump(result)
    stored = {key: dumped[key] for key in declared.names() if key in wanted and key in dumped}
    if stored == dict(loaded.stored) and not loaded.problems:
        return declared, loaded
    new_version = loaded.version + 1
    tenant.settings = {**current, plugin: {"version": new_version, "values": stored}}
    tenant.settings_rev = (tenant.settings_rev or 0) + 1
    from udyog import audit

    before = dict(loaded.stored)
    if not before and loaded.version == 0:
        audit.record(session, tenant_id, AUDIT_ENTITY, plugin, audit.INSERT, {"after": stored})
    else:
        changes = {
            key: {"before": before.get(key), "after": stored.get(key)}
            for key in sorted(set(before) | set(stored))
            if before.get(key) != stored.get(key) or (key in before) != (key in stored)
        }
        audit.record(session, tenant_id, AUDIT_ENTITY, plugin, audit.UPDATE, changes)
    session.flush()
    loaded = Loaded(MappingProxyType(dict(result)), MappingProxyType(stored), new_version, MappingProxyType({}))
    return declared, loaded


def purge(session: TenantSession, tenant_id: uuid.UUID, plugins: Iterable[str]) -> list[str]:
    """Forget a tenant's stored settings of ``plugins`` (defaults apply again); the caller commits.

    Works for plugins that are disabled, or no longer installed. Returns the
    plugins whose settings were removed (audited as deletes).
    """
    from udyog import audit

    tenant = _stored_settings(session, tenant_id, lock=True)
    current = _json(tenant.settings)
    removed = sorted(p for p in set(plugins) if p in current)
    if not removed:
        return []
    for plugin in removed:
        _, stored = _entry(current[plugin])
        audit.record(session, tenant_id, AUDIT_ENTITY, plugin, audit.DELETE, {"before": stored})
    tenant.settings = {k: v for k, v in current.items() if k not in removed}
    tenant.settings_rev = (tenant.settings_rev or 0) + 1
    session.flush()
    return removed


def stored_plugins(session: TenantSession, tenant_id: uuid.UUID) -> list[str]:
    """The plugins the tenant stored settings for (enabled or not, installed or not)."""
    tenant = _stored_settings(session, tenant_id, lock=False)
    return sorted(_json(tenant.settings))


def purge_everywhere(kernel: Kernel, plugin: str) -> list[uuid.UUID]:
    """Purge ``plugin``'s stored settings from every tenant (uninstalling); returns those tenants."""
    with kernel.db.session(write=False) as session:
        rows = session.execute(select(Tenant.id, Tenant.settings)).all()
    holders = [tenant_id for tenant_id, raw in rows if plugin in _json(raw)]
    for tenant_id in holders:
        with kernel.db.session() as session:
            session.bind_tenant(tenant_id)
            purge(session, tenant_id, [plugin])
            session.commit()
    return holders


__all__ = [
    "AUDIT_ENTITY",
    "MANAGE_PERMISSION",
    "NO_SETTINGS",
    "READ_PERMISSION",
    "Declared",
    "Loaded",
    "PluginSettings",
    "SettingsDeclarationError",
    "accessible",
    "as_data",
    "purge",
    "purge_everywhere",
    "read",
    "save",
    "stored_plugins",
]
