"""The admin access pages: users and their roles, roles and their permissions and record rules, plugins.

Every rule (who may grant what, an owner must remain, role validation, the
plugins' dependency closure) is in :mod:`udyog.admin_api`, which the REST API
calls too; these pages read forms, call those functions, and show refusals
on the form (422, or 409 for a role changed by someone else meanwhile). See
``docs/security.md`` and ``docs/plugins.md`` (their sections "The pages").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, current_app, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select

from udyog import __version__
from udyog import admin_api as admin
from udyog.models import Branch, Role, UserRole
from udyog.registry import CORE_NAME
from udyog.web.i18n import gettext as _
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.security import requires

#: Form errors: field name (or ``_form`` for the whole form) to messages.
Errors = dict[str, list[str]]

ADMINISTRATION = "Administration"


def _can(permission: str) -> bool:
    user = current_user()
    return user is not None and user.can(permission)


def _flatten(messages: Any, field: str = "_form") -> Errors:
    """Marshmallow's or an :class:`UdyogError`'s messages as field -> list of strings."""
    out: Errors = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = field if isinstance(key, int) else str(key)
            for sub, texts in _flatten(value, name).items():
                out.setdefault(sub, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            for sub, texts in _flatten(item, field).items():
                out.setdefault(sub, []).extend(texts)
    else:
        out.setdefault(field, []).append(str(messages))
    return out


def _refusal(exc: UdyogError, known: Iterable[str]) -> Errors:
    """An error of the shared rules as form errors; the message goes on top when no field names it."""
    errors = _flatten(exc.errors) if exc.errors else {}
    placed = set(known)
    if not any(key in placed for key in errors):
        errors.setdefault("_form", []).insert(0, exc.message)
    return errors


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


def _crumbs(*trail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [(_(ADMINISTRATION), None), *trail]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# -- users ---------------------------------------------------------------------------------


def _role_rows() -> list[Role]:
    return list(db_session().scalars(select(Role).order_by(Role.name)))


def _branches() -> list[Branch]:
    return list(db_session().scalars(select(Branch).order_by(Branch.code)))


def _branch_value(raw: str) -> str | None:
    return raw.strip() or None


def _add_member_page(values: Mapping[str, Any], errors: Errors | None = None, status: int = 200) -> Response:
    return _page(
        "udyog/admin_user_new.html",
        status,
        values=values,
        errors=errors or {},
        roles=_role_rows(),
        branches=_branches(),
        breadcrumbs=_crumbs((_("Users"), url_for("web.users")), (_("Add a member"), None)),
    )


def _member_page(user_id: uuid.UUID, errors: Errors | None = None, status: int = 200, chosen: Any = None) -> Response:
    found = admin.members(user_id)
    if not found:
        raise UdyogError("member not found", status=404)
    member = found[0]
    me = current_user()
    return _page(
        "udyog/admin_user.html",
        status,
        member=member,
        chosen=set(member["roles"] if chosen is None else chosen.get("roles", [])),
        branch=str(member["branch_id"] or "") if chosen is None else chosen.get("branch_id", ""),
        errors=errors or {},
        roles=_role_rows(),
        branches=_branches(),
        can_manage=_can("core.user.manage"),
        is_me=me is not None and me.user_id == user_id,
        breadcrumbs=_crumbs((_("Users"), url_for("web.users")), (member["name"] or member["email"], None)),
    )


def add_user_pages(bp: Blueprint) -> None:
    """The users list, the add-a-member form and a page per member."""

    @bp.route("/core/users")
    @requires("core.user.read")
    def users() -> str:
        """The tenant's members, their roles and whether they are active."""
        return render_template(
            "udyog/admin_users.html",
            members=admin.members(),
            can_manage=_can("core.user.manage"),
            breadcrumbs=_crumbs((_("Users"), None)),
        )

    @bp.route("/core/users/new", methods=["GET"])
    @requires("core.user.manage")
    def new_user() -> Response:
        """The form to add a member by e-mail."""
        return _add_member_page({"roles": []})

    @bp.route("/core/users/new", methods=["POST"])
    @requires("core.user.manage")
    def add_user() -> Response:
        """Add a member (as ``POST /api/v1/core/users``); a new e-mail creates the user."""
        form = request.form
        values = {
            "email": form.get("email", "").strip(),
            "name": form.get("name", "").strip(),
            "password": form.get("password", "") or None,
            "roles": _unique(form.getlist("roles")),
            "branch_id": _branch_value(form.get("branch_id", "")),
        }
        shown = {**values, "password": None}
        try:
            data = admin.MemberCreateSchema().load(values)
        except ma.ValidationError as exc:
            return _add_member_page(shown, _flatten(exc.messages), 422)
        session = db_session()
        try:
            user_id = admin.add_member(data)
        except UdyogError as exc:
            if exc.status not in (403, 409, 422):
                raise
            session.rollback()
            return _add_member_page(shown, _refusal(exc, ("email", "name", "password", "roles", "branch_id")), 422)
        session.commit()
        if data["password"] is None:
            flash(
                _("{name} was added. They have no password yet: set one with `udyog user password`.").format(
                    name=data["name"]
                ),
                "warning",
            )
        else:
            flash(_("{name} was added.").format(name=data["name"]), "success")
        return redirect(url_for("web.user", user_id=user_id), 303)  # type: ignore[return-value]

    @bp.route("/core/users/<uuid:user_id>", methods=["GET"])
    @requires("core.user.read")
    def user(user_id: uuid.UUID) -> Response:
        """A member: their roles and branch (a form for those who may change them), active or not."""
        return _member_page(user_id)

    @bp.route("/core/users/<uuid:user_id>", methods=["POST"])
    @requires("core.user.manage")
    def save_user(user_id: uuid.UUID) -> Response:
        """Replace a member's roles and set their branch (as ``PATCH /api/v1/core/users/<id>``)."""
        chosen = {"roles": _unique(request.form.getlist("roles")), "branch_id": request.form.get("branch_id", "")}
        try:
            data = admin.MemberUpdateSchema().load(
                {"roles": chosen["roles"], "branch_id": _branch_value(chosen["branch_id"])}
            )
        except ma.ValidationError as exc:
            return _member_page(user_id, _flatten(exc.messages), 422, chosen)
        return _change_member(user_id, data, chosen, _("Roles and branch saved."))

    @bp.route("/core/users/<uuid:user_id>/active", methods=["POST"])
    @requires("core.user.manage")
    def set_user_active(user_id: uuid.UUID) -> Response:
        """Deactivate (their logins here end at once) or reactivate a membership."""
        active = request.form.get("active") == "1"
        message = _("The membership is active again.") if active else _("The membership was deactivated.")
        return _change_member(user_id, {"is_active": active}, None, message)

    def _change_member(user_id: uuid.UUID, data: dict[str, Any], chosen: Any, message: str) -> Response:
        session = db_session()
        try:
            admin.change_member(user_id, data)
        except UdyogError as exc:
            if exc.status not in (403, 409, 422):
                raise
            session.rollback()
            return _member_page(user_id, _refusal(exc, ("roles", "branch_id")), 422, chosen)
        session.commit()
        flash(message, "success")
        return redirect(url_for("web.user", user_id=user_id), 303)  # type: ignore[return-value]


# -- roles -----------------------------------------------------------------------------------


def _plugin_title(name: str) -> str:
    if name == CORE_NAME:
        return "Core"
    record = current_app.extensions["udyog"].registry.get(name)
    return (record.manifest.title if record and record.manifest else None) or name


def _permission_groups(chosen: set[str]) -> list[dict[str, Any]]:
    """The declared permissions of the enabled plugins, by plugin, with which ones are checked."""
    groups: dict[str, dict[str, Any]] = {}
    for perm in admin.declared_permissions():
        plugin = perm["plugin"]
        group = groups.setdefault(
            plugin,
            {"plugin": plugin, "title": _plugin_title(plugin), "all": f"{plugin}.*", "items": []},
        )
        group["items"].append({**perm, "checked": perm["name"] in chosen})
    ordered = sorted(groups.values(), key=lambda g: (g["plugin"] != CORE_NAME, g["title"].lower()))
    for group in ordered:
        group["all_checked"] = group["all"] in chosen
    return ordered


def _checkbox_patterns() -> set[str]:
    """Patterns the role form offers as checkboxes (the rest go in the "other patterns" box)."""
    names = {p["name"] for p in admin.declared_permissions()}
    return names | {f"{p['plugin']}.*" for p in admin.declared_permissions()}


def _rule_choices(chosen: set[str]) -> list[dict[str, Any]]:
    rules = [{**r, "checked": r["key"] in chosen, "enabled": True} for r in admin.declared_record_rules()]
    offered = {r["key"] for r in rules}
    # Rules of plugins the tenant disabled stay on the role (and on the form) until unchecked.
    rules += [
        {"key": key, "model": "", "description": "(its plugin is not enabled here)", "checked": True, "enabled": False}
        for key in sorted(chosen - offered)
    ]
    return rules


def _role_form_values(role: Role | None) -> dict[str, Any]:
    if role is None:
        return {"name": "", "description": "", "permissions": [], "record_rules": [], "version": None}
    return {
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "record_rules": list(role.record_rules),
        "version": role.version,
    }


def _role_page(
    role: Role | None, values: dict[str, Any], errors: Errors | None = None, status: int = 200, conflict: bool = False
) -> Response:
    chosen = set(values["permissions"])
    boxes = _checkbox_patterns()
    title = role.name if role is not None else _("New role")
    holders = 0
    if role is not None:
        holders = db_session().scalar(select(func.count()).select_from(UserRole).where(UserRole.role_id == role.id))
    return _page(
        "udyog/admin_role.html",
        status,
        role=role,
        values=values,
        groups=_permission_groups(chosen),
        other_patterns="\n".join(p for p in values["permissions"] if p not in boxes),
        rules=_rule_choices(set(values["record_rules"])),
        errors=errors or {},
        conflict=conflict,
        holders=holders,
        can_manage=_can("core.role.manage"),
        breadcrumbs=_crumbs((_("Roles"), url_for("web.roles")), (title, None)),
    )


def _submitted_role() -> dict[str, Any]:
    form = request.form
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "permissions": _unique([*form.getlist("permissions"), *_lines(form.get("other_permissions", ""))]),
        "record_rules": _unique(form.getlist("record_rules")),
        "version": form.get("version"),
    }


ROLE_FIELDS = ("name", "description", "permissions", "record_rules", "version")


def add_role_pages(bp: Blueprint) -> None:
    """The roles list, the role form (create and edit) and the delete confirmation."""

    @bp.route("/core/roles")
    @requires("core.role.read")
    def roles() -> str:
        """The tenant's roles, their permissions and how many members hold each."""
        session = db_session()
        counts = dict(session.execute(select(UserRole.role_id, func.count()).group_by(UserRole.role_id)).all())
        return render_template(
            "udyog/admin_roles.html",
            roles=_role_rows(),
            counts=counts,
            can_manage=_can("core.role.manage"),
            breadcrumbs=_crumbs((_("Roles"), None)),
        )

    @bp.route("/core/roles/new", methods=["GET"])
    @requires("core.role.manage")
    def new_role() -> Response:
        """The form for a new role."""
        return _role_page(None, _role_form_values(None))

    @bp.route("/core/roles/new", methods=["POST"])
    @requires("core.role.manage")
    def create_role() -> Response:
        """Create a role (as ``POST /api/v1/core/roles``)."""
        values = _submitted_role()
        try:
            data = admin.RoleSchema().load({k: v for k, v in values.items() if k != "version"})
        except ma.ValidationError as exc:
            return _role_page(None, values, _flatten(exc.messages), 422)
        session = db_session()
        try:
            role = admin.new_role(data)
        except UdyogError as exc:
            if exc.status not in (403, 409, 422):
                raise
            session.rollback()
            return _role_page(None, values, _refusal(exc, ROLE_FIELDS), 422)
        session.commit()
        flash(_("Role {name} created.").format(name=role.name), "success")
        return redirect(url_for("web.role", role_id=role.id), 303)  # type: ignore[return-value]

    @bp.route("/core/roles/<uuid:role_id>", methods=["GET"])
    @requires("core.role.read")
    def role(role_id: uuid.UUID) -> Response:
        """A role: its name, description, permissions and record rules (a form for those who may change it)."""
        found = admin.find_role(role_id)
        return _role_page(found, _role_form_values(found))

    @bp.route("/core/roles/<uuid:role_id>", methods=["POST"])
    @requires("core.role.manage")
    def save_role(role_id: uuid.UUID) -> Response:
        """Save a role (as ``PATCH /api/v1/core/roles/<id>``, every field at once)."""
        found = admin.find_role(role_id)
        values = _submitted_role()
        try:
            data = admin.RoleUpdateSchema().load(values)
        except ma.ValidationError as exc:
            return _role_page(found, values, _flatten(exc.messages), 422)
        session = db_session()
        try:
            saved = admin.change_role(role_id, data)
        except UdyogError as exc:
            if exc.status not in (403, 409, 422):
                raise
            session.rollback()
            found = admin.find_role(role_id)
            conflict = "version" in exc.errors
            return _role_page(found, values, _refusal(exc, ROLE_FIELDS), 409 if conflict else 422, conflict)
        session.commit()
        flash(_("Role {name} saved.").format(name=saved.name), "success")
        return redirect(url_for("web.role", role_id=role_id), 303)  # type: ignore[return-value]

    def delete_page(found: Role, error: str | None = None, status: int = 200) -> Response:
        holders = db_session().scalar(select(func.count()).select_from(UserRole).where(UserRole.role_id == found.id))
        return _page(
            "udyog/admin_role_delete.html",
            status,
            role=found,
            holders=holders,
            error=error,
            breadcrumbs=_crumbs(
                (_("Roles"), url_for("web.roles")),
                (found.name, url_for("web.role", role_id=found.id)),
                (_("Delete"), None),
            ),
        )

    @bp.route("/core/roles/<uuid:role_id>/delete", methods=["GET"])
    @requires("core.role.manage")
    def confirm_delete_role(role_id: uuid.UUID) -> Response:
        """Ask before deleting a role: its holders lose it at once."""
        return delete_page(admin.find_role(role_id))

    @bp.route("/core/roles/<uuid:role_id>/delete", methods=["POST"])
    @requires("core.role.manage")
    def delete_role(role_id: uuid.UUID) -> Response:
        """Delete a role (as ``DELETE /api/v1/core/roles/<id>``); refused when no owner would remain."""
        session = db_session()
        try:
            data = admin.remove_role(role_id)
        except UdyogError as exc:
            if exc.status not in (403, 409, 422):
                raise
            session.rollback()
            messages = [m for texts in _flatten(exc.errors).values() for m in texts]
            return delete_page(admin.find_role(role_id), "; ".join([exc.message, *messages]), 422)
        session.commit()
        flash(_("Role {name} deleted.").format(name=data["name"]), "success")
        return redirect(url_for("web.roles"), 303)  # type: ignore[return-value]


# -- plugins ------------------------------------------------------------------------------------


def add_plugin_pages(bp: Blueprint) -> None:
    """The plugins list and the enable and disable confirmations."""

    @bp.route("/core/plugins")
    @requires("core.plugin.read")
    def plugins() -> str:
        """Installed plugins: version, state (with the load error), requirements, enabled here or not."""
        return render_template(
            "udyog/admin_plugins.html",
            rows=admin.plugin_rows(),
            core_version=__version__,
            can_manage=_can("core.tenant.manage"),
            breadcrumbs=_crumbs((_("Plugins"), None)),
        )

    def confirm_page(name: str, enable: bool, error: str | None = None, status: int = 200) -> Response:
        plan = admin.plugin_change_plan(name, enable)
        record = current_app.extensions["udyog"].registry.get(name)
        return _page(
            "udyog/admin_plugin_confirm.html",
            status,
            plan=plan,
            record=record.as_dict() if record else {"name": name, "title": None},
            error=error,
            breadcrumbs=_crumbs(
                (_("Plugins"), url_for("web.plugins")), (_("Enable") if enable else _("Disable"), None), (name, None)
            ),
        )

    def change(name: str, enable: bool) -> Response:
        try:
            changed = admin.set_plugin_enabled(name, enable, purge_settings=request.form.get("purge_settings") == "1")
        except UdyogError as exc:
            if exc.status not in (409, 422):
                raise
            return confirm_page(name, enable, exc.message, 422)
        if enable:
            text = _("Enabled for this organisation: {names}.") if changed else _("{names} was already enabled.")
        else:
            text = _("Disabled for this organisation: {names}.") if changed else _("{names} was not enabled.")
        flash(text.format(names=", ".join(changed) or name), "success")
        return redirect(url_for("web.plugins"), 303)  # type: ignore[return-value]

    @bp.route("/core/plugins/<string:name>/enable", methods=["GET"])
    @requires("core.tenant.manage")
    def confirm_enable_plugin(name: str) -> Response:
        """Ask before enabling a plugin: names the required plugins it enables too."""
        return confirm_page(name, True)

    @bp.route("/core/plugins/<string:name>/enable", methods=["POST"])
    @requires("core.tenant.manage")
    def enable_plugin(name: str) -> Response:
        """Enable a plugin and what it requires for this tenant (``udyog plugins enable --tenant``)."""
        return change(name, True)

    @bp.route("/core/plugins/<string:name>/disable", methods=["GET"])
    @requires("core.tenant.manage")
    def confirm_disable_plugin(name: str) -> Response:
        """Ask before disabling a plugin; refused while an enabled plugin requires it."""
        return confirm_page(name, False)

    @bp.route("/core/plugins/<string:name>/disable", methods=["POST"])
    @requires("core.tenant.manage")
    def disable_plugin(name: str) -> Response:
        """Disable a plugin for this tenant (``udyog plugins disable --tenant``); its data stays."""
        return change(name, False)


def add_admin_pages(bp: Blueprint) -> None:
    """Add the users, roles and plugins pages to the shell's blueprint."""
    add_user_pages(bp)
    add_role_pages(bp)
    add_plugin_pages(bp)


__all__ = ["add_admin_pages"]
