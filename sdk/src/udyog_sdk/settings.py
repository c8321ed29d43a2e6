"""Per-tenant plugin settings: the declaration and the runtime accessor.

A plugin declares its settings with a marshmallow schema whose every field
has a ``load_default`` (the value a tenant gets until it sets its own), and
returns it from the ``udyog_settings`` hook::

    class LedgerSettings(ma.Schema):
        recent_count = ma.fields.Integer(load_default=5, validate=ma.validate.Range(min=1, max=20))
        approval_limit = ma.fields.Decimal(load_default=Decimal("100000"), as_string=True, places=2)

    @hookimpl
    def udyog_settings():
        return SettingsSchema(LedgerSettings, title="Ledger")

Tenants change them through ``/api/v1/core/settings/<plugin>`` or the settings
page; code running for a tenant reads the loaded values (defaults filled in)
with :func:`plugin_settings` — a dictionary lookup, no query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from udyog_sdk.runtime import current_tenant

if TYPE_CHECKING:
    import marshmallow as ma


@dataclass(frozen=True)
class SettingsSchema:
    """A plugin's per-tenant settings.

    Attributes:
        schema: a marshmallow schema (class or instance); every field needs a
            ``load_default``. Field ``metadata`` may carry ``label`` and
            ``description`` for the settings form.
        title: the heading of the plugin's settings page (``"Ledger"``).
        description: one paragraph shown above the form.
        permission: a permission of the declaring plugin that is needed, on top
            of ``core.settings.read`` / ``core.settings.manage``, to see and
            change these settings (for settings that only some administrators
            may touch). ``None``: the core permissions suffice.
        weight: orders the settings pages (lower first, then by title).
    """

    schema: type[ma.Schema] | ma.Schema
    title: str
    description: str = ""
    permission: str | None = None
    weight: int = 100


def plugin_settings(plugin: str) -> Mapping[str, Any]:
    """The current tenant's settings of ``plugin``: loaded values, defaults filled in.

    Read-only. The values are those the schema loads (``Decimal``, ``date``, …);
    stored values that no longer validate (after a plugin upgrade) are replaced
    by their defaults. Raises :class:`LookupError` when ``plugin`` declares no
    settings or is not enabled for the tenant, and
    :class:`~udyog_sdk.runtime.NoScopeError` outside a tenant scope.
    """
    tenant = current_tenant()
    try:
        return tenant.settings[plugin]
    except KeyError:
        raise LookupError(
            f"no settings of plugin {plugin!r} for tenant {tenant.slug!r}: "
            "the plugin declares none (udyog_settings) or is not enabled for the tenant"
        ) from None


__all__ = ["SettingsSchema", "plugin_settings"]
