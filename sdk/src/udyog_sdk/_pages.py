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
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from udyog_sdk.api import _scan_text
from udyog_sdk.formatting import format_number
from udyog_sdk.runtime import UdyogError, current_user, db_session
from udyog_sdk.security import requires

if TYPE_CHECKING:
    from udyog_sdk.resources import FormField, Resource

#: Filters with these ops get an input on the list page (``__in`` lists are API-only).
PAGE_FILTER_OPS = ("eq", "gte", "lte")
#: Strings longer than this get a textarea.
TEXTAREA_FROM = 500
#: References offer at most this many records to choose from.
MAX_CHOICES = 200
#: Columns the list page shows when the resource names none.
DEFAULT_COLUMNS = 6
#: Statuses a form shows inline; others (403, 404) become the shell's error page.
FORM_STATUSES = (400, 409, 422)

CONFLICT = "conflicts with existing data (a duplicate, or a record still in use)"


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow messages → ``{"field": [...], "lines.0.qty": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


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
    """The inputs of ``resource``'s create or edit form (see :meth:`Resource.form_fields`)."""
    schema = resource.input_schema() if mode == "create" else resource.patch_schema()
    out: list[FormField] = []
    for name, fld in schema.fields.items():
        if fld.dump_only or name == "version":
            continue
        attr = fld.attribute or name
        value: Any = getattr(obj, attr, "") if obj is not None else _NO_VALUE
        target = resource.references.get(attr)
        query = select(target).limit(MAX_CHOICES) if target is not None else None
        item = _form_field(fld.data_key or name, label_of(name, fld), fld, mode, value, query)
        if item is not None:
            out.append(item)
    composition = resource.composition()
    if composition is not None:
        values = composition.values([obj])[0] if obj is not None else {}
        for name, composed in composition.fields.items():
            fld = composed.field if mode == "create" else composed.update_field
            ref = composed.reference
            query = ref.query().limit(MAX_CHOICES) if ref is not None else None
            value = values.get(name) if obj is not None else _NO_VALUE
            item = _form_field(name, composed.label, fld, mode, value, query, help_text=composed.help)
            if item is not None:
                out.append(item)
    return out


#: No record yet: a create form shows the field's default.
_NO_VALUE = object()


def _form_field(
    key: str, label: str, fld: ma.fields.Field, mode: str, value: Any, choices_query: Any, *, help_text: str = ""
) -> FormField | None:
    """One input for field ``fld`` (None when it has no generic input); ``choices_query`` lists referenced records."""
    from udyog_sdk.resources import FormField

    kind = _kind(fld)
    if not kind:
        return None
    if value is _NO_VALUE:
        value = fld.load_default if fld.load_default is not ma.missing and not callable(fld.load_default) else ""
    item = FormField(
        name=key,
        label=label,
        kind=kind,
        required=bool(fld.required) or (mode == "edit" and not fld.allow_none and kind != "checkbox"),
        value=bool(value) if kind == "checkbox" else as_text(value),
        help=help_text or str(fld.metadata.get("description") or ""),
        maxlength=_max_length(fld),
        nullable=bool(fld.allow_none),
    )
    choices = _one_of(fld)
    if choices is not None:
        item.kind = "select"
        item.choices = [(c, c) for c in choices]
    elif choices_query is not None:
        item.kind = "select"
        rows = db_session().scalars(choices_query).all()
        item.choices = sorted(((str(r.id), _row_label(r)) for r in rows), key=lambda c: c[1].casefold())
    elif (kind == "text" and (item.maxlength or 0) > TEXTAREA_FROM) or fld.metadata.get("widget") == "textarea":
        item.kind = "textarea"
    if item.kind == "select" and (item.nullable or not fld.required):
        item.choices.insert(0, ("", "—"))
    return item


def _row_label(row: Any) -> str:
    for name in ("title", "name", "code", "number", "email"):
        value = getattr(row, name, None)
        if value not in (None, ""):
            return str(value)
    return str(row.id)


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
    }

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
        return page(
            resource.list_template,
            status,
            rows=[(row.id, resource.dump(row)) for row in rows],
            columns=list_columns(resource),
            cell=column_formatter(resource),
            filters=page_filters(resource, raw),
            sort_options=sort_options(resource),
            sort=raw.get("sort", ""),
            errors=errors,
            next_url=next_url,
            first_url=first_url if "cursor" in raw else None,
        )

    if "list" in resource.enabled:
        add(base, "list", "read", list_page, ["GET"])

    # -- detail -------------------------------------------------------------------

    def detail_page(record_id: uuid.UUID) -> Response:
        obj = resource.lookup(record_id)
        data = resource.dump(obj)
        schema = resource.schema()
        fields = [
            (label_of(name, fld), shown(fld, data.get(fld.data_key or name)))
            for name, fld in schema.fields.items()
            if not fld.load_only and (fld.data_key or name) in data
        ]
        composition = resource.composition()
        if composition is not None:
            fields += [(item.label, shown(item.field, data.get(name))) for name, item in composition.fields.items()]
        cancelled = bool(resource.legal_document and resource.is_cancelled(obj))
        return page(
            resource.detail_template,
            obj=obj,
            record_id=record_id,
            title=resource.describe(obj),
            fields=fields,
            cancelled=cancelled,
        )

    if "get" in resource.enabled:
        add(item, "detail", "read", detail_page, ["GET"])

    # -- forms ----------------------------------------------------------------------

    def form_page(
        mode: str, fields: list[FormField], errors: dict[str, list[str]], status: int, **context: Any
    ) -> Response:
        placed = {f.name for f in fields}
        for item_ in fields:
            item_.errors = list(errors.get(item_.name, []))
        general = {k: v for k, v in errors.items() if k not in placed}
        return page(resource.form_template, status, mode=mode, fields=fields, general=general, **context)

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
        return redirect(url_for(endpoint("detail"), record_id=done.id), 303)  # type: ignore[return-value]

    if "update" in resource.enabled:
        add(f"{item}/edit", "edit", "write", edit_page, ["GET", "POST"])

    # -- delete and cancel ---------------------------------------------------------------

    def confirm(action: str, record_id: uuid.UUID) -> Response:
        obj = resource.lookup(record_id)
        title = resource.describe(obj)
        if request.method == "GET":
            return page(resource.confirm_template, action=action, obj=obj, record_id=record_id, title=title)
        try:
            if action == "delete":
                resource.perform_delete(obj)
                return redirect(url_for(endpoint("list")), 303)  # type: ignore[return-value]
            sent = request.form.get("version", "")
            version = int(sent) if sent.isdigit() and len(sent) <= 10 else None
            resource.perform_cancel(obj, version)
            return redirect(url_for(endpoint("detail"), record_id=record_id), 303)  # type: ignore[return-value]
        except UdyogError as exc:
            if exc.status not in FORM_STATUSES:
                raise
            db_session().rollback()
            errors, status = _status_errors(exc), exc.status
            message = exc.message
        except IntegrityError:
            db_session().rollback()
            errors, status, message = {"_schema": [CONFLICT]}, 409, f"The {resource.label} is still in use."
        except StaleDataError:
            db_session().rollback()
            errors, status, message = {"version": ["changed meanwhile"]}, 409, "It was changed meanwhile: reload it."
        return page(
            resource.confirm_template,
            status,
            action=action,
            obj=None,
            record_id=record_id,
            title=title,
            errors=errors,
            message=message,
        )

    if "delete" in resource.enabled:
        add(f"{item}/delete", "delete", "delete", lambda record_id: confirm("delete", record_id), ["GET", "POST"])
    if "cancel" in resource.enabled:
        add(f"{item}/cancel", "cancel", "cancel", lambda record_id: confirm("cancel", record_id), ["GET", "POST"])


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


def column_formatter(resource: Resource) -> Callable[[str, Any], Any]:
    """``cell(key, value)`` for the list page: a column's value as :func:`shown` shows it."""
    by_key: dict[str, ma.fields.Field] = {
        fld.data_key or name: fld for name, fld in resource.schema().fields.items() if not fld.load_only
    }
    composition = resource.composition()
    if composition is not None:
        by_key.update({name: item.field for name, item in composition.fields.items()})
    return lambda key, value: shown(by_key.get(key), value)


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


def sort_options(resource: Resource) -> list[tuple[str, str]]:
    """(value, label) of the list page's sort choices."""
    out = []
    for name in resource.listing.sortable:
        out.append((name, f"{humanise(name)} ↑"))
        out.append((f"-{name}", f"{humanise(name)} ↓"))
    return out
