"""What plugins declare about access: permissions, role templates, record rules.

Plugins return these from the ``udyog_permissions``, ``udyog_roles`` and
``udyog_record_rules`` hooks; the core validates them (names, duplicates),
seeds role templates into each tenant that enables the plugin, checks route
permissions (deny by default) and applies record rules as SQL predicates.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute the core reads on a view function to decide who may call it.
ACCESS_ATTRIBUTE = "_udyog_access"


def requires(permission: str) -> Callable[[F], F]:
    """Declare the permission a route needs (put it below ``@bp.route``).

    Routes are denied by default: a route with no declaration answers 403.
    A user without the permission gets 403 naming it.
    """
    if not PERMISSION_RE.match(permission):
        raise ValueError(f"permission {permission!r} must look like plugin.resource.action")

    def mark(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, ("permission", permission))
        return view

    return mark


def authenticated(view: F) -> F:
    """Declare that any logged-in member of the tenant may call a route."""
    setattr(view, ACCESS_ATTRIBUTE, ("authenticated", None))
    return view


def public(view: F) -> F:
    """Declare that a route needs no login at all (health checks, login itself)."""
    setattr(view, ACCESS_ATTRIBUTE, ("public", None))
    return view


PERMISSION_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Permission:
    """A permission ``<plugin>.<resource>.<action>`` with a description for admins."""

    name: str
    description: str

    def __post_init__(self) -> None:
        if not PERMISSION_RE.match(self.name):
            raise ValueError(f"permission {self.name!r} must look like plugin.resource.action (lower case)")


@dataclass(frozen=True)
class RoleTemplate:
    """A default role a plugin contributes; merged by name across plugins.

    ``permissions`` may use ``*`` wildcards (``notes.*``, ``*``);
    ``record_rules`` names rule keys that narrow what the role's holders see.
    """

    name: str
    permissions: tuple[str, ...]
    record_rules: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Principal:
    """The user a request or task acts as, within its tenant."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    name: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    record_rules: frozenset[str] = frozenset()
    #: (role name, the record rules it carries): a role concerning a plugin
    #: without any of its rules lifts them (see docs/security.md, record rules).
    role_rules: tuple[tuple[str, frozenset[str]], ...] = ()
    #: (role name, its permission patterns), to tell which roles concern a plugin.
    role_permissions: tuple[tuple[str, frozenset[str]], ...] = ()
    branch_id: uuid.UUID | None = None

    def can(self, permission: str) -> bool:
        """Whether any of the principal's role patterns grants ``permission``."""
        return permission_granted(self.permissions, permission)


def permission_granted(patterns: frozenset[str] | set[str], permission: str) -> bool:
    """Whether ``permission`` matches one of ``patterns`` (exact or ``*`` wildcard)."""
    if permission in patterns or "*" in patterns:
        return True
    return any("*" in p and fnmatchcase(permission, p) for p in patterns)


@dataclass(frozen=True)
class RecordRule:
    """A predicate narrowing which rows of ``model`` a role's holders see.

    ``where(principal)`` returns a SQL expression on ``model``'s columns,
    e.g. ``lambda p: Note.owner_id == p.user_id`` (own records only) or
    ``lambda p: Note.branch_id == p.branch_id`` (own branch only). It is
    applied in SQL to every select, update and delete of ``model`` — lists and
    lookups alike — for users all of whose roles carry a rule on ``model``
    (a role without one sees every row; several rules are OR-ed).
    """

    key: str
    model: type
    where: Callable[[Principal], Any]
    description: str = ""
    tags: tuple[str, ...] = field(default=())
