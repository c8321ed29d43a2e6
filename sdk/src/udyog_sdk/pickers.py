"""Reference inputs of forms: a select for a few records, a search picker for many.

A form field that refers to another record (a foreign key, a custom field's
link) must offer every record the user may choose, and on an edit form must
keep the current one. :func:`reference_field` builds that input:

- the current value is read by id through the session (tenant scope and
  record rules apply) and always offered, selected;
- when the user sees at most :data:`MAX_CHOICES` records of the target, the
  field is a ``select`` of them, ordered by label;
- otherwise it is a ``reference`` field: a search picker holding the current
  id and label and the URL of a choices endpoint, which the shell's
  ``reference-picker.js`` turns into a combobox. Without JavaScript it is a
  text input that takes the record's id (the current record is named under
  it), so a form never changes a reference silently.

A choices endpoint (:func:`choices_response`, or a route added with
:func:`add_choices_route`) answers ``GET ...?q=<text>`` with JSON
``[{"id": ..., "label": ...}]``: at most :data:`CHOICES_LIMIT` records whose
label columns (:data:`LABEL_COLUMNS`) contain the text, case-insensitive, or
whose id is the text; ordered by label. The generic resource pages serve one
per reference field at ``/<plugin>/<path>/choices/<field>``; plugins' own
forms add theirs with :func:`add_choices_route` and render the input with the
macro ``reference_input`` of ``udyog_sdk/_reference.html``. See
``docs/resources.md`` (Reference fields).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import String, cast, func, inspect, or_
from sqlalchemy.sql import ColumnElement, Select

from udyog_sdk.api import SEARCH_MAX_LENGTH, SEARCH_PARAM, _text_problem
from udyog_sdk.runtime import current_user, db_session
from udyog_sdk.security import authenticated

if TYPE_CHECKING:
    from udyog_sdk.resources import FormField

__all__ = [
    "CHOICES_LIMIT",
    "LABEL_COLUMNS",
    "MAX_CHOICES",
    "add_choices_route",
    "choices_response",
    "reference_field",
    "row_label",
    "search_choices",
]

#: A reference whose target has at most this many records the user sees is a select; more, a search picker.
MAX_CHOICES = 200
#: The most records a choices endpoint answers.
CHOICES_LIMIT = 20
#: The columns that name a record, in order: its label is the first of them it has and fills (else its id).
LABEL_COLUMNS = ("title", "name", "code", "number", "email")
#: The longest search text a choices endpoint accepts.
QUERY_MAX_LENGTH = SEARCH_MAX_LENGTH


def row_label(row: Any) -> str:
    """A record's label: its first filled :data:`LABEL_COLUMNS` column, else its id."""
    for name in LABEL_COLUMNS:
        value = getattr(row, name, None)
        if value not in (None, ""):
            return str(value)
    return str(row.id)


def _label_columns(model: Any) -> list[ColumnElement[Any]]:
    """The model's :data:`LABEL_COLUMNS` columns, as text."""
    columns = inspect(model).columns
    out: list[ColumnElement[Any]] = []
    for name in LABEL_COLUMNS:
        prop = inspect(model).attrs.get(name)
        if prop is None or name not in columns:
            continue
        column = getattr(model, name)
        out.append(column if isinstance(columns[name].type, String) else cast(column, String))
    return out


def label_order(model: Any) -> list[ColumnElement[Any]]:
    """ORDER BY terms that sort records by :func:`row_label`, case-insensitive (then by id)."""
    columns = _label_columns(model)
    if not columns:
        return [model.id]
    label = func.coalesce(*(func.nullif(c, "") for c in columns)) if len(columns) > 1 else columns[0]
    return [func.lower(label), model.id]


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def current_choice(query: Select[Any], model: Any, value: Any, label: Callable[[Any], str] = row_label) -> str | None:
    """The label of record ``value`` among ``query``'s, as the user sees it; None when absent or hidden."""
    wanted = _as_uuid(value) if value not in (None, "") else None
    if wanted is None:
        return None
    row = db_session().scalar(query.where(model.id == wanted))
    return label(row) if row is not None else None


def search_choices(
    query: Select[Any],
    model: Any,
    text: str = "",
    *,
    limit: int = CHOICES_LIMIT,
    label: Callable[[Any], str] = row_label,
    columns: Iterable[Any] = (),
) -> list[dict[str, str]]:
    """``[{"id", "label"}]`` of ``query``'s records whose label columns contain ``text`` (or whose id it is).

    Case-insensitive (``%`` and ``_`` are literal), ordered by label, at most
    ``limit``; through the session, so tenant scope and record rules apply.
    No text: the first records by label. ``columns``: more text columns to
    look in (a product's SKU, a customer's phone).
    """
    text = text.strip()
    if text:
        searched = _label_columns(model)
        keys = {str(c) for c in searched}
        searched += [c for c in columns if str(c) not in keys]
        conditions: list[ColumnElement[bool]] = [c.icontains(text, autoescape=True) for c in searched]
        exact = _as_uuid(text)
        if exact is not None:
            conditions.append(model.id == exact)
        if not conditions:
            return []
        query = query.where(or_(*conditions))
    rows = db_session().scalars(query.order_by(None).order_by(*label_order(model)).limit(limit)).all()
    return [{"id": str(r.id), "label": label(r)} for r in rows]


def reference_field(
    name: str,
    label: str,
    query: Select[Any],
    model: Any,
    value: Any,
    *,
    choices_url: str,
    required: bool = False,
    nullable: bool = False,
    help: str = "",
    blank: bool | None = None,
    describe: Callable[[Any], str] = row_label,
) -> FormField:
    """The input of a reference to ``query``'s records (``model``), holding ``value`` (an id, or "").

    A ``select`` ordered by label when the user sees at most
    :data:`MAX_CHOICES` records (one query with ``LIMIT MAX_CHOICES + 1``),
    else a ``reference`` picker searching ``choices_url``. The current value
    is always offered: read by id through the session; a record the user may
    not see keeps its id as its label (saving it then answers the target's
    own error, never a silent change). ``blank`` (default: ``nullable or not
    required``) offers an empty choice; ``describe`` names a record
    (default :func:`row_label`).
    """
    from udyog_sdk.resources import FormField

    text = "" if value is None else str(value)
    item = FormField(name=name, label=label, kind="select", required=required, value=text, help=help)
    item.nullable = nullable
    item.reference_query = (query, model, describe)
    rows = db_session().scalars(query.order_by(None).order_by(*label_order(model)).limit(MAX_CHOICES + 1)).all()
    if len(rows) > MAX_CHOICES:
        item.kind = "reference"
        item.choices_url = choices_url
        item.value_label = (current_choice(query, model, text, describe) or text) if text else ""
        return item
    item.choices = [(str(r.id), describe(r)) for r in rows]
    if text and text not in {c[0] for c in item.choices}:
        item.choices.insert(0, (text, current_choice(query, model, text, describe) or text))
    if (nullable or not required) if blank is None else blank:
        item.choices.insert(0, ("", "—"))
    return item


def relabel(fields: Iterable[FormField]) -> None:
    """Name again the records that picker fields hold (after a submitted form put other ids in them)."""
    for item in fields:
        if item.kind == "reference" and item.reference_query is not None:
            query, model, label = item.reference_query
            text = str(item.value or "")
            item.value_label = (current_choice(query, model, text, label) or text) if text else ""


def json_error(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Response:
    """An error of a choices endpoint: the API's envelope (``success``, ``message``, ``errors``) with ``status``."""
    response = jsonify({"success": False, "message": message, "errors": errors or {}})
    response.status_code = status
    return response


def choices_response(
    query: Select[Any],
    model: Any,
    *,
    label: Callable[[Any], str] = row_label,
    limit: int = CHOICES_LIMIT,
    columns: Iterable[Any] = (),
) -> Response:
    """The answer of a choices endpoint: the records matching the request's ``q`` as JSON; 400 for a bad ``q``."""
    text = request.args.get(SEARCH_PARAM, "")
    if len(text) > QUERY_MAX_LENGTH:
        return json_error(
            400, f"the search text is too long: at most {QUERY_MAX_LENGTH} characters", {"q": ["too long"]}
        )
    problem = _text_problem(text)
    if problem:
        return json_error(400, f"the search text is not valid: {problem}", {"q": [problem]})
    return jsonify(search_choices(query, model, text, limit=limit, label=label, columns=columns))


def allowed(permissions: Iterable[str]) -> str | None:
    """None if the user holds one of ``permissions``; else the message of the 403."""
    wanted = list(permissions)
    user = current_user()
    if user is not None and any(user.can(p) for p in wanted):
        return None
    return f"permission required: {' or '.join(wanted)}"


def choices_view(
    make_query: Callable[[], Select[Any]],
    model: Any,
    permissions: Iterable[str],
    *,
    label: Callable[[Any], str] = row_label,
    columns: Iterable[Any] = (),
) -> Callable[..., Response]:
    """A view answering :func:`choices_response` for users holding any of ``permissions`` (403 JSON otherwise)."""
    wanted = tuple(permissions)
    searched = tuple(columns)

    @authenticated
    def view(**_: Any) -> Response:
        denied = allowed(wanted)
        if denied is not None:
            return json_error(403, denied, {"permission": list(wanted)})
        return choices_response(make_query(), model, label=label, columns=searched)

    return view


def add_choices_route(
    bp: Blueprint,
    rule: str,
    endpoint: str,
    make_query: Callable[[], Select[Any]],
    model: Any,
    permissions: Iterable[str],
    *,
    label: Callable[[Any], str] = row_label,
    columns: Iterable[Any] = (),
) -> None:
    """Serve a choices endpoint at ``rule`` of ``bp`` for a plugin's own form.

    ``make_query()`` is the records offered (``select(Employee)``, perhaps
    narrowed); the user needs one of ``permissions`` (those of the form it
    serves); ``label`` names a record, ``columns`` are more text columns to
    search (besides :data:`LABEL_COLUMNS`). Pair it with
    :func:`reference_field` and the macro ``reference_input`` of
    ``udyog_sdk/_reference.html``.
    """
    from udyog_sdk.resources import _install_templates

    view = choices_view(make_query, model, permissions, label=label, columns=columns)
    view.__name__ = endpoint
    bp.add_url_rule(rule, endpoint, view, methods=["GET"])
    bp.record_once(_install_templates)
