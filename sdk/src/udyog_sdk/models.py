"""Model bases shared by the core and every plugin.

Every table lives in one :class:`Base` metadata so that composite foreign keys
between plugins resolve. Tenant-scoped models inherit :class:`TenantMixin`:
they get ``tenant_id`` and ``id`` as a composite primary key, the core stamps
``tenant_id`` on insert and scopes every ORM query to the current tenant.
"""

from __future__ import annotations

import decimal
import uuid
from datetime import UTC, datetime
from typing import Any

import uuid6
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ClauseElement, literal
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT_TABLE = "core_tenant"


def new_id() -> uuid.UUID:
    """A new time-ordered identifier (UUIDv7): unique without a round trip,
    sortable by creation time, usable as a keyset pagination key."""
    return uuid6.uuid7()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """Values are :class:`datetime.datetime`."""
        return datetime

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Refuse naive datetimes; store UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Udyog table (core and plugins)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, uuid.UUID: Uuid, datetime: UTCDateTime}


class TenantMixin:
    """Makes a model tenant-scoped.

    Adds ``tenant_id`` (first column of the primary key, referencing the
    tenant) and ``id`` (a UUIDv7). Reference other tenant-scoped tables with
    :func:`tenant_fk` so a row can never point at another tenant's row.
    """

    __udyog_tenant_scoped__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        """The owning tenant: first column of the primary key."""
        return mapped_column(
            Uuid,
            ForeignKey(f"{TENANT_TABLE}.id", ondelete="RESTRICT"),
            primary_key=True,
            sort_order=-100,
        )

    @declared_attr
    def id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        """The row's UUIDv7, unique within (and across) tenants."""
        return mapped_column(Uuid, primary_key=True, default=new_id, sort_order=-99)


class VersionedMixin:
    """Optimistic locking: a ``version`` column the ORM checks and bumps on every update.

    An update or delete whose row changed since it was read raises
    ``StaleDataError``; the API answers 409. Clients send the version they
    read; :func:`udyog_sdk.api.check_version` compares it first.
    """

    @declared_attr
    def version(cls) -> Mapped[int]:  # noqa: N805
        """The row's version, starting at 1."""
        return mapped_column(Integer, nullable=False, default=1, sort_order=90)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}


def is_tenant_model(cls: type) -> bool:
    """Whether ``cls`` is a tenant-scoped mapped class."""
    return bool(getattr(cls, "__udyog_tenant_scoped__", False))


def tenant_fk(
    columns: str | list[str],
    target_table: str,
    target_columns: str | list[str] = "id",
    *,
    ondelete: str | None = None,
    name: str | None = None,
) -> ForeignKeyConstraint:
    """A composite foreign key ``(tenant_id, *columns)`` → ``target(tenant_id, *target_columns)``.

    Use it in ``__table_args__`` for every reference between tenant-scoped
    tables, e.g. ``tenant_fk("branch_id", "core_branch")``.
    """
    local = [columns] if isinstance(columns, str) else list(columns)
    remote = [target_columns] if isinstance(target_columns, str) else list(target_columns)
    if len(local) != len(remote):
        raise ValueError("tenant_fk: local and target columns differ in number")
    return ForeignKeyConstraint(
        ["tenant_id", *local],
        [f"{target_table}.tenant_id", *(f"{target_table}.{c}" for c in remote)],
        ondelete=ondelete,
        name=name,
    )


class _NumericKey(FunctionElement[Any]):
    """A Money column or value as SQL compares and orders it: itself, or ``CAST(... AS REAL)`` on SQLite."""

    inherit_cache = True


@compiles(_NumericKey)
def _numeric_key(element: _NumericKey, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_NumericKey, "sqlite")
def _numeric_key_sqlite(element: _NumericKey, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


_ORDERING_COMPARISONS = (operators.lt, operators.le, operators.gt, operators.ge)
_ORDERINGS = (operators.asc_op, operators.desc_op)


class Money(TypeDecorator[decimal.Decimal]):
    """An exact decimal: ``NUMERIC(p, s)`` on PostgreSQL, a string on SQLite.

    SQLite has no decimal type (``Numeric`` goes through float there), so the
    value is stored as its canonical string and read back as ``Decimal``.
    Stored exactly; ``<``, ``<=``, ``>``, ``>=`` and ``ORDER BY`` compare
    numbers there too (``CAST(... AS REAL)``: exact up to 15 significant
    digits, which orders every amount below 10^13 with paise), not text, so
    filters, sorting and keyset pages agree on both databases. Equality
    compares the canonical strings, exactly.
    """

    impl = Numeric
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[decimal.Decimal]):
        """Orders and range-compares by number on every database."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            """Range comparisons and orderings through the numeric key; everything else as usual."""
            if op in _ORDERINGS:
                return op(_NumericKey(self.expr), **kwargs)
            if op in _ORDERING_COMPARISONS:
                keyed = [_NumericKey(o if isinstance(o, ClauseElement) else literal(o, self.type)) for o in other]
                return op(_NumericKey(self.expr), *keyed, **kwargs)
            return super().operate(op, *other, **kwargs)

    comparator_factory = Comparator

    @property
    def python_type(self) -> type[decimal.Decimal]:
        """Values are :class:`decimal.Decimal`."""
        return decimal.Decimal

    def __init__(self, precision: int = 18, scale: int = 2) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = decimal.Decimal(1).scaleb(-scale)

    def __repr__(self) -> str:
        """``Money(18, 3)``: what alembic writes into an autogenerated revision, precision and scale included."""
        return f"Money({self.precision}, {self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """A string on SQLite, NUMERIC elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Quantize to the scale (half-even) and store exactly."""
        if value is None:
            return None
        quantized = decimal.Decimal(value).quantize(self._quantum)
        return str(quantized) if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> decimal.Decimal | None:
        """Read back a Decimal of the column's scale."""
        if value is None:
            return None
        return decimal.Decimal(value).quantize(self._quantum)


__all__ = [
    "NAMING_CONVENTION",
    "TENANT_TABLE",
    "Base",
    "Money",
    "TenantMixin",
    "UTCDateTime",
    "VersionedMixin",
    "is_tenant_model",
    "new_id",
    "tenant_fk",
    "utcnow",
]
