"""The OpenAPI document, composed per caller, and the offline docs page.

flask-smorest builds one document from every registered blueprint. The view
at ``/api/openapi.json`` narrows it to what the caller can use:

- a caller whose request is bound to a tenant (a logged-in user) gets the
  core's paths and those of the plugins the tenant enabled;
- anyone else gets the public paths only (those marked
  ``udyog_sdk.security.public``, such as health and login).

For a tenant, each declared resource's schemas and list parameters also
describe its composed fields (other plugins' contributions and the tenant's
custom fields, :mod:`udyog.composition`), marked ``x-udyog-origin``.
Documents are cached per enabled set and composition.

Every error answer is documented with :class:`udyog_sdk.api.ErrorSchema` (the
``default`` response of every operation, 422 for operations that read
arguments). Schemas no remaining operation refers to are dropped.

``/api/docs`` serves Swagger UI from the assets of the ``flask-swagger-ui``
package: nothing is fetched from a CDN, so the page works offline.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_smorest import Api

from udyog.registry import CORE_NAME
from udyog_sdk.api import ErrorSchema
from udyog_sdk.fields import Composition
from udyog_sdk.runtime import active_tenant
from udyog_sdk.security import public

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

    from udyog.kernel import Kernel

OPENAPI_ENDPOINT = "api-docs.openapi_json"
DOCS_BLUEPRINT = "udyog_docs"
DOCS_URL = "/api/docs"
SPEC_URL = "/api/openapi.json"
#: Documents cached at most (enabled sets times compositions); the cache starts afresh beyond.
MAX_DOCUMENTS = 1000
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class UdyogApi(Api):
    """flask-smorest's ``Api`` documenting Udyog's error envelope for every error status.

    Blueprints are registered with Flask at once but documented only when the
    OpenAPI document is first asked for (:meth:`document_views`): building
    the document takes longer than the rest of the application's start-up, and
    most processes (workers, every test's application) never serve it.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, str, Any]] = []
        self._doc_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register ``blp`` with the application now and in the document later (as flask-smorest would at once)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def document_views(self) -> None:
        """Add the views of the blueprints registered since the last call to ``self.spec``."""
        with self._doc_lock:
            pending, self._undocumented = self._undocumented, []
            for blp, name, parameters in pending:
                blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
                self.spec.tag({"name": name, "description": blp.description})


def _openapi_path(rule: str) -> str:
    return _RULE_ARG.sub(r"{\1}", rule)


def _access(app: Flask, endpoint: str) -> tuple[str, str | None]:
    from udyog.app import access_of

    return access_of(app, endpoint)


class OpenAPIComposer:
    """Narrows the application's OpenAPI document to one caller, cached per enabled set."""

    def __init__(self, app: Flask, api: Api, owners: Mapping[str, str]) -> None:
        self.app = app
        self.api = api
        self.owners = owners
        self._base: dict[str, Any] | None = None
        self._operations: dict[tuple[str, str], tuple[str, tuple[str, str | None]]] = {}
        self._cache: dict[tuple[frozenset[str] | None, Any], str] = {}
        self._lock = threading.Lock()

    def _prepare(self) -> dict[str, Any]:
        if self._base is None:
            with self._lock:
                if self._base is None:
                    for rule in self.app.url_map.iter_rules():
                        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else ""
                        owner = self.owners.get(blueprint)
                        if owner is None:
                            continue
                        for method in rule.methods or ():
                            key = (_openapi_path(rule.rule), method.lower())
                            self._operations[key] = (owner, _access(self.app, rule.endpoint))
                    if isinstance(self.api, UdyogApi):
                        self.api.document_views()
                    self._base = self.api.spec.to_dict()
        return self._base

    def document(self, enabled: frozenset[str] | None, compositions: Mapping[str, Composition] | None = None) -> str:
        """The JSON document for a tenant with ``enabled`` plugins (None: an anonymous caller).

        ``compositions`` (resource key → composition) adds the tenant's composed fields.
        """
        compositions = compositions or {}
        cache_key = (enabled, tuple(sorted((k, c.fingerprint) for k, c in compositions.items())))
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        base = self._prepare()
        spec = copy.deepcopy(base)
        paths: dict[str, Any] = {}
        for path, item in spec.get("paths", {}).items():
            kept = {}
            for method, operation in item.items():
                if method not in _METHODS:
                    kept[method] = operation
                    continue
                owner, (kind, permission) = self._operations.get((path, method), (None, ("undeclared", None)))
                if enabled is None:
                    if kind != "public":
                        continue
                elif owner is None or (owner != CORE_NAME and owner not in enabled):
                    continue
                _document_access(operation, kind, permission)
                kept[method] = operation
            if any(m in _METHODS for m in kept):
                paths[path] = kept
        spec["paths"] = paths
        used_tags = {
            t for item in paths.values() for op in item.values() if isinstance(op, dict) for t in op.get("tags", ())
        }
        spec["tags"] = [t for t in spec.get("tags", []) if t.get("name") in used_tags]
        components = spec.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "the access token from POST /api/v1/auth/login",
        }
        if compositions:
            self._compose(spec, compositions)
        _prune_schemas(spec)
        text = json.dumps(spec, indent=2, sort_keys=False)
        with self._lock:
            if len(self._cache) >= MAX_DOCUMENTS:
                self._cache.clear()
            self._cache[cache_key] = text
        return text

    def _component(self, schema: Any) -> str | None:
        """The component name apispec gave ``schema`` (a class or an instance), if it is in the document."""
        from apispec.ext.marshmallow.common import make_schema_key, resolve_schema_instance

        refs: dict[Any, str] = self.api.ma_plugin.converter.refs
        return refs.get(make_schema_key(resolve_schema_instance(schema)))

    def _compose(self, spec: dict[str, Any], compositions: Mapping[str, Composition]) -> None:
        """Describe each resource's composed fields in its schemas and list parameters."""
        kernel = self.app.extensions["udyog"]
        converter = self.api.ma_plugin.converter
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for key, composition in compositions.items():
            declared = kernel.compositions.resources.get(key)
            if declared is None:
                continue
            resource = declared.resource
            for schema, mode in (
                (resource.schema, "output"),
                (resource.input_schema, "create"),
                (resource.patch_schema, "update"),
            ):
                name = self._component(schema)
                target = schemas.get(name or "")
                if target is None:
                    continue
                properties = target.setdefault("properties", {})
                for field_name, item in composition.fields.items():
                    fld = item.update_field if mode == "update" else item.field
                    properties[field_name] = converter.field2property(fld)
                    if mode == "create" and fld.required:
                        target.setdefault("required", []).append(field_name)
            listing = spec["paths"].get(f"/api/v1/{resource.plugin}/{resource.path}", {}).get("get")
            if listing is None:
                continue
            parameters = listing.setdefault("parameters", [])
            for param, flt in composition.filters.items():
                parameter = converter._field2parameter(flt.field, name=param, location="query")
                parameter["description"] = flt.label
                parameters.append(parameter)


def _document_access(operation: dict[str, Any], kind: str, permission: str | None) -> None:
    if kind == "public":
        operation["security"] = []
        return
    operation["security"] = [{"bearerAuth": []}]
    if kind == "permission" and permission:
        note = f"Requires the permission `{permission}`."
        description = operation.get("description", "")
        if note not in description:
            operation["description"] = f"{description}\n\n{note}".strip()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                yield value.rsplit("/", 1)[1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _prune_schemas(spec: dict[str, Any]) -> None:
    """Drop component schemas that nothing outside the schemas section refers to, transitively."""
    components = spec.get("components", {})
    schemas = components.get("schemas", {})
    if not schemas:
        return
    outside = {k: v for k, v in spec.items() if k != "components"}
    outside["components"] = {k: v for k, v in components.items() if k != "schemas"}
    wanted = set(_refs(outside))
    queue = list(wanted)
    while queue:
        name = queue.pop()
        for ref in _refs(schemas.get(name, {})):
            if ref not in wanted:
                wanted.add(ref)
                queue.append(ref)
    components["schemas"] = {k: v for k, v in schemas.items() if k in wanted}


def _caller_enabled_plugins(kernel: Kernel) -> tuple[frozenset[str] | None, dict[str, Composition]]:
    """The enabled plugins of the caller's tenant (None for an anonymous caller), and its compositions.

    A request bound to a tenant answers directly; otherwise a valid access
    token (header or cookie) of a live login names the tenant. A missing,
    invalid or revoked token means an anonymous caller, never an error: the
    document is public.
    """
    tenant = active_tenant()
    if tenant is not None:
        from udyog_sdk.runtime import current_scope

        return tenant.enabled_plugins, kernel.compositions.compose_all(tenant, current_scope().session)
    from flask_jwt_extended import get_jwt, verify_jwt_in_request
    from flask_jwt_extended.exceptions import JWTExtendedException
    from jwt.exceptions import PyJWTError

    from udyog.app import check_login
    from udyog_sdk import UdyogError

    try:
        if verify_jwt_in_request(optional=True) is None:
            return None, {}
        claims = get_jwt()
    except (JWTExtendedException, PyJWTError):
        return None, {}
    with kernel.db.session(write=False) as session:
        try:
            context, _ = check_login(kernel, session, claims)
        except UdyogError:
            return None, {}
        return context.enabled_plugins, kernel.compositions.compose_all(context, session)


def install_openapi(app: Flask, api: Api, owners: Mapping[str, str]) -> None:
    """Serve the per-caller document at ``/api/openapi.json`` and Swagger UI at ``/api/docs``."""
    from flask_swagger_ui import get_swaggerui_blueprint

    composer = OpenAPIComposer(app, api, owners)
    app.extensions["udyog.openapi"] = composer

    def openapi_json() -> ResponseReturnValue:
        """The OpenAPI document of what the caller can use."""
        kernel = current_app.extensions["udyog"]
        text = composer.document(*_caller_enabled_plugins(kernel))
        return current_app.response_class(text, mimetype="application/json")

    _mark_public(openapi_json)
    app.view_functions[OPENAPI_ENDPOINT] = openapi_json
    docs = get_swaggerui_blueprint(
        DOCS_URL,
        SPEC_URL,
        config={
            "app_name": "Udyog API",
            "validatorUrl": None,  # the default validator is an online service
            "persistAuthorization": True,
            "withCredentials": True,
        },
        blueprint_name=DOCS_BLUEPRINT,
    )
    app.register_blueprint(docs)
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(f"{DOCS_BLUEPRINT}."):
            _mark_public(view)


def _mark_public(view: Any) -> None:
    public(view)
