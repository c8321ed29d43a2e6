"""The custom-field pages: the tenant's fields by resource, a form to create or change one, and delete.

A form is read into the API's schemas (:class:`~udyog.custom_fields_api.CustomFieldSchema`,
:class:`~udyog.custom_fields_api.CustomFieldUpdateSchema`), then saved by
:mod:`udyog.custom_fields` (``create_definition``, ``update_definition``,
``delete_definition``): the checks of ``/api/v1/core/custom-fields``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma
from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from udyog.custom_fields import (
    ATTRIBUTES,
    DEFAULT_PLACES,
    DEFAULT_TEXT,
    NAME_RULE,
    TYPES,
    available,
    create_definition,
    delete_definition,
    update_definition,
    value_count,
)
from udyog.custom_fields_api import CustomFieldSchema, CustomFieldUpdateSchema
from udyog.models import CustomField
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk._pages import as_text
from udyog_sdk.api import check_version
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires

if TYPE_CHECKING:
    from udyog.kernel import TenantScope

READ = "core.custom_field.read"
MANAGE = "core.custom_field.manage"

#: The inputs of the form (``resource`` only on create): every attribute of a definition.
INPUTS = ATTRIBUTES
#: Numbers typed into the form; empty is "not set".
NUMBERS = ("places", "max_length", "position")
CHECKBOXES = ("required", "show_in_list")


def _scope() -> TenantScope:
    return cast("TenantScope", current_scope())


def _resources() -> list[tuple[str, str]]:
    """(key, label) of the resources declared and enabled for the tenant."""
    scope = _scope()
    compositions = scope.kernel.compositions
    out = []
    for key in sorted(compositions.resources):
        resource = compositions.declared(key, scope.tenant)
        if resource is not None:
            out.append((key, f"{getattr(resource, 'label', '') or key} ({key})"))
    return out


def read_custom_field_form(form: Mapping[str, str], *, create: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The inputs as typed (to show again) and the body for the API's schema.

    Options are one per line; empty numbers, default and target are left
    unset (``None``); checkboxes are true when ticked.
    """
    typed: dict[str, Any] = {name: form.get(name, "") for name in INPUTS if name not in CHECKBOXES}
    for name in CHECKBOXES:
        typed[name] = form.get(name, "") not in ("", "false", "off")
    body: dict[str, Any] = {
        "name": typed["name"].strip(),
        "type": typed["type"],
        "label": typed["label"],
        "help": typed["help"],
        "required": typed["required"],
        "show_in_list": typed["show_in_list"],
        "default": typed["default"] if typed["default"] != "" else None,
        "options": [line.strip() for line in typed["options"].splitlines() if line.strip()],
        "target": typed["target"] or None,
    }
    for name in NUMBERS:
        text = typed[name].strip()
        body[name] = (0 if name == "position" else None) if text == "" else text
    if create:
        body["resource"] = typed["resource"]
    return typed, body


def _schema_errors(exc: ma.ValidationError) -> dict[str, list[str]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(value, dict):  # options: {index: [messages]}
            out[str(key)] = [
                str(m) for inner in value.values() for m in (inner if isinstance(inner, list) else [inner])
            ]
        else:
            out[str(key)] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return out


def add_custom_field_pages(bp: Blueprint) -> None:
    """Add the custom-field pages to the shell's blueprint."""

    def crumbs(*tail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return [("Administration", None), ("Custom fields", url_for("web.custom_fields")), *tail]

    def get_field(field_id: uuid.UUID) -> CustomField:
        row = db_session().scalar(select(CustomField).where(CustomField.id == field_id))
        if row is None:
            raise UdyogError("custom field not found", status=404)
        return row

    @bp.route("/core/custom-fields")
    @requires(READ)
    def custom_fields() -> str:
        """The tenant's custom fields, grouped by resource."""
        scope = _scope()
        wanted = request.args.get("resource", "")
        query = select(CustomField).order_by(CustomField.resource, CustomField.position, CustomField.name)
        if wanted:
            query = query.where(CustomField.resource == wanted)
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in db_session().scalars(query):
            groups.setdefault(row.resource, []).append(
                {"row": row, "available": available(row, scope.tenant, scope.kernel.compositions)}
            )
        principal = current_user()
        return render_template(
            "udyog/custom_fields.html",
            groups=groups,
            resources=_resources(),
            wanted=wanted,
            can_manage=principal is not None and principal.can(MANAGE),
            breadcrumbs=crumbs(),
        )

    def form_page(
        row: CustomField | None,
        typed: Mapping[str, Any],
        *,
        errors: Mapping[str, list[str]] | None = None,
        conflict: bool = False,
        version: int | None = None,
        status: int = 200,
    ) -> Response:
        title = "New custom field" if row is None else f"{row.resource} · {row.name}"
        html = render_template(
            "udyog/custom_field_form.html",
            row=row,
            form=typed,
            errors=errors or {},
            conflict=conflict,
            version=version if version is not None else (row.version if row is not None else None),
            resources=_resources(),
            types=[(t, t) for t in TYPES],
            name_rule=NAME_RULE,
            default_places=DEFAULT_PLACES,
            default_text=DEFAULT_TEXT,
            title=title,
            breadcrumbs=crumbs((title, None)),
        )
        return make_response(html, status)

    @bp.route("/core/custom-fields/new")
    @requires(MANAGE)
    def new_custom_field() -> Response:
        """The form for a new custom field (``?resource=`` preselects the resource)."""
        typed: dict[str, Any] = {name: "" for name in INPUTS}
        typed.update(required=False, show_in_list=False, type="text", position="0")
        typed["resource"] = request.args.get("resource", "")
        return form_page(None, typed)

    @bp.route("/core/custom-fields/new", methods=["POST"])
    @requires(MANAGE)
    def create_custom_field_page() -> Response:
        """Add a custom field; problems are shown on the form (422)."""
        typed, body = read_custom_field_form(request.form, create=True)
        scope = _scope()
        try:
            data = CustomFieldSchema().load(body)
            row = create_definition(scope.session, scope.tenant, scope.kernel.compositions, data)
        except ma.ValidationError as exc:
            return form_page(None, typed, errors=_schema_errors(exc), status=422)
        except UdyogError as exc:
            if exc.status not in (409, 422):
                raise
            scope.session.rollback()
            return form_page(None, typed, errors=exc.errors, status=422)
        scope.session.commit()
        flash(f"Custom field {row.name} added to {row.resource}.", "success")
        return redirect(url_for("web.custom_fields"), 303)  # type: ignore[return-value]

    @bp.route("/core/custom-fields/<uuid:field_id>")
    @requires(MANAGE)
    def edit_custom_field(field_id: uuid.UUID) -> Response:
        """The form of a custom field (its resource stays)."""
        row = get_field(field_id)
        typed: dict[str, Any] = {
            "resource": row.resource,
            "name": row.name,
            "type": row.type,
            "label": row.label,
            "help": row.help,
            "required": row.required,
            "default": as_text(row.default),
            "options": "\n".join(row.options or ()),
            "target": row.target or "",
            "places": "" if row.places is None else str(row.places),
            "max_length": "" if row.max_length is None else str(row.max_length),
            "show_in_list": row.show_in_list,
            "position": str(row.position),
        }
        return form_page(row, typed)

    @bp.route("/core/custom-fields/<uuid:field_id>", methods=["POST"])
    @requires(MANAGE)
    def save_custom_field(field_id: uuid.UUID) -> Response:
        """Save a custom field; problems (and what stored values forbid) are shown on the form."""
        scope = _scope()
        row = get_field(field_id)
        typed, body = read_custom_field_form(request.form, create=False)
        typed["resource"] = row.resource
        sent = request.form.get("version", "")
        body["version"] = int(sent) if sent.isdigit() and len(sent) < 10 else sent
        try:
            data = CustomFieldUpdateSchema().load(body)
        except ma.ValidationError as exc:
            return form_page(row, typed, errors=_schema_errors(exc), status=422)
        version = data.pop("version")
        try:
            check_version(row, version)
            update_definition(scope.session, scope.tenant, scope.kernel.compositions, row, data)
            scope.session.commit()
        except (UdyogError, StaleDataError) as exc:
            status = exc.status if isinstance(exc, UdyogError) else 409
            if status not in (409, 422):
                raise
            errors = exc.errors if isinstance(exc, UdyogError) else {"version": ["changed by someone else"]}
            scope.session.rollback()
            conflict = status == 409 and "version" in errors
            return form_page(
                get_field(field_id),
                typed,
                errors=errors,
                conflict=conflict,
                version=version,
                status=409 if conflict else 422,
            )
        flash(f"Custom field {row.name} saved.", "success")
        return redirect(url_for("web.custom_fields"), 303)  # type: ignore[return-value]

    def delete_page(row: CustomField, *, errors: Mapping[str, list[str]] | None = None, status: int = 200) -> Response:
        html = render_template(
            "udyog/custom_field_delete.html",
            row=row,
            count=value_count(db_session(), row.id),
            errors=errors or {},
            breadcrumbs=crumbs((f"{row.resource} · {row.name}", None), ("Delete", None)),
        )
        return make_response(html, status)

    @bp.route("/core/custom-fields/<uuid:field_id>/delete")
    @requires(MANAGE)
    def confirm_delete_custom_field(field_id: uuid.UUID) -> Response:
        """Ask before deleting: how many records have a value, which go too when confirmed."""
        return delete_page(get_field(field_id))

    @bp.route("/core/custom-fields/<uuid:field_id>/delete", methods=["POST"])
    @requires(MANAGE)
    def delete_custom_field_page(field_id: uuid.UUID) -> Response:
        """Delete a custom field; with values only when the purge box was ticked."""
        scope = _scope()
        row = get_field(field_id)
        name, resource = row.name, row.resource
        purge = request.form.get("purge", "") not in ("", "false", "off")
        try:
            deleted = delete_definition(scope.session, scope.tenant, row, purge=purge)
        except UdyogError as exc:
            if exc.status != 409:
                raise
            scope.session.rollback()
            return delete_page(get_field(field_id), errors=exc.errors, status=409)
        scope.session.commit()
        extra = f" with {deleted} values" if deleted else ""
        flash(f"Custom field {name} of {resource} deleted{extra}.", "success")
        return redirect(url_for("web.custom_fields"), 303)  # type: ignore[return-value]


__all__ = ["add_custom_field_pages", "read_custom_field_form"]
