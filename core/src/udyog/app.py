"""The WSGI application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, NotFound

from udyog.config import DEFAULT_SECRET_KEY, Settings
from udyog.kernel import Kernel, TenantScope
from udyog.registry import CORE_NAME, PluginState
from udyog_sdk import UdyogError
from udyog_sdk.runtime import NoScopeError, bind_scope, unbind_scope

log = logging.getLogger("udyog.app")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    kernel: Kernel | None = None,
    dispatch_pending: bool | None = None,
) -> Flask:
    """Build the Flask application: kernel, plugin blueprints, tenant scopes, errors.

    ``config`` overrides :class:`~udyog.config.Settings` fields; pass an
    existing ``kernel`` to share one between an app and other code.
    ``dispatch_pending`` (default: the setting) delivers outbox events a
    previous process left pending.
    """
    from flask_smorest import Api

    if kernel is None:
        kernel = Kernel(Settings.from_env(config))
    settings = kernel.settings
    if settings.secret_key == DEFAULT_SECRET_KEY and settings.dialect != "sqlite":
        log.warning("UDYOG_SECRET_KEY is not set: using an insecure development key")
    app = Flask("udyog")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        API_TITLE="Udyog",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.url_map.strict_slashes = False
    api = Api(app)
    app.extensions["udyog"] = kernel
    owners: dict[str, str] = {}
    _register_blueprints(app, api, kernel, owners)
    app.extensions["udyog.blueprint_owners"] = owners

    @app.before_request
    def _open_scope() -> ResponseReturnValue | None:
        owner = owners.get(request.blueprint or "")
        ref = kernel.bus.all.udyog_resolve_tenant(request=request)
        if ref is None:
            if owner not in (None, CORE_NAME):
                raise NotFound()
            return None
        session = kernel.db.session(write=request.method not in SAFE_METHODS)
        g.udyog_session = session
        tenant = kernel.tenant_context(session, ref)
        if tenant is None:
            raise UdyogError("unknown or inactive tenant", status=404)
        if owner not in (None, CORE_NAME) and not tenant.is_enabled(owner):
            raise NotFound()
        g.udyog_scope_token = bind_scope(TenantScope(kernel, tenant, session))
        return None

    @app.teardown_request
    def _close_scope(exc: BaseException | None) -> None:
        token = g.pop("udyog_scope_token", None)
        if token is not None:
            unbind_scope(token)
        session = g.pop("udyog_session", None)
        if session is not None:
            session.close()

    _register_error_handlers(app)
    if settings.dispatch_pending_on_start if dispatch_pending is None else dispatch_pending:
        try:
            kernel.dispatcher.dispatch_pending()
        except Exception:
            log.exception("could not dispatch pending events at start")
    return app


def _register_blueprints(app: Flask, api: Any, kernel: Kernel, owners: dict[str, str]) -> None:
    from flask_smorest import Blueprint as SmorestBlueprint

    for plugin, blueprints in kernel.bus.collect_safely("udyog_blueprints", on_error=kernel.registry.unload):
        for bp in blueprints:
            if bp.name in owners:
                raise RuntimeError(
                    f"blueprint name {bp.name!r} of plugin {plugin!r} is already used by plugin {owners[bp.name]!r}"
                )
            owners[bp.name] = plugin
            if isinstance(bp, SmorestBlueprint):
                api.register_blueprint(bp)
            else:
                app.register_blueprint(bp)
    # A plugin unloaded above takes its dependants with it; none of theirs stay.
    failed = {r.name for r in kernel.registry if r.state in (PluginState.FAILED, PluginState.SKIPPED)}
    for name, owner in list(owners.items()):
        if owner in failed:
            raise RuntimeError(f"blueprint {name!r} registered for unloaded plugin {owner!r}")


def _envelope_error(status: int, message: str, errors: Mapping[str, Any] | None = None) -> ResponseReturnValue:
    body: dict[str, Any] = {"success": False, "message": message, "errors": dict(errors or {})}
    return jsonify(body), status


def _flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow messages ({location: {field: [...]}}) → {field: [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key not in ("json", "query", "form", "view_args", "path", "headers", "files") else ""
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            out.update(_flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(_flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(UdyogError)
    def _udyog_error(exc: UdyogError) -> ResponseReturnValue:
        return _envelope_error(exc.status, exc.message, exc.errors)

    @app.errorhandler(NoScopeError)
    def _no_tenant(exc: NoScopeError) -> ResponseReturnValue:
        return _envelope_error(400, "this route acts for a tenant, and the request names none")

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> ResponseReturnValue:
        log.info("integrity error: %s", exc.orig)
        return _envelope_error(409, "the change conflicts with existing data (a duplicate, or a record still in use)")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        errors = _flatten_errors(messages) if messages else {}
        status = exc.code or 500
        message = {404: "not found", 405: "method not allowed", 422: "invalid input"}.get(status, exc.name)
        if status == 400 and not errors:
            message = exc.description or exc.name
        return _envelope_error(status, message, errors)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _envelope_error(500, "internal error")
