"""The generic web pages of a :class:`udyog_sdk.resources.Resource`.

List (filters, sort, keyset "next" link), detail, create and edit forms
generated from the schema (errors inline, version conflicts explained), and
confirmation pages for delete and cancel. The tenant's composed fields
(other plugins' contributions, custom fields) appear in each like the
resource's own. Pages are server-rendered in the
shell (the templates extend ``udyog/base.html``); forms POST with the CSRF
value in the field ``csrf_token``, which the host checks before the view runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import Blueprint, Response, current_app, flash, make_response, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from udyog_sdk import pickers
from udyog_sdk.api import MULTIPART_OVERHEAD, SEARCH_MAX_LENGTH, SEARCH_PARAM, _scan_text, flatten_messages
from udyog_sdk.formatting import format_date, format_number
from udyog_sdk.i18n import gettext as _
from udyog_sdk.runtime import UdyogError, current_scope, current_tenant, current_user, db_session, user_names
from udyog_sdk.security import authenticated, requires

if TYPE_CHECKING:
    from udyog_sdk.resources import FormField, Resource

#: Filters with these ops get an input on the list page (``__in`` lists are API-only).
PAGE_FILTER_OPS = ("eq", "gte", "lte")
#: ``metadata={"widget": "readonly"}``: a field shown on pages but given no form input (its input is ignored).
READONLY_WIDGET = "readonly"
#: Strings longer than this get a textarea.
TEXTAREA_FROM = 500
#: A reference whose target has more records than this (that the user sees) is a search picker, not a select.
MAX_CHOICES = pickers.MAX_CHOICES
#: Columns the list page shows when the resource names none.
DEFAULT_COLUMNS = 6
#: Statuses a form shows inline; others (403, 404) become the shell's error page.
FORM_STATUSES = (400, 409, 422)

CONFLICT = "conflicts with existing data (a duplicate, or a record still in use)"

#: ``app.extensions`` key: permission prefix → (resource, list endpoint, detail endpoint) of every resource with pages.
PAGES_EXTENSION = "udyog_sdk.pages"
#: Audit entries the detail page shows; "Show all" opens the audit log page filtered to the record.
HISTORY_LIMIT = 10
#: Related records a detail page shows per related resource.
RELATED_LIMIT = 5
#: The permissions of the detail page's attachment section (the core's, as in its API).
ATTACHMENT_PERMISSIONS = {
    "read": "core.attachment.read",
    "write": "core.attachment.write",
    "delete": "core.attachment.delete",
}
#: Who may see a record's audit history on its detail page.
AUDIT_PERMISSION = "core.audit.read"
#: The shell's audit log page (filters ``entity`` and ``record_id``; the same permission).
AUDIT_LOG_PAGE = "/core/audit"
#: Where a file attached to a record is downloaded (the core's attachment API, which checks access again).
ATTACHMENT_DOWNLOAD = "/api/v1/core/attachments/{id}/content"


#: marshmallow messages → ``{"field": [...], "lines.0.qty": [...]}`` (one implementation, in the API).
flatten = flatten_messages


def humanise(name: str) -> str:
    """``notebook_id`` → ``Notebook``; ``issued_on`` → ``Issued on``."""
    return name.removesuffix("_id").replace("_", " ").strip().capitalize()


def label_of(name: str, fld: ma.fields.Field) -> str:
    """A field's label: its ``metadata["label"]``, else its humanised name."""
    return str(fld.metadata.get("label") or humanise(name))


def as_text(value: Any) -> str:
    """A value as a form input holds it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    return str(value)


def shown(fld: ma.fields.Field | None, value: Any) -> Any:
    """A value as a list or detail page shows it: decimals grouped in the tenant's locale (``1,23,456.50``).

    A decimal keeps the places it was dumped with; anything else (and a
    value that does not read as a number) is returned as it is.
    """
    if not isinstance(fld, ma.fields.Decimal) or value is None or isinstance(value, bool):
        return value
    try:
        number = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return value
    if not number.is_finite():
        return value
    exponent = number.as_tuple().exponent
    return format_number(number, places=max(0, -exponent) if isinstance(exponent, int) else None)


def _kind(fld: ma.fields.Field) -> str:
    if isinstance(fld, ma.fields.Boolean):
        return "checkbox"
    if isinstance(fld, ma.fields.Integer):
        return "number"
    if isinstance(fld, (ma.fields.Decimal, ma.fields.Float)):
        return "decimal"
    if isinstance(fld, ma.fields.DateTime):
        return "datetime-local"
    if isinstance(fld, ma.fields.Date):
        return "date"
    if isinstance(fld, ma.fields.Email):
        return "email"
    if isinstance(fld, (ma.fields.String, ma.fields.UUID)):
        return "text"
    return ""  # nested, lists, dicts: no generic input


def _max_length(fld: ma.fields.Field) -> int | None:
    for validator in fld.validators:
        if isinstance(validator, ma.validate.Length) and validator.max is not None:
            return int(validator.max)
    return None


def _one_of(fld: ma.fields.Field) -> list[str] | None:
    for validator in fld.validators:
        if isinstance(validator, ma.validate.OneOf):
            return [str(c) for c in validator.choices]
    return None


def form_fields(resource: Resource, mode: str, obj: Any | None = None) -> list[FormField]:
    """The inputs of ``resource``'s create or edit form (see :meth:`Resource.form_fields`).

    A reference (a composite tenant foreign key, or a composed field with a
    reference) is a :func:`udyog_sdk.pickers.reference_field`: a select of the
    records the user sees when they are few, else a search picker served by
    the resource's choices endpoint; either way the current record is kept.
    """
    schema = resource.input_schema() if mode == "create" else resource.patch_schema()
    out: list[FormField] = []
    for name, fld in schema.fields.items():
        if fld.dump_only or name == "version":
            continue
        attr = fld.attribute or name
        value: Any = getattr(obj, attr, "") if obj is not None else _NO_VALUE
        target = resource.references.get(attr)
        reference = (select(target), target) if target is not None else None
        key = fld.data_key or name
        item = _form_field(
            key, label_of(name, fld), fld, mode, value, reference, choices_url=_choices_url(resource, key)
        )
        if item is not None:
            out.append(item)
    composition = resource.composition()
    if composition is not None:
        values = composition.values([obj])[0] if obj is not None else {}
        for name, composed in composition.fields.items():
            fld = composed.field if mode == "create" else composed.update_field
            ref = composed.reference
            reference = (ref.query(), ref.model) if ref is not None else None
            value = values.get(name) if obj is not None else _NO_VALUE
            item = _form_field(
                name,
                composed.label,
                fld,
                mode,
                value,
                reference,
                help_text=composed.help,
                choices_url=_choices_url(resource, name),
            )
            if item is not None:
                out.append(item)
    return out


def _choices_url(resource: Resource, key: str) -> str:
    """The URL of the choices endpoint of ``resource``'s field ``key`` ("" when its pages are not registered)."""
    known = current_app.extensions.get(PAGES_EXTENSION, {}).get(resource.permission_prefix)
    if known is None or known[0] is not resource or "choices" not in known[1]:
        return ""
    return url_for(known[1]["choices"], field=key)


#: No record yet: a create form shows the field's default.
_NO_VALUE = object()


def _form_field(
    key: str,
    label: str,
    fld: ma.fields.Field,
    mode: str,
    value: Any,
    reference: tuple[Any, Any] | None,
    *,
    help_text: str = "",
    choices_url: str = "",
) -> FormField | None:
    """One input for field ``fld`` (None when it has no generic input); ``reference``: (query, model) it refers to."""
    from udyog_sdk.resources import FormField

    kind = _kind(fld)
    if not kind or fld.metadata.get("widget") == READONLY_WIDGET:
        return None
    if value is _NO_VALUE:
        value = fld.load_default if fld.load_default is not ma.missing and not callable(fld.load_default) else ""
    required = bool(fld.required) or (mode == "edit" and not fld.allow_none and kind != "checkbox")
    help_text = help_text or str(fld.metadata.get("description") or "")
    choices = _one_of(fld)
    if choices is None and reference is not None:
        query, model = reference
        return pickers.reference_field(
            key,
            label,
            query,
            model,
            as_text(value),
            choices_url=choices_url,
            required=required,
            nullable=bool(fld.allow_none),
            help=help_text,
            blank=bool(fld.allow_none or not fld.required),
        )
    item = FormField(
        name=key,
        label=label,
        kind=kind,
        required=required,
        value=bool(value) if kind == "checkbox" else as_text(value),
        help=help_text,
        maxlength=_max_length(fld),
        nullable=bool(fld.allow_none),
    )
    if choices is not None:
        item.kind = "select"
        item.choices = [(c, c) for c in choices]
        if item.nullable or not fld.required:
            item.choices.insert(0, ("", "—"))
    elif (kind == "text" and (item.maxlength or 0) > TEXTAREA_FROM) or fld.metadata.get("widget") == "textarea":
        item.kind = "textarea"
    return item


def reference_target(resource: Resource, key: str) -> tuple[Any, Any, list[Any]] | None:
    """(query, model, searched columns) of what ``resource``'s input field ``key`` refers to; None if no reference.

    The searched columns are the target resource's ``search`` columns (its
    list's ``q``), when the target is a declared resource with pages.
    """
    for schema in (resource.input_schema(), resource.patch_schema()):
        for name, fld in schema.fields.items():
            if (fld.data_key or name) == key and not fld.dump_only:
                target = resource.references.get(fld.attribute or name)
                if target is not None:
                    known = current_app.extensions.get(PAGES_EXTENSION, {}).values()
                    owner = next((res for res, _eps in known if res.model is target), None)
                    columns = list(owner.listing.searchable.values()) if owner is not None else []
                    return select(target), target, columns
    composition = resource.composition()
    if composition is not None:
        composed = composition.fields.get(key)
        ref = composed.reference if composed is not None else None
        if ref is not None:
            return ref.query(), ref.model, list(ref.listing.searchable.values())
    return None


def read_form(fields: list[FormField], mode: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The submitted values as schema input, and the raw values kept on the fields for re-display.

    An empty input means None for nullable fields. On create an empty optional
    input is left out (the schema's default applies); an empty required text
    is sent as "" (the schema's validators judge it). On edit every input is
    sent, so clearing a field is a change the schema validates.
    """
    raw: dict[str, Any] = {}
    for item in fields:
        if item.kind == "checkbox":
            checked = form.get(item.name, "") not in ("", "false", "off")
            raw[item.name] = checked
            item.value = checked
            continue
        value = form.get(item.name, "")
        item.value = value
        if value != "":
            raw[item.name] = value
        elif item.nullable:
            raw[item.name] = None
        elif mode == "edit" or (item.required and item.kind in ("text", "textarea", "email")):
            raw[item.name] = ""
    return raw


def _status_errors(exc: UdyogError) -> dict[str, list[str]]:
    return dict(exc.errors) if exc.errors else {"_schema": [exc.message]}


def add_pages(resource: Resource, bp: Blueprint) -> None:
    """Add ``resource``'s pages to ``bp`` (at ``/<path>`` under the blueprint's prefix)."""
    base = f"/{resource.path}"
    item = f"{base}/<uuid:record_id>"
    ep = resource.endpoint
    names = {
        "list": f"{ep}_list_page",
        "detail": f"{ep}_detail_page",
        "new": f"{ep}_new_page",
        "edit": f"{ep}_edit_page",
        "delete": f"{ep}_delete_page",
        "cancel": f"{ep}_cancel_page",
        "import": f"{ep}_import_page",
        "attach": f"{ep}_attach_page",
        "attachment_delete": f"{ep}_attachment_delete_page",
        "choices": f"{ep}_choices_page",
    }
    bp.record_once(lambda state: _remember_pages(resource, state.app, state.name, names))

    def endpoint(page: str) -> str:
        return f"{request.blueprint}.{names[page]}"

    def can() -> dict[str, bool]:
        user = current_user()
        allowed = {
            "read": {"list", "get"},
            "create": {"create"},
            "write": {"update"},
            "delete": {"delete"},
            "cancel": {"cancel"},
            "import": {"create"} if resource.importable else set(),
        }
        return {
            action: bool(
                user is not None and allowed[action] & resource.enabled and user.can(resource.permission(action))
            )
            for action in allowed
        } | {"export": bool(resource.exportable and "list" in resource.enabled)}

    def page(template: str, status: int = 200, **context: Any) -> Response:
        html = render_template(template, resource=resource, can=can(), endpoint=endpoint, humanise=humanise, **context)
        return make_response(html, status)

    def trail(*tail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return breadcrumbs(resource, endpoint, *tail)

    def detail_url(record_id: uuid.UUID, anchor: str = "") -> str:
        return url_for(endpoint("detail"), record_id=record_id) + (f"#{anchor}" if anchor else "")

    def named(obj: Any) -> str:
        return f"{_(resource.label)} {resource.describe(obj)}".strip()

    def add(rule: str, page_name: str, action: str, view: Callable[..., Any], methods: list[str]) -> None:
        view.__name__ = names[page_name]
        bp.add_url_rule(rule, names[page_name], requires(resource.permission(action))(view), methods=methods)

    # -- list --------------------------------------------------------------------

    def list_page() -> Response:
        raw = {k: v for k, v in request.args.items() if v != ""}
        errors: dict[str, list[str]] = {}
        status = 200
        _scan_text(raw, "", errors)
        rows: list[Any] = []
        meta: dict[str, Any] = {}
        if not errors:
            try:
                args = resource.list_schema().load(raw)
                rows, meta = resource.page(args)
            except ma.ValidationError as exc:
                errors = flatten(exc.messages)
            except UdyogError as exc:
                errors, status = _status_errors(exc), exc.status
        if errors and status == 200:
            status = 422
        next_cursor = (meta.get("pagination") or {}).get("next_cursor")
        next_url = url_for(endpoint("list"), **{**raw, "cursor": next_cursor}) if next_cursor else None
        first_url = url_for(endpoint("list"), **{k: v for k, v in raw.items() if k != "cursor"})
        dumped = [(row.id, resource.dump(row)) for row in rows]
        columns = list_columns(resource)
        return page(
            resource.list_template,
            status,
            rows=dumped,
            columns=columns,
            cell=column_formatter(resource, [data for _, data in dumped], [key for key, _ in columns]),
            filters=page_filters(resource, raw),
            sort_options=sort_options(resource),
            sort=raw.get("sort", ""),
            search=search_box(resource, raw),
            errors=errors,
            next_url=next_url,
            first_url=first_url if "cursor" in raw else None,
            breadcrumbs=trail(),
        )

    if "list" in resource.enabled:
        add(base, "list", "read", list_page, ["GET"])

    # -- detail -------------------------------------------------------------------

    def detail_response(obj: Any, record_id: uuid.UUID, status: int = 200, **extra: Any) -> Response:
        data = resource.dump(obj)
        values = detail_values(resource, obj, data)
        schema = resource.schema()
        fields = [
            (label_of(name, fld), values[fld.data_key or name])
            for name, fld in schema.fields.items()
            if not fld.load_only and (fld.data_key or name) in values
        ]
        composition = resource.composition()
        if composition is not None:
            fields += [(item.label, values.get(name)) for name, item in composition.fields.items()]
        cancelled = bool(resource.legal_document and resource.is_cancelled(obj))
        title = resource.describe(obj)
        context: dict[str, Any] = {
            "attachments": attachment_section(resource, obj, record_id, endpoint),
            "history": history_section(resource, obj),
            "related": related_sections(resource, obj),
            "attachment_errors": [],
        }
        context.update(extra)
        return page(
            resource.detail_template,
            status,
            obj=obj,
            record_id=record_id,
            title=title,
            fields=fields,
            values=values,
            cancelled=cancelled,
            breadcrumbs=trail((title, None)),
            **context,
        )

    def detail_page(record_id: uuid.UUID) -> Response:
        return detail_response(resource.lookup(record_id), record_id)

    if "get" in resource.enabled:
        add(item, "detail", "read", detail_page, ["GET"])

    # -- forms ----------------------------------------------------------------------

    def form_page(
        mode: str, fields: list[FormField], errors: dict[str, list[str]], status: int, **context: Any
    ) -> Response:
        placed = {f.name for f in fields}
        pickers.relabel(fields)
        for item_ in fields:
            item_.errors = list(errors.get(item_.name, []))
        general = {k: v for k, v in errors.items() if k not in placed}
        obj = context.get("obj")
        if mode == "create":
            crumbs = trail((_("New"), None))
        else:
            crumbs = trail((resource.describe(obj), detail_url(context["record_id"])), (_("Edit"), None))
        return page(
            resource.form_template, status, mode=mode, fields=fields, general=general, breadcrumbs=crumbs, **context
        )

    def submit(
        mode: str, fields: list[FormField], act: Callable[[dict[str, Any]], Any], extra: Mapping[str, Any] | None = None
    ) -> tuple[Any, dict[str, list[str]], int]:
        """Load the form (plus ``extra`` values) through the schema and act; returns (record, errors, status)."""
        errors: dict[str, list[str]] = {}
        raw = {**read_form(fields, mode, request.form), **(extra or {})}
        _scan_text(raw, "", errors)
        if errors:
            return None, errors, 422
        schema = resource.input_schema() if mode == "create" else resource.patch_schema()
        try:
            data = schema.load(raw)
        except ma.ValidationError as exc:
            return None, flatten(exc.messages), 422
        try:
            return act(data), {}, 200
        except UdyogError as exc:
            if exc.status not in FORM_STATUSES:
                raise
            db_session().rollback()
            return None, _status_errors(exc), exc.status
        except IntegrityError:
            db_session().rollback()
            return None, {"_schema": [CONFLICT]}, 409
        except StaleDataError:
            db_session().rollback()
            return None, {"version": ["changed by someone else meanwhile: reload it and apply your change again"]}, 409

    def new_page() -> Response:
        fields = resource.form_fields("create")
        if request.method == "GET":
            return form_page("create", fields, {}, 200)
        obj, errors, status = submit("create", fields, resource.perform_create)
        if errors:
            return form_page("create", fields, errors, status)
        flash(_("%(name)s created.", name=named(obj)), "success")
        return redirect(url_for(endpoint("detail"), record_id=obj.id), 303)  # type: ignore[return-value]

    if "create" in resource.enabled:
        add(f"{base}/new", "new", "create", new_page, ["GET", "POST"])

    def edit_page(record_id: uuid.UUID) -> Response:
        obj = resource.lookup(record_id)
        fields = resource.form_fields("edit", obj)
        version = getattr(obj, "version", None)
        if request.method == "GET":
            return form_page("edit", fields, {}, 200, obj=obj, record_id=record_id, version=version)
        sent = request.form.get("version", "")
        if resource.versioned:
            if not sent.isdigit() or len(sent) > 10:
                errors = {"version": ["the form lacks the version you read: reload it"]}
                return form_page("edit", fields, errors, 422, obj=obj, record_id=record_id, version=version)
            version = int(sent)

        def act(data: dict[str, Any]) -> Any:
            return resource.perform_update(obj, data)

        extra = {"version": version} if resource.versioned else None
        done, errors, status = submit("edit", fields, act, extra)
        if errors:
            conflict = status == 409 and "version" in errors
            return form_page(
                "edit", fields, errors, status, obj=obj, record_id=record_id, version=version, conflict=conflict
            )
        flash(_("%(name)s saved.", name=named(done)), "success")
        return redirect(url_for(endpoint("detail"), record_id=done.id), 303)  # type: ignore[return-value]

    if "update" in resource.enabled:
        add(f"{item}/edit", "edit", "write", edit_page, ["GET", "POST"])

    def choices_page(field: str) -> Response:
        """The records a reference field of the forms may point at, matching ``q``, as JSON (the picker's source)."""
        pairs = (("create", "create"), ("write", "update"))
        forms = list(dict.fromkeys(resource.permission(a) for a, op in pairs if op in resource.enabled))
        denied = pickers.allowed(forms)
        if denied is not None:
            return pickers.json_error(403, denied, {"permission": forms})
        found = reference_target(resource, field)
        if found is None:
            # The name is not echoed back: the answer names only the resource.
            return pickers.json_error(404, f"no reference field of {resource.permission_prefix} has this name")
        query, model, columns = found
        return pickers.choices_response(query, model, columns=columns)

    if {"create", "update"} & resource.enabled:
        choices_page.__name__ = names["choices"]
        bp.add_url_rule(f"{base}/choices/<field>", names["choices"], authenticated(choices_page), methods=["GET"])

    # -- delete and cancel ---------------------------------------------------------------

    def confirm(action: str, record_id: uuid.UUID) -> Response:
        obj = resource.lookup(record_id)
        title = resource.describe(obj)
        crumbs = trail((title, detail_url(record_id)), (_("Delete") if action == "delete" else _("Cancel"), None))
        if request.method == "GET":
            return page(
                resource.confirm_template, action=action, obj=obj, record_id=record_id, title=title, breadcrumbs=crumbs
            )
        try:
            if action == "delete":
                resource.perform_delete(obj)
                flash(_("%(name)s deleted.", name=f"{_(resource.label)} {title}".strip()), "success")
                target = url_for(endpoint("list")) if "list" in resource.enabled else "/"
                return redirect(target, 303)  # type: ignore[return-value]
            sent = request.form.get("version", "")
            version = int(sent) if sent.isdigit() and len(sent) <= 10 else None
            resource.perform_cancel(obj, version)
            flash(_("%(name)s cancelled.", name=f"{_(resource.label)} {title}".strip()), "success")
            return redirect(url_for(endpoint("detail"), record_id=record_id), 303)  # type: ignore[return-value]
        except UdyogError as exc:
            if exc.status not in FORM_STATUSES:
                raise
            db_session().rollback()
            errors, status = _status_errors(exc), exc.status
            message = exc.message
        except IntegrityError:
            db_session().rollback()
            errors, status, message = (
                {"_schema": [CONFLICT]},
                409,
                _("The %(label)s is still in use.", label=_(resource.label)),
            )
        except StaleDataError:
            db_session().rollback()
            errors, status, message = {"version": ["changed meanwhile"]}, 409, _("It was changed meanwhile: reload it.")
        return page(
            resource.confirm_template,
            status,
            action=action,
            obj=None,
            record_id=record_id,
            title=title,
            errors=errors,
            message=message,
            breadcrumbs=crumbs,
        )

    if "delete" in resource.enabled:
        add(f"{item}/delete", "delete", "delete", lambda record_id: confirm("delete", record_id), ["GET", "POST"])
    if "cancel" in resource.enabled:
        add(f"{item}/cancel", "cancel", "cancel", lambda record_id: confirm("cancel", record_id), ["GET", "POST"])

    # -- attachments ---------------------------------------------------------------------

    def readable(record_id: uuid.UUID) -> Any:
        """The record, if the user may read it (403 naming the permission; 404 when record rules hide it)."""
        wanted = resource.permission("read")
        user = current_user()
        if user is None or not user.can(wanted):
            raise UdyogError(f"permission required: {wanted}", status=403, errors={"permission": [wanted]})
        return resource.lookup(record_id)

    def attach_page(record_id: uuid.UUID) -> Response:
        obj = readable(record_id)
        service = current_scope().attachments()
        limit = getattr(service, "max_bytes", None)
        if isinstance(limit, int):
            request.max_content_length = limit + MULTIPART_OVERHEAD
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            upload, too_large = None, _("The file is too large: at most %(limit)s bytes.", limit=limit)
        else:
            too_large = ""
        if too_large or upload is None or not upload.filename:
            message = too_large or _("Choose a file to upload.")
            return detail_response(obj, record_id, 413 if too_large else 422, attachment_errors=[message])
        entity, key = record_key(obj)
        try:
            done = service.attach(entity, key, upload.filename, upload.mimetype or "", upload.stream)
            db_session().commit()
        except UdyogError as exc:
            if exc.status in (403, 404) or exc.status >= 500:
                raise
            db_session().rollback()
            messages = list(exc.errors.get("file") or []) if exc.errors else []
            return detail_response(obj, record_id, exc.status, attachment_errors=[exc.message, *messages][:2])
        except RequestEntityTooLarge:
            db_session().rollback()
            return detail_response(
                obj,
                record_id,
                413,
                attachment_errors=[_("The file is too large: at most %(limit)s bytes.", limit=limit)],
            )
        flash(_("File %(file)s attached to %(name)s.", file=done.filename, name=named(obj)), "success")
        return redirect(detail_url(record_id, "attachments"), 303)  # type: ignore[return-value]

    def attachment_delete_page(record_id: uuid.UUID, attachment_id: uuid.UUID) -> Response:
        obj = readable(record_id)
        entity, key = record_key(obj)
        service = current_scope().attachments()
        found = next((f for f in service.list_for(entity, key) if f.id == attachment_id), None)
        if found is None:
            raise UdyogError("Attachment not found", status=404)
        title = resource.describe(obj)
        if request.method == "POST":
            service.delete(attachment_id)
            db_session().commit()
            flash(_("File %(file)s deleted from %(name)s.", file=found.filename, name=named(obj)), "success")
            return redirect(detail_url(record_id, "attachments"), 303)  # type: ignore[return-value]
        return page(
            "udyog_sdk/attachment_delete.html",
            obj=obj,
            record_id=record_id,
            title=title,
            attachment=found,
            size=human_size(found.size),
            breadcrumbs=trail((title, detail_url(record_id)), (_("Delete file"), None)),
        )

    if "get" in resource.enabled and attachable(resource):
        view_name = names["attach"]
        attach_page.__name__ = view_name
        bp.add_url_rule(
            f"{item}/attachments",
            view_name,
            requires(ATTACHMENT_PERMISSIONS["write"])(attach_page),
            methods=["POST"],
        )
        view_name = names["attachment_delete"]
        attachment_delete_page.__name__ = view_name
        bp.add_url_rule(
            f"{item}/attachments/<uuid:attachment_id>/delete",
            view_name,
            requires(ATTACHMENT_PERMISSIONS["delete"])(attachment_delete_page),
            methods=["GET", "POST"],
        )


# -- what a detail page shows for a field -----------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A referenced record as a page shows it: its title, linked to its detail page when the user may open it.

    Renders as the link (``__html__``) in templates, and as the title in text.
    """

    title: str
    url: str | None = None

    def __str__(self) -> str:
        return self.title

    def __html__(self) -> str:
        if self.url:
            return str(Markup('<a href="{}">{}</a>').format(self.url, self.title))
        return str(escape(self.title))


@dataclass(frozen=True)
class Rows:
    """A list of nested records (an order's lines, a tax breakdown) as a detail page shows it: a table.

    ``columns`` are (key, label); each row maps a key to its shown value
    (decimals grouped, references as :class:`Ref`).
    """

    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    #: Marks the value for the templates' ``show`` macro, which draws it as a table.
    udyog_table: bool = True


#: Schema field metadata naming what a plain UUID field refers to: ``metadata={"reference": "user"}``.
REFERENCE_KEY = "reference"


def references_by_id(target: type, ids: Iterable[Any]) -> dict[str, Ref]:
    """str(id) → :class:`Ref` of the ``target`` records among ``ids`` that the user sees (one query).

    The title is the record's ``describe()`` of the resource with pages that
    declares ``target`` (else its title, name, code or number); the link is its
    detail page, when that resource's plugin is enabled and the user may read
    it. Records that the tenant scope or record rules hide are left out.
    """
    wanted = {i if isinstance(i, uuid.UUID) else _as_uuid(i) for i in ids if i not in (None, "")}
    wanted.discard(None)
    if not wanted:
        return {}
    known: Mapping[str, tuple[Resource, Mapping[str, str]]] = current_app.extensions.get(PAGES_EXTENSION, {})
    owner = next(((res, eps) for res, eps in known.values() if res.model is target), None)
    user = current_user()
    linkable = bool(
        owner is not None
        and "get" in owner[0].enabled
        and user is not None
        and user.can(owner[0].permission("read"))
        and current_tenant().is_enabled(owner[0].plugin)
    )
    out: dict[str, Ref] = {}
    for row in db_session().scalars(select(target).where(target.id.in_(wanted))):  # type: ignore[attr-defined]
        if owner is None:
            out[str(row.id)] = Ref(pickers.row_label(row))
            continue
        res, endpoints = owner
        url = url_for(endpoints["detail"], record_id=row.id) if linkable else None
        out[str(row.id)] = Ref(res.describe(row), url)
    return out


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def user_refs(ids: Iterable[Any]) -> dict[str, Ref]:
    """str(id) → :class:`Ref` with the user's name, for fields marked ``metadata={"reference": "user"}``."""
    wanted = [u for u in (i if isinstance(i, uuid.UUID) else _as_uuid(i) for i in ids if i) if u is not None]
    return {str(k): Ref(name) for k, name in user_names(wanted).items()} if wanted else {}


def detail_values(resource: Resource, obj: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """Output key → the value a detail page shows: references by title, nested lists as :class:`Rows`.

    - A reference (a composite tenant foreign key of the model, or a composed
      field with a reference) shows the referenced record's title, linked to
      its page for users who may read it; one query per referenced model.
    - A UUID field with ``metadata={"reference": "user"}`` shows the user's name.
    - A list of nested records shows as a table of the nested schema's fields,
      their references resolved the same way (the nested model's foreign keys).
    - A list of plain mappings (JSON) shows as a table of their keys.
    - Decimals are grouped (:func:`shown`); anything else is shown as dumped.
    """
    out: dict[str, Any] = {}
    for name, fld in resource.schema().fields.items():
        key = fld.data_key or name
        if fld.load_only or key not in data:
            continue
        out[key] = _shown_value(fld, data[key], getattr(obj, fld.attribute or name, None))
    composition = resource.composition()
    if composition is not None:
        for name, item in composition.fields.items():
            out[name] = shown(item.field, data.get(name))
    titles = reference_titles(resource, [data], set(out))
    for key, by_id in titles.items():
        value = data.get(key)
        if value not in (None, ""):
            out[key] = by_id.get(str(value), out[key])
    return out


def reference_titles(
    resource: Resource, rows: Iterable[Mapping[str, Any]], keys: set[str]
) -> dict[str, dict[str, Ref]]:
    """Output key → (str(id) → :class:`Ref`) for the reference fields among ``keys`` of dumped ``rows``.

    References are the model's composite tenant foreign keys, composed fields
    with a reference, and UUID fields marked ``metadata={"reference": "user"}``;
    one query per referenced model (and one for users), whatever the number of
    rows. Records the user may not see are left out (the raw value stays).
    """
    fields = resource.schema().fields
    targets: dict[str, Any] = {
        (fld.data_key or name): resource.references[fld.attribute or name]
        for name, fld in fields.items()
        if (fld.attribute or name) in resource.references and (fld.data_key or name) in keys
    }
    composition = resource.composition()
    if composition is not None:
        for name, item in composition.fields.items():
            ref = item.reference
            if name in keys and ref is not None and getattr(ref, "model", None) is not None:
                targets[name] = ref.model
    users = {
        (fld.data_key or name)
        for name, fld in fields.items()
        if fld.metadata.get(REFERENCE_KEY) == "user" and (fld.data_key or name) in keys
    }
    rows = list(rows)
    ids_by_model: dict[Any, set[Any]] = {}
    for key, target in targets.items():
        ids_by_model.setdefault(target, set()).update(row.get(key) for row in rows)
    titles = {target: references_by_id(target, ids) for target, ids in ids_by_model.items()}
    out = {key: titles[target] for key, target in targets.items()}
    if users:
        names = user_refs(row.get(k) for row in rows for k in users)
        out.update({key: names for key in users})
    return out


def _shown_value(fld: ma.fields.Field, value: Any, attr_value: Any) -> Any:
    """A dumped ``value`` as a detail page shows it (``attr_value``: the record's attribute, for nested rows)."""
    if isinstance(fld, ma.fields.List) and isinstance(value, list):
        inner = fld.inner
        if isinstance(inner, ma.fields.Nested) and isinstance(inner.schema, ma.Schema):
            items = list(attr_value) if isinstance(attr_value, (list, tuple)) else []
            return nested_rows(inner.schema, value, items)
    if isinstance(value, list):
        if not value:
            return None  # nothing: shown as a dash, not as "[]"
        if all(isinstance(v, Mapping) for v in value):
            return mapping_rows(value)
        if not any(isinstance(v, (list, Mapping)) for v in value):
            return ", ".join(str(v) for v in value)
    return shown(fld, value)


def nested_rows(schema: ma.Schema, dumped: list[Any], items: list[Any]) -> Rows:
    """``dumped`` nested records as a table of ``schema``'s fields (not ``id`` or ``version``).

    ``items`` are the records themselves (the ORM rows the list was dumped
    from), when there are as many: their model's references are then shown by
    title, one query per referenced model.
    """
    fields = {(f.data_key or n): f for n, f in schema.fields.items() if not f.load_only and n not in ("id", "version")}
    columns = [(key, label_of(name, f)) for name, f in schema.fields.items() if (key := f.data_key or name) in fields]
    refs: dict[str, type] = {}
    if items and len(items) == len(dumped) and hasattr(type(items[0]), "__table__"):
        from udyog_sdk.resources import model_references

        by_attr = model_references(type(items[0]))
        refs = {
            (f.data_key or n): by_attr[f.attribute or n]
            for n, f in schema.fields.items()
            if (f.attribute or n) in by_attr and (f.data_key or n) in fields
        }
    titles = {
        key: references_by_id(target, (row.get(key) for row in dumped if isinstance(row, Mapping)))
        for key, target in refs.items()
    }
    rows = []
    for row in dumped:
        if not isinstance(row, Mapping):
            continue
        cells: dict[str, Any] = {}
        for key, f in fields.items():
            value = row.get(key)
            ref = titles.get(key, {}).get(str(value)) if value not in (None, "") else None
            cells[key] = ref if ref is not None else shown(f, value)
        rows.append(cells)
    return Rows(columns, rows)


def mapping_rows(values: list[Mapping[str, Any]]) -> Rows:
    """Plain mappings (a JSON list) as a table: a column per key, in first-seen order."""
    keys: list[str] = []
    for value in values:
        keys += [str(k) for k in value if str(k) not in keys]
    return Rows([(k, humanise(k)) for k in keys], [{k: v.get(k) for k in keys} for v in values])


def _remember_pages(resource: Resource, app: Any, blueprint: str, names: Mapping[str, str]) -> None:
    """Record in ``app`` where ``resource``'s pages are (detail pages list related records from it)."""
    endpoints = {page: f"{blueprint}.{name}" for page, name in names.items()}
    app.extensions.setdefault(PAGES_EXTENSION, {}).setdefault(resource.permission_prefix, (resource, endpoints))


def breadcrumbs(
    resource: Resource, endpoint: Callable[[str], str], *tail: tuple[str, str | None]
) -> list[tuple[str, str | None]]:
    """The layout's breadcrumbs of a resource page: its menu group (or plugin), the list, then ``tail``."""
    user = current_user()
    list_url = None
    if "list" in resource.enabled and user is not None and user.can(resource.permission("read")):
        list_url = url_for(endpoint("list"))
    return [
        menu_group(resource),
        (_(resource.label_plural) if resource.label_plural else "", list_url if tail else None),
        *tail,
    ]


def menu_group(resource: Resource) -> tuple[str, str | None]:
    """(label, url) of the menu group holding the resource's list, else the plugin's name."""
    context: dict[str, Any] = {}
    current_app.update_template_context(context)
    menu = getattr(context.get("shell"), "menu", None) or []
    wanted = resource.page_url()
    for node in menu:
        for child in getattr(node, "children", None) or []:
            if getattr(child, "url", None) == wanted:
                return str(node.label), (getattr(node, "url", None) or None)
    return resource.plugin.replace("_", " ").capitalize(), None


def attachable(resource: Resource) -> bool:
    """Whether the resource's records take attachments (plugin tables do unless they opt out)."""
    return getattr(resource.model, "__udyog_attachments__", True) is not False and hasattr(resource.model, "tenant_id")


def record_key(obj: Any) -> tuple[str, str]:
    """(table, id) naming a record for attachments and the audit log."""
    from udyog_sdk.attachments import record_ref

    return record_ref(obj)


def human_size(size: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB"):
        if value < 1024:
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{value:.1f} GiB".replace(".0 ", " ")


def local_time(moment: dt.datetime | None) -> str:
    """A timestamp in the tenant's time zone, as ``23 Nov 2026, 17:40``."""
    if moment is None:
        return ""
    try:
        from zoneinfo import ZoneInfo

        zone: dt.tzinfo = ZoneInfo(current_tenant().timezone)
    except Exception:  # noqa: BLE001 - an unknown zone shows UTC
        zone = dt.UTC
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(zone)
    return f"{format_date(local)}, {local:%H:%M}"


def attachment_section(
    resource: Resource, obj: Any, record_id: uuid.UUID, endpoint: Callable[[str], str]
) -> dict[str, Any] | None:
    """The detail page's files: None unless the user holds ``core.attachment.read`` and the record takes files."""
    user = current_user()
    if user is None or not user.can(ATTACHMENT_PERMISSIONS["read"]) or not attachable(resource):
        return None
    if "get" not in resource.enabled:
        return None
    service = current_scope().attachments()
    entity, key = record_key(obj)
    files = service.list_for(entity, key)
    names = user_names(f.uploaded_by for f in files)
    may_delete = user.can(ATTACHMENT_PERMISSIONS["delete"])
    rows = [
        {
            "id": f.id,
            "filename": f.filename,
            "content_type": f.content_type,
            "size": human_size(f.size),
            "who": names.get(f.uploaded_by) if f.uploaded_by is not None else None,
            "when": local_time(f.uploaded_at),
            "download_url": ATTACHMENT_DOWNLOAD.format(id=f.id),
            "delete_url": url_for(endpoint("attachment_delete"), record_id=record_id, attachment_id=f.id)
            if may_delete
            else None,
        }
        for f in files
    ]
    limit = getattr(service, "max_bytes", None)
    return {
        "rows": rows,
        "can_write": user.can(ATTACHMENT_PERMISSIONS["write"]),
        "upload_url": url_for(endpoint("attach"), record_id=record_id),
        "max_size": human_size(limit) if isinstance(limit, int) else None,
    }


def history_section(resource: Resource, obj: Any) -> dict[str, Any] | None:
    """The detail page's latest audit entries, newest first: None unless the user holds ``core.audit.read``."""
    from udyog_sdk.audit import record_history

    user = current_user()
    if user is None or not user.can(AUDIT_PERMISSION) or getattr(resource.model, "__udyog_audit__", True) is False:
        return None
    entity, key = record_key(obj)
    entries = record_history(entity, key, limit=HISTORY_LIMIT + 1)
    more = len(entries) > HISTORY_LIMIT
    entries = entries[:HISTORY_LIMIT]
    # Only what the record's output shows (a load_only secret never appears), by its label.
    fields = {
        (fld.attribute or name): (label_of(name, fld), fld)
        for name, fld in resource.schema().fields.items()
        if not fld.load_only
    }
    rows = []
    for entry in entries:
        changes = [
            (fields[name][0], shown(fields[name][1], before or None), shown(fields[name][1], after or None))
            for name, before, after in entry.changed_fields()
            if name in fields and name not in ("id", "version")
        ]
        who = entry.user_name or ("System" if entry.user_id is None else "A former member")
        rows.append(
            {"id": entry.id, "when": local_time(entry.at), "who": who, "action": entry.action, "changes": changes}
        )
    more_url = f"{AUDIT_LOG_PAGE}?{urlencode({'entity': entity, 'record_id': key})}" if more else None
    return {"rows": rows, "more_url": more_url}


def related_sections(resource: Resource, obj: Any) -> list[dict[str, Any]]:
    """For each resource with pages whose model refers to this one's: its first records pointing here.

    Only resources of plugins the tenant enabled, that serve a list, and
    whose read permission the user holds; record rules apply as in its list.
    """
    user = current_user()
    if user is None:
        return []
    tenant = current_tenant()
    out: list[dict[str, Any]] = []
    known: Mapping[str, tuple[Resource, Mapping[str, str]]] = current_app.extensions.get(PAGES_EXTENSION, {})
    for key, (other, endpoints) in sorted(known.items()):
        if not tenant.is_enabled(other.plugin) or "list" not in other.enabled:
            continue
        if not user.can(other.permission("read")):
            continue
        refs = [attr for attr, target in other.references.items() if target is resource.model]
        for attr in refs:
            column = getattr(other.model, attr)
            rows, meta = other.listing.page(other.query().where(column == obj.id), {"limit": RELATED_LIMIT})
            param = next(
                (
                    p
                    for p, flt in other.listing.filters.items()
                    if flt.op == "eq" and getattr(flt.column, "key", None) == column.key
                ),
                None,
            )
            input_key = other._input_keys().get(attr, attr)
            columns = [c for c in list_columns(other) if c[0] != input_key]
            detail = endpoints["detail"] if "get" in other.enabled else None
            title = _(other.label_plural) if other.label_plural else ""
            if len(refs) > 1:
                title += f" ({humanise(attr).lower()})"
            has_more = bool((meta.get("pagination") or {}).get("next_cursor"))
            dumped = other.dump_many(rows)
            out.append(
                {
                    "key": f"{key}.{attr}".replace(".", "-"),
                    "title": title,
                    "columns": columns,
                    "cell": column_formatter(other, dumped, [c[0] for c in columns]),
                    "rows": [
                        (url_for(detail, record_id=row.id) if detail else None, data)
                        for row, data in zip(rows, dumped, strict=True)
                    ],
                    "more_url": url_for(endpoints["list"], **{param: str(obj.id)}) if param else None,
                    "has_more": has_more,
                    "new_label": other.label or "",
                }
            )
    return out


def list_columns(resource: Resource) -> list[tuple[str, str]]:
    """(output key, label) of the list page's columns."""
    fields = resource.schema().fields
    if resource.list_columns is not None:
        names = list(resource.list_columns)
    else:
        names = [n for n, f in fields.items() if not f.load_only and n not in ("id", "version")][:DEFAULT_COLUMNS]
    out = []
    for name in names:
        fld = fields.get(name)
        out.append((fld.data_key or name, label_of(name, fld)) if fld is not None else (name, humanise(name)))
    composition = resource.composition()
    if composition is not None:
        out += [(name, item.label) for name, item in composition.fields.items() if item.list_column]
    return out


def column_formatter(
    resource: Resource, rows: Iterable[Mapping[str, Any]] = (), keys: Iterable[str] = ()
) -> Callable[[str, Any], Any]:
    """``cell(key, value)`` for the list page: a column's value as :func:`shown` shows it.

    References among the columns ``keys`` of the dumped ``rows`` show the
    referenced record's title, linked as on the detail page
    (:func:`reference_titles`: one query per referenced model for the page).
    """
    by_key: dict[str, ma.fields.Field] = {
        fld.data_key or name: fld for name, fld in resource.schema().fields.items() if not fld.load_only
    }
    composition = resource.composition()
    if composition is not None:
        by_key.update({name: item.field for name, item in composition.fields.items()})
    titles = reference_titles(resource, rows, set(keys))

    def cell(key: str, value: Any) -> Any:
        found = titles.get(key, {}).get(str(value)) if value not in (None, "") else None
        return found if found is not None else shown(by_key.get(key), value)

    return cell


def page_filters(resource: Resource, raw: Mapping[str, str]) -> list[dict[str, Any]]:
    """The list page's filter inputs: name, label, input type, current value."""
    out = []
    suffix = {"eq": "", "gte": " from", "lte": " to"}
    for param, flt in resource.listing.filters.items():
        if flt.op not in PAGE_FILTER_OPS:
            continue
        column = flt.column
        try:
            python_type = column.type.python_type
        except (NotImplementedError, AttributeError):
            python_type = str
        kind = {
            bool: "boolean",
            int: "number",
            decimal.Decimal: "text",
            dt.date: "date",
            dt.datetime: "datetime-local",
        }.get(python_type, "text")
        name = str(getattr(column, "key", param))
        out.append({"name": param, "label": humanise(name) + suffix[flt.op], "kind": kind, "value": raw.get(param, "")})
    composition = resource.composition()
    if composition is not None:
        for param, composed in composition.filters.items():
            if composed.op not in PAGE_FILTER_OPS:
                continue
            kind = _kind(composed.field)
            kind = {"checkbox": "boolean", "decimal": "text", "email": "text"}.get(kind, kind) or "text"
            out.append({"name": param, "label": composed.label, "kind": kind, "value": raw.get(param, "")})
    return out


def search_box(resource: Resource, raw: Mapping[str, str]) -> dict[str, Any] | None:
    """The list page's search input (``q``): its current value and what it looks in; None when nothing is searchable."""
    searchable = resource.listing.searchable
    if not searchable:
        return None
    fields = resource.schema().fields
    labels = [label_of(name, fields[name]) if name in fields else humanise(name) for name in searchable]
    return {"name": SEARCH_PARAM, "value": raw.get(SEARCH_PARAM, ""), "fields": labels, "maxlength": SEARCH_MAX_LENGTH}


def sort_options(resource: Resource) -> list[tuple[str, str]]:
    """(value, label) of the list page's sort choices."""
    out = []
    for name in resource.listing.sortable:
        out.append((name, f"{humanise(name)} ↑"))
        out.append((f"-{name}", f"{humanise(name)} ↓"))
    return out
