"""REST API of per-tenant plugin settings: list, read, replace, change, reset.

Routes stay thin; the work is in :mod:`udyog.plugin_settings`.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask import current_app

from udyog import plugin_settings as ps
from udyog.registry import CORE_NAME
from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk.api import MAX_VERSION, Blueprint, envelope, ok
from udyog_sdk.security import requires

#: Plugin names as manifests allow them (and ``core``).
PLUGIN_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class PluginSettingsSummarySchema(ma.Schema):
    """A plugin with settings the tenant may see."""

    plugin = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    version = ma.fields.Integer(metadata={"description": "0 until the tenant saves its own values"})
    can_change = ma.fields.Boolean()


class PluginSettingsSchema(ma.Schema):
    """A plugin's settings for the tenant: every value (defaults filled in) and what the tenant set."""

    plugin = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    version = ma.fields.Integer(metadata={"description": "send it back with a change (optimistic locking)"})
    values = ma.fields.Dict(metadata={"description": "every setting: the tenant's value, else the default"})
    defaults = ma.fields.Dict(metadata={"description": "what a setting is when the tenant has not set it"})
    stored = ma.fields.List(ma.fields.String(), metadata={"description": "the settings the tenant set"})
    invalid = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "stored values the plugin no longer accepts (their defaults apply)"},
    )
    can_change = ma.fields.Boolean()


class PluginSettingsUpdateSchema(ma.Schema):
    """New values of a plugin's settings, with the version read."""

    class Meta:
        unknown = ma.RAISE

    version = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=MAX_VERSION),
        metadata={"description": "the version you read (0 before the first save); a stale one answers 409"},
    )
    values = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=100)),
        required=True,
        metadata={"description": "setting name → value; validated by the plugin's schema"},
    )


def _kernel() -> Any:
    return current_app.extensions["udyog"]


def _check_name(plugin: str) -> None:
    if not PLUGIN_RE.match(plugin):
        raise UdyogError(ps.NO_SETTINGS, status=404)


def _view(plugin: str) -> dict[str, Any]:
    kernel = _kernel()
    declared, loaded = ps.read(kernel, db_session(), current_tenant().id, plugin)
    return ps.as_data(declared, loaded, can_change=kernel.plugin_settings.may_change(declared, current_user()))


def create_settings_blueprint() -> Blueprint:
    """A fresh blueprint with the settings routes."""
    bp = Blueprint(
        "core_settings",
        __name__,
        url_prefix="/api/v1/core/settings",
        description="Per-tenant settings of the core and the enabled plugins",
    )

    @bp.route("")
    @bp.response(200, envelope(PluginSettingsSummarySchema, many=True))
    @requires(ps.READ_PERMISSION)
    def list_settings() -> dict[str, Any]:
        """The core and every enabled plugin with settings you may see, in page order."""
        kernel = _kernel()
        tenant, user = current_tenant(), current_user()
        session = db_session()
        rows = []
        for declared in kernel.plugin_settings.visible(tenant.enabled_plugins):
            if not kernel.plugin_settings.may_read(declared, user):
                continue
            _, loaded = ps.read(kernel, session, tenant.id, declared.plugin)
            rows.append(
                {
                    "plugin": declared.plugin,
                    "title": declared.title,
                    "description": declared.spec.description,
                    "version": loaded.version,
                    "can_change": kernel.plugin_settings.may_change(declared, user),
                }
            )
        return ok(rows)

    @bp.route("/<string:plugin>")
    @bp.response(200, envelope(PluginSettingsSchema))
    @requires(ps.READ_PERMISSION)
    def get_settings(plugin: str) -> dict[str, Any]:
        """A plugin's settings: every value with defaults filled in, the defaults, and what the tenant set."""
        _check_name(plugin)
        ps.accessible(_kernel(), plugin)
        return ok(_view(plugin))

    def change(plugin: str, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        _check_name(plugin)
        kernel = _kernel()
        declared = ps.accessible(kernel, plugin, change=True)
        session = db_session()
        _, loaded = ps.save(
            kernel, session, current_tenant().id, plugin, data["values"], data["version"], partial=partial
        )
        session.commit()
        return ok(ps.as_data(declared, loaded, can_change=True), message="settings saved")

    @bp.route("/<string:plugin>", methods=["PUT"])
    @bp.arguments(PluginSettingsUpdateSchema)
    @bp.response(200, envelope(PluginSettingsSchema))
    @requires(ps.MANAGE_PERMISSION)
    def replace_settings(data: dict[str, Any], plugin: str) -> dict[str, Any]:
        """Replace the tenant's values: settings left out go back to their defaults.

        Validated by the plugin's schema (422 naming ``values.<setting>``);
        ``version`` is the one you read (409 if stale).
        """
        return change(plugin, data, partial=False)

    @bp.route("/<string:plugin>", methods=["PATCH"])
    @bp.arguments(PluginSettingsUpdateSchema)
    @bp.response(200, envelope(PluginSettingsSchema))
    @requires(ps.MANAGE_PERMISSION)
    def update_settings(data: dict[str, Any], plugin: str) -> dict[str, Any]:
        """Change the settings named in ``values``; the others keep their values."""
        return change(plugin, data, partial=True)

    @bp.route("/<string:plugin>", methods=["DELETE"])
    @bp.response(200, envelope(PluginSettingsSummarySchema, many=True))
    @requires(ps.MANAGE_PERMISSION)
    def reset_settings(plugin: str) -> dict[str, Any]:
        """Forget the tenant's values of a plugin (its defaults apply again).

        Also purges the values kept for a plugin the tenant disabled (or that
        is no longer installed). Answers the plugins whose values were removed.
        """
        _check_name(plugin)
        kernel = _kernel()
        tenant = current_tenant()
        session = db_session()
        declared = kernel.plugin_settings.declaration(plugin)
        if declared is not None and (plugin == CORE_NAME or tenant.is_enabled(plugin)):
            ps.accessible(kernel, plugin, change=True)
        elif plugin not in ps.stored_plugins(session, tenant.id):
            raise UdyogError(ps.NO_SETTINGS, status=404)
        elif declared is not None and not kernel.plugin_settings.may_change(declared, current_user()):
            needed = declared.spec.permission or ps.MANAGE_PERMISSION
            raise UdyogError(f"permission required: {needed}", status=403, errors={"permission": [needed]})
        removed = ps.purge(session, tenant.id, [plugin])
        session.commit()
        rows = [
            {"plugin": name, "title": name, "description": "", "version": 0, "can_change": True} for name in removed
        ]
        return ok(rows, message="settings reset" if removed else "nothing to reset")

    return bp
