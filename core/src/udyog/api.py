"""The core's REST API: health, the plugin list, the current tenant, branches."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from udyog.models import Branch
from udyog_sdk import UdyogError, current_tenant, db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.runtime import active_tenant
from udyog_sdk.security import public, requires


class HealthSchema(ma.Schema):
    """Health check result."""

    status = ma.fields.String()
    database = ma.fields.String()
    version = ma.fields.String()


class PluginSchema(ma.Schema):
    """A discovered plugin and its load state."""

    name = ma.fields.String()
    version = ma.fields.String(allow_none=True)
    title = ma.fields.String(allow_none=True)
    distribution = ma.fields.String(allow_none=True)
    state = ma.fields.String()
    error = ma.fields.String(allow_none=True)
    requires = ma.fields.List(ma.fields.String())
    optional = ma.fields.List(ma.fields.String())
    enabled_for_tenant = ma.fields.Boolean(allow_none=True)


class TenantSchema(ma.Schema):
    """The tenant a request acts for."""

    id = ma.fields.UUID()
    slug = ma.fields.String()
    name = ma.fields.String()
    timezone = ma.fields.String()
    enabled_plugins = ma.fields.List(ma.fields.String())


class BranchSchema(ma.Schema):
    """A branch (site) of the tenant."""

    id = ma.fields.UUID(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Z0-9][A-Z0-9_-]{0,15}$"))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    address = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    state_code = ma.fields.String(allow_none=True, load_default=None, validate=ma.validate.Regexp(r"^[0-9]{2}$"))
    is_active = ma.fields.Boolean(dump_only=True)


class BranchUpdateSchema(ma.Schema):
    """Changeable fields of a branch."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    address = ma.fields.String(validate=ma.validate.Length(max=2000))
    state_code = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(r"^[0-9]{2}$"))
    is_active = ma.fields.Boolean()


def _branch_data(branch: Branch) -> dict[str, Any]:
    return BranchSchema().dump(branch)


def _get_branch(branch_id: uuid.UUID) -> Branch:
    branch = db_session().scalar(select(Branch).where(Branch.id == branch_id))
    if branch is None:
        raise UdyogError("branch not found", status=404)
    return branch


def create_blueprint() -> Blueprint:
    """A fresh blueprint with the core's routes."""
    bp = Blueprint("core", __name__, url_prefix="/api/v1", description="Kernel: health, plugins, tenant, branches")

    @bp.route("/health")
    @bp.response(200, envelope(HealthSchema))
    @public
    def health() -> dict[str, Any]:
        """Liveness and database reachability."""
        from udyog import __version__

        kernel = current_app.extensions["udyog"]
        with kernel.db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return ok({"status": "ok", "database": "ok", "version": __version__})

    @bp.route("/plugins")
    @bp.response(200, envelope(PluginSchema, many=True))
    @requires("core.plugin.read")
    def plugins() -> dict[str, Any]:
        """Every discovered plugin, its version, state, load error and dependencies.

        With a tenant, ``enabled_for_tenant`` tells whether the tenant enabled it.
        """
        kernel = current_app.extensions["udyog"]
        tenant = active_tenant()
        enabled = tenant.enabled_plugins if tenant is not None else None
        rows = []
        for record in kernel.registry:
            row = record.as_dict()
            row["enabled_for_tenant"] = (record.name in enabled) if enabled is not None else None
            rows.append(row)
        return ok(rows)

    @bp.route("/core/tenant")
    @bp.response(200, envelope(TenantSchema))
    @requires("core.tenant.read")
    def tenant() -> dict[str, Any]:
        """The tenant this request acts for."""
        t = current_tenant()
        return ok(
            {
                "id": t.id,
                "slug": t.slug,
                "name": t.name,
                "timezone": t.timezone,
                "enabled_plugins": sorted(t.enabled_plugins),
            }
        )

    @bp.route("/core/branches")
    @bp.response(200, envelope(BranchSchema, many=True))
    @requires("core.branch.read")
    def list_branches() -> dict[str, Any]:
        """The tenant's branches, by code."""
        rows = db_session().scalars(select(Branch).order_by(Branch.code)).all()
        return ok([_branch_data(b) for b in rows])

    @bp.route("/core/branches", methods=["POST"])
    @bp.arguments(BranchSchema)
    @bp.response(201, envelope(BranchSchema))
    @requires("core.branch.manage")
    def create_branch(data: dict[str, Any]) -> dict[str, Any]:
        """Add a branch."""
        from udyog.tenancy import create_branch as create

        session = db_session()
        branch = create(session, **data)  # type: ignore[arg-type]
        session.commit()
        return ok(_branch_data(branch), message="branch created")

    @bp.route("/core/branches/<uuid:branch_id>")
    @bp.response(200, envelope(BranchSchema))
    @requires("core.branch.read")
    def get_branch(branch_id: uuid.UUID) -> dict[str, Any]:
        """One branch."""
        return ok(_branch_data(_get_branch(branch_id)))

    @bp.route("/core/branches/<uuid:branch_id>", methods=["PATCH"])
    @bp.arguments(BranchUpdateSchema)
    @bp.response(200, envelope(BranchSchema))
    @requires("core.branch.manage")
    def update_branch(data: dict[str, Any], branch_id: uuid.UUID) -> dict[str, Any]:
        """Change a branch's name, address, state or active flag (not its code)."""
        session = db_session()
        branch = _get_branch(branch_id)
        for key, value in data.items():
            setattr(branch, key, value)
        session.commit()
        return ok(_branch_data(branch), message="branch updated")

    @bp.route("/core/branches/<uuid:branch_id>", methods=["DELETE"])
    @bp.response(200, envelope(BranchSchema))
    @requires("core.branch.manage")
    def delete_branch(branch_id: uuid.UUID) -> dict[str, Any]:
        """Delete a branch nothing refers to (otherwise 409: deactivate it instead)."""
        session = db_session()
        branch = _get_branch(branch_id)
        data = _branch_data(branch)
        session.delete(branch)
        session.commit()
        return ok(data, message="branch deleted")

    return bp
