"""The core's REST API: health, the plugin list, the current tenant, branches, the audit log."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import bindparam, select

from udyog.audit_log import AUDIT, audit_page
from udyog.models import Branch
from udyog_sdk import UdyogError, current_tenant, db_session
from udyog_sdk.api import Blueprint, Listing, envelope, ok, version_field
from udyog_sdk.runtime import active_tenant
from udyog_sdk.security import public, requires


class HealthSchema(ma.Schema):
    """Health check result."""

    status = ma.fields.String()
    database = ma.fields.String()
    version = ma.fields.String()


class ReadinessSchema(ma.Schema):
    """Readiness check result: each dependency's state."""

    status = ma.fields.String()
    database = ma.fields.String()
    broker = ma.fields.String()
    version = ma.fields.String()


def _check_broker(settings: Any) -> str | None:
    """None when the jobs broker answers (Redis PING, or the embedded queue's directory), else why not."""
    import os
    from pathlib import Path

    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        except redis.RedisError as exc:
            return f"unreachable: {type(exc).__name__}"
        finally:
            client.close()
        return None
    directory = Path(settings.data_dir)
    if not directory.is_dir() or not os.access(directory, os.W_OK):
        return f"the embedded queue's directory {directory} is missing or not writable"
    return None


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
    version = ma.fields.Integer(dump_only=True)


class BranchUpdateSchema(ma.Schema):
    """Changeable fields of a branch, with the version the client read."""

    version = version_field()
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    address = ma.fields.String(validate=ma.validate.Length(max=2000))
    state_code = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(r"^[0-9]{2}$"))
    is_active = ma.fields.Boolean()


#: Branches list by code or name, filtered by code, state and active flag.
BRANCHES = Listing(
    Branch,
    filters={"code": ("eq", "in"), "state_code": ("eq", "in"), "is_active": ("eq",)},
    sort=("code", "name"),
    default_sort="code",
)


class AuditEntrySchema(ma.Schema):
    """One recorded change: who, when, which record, and the values before and after."""

    id = ma.fields.UUID()
    at = ma.fields.AwareDateTime()
    user_id = ma.fields.UUID(allow_none=True, metadata={"description": "None for system work"})
    action = ma.fields.String(metadata={"description": "insert, update or delete"})
    entity = ma.fields.String(metadata={"description": "the table, e.g. core_branch"})
    record_id = ma.fields.String()
    changes = ma.fields.Dict(
        metadata={
            "description": 'insert: {"after": {...}}; update: {field: {"before", "after"}}; delete: {"before": {...}}'
        }
    )


_BRANCH_SCHEMA = BranchSchema()


def _branch_data(branch: Branch) -> dict[str, Any]:
    return _BRANCH_SCHEMA.dump(branch)


#: One branch by id, built once (the session adds the tenant filter and record rules).
_BRANCH_BY_ID = select(Branch).where(Branch.id == bindparam("branch_id"))


def _get_branch(branch_id: uuid.UUID) -> Branch:
    branch = db_session().scalar(_BRANCH_BY_ID, {"branch_id": branch_id})
    if branch is None:
        raise UdyogError("branch not found", status=404)
    return branch


def create_blueprint() -> Blueprint:
    """A fresh blueprint with the core's routes."""
    bp = Blueprint(
        "core", __name__, url_prefix="/api/v1", description="Kernel: health, plugins, tenant, branches, audit log"
    )

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

    @bp.route("/ready")
    @bp.response(200, envelope(ReadinessSchema))
    @public
    def ready() -> dict[str, Any]:
        """Readiness: the database and the jobs broker answer (503 naming the failing one otherwise).

        For load balancers and orchestrators: a process that cannot reach either
        is taken out of rotation instead of answering 500s. ``/health`` checks
        only the database.
        """
        from udyog import __version__

        kernel = current_app.extensions["udyog"]
        failures = {
            name: [problem]
            for name, problem in (
                ("database", kernel.db.probe(timeout=2.0)),
                ("broker", _check_broker(kernel.settings)),
            )
            if problem is not None
        }
        if failures:
            raise UdyogError(f"not ready: {', '.join(failures)}", status=503, errors=failures)
        return ok({"status": "ready", "database": "ok", "broker": "ok", "version": __version__})

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
    @bp.arguments(BRANCHES.schema, location="query")
    @bp.response(200, envelope(BranchSchema, many=True, paginated=True))
    @requires("core.branch.read")
    def list_branches(args: dict[str, Any]) -> dict[str, Any]:
        """The tenant's branches, a page at a time (by code unless sorted otherwise)."""
        rows, meta = BRANCHES.page(select(Branch), args)
        return ok(rows, meta=meta)

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
        """Change a branch's name, address, state or active flag (not its code).

        ``version`` is the version you read; a stale one answers 409.
        """
        from udyog.tenancy import update_branch as update

        session = db_session()
        branch = _get_branch(branch_id)
        update(session, branch, data.pop("version"), **data)
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

    @bp.route("/core/audit")
    @bp.arguments(AUDIT.schema, location="query")
    @bp.response(200, envelope(AuditEntrySchema, many=True, paginated=True))
    @requires("core.audit.read")
    def audit_log(args: dict[str, Any]) -> dict[str, Any]:
        """The audit log, newest first: every insert, update and delete of the tenant's data."""
        rows, meta = audit_page(args)
        return ok(rows, meta=meta)

    return bp
