"""The organisation page (the tenant's name and timezone) and the branch pages (list, create, edit).

The checks are :mod:`udyog.tenancy`'s (:func:`~udyog.tenancy.update_tenant`,
:func:`~udyog.tenancy.create_branch`, :func:`~udyog.tenancy.update_branch`),
the same the API and the CLI run. Locale and the other core settings are on
the settings page of the core (``/core/settings/core``).
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from udyog.models import Branch
from udyog.registry import CORE_NAME
from udyog.tenancy import (
    BRANCH_ADDRESS_MAX_LENGTH,
    BRANCH_NAME_MAX_LENGTH,
    TENANT_NAME_MAX_LENGTH,
    create_branch,
    update_branch,
    update_tenant,
)
from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk.security import requires

#: A stale version: the row changed since the form was read.
STALE = {"version": ["changed by someone else"]}


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """The IANA timezones this system knows, sorted (the choices of the timezone select)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def _can(permission: str) -> bool:
    principal = current_user()
    return principal is not None and principal.can(permission)


def _version(form: Mapping[str, str]) -> int | None:
    sent = form.get("version", "")
    return int(sent) if sent.isdigit() and len(sent) < 10 else None


def read_branch_form(form: Mapping[str, str], *, create: bool) -> dict[str, Any]:
    """The branch values of a submitted form (an empty state code is no state code)."""
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "address": form.get("address", ""),
        "state_code": form.get("state_code", "").strip() or None,
    }
    if create:
        values["code"] = form.get("code", "").strip()
    else:
        values["is_active"] = form.get("is_active", "") not in ("", "false", "off")
    return values


def add_tenant_pages(bp: Blueprint) -> None:
    """Add the organisation and branch pages to the shell's blueprint."""

    def tenant_page(
        *, typed: Mapping[str, str] | None = None, errors: Mapping[str, list[str]] | None = None, status: int = 200
    ) -> Response:
        tenant = current_tenant()
        form = {"name": tenant.name, "timezone": tenant.timezone}
        form.update(typed or {})
        zones = timezone_names()
        if form["timezone"] not in zones:
            zones = (form["timezone"], *zones)
        html = render_template(
            "udyog/tenant_form.html",
            tenant=tenant,
            form=form,
            errors=errors or {},
            zones=[(z, z) for z in zones],
            name_max=TENANT_NAME_MAX_LENGTH,
            can_manage=_can("core.tenant.manage"),
            can_settings=_can("core.settings.read"),
            core=CORE_NAME,
            breadcrumbs=[("Administration", None), ("Organisation", None)],
        )
        return make_response(html, status)

    @bp.route("/core/tenant")
    @requires("core.tenant.read")
    def tenant_form() -> Response:
        """The organisation: its name, timezone and enabled plugins; locale is on the core's settings page."""
        return tenant_page()

    @bp.route("/core/tenant", methods=["POST"])
    @requires("core.tenant.manage")
    def save_tenant() -> Response:
        """Save the name and timezone; problems are shown on the form (422)."""
        typed = {"name": request.form.get("name", ""), "timezone": request.form.get("timezone", "")}
        session = db_session()
        try:
            update_tenant(session, current_tenant().id, name=typed["name"], timezone=typed["timezone"])
        except UdyogError as exc:
            if exc.status != 422:
                raise
            session.rollback()
            return tenant_page(typed=typed, errors=exc.errors, status=422)
        session.commit()
        flash("Organisation saved.", "success")
        return redirect(url_for("web.tenant_form"), 303)  # type: ignore[return-value]

    # -- branches --------------------------------------------------------------------------

    def crumbs(*tail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return [("Branches", url_for("web.branches")), *tail]

    @bp.route("/core/branches")
    @requires("core.branch.read")
    def branches() -> str:
        """The tenant's branches, by code."""
        rows = db_session().scalars(select(Branch).order_by(Branch.code)).all()
        return render_template(
            "udyog/branches.html",
            branches=rows,
            can_manage=_can("core.branch.manage"),
            breadcrumbs=[("Branches", None)],
        )

    def branch_page(
        branch: Branch | None,
        form: Mapping[str, Any],
        *,
        errors: Mapping[str, list[str]] | None = None,
        conflict: bool = False,
        version: int | None = None,
        status: int = 200,
    ) -> Response:
        title = "New branch" if branch is None else f"{branch.code} · {branch.name}"
        html = render_template(
            "udyog/branch_form.html",
            branch=branch,
            form=form,
            errors=errors or {},
            conflict=conflict,
            version=version if version is not None else (branch.version if branch is not None else None),
            name_max=BRANCH_NAME_MAX_LENGTH,
            address_max=BRANCH_ADDRESS_MAX_LENGTH,
            title=title,
            breadcrumbs=crumbs((title, None)),
        )
        return make_response(html, status)

    @bp.route("/core/branches/new")
    @requires("core.branch.manage")
    def new_branch() -> Response:
        """The form for a new branch."""
        return branch_page(None, {"code": "", "name": "", "address": "", "state_code": ""})

    @bp.route("/core/branches/new", methods=["POST"])
    @requires("core.branch.manage")
    def create_branch_page() -> Response:
        """Add a branch; a bad value or a code in use is shown on the form (422)."""
        values = read_branch_form(request.form, create=True)
        session = db_session()
        try:
            branch = create_branch(session, **values)
        except UdyogError as exc:
            if exc.status not in (409, 422):
                raise
            session.rollback()
            return branch_page(
                None, {**values, "state_code": values["state_code"] or ""}, errors=exc.errors, status=422
            )
        session.commit()
        flash(f"Branch {branch.code} created.", "success")
        return redirect(url_for("web.branches"), 303)  # type: ignore[return-value]

    def get_branch(branch_id: uuid.UUID) -> Branch:
        branch = db_session().scalar(select(Branch).where(Branch.id == branch_id))
        if branch is None:
            raise UdyogError("branch not found", status=404)
        return branch

    @bp.route("/core/branches/<uuid:branch_id>")
    @requires("core.branch.manage")
    def edit_branch(branch_id: uuid.UUID) -> Response:
        """The form of a branch (its code stays)."""
        branch = get_branch(branch_id)
        form = {
            "code": branch.code,
            "name": branch.name,
            "address": branch.address,
            "state_code": branch.state_code or "",
            "is_active": branch.is_active,
        }
        return branch_page(branch, form)

    @bp.route("/core/branches/<uuid:branch_id>", methods=["POST"])
    @requires("core.branch.manage")
    def save_branch(branch_id: uuid.UUID) -> Response:
        """Save a branch's name, address, state and active flag; problems are shown on the form."""
        session = db_session()
        branch = get_branch(branch_id)
        values = read_branch_form(request.form, create=False)
        version = _version(request.form)
        shown = {**values, "code": branch.code, "state_code": values["state_code"] or ""}
        try:
            update_branch(session, branch, version, **values)
            session.commit()
        except (UdyogError, StaleDataError) as exc:
            status = exc.status if isinstance(exc, UdyogError) else 409
            if status not in (409, 422):
                raise
            errors = exc.errors if isinstance(exc, UdyogError) else STALE
            session.rollback()
            conflict = status == 409 and "version" in errors
            return branch_page(
                get_branch(branch_id), shown, errors=errors, conflict=conflict, version=version, status=status
            )
        flash(f"Branch {branch.code} saved.", "success")
        return redirect(url_for("web.branches"), 303)  # type: ignore[return-value]


__all__ = ["add_tenant_pages", "read_branch_form", "timezone_names"]
