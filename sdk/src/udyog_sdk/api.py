"""Building blocks for a plugin's REST API: the conventions every route follows.

- ``Blueprint`` is flask-smorest's (its routes land in the OpenAPI document)
  with Udyog's argument parser: a JSON body must be JSON (415 otherwise),
  unknown fields and undeclared query parameters are refused with 422 naming
  them, and text containing NUL characters or lone surrogates is refused.
- Responses use the envelope ``{"success", "message", "data", "meta"}`` built
  by :func:`ok` and documented by :func:`envelope`; errors are raised as
  :class:`udyog_sdk.UdyogError` and the core renders them as
  ``{"success": false, "message", "errors": {field: [...]}}``
  (:class:`ErrorSchema`).
- Lists are keyset-paginated (:func:`paginate`), filtered and sorted on
  declared fields (:class:`Listing`); there is no ``COUNT(*)`` per page.
- Updates of versioned rows carry the version the client read
  (:func:`check_version`, :func:`version_field`); a stale one answers 409.
- Legal documents are never deleted (:func:`refuse_delete`).

See ``docs/rest-api.md``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import decimal
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint as _SmorestBlueprint
from sqlalchemy import BigInteger, SmallInteger, and_, false, or_
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select
from webargs import core as _webargs_core
from webargs.fields import DelimitedList
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from udyog_sdk.runtime import UdyogError, db_session

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SEARCH_PARAM",
    "Blueprint",
    "EnvelopeSchema",
    "ErrorSchema",
    "Filter",
    "Listing",
    "PageMetaSchema",
    "PaginationSchema",
    "Parser",
    "UTCDateTimeField",
    "UdyogError",
    "check_version",
    "decode_cursor",
    "encode_cursor",
    "envelope",
    "flatten_messages",
    "limit_upload",
    "ok",
    "paginate",
    "refuse_delete",
    "version_field",
]

#: Page size when the client names none.
DEFAULT_LIMIT = 50
#: The largest page a client may ask for.
MAX_LIMIT = 200
#: The most values a ``field__in`` filter takes.
MAX_IN_VALUES = 100
#: Cursors longer than this are refused without decoding.
CURSOR_MAX_LENGTH = 2048
#: Versions are 32-bit integers in the database.
MAX_VERSION = 2**31 - 1

_ASC, _DESC = "asc", "desc"


# -- arguments -----------------------------------------------------------------


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (lone surrogate)"
    return None


def _scan_text(value: Any, path: str, errors: dict[str, list[str]]) -> None:
    """Collect text that no database can store (NUL, lone surrogates), by field path."""
    if isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            errors.setdefault(path or "_schema", []).append(problem)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            if _text_problem(key_text):
                errors.setdefault(path or "_schema", []).append("a field name is not valid text")
                continue
            _scan_text(item, f"{path}.{key_text}" if path else key_text, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan_text(item, f"{path}.{index}" if path else str(index), errors)


class Parser(FlaskParser):
    """webargs' Flask parser with Udyog's input rules.

    - A body sent with a content type other than JSON answers 415 (an empty
      body counts as no body); malformed JSON answers 400.
    - Unknown fields are refused everywhere, query parameters included, so an
      undeclared filter answers 422 naming it.
    - Text containing NUL characters or lone surrogates answers 422 naming the
      field (PostgreSQL cannot store NUL; neither database stores surrogates).
    """

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            if req.get_data(cache=True):
                abort(415, messages={"json": ["send the body as JSON (Content-Type: application/json)"]})
            return _webargs_core.missing
        return super()._raw_load_json(req)

    def pre_load(self, location_data: Any, *, schema: ma.Schema, req: Any, location: str) -> Any:
        """Refuse text no database can store before the schema sees it."""
        errors: dict[str, list[str]] = {}
        if location in ("query", "querystring"):
            for key, value in req.args.items(multi=True):
                _scan_text({key: value}, "", errors)
        elif location_data is not _webargs_core.missing:
            _scan_text(location_data, "", errors)
        if errors:
            raise ma.ValidationError(errors)
        return location_data


class Blueprint(_SmorestBlueprint):
    """A flask-smorest blueprint with Udyog's :class:`Parser`.

    Name it after the plugin (``crm`` or ``crm_quotes``); routes live under
    ``/api/v1/<plugin>/``.
    """

    ARGUMENTS_PARSER = Parser()

    def response(self, status_code: int | str, schema: Any = None, **kwargs: Any) -> Callable[..., Any]:
        """flask-smorest's ``response``; an :func:`envelope` class is served by one instance per process.

        flask-smorest would make an instance per route and application; an
        envelope instance holds no state of its own (see ``_EnvelopeBase``),
        so every route and application shares one.
        """
        return super().response(status_code, _shared(schema), **kwargs)  # type: ignore[no-any-return]

    def alt_response(self, status_code: int | str, response: Any = None, **kwargs: Any) -> Callable[..., Any]:
        """flask-smorest's ``alt_response``; an :func:`envelope` class is documented by the shared instance."""
        if "schema" in kwargs:
            kwargs["schema"] = _shared(kwargs["schema"])
        return super().alt_response(status_code, response, **kwargs)  # type: ignore[no-any-return]


def _shared(schema: Any) -> Any:
    """The process-wide instance of an :func:`envelope` class; any other schema as it is."""
    if isinstance(schema, type) and issubclass(schema, _EnvelopeBase):
        return _envelope_instance(schema)
    return schema


class UTCDateTimeField(ma.fields.AwareDateTime):
    """An ISO 8601 timestamp read as an aware UTC datetime (naive input is taken as UTC).

    Values that cannot be expressed in UTC (year 1 with a positive offset)
    are a validation error, not a crash.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ma.ValidationError("out of range") from None


# -- envelope -------------------------------------------------------------------


class Envelope(dict[str, Any]):
    """A success envelope whose ``data`` is already serialised (built by :func:`ok`).

    The response schema of :func:`envelope` passes it through instead of
    serialising the data a second time; the schema still documents it.
    """


def flatten_messages(messages: Any, prefix: str = "", *, skip: Iterable[str] = ()) -> dict[str, list[str]]:
    """marshmallow's nested messages → ``{"field": [...], "lines.0.qty": [...]}``.

    Nested fields and list positions join with dots; messages of the whole
    object go under ``_schema``. Keys in ``skip`` add no level of their own
    (webargs nests a parse error under its location: ``{"json": {...}}``).
    """
    skipped = frozenset(skip)
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "" if key in skipped else str(key)
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            out.update(flatten_messages(value, path, skip=skipped))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index), skip=skipped))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def ok(data: Any = None, *, message: str = "OK", meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A success envelope: ``{"success": true, "message", "data", "meta"}`` (``data`` already serialised)."""
    return Envelope(success=True, message=message, data=data, meta=dict(meta or {}))


class _EnvelopeBase(ma.Schema):
    """Response schemas that pass an :class:`Envelope` through unchanged.

    An instance is never changed after it is made (it holds no per-request
    state: marshmallow 4 schemas have no ``context``), so a deep copy of it
    is the instance itself. flask-smorest deep-copies each route's
    documentation, response schema included, several times per route and
    application; copying the envelope and its fields was a third of building
    an application.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _EnvelopeBase:
        return self

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        """Serialise ``obj``, unless it is an envelope of :func:`ok` whose data is plain already.

        Views may hand :func:`ok` ORM objects (the schema serialises them) or
        data they serialised themselves (passed through, not serialised twice).
        """
        if isinstance(obj, Envelope) and _plain(obj.get("data")):
            return obj
        return super().dump(obj, many=many)


_PLAIN = (dict, str, int, float, bool)


def _plain(data: Any) -> bool:
    if data is None or isinstance(data, _PLAIN):
        return True
    return isinstance(data, list) and (not data or isinstance(data[0], _PLAIN))


class EnvelopeSchema(ma.Schema):
    """The success envelope, with untyped data (see :func:`envelope`)."""

    success = ma.fields.Boolean(required=True)
    message = ma.fields.String()
    data = ma.fields.Raw(allow_none=True)
    meta = ma.fields.Dict()


class ErrorSchema(ma.Schema):
    """The error envelope of every 4xx and 5xx answer."""

    success = ma.fields.Boolean(required=True, metadata={"description": "always false"})
    message = ma.fields.String(required=True, metadata={"description": "what went wrong, for people"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "messages per field (dotted paths for nested fields; `_schema` for the whole body)"},
    )


class PaginationSchema(ma.Schema):
    """Where a page ends: pass ``next_cursor`` as ``cursor`` for the next page."""

    limit = ma.fields.Integer(required=True)
    next_cursor = ma.fields.String(required=True, allow_none=True)
    has_more = ma.fields.Boolean(required=True)


class PageMetaSchema(ma.Schema):
    """``meta`` of a paginated list."""

    pagination = ma.fields.Nested(PaginationSchema, required=True)


_ENVELOPES: dict[tuple[type[ma.Schema], bool, bool], type[ma.Schema]] = {}


@functools.cache
def _envelope_instance(cls: type[_EnvelopeBase]) -> _EnvelopeBase:
    """The one instance of the envelope class ``cls`` that routes respond with (see :meth:`Blueprint.response`)."""
    return cls()


def envelope(schema: type[ma.Schema], *, many: bool = False, paginated: bool = False) -> type[ma.Schema]:
    """A schema class for the success envelope whose ``data`` is ``schema`` (or a list of it).

    ``paginated=True`` documents ``meta.pagination`` (see :func:`paginate`).
    """
    key = (schema, many, paginated)
    cached = _ENVELOPES.get(key)
    if cached is not None:
        return cached
    base = schema.__name__.removesuffix("Schema")
    name = base + ("PageEnvelope" if paginated else "ListEnvelope" if many else "Envelope")
    data_field: ma.fields.Field = (
        ma.fields.List(ma.fields.Nested(schema)) if many else ma.fields.Nested(schema, allow_none=True)
    )
    meta_field: ma.fields.Field = ma.fields.Nested(PageMetaSchema) if paginated else ma.fields.Dict()
    cls = type(
        name,
        (_EnvelopeBase,),
        {
            "success": ma.fields.Boolean(required=True),
            "message": ma.fields.String(),
            "data": data_field,
            "meta": meta_field,
        },
    )
    _ENVELOPES[key] = cls
    return cls


# -- optimistic locking and legal documents --------------------------------------


def version_field(**kwargs: Any) -> ma.fields.Integer:
    """The ``version`` field of an update schema: required, the version the client read."""
    kwargs.setdefault("required", True)
    kwargs.setdefault("metadata", {"description": "the version you read; a stale one answers 409 (optimistic locking)"})
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_VERSION), **kwargs)


def check_version(row: Any, version: int | None) -> None:
    """Refuse an update unless the client read the row's current version.

    ``version`` is what the client sent (the ``version`` field of the body).
    Missing: 422. Different from the row's: 409 with a ``version`` field error
    ("changed by someone else"). A concurrent update that commits between this
    check and the caller's commit is caught by the ORM's version check
    (``StaleDataError``), which the API also answers with 409.
    """
    if version is None:
        raise UdyogError(
            "the version you read is required",
            status=422,
            errors={"version": ["required: send the version you read"]},
        )
    current = getattr(row, "version", None)
    if current is None:
        raise TypeError(f"{type(row).__name__} is not versioned (use udyog_sdk.models.VersionedMixin)")
    if current != version:
        raise UdyogError(
            "changed by someone else since you read it: reload it and apply your change again",
            status=409,
            errors={"version": [f"is {current} now, you sent {version}"]},
        )


def refuse_delete(what: str, *, instead: str = "cancel or reverse it") -> NoReturn:
    """Answer a DELETE of a legal document with 409: it is never deleted.

    ``what`` names the document (``"invoice INV/2025-26/0001"``); ``instead``
    says what to do (``"cancel it with a credit note"``). Call it from the
    resource's DELETE route, for instance once the document is issued. Models
    whose rows may never be deleted at all also set ``__udyog_deletable__ =
    False``; the core then refuses their deletion in the ORM as well.
    """
    raise UdyogError(
        f"{what} is a legal document and is never deleted: {instead} instead",
        status=409,
        errors={"_schema": [f"not deletable: {instead}"]},
    )


# -- keyset pagination -------------------------------------------------------------


def _python_type(attr: Any) -> type:
    try:
        return attr.type.python_type  # type: ignore[no-any-return]
    except (NotImplementedError, AttributeError):
        return str


def _attr_name(attr: Any) -> str:
    return str(getattr(attr, "key", None) or getattr(attr, "name", None) or attr)


def _nullable(attr: Any) -> bool:
    prop = getattr(attr, "property", None)
    columns = getattr(prop, "columns", None)
    if columns:
        return bool(getattr(columns[0], "nullable", True))
    return bool(getattr(attr, "nullable", True))


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"cannot put a {type(value).__name__} into a cursor")


def _decode_value(value: Any, python_type: type) -> Any:
    if value is None:
        return None
    if python_type is bool:
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if python_type is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    if python_type is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    if python_type is decimal.Decimal:
        number = decimal.Decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite number")
        return number
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    return value


def _signature(order: Sequence[tuple[Any, str]]) -> list[str]:
    return [("-" if direction == _DESC else "") + _attr_name(attr) for attr, direction in order]


def encode_cursor(order: Sequence[tuple[Any, str]], row: Any) -> str:
    """The opaque cursor after ``row`` for the sort ``order`` (the tiebreaker included)."""
    payload = {
        "s": _signature(order),
        "v": [_encode_value(getattr(row, _attr_name(attr))) for attr, _ in order],
    }
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _bad_cursor(reason: str) -> NoReturn:
    raise UdyogError("invalid cursor", status=400, errors={"cursor": [reason]})


def decode_cursor(cursor: str, order: Sequence[tuple[Any, str]]) -> list[Any]:
    """The sort values a cursor carries, checked against ``order``; a bad cursor answers 400."""
    if not cursor or len(cursor) > CURSOR_MAX_LENGTH:
        _bad_cursor("not a cursor of this list")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        _bad_cursor("not a cursor of this list")
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        _bad_cursor("not a cursor of this list")
    if payload.get("s") != _signature(order) or len(payload["v"]) != len(order):
        _bad_cursor("this cursor belongs to another sort order: start again without a cursor")
    try:
        return [_decode_value(value, _python_type(attr)) for (attr, _), value in zip(order, payload["v"], strict=True)]
    except (ValueError, TypeError, decimal.InvalidOperation):
        _bad_cursor("not a cursor of this list")


def _order_clause(attr: Any, direction: str) -> Any:
    # NULLs sort last ascending and first descending (PostgreSQL's default,
    # spelt out for SQLite), so a descending order is the exact reverse.
    clause = attr.desc() if direction == _DESC else attr.asc()
    if _nullable(attr):
        clause = clause.nulls_first() if direction == _DESC else clause.nulls_last()
    return clause


def _after(attr: Any, direction: str, value: Any) -> ColumnElement[bool]:
    """Rows strictly after ``value`` in this column's order."""
    nullable = _nullable(attr)
    if direction == _ASC:
        if value is None:
            return false()  # NULLs come last
        return or_(attr > value, attr.is_(None)) if nullable else attr > value
    if value is None:
        return attr.is_not(None)  # NULLs come first, descending
    return attr < value


def _equal(attr: Any, value: Any) -> ColumnElement[bool]:
    return attr.is_(None) if value is None else attr == value


def _keyset(order: Sequence[tuple[Any, str]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after ``values`` in ``order``: ``a > x OR (a = x AND b > y) ...``.

    The disjunction is exact but gives the planner no range to start an index
    scan at, so a deep page would filter its way from the first row. A
    redundant bound on the leading column (``a >= x``) lets it seek to the
    cursor; it is added where the column holds no NULLs.
    """
    branches = []
    for index, (attr, direction) in enumerate(order):
        prefix = [_equal(a, v) for (a, _), v in zip(order[:index], values[:index], strict=True)]
        branches.append(and_(*prefix, _after(attr, direction, values[index])))
    condition = or_(*branches)
    (lead, direction), first = order[0], values[0]
    if len(order) > 1 and first is not None and not _nullable(lead):
        condition = and_(lead >= first if direction == _ASC else lead <= first, condition)
    return condition


def paginate(
    query: Select[Any],
    *,
    sort: Sequence[tuple[Any, str]],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    session: Session | None = None,
    key: Any = None,
) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``query`` by keyset: ``(rows, {"pagination": {...}})``.

    ``sort`` lists ``(column, "asc" | "desc")`` of mapped attributes of the
    selected entity; the row's ``id`` (or ``key``) is appended as the
    tiebreaker in the last column's direction. ``cursor`` is the
    ``next_cursor`` of the previous page (a bad one answers 400, field
    ``cursor``). One query of ``limit + 1`` rows, no ``COUNT(*)``. The session
    defaults to :func:`udyog_sdk.db_session`.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    for _, direction in sort:
        if direction not in (_ASC, _DESC):
            raise ValueError(f"sort direction must be 'asc' or 'desc', not {direction!r}")
    descriptions = query.column_descriptions
    if key is None:
        entity = descriptions[0].get("entity") if descriptions else None
        key = getattr(entity, "id", None)
        if key is None:
            raise ValueError("paginate() needs the entity's id or an explicit key column")
    order = [*sort, (key, sort[-1][1] if sort else _ASC)]
    if cursor:
        query = query.where(_keyset(order, decode_cursor(cursor, order)))
    query = query.order_by(None).order_by(*(_order_clause(a, d) for a, d in order)).limit(limit + 1)
    session = session if session is not None else db_session()
    entity_only = len(descriptions) == 1 and descriptions[0].get("expr") is descriptions[0].get("entity") is not None
    rows = list(session.scalars(query)) if entity_only else list(session.execute(query))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(order, rows[-1]) if has_more else None
    return rows, {"pagination": {"limit": limit, "next_cursor": next_cursor, "has_more": has_more}}


# -- declared filters and sort orders ------------------------------------------------

FILTER_OPS = ("eq", "gte", "lte", "in")
_ORDERED_TYPES = (int, decimal.Decimal, dt.datetime, dt.date)


@dataclass(frozen=True)
class Filter:
    """One filter query parameter: compares ``column`` with the given value by ``op``.

    ``op`` is ``eq``, ``gte``, ``lte`` or ``in`` (a comma-separated list).
    Declare filters in a :class:`Listing`, where a plain name stands for
    ``name`` (eq) plus ``name__gte``/``name__lte``/``name__in`` as fits the
    column's type, and a ``Filter`` names one parameter exactly
    (``"since": Filter(AuditEntry.at, "gte")``). ``field`` overrides the
    marshmallow field that reads a value (by default one that fits the
    column: its type, its length, its integer range).
    """

    column: Any
    op: str = "eq"
    field: ma.fields.Field | None = None

    def __post_init__(self) -> None:
        if self.op not in FILTER_OPS:
            raise ValueError(f"filter op must be one of {', '.join(FILTER_OPS)}, not {self.op!r}")

    def parameter(self) -> ma.fields.Field:
        """The marshmallow field that reads this parameter."""
        value = copy.deepcopy(self.field) if self.field is not None else _value_field(self.column)
        if self.op == "in":
            return DelimitedList(value, validate=ma.validate.Length(min=1, max=MAX_IN_VALUES))
        return value

    def clause(self, value: Any) -> ColumnElement[bool]:
        """The SQL condition for a parsed value."""
        column = self.column
        if self.op == "gte":
            return column >= value  # type: ignore[no-any-return]
        if self.op == "lte":
            return column <= value  # type: ignore[no-any-return]
        if self.op == "in":
            return column.in_(list(value))  # type: ignore[no-any-return]
        return column == value  # type: ignore[no-any-return]


def _decimal_within(bound: int) -> Callable[[decimal.Decimal], None]:
    """A validator: ``-bound <= value < bound`` (what a NUMERIC column of that many integer digits holds)."""

    def check(value: decimal.Decimal) -> None:
        if not -bound <= value < bound:
            raise ma.ValidationError(f"must be at least -{bound} and less than {bound}")

    return check


def _value_field(attr: Any) -> ma.fields.Field:
    """A marshmallow field for values of a column, bounded so the database never overflows."""
    python_type = _python_type(attr)
    sqltype = attr.type
    if python_type is bool:
        return ma.fields.Boolean()
    if python_type is int:
        bits = 16 if isinstance(sqltype, SmallInteger) else 64 if isinstance(sqltype, BigInteger) else 32
        bound = 2 ** (bits - 1)
        return ma.fields.Integer(strict=False, validate=ma.validate.Range(min=-bound, max=bound - 1))
    if python_type is decimal.Decimal:
        precision = getattr(sqltype, "precision", None) or 38
        scale = getattr(sqltype, "scale", None) or 0
        bound = 10 ** (precision - scale)
        # Not a Range: apispec would document its bounds through the field, as strings ("1000"), which
        # OpenAPI tools reject; the bounds are documented as numbers instead.
        return ma.fields.Decimal(
            as_string=True,
            validate=_decimal_within(bound),
            metadata={"minimum": -bound, "maximum": bound, "exclusiveMaximum": True},
        )
    if python_type is dt.datetime:
        return UTCDateTimeField()
    if python_type is dt.date:
        return ma.fields.Date()
    if python_type is uuid.UUID:
        return ma.fields.UUID()
    if python_type is str:
        length = getattr(sqltype, "length", None) or 1000
        return ma.fields.String(validate=ma.validate.Length(max=length))
    raise TypeError(f"cannot filter on {attr} of type {sqltype}")


def _default_filters(name: str, attr: Any) -> dict[str, Filter]:
    python_type = _python_type(attr)
    found = {name: Filter(attr, "eq")}
    if python_type in _ORDERED_TYPES:
        found[f"{name}__gte"] = Filter(attr, "gte")
        found[f"{name}__lte"] = Filter(attr, "lte")
    if python_type in (str, int, uuid.UUID):
        found[f"{name}__in"] = Filter(attr, "in")
    return found


#: The free-text search parameter of lists (see :class:`Listing`).
SEARCH_PARAM = "q"
#: The longest search text a list accepts.
SEARCH_MAX_LENGTH = 200


class Listing:
    """How a list route paginates, filters and sorts: declared once per resource.

    >>> branches = Listing(Branch, filters=["code", "state_code", "is_active"],
    ...                    sort=["code", "name"], default_sort="code")

    ``filters``: names of the model's attributes (each gets ``name`` and,
    as fits its type, ``name__gte``, ``name__lte``, ``name__in``), or a
    mapping of parameter name to a tuple of ops (``{"code": ("eq", "in")}``)
    or to a :class:`Filter`. ``sort``: attribute names clients may sort on
    (``?sort=-name,code``). ``search``: text attributes the free-text
    parameter ``q`` looks in (case-insensitive "contains", any of them;
    ``%`` and ``_`` are literal). ``schema`` is the query-argument schema for
    ``@bp.arguments(listing.schema, location="query")``; unknown parameters
    answer 422 naming them. :meth:`page` runs the query.
    """

    def __init__(
        self,
        model: type,
        *,
        filters: Iterable[str] | Mapping[str, Sequence[str] | Filter] = (),
        sort: Iterable[str] = (),
        default_sort: str | None = None,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
        name: str | None = None,
        search: Iterable[str] = (),
    ) -> None:
        self.model = model
        self.filters: dict[str, Filter] = {}
        items = filters.items() if isinstance(filters, Mapping) else ((f, None) for f in filters)
        for param, spec in items:
            if param in ("limit", "cursor", "sort", SEARCH_PARAM):
                raise ValueError(f"filter name {param!r} is reserved")
            if isinstance(spec, Filter):
                self.filters[param] = spec
                continue
            attr = getattr(model, param)
            if spec is None:
                self.filters.update(_default_filters(param, attr))
                continue
            for op in spec:
                self.filters[param if op == "eq" else f"{param}__{op}"] = Filter(attr, op)
        self.sortable: dict[str, Any] = {field: getattr(model, field) for field in sort}
        self.searchable: dict[str, Any] = {}
        for field in search:
            attr = getattr(model, field)
            if _python_type(attr) is not str:
                raise ValueError(f"search field {field!r} of {model.__name__} is not a text column")
            self.searchable[field] = attr
        if default_sort is None:
            default_sort = next(iter(self.sortable), "")
        self.default_sort = default_sort
        if default_sort:
            self.parse_sort(default_sort)
        if not 1 <= default_limit <= max_limit:
            raise ValueError("default_limit must lie between 1 and max_limit")
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.schema = self._schema(name or model.__name__)

    def _schema(self, name: str) -> type[ma.Schema]:
        fields: dict[str, Any] = {
            "limit": ma.fields.Integer(
                load_default=self.default_limit,
                validate=ma.validate.Range(min=1, max=self.max_limit),
                metadata={"description": f"page size (default {self.default_limit}, at most {self.max_limit})"},
            ),
            "cursor": ma.fields.String(
                validate=ma.validate.Length(min=1, max=CURSOR_MAX_LENGTH),
                metadata={"description": "`meta.pagination.next_cursor` of the previous page"},
            ),
        }
        if self.sortable:
            names = "|".join(re.escape(n) for n in self.sortable)
            fields["sort"] = ma.fields.String(
                validate=ma.validate.Regexp(
                    rf"^-?({names})(,-?({names}))*$",
                    error=f"sort on {', '.join(self.sortable)} (comma-separated, '-' for descending)",
                ),
                metadata={
                    "description": f"comma-separated fields, '-' before a field for descending: "
                    f"{', '.join(self.sortable)} (default {self.default_sort})"
                },
            )
        if self.searchable:
            fields[SEARCH_PARAM] = ma.fields.String(
                validate=ma.validate.Length(max=SEARCH_MAX_LENGTH),
                metadata={
                    "description": f"text to look for, case-insensitive, in any of: {', '.join(self.searchable)}"
                },
            )
        for param, flt in self.filters.items():
            field = flt.parameter()
            label = {"eq": "equal to", "gte": "at least", "lte": "at most", "in": "one of (comma-separated)"}[flt.op]
            field.metadata = {**field.metadata, "description": f"{_attr_name(flt.column)} {label}"}
            fields[param] = field
        return ma.Schema.from_dict(fields, name=f"{name}ListArgs")

    def parse_sort(self, text: str) -> list[tuple[Any, str]]:
        """``"-created_at,name"`` → ``[(Model.created_at, "desc"), (Model.name, "asc")]``; 422 naming ``sort``."""
        order: list[tuple[Any, str]] = []
        seen: set[str] = set()
        for part in (p.strip() for p in text.split(",")):
            field = part.removeprefix("-")
            if field not in self.sortable:
                raise UdyogError(
                    "invalid sort",
                    status=422,
                    errors={"sort": [f"cannot sort on {field!r}: sort on {', '.join(self.sortable) or 'nothing'}"]},
                )
            if field in seen:
                raise UdyogError("invalid sort", status=422, errors={"sort": [f"{field!r} is named twice"]})
            seen.add(field)
            order.append((self.sortable[field], _DESC if part.startswith("-") else _ASC))
        return order

    def page(
        self, query: Select[Any], args: Mapping[str, Any], *, session: Session | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """Apply the filters, search and sort in ``args`` (parsed by :attr:`schema`) and fetch one page."""
        query = self.where(query, args)
        sort_text = args.get("sort") or self.default_sort
        order = self.parse_sort(sort_text) if sort_text else []
        return paginate(
            query,
            sort=order,
            cursor=args.get("cursor"),
            limit=int(args.get("limit") or self.default_limit),
            session=session,
        )

    def where(self, query: Select[Any], args: Mapping[str, Any]) -> Select[Any]:
        """``query`` narrowed by the filters and the search (``q``) in ``args`` (parsed by :attr:`schema`)."""
        for param, flt in self.filters.items():
            if param in args:
                query = query.where(flt.clause(args[param]))
        clause = self.search_clause(args.get(SEARCH_PARAM))
        if clause is not None:
            query = query.where(clause)
        return query

    def search_clause(self, text: str | None) -> ColumnElement[bool] | None:
        """Any searchable column contains ``text`` (case-insensitive; ``%`` and ``_`` literal); None for no text."""
        text = (text or "").strip()
        if not text or not self.searchable:
            return None
        return or_(*(column.icontains(text, autoescape=True) for column in self.searchable.values()))


#: Room for the multipart framing around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


def limit_upload(max_bytes: Callable[[], int]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse request bodies larger than ``max_bytes()`` (plus multipart framing) before they are read.

    For upload routes: the limit is read per request (it may be a setting),
    and a larger body answers 413 naming the ``file`` field.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limit = max_bytes()
            request.max_content_length = limit + MULTIPART_OVERHEAD
            try:
                return view(*args, **kwargs)
            except RequestEntityTooLarge:
                raise UdyogError(
                    f"the upload is too large: files may have at most {limit} bytes",
                    status=413,
                    errors={"file": [f"at most {limit} bytes"]},
                ) from None

        return wrapper

    return decorate
