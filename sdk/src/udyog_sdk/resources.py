"""Declarative resources: REST CRUD, OpenAPI, permissions and generic pages from one declaration.

A plugin declares a model, a marshmallow schema and a permission prefix::

    NOTEBOOKS = Resource(Notebook, NotebookSchema, "notes.notebook", filters=["title"], sort=["title"])

and gets, following ``docs/rest-api.md``:

- ``GET /api/v1/<plugin>/<path>`` a keyset-paginated list with the declared
  filters and sort fields, ``POST`` to create, ``GET|PATCH|DELETE
  .../<path>/<id>`` to read, update (with the version the client read) and
  delete; for legal documents (``legal_document=True``) ``POST
  .../<id>/cancel`` instead, and DELETE answers 409;
- their OpenAPI entries (schemas, envelopes, arguments, the permission);
- permissions ``<prefix>.read``, ``.create``, ``.write``, ``.delete`` (or
  ``.cancel`` for legal documents), declared through :meth:`Resource.permissions`;
- generic list, detail, form and confirmation pages in the web shell
  (:meth:`Resource.page_blueprint`) and a menu entry (:meth:`Resource.menu_entry`).

Tenant scoping, record rules and the audit log need no code here: the
session applies them to every query and write. Every step is a method a
subclass may override (:meth:`Resource.query`, :meth:`Resource.validate`,
:meth:`Resource.create`, :meth:`Resource.update`, :meth:`Resource.delete`,
:meth:`Resource.cancel`, :meth:`Resource.dump`, ...). See ``docs/resources.md``.

Per tenant, a resource also carries the fields other plugins contribute and
the tenant's custom fields (:mod:`udyog_sdk.fields`): its input schemas load
them, its operations write them in the same transaction, its output, lists,
pages and OpenAPI entries show them. Declare the resource through the
``udyog_resources`` hook so the platform knows it by key.
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Boolean, ForeignKeyConstraint, bindparam, inspect, select
from sqlalchemy.orm import ONETOMANY, with_parent
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.sql import Select

from udyog_sdk.api import (
    Blueprint,
    Filter,
    Listing,
    check_version,
    envelope,
    ok,
    refuse_delete,
    version_field,
)
from udyog_sdk.fields import CUSTOM_PREFIX, Composition
from udyog_sdk.models import utcnow
from udyog_sdk.runtime import NoScopeError, UdyogError, current_scope, db_session, read_records
from udyog_sdk.security import Permission, requires
from udyog_sdk.ui import MenuEntry

__all__ = ["ACTIONS", "TEMPLATE_FOLDER", "FormField", "Resource"]

#: The actions a resource declares permissions for, in order.
ACTIONS = ("read", "create", "write", "delete", "cancel", "import")

#: The SDK's templates (``udyog_sdk/resource_*.html``, extending ``udyog/base.html``).
TEMPLATE_FOLDER = str(Path(__file__).parent / "templates")

_TEMPLATES_BLUEPRINT = "udyog_sdk_templates"


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _humanise(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


class ComposedInput(ma.Schema):
    """Base of a resource's input schemas: with a tenant bound, they load its composed fields too.

    The resource's own fields load as declared; the fields other plugins
    contribute and the tenant's custom fields (see :meth:`Resource.composition`)
    load through the composition; errors of both come back together. A key
    that neither knows is refused ("Unknown field."). Outside any tenant scope
    only the own fields load.
    """

    #: The resource whose composition applies, and which part: create, update or filter.
    udyog_resource: ClassVar[Any] = None
    udyog_mode: ClassVar[str] = "create"

    def load(  # type: ignore[override]
        self,
        data: Any,
        *,
        many: bool | None = None,
        partial: Any = None,
        unknown: str | None = None,
    ) -> Any:
        """Load ``data`` with the resource's own fields and the tenant's composed fields."""
        resource = type(self).udyog_resource
        composition = resource.composition() if resource is not None else None
        if composition is None or (self.many if many is None else many) or not isinstance(data, Mapping):
            return super().load(data, many=many, partial=partial, unknown=unknown)

        def own(values: dict[str, Any]) -> Any:
            return super(ComposedInput, self).load(values, many=False, partial=partial, unknown=unknown)

        return composition.load(own, data, type(self).udyog_mode)


@dataclass
class FormField:
    """One input of a generic form, built from a schema field (see :meth:`Resource.form_fields`)."""

    name: str
    label: str
    #: text, textarea, number, decimal, checkbox, date, datetime-local, email, select, or reference (a search
    #: picker: ``value`` the id, ``value_label`` its record's label, ``choices_url`` where to search).
    kind: str
    required: bool = False
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    maxlength: int | None = None
    nullable: bool = False
    #: A ``reference`` field's choices endpoint (``GET ?q=`` answers ``[{"id", "label"}]``).
    choices_url: str = ""
    #: A ``reference`` field's current record, by label.
    value_label: str = ""
    #: A reference's (query, model, label function): the current record is named again on re-display.
    reference_query: Any = field(default=None, repr=False, compare=False)


def model_references(model: type) -> dict[str, type]:
    """Attribute → mapped class, for each composite tenant foreign key ``(tenant_id, x) → (tenant_id, id)``.

    A resource's references (checked on writes, offered as choices in forms,
    shown by title on detail pages); also the references of nested records
    (an order's lines).
    """
    table = model.__table__  # type: ignore[attr-defined]
    mappers = {m.local_table.name: m.class_ for m in model.registry.mappers}  # type: ignore[attr-defined]
    found: dict[str, type] = {}
    for fk in table.foreign_key_constraints:
        assert isinstance(fk, ForeignKeyConstraint)
        cols = [c.name for c in fk.columns]
        targets = [e.column.name for e in fk.elements]
        if len(cols) == 2 and cols[0] == "tenant_id" and targets == ["tenant_id", "id"]:
            target = mappers.get(fk.referred_table.name)
            if target is not None:
                attr = model.__mapper__.get_property_by_column(table.c[cols[1]]).key  # type: ignore[attr-defined]
                found[attr] = target
    return found


class Resource:
    """A declared resource: routes, OpenAPI, permissions, pages and menu from one declaration.

    Declare it with arguments or as a subclass with class attributes (then
    override hook methods)::

        class Notes(Resource):
            model = Note
            schema = NoteSchema
            permission_prefix = "notes.note"
            filters = ["notebook_id", "title"]
            sort = ["title"]

            def create(self, data):
                return services.create_note(**data)

    Attributes (all may be passed to the constructor as keywords):

    - ``model``: the mapped class (tenant-scoped, usually ``VersionedMixin``).
    - ``schema``: the marshmallow schema of output and input: ``dump_only``
      fields are shown but refused on input, ``load_only`` fields are
      accepted but never shown.
    - ``permission_prefix``: ``<plugin>.<resource>``; permissions are the
      prefix plus an action (:data:`ACTIONS`), see :meth:`permission`.
    - ``path``: the URL segment (default: the plural of the resource part,
      ``notes``); ``label`` and ``label_plural`` name it for people.
    - ``filters``, ``sort``, ``search``, ``default_sort``, ``default_limit``:
      the list's :class:`udyog_sdk.api.Listing` declaration (``search``: text
      fields the list's ``q`` looks in, API and page alike).
    - ``update_schema``: the PATCH body (default: ``schema`` with every field
      optional and no defaults, minus ``create_only`` fields, plus a required
      ``version`` for versioned models).
    - ``create_only``: fields that may be set on create but never changed.
    - ``legal_document``: never deleted; cancelled through ``cancel_field``
      (a boolean set true, a timestamp set to now, or a text state set to
      ``cancelled_value``). Cancelled documents cannot be updated.
    - ``permission_names``: action → permission name, to map actions onto
      permissions declared otherwise (``{"create": "notes.note.write"}``).
    - ``operations``: which of ``list get create update delete cancel`` to serve.
    - ``list_columns``, ``title_field``: what the list page shows and what
      names a record.
    - ``list_template``, ``detail_template``, ``form_template``,
      ``confirm_template``, ``import_template``, ``import_status_template``:
      the pages' templates (SDK defaults extend the shell).
    - ``importable``: serve CSV/Excel import (:mod:`udyog_sdk.imports`) where
      ``create`` is served; permission ``<prefix>.import``, plus ``create``.
    - ``exportable``: serve the list export (:mod:`udyog_sdk.exports`) where
      ``list`` is served; permission ``<prefix>.read``.
    """

    model: Any = None
    schema: Any = None
    permission_prefix: str = ""
    path: str | None = None
    label: str | None = None
    label_plural: str | None = None
    filters: Iterable[str] | Mapping[str, Sequence[str] | Filter] = ()
    sort: Iterable[str] = ()
    search: Iterable[str] = ()
    default_sort: str | None = None
    default_limit: int = 50
    update_schema: Any = None
    create_only: Sequence[str] = ()
    legal_document: bool = False
    cancel_field: str = "cancelled"
    cancelled_value: Any = "cancelled"
    permission_names: Mapping[str, str] = {}
    operations: Iterable[str] | None = None
    list_columns: Sequence[str] | None = None
    title_field: str | None = None
    list_template: str = "udyog_sdk/resource_list.html"
    detail_template: str = "udyog_sdk/resource_detail.html"
    form_template: str = "udyog_sdk/resource_form.html"
    confirm_template: str = "udyog_sdk/resource_confirm.html"
    import_template: str = "udyog_sdk/resource_import.html"
    import_status_template: str = "udyog_sdk/resource_import_status.html"
    importable: bool = True
    exportable: bool = True

    _OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "path",
            "label",
            "label_plural",
            "filters",
            "sort",
            "search",
            "default_sort",
            "default_limit",
            "update_schema",
            "create_only",
            "legal_document",
            "cancel_field",
            "cancelled_value",
            "permission_names",
            "operations",
            "list_columns",
            "title_field",
            "list_template",
            "detail_template",
            "form_template",
            "confirm_template",
            "import_template",
            "import_status_template",
            "importable",
            "exportable",
        }
    )

    def __init__(
        self,
        model: Any = None,
        schema: Any = None,
        permission_prefix: str | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - self._OPTIONS
        if unknown:
            raise TypeError(f"unknown Resource option(s): {', '.join(sorted(unknown))}")
        if model is not None:
            self.model = model
        if schema is not None:
            self.schema = schema
        if permission_prefix is not None:
            self.permission_prefix = permission_prefix
        for key, value in options.items():
            setattr(self, key, value)
        self._check_declaration()
        self.plugin, self.resource = self.permission_prefix.split(".")
        self.path = self.path or _plural(self.resource)
        self.label = self.label or _humanise(self.resource)
        self.label_plural = self.label_plural or _plural(self.label)
        self.endpoint = re.sub(r"\W", "_", self.path)
        self.versioned = inspect(self.model).version_id_col is not None
        default_ops = {"list", "get", "create", "update", "delete"} | ({"cancel"} if self.legal_document else set())
        self.enabled = frozenset(self.operations if self.operations is not None else default_ops)
        if "cancel" in self.enabled and not self.legal_document:
            raise ValueError(f"resource {self.permission_prefix}: only legal documents are cancelled")
        self.listing = Listing(
            self.model,
            filters=self.filters,
            sort=self.sort,
            default_sort=self.default_sort,
            default_limit=self.default_limit,
            name=self._schema_base(),
            search=self.search,
        )
        self.input_schema: type[ma.Schema] = self._composed(self.schema, f"{self._schema_base()}CreateSchema", "create")
        self.patch_schema = self._build_update_schema()
        self.list_schema: type[ma.Schema] = self._composed(self.listing.schema, self.listing.schema.__name__, "filter")
        self.cancel_schema = self._build_cancel_schema()
        self._dumper = self.schema()
        self._many_dumper = self.schema(many=True)
        self.references = self._references()

    # -- declaration ----------------------------------------------------------------

    def _check_declaration(self) -> None:
        name = type(self).__name__
        if self.model is None or self.schema is None:
            raise TypeError(f"{name}: a resource needs a model and a schema")
        if not (isinstance(self.schema, type) and issubclass(self.schema, ma.Schema)):
            raise TypeError(f"{name}: schema must be a marshmallow Schema class")
        if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", self.permission_prefix or ""):
            raise ValueError(
                f"{name}: permission_prefix must look like plugin.resource, not {self.permission_prefix!r}"
            )
        if self.legal_document and not hasattr(self.model, self.cancel_field):
            raise ValueError(f"{name}: legal document {self.model.__name__} has no field {self.cancel_field!r}")
        for key, fld in self.schema._declared_fields.items():
            if key.startswith(CUSTOM_PREFIX) or (fld.data_key or "").startswith(CUSTOM_PREFIX):
                raise ValueError(
                    f"{name}: field {key!r}: names starting with {CUSTOM_PREFIX!r} belong to custom fields"
                )

    def _composed(self, base: type[ma.Schema], name: str, mode: str) -> type[ma.Schema]:
        """``base`` as a :class:`ComposedInput` schema named ``name`` for this resource's ``mode``."""
        attrs = {"udyog_resource": self, "udyog_mode": mode}
        return type(name, (ComposedInput, base), attrs)

    def _schema_base(self) -> str:
        return str(self.schema.__name__).removesuffix("Schema")

    def _build_update_schema(self) -> type[ma.Schema]:
        given = self.update_schema
        composed = {"udyog_resource": self, "udyog_mode": "update"}
        if given is not None:
            if self.versioned and "version" not in given._declared_fields:
                return type(given.__name__, (ComposedInput, given), {**composed, "version": version_field()})
            return type(given.__name__, (ComposedInput, given), composed)
        attrs: dict[str, Any] = {}
        for name, fld in self.schema._declared_fields.items():
            if fld.dump_only or name in self.create_only:
                continue
            optional = copy.deepcopy(fld)
            optional.required = False
            optional.load_default = ma.missing
            attrs[name] = optional
        declared = self.schema._declared_fields
        exclude = tuple(n for n, f in declared.items() if n in self.create_only or (f.dump_only and n != "version"))
        if exclude:
            base_meta = getattr(self.schema, "Meta", object)
            attrs["Meta"] = type("Meta", (base_meta,), {"exclude": exclude})
        if self.versioned:
            attrs["version"] = version_field()
        return type(f"{self._schema_base()}UpdateSchema", (ComposedInput, self.schema), {**attrs, **composed})

    def _build_cancel_schema(self) -> type[ma.Schema] | None:
        if not self.versioned:
            return None
        return ma.Schema.from_dict({"version": version_field()}, name=f"{self._schema_base()}CancelSchema")

    def _references(self) -> dict[str, type]:
        """Attribute → mapped class, for each composite tenant foreign key ``(tenant_id, x) → (tenant_id, id)``."""
        return model_references(self.model)

    def permission(self, action: str) -> str:
        """The permission ``action`` needs: ``permission_names[action]`` or ``<prefix>.<action>``.

        ``read`` guards list and get, ``create`` POST, ``write`` PATCH,
        ``delete`` DELETE and ``cancel`` the cancellation of a legal document.
        A legal document's DELETE (refused unless :meth:`delete` is
        overridden) needs ``cancel`` unless mapped otherwise.
        """
        if action in self.permission_names:
            return self.permission_names[action]
        if action == "delete" and self.legal_document:
            action = "cancel"
        return f"{self.permission_prefix}.{action}"

    def actions(self) -> list[str]:
        """The actions this resource serves (see :data:`ACTIONS`)."""
        wanted = {"read": {"list", "get"}, "create": {"create"}, "write": {"update"}, "delete": {"delete"}}
        wanted["cancel"] = {"cancel"}
        wanted["import"] = {"create"} if self.importable else set()
        return [a for a in ACTIONS if wanted[a] & self.enabled]

    def permissions(self) -> list[Permission]:
        """The :class:`Permission` declarations to return from ``udyog_permissions``.

        One per distinct permission of :meth:`actions`; a name mapped through
        ``permission_names`` onto another resource's permission is left out
        (declare it where it belongs).
        """
        verbs = {"read": "See", "create": "Create", "write": "Change", "delete": "Delete", "cancel": "Cancel"}
        verbs["import"] = "Import (CSV, Excel)"
        out: dict[str, Permission] = {}
        for action in self.actions():
            name = self.permission(action)
            if name in out or not name.startswith(self.permission_prefix + "."):
                continue
            out[name] = Permission(name, f"{verbs[action]} {self.label_plural.lower()}")  # type: ignore[union-attr]
        return list(out.values())

    def menu_entry(
        self,
        *,
        weight: int = 100,
        parent: str | None = None,
        icon: str | None = None,
        label: str | None = None,
    ) -> MenuEntry:
        """A menu entry for the list page, shown to holders of the read permission."""
        return MenuEntry(
            f"{self.plugin}.{self.path}",
            label or self.label_plural or "",
            self.page_url(),
            self.permission("read"),
            weight=weight,
            parent=parent,
            icon=icon,
        )

    def page_url(self) -> str:
        """The list page's path, ``/<plugin>/<path>``."""
        return f"/{self.plugin}/{self.path}"

    # -- composed fields ------------------------------------------------------------------

    def composition(self) -> Composition | None:
        """The current tenant's extra fields of this resource: contributions and custom fields.

        None outside a tenant scope, when the host composes nothing for this
        resource (it was not declared through ``udyog_resources``), or when
        the tenant has no extra fields here. The host builds it once per
        tenant configuration and caches it, so calling it is cheap.
        """
        try:
            scope = current_scope()
        except NoScopeError:
            return None
        compose = getattr(scope, "composition", None)
        if compose is None:
            return None
        found = compose(self)
        return found if found else None

    def input_fields(self, mode: str = "create") -> dict[str, ma.fields.Field]:
        """Input key → field of everything create (or ``"update"``) accepts, composed fields included.

        For tools that build input for :meth:`perform_create` (imports): load
        it with ``input_schema`` (or ``patch_schema``), which reads the same keys.
        """
        schema = (self.input_schema if mode == "create" else self.patch_schema)()
        out = {(f.data_key or n): f for n, f in schema.fields.items() if not f.dump_only and n != "version"}
        composition = self.composition()
        if composition is not None:
            for name, item in composition.fields.items():
                out[name] = item.field if mode == "create" else item.update_field
        return out

    def split_input(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Composition | None]:
        """Loaded input → (the model's own values, the composed values, the composition)."""
        composition = self.composition()
        if composition is None:
            return dict(data), {}, None
        own, extra = composition.split(data)
        return own, extra, composition

    def page(self, args: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """One page of :meth:`query` with the filters, composed filters and sort in ``args`` (``list_schema``)."""
        query = self.query()
        composition = self.composition()
        if composition is not None:
            query = composition.where(query, args)
        return self.listing.page(query, args)

    # -- hooks: override these ----------------------------------------------------------

    def query(self) -> Select[Any]:
        """The base query of lists and lookups (tenant scope and record rules are added by the session)."""
        return select(self.model)

    def lookup(self, record_id: uuid.UUID, *, for_update: bool = False) -> Any:
        """The record ``record_id`` through :meth:`query`, or 404.

        ``for_update=True`` reads it ``FOR UPDATE`` (its row locked until the
        transaction ends, its attributes refreshed): for an action that must
        see the latest committed state and keep others out meanwhile.
        """
        statement = self._lookup_statement(for_update)
        params = {"udyog_record_id": record_id}
        if type(self).query is Resource.query:  # one statement object per resource: read by a prepared statement
            row = next(iter(read_records(statement, params)), None)
        else:
            row = db_session().scalar(statement, params)
        if row is None:
            raise UdyogError(f"{self.label} not found".capitalize(), status=404)
        return row

    def _lookup_statement(self, for_update: bool) -> Any:
        """:meth:`lookup`'s statement (the id a parameter); built once per resource unless :meth:`query` is overridden.

        A statement object run again skips building and keying its SQL. An
        overridden :meth:`query` may depend on the moment, so it is asked every time.
        """
        default = type(self).query is Resource.query
        built = self.__dict__.get("_udyog_lookups") if default else None
        if built is not None and for_update in built:
            return built[for_update]
        query = self.query().where(self.model.id == bindparam("udyog_record_id"))
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        if default:
            self.__dict__.setdefault("_udyog_lookups", {})[for_update] = query
        return query

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """Check loaded input before it is written (``obj`` is None on create).

        ``data`` holds the composed fields' values too (contributed fields by
        name, custom fields as ``x_...``); :meth:`create` and :meth:`update`
        receive the model's own values only. Raise
        :class:`udyog_sdk.UdyogError` with ``status=422`` and field errors to
        refuse it. The default accepts everything the schemas did.
        """

    def create(self, data: dict[str, Any]) -> Any:
        """Make and add the record from loaded, validated ``data``; return it (flushed)."""
        obj = self.model()
        self._assign(obj, data)
        db_session().add(obj)
        db_session().flush()
        return obj

    def update(self, obj: Any, data: dict[str, Any]) -> Any:
        """Apply the loaded, validated changes in ``data`` (``version`` removed) to ``obj``."""
        self._assign(obj, data)
        db_session().flush()
        return obj

    def delete(self, obj: Any) -> None:
        """Delete ``obj``; legal documents refuse (409) unless a subclass allows it (drafts)."""
        if self.legal_document:
            refuse_delete(
                f"{self.label} {self.describe(obj)}".strip(),
                instead=f"cancel it (POST /api/v1/{self.plugin}/{self.path}/<id>/cancel)",
            )
        self.check_unused(obj)
        db_session().delete(obj)
        db_session().flush()

    def check_unused(self, obj: Any) -> None:
        """409 when records (that the user sees) still point at ``obj`` through a relationship.

        Relationships that cascade deletes, or leave them to the database
        (``passive_deletes``), are skipped. References the user cannot see
        are still refused by the database's foreign keys (409 as well).
        """
        for rel in inspect(self.model).relationships:
            if rel.direction is not ONETOMANY or "delete" in rel.cascade or rel.passive_deletes:
                continue
            child = rel.mapper.class_
            if db_session().scalar(select(child.id).where(with_parent(obj, rel.class_attribute)).limit(1)):
                what = _plural(_humanise(child.__name__).lower())
                raise UdyogError(
                    f"{self.label} {self.describe(obj)} is still used by {what}: remove them first".strip(),
                    status=409,
                    errors={"_schema": [f"still used by {what}"]},
                )

    def is_cancelled(self, obj: Any) -> bool:
        """Whether the legal document ``obj`` is cancelled."""
        value = getattr(obj, self.cancel_field)
        if self._cancel_kind() == "state":
            return bool(value == self.cancelled_value)
        return bool(value)

    def cancel(self, obj: Any) -> None:
        """Cancel the legal document ``obj`` (sets ``cancel_field``)."""
        kind = self._cancel_kind()
        value = True if kind == "flag" else utcnow() if kind == "time" else self.cancelled_value
        setattr(obj, self.cancel_field, value)
        db_session().flush()

    def dump(self, obj: Any) -> dict[str, Any]:
        """The output of one record (``schema().dump``, plus the composed fields)."""
        out: dict[str, Any] = self._dumper.dump(obj)
        composition = self.composition()
        if composition is not None:
            out.update(composition.dump_many([obj])[0])
        return out

    def dump_many(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """The output of a page of records (the composed fields read with one query per source)."""
        out: list[dict[str, Any]] = self._many_dumper.dump(rows)
        composition = self.composition()
        if composition is not None:
            for item, extra in zip(out, composition.dump_many(rows), strict=True):
                item.update(extra)
        return out

    def describe(self, obj: Any) -> str:
        """A short name of the record for people (``title_field``, else a name-like column, else the id)."""
        for name in (self.title_field, "number", "title", "name", "code"):
            if name and hasattr(obj, name) and getattr(obj, name) not in (None, ""):
                return str(getattr(obj, name))
        return str(getattr(obj, "id", ""))

    # -- the operations (shared by the API and the pages) -----------------------------

    def check_references(self, data: Mapping[str, Any]) -> None:
        """422 for references to records that do not exist for this user (tenant scope and record rules)."""
        errors: dict[str, list[str]] = {}
        keys = self._input_keys()
        for attr, target in self.references.items():
            value = data.get(attr)
            if value is None:
                continue
            if db_session().scalar(select(target.id).where(target.id == value)) is None:
                errors[keys.get(attr, attr)] = [f"no such {_humanise(target.__name__).lower()}"]
        if errors:
            raise UdyogError(f"invalid {self.label}".lower(), status=422, errors=errors)

    def perform_create(self, data: dict[str, Any]) -> Any:
        """Validate, create, store the composed fields and commit, in one transaction; returns the record.

        ``data`` is input loaded with ``input_schema`` (composed fields
        included): the one path the API, the pages and imports share.
        """
        obj = self.create_record(data)
        db_session().commit()
        return obj

    def create_record(self, data: dict[str, Any]) -> Any:
        """:meth:`perform_create` without the commit: validate, create, store the composed fields; flushed.

        Imports call it once per row, inside a savepoint, and commit (or roll
        back) all rows together.
        """
        own, extra, composition = self.split_input(data)
        self.validate({**own, **extra}, None)
        self.check_references(own)
        if composition is not None:
            composition.check(extra, self.label or "record")
        obj = self.create(own)
        if composition is not None and extra:
            if getattr(obj, "id", None) is None:
                db_session().flush()
            composition.write(obj, extra)
            db_session().flush()
        return obj

    def perform_update(self, obj: Any, data: dict[str, Any]) -> Any:
        """Check the version, validate, update, store the composed fields and commit; returns the record.

        A change of composed fields alone still moves the record to a new
        version, so a client holding the old one gets 409 as for any change.
        """
        data = dict(data)
        version = data.pop("version", None)
        if self.versioned:
            check_version(obj, version)
        if self.legal_document and self.is_cancelled(obj):
            raise UdyogError(
                f"{self.label} {self.describe(obj)} is cancelled and cannot be changed".strip(),
                status=409,
                errors={"_schema": ["cancelled"]},
            )
        own, extra, composition = self.split_input(data)
        self.validate({**own, **extra}, obj)
        self.check_references(own)
        if composition is not None:
            composition.check(extra, self.label or "record")
        before = getattr(obj, "version", None)
        self.update(obj, own)
        if composition is not None and extra and composition.write(obj, extra):
            if self.versioned and getattr(obj, "version", None) == before:
                self._touch(obj)
            db_session().flush()
        db_session().commit()
        return obj

    def _touch(self, obj: Any) -> None:
        """Make the flush update ``obj``'s row unchanged, so its version moves on (and is checked)."""
        mapper = inspect(self.model)
        state = inspect(obj)
        keys = {"tenant_id", "id"} | {p.key for p in mapper.column_attrs if mapper.version_id_col in p.columns}
        for prop in mapper.column_attrs:
            if prop.key not in keys and prop.key in state.dict:
                flag_modified(obj, prop.key)
                return

    def perform_delete(self, obj: Any) -> dict[str, Any]:
        """Delete and commit; returns the record's last output."""
        out = self.dump(obj)
        self.delete(obj)
        db_session().commit()
        return out

    def perform_cancel(self, obj: Any, version: int | None) -> Any:
        """Check the version, cancel and commit; a cancelled document answers 409."""
        if self.versioned:
            check_version(obj, version)
        if self.is_cancelled(obj):
            raise UdyogError(
                f"{self.label} {self.describe(obj)} is cancelled already".strip(),
                status=409,
                errors={self.cancel_field: ["cancelled already"]},
            )
        self.cancel(obj)
        db_session().commit()
        return obj

    def _cancel_kind(self) -> str:
        column = self.model.__table__.c[self.cancel_field]
        if isinstance(column.type, Boolean):
            return "flag"
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = str
        import datetime as dt

        return "time" if python_type is dt.datetime else "state"

    def _assign(self, obj: Any, data: Mapping[str, Any]) -> None:
        mapped = {p.key for p in inspect(self.model).attrs}
        for key, value in data.items():
            if key not in mapped:
                raise TypeError(
                    f"{type(self).__name__}: {key!r} is no attribute of {self.model.__name__}; "
                    "override create() and update() to handle it"
                )
            setattr(obj, key, value)

    def _input_keys(self) -> dict[str, str]:
        """Attribute name → input key of every schema field."""
        return {(f.attribute or n): (f.data_key or n) for n, f in self.schema._declared_fields.items()}

    # -- the REST API ----------------------------------------------------------------------

    def blueprint(self, *, description: str | None = None) -> Blueprint:
        """A fresh blueprint ``<plugin>_<path>`` at ``/api/v1/<plugin>`` with this resource's routes."""
        bp = Blueprint(
            f"{self.plugin}_{self.endpoint}",
            __name__,
            url_prefix=f"/api/v1/{self.plugin}",
            description=description or f"{self.label_plural}",
        )
        self.register(bp)
        return bp

    def register(self, bp: Blueprint) -> Blueprint:
        """Add this resource's routes to ``bp`` (whose prefix should be ``/api/v1/<plugin>``)."""
        base = f"/{self.path}"
        item = f"{base}/<uuid:{self.resource}_id>"
        key = f"{self.resource}_id"
        name = self.endpoint
        out = self.schema
        label, plural = self.label or "", (self.label_plural or "").lower()

        def view(fn: Callable[..., Any], action: str, doc: str) -> Callable[..., Any]:
            fn.__doc__ = doc
            fn.__name__ = f"{name}_{fn.__name__}"
            return requires(self.permission(action))(fn)

        if "list" in self.enabled:

            def list_(args: dict[str, Any]) -> Any:
                rows, meta = self.page(args)
                return ok(self.dump_many(rows), meta=meta)

            filters = ", ".join(self.listing.filters) or "none"
            sorts = ", ".join(self.listing.sortable) or "none"
            if self.listing.searchable:
                sorts += f". Search (q): {', '.join(self.listing.searchable)}"
            bp.route(base, methods=["GET"], endpoint=f"{name}_list")(
                bp.arguments(self.list_schema, location="query")(
                    bp.response(200, envelope(out, many=True, paginated=True))(
                        view(list_, "read", f"List {plural}\n\nKeyset-paginated. Filters: {filters}. Sort: {sorts}.")
                    )
                )
            )

        if "create" in self.enabled:

            def create(data: dict[str, Any]) -> Any:
                return ok(self.dump(self.perform_create(data)), message="created")

            bp.route(base, methods=["POST"], endpoint=f"{name}_create")(
                bp.arguments(self.input_schema)(
                    bp.response(201, envelope(out))(view(create, "create", f"Create a {label.lower()}"))
                )
            )

        if "get" in self.enabled:

            def get(**kwargs: Any) -> Any:
                return ok(self.dump(self.lookup(kwargs[key])))

            bp.route(item, methods=["GET"], endpoint=f"{name}_get")(
                bp.response(200, envelope(out))(view(get, "read", f"Read a {label.lower()}"))
            )

        if "update" in self.enabled:

            def update(data: dict[str, Any], **kwargs: Any) -> Any:
                return ok(self.dump(self.perform_update(self.lookup(kwargs[key]), data)), message="updated")

            doc = f"Change a {label.lower()}"
            if self.versioned:
                doc += "\n\nSend the `version` you read; a stale one answers 409."
            bp.route(item, methods=["PATCH"], endpoint=f"{name}_update")(
                bp.arguments(self.patch_schema)(bp.response(200, envelope(out))(view(update, "write", doc)))
            )

        if "delete" in self.enabled:

            def delete(**kwargs: Any) -> Any:
                return ok(self.perform_delete(self.lookup(kwargs[key])), message="deleted")

            doc = f"Delete a {label.lower()}"
            if self.legal_document:
                doc = f"Delete a {label.lower()}: refused (409), a legal document is cancelled instead"
            bp.route(item, methods=["DELETE"], endpoint=f"{name}_delete")(
                bp.response(200, envelope(out))(view(delete, "delete", doc))
            )

        if "cancel" in self.enabled:
            cancel_doc = f"Cancel a {label.lower()}\n\nA cancelled document stays, and cannot be changed."

            if self.cancel_schema is not None:

                def cancel(data: dict[str, Any], **kwargs: Any) -> Any:
                    obj = self.perform_cancel(self.lookup(kwargs[key]), data.get("version"))
                    return ok(self.dump(obj), message="cancelled")

                bp.route(f"{item}/cancel", methods=["POST"], endpoint=f"{name}_cancel")(
                    bp.arguments(self.cancel_schema)(
                        bp.response(200, envelope(out))(view(cancel, "cancel", cancel_doc))
                    )
                )
            else:

                def cancel_unversioned(**kwargs: Any) -> Any:
                    obj = self.perform_cancel(self.lookup(kwargs[key]), None)
                    return ok(self.dump(obj), message="cancelled")

                bp.route(f"{item}/cancel", methods=["POST"], endpoint=f"{name}_cancel")(
                    bp.response(200, envelope(out))(view(cancel_unversioned, "cancel", cancel_doc))
                )
        if self.exportable and "list" in self.enabled:
            from udyog_sdk import exports

            exports.add_export_route(self, bp)
        if self.importable and "create" in self.enabled:
            from udyog_sdk import imports

            imports.add_import_routes(self, bp)
        bp.record_once(functools.partial(_remember, self))
        return bp

    # -- the web pages ----------------------------------------------------------------------

    def page_blueprint(self) -> FlaskBlueprint:
        """A fresh Flask blueprint ``<plugin>_<path>_pages`` at ``/<plugin>`` with the generic pages."""
        bp = FlaskBlueprint(f"{self.plugin}_{self.endpoint}_pages", __name__, url_prefix=f"/{self.plugin}")
        self.register_pages(bp)
        return bp

    def register_pages(self, bp: FlaskBlueprint) -> FlaskBlueprint:
        """Add the list, detail, form and confirmation pages to ``bp`` (prefix ``/<plugin>``)."""
        from udyog_sdk import _pages as pages

        bp.record_once(_install_templates)
        pages.add_pages(self, bp)
        if self.importable and "create" in self.enabled:
            from udyog_sdk import imports

            imports.add_import_pages(self, bp)
        return bp

    def form_fields(self, mode: str, obj: Any | None = None) -> list[FormField]:
        """The inputs of the create (``mode="create"``) or edit (``"edit"``) form.

        Built from the input schema: text, numbers, decimals, booleans, dates,
        timestamps, e-mail, ``OneOf`` choices and references (a choice of the
        records the user sees). Nested and list fields have no generic input:
        override this and the form template for them.
        """
        from udyog_sdk import _pages as pages

        return pages.form_fields(self, mode, obj)


def _remember(resource: Resource, state: BlueprintSetupState) -> None:
    """Record the resource in the app by key (background imports find it there)."""
    from udyog_sdk import imports

    imports.record_resource(resource, state.app)


def _install_templates(state: BlueprintSetupState) -> None:
    """Make the SDK's templates findable (a blueprint with no routes, registered once per app)."""
    if _TEMPLATES_BLUEPRINT not in state.app.blueprints:
        state.app.register_blueprint(FlaskBlueprint(_TEMPLATES_BLUEPRINT, __name__, template_folder=TEMPLATE_FOLDER))
