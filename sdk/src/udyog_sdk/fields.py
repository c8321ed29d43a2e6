"""Fields a resource gains per tenant: other plugins' contributions and the tenant's custom fields.

Both arrive through one mechanism, the *composition* of a resource for a
tenant (:class:`Composition`): a list of :class:`FieldSource` objects, each
holding some fields and storing their values somewhere other than the
resource's own table.

- **Field contributions.** A plugin adds fields to another plugin's resource
  (GST adds an HSN code to a product) by keeping a 1:1 side table of its own
  (:class:`SideTable`) and declaring a :class:`FieldContribution` through the
  ``udyog_field_contributions`` hook. The owner's table never changes:
  disabling the plugin for a tenant hides the fields, uninstalling it drops
  its side table.
- **Custom fields.** An implementer defines fields per tenant through the API
  (``/api/v1/core/custom-fields``); the core stores their values. Their names
  start with :data:`CUSTOM_PREFIX` (``x_``), so they can never clash with a
  plugin's fields.

The host builds a resource's composition once per tenant configuration
(enabled plugins and custom-field revision) and caches it; a
:class:`udyog_sdk.resources.Resource` asks for it with
:meth:`~udyog_sdk.resources.Resource.composition` and then loads, validates,
writes, filters and shows the extra fields with its own. See
``docs/field-contributions.md`` and ``docs/custom-fields.md``.
"""

from __future__ import annotations

import copy
import decimal
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import marshmallow as ma
from sqlalchemy import UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import ColumnElement, Select

from udyog_sdk.models import TenantMixin, tenant_fk
from udyog_sdk.runtime import UdyogError, db_session

__all__ = [
    "CUSTOM_PREFIX",
    "ComposedField",
    "ComposedFilter",
    "Composition",
    "ContributionSource",
    "ExactDecimal",
    "FieldContribution",
    "FieldSource",
    "SideTable",
    "is_side_table",
    "side_table_args",
]

#: Custom field names start with this; plugins' fields never do.
CUSTOM_PREFIX = "x_"
#: Record ids per ``IN`` list when reading the extra values of a page of records.
CHUNK = 500
#: The marker of an extra field in the OpenAPI document (``x-udyog-origin``: the plugin, or ``custom``).
ORIGIN_KEY = "x-udyog-origin"

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _humanise(name: str) -> str:
    return name.removeprefix(CUSTOM_PREFIX).removesuffix("_id").replace("_", " ").strip().capitalize()


# -- declaring a contribution -----------------------------------------------------------------


def side_table_args(owner_table: str) -> tuple[Any, ...]:
    """The table arguments of a side table of ``owner_table``: its composite reference and one row per record.

    ``(tenant_id, record_id)`` references the owner's ``(tenant_id, id)``
    (never across tenants) and is unique. Use it when a side table declares
    ``__table_args__`` of its own::

        __table_args__ = (*side_table_args("inventory_product"), Index(...))
    """
    if not owner_table:
        raise TypeError("a side table names the table it extends in __udyog_extends__")
    return (tenant_fk("record_id", owner_table), UniqueConstraint("tenant_id", "record_id"))


class SideTable(TenantMixin):
    """Mixin of a 1:1 side table: a plugin's own columns for another plugin's records.

    Set ``__udyog_extends__`` to the owner's table; the mixin adds
    ``record_id`` (the owner's record, a composite reference within the
    tenant, unique) besides ``tenant_id`` and ``id``::

        class ProductTax(SideTable, Base):
            __tablename__ = "gst_product_tax"
            __udyog_extends__ = "inventory_product"

            hsn_code: Mapped[str | None] = mapped_column(String(8), default=None)

    The rows are the core's to keep in step with the owner's: written when a
    record is created or changed through its resource, deleted (audited) when
    the record is deleted. No database cascade is declared, so nothing is
    deleted behind the audit log's back.
    """

    __udyog_extends__: ClassVar[str] = ""

    @declared_attr
    def record_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        """The owner's record this row extends."""
        return mapped_column(Uuid, nullable=False, sort_order=-98)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        return side_table_args(cls.__udyog_extends__)


def is_side_table(cls: type) -> bool:
    """Whether ``cls`` is a mapped side table (:class:`SideTable`) of another table."""
    return bool(getattr(cls, "__udyog_extends__", "")) and hasattr(cls, "__table__")


@dataclass(frozen=True)
class FieldContribution:
    """Fields a plugin adds to another plugin's resource, stored in a side table of its own.

    Return it from the ``udyog_field_contributions`` hook::

        @hookimpl
        def udyog_field_contributions():
            return [FieldContribution(
                "inventory.product", ProductTax,
                {"hsn_code": ma.fields.String(allow_none=True, validate=ma.validate.Regexp(r"^[0-9]{4,8}$"),
                                              metadata={"label": "HSN code", "description": "4 to 8 digits"})},
                filters=["hsn_code"], list_columns=["hsn_code"],
            )]

    Attributes:
        resource: the owner resource's key, its permission prefix
            (``"inventory.product"``); the owner declares it through
            ``udyog_resources``.
        model: the side table's mapped class (a :class:`SideTable` whose
            ``__udyog_extends__`` is the owner's table, named
            ``<plugin>_<thing>``).
        fields: input and output key → marshmallow field, validated on input
            like the owner's own; ``attribute`` may name another column of
            ``model``. Labels and help text come from ``metadata["label"]``
            and ``metadata["description"]``. Names are lower case and never
            clash with the owner's fields, another contributor's, or the
            ``x_`` of custom fields (the core refuses the contribution,
            naming both sides).
        filters: fields the owner's list filters on: ``name``, and as fits
            the column's type ``name__gte``, ``name__lte``, ``name__in``.
        list_columns: fields shown as columns on the owner's list page.
    """

    resource: str
    model: type
    fields: Mapping[str, ma.fields.Field]
    filters: Sequence[str] = ()
    list_columns: Sequence[str] = ()


# -- an exact decimal ---------------------------------------------------------------------------


class ExactDecimal(ma.fields.Decimal):
    """A decimal that is never rounded: more than ``places`` decimals is an error, not a rounding.

    Read from a JSON string or number, shown as a string with exactly
    ``places`` decimals. Values must be less than ``10 ** digits`` in
    magnitude; NaN and infinities are refused.
    """

    def __init__(self, places: int = 2, *, digits: int = 16, **kwargs: Any) -> None:
        kwargs.setdefault("as_string", True)
        super().__init__(places=None, **kwargs)
        if not 0 <= places <= 12 or digits < 1:
            raise ValueError("ExactDecimal needs 0 <= places <= 12 and digits >= 1")
        self.exact_places = places
        self.digits = digits
        self._quantum = decimal.Decimal(1).scaleb(-places)

    def _validated(self, value: Any) -> decimal.Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is None:
            return number  # type: ignore[unreachable]
        if not number.is_finite():
            raise self.make_error("special")
        if number and number.adjusted() >= self.digits:  # adjusted(): no context, no overflow
            raise ma.ValidationError(f"must be less than 10^{self.digits} in magnitude")
        _, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)
        places = -exponent  # decimals written, less trailing zeros ("1.50" has one)
        for digit in reversed(digits):
            if places <= 0 or digit != 0:
                break
            places -= 1
        if places > self.exact_places:
            raise ma.ValidationError(f"at most {self.exact_places} decimal places")
        return number.quantize(self._quantum)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(decimal.Decimal(value).quantize(self._quantum))


# -- the composition --------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposedField:
    """One extra field of a resource for a tenant.

    ``field`` reads it on create (``required``, ``load_default`` as
    declared); ``update_field`` on update (optional, no default). ``origin``
    is the contributing plugin, or ``custom``. ``reference`` is the resource
    a link points at (forms offer its records).
    """

    name: str
    origin: str
    field: ma.fields.Field
    update_field: ma.fields.Field
    label: str
    help: str = ""
    list_column: bool = False
    reference: Any = None


@dataclass(frozen=True)
class ComposedFilter:
    """One list filter on an extra field: a query parameter, its field, and the condition it adds."""

    param: str
    field: ma.fields.Field
    op: str
    label: str
    #: value → a condition on the owner's rows (``owner.id IN (...)``).
    clause: Callable[[Any], ColumnElement[bool]]


class FieldSource(ABC):
    """Where some extra fields of a resource live: a contributor's side table, or the custom values."""

    #: The contributing plugin, or ``custom``.
    origin: str = ""
    fields: Sequence[ComposedField] = ()
    filters: Sequence[ComposedFilter] = ()

    @property
    @abstractmethod
    def fingerprint(self) -> Hashable:
        """What the fields are, as a hashable value (equal fingerprints, equal fields)."""

    @abstractmethod
    def read(self, records: Sequence[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        """The stored values (Python values, by field name) of ``records``, by record id; absent: no values."""

    @abstractmethod
    def write(self, record: Any, values: Mapping[str, Any]) -> bool:
        """Store loaded ``values`` (by field name) of ``record`` in the session; whether anything changed."""

    def check(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """Errors of loaded values that need the database (a link to a record that does not exist)."""
        return {}


def _optional(fld: ma.fields.Field) -> ma.fields.Field:
    """The field as an update reads it: optional, no default."""
    out = copy.deepcopy(fld)
    out.required = False
    out.load_default = ma.missing
    return out


class Composition:
    """A resource's extra fields for one tenant configuration: built once, cached by the host.

    Loads, checks, writes, shows and filters the fields of its sources
    alongside the resource's own; :class:`udyog_sdk.resources.Resource`
    calls it from every operation and page.
    """

    def __init__(self, key: str, sources: Sequence[FieldSource]) -> None:
        self.key = key
        self.sources = tuple(sources)
        self.fields: dict[str, ComposedField] = {}
        self._source_of: dict[str, FieldSource] = {}
        for source in self.sources:
            for item in source.fields:
                if item.name in self.fields:
                    raise ValueError(f"{key}: field {item.name!r} composed twice")
                self.fields[item.name] = item
                self._source_of[item.name] = source
        self.filters: dict[str, ComposedFilter] = {f.param: f for s in self.sources for f in s.filters}
        base = re.sub(r"\W", "_", key)
        self.create_schema = ma.Schema.from_dict(
            {n: copy.deepcopy(f.field) for n, f in self.fields.items()}, name=f"{base}_extra_create"
        )
        self.update_schema = ma.Schema.from_dict(
            {n: copy.deepcopy(f.update_field) for n, f in self.fields.items()}, name=f"{base}_extra_update"
        )
        self.filter_schema = ma.Schema.from_dict(
            {p: copy.deepcopy(f.field) for p, f in self.filters.items()}, name=f"{base}_extra_filters"
        )
        self._output = ma.Schema.from_dict(
            {n: copy.deepcopy(f.field) for n, f in self.fields.items()}, name=f"{base}_extra_output"
        )()
        self.fingerprint: Hashable = (key, tuple(s.fingerprint for s in self.sources))

    def __bool__(self) -> bool:
        return bool(self.fields)

    # -- input ------------------------------------------------------------------------------------

    def input_names(self, mode: str) -> frozenset[str]:
        """The input keys the composition reads in ``mode`` (``create``, ``update`` or ``filter``)."""
        return frozenset(self.filters if mode == "filter" else self.fields)

    def load(self, own_load: Callable[[dict[str, Any]], Any], data: Mapping[str, Any], mode: str) -> dict[str, Any]:
        """Load ``data``: the resource's own keys with ``own_load``, the composed ones here; all errors together.

        A key that neither knows is refused by ``own_load`` ("Unknown field.").
        """
        names = self.input_names(mode)
        own = {k: data[k] for k in data if k not in names}
        extra = {k: data[k] for k in data if k in names}
        schema = {"create": self.create_schema, "update": self.update_schema, "filter": self.filter_schema}[mode]
        errors: dict[str, Any] = {}
        result: dict[str, Any] = {}
        loaded: dict[str, Any] = {}
        try:
            result = dict(own_load(own))
        except ma.ValidationError as exc:
            errors.update(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages})
        try:
            loaded = schema().load(extra)
        except ma.ValidationError as exc:
            errors.update(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages})
        if errors:
            raise ma.ValidationError(errors)
        return {**result, **loaded}

    def split(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Loaded input → (the resource's own values, the composed ones)."""
        own = {k: v for k, v in data.items() if k not in self.fields}
        extra = {k: v for k, v in data.items() if k in self.fields}
        return own, extra

    def check(self, extra: Mapping[str, Any], label: str = "record") -> None:
        """Refuse (422, by field) loaded values that name records which do not exist for this user."""
        errors: dict[str, list[str]] = {}
        for source in self.sources:
            mine = {k: v for k, v in extra.items() if self._source_of.get(k) is source}
            if mine:
                errors.update(source.check(mine))
        if errors:
            raise UdyogError(f"invalid {label}".lower(), status=422, errors=errors)

    def write(self, record: Any, extra: Mapping[str, Any]) -> bool:
        """Store the composed values of ``record`` (already flushed); whether anything changed."""
        changed = False
        for source in self.sources:
            mine = {k: v for k, v in extra.items() if self._source_of.get(k) is source}
            if mine and source.write(record, mine):
                changed = True
        return changed

    # -- output -----------------------------------------------------------------------------------

    def values(self, records: Sequence[Any]) -> list[dict[str, Any]]:
        """The composed Python values of each record (None where nothing is stored), in order."""
        found: list[dict[uuid.UUID, dict[str, Any]]] = [s.read(records) for s in self.sources]
        blank = dict.fromkeys(self.fields)
        out = []
        for record in records:
            row = dict(blank)
            for values in found:
                row.update(values.get(record.id, {}))
            out.append(row)
        return out

    def dump_many(self, records: Sequence[Any]) -> list[dict[str, Any]]:
        """The composed output of each record, in order (one query per source for the whole page)."""
        if not records:
            return []
        return [self._output.dump(row) for row in self.values(records)]

    # -- lists ------------------------------------------------------------------------------------

    def where(self, query: Select[Any], args: Mapping[str, Any]) -> Select[Any]:
        """``query`` narrowed by the composed filters present in ``args``."""
        for param, flt in self.filters.items():
            if param in args:
                query = query.where(flt.clause(args[param]))
        return query


# -- contributions ----------------------------------------------------------------------------


@dataclass
class ContributionSource(FieldSource):
    """A plugin's contribution to a resource: fields stored in its side table, one row per record."""

    plugin: str
    contribution: FieldContribution
    owner_model: type
    _attributes: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from udyog_sdk.api import _default_filters

        self.origin = self.plugin
        model = self.contribution.model
        self._attributes = {n: (f.attribute or n) for n, f in self.contribution.fields.items()}
        items = []
        for name, fld in self.contribution.fields.items():
            made = copy.deepcopy(fld)
            made.attribute = None
            made.metadata = {**made.metadata, ORIGIN_KEY: self.plugin}
            items.append(
                ComposedField(
                    name=name,
                    origin=self.plugin,
                    field=made,
                    update_field=_optional(made),
                    label=str(fld.metadata.get("label") or _humanise(name)),
                    help=str(fld.metadata.get("description") or ""),
                    list_column=name in self.contribution.list_columns,
                )
            )
        self.fields = items
        filters = []
        labels = {f.name: f.label for f in items}
        suffix = {"eq": "", "gte": " from", "lte": " to", "in": " (any of)"}
        for name in self.contribution.filters:
            column = getattr(model, self._attributes[name])
            for param, flt in _default_filters(name, column).items():

                def clause(value: Any, flt: Any = flt) -> ColumnElement[bool]:
                    return self.owner_model.id.in_(select(model.record_id).where(flt.clause(value)))  # type: ignore[attr-defined,no-any-return]

                filters.append(ComposedFilter(param, flt.parameter(), flt.op, labels[name] + suffix[flt.op], clause))
        self.filters = filters

    @property
    def fingerprint(self) -> Hashable:
        """The plugin, the resource and the side table (contributions do not change while a process runs)."""
        return (self.plugin, self.contribution.resource, self.contribution.model.__tablename__)

    def read(self, records: Sequence[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        """The side rows of ``records``, one query per :data:`CHUNK` records."""
        model: Any = self.contribution.model
        ids = [r.id for r in records]
        out: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(model).where(model.record_id.in_(ids[start : start + CHUNK]))
            for row in db_session().scalars(query):
                out[row.record_id] = {name: getattr(row, attr) for name, attr in self._attributes.items()}
        return out

    def write(self, record: Any, values: Mapping[str, Any]) -> bool:
        """Create or change ``record``'s side row (none is created for nothing but empty values)."""
        model: Any = self.contribution.model
        session = db_session()
        row = session.scalar(select(model).where(model.record_id == record.id))
        if row is None:
            if all(v is None for v in values.values()):
                return False
            row = model(record_id=record.id)
            session.add(row)
            for name, value in values.items():
                setattr(row, self._attributes[name], value)
            return True
        changed = False
        for name, value in values.items():
            attr = self._attributes[name]
            if getattr(row, attr) != value:
                setattr(row, attr, value)
                changed = True
        return changed
