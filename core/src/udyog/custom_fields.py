"""Custom fields: per-tenant fields on any declared resource, defined without code.

An implementer defines them through ``/api/v1/core/custom-fields``
(:mod:`udyog.custom_fields_api`); this module checks the definitions, builds
the marshmallow fields and filters of each, and stores the values
(:class:`CustomFieldSource`, one source of a resource's
:class:`udyog_sdk.fields.Composition`).

Types and where their values live (:class:`udyog.models.CustomValue`):

============  ==============================================  =================  ====================
type          input and output                                column             filters
============  ==============================================  =================  ====================
``text``      a string of 1 to ``max_length`` (≤ 500)         ``value_text``     ``=``, ``__in``
``number``    an integer (64 bits)                            ``value_int``      ``=``, ``__gte``, ``__lte``, ``__in``
``decimal``   a string with at most ``places`` (≤ 6) decimals ``value_decimal``  ``=``, ``__gte``, ``__lte``
              and less than 10^12; never rounded, never float  (exact millionths)
``date``      ``YYYY-MM-DD``                                  ``value_date``     ``=``, ``__gte``, ``__lte``
``choice``    one of ``options``                              ``value_text``     ``=``, ``__in``
``boolean``   true or false                                   ``value_bool``     ``=``
``link``      the id of a record of the ``target`` resource   ``value_ref``      ``=``, ``__in``
============  ==============================================  =================  ====================

Rules an ERP user expects, decided here: a definition's type, resource and
link target never change while values exist (409; create another field); a
choice option in use cannot be removed, nor decimal places or a text length
reduced below stored values (409); deleting a definition that has values
needs ``purge=true`` and then deletes them too (audited); a record deleted
takes its values along (:mod:`udyog.composition`); a record a link points at
cannot be deleted (409). See ``docs/custom-fields.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from sqlalchemy import delete, func, select, update
from sqlalchemy.sql import ColumnElement
from webargs.fields import DelimitedList

from udyog.models import CustomField, CustomValue, Tenant
from udyog_sdk import TenantContext, UdyogError
from udyog_sdk.api import MAX_IN_VALUES
from udyog_sdk.fields import (
    CUSTOM_PREFIX,
    ORIGIN_KEY,
    ComposedField,
    ComposedFilter,
    ExactDecimal,
    FieldSource,
)
from udyog_sdk.runtime import db_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from udyog.composition import Compositions
    from udyog_sdk.resources import Resource

TYPES = ("text", "number", "decimal", "date", "choice", "boolean", "link")
NAME_RE = re.compile(r"^x_[a-z][a-z0-9_]{0,37}$")
NAME_RULE = "x_ then a lower-case letter, then lower-case letters, digits or underscores (at most 40 characters)"
#: Decimal values are stored as integers of this many decimals (millionths).
STORED_PLACES = 6
#: Decimal values stay below 10 ** this in magnitude (so millionths fit 64 bits).
DECIMAL_DIGITS = 12
DEFAULT_PLACES = 2
MAX_TEXT = 500
DEFAULT_TEXT = 255
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 100
#: Custom fields a tenant may define on one resource.
MAX_PER_RESOURCE = 100
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_COLUMN = {
    "text": "value_text",
    "choice": "value_text",
    "number": "value_int",
    "decimal": "value_decimal",
    "date": "value_date",
    "boolean": "value_bool",
    "link": "value_ref",
}
_OPS = {
    "text": ("eq", "in"),
    "choice": ("eq", "in"),
    "number": ("eq", "gte", "lte", "in"),
    "decimal": ("eq", "gte", "lte"),
    "date": ("eq", "gte", "lte"),
    "boolean": ("eq",),
    "link": ("eq", "in"),
}


@dataclass(frozen=True)
class CustomFieldSpec:
    """A definition as the composition uses it: plain, immutable, hashable (the cache keeps it)."""

    id: uuid.UUID
    resource: str
    name: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    default: Any = None
    options: tuple[str, ...] = ()
    target: str | None = None
    places: int | None = None
    max_length: int | None = None
    show_in_list: bool = False
    position: int = 0


def spec_of(row: CustomField) -> CustomFieldSpec:
    """The immutable form of a stored definition."""
    return CustomFieldSpec(
        id=row.id,
        resource=row.resource,
        name=row.name,
        type=row.type,
        label=row.label,
        help=row.help or "",
        required=bool(row.required),
        default=row.default,
        options=tuple(str(o) for o in row.options or ()),
        target=row.target,
        places=row.places,
        max_length=row.max_length,
        show_in_list=bool(row.show_in_list),
        position=row.position or 0,
    )


# -- fields and values ------------------------------------------------------------------------


def _value_field(spec: CustomFieldSpec, **kwargs: Any) -> ma.fields.Field:
    """A marshmallow field reading values of ``spec``'s type (no required/default settings)."""
    kind = spec.type
    if kind == "text":
        return ma.fields.String(validate=ma.validate.Length(min=1, max=spec.max_length or DEFAULT_TEXT), **kwargs)
    if kind == "choice":
        return ma.fields.String(validate=ma.validate.OneOf(spec.options), **kwargs)
    if kind == "number":
        return ma.fields.Integer(validate=ma.validate.Range(min=_INT_MIN, max=_INT_MAX), **kwargs)
    if kind == "decimal":
        places = DEFAULT_PLACES if spec.places is None else spec.places
        return ExactDecimal(places, digits=DECIMAL_DIGITS, **kwargs)
    if kind == "date":
        return ma.fields.Date(**kwargs)
    if kind == "boolean":
        return ma.fields.Boolean(**kwargs)
    if kind == "link":
        return ma.fields.UUID(**kwargs)
    raise ValueError(f"unknown custom field type {kind!r}")


def input_field(spec: CustomFieldSpec, *, create: bool = True) -> ma.fields.Field:
    """The field reading ``spec`` on create (required, default) or update (optional; required ones not null)."""
    metadata = {"label": spec.label, "description": spec.help, ORIGIN_KEY: "custom"}
    if spec.type == "link" and spec.target:
        metadata["x-udyog-link"] = spec.target
    kwargs: dict[str, Any] = {"allow_none": not spec.required, "metadata": metadata}
    if create:
        kwargs["required"] = spec.required
        if spec.default is not None and not spec.required:
            kwargs["load_default"] = parse_value(spec, spec.default)
    return _value_field(spec, **kwargs)


def parse_value(spec: CustomFieldSpec, raw: Any) -> Any:
    """A value as the API reads it (``"12.50"``, ``"2026-04-01"``) → its Python value; ValueError if invalid."""
    try:
        return _value_field(spec).deserialize(raw)
    except ma.ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        raise ValueError("; ".join(str(m) for m in messages)) from None


def to_stored(spec: CustomFieldSpec, value: Any) -> Any:
    """A Python value → what its column holds (decimals as exact millionths)."""
    if value is None:
        return None
    if spec.type == "decimal":
        return int(decimal.Decimal(value).scaleb(STORED_PLACES))
    return value


def from_stored(spec: CustomFieldSpec, stored: Any) -> Any:
    """What a column holds → the Python value."""
    if stored is None:
        return None
    if spec.type == "decimal":
        places = DEFAULT_PLACES if spec.places is None else spec.places
        return decimal.Decimal(stored).scaleb(-STORED_PLACES).quantize(decimal.Decimal(1).scaleb(-places))
    return stored


def json_value(spec: CustomFieldSpec, value: Any) -> Any:
    """A Python value as the API shows it (and as a stored default keeps it)."""
    if value is None:
        return None
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class CustomFieldSource(FieldSource):
    """The custom fields of one resource for one tenant: values in ``core_custom_value``."""

    def __init__(
        self,
        resource: Resource,
        specs: Sequence[CustomFieldSpec],
        tenant: TenantContext,
        compositions: Compositions,
    ) -> None:
        self.origin = "custom"
        self.owner = resource.model
        self.specs: dict[str, CustomFieldSpec] = {}
        self.targets: dict[str, Resource] = {}
        fields: list[ComposedField] = []
        filters: list[ComposedFilter] = []
        for spec in specs:
            if spec.type not in TYPES or not NAME_RE.match(spec.name):
                continue  # not made by the API: never shown
            reference = None
            if spec.type == "link":
                reference = compositions.declared(spec.target or "", tenant)
                if reference is None:
                    continue  # its target's plugin is disabled (or gone): hidden, values kept
                self.targets[spec.name] = reference
            try:
                create, change = input_field(spec), input_field(spec, create=False)
            except (ValueError, TypeError):
                continue  # a stored default that no longer fits: the field stays hidden until fixed
            self.specs[spec.name] = spec
            fields.append(
                ComposedField(
                    name=spec.name,
                    origin="custom",
                    field=create,
                    update_field=change,
                    label=spec.label,
                    help=spec.help,
                    list_column=spec.show_in_list,
                    reference=reference,
                )
            )
            filters += self._filters(spec)
        self.fields = fields
        self.filters = filters
        self._fingerprint = tuple(self.specs.values())

    def _filters(self, spec: CustomFieldSpec) -> list[ComposedFilter]:
        out = []
        column = getattr(CustomValue, _COLUMN[spec.type])
        suffix = {"eq": "", "gte": " from", "lte": " to", "in": " (any of)"}
        for op in _OPS[spec.type]:
            value_field = _value_field(spec, metadata={"description": f"{spec.label}{suffix[op]}"})
            param = spec.name if op == "eq" else f"{spec.name}__{op}"
            if op == "in":
                value_field = DelimitedList(value_field, validate=ma.validate.Length(min=1, max=MAX_IN_VALUES))

            def clause(value: Any, spec: CustomFieldSpec = spec, op: str = op) -> ColumnElement[bool]:
                if op == "in":
                    condition = column.in_([to_stored(spec, v) for v in value])
                elif op == "gte":
                    condition = column >= to_stored(spec, value)
                elif op == "lte":
                    condition = column <= to_stored(spec, value)
                else:
                    condition = column == to_stored(spec, value)
                matching = select(CustomValue.record_id).where(CustomValue.field_id == spec.id, condition)
                return self.owner.id.in_(matching)  # type: ignore[attr-defined,no-any-return]

            out.append(ComposedFilter(param, value_field, op, spec.label + suffix[op], clause))
        return out

    @property
    def fingerprint(self) -> Hashable:
        """The definitions themselves."""
        return self._fingerprint

    def read(self, records: Sequence[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        """The values of ``records`` (one query per 500 records)."""
        by_id = {spec.id: spec for spec in self.specs.values()}
        ids = [r.id for r in records]
        out: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            query = select(CustomValue).where(
                CustomValue.field_id.in_(list(by_id)), CustomValue.record_id.in_(ids[start : start + 500])
            )
            for row in db_session().scalars(query):
                spec = by_id[row.field_id]
                out.setdefault(row.record_id, {})[spec.name] = from_stored(spec, getattr(row, _COLUMN[spec.type]))
        return out

    def check(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """Links must name a record of their target that the user sees (tenant and record rules)."""
        errors: dict[str, list[str]] = {}
        for name, value in values.items():
            target = self.targets.get(name)
            if target is None or value is None:
                continue
            found = db_session().scalar(target.query().where(target.model.id == value).limit(1))
            if found is None:
                errors[name] = [f"no such {(target.label or 'record').lower()}"]
        return errors

    def write(self, record: Any, values: Mapping[str, Any]) -> bool:
        """Insert, change or delete (a None value) ``record``'s values."""
        session = db_session()
        wanted = {self.specs[name].id: (self.specs[name], value) for name, value in values.items()}
        rows = {
            row.field_id: row
            for row in session.scalars(
                select(CustomValue).where(CustomValue.record_id == record.id, CustomValue.field_id.in_(list(wanted)))
            )
        }
        changed = False
        for field_id, (spec, value) in wanted.items():
            row = rows.get(field_id)
            column = _COLUMN[spec.type]
            stored = to_stored(spec, value)
            if stored is None:
                if row is not None:
                    session.delete(row)
                    changed = True
                continue
            if row is None:
                session.add(CustomValue(field_id=field_id, record_id=record.id, **{column: stored}))
                changed = True
            elif getattr(row, column) != stored:
                setattr(row, column, stored)
                changed = True
        return changed


# -- definitions ------------------------------------------------------------------------------


def _refuse(message: str, errors: dict[str, list[str]], status: int = 422) -> UdyogError:
    return UdyogError(message, status=status, errors=errors)


def _humanise(name: str) -> str:
    return name.removeprefix(CUSTOM_PREFIX).replace("_", " ").strip().capitalize()


def checked_definition(values: Mapping[str, Any], tenant: TenantContext, compositions: Compositions) -> dict[str, Any]:
    """A whole definition's attributes, checked and completed (type-specific settings, the default).

    Raises :class:`UdyogError` (422) with every problem by field.
    """
    data = dict(values)
    errors: dict[str, list[str]] = {}
    name = data.get("name") or ""
    if not NAME_RE.match(name):
        errors["name"] = [NAME_RULE]
    resource = data.get("resource") or ""
    if compositions.declared(resource, tenant) is None:
        known = ", ".join(k for k in compositions.resources if compositions.declared(k, tenant)) or "none"
        errors["resource"] = [f"no such resource for this tenant (declared and enabled: {known})"]
    kind = data.get("type")
    if kind not in TYPES:
        errors["type"] = [f"one of {', '.join(TYPES)}"]
    data["label"] = (data.get("label") or "").strip() or _humanise(name)
    data["help"] = data.get("help") or ""
    options = list(data.get("options") or [])
    if kind == "choice":
        if not options:
            errors["options"] = ["a choice needs at least one option"]
        elif len(set(options)) != len(options):
            errors["options"] = ["options must differ"]
    elif options:
        errors["options"] = ["only choice fields have options"]
    data["options"] = options
    target = data.get("target")
    if kind == "link":
        if not target or compositions.declared(target, tenant) is None:
            errors["target"] = ["a link names a resource declared and enabled for this tenant"]
    elif target is not None:
        errors["target"] = ["only link fields have a target"]
    if kind == "decimal":
        data["places"] = DEFAULT_PLACES if data.get("places") is None else data["places"]
    elif data.get("places") is not None:
        errors["places"] = ["only decimal fields have places"]
    if kind == "text":
        data["max_length"] = DEFAULT_TEXT if data.get("max_length") is None else data["max_length"]
    elif data.get("max_length") is not None:
        errors["max_length"] = ["only text fields have a maximum length"]
    default = data.get("default")
    if default is not None and not errors.get("type"):
        if kind == "link":
            errors["default"] = ["a link has no default"]
        elif "options" not in errors:
            spec = _spec({**data, "default": None})
            try:
                data["default"] = json_value(spec, parse_value(spec, default))
            except ValueError as exc:
                errors["default"] = [str(exc)]
    if errors:
        raise _refuse("invalid custom field", errors)
    return data


def _spec(data: Mapping[str, Any]) -> CustomFieldSpec:
    return CustomFieldSpec(
        id=data.get("id") or uuid.UUID(int=0),
        resource=data.get("resource") or "",
        name=data.get("name") or "",
        type=data.get("type") or "text",
        label=data.get("label") or "",
        help=data.get("help") or "",
        required=bool(data.get("required")),
        default=data.get("default"),
        options=tuple(data.get("options") or ()),
        target=data.get("target"),
        places=data.get("places"),
        max_length=data.get("max_length"),
    )


ATTRIBUTES = (
    "resource",
    "name",
    "type",
    "label",
    "help",
    "required",
    "default",
    "options",
    "target",
    "places",
    "max_length",
    "show_in_list",
    "position",
)


def bump_revision(session: Session, tenant_id: uuid.UUID) -> None:
    """Move the tenant's custom-field revision on: every process builds its compositions afresh."""
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(fields_rev=Tenant.fields_rev + 1))


def value_count(session: Session, field_id: uuid.UUID) -> int:
    """How many records have a value of the field."""
    return int(session.scalar(select(func.count()).select_from(CustomValue).where(CustomValue.field_id == field_id)))


def create_definition(
    session: Session, tenant: TenantContext, compositions: Compositions, values: Mapping[str, Any]
) -> CustomField:
    """Add a custom field (the caller commits); 422 for bad settings, 409 for a taken name or too many."""
    data = checked_definition(values, tenant, compositions)
    taken = session.scalar(
        select(CustomField.id).where(CustomField.resource == data["resource"], CustomField.name == data["name"])
    )
    if taken is not None:
        raise _refuse(
            "name taken", {"name": [f"{data['resource']} has a custom field {data['name']} already"]}, status=409
        )
    count = session.scalar(
        select(func.count()).select_from(CustomField).where(CustomField.resource == data["resource"])
    )
    if int(count or 0) >= MAX_PER_RESOURCE:
        raise _refuse(
            "too many custom fields",
            {"resource": [f"{data['resource']} has {MAX_PER_RESOURCE} custom fields, the most it may have"]},
            status=409,
        )
    row = CustomField(**{k: data.get(k) for k in ATTRIBUTES if k in data})
    row.show_in_list = bool(data.get("show_in_list"))
    row.required = bool(data.get("required"))
    row.position = int(data.get("position") or 0)
    session.add(row)
    session.flush()
    bump_revision(session, tenant.id)
    return row


def update_definition(
    session: Session,
    tenant: TenantContext,
    compositions: Compositions,
    row: CustomField,
    changes: Mapping[str, Any],
) -> CustomField:
    """Change a custom field (the caller checked the version and commits).

    While values exist its type and link target stay (409), no option in
    use is removed, and decimal places or a text length do not drop below a
    stored value (409).
    """
    current = {k: getattr(row, k) for k in ATTRIBUTES}
    merged = {**current, **changes}
    if "type" in changes and changes["type"] != row.type:
        # Settings of the old type do not carry over to the new one.
        for key in ("options", "target", "places", "max_length", "default"):
            if key not in changes:
                merged[key] = [] if key == "options" else None
    data = checked_definition(merged, tenant, compositions)
    count = value_count(session, row.id)
    if count:
        conflicts = _conflicts_with_values(session, row, data, count)
        if conflicts:
            raise _refuse(
                f"{row.name} has values in {count} records: {'; '.join(v[0] for v in conflicts.values())}",
                conflicts,
                status=409,
            )
    if data["name"] != row.name:
        taken = session.scalar(
            select(CustomField.id).where(
                CustomField.resource == row.resource, CustomField.name == data["name"], CustomField.id != row.id
            )
        )
        if taken is not None:
            raise _refuse("name taken", {"name": [f"{row.resource} has a custom field {data['name']}"]}, status=409)
    for key in ATTRIBUTES:
        if key == "resource":
            continue
        value = data.get(key)
        if key in ("required", "show_in_list"):
            value = bool(value)
        if key == "position":
            value = int(value or 0)
        if getattr(row, key) != value:
            setattr(row, key, value)
    session.flush()
    bump_revision(session, tenant.id)
    return row


def _conflicts_with_values(
    session: Session, row: CustomField, data: Mapping[str, Any], count: int
) -> dict[str, list[str]]:
    """What a change would break in stored values (nothing: an empty dict)."""
    out: dict[str, list[str]] = {}
    mine = CustomValue.field_id == row.id
    if data["type"] != row.type:
        out["type"] = [f"cannot change from {row.type} to {data['type']} while {count} records have a value"]
        return out
    if row.type == "link" and data.get("target") != row.target:
        out["target"] = [f"cannot point elsewhere while {count} records link to {row.target}"]
    if row.type == "choice":
        removed = set(row.options or ()) - set(data.get("options") or ())
        if removed:
            used = sorted(
                session.scalars(
                    select(CustomValue.value_text).where(mine, CustomValue.value_text.in_(removed)).distinct()
                )
            )
            if used:
                out["options"] = [f"still in use: {', '.join(used)}"]
    if row.type == "decimal" and (data.get("places") or 0) < (row.places or 0):
        step = 10 ** (STORED_PLACES - int(data.get("places") or 0))
        finer = session.scalar(select(func.count()).where(mine, CustomValue.value_decimal % step != 0))
        if finer:
            out["places"] = [f"{finer} stored values have more than {data.get('places')} decimal places"]
    if row.type == "text" and (data.get("max_length") or 0) < (row.max_length or 0):
        longer = session.scalar(
            select(func.count()).where(mine, func.length(CustomValue.value_text) > int(data.get("max_length") or 0))
        )
        if longer:
            out["max_length"] = [f"{longer} stored values are longer than {data.get('max_length')} characters"]
    return out


def delete_definition(session: Session, tenant: TenantContext, row: CustomField, *, purge: bool) -> int:
    """Delete a custom field; with values only when ``purge`` (they go too, audited). Returns the values deleted."""
    count = value_count(session, row.id)
    if count and not purge:
        raise _refuse(
            f"{row.name} has values in {count} records: to delete them with it, send purge=true",
            {"purge": [f"{count} records have a value of {row.name}: confirm with purge=true"]},
            status=409,
        )
    if count:
        session.execute(delete(CustomValue).where(CustomValue.field_id == row.id))
    session.delete(row)
    session.flush()
    bump_revision(session, tenant.id)
    return count


def available(row: CustomField, tenant: TenantContext, compositions: Compositions) -> bool:
    """Whether the field shows for ``tenant``: its resource (and a link's target) declared and enabled."""
    if compositions.declared(row.resource, tenant) is None:
        return False
    return not (row.type == "link" and compositions.declared(row.target or "", tenant) is None)


__all__ = [
    "NAME_RE",
    "TYPES",
    "CustomFieldSource",
    "CustomFieldSpec",
    "available",
    "checked_definition",
    "create_definition",
    "delete_definition",
    "from_stored",
    "input_field",
    "json_value",
    "parse_value",
    "spec_of",
    "to_stored",
    "update_definition",
    "value_count",
]
