"""Role-based access control: permissions, role templates, record rules, principals.

Plugins *declare* (``udyog_permissions``, ``udyog_roles``, ``udyog_record_rules``);
the kernel validates the declarations once per process, seeds role templates
into a tenant when it enables a plugin, resolves a user's roles into a
:class:`~udyog_sdk.Principal` (cached per tenant security revision, so an edit
takes effect at once in every process) and turns record rules into SQL
criteria added to every ORM statement of the request.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import with_loader_criteria

from udyog.models import Role, Tenant, UserRole
from udyog.registry import CORE_NAME
from udyog_sdk import Permission, Principal, RecordRule, RoleTemplate, UdyogError
from udyog_sdk.security import permission_granted

if TYPE_CHECKING:
    from udyog.db import TenantSession
    from udyog.kernel import Kernel
    from udyog_sdk import TenantContext


class DeclarationError(RuntimeError):
    """A plugin declared something invalid (a bad or duplicate name)."""


@dataclass(frozen=True)
class _UserAccess:
    roles: frozenset[str]
    permissions: frozenset[str]
    role_rules: tuple[tuple[str, frozenset[str]], ...]
    role_permissions: tuple[tuple[str, frozenset[str]], ...]


class Security:
    """What every plugin declared, and per-user resolution with a cache."""

    CACHE_SIZE = 4096

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.permissions: dict[str, tuple[str, Permission]] = {}
        self.templates: dict[str, list[RoleTemplate]] = {}
        self.rules: dict[str, tuple[str, RecordRule]] = {}
        unload = kernel.registry.unload
        # A plugin whose declarations are invalid is unloaded (with its
        # dependants) like any plugin that fails to register; the rest starts.
        for plugin, declared in kernel.bus.collect_safely("udyog_permissions", on_error=unload):
            self._isolated(plugin, lambda p=plugin, d=declared: [self._add_permission(p, x) for x in d])
        for plugin, declared in kernel.bus.collect_safely("udyog_record_rules", on_error=unload):
            self._isolated(plugin, lambda p=plugin, d=declared: [self._add_rule(p, x) for x in d])
        for plugin, declared in kernel.bus.collect_safely("udyog_roles", on_error=unload):
            self._isolated(plugin, lambda p=plugin, d=declared: self._add_templates(p, d))
        self._cache: OrderedDict[tuple[uuid.UUID, uuid.UUID, int], _UserAccess] = OrderedDict()
        self._lock = threading.Lock()
        self._criteria: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._granting: OrderedDict[tuple[uuid.UUID, int, str], list[Any]] = OrderedDict()

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        """Keep ``value`` in one of the caches, dropping the oldest entries beyond :attr:`CACHE_SIZE`."""
        with self._lock:
            cache[key] = value
            while len(cache) > self.CACHE_SIZE:
                cache.popitem(last=False)

    def _isolated(self, plugin: str, work: Any) -> None:
        if plugin not in self.kernel.registry.loaded_names() and plugin != CORE_NAME:
            return
        try:
            work()
        except DeclarationError as exc:
            if plugin == CORE_NAME:
                raise
            self._forget(plugin)
            for name in self.kernel.registry.unload(plugin, f"invalid declaration: {exc}"):
                self._forget(name)
            self.kernel.bus.refresh(self.kernel.registry.order)

    def _forget(self, plugin: str) -> None:
        self.permissions = {k: v for k, v in self.permissions.items() if v[0] != plugin}
        self.rules = {k: v for k, v in self.rules.items() if v[0] != plugin}
        self.templates.pop(plugin, None)

    def _add_templates(self, plugin: str, declared: Iterable[Any]) -> None:
        templates = []
        for template in declared:
            if not isinstance(template, RoleTemplate):
                raise DeclarationError(f"plugin {plugin}: udyog_roles must return RoleTemplate objects")
            errors = self.validate_role(template.permissions, template.record_rules)
            if errors:
                problems = "; ".join(m for messages in errors.values() for m in messages)
                raise DeclarationError(f"plugin {plugin}: role template {template.name!r}: {problems}")
            templates.append(template)
        self.templates[plugin] = templates

    # -- declarations ------------------------------------------------------

    def _add_permission(self, plugin: str, perm: Permission) -> None:
        if not isinstance(perm, Permission):
            raise DeclarationError(f"plugin {plugin}: udyog_permissions must return Permission objects")
        prefix = perm.name.split(".", 1)[0]
        if prefix != plugin:
            raise DeclarationError(f"plugin {plugin} declares permission {perm.name!r} outside its prefix {plugin}.")
        if perm.name in self.permissions:
            other = self.permissions[perm.name][0]
            raise DeclarationError(f"permission {perm.name!r} declared by both {other} and {plugin}")
        self.permissions[perm.name] = (plugin, perm)

    def _add_rule(self, plugin: str, rule: RecordRule) -> None:
        if not isinstance(rule, RecordRule):
            raise DeclarationError(f"plugin {plugin}: udyog_record_rules must return RecordRule objects")
        if not rule.key.startswith(f"{plugin}."):
            raise DeclarationError(f"plugin {plugin} declares record rule {rule.key!r} outside its prefix {plugin}.")
        if rule.key in self.rules:
            raise DeclarationError(f"record rule {rule.key!r} declared by both {self.rules[rule.key][0]} and {plugin}")
        self.rules[rule.key] = (plugin, rule)

    def validate_role(self, permissions: Iterable[str], record_rules: Iterable[str]) -> dict[str, list[str]]:
        """Field errors for a role's permissions (patterns must match a declared one) and rules."""
        errors: dict[str, list[str]] = {}
        for pattern in permissions:
            if not any(permission_granted({pattern}, name) for name in self.permissions):
                errors.setdefault("permissions", []).append(f"{pattern!r} matches no declared permission")
        for key in record_rules:
            if key not in self.rules:
                errors.setdefault("record_rules", []).append(f"unknown record rule {key!r}")
        return errors

    # -- seeding -----------------------------------------------------------

    def seed_roles(self, session: TenantSession, plugins: Iterable[str]) -> list[str]:
        """Create or extend the tenant's roles from the templates of ``plugins``.

        Templates merge by name; seeding adds missing permissions and rules and
        never removes what an admin granted. Returns the roles touched.
        """
        wanted: dict[str, tuple[set[str], set[str], str]] = {}
        for plugin in plugins:
            for template in self.templates.get(plugin, ()):
                perms, rules, desc = wanted.setdefault(template.name, (set(), set(), template.description))
                perms.update(template.permissions)
                rules.update(template.record_rules)
        touched = []
        for name, (perms, rules, desc) in sorted(wanted.items()):
            role = session.scalar(select(Role).where(Role.name == name))
            if role is None:
                session.add(
                    Role(
                        name=name,
                        description=desc,
                        permissions=sorted(perms),
                        record_rules=sorted(rules),
                        is_default=True,
                    )
                )
                touched.append(name)
                continue
            new_perms = sorted(set(role.permissions) | perms)
            new_rules = sorted(set(role.record_rules) | rules)
            if new_perms != sorted(role.permissions) or new_rules != sorted(role.record_rules):
                role.permissions = new_perms
                role.record_rules = new_rules
                touched.append(name)
        if touched:
            session.flush()
            bump_security(session)
        return touched

    # -- principals ----------------------------------------------------------

    def principal(
        self,
        session: TenantSession,
        tenant: TenantContext,
        security_rev: int,
        *,
        user_id: uuid.UUID,
        email: str,
        name: str,
        branch_id: uuid.UUID | None,
    ) -> Principal:
        """The user's principal in ``tenant``; roles resolved once per security revision."""
        key = (tenant.id, user_id, security_rev)
        access = self._cache.get(key)
        if access is None:
            access = self._load_access(session, user_id)
            self._remember(self._cache, key, access)
        return Principal(
            user_id=user_id,
            tenant_id=tenant.id,
            email=email,
            name=name,
            roles=access.roles,
            permissions=access.permissions,
            record_rules=frozenset(k for _, keys in access.role_rules for k in keys),
            role_rules=access.role_rules,
            role_permissions=access.role_permissions,
            branch_id=branch_id,
        )

    def _load_access(self, session: TenantSession, user_id: uuid.UUID) -> _UserAccess:
        roles = session.scalars(
            select(Role).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
        ).all()
        return _UserAccess(
            roles=frozenset(r.name for r in roles),
            permissions=frozenset(p for r in roles for p in r.permissions),
            role_rules=tuple(sorted((r.name, frozenset(r.record_rules)) for r in roles)),
            role_permissions=tuple(sorted((r.name, frozenset(r.permissions)) for r in roles)),
        )

    def criteria(self, principal: Principal, enabled: frozenset[str]) -> list[Any]:
        """Loader criteria for the record rules in force for ``principal`` (cached).

        Per model (whose rules a plugin P declares), only the user's roles
        that grant some permission of P count: if one of them carries no rule
        on the model, the user sees every row; otherwise the rules of those
        roles are OR-ed. Roles that do not concern P neither restrict nor lift
        (Member does not widen a Branch Writer's notes); a user none of whose
        roles concern P is not narrowed by P's rules (P's routes refuse them).
        """
        if not principal.role_rules:
            return []
        key = (
            principal.tenant_id,
            principal.user_id,
            principal.role_rules,
            principal.role_permissions,
            principal.branch_id,
            enabled,
        )
        cached = self._criteria.get(key)
        if cached is not None:
            return cached
        options = self._build_criteria(principal, enabled)
        self._remember(self._criteria, key, options)
        return options

    def roles_granting(self, session: TenantSession, tenant: TenantContext, permission: str) -> list[Any]:
        """Ids of ``tenant``'s roles granting ``permission`` (wildcards apply), read once per security revision.

        A transaction that has changed roles itself (:func:`bump_security`) reads them afresh: the revision
        its scope read is not yet the one its changes make.
        """
        key = (tenant.id, tenant.security_rev, permission)
        cacheable = not session.info.get(SECURITY_CHANGED)
        found = self._granting.get(key) if cacheable else None
        if found is not None:
            return found
        ids = [
            role_id
            for role_id, patterns in session.execute(_ROLE_PERMISSIONS)
            if permission_granted(set(patterns or ()), permission)
        ]
        if cacheable:
            self._remember(self._granting, key, ids)
        return ids

    def _concerns(self, patterns: frozenset[str], plugin: str) -> bool:
        return any(
            owner == plugin and permission_granted(patterns, name) for name, (owner, _) in self.permissions.items()
        )

    def _build_criteria(self, principal: Principal, enabled: frozenset[str]) -> list[Any]:
        perms_of = dict(principal.role_permissions)
        models: dict[type, str] = {}
        for plugin, rule in self.rules.values():
            if plugin in enabled or plugin == CORE_NAME:
                models[rule.model] = plugin
        options = []
        for model, plugin in models.items():
            relevant = [
                (name, keys)
                for name, keys in principal.role_rules
                if self._concerns(perms_of.get(name, frozenset()), plugin)
            ]
            rules: list[RecordRule] = []
            unrestricted = False
            for _, keys in relevant:
                mine = [self.rules[k][1] for k in sorted(keys) if k in self.rules and self.rules[k][1].model is model]
                if not mine:
                    unrestricted = True
                    break
                rules.extend(mine)
            if unrestricted or not relevant:
                continue
            seen: set[str] = set()
            clauses = []
            for rule in rules:
                if rule.key not in seen:
                    seen.add(rule.key)
                    clauses.append(rule.where(principal))
            options.append(with_loader_criteria(model, or_(*clauses), include_aliases=True))
        return options


#: Set in a session's info by :func:`bump_security`: the transaction has changed roles (caches keyed by the
#: revision its scope read must not answer for it).
SECURITY_CHANGED = "udyog_security_changed"
#: Built once (a statement object run again skips building and keying its SQL).
_ROLE_PERMISSIONS = select(Role.id, Role.permissions)


def bump_security(session: TenantSession) -> None:
    """Invalidate every process's cached permissions for the session's tenant."""
    tenant_id = session.tenant_id
    if tenant_id is None:
        raise UdyogError("no tenant bound", status=500)
    session.info[SECURITY_CHANGED] = True
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(security_rev=Tenant.security_rev + 1)
        .execution_options(synchronize_session=False)
    )
