"""Administration API: permissions, record rules, roles, the tenant's users and its plugins.

The rules live in the plain functions here (``new_role``, ``change_member``,
``set_plugin_enabled``, ...): the routes below and the web UI's admin pages
(``udyog.web.admin``) both call them.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import delete, select, update

from udyog.models import AuthSession, Branch, Membership, Role, TenantPlugin, User, UserRole
from udyog.rbac import bump_security
from udyog.registry import CORE_NAME
from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.models import utcnow
from udyog_sdk.security import permission_granted, requires


class PermissionSchema(ma.Schema):
    """A declared permission."""

    name = ma.fields.String()
    description = ma.fields.String()
    plugin = ma.fields.String()


class RecordRuleSchema(ma.Schema):
    """A declared record rule."""

    key = ma.fields.String()
    model = ma.fields.String()
    description = ma.fields.String()
    plugin = ma.fields.String()


class RoleSchema(ma.Schema):
    """A role of the tenant."""

    class Meta:
        unknown = ma.RAISE

    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    permissions = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=120)), load_default=list)
    record_rules = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=120)), load_default=list)
    is_default = ma.fields.Boolean(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class RoleUpdateSchema(ma.Schema):
    """Changes to a role; ``version`` is the one the client read."""

    class Meta:
        unknown = ma.RAISE

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    description = ma.fields.String(validate=ma.validate.Length(max=2000))
    permissions = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=120)))
    record_rules = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=120)))


class MemberSchema(ma.Schema):
    """A member of the tenant with their roles."""

    id = ma.fields.UUID()
    email = ma.fields.String()
    name = ma.fields.String()
    is_active = ma.fields.Boolean()
    user_active = ma.fields.Boolean()
    branch_id = ma.fields.UUID(allow_none=True)
    roles = ma.fields.List(ma.fields.String())


class MemberCreateSchema(ma.Schema):
    """A user to add to the tenant (created when the e-mail is new)."""

    class Meta:
        unknown = ma.RAISE

    email = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=254))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    password = ma.fields.String(load_default=None, load_only=True, validate=ma.validate.Length(max=1024))
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=80)), load_default=list)
    branch_id = ma.fields.UUID(load_default=None, allow_none=True)


class MemberUpdateSchema(ma.Schema):
    """Changes to a membership: roles (replacing), branch, active."""

    class Meta:
        unknown = ma.RAISE

    roles = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=80)))
    branch_id = ma.fields.UUID(allow_none=True)
    is_active = ma.fields.Boolean()


class PluginChangeSchema(ma.Schema):
    """The outcome of enabling or disabling a plugin for the tenant."""

    plugin = ma.fields.String()
    changed = ma.fields.List(
        ma.fields.String(), metadata={"description": "the plugins enabled (or disabled) by this request"}
    )
    enabled_plugins = ma.fields.List(ma.fields.String(), metadata={"description": "the tenant's plugins now"})


class PluginDisableSchema(ma.Schema):
    """Options of disabling a plugin."""

    class Meta:
        unknown = ma.RAISE

    purge_settings = ma.fields.Boolean(
        load_default=False, metadata={"description": "also forget the tenant's settings of the plugin"}
    )


def _role(role_id: uuid.UUID) -> Role:
    role = db_session().scalar(select(Role).where(Role.id == role_id))
    if role is None:
        raise UdyogError("role not found", status=404)
    return role


def _validate_role(permissions: list[str], record_rules: list[str]) -> None:
    errors = current_app.extensions["udyog"].security.validate_role(permissions, record_rules)
    if errors:
        raise UdyogError("invalid role", status=422, errors=errors)


def _members(user_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    session = db_session()
    query = select(Membership, User).join(User, User.id == Membership.user_id).order_by(User.email)
    if user_id is not None:
        query = query.where(User.id == user_id)
    rows = session.execute(query).all()
    roles: dict[uuid.UUID, list[str]] = {}
    for uid, name in session.execute(select(UserRole.user_id, Role.name).join(Role, Role.id == UserRole.role_id)):
        roles.setdefault(uid, []).append(name)
    return [
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "is_active": membership.is_active,
            "user_active": user.is_active,
            "branch_id": membership.branch_id,
            "roles": sorted(roles.get(user.id, [])),
        }
        for membership, user in rows
    ]


def _assert_can_grant(permissions: list[str], field: str) -> None:
    """Nobody grants what they do not hold (an Administrator cannot make anyone Owner)."""
    me = current_user()
    security = current_app.extensions["udyog"].security
    if me is None:
        return
    beyond = [
        pattern
        for pattern in permissions
        if (pattern == "*" and not me.can("*"))
        or any(not me.can(name) for name in security.permissions if permission_granted({pattern}, name))
    ]
    if beyond:
        raise UdyogError(
            "you cannot grant permissions you do not hold",
            status=403,
            errors={field: [f"{p!r} goes beyond your own permissions" for p in beyond]},
        )


def _assert_an_owner_remains() -> None:
    """Refuse a change that leaves no active member holding every permission (``*``)."""
    session = db_session()
    session.flush()
    full = [r.id for r in session.scalars(select(Role)) if "*" in r.permissions]
    holder = session.scalar(
        select(UserRole.id)
        .join(Membership, Membership.user_id == UserRole.user_id)
        .where(UserRole.role_id.in_(full), Membership.is_active)
        .limit(1)
    )
    if holder is None:
        raise UdyogError(
            "at least one active member must keep a role granting everything (*), e.g. Owner",
            status=409,
            errors={"roles": ["this change would leave the tenant without an owner"]},
        )


def _set_roles(user_id: uuid.UUID, names: list[str]) -> None:
    session = db_session()
    found = {r.name: r for r in session.scalars(select(Role).where(Role.name.in_(names)))}
    missing = [n for n in names if n not in found]
    if missing:
        raise UdyogError("unknown role", status=422, errors={"roles": [f"no role {m!r}" for m in missing]})
    held = set(session.scalars(select(UserRole.role_id).where(UserRole.user_id == user_id)))
    for name in names:
        if found[name].id not in held:
            _assert_can_grant(found[name].permissions, "roles")
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))
    for name in dict.fromkeys(names):
        session.add(UserRole(user_id=user_id, role_id=found[name].id))


def _check_branch(branch_id: uuid.UUID | None) -> None:
    if branch_id is not None and db_session().scalar(select(Branch.id).where(Branch.id == branch_id)) is None:
        raise UdyogError("invalid branch", status=422, errors={"branch_id": ["no such branch"]})


def declared_permissions() -> list[dict[str, str]]:
    """Permissions declared by the core and the plugins the tenant enabled, by name."""
    enabled = current_tenant().enabled_plugins | {CORE_NAME}
    security = current_app.extensions["udyog"].security
    return [
        {"name": name, "description": perm.description, "plugin": plugin}
        for name, (plugin, perm) in sorted(security.permissions.items())
        if plugin in enabled
    ]


def declared_record_rules() -> list[dict[str, str]]:
    """Record rules declared by the core and the plugins the tenant enabled, by key."""
    enabled = current_tenant().enabled_plugins | {CORE_NAME}
    security = current_app.extensions["udyog"].security
    return [
        {"key": key, "model": rule.model.__name__, "description": rule.description, "plugin": plugin}
        for key, (plugin, rule) in sorted(security.rules.items())
        if plugin in enabled
    ]


def find_role(role_id: uuid.UUID) -> Role:
    """The tenant's role ``role_id`` (404 if there is none)."""
    return _role(role_id)


def members(user_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The tenant's members (or the one with ``user_id``) with their roles, by e-mail."""
    return _members(user_id)


def new_role(data: dict[str, Any]) -> Role:
    """Create a role from loaded :class:`RoleSchema` data (the caller commits).

    Refused: unknown patterns or rules (422), patterns beyond the caller's own
    permissions (403), a taken name (409).
    """
    session = db_session()
    _validate_role(data["permissions"], data["record_rules"])
    _assert_can_grant(data["permissions"], "permissions")
    if session.scalar(select(Role.id).where(Role.name == data["name"])) is not None:
        raise UdyogError("role exists", status=409, errors={"name": [f"a role {data['name']!r} exists"]})
    role = Role(**data, is_default=False)
    session.add(role)
    session.flush()
    bump_security(session)
    return role


def change_role(role_id: uuid.UUID, data: dict[str, Any]) -> Role:
    """Change a role from loaded :class:`RoleUpdateSchema` data (the caller commits).

    Refused: a stale ``version`` (409), unknown patterns or rules (422), newly
    granted patterns beyond the caller's own permissions (403), a taken name
    (409), and a change that leaves no active member holding ``*`` (409).
    """
    session = db_session()
    data = dict(data)
    role = _role(role_id)
    if data.pop("version") != role.version:
        raise UdyogError("the role was changed by someone else; reload it", status=409, errors={"version": ["stale"]})
    _validate_role(data.get("permissions", role.permissions), data.get("record_rules", role.record_rules))
    if "permissions" in data:
        _assert_can_grant([p for p in data["permissions"] if p not in role.permissions], "permissions")
    renamed = "name" in data and data["name"] != role.name
    if renamed and session.scalar(select(Role.id).where(Role.name == data["name"])) is not None:
        raise UdyogError("role exists", status=409, errors={"name": [f"a role {data['name']!r} exists"]})
    for key, value in data.items():
        setattr(role, key, value)
    _assert_an_owner_remains()
    bump_security(session)
    return role


def remove_role(role_id: uuid.UUID) -> dict[str, Any]:
    """Delete a role, its holders lose it (the caller commits); returns the role's data.

    Refused (409) when no active member would hold ``*`` any more.
    """
    session = db_session()
    role = _role(role_id)
    data = RoleSchema().dump(role)
    session.execute(delete(UserRole).where(UserRole.role_id == role.id))
    session.delete(role)
    _assert_an_owner_remains()
    bump_security(session)
    return data


def add_member(data: dict[str, Any]) -> uuid.UUID:
    """Add a member from loaded :class:`MemberCreateSchema` data (the caller commits); returns the user's id.

    A new e-mail creates the user, with the password if one is given (checked
    like every password) and without one otherwise (they cannot log in until
    an administrator sets it: ``udyog user password``). A known e-mail adds that
    user; a member already is refused (409). Roles beyond the caller's own
    permissions are refused (403).
    """
    from udyog.auth import hash_password, normalize_email, validate_password

    kernel = current_app.extensions["udyog"]
    session = db_session()
    email = normalize_email(data["email"])
    _check_branch(data.get("branch_id"))
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        password = data.get("password")
        if password is not None:
            validate_password(password, email=email)
        user = User(
            email=email,
            name=data["name"].strip(),
            password_hash=hash_password(kernel, password) if password else None,
        )
        session.add(user)
        session.flush()
    elif session.scalar(select(Membership.id).where(Membership.user_id == user.id)) is not None:
        raise UdyogError("already a member", status=409, errors={"email": [f"{email} is already a member"]})
    session.add(Membership(user_id=user.id, branch_id=data.get("branch_id")))
    _set_roles(user.id, data.get("roles", []))
    session.flush()
    bump_security(session)
    return user.id


def change_member(user_id: uuid.UUID, data: dict[str, Any]) -> None:
    """Apply loaded :class:`MemberUpdateSchema` data to a membership (the caller commits).

    Deactivating ends the member's logins in this tenant; nobody deactivates
    themselves (409); roles beyond the caller's own permissions are refused
    (403); a change that leaves no active member holding ``*`` is refused (409).
    """
    session = db_session()
    membership = session.scalar(select(Membership).where(Membership.user_id == user_id))
    if membership is None:
        raise UdyogError("member not found", status=404)
    me = current_user()
    if me is not None and me.user_id == user_id and data.get("is_active") is False:
        raise UdyogError("you cannot deactivate yourself", status=409, errors={"is_active": ["your own membership"]})
    if "branch_id" in data:
        _check_branch(data["branch_id"])
        membership.branch_id = data["branch_id"]
    if "is_active" in data:
        membership.is_active = data["is_active"]
        if not data["is_active"]:  # end their logins here; reactivating does not revive them
            session.execute(
                update(AuthSession)
                .where(
                    AuthSession.user_id == user_id,
                    AuthSession.acting_tenant_id == current_tenant().id,
                    AuthSession.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    if "roles" in data:
        _set_roles(user_id, data["roles"])
    _assert_an_owner_remains()
    bump_security(session)


# -- plugins of the tenant -------------------------------------------------------------


def tenant_plugin_names() -> set[str]:
    """The plugins the tenant enabled (as stored: loaded or not)."""
    return set(db_session().scalars(select(TenantPlugin.plugin)))


def plugin_rows() -> list[dict[str, Any]]:
    """Every installed plugin (``PluginRecord.as_dict()``) with ``enabled_for_tenant``, by name."""
    kernel = current_app.extensions["udyog"]
    enabled = tenant_plugin_names()
    rows = []
    for record in kernel.registry:
        row = record.as_dict()
        row["enabled_for_tenant"] = record.name in enabled
        rows.append(row)
    return rows


def _known_plugin(name: str, enabled: set[str]) -> None:
    """404 for a name that is neither the core, an installed plugin nor one the tenant enabled."""
    if name != CORE_NAME and current_app.extensions["udyog"].registry.get(name) is None and name not in enabled:
        raise UdyogError("no such plugin is installed", status=404, errors={"name": ["not an installed plugin"]})


def plugin_change_plan(name: str, enable: bool) -> dict[str, Any]:
    """What enabling or disabling ``name`` for the tenant would do, for a confirmation.

    ``also``: the plugins it requires that enabling enables too (in load
    order); ``blockers``: the enabled plugins that require it, which refuse
    disabling; ``problem``: why it cannot be done at all (``None`` if it can).
    Unknown plugins answer 404.
    """
    kernel = current_app.extensions["udyog"]
    record = kernel.registry.get(name)
    enabled = tenant_plugin_names()
    _known_plugin(name, enabled)
    plan: dict[str, Any] = {"plugin": name, "enable": enable, "also": [], "blockers": [], "problem": None}
    if name == CORE_NAME:
        plan["problem"] = "The core is always enabled; it cannot be disabled."
    elif enable:
        if name not in kernel.registry.loaded_names():
            why = f"{record.state.value}: {record.error}" if record and record.error else "not loaded"
            plan["problem"] = f"{name} cannot be enabled ({why})."
        else:
            plan["also"] = [n for n in kernel.registry.dependency_closure([name]) if n != name and n not in enabled]
    else:
        plan["blockers"] = kernel.registry.dependants(name, enabled - {name})
        if plan["blockers"]:
            plan["problem"] = f"{name} is required by {', '.join(plan['blockers'])}; disable them first."
    return plan


def set_plugin_enabled(name: str, enable: bool, *, purge_settings: bool = False) -> list[str]:
    """Enable (with what it requires) or disable ``name`` for the tenant; returns the plugins changed.

    The work is :func:`udyog.tenancy.enable_plugins` or
    :func:`~udyog.tenancy.disable_plugins`, as for ``udyog plugins enable|disable
    --tenant``: setup and teardown hooks run, and every process follows at its
    next request. It commits in its own transaction, so the request's session
    is ended first. Refused: the core (409), an unknown plugin (404), one that
    is not loaded (409), disabling one that enabled plugins require (409).
    """
    from udyog.tenancy import disable_plugins, enable_plugins

    if name == CORE_NAME:
        raise UdyogError("the core cannot be disabled", status=409, errors={"plugins": ["core: always enabled"]})
    _known_plugin(name, tenant_plugin_names())
    kernel = current_app.extensions["udyog"]
    tenant_id = current_tenant().id
    db_session().rollback()  # the tenancy function writes in its own transaction (SQLite: one writer)
    if enable:
        return enable_plugins(kernel, tenant_id, [name])
    return disable_plugins(kernel, tenant_id, [name], purge_settings=purge_settings)


def create_admin_blueprint() -> Blueprint:
    """A fresh blueprint with the administration routes."""
    bp = Blueprint("core_admin", __name__, url_prefix="/api/v1/core", description="Roles, permissions and users")

    @bp.route("/permissions")
    @bp.response(200, envelope(PermissionSchema, many=True))
    @requires("core.role.read")
    def permissions() -> dict[str, Any]:
        """Permissions declared by the core and the plugins the tenant enabled."""
        return ok(declared_permissions())

    @bp.route("/record-rules")
    @bp.response(200, envelope(RecordRuleSchema, many=True))
    @requires("core.role.read")
    def record_rules() -> dict[str, Any]:
        """Record rules declared by the core and the plugins the tenant enabled."""
        return ok(declared_record_rules())

    @bp.route("/roles")
    @bp.response(200, envelope(RoleSchema, many=True))
    @requires("core.role.read")
    def list_roles() -> dict[str, Any]:
        """The tenant's roles."""
        return ok(RoleSchema(many=True).dump(db_session().scalars(select(Role).order_by(Role.name)).all()))

    @bp.route("/roles", methods=["POST"])
    @bp.arguments(RoleSchema)
    @bp.response(201, envelope(RoleSchema))
    @requires("core.role.manage")
    def create_role(data: dict[str, Any]) -> dict[str, Any]:
        """Create a role."""
        role = new_role(data)
        db_session().commit()
        return ok(RoleSchema().dump(role), message="role created")

    @bp.route("/roles/<uuid:role_id>")
    @bp.response(200, envelope(RoleSchema))
    @requires("core.role.read")
    def get_role(role_id: uuid.UUID) -> dict[str, Any]:
        """One role."""
        return ok(RoleSchema().dump(_role(role_id)))

    @bp.route("/roles/<uuid:role_id>", methods=["PATCH"])
    @bp.arguments(RoleUpdateSchema)
    @bp.response(200, envelope(RoleSchema))
    @requires("core.role.manage")
    def update_role(data: dict[str, Any], role_id: uuid.UUID) -> dict[str, Any]:
        """Change a role; takes effect for its holders on their next request."""
        role = change_role(role_id, data)
        db_session().commit()
        return ok(RoleSchema().dump(role), message="role updated")

    @bp.route("/roles/<uuid:role_id>", methods=["DELETE"])
    @bp.response(200, envelope(RoleSchema))
    @requires("core.role.manage")
    def delete_role(role_id: uuid.UUID) -> dict[str, Any]:
        """Delete a role; its holders lose it at once."""
        data = remove_role(role_id)
        db_session().commit()
        return ok(data, message="role deleted")

    @bp.route("/users")
    @bp.response(200, envelope(MemberSchema, many=True))
    @requires("core.user.read")
    def list_users() -> dict[str, Any]:
        """The tenant's members and their roles."""
        return ok(MemberSchema(many=True).dump(_members()))

    @bp.route("/users", methods=["POST"])
    @bp.arguments(MemberCreateSchema)
    @bp.response(201, envelope(MemberSchema))
    @requires("core.user.manage")
    def add_user(data: dict[str, Any]) -> dict[str, Any]:
        """Add a member: a new user (with a password) or an existing user by e-mail."""
        user_id = add_member(data)
        db_session().commit()
        return ok(MemberSchema().dump(_members(user_id)[0]), message="member added")

    @bp.route("/users/<uuid:user_id>", methods=["PATCH"])
    @bp.arguments(MemberUpdateSchema)
    @bp.response(200, envelope(MemberSchema))
    @requires("core.user.manage")
    def update_user(data: dict[str, Any], user_id: uuid.UUID) -> dict[str, Any]:
        """Replace a member's roles, set their branch, or deactivate them (takes effect at once)."""
        change_member(user_id, data)
        db_session().commit()
        return ok(MemberSchema().dump(_members(user_id)[0]), message="member updated")

    @bp.route("/plugins/<string:name>/enable", methods=["POST"])
    @bp.response(200, envelope(PluginChangeSchema))
    @requires("core.tenant.manage")
    def enable_plugin(name: str) -> dict[str, Any]:
        """Enable a plugin for the tenant, and the plugins it requires (as ``udyog plugins enable --tenant``).

        Each newly enabled plugin's setup runs; no restart is needed.
        """
        changed = set_plugin_enabled(name, True)
        return ok(
            {"plugin": name, "changed": changed, "enabled_plugins": sorted(tenant_plugin_names())},
            message=f"enabled: {', '.join(changed)}" if changed else "already enabled",
        )

    @bp.route("/plugins/<string:name>/disable", methods=["POST"])
    @bp.arguments(PluginDisableSchema, required=False)
    @bp.response(200, envelope(PluginChangeSchema))
    @requires("core.tenant.manage")
    def disable_plugin(data: dict[str, Any], name: str) -> dict[str, Any]:
        """Disable a plugin for the tenant (its data stays); refused (409) while an enabled plugin requires it.

        The core cannot be disabled. ``purge_settings`` also forgets the tenant's settings of it.
        """
        changed = set_plugin_enabled(name, False, purge_settings=bool((data or {}).get("purge_settings")))
        return ok(
            {"plugin": name, "changed": changed, "enabled_plugins": sorted(tenant_plugin_names())},
            message=f"disabled: {', '.join(changed)}" if changed else "not enabled",
        )

    return bp
