"""Tenant services: create tenants and branches, enable and disable plugins per tenant.

Plain functions over the kernel, called alike from the CLI, the API and tests.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, select, update

from udyog.db import TenantSession
from udyog.kernel import Kernel
from udyog.models import DEFAULT_TIMEZONE, Branch, Tenant, TenantPlugin
from udyog.registry import CORE_NAME
from udyog.series import seed_series
from udyog_sdk import UdyogError
from udyog_sdk.api import check_version

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
BRANCH_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,15}$")
STATE_CODE_RE = re.compile(r"^[0-9]{2}$")
TENANT_NAME_MAX_LENGTH = 200
BRANCH_NAME_MAX_LENGTH = 200
BRANCH_ADDRESS_MAX_LENGTH = 2000


def validate_timezone(name: str) -> str:
    """``name`` if it is an IANA timezone, else a field error."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UdyogError("invalid timezone", status=422, errors={"timezone": [f"unknown timezone {name!r}"]}) from None
    return name


def _check_tenant_name(name: str) -> str:
    """``name`` without surrounding blanks, or a field error."""
    if not isinstance(name, str) or not name.strip():
        raise UdyogError("invalid name", status=422, errors={"name": ["must not be empty"]})
    if len(name.strip()) > TENANT_NAME_MAX_LENGTH:
        raise UdyogError("invalid name", status=422, errors={"name": [f"at most {TENANT_NAME_MAX_LENGTH} characters"]})
    return name.strip()


def update_tenant(session: TenantSession, tenant_id: uuid.UUID, *, name: str, timezone: str) -> Tenant:
    """Change a tenant's name and timezone (the caller commits); 422 naming the field for a bad value.

    Both take effect at the next request in every process: the tenant's row
    is read per request.
    """
    errors: dict[str, list[str]] = {}
    for check, value in ((_check_tenant_name, name), (validate_timezone, timezone)):
        try:
            check(value)
        except UdyogError as exc:
            errors.update(exc.errors)
    if errors:
        raise UdyogError("invalid tenant settings", status=422, errors=errors)
    tenant = _lock_tenant(session, tenant_id)
    if tenant.name != name.strip():
        tenant.name = name.strip()
    if tenant.timezone != timezone:
        tenant.timezone = timezone
    session.flush()
    return tenant


def create_tenant(
    kernel: Kernel,
    slug: str,
    name: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    plugins: Iterable[str] | None = None,
) -> uuid.UUID:
    """Create a tenant and enable ``plugins`` for it (default: none).

    Returns the new tenant's id. Raises :class:`UdyogError` for a bad or taken
    slug, an unknown timezone or a plugin that cannot be enabled; nothing is
    written then.
    """
    if not SLUG_RE.match(slug):
        raise UdyogError(
            "invalid slug",
            status=422,
            errors={"slug": ["2-63 lower-case letters, digits and hyphens, not starting with a hyphen"]},
        )
    _check_tenant_name(name)
    validate_timezone(timezone)
    with kernel.db.session() as session:
        if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            raise UdyogError("slug taken", status=409, errors={"slug": [f"a tenant {slug!r} already exists"]})
        tenant = Tenant(slug=slug, name=name.strip(), timezone=timezone, settings={}, plugins_rev=0, security_rev=0)
        session.add(tenant)
        session.flush()
        session.bind_tenant(tenant.id)
        kernel.security.seed_roles(session, [CORE_NAME])
        _enable(kernel, session, tenant, list(plugins or ()))
        session.commit()
        return tenant.id


def create_branch(
    session: TenantSession,
    *,
    code: str,
    name: str,
    address: str = "",
    state_code: str | None = None,
) -> Branch:
    """Add a branch to the session's tenant (the caller commits).

    Bad values answer 422 by field (see :func:`branch_errors`); a code in use
    answers 409.
    """
    errors = branch_errors(code=code, name=name, address=address, state_code=state_code)
    if errors:
        raise UdyogError("invalid branch", status=422, errors=errors)
    if session.scalar(select(Branch.id).where(Branch.code == code)) is not None:
        raise UdyogError("branch code taken", status=409, errors={"code": [f"branch {code!r} already exists"]})
    branch = Branch(code=code, name=name.strip(), address=address, state_code=state_code)
    session.add(branch)
    session.flush()
    return branch


_KEEP: Any = object()


def branch_errors(
    *, code: Any = _KEEP, name: Any = _KEEP, address: Any = _KEEP, state_code: Any = _KEEP
) -> dict[str, list[str]]:
    """Problems of a branch's values, by field (empty: none); arguments left out are not checked.

    The one check of branch values: :func:`create_branch` and
    :func:`update_branch` (the API and the web pages) run it.
    """
    errors: dict[str, list[str]] = {}
    if code is not _KEEP and not (isinstance(code, str) and BRANCH_CODE_RE.match(code)):
        errors["code"] = ["1-16 upper-case letters, digits, '-' or '_'"]
    if name is not _KEEP:
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["must not be empty"]
        elif len(name.strip()) > BRANCH_NAME_MAX_LENGTH:
            errors["name"] = [f"at most {BRANCH_NAME_MAX_LENGTH} characters"]
    if address is not _KEEP and (not isinstance(address, str) or len(address) > BRANCH_ADDRESS_MAX_LENGTH):
        errors["address"] = [f"text of at most {BRANCH_ADDRESS_MAX_LENGTH} characters"]
    bad_state = not (isinstance(state_code, str) and STATE_CODE_RE.match(state_code))
    if state_code is not _KEEP and state_code is not None and bad_state:
        errors["state_code"] = ["two digits, e.g. 27 (the GST state code)"]
    return errors


def update_branch(session: TenantSession, branch: Branch, version: int | None, **changes: Any) -> Branch:
    """Change a branch's ``name``, ``address``, ``state_code`` or ``is_active`` (the caller commits).

    ``version`` is the version the caller read (a stale one answers 409).
    Bad values answer 422 by field; the code never changes.
    """
    unknown = sorted(set(changes) - {"name", "address", "state_code", "is_active"})
    if unknown:
        raise UdyogError("invalid branch", status=422, errors={k: ["cannot be changed"] for k in unknown})
    errors = branch_errors(**{k: v for k, v in changes.items() if k != "is_active"})
    if "is_active" in changes and not isinstance(changes["is_active"], bool):
        errors["is_active"] = ["must be true or false"]
    if errors:
        raise UdyogError("invalid branch", status=422, errors=errors)
    check_version(branch, version)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    for key, value in changes.items():
        if getattr(branch, key) != value:
            setattr(branch, key, value)
    session.flush()
    return branch


def _lock_tenant(session: TenantSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise UdyogError("no such tenant", status=404)
    return tenant


def enable_plugins(kernel: Kernel, tenant_ref: str | uuid.UUID, names: Iterable[str]) -> list[str]:
    """Enable plugins (and what they require) for a tenant; returns those newly enabled.

    Each newly enabled plugin's ``udyog_tenant_setup`` runs, in dependency
    order, in the same transaction. Takes effect in every process at once
    (the tenant's plugin revision changes).
    """
    with kernel.db.session() as session:
        found = kernel.find_tenant(session, tenant_ref)
        if found is None:
            raise UdyogError(f"no tenant {tenant_ref!r}", status=404)
        session.bind_tenant(found.id)
        tenant = _lock_tenant(session, found.id)
        added = _enable(kernel, session, tenant, list(names))
        session.commit()
        return added


def _enable(kernel: Kernel, session: TenantSession, tenant: Tenant, names: list[str]) -> list[str]:
    loaded = kernel.registry.loaded_names()
    for name in names:
        if name not in loaded:
            record = kernel.registry.get(name)
            why = (
                f"{record.state.value}: {record.error}"
                if record and record.error
                else (record.state.value if record else "not installed")
            )
            raise UdyogError(
                f"plugin {name!r} cannot be enabled ({why})",
                status=409,
                errors={"plugins": [f"{name}: {why}"]},
            )
    current = set(session.scalars(select(TenantPlugin.plugin)).all())
    wanted = kernel.registry.dependency_closure(names)
    added = [n for n in wanted if n not in current]
    if not added:
        return []
    for name in added:
        session.add(TenantPlugin(plugin=name))
    session.flush()
    enabled_after = frozenset(current | set(added)) & loaded
    context = kernel.context_for(session, tenant, enabled=enabled_after)
    kernel.security.seed_roles(session, added)
    with kernel.bound(context, session) as scope:
        for name in added:
            scope.hooks.call_plugin(name, "udyog_tenant_setup", tenant=context, session=session)
    seed_series(kernel, session, context, added)
    session.execute(update(Tenant).where(Tenant.id == tenant.id).values(plugins_rev=Tenant.plugins_rev + 1))
    return added


def disable_plugins(
    kernel: Kernel, tenant_ref: str | uuid.UUID, names: Iterable[str], *, purge_settings: bool = False
) -> list[str]:
    """Disable plugins for a tenant; refused while an enabled plugin requires one of them.

    Each plugin's ``udyog_tenant_teardown`` runs first; its data stays, and so
    do the tenant's settings of it (enabling it again restores them) unless
    ``purge_settings`` forgets them in the same transaction.
    Returns the plugins that were disabled.
    """
    names = list(names)
    with kernel.db.session() as session:
        found = kernel.find_tenant(session, tenant_ref)
        if found is None:
            raise UdyogError(f"no tenant {tenant_ref!r}", status=404)
        session.bind_tenant(found.id)
        tenant = _lock_tenant(session, found.id)
        current = set(session.scalars(select(TenantPlugin.plugin)).all())
        removing = [n for n in names if n in current]
        remaining = current - set(removing)
        for name in removing:
            blockers = kernel.registry.dependants(name, remaining)
            if blockers:
                raise UdyogError(
                    f"plugin {name!r} is required by {', '.join(blockers)}; disable them first",
                    status=409,
                    errors={"plugins": [f"{name}: required by {', '.join(blockers)}"]},
                )
        if not removing:
            return []
        loaded = kernel.registry.loaded_names()
        context = kernel.context_for(session, tenant, enabled=frozenset(current) & loaded)
        with kernel.bound(context, session) as scope:
            # Dependants before what they depend on.
            for name in reversed(kernel.registry.dependency_closure(removing)):
                if name in removing and name in loaded:
                    scope.hooks.call_plugin(name, "udyog_tenant_teardown", tenant=context, session=session)
        session.execute(delete(TenantPlugin).where(TenantPlugin.plugin.in_(removing)))
        if purge_settings:
            from udyog.plugin_settings import purge

            purge(session, tenant.id, removing)
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(plugins_rev=Tenant.plugins_rev + 1))
        session.commit()
        return sorted(removing)


def uninstall_plugin(kernel: Kernel, name: str, report: Callable[[str], None] = print) -> None:
    """Disable ``name`` for every tenant (teardown hooks run), forget its settings, then drop its tables.

    Run it before ``pip uninstall``: the branch is downgraded to base while its
    migrations are still installed. Refused while a loaded plugin requires it.
    """
    from udyog.migrate import downgrade_branch, migration_plan

    users = kernel.registry.dependants(name, kernel.registry.order)
    if users:
        raise UdyogError(f"{name} is required by {', '.join(users)}; uninstall them first", status=409)
    has_tables = name in migration_plan(kernel).locations
    with kernel.db.session(all_tenants=True, write=False) as session:
        tenant_ids = sorted(set(session.scalars(select(TenantPlugin.tenant_id).where(TenantPlugin.plugin == name))))
    for tenant_id in tenant_ids:
        disable_plugins(kernel, tenant_id, [name])
        report(f"disabled {name} for tenant {tenant_id}")
    from udyog.plugin_settings import purge_everywhere

    for tenant_id in purge_everywhere(kernel, name):
        report(f"purged the settings of {name} for tenant {tenant_id}")
    if has_tables:
        downgrade_branch(kernel, name, report=report)
        # Its side tables are gone: this process stops writing and deleting their rows.
        kernel.compositions.forget(name)
    else:
        report(f"{name} has no migrations: no tables to drop")


def tenant_plugins(kernel: Kernel, tenant_ref: str | uuid.UUID) -> list[str]:
    """Plugins enabled for a tenant (loaded or not), sorted."""
    with kernel.db.session(write=False) as session:
        found = kernel.find_tenant(session, tenant_ref)
        if found is None:
            raise UdyogError(f"no tenant {tenant_ref!r}", status=404)
        session.bind_tenant(found.id)
        return sorted(session.scalars(select(TenantPlugin.plugin)).all())


__all__ = [
    "CORE_NAME",
    "create_branch",
    "create_tenant",
    "disable_plugins",
    "enable_plugins",
    "tenant_plugins",
    "uninstall_plugin",
    "validate_timezone",
]
