"""Per-tenant composition of declared resources: field contributions and custom fields, in one mechanism.

When a kernel is built, :class:`Compositions` collects the resources plugins
declare (``udyog_resources``) and the fields plugins contribute to them
(``udyog_field_contributions``), and checks both: keys start with the
declaring plugin's name, a side table extends the owner's table and belongs
to the contributing plugin, and no field name clashes with the owner's, with
another contributor's or with the ``x_`` of custom fields. A refused
declaration unloads its plugin with a message naming both sides.

For a tenant, :meth:`Compositions.compose` gives a resource's
:class:`udyog_sdk.fields.Composition`: the contributions of the plugins the
tenant enabled and the tenant's custom fields (:mod:`udyog.custom_fields`).
It is built once per tenant configuration — enabled plugins and custom-field
revision — and cached; a change of either builds it afresh.

Records deleted through the session take their side rows and custom values
with them, with ORM statements issued before the record's own delete (so the
audit log records them); a record a custom link field still points at is
refused (409).
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from udyog.db import TenantSession
from udyog.models import CustomField, CustomValue
from udyog_sdk import TenantContext, UdyogError
from udyog_sdk.fields import CUSTOM_PREFIX, Composition, ContributionSource, FieldContribution, is_side_table
from udyog_sdk.models import is_tenant_model
from udyog_sdk.resources import Resource

if TYPE_CHECKING:
    from udyog.kernel import Kernel

log = logging.getLogger("udyog.composition")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Fields every resource output may carry besides its schema's.
_RESERVED = frozenset({"id", "version", "tenant_id", "record_id"})
#: Compositions cached at most (tenants times resources); the cache starts afresh beyond.
MAX_CACHED = 20_000
_CHUNK = 500


@dataclass(frozen=True)
class DeclaredResource:
    """A resource a plugin declared, and that plugin."""

    plugin: str
    resource: Resource


class Compositions:
    """The deployment's declared resources and contributions, and each tenant's compositions (cached)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.resources: dict[str, DeclaredResource] = {}
        self.contributions: dict[str, list[ContributionSource]] = {}
        self._lock = threading.Lock()
        #: (tenant, resource key) → (enabled plugins, fields revision, composition or None).
        self._cache: dict[tuple[uuid.UUID, str], tuple[frozenset[str], int, Composition | None]] = {}
        #: tenant → (fields revision, {resource key: [definition]}).
        self._definitions: dict[uuid.UUID, tuple[int, dict[str, list[Any]]]] = {}
        self._collect_resources()
        self._collect_contributions()

    # -- collecting ----------------------------------------------------------------------------

    def _unload(self, plugin: str, message: str) -> set[str]:
        return set(self.kernel.registry.unload(plugin, message))

    def _collect_resources(self) -> None:
        bus = self.kernel.bus
        found: dict[str, DeclaredResource] = {}
        dropped: set[str] = set()
        for plugin, items in bus.collect_safely("udyog_resources", on_error=self.kernel.registry.unload):
            problem = None
            mine: list[Resource] = []
            for item in items or ():
                if not isinstance(item, Resource):
                    problem = f"udyog_resources returned {type(item).__name__}, not a udyog_sdk.resources.Resource"
                    break
                key = item.permission_prefix
                if item.plugin != plugin:
                    problem = f"resource {key!r} must start with the plugin's name ({plugin}.)"
                    break
                if key in found:
                    problem = f"resource {key!r} is declared by both {found[key].plugin} and {plugin}"
                    break
                mine.append(item)
            if problem:
                dropped |= self._unload(plugin, problem)
                continue
            for item in mine:
                found[item.permission_prefix] = DeclaredResource(plugin, item)
        if dropped:
            bus.refresh(self.kernel.registry.order)
        loaded = self.kernel.registry.loaded_names()
        self.resources = {k: v for k, v in sorted(found.items()) if v.plugin in loaded}

    def _collect_contributions(self) -> None:
        bus = self.kernel.bus
        registry = self.kernel.registry
        taken: dict[tuple[str, str], str] = {}  # (resource, field) → plugin
        accepted: dict[str, list[ContributionSource]] = {}
        dropped: set[str] = set()
        for plugin, items in bus.collect_safely("udyog_field_contributions", on_error=registry.unload):
            if plugin in dropped:
                continue
            record = registry.get(plugin)
            optional = set(record.manifest.optional) if record is not None and record.manifest is not None else set()
            problems: list[str] = []
            mine: list[ContributionSource] = []
            claims: dict[tuple[str, str], str] = {}
            for item in items or ():
                if not isinstance(item, FieldContribution):
                    problems.append(f"udyog_field_contributions returned {type(item).__name__}, not FieldContribution")
                    continue
                declared = self.resources.get(item.resource)
                if declared is None:
                    owner = item.resource.split(".", 1)[0]
                    if owner in optional and owner not in registry.loaded_names():
                        continue  # cooperates with an optional plugin that is not here
                    problems.append(
                        f"contributes to {item.resource!r}, which no loaded plugin declares (udyog_resources)"
                    )
                    continue
                found = _contribution_problems(plugin, item, declared)
                for name in item.fields:
                    other = taken.get((item.resource, name)) or claims.get((item.resource, name))
                    if other is not None:
                        found.append(f"field {name!r} of {item.resource} is contributed by both {other} and {plugin}")
                    claims[(item.resource, name)] = plugin
                if found:
                    problems += found
                    continue
                mine.append(ContributionSource(plugin, item, declared.resource.model))
            if problems:
                dropped |= self._unload(plugin, "refused field contribution: " + "; ".join(problems))
                continue
            taken.update(claims)
            for source in mine:
                accepted.setdefault(source.contribution.resource, []).append(source)
        if dropped:
            bus.refresh(registry.order)
            self.resources = {k: v for k, v in self.resources.items() if v.plugin not in dropped}
            accepted = {
                key: [s for s in sources if s.plugin not in dropped]
                for key, sources in accepted.items()
                if key in self.resources
            }
        self.contributions = accepted

    # -- per tenant ----------------------------------------------------------------------------

    def declared(self, key: str, tenant: TenantContext | None = None) -> Resource | None:
        """The resource declared as ``key`` (for ``tenant``: only if its plugin is enabled there)."""
        entry = self.resources.get(key)
        if entry is None or (tenant is not None and not tenant.is_enabled(entry.plugin)):
            return None
        return entry.resource

    def compose(self, resource: Resource, tenant: TenantContext, session: Session) -> Composition | None:
        """``resource``'s composition for ``tenant`` (None: nothing extra), cached per tenant configuration."""
        key = resource.permission_prefix
        entry = self.resources.get(key)
        if entry is None or entry.resource.model is not resource.model:
            return None
        cache_key = (tenant.id, key)
        hit = self._cache.get(cache_key)
        if hit is not None and hit[0] == tenant.enabled_plugins and hit[1] == tenant.fields_rev:
            return hit[2]
        sources: list[Any] = [s for s in self.contributions.get(key, ()) if tenant.is_enabled(s.plugin)]
        definitions = self.definitions(tenant, session).get(key, [])
        if definitions:
            from udyog.custom_fields import CustomFieldSource

            custom = CustomFieldSource(resource, definitions, tenant, self)
            if custom.fields:
                sources.append(custom)
        composition = Composition(key, sources) if sources else None
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[cache_key] = (tenant.enabled_plugins, tenant.fields_rev, composition)
        return composition

    def compose_all(self, tenant: TenantContext, session: Session) -> dict[str, Composition]:
        """Every non-empty composition of the resources ``tenant`` enabled, by key."""
        out = {}
        for key, entry in self.resources.items():
            if tenant.is_enabled(entry.plugin):
                found = self.compose(entry.resource, tenant, session)
                if found is not None:
                    out[key] = found
        return out

    def definitions(self, tenant: TenantContext, session: Session) -> dict[str, list[Any]]:
        """The tenant's custom-field definitions by resource key (one query per revision, then cached)."""
        hit = self._definitions.get(tenant.id)
        if hit is not None and hit[0] == tenant.fields_rev:
            return hit[1]
        from udyog.custom_fields import spec_of

        grouped: dict[str, list[Any]] = {}
        query = select(CustomField).order_by(CustomField.resource, CustomField.position, CustomField.name)
        for row in session.scalars(query):
            grouped.setdefault(row.resource, []).append(spec_of(row))
        with self._lock:
            if len(self._definitions) >= MAX_CACHED:
                self._definitions.clear()
            self._definitions[tenant.id] = (tenant.fields_rev, grouped)
        return grouped

    def resource_models(self) -> frozenset[type]:
        """The mapped classes of every declared resource."""
        return frozenset(entry.resource.model for entry in self.resources.values())

    def side_models(self) -> dict[str, list[type]]:
        """Owner table → the side tables of the accepted contributions to it (of loaded plugins only)."""
        found: dict[str, list[type]] = {}
        for sources in self.contributions.values():
            for source in sources:
                model = source.contribution.model
                found.setdefault(model.__udyog_extends__, []).append(model)  # type: ignore[attr-defined]
        return found

    def forget(self, plugin: str) -> None:
        """Drop ``plugin``'s contributions (its side tables were just dropped: ``udyog plugins uninstall``)."""
        with self._lock:
            self.contributions = {
                key: [s for s in sources if s.plugin != plugin] for key, sources in self.contributions.items()
            }
            self._cache.clear()


def _contribution_problems(plugin: str, item: FieldContribution, declared: DeclaredResource) -> list[str]:
    """What is wrong with ``plugin``'s contribution to ``declared`` (nothing: an empty list)."""
    problems: list[str] = []
    owner = declared.resource
    model = item.model
    owner_table = owner.model.__tablename__
    if not (isinstance(model, type) and is_side_table(model) and is_tenant_model(model)):
        return [f"{getattr(model, '__name__', model)!r} is no side table (udyog_sdk.fields.SideTable)"]
    table = model.__tablename__
    if model.__udyog_extends__ != owner_table:
        problems.append(
            f"{table} extends {model.__udyog_extends__!r}, not {owner_table} (the table of {item.resource})"
        )
    if not table.startswith(f"{plugin}_"):
        problems.append(f"side table {table} is not the plugin's own (<plugin>_<thing>: {plugin}_...)")
    columns = {p.key for p in inspect(model).column_attrs} - {"tenant_id", "id", "record_id"}
    own_keys = set()
    for name, fld in owner.schema._declared_fields.items():
        own_keys |= {name, fld.data_key or name, fld.attribute or name}
    own_keys |= {p.key for p in inspect(owner.model).attrs}
    for name, fld in item.fields.items():
        if not _NAME.match(name) or name.startswith(CUSTOM_PREFIX):
            problems.append(
                f"field {name!r}: names are lower-case letters, digits and underscores, never {CUSTOM_PREFIX}..."
            )
            continue
        if not hasattr(fld, "deserialize"):
            problems.append(f"field {name!r} is no marshmallow field")
            continue
        if fld.data_key not in (None, name):
            problems.append(f"field {name!r}: no data_key (the name is the key)")
        if fld.dump_only or fld.load_only:
            problems.append(f"field {name!r}: contributed fields are read and written (no dump_only, load_only)")
        if (fld.attribute or name) not in columns:
            problems.append(f"field {name!r}: {table} has no column {fld.attribute or name!r}")
        if name in own_keys or name in _RESERVED:
            problems.append(f"field {name!r} clashes with a field of {item.resource} (plugin {declared.plugin})")
    for name in (*item.filters, *item.list_columns):
        if name not in item.fields:
            problems.append(f"filter or list column {name!r} is not a contributed field")
    return problems


# -- records deleted take their side rows and custom values along ----------------------------------


@dataclass(frozen=True)
class _Dependents:
    """What a session's deletes take along: which models may have custom values, and the side tables."""

    #: Models whose records may have custom values (declared resources); None: unknown, every tenant model.
    composed: frozenset[type] | None
    #: Owner table → side tables of the kernel's accepted contributions (none without a kernel).
    sides: dict[str, list[type]]

    def takes_along(self, cls: type) -> bool:
        if not is_tenant_model(cls) or cls in (CustomValue, CustomField) or is_side_table(cls):
            return False
        return self.composed is None or cls in self.composed or cls.__tablename__ in self.sides


def _dependents(session: Session) -> _Dependents:
    kernel = getattr(session.info.get("udyog_dispatcher"), "kernel", None)
    compositions: Compositions | None = getattr(kernel, "compositions", None)
    if compositions is None:
        return _Dependents(None, {})
    return _Dependents(compositions.resource_models(), compositions.side_models())


def _remove_dependents(
    session: Session, doomed: Mapping[type, Iterable[uuid.UUID]], sides: dict[str, list[type]]
) -> None:
    """Refuse deleting records a custom link points at; delete the side rows and custom values of ``doomed``."""
    with session.no_autoflush:
        for cls, ids in doomed.items():
            ids = list(ids)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                linked = session.execute(
                    select(CustomField.name, CustomField.resource)
                    .join(
                        CustomValue,
                        (CustomValue.tenant_id == CustomField.tenant_id) & (CustomValue.field_id == CustomField.id),
                    )
                    .where(CustomValue.value_ref.in_(chunk))
                    .limit(1)
                ).first()
                if linked is not None:
                    raise UdyogError(
                        f"still linked from the custom field {linked.name} of {linked.resource}: "
                        "clear that field in the records linking here first",
                        status=409,
                        errors={"_schema": [f"linked from {linked.resource}.{linked.name}"]},
                    )
                session.execute(
                    delete(CustomValue).where(CustomValue.record_id.in_(chunk)),
                    execution_options={"synchronize_session": "fetch"},
                )
                for side in sides.get(cls.__tablename__, ()):
                    session.execute(
                        delete(side).where(side.record_id.in_(chunk)),  # type: ignore[attr-defined]
                        execution_options={"synchronize_session": "fetch"},
                    )


@event.listens_for(TenantSession, "before_flush")
def _delete_with_record(session: Session, flush_context: Any, instances: Any) -> None:
    """Records deleted through the session take their side rows and custom values along (audited)."""
    deleted = list(session.deleted)
    if not deleted:
        return
    dependents = _dependents(session)
    doomed: dict[type, list[uuid.UUID]] = {}
    for obj in deleted:
        cls = type(obj)
        if dependents.takes_along(cls) and getattr(obj, "id", None) is not None:
            doomed.setdefault(cls, []).append(obj.id)
    if doomed:
        _remove_dependents(session, doomed, dependents.sides)


@event.listens_for(TenantSession, "do_orm_execute")
def _bulk_delete_with_records(state: ORMExecuteState) -> None:
    """ORM ``delete(Model)`` statements take the side rows and custom values of the rows they delete."""
    if not state.is_delete or not state.is_orm_statement or state.execution_options.get("udyog_raw"):
        return
    mapper = state.bind_mapper
    if mapper is None:
        return
    cls = mapper.class_
    dependents = _dependents(state.session)
    if not dependents.takes_along(cls):
        return
    where = getattr(state.statement, "whereclause", None)
    probe = select(cls.id)  # type: ignore[attr-defined]
    if where is not None:
        probe = probe.where(where)
    with state.session.no_autoflush:
        ids = list(state.session.scalars(probe))
    if ids:
        _remove_dependents(state.session, {cls: ids}, dependents.sides)


__all__ = ["Compositions", "DeclaredResource"]
