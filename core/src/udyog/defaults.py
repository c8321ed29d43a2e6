"""The core's own hook implementations, registered like any plugin's (as ``core``).

Defaults that a plugin may override are ``trylast``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from udyog_sdk import hookimpl

if TYPE_CHECKING:
    from flask import Blueprint, Request

TENANT_HEADER = "X-Udyog-Tenant"


@hookimpl
def udyog_blueprints() -> list[Blueprint]:
    """The core's API: health, plugins, tenant and branches."""
    from udyog.api import create_blueprint

    return [create_blueprint()]


@hookimpl(trylast=True)
def udyog_resolve_tenant(request: Request) -> str | None:
    """Default tenant resolution: the ``X-Udyog-Tenant`` header (id or slug)."""
    value = request.headers.get(TENANT_HEADER, "").strip()
    return value or None
