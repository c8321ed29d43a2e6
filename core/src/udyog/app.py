"""The WSGI application factory."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_jwt_extended import JWTManager, get_jwt, verify_jwt_in_request
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Rule

from udyog.config import DEFAULT_SECRET_KEY, Settings
from udyog.db import PreparedStatement, TenantSession
from udyog.kernel import Kernel, TenantScope
from udyog.models import AuthSession, Membership, Tenant, User
from udyog.registry import CORE_NAME, PluginState
from udyog_sdk import Principal, TenantContext, UdyogError
from udyog_sdk.api import flatten_messages
from udyog_sdk.models import utcnow
from udyog_sdk.runtime import NoScopeError, bind_scope, unbind_scope
from udyog_sdk.security import ACCESS_ATTRIBUTE

#: Endpoints of other libraries that anyone may call (the OpenAPI document, static assets).
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json", "static", "bootstrap.static", "web.static"})


def check_login(kernel: Kernel, session: TenantSession, claims: Mapping[str, Any]) -> tuple[TenantContext, Principal]:
    """The tenant and principal of a verified token's claims, or a 401 naming why.

    The token is signed, so its tenant may scope ``session`` before the one
    query that checks the tenant, the login session, the user and the membership.
    """
    try:
        user_id, tenant_id, session_id = (uuid.UUID(str(claims[k])) for k in ("sub", "tid", "sid"))
    except (KeyError, ValueError, TypeError):
        raise UdyogError("invalid token", status=401) from None
    session.bind_tenant(tenant_id)
    row = (
        _login_check()
        .execute(session.connection(), {"sid": session_id, "uid": user_id, "tid": tenant_id})
        .one_or_none()
    )
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise UdyogError("this login was ended (logout, password change or expiry); log in again", status=401)
    if not row.is_active:
        raise UdyogError("the tenant of this token is inactive", status=401)
    if not row.user_active or not row.member_active:
        raise UdyogError("this user is disabled in this tenant", status=401)
    tenant = kernel.context_for(session, row)
    principal = kernel.security.principal(
        session,
        tenant,
        tenant.security_rev,
        user_id=user_id,
        email=row.email,
        name=row.user_name,
        branch_id=row.branch_id,
    )
    return tenant, principal


@functools.lru_cache(maxsize=1)
def _login_check() -> PreparedStatement:
    """The per-request check of a token's login, built once: one query, bound parameters.

    Returns the tenant's columns (as ``context_for`` needs them) with the login
    session's state, the user's and the membership's. It filters by tenant
    itself (the acting tenant of the login session, the membership of that
    tenant), so it runs outside the ORM's tenant filter, prepared once per
    PostgreSQL connection (see :class:`udyog.db.PreparedStatement`).
    """
    from sqlalchemy import Uuid, bindparam

    statement = (
        select(
            Tenant.id,
            Tenant.slug,
            Tenant.name,
            Tenant.timezone,
            Tenant.settings_rev,
            Tenant.is_active,
            Tenant.plugins_rev,
            Tenant.security_rev,
            Tenant.fields_rev,
            AuthSession.revoked_at,
            AuthSession.expires_at,
            User.is_active.label("user_active"),
            User.email,
            User.name.label("user_name"),
            Membership.is_active.label("member_active"),
            Membership.branch_id,
        )
        .join(Tenant, Tenant.id == AuthSession.acting_tenant_id)
        .join(User, User.id == AuthSession.user_id)
        .join(Membership, (Membership.user_id == User.id) & (Membership.tenant_id == bindparam("tid")))
        .where(
            AuthSession.id == bindparam("sid"),
            User.id == bindparam("uid"),
            AuthSession.acting_tenant_id == bindparam("tid"),
        )
    )
    return PreparedStatement("udyog_login_check", statement, {"sid": Uuid(), "uid": Uuid(), "tid": Uuid()})


def access_of(app: Flask, endpoint: str) -> tuple[str, str | None]:
    """How a route is protected: ("public"|"authenticated"|"permission"|"refresh"|"undeclared", permission)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return ("public", None)
    view = app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTRIBUTE, ("undeclared", None))


def _init_jwt(app: Flask, settings: Settings) -> None:
    from datetime import timedelta

    app.config.update(
        JWT_SECRET_KEY=settings.secret_key,
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=14),
        JWT_COOKIE_SECURE=settings.secure_cookies,
        JWT_COOKIE_SAMESITE="Lax",
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=True,  # HTML forms send the double-submit value as the field csrf_token
        JWT_SESSION_COOKIE=False,
    )
    jwt = JWTManager(app)

    def unauthorized(message: str) -> ResponseReturnValue:
        return _envelope_error(401, message)

    jwt.unauthorized_loader(lambda reason: unauthorized(f"authentication required: {reason}"))
    jwt.invalid_token_loader(lambda reason: unauthorized(f"invalid token: {reason}"))
    jwt.expired_token_loader(lambda header, data: unauthorized("token expired: refresh it or log in again"))
    jwt.revoked_token_loader(lambda header, data: unauthorized("token revoked"))
    jwt.needs_fresh_token_loader(lambda header, data: unauthorized("a fresh login is required"))
    jwt.token_verification_failed_loader(lambda header, data: unauthorized("token verification failed"))
    jwt.user_lookup_error_loader(lambda header, data: unauthorized("unknown user"))


log = logging.getLogger("udyog.app")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LazyBuildRule(Rule):
    """A URL rule that compiles its URL builders when ``url_for`` first needs them, not when it is added.

    Werkzeug compiles two Python functions per rule as it is added; with
    several hundred rules that is most of an application's start-up, though a
    process builds URLs for few of them. Matching is unchanged.

    Until then both builders are one module-level function each, bound to the
    rule (no closure per rule); the first call compiles the real builder and
    puts it in the rule's place. Two threads racing there compile the same
    builder twice, harmlessly.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        return _build_unknown_later if append_unknown else _build_later


def _build_later(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """``rule._build`` until its first use: compiles it, then builds."""
    rule._build = Rule._compile_builder(rule, False).__get__(rule, None)  # type: ignore[attr-defined]
    return rule._build(*args, **kwargs)  # type: ignore[attr-defined,no-any-return]


def _build_unknown_later(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """``rule._build_unknown`` until its first use: compiles it, then builds."""
    rule._build_unknown = Rule._compile_builder(rule, True).__get__(rule, None)  # type: ignore[attr-defined]
    return rule._build_unknown(*args, **kwargs)  # type: ignore[attr-defined,no-any-return]


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
    from udyog.openapi import UdyogApi, install_openapi

    if kernel is None:
        kernel = Kernel(Settings.from_env(config))
    settings = kernel.settings
    if settings.secret_key == DEFAULT_SECRET_KEY and settings.dialect != "sqlite":
        log.warning("UDYOG_SECRET_KEY is not set: using an insecure development key")
    app = Flask("udyog")
    app.url_rule_class = LazyBuildRule
    app.config.update(
        SECRET_KEY=settings.secret_key,
        API_TITLE="Udyog",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        # Read by udyog_sdk.imports and udyog_sdk.exports (the SDK knows no Settings).
        UDYOG_IMPORT_MAX_BYTES=settings.import_max_bytes,
        UDYOG_IMPORT_MAX_ROWS=settings.import_max_rows,
        UDYOG_IMPORT_BACKGROUND_ROWS=settings.import_background_rows,
        UDYOG_EXPORT_MAX_ROWS=settings.export_max_rows,
    )
    app.url_map.strict_slashes = False
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops, x_host=settings.proxy_hops
        )
    api = UdyogApi(app)
    app.extensions["udyog"] = kernel
    # Before the blueprints: the shell's page-aware handlers replace some of JWT's.
    _init_jwt(app, settings)
    owners: dict[str, str] = {}
    _register_blueprints(app, api, kernel, owners)
    app.extensions["udyog.blueprint_owners"] = owners
    install_openapi(app, api, owners)
    from udyog.worker import celery_init_app

    celery_init_app(app)

    @app.before_request
    def _authenticate_and_scope() -> ResponseReturnValue | None:
        if request.endpoint is None:
            return None  # 404 or 405 follows
        kind, permission = access_of(app, request.endpoint)
        if kind == "public":
            return None
        verify_jwt_in_request(refresh=kind == "refresh")
        session = kernel.db.session(write=request.method not in SAFE_METHODS)
        g.udyog_session = session
        tenant, principal = check_login(kernel, session, get_jwt())
        owner = owners.get(request.blueprint or "")
        if owner not in (None, CORE_NAME) and not tenant.is_enabled(owner):
            raise NotFound()
        if kind == "permission" and permission is not None and not principal.can(permission):
            raise UdyogError(f"permission required: {permission}", status=403, errors={"permission": [permission]})
        if kind not in ("permission", "authenticated", "refresh"):
            raise UdyogError("this route declares no permission, so nobody may call it (deny by default)", status=403)
        g.udyog_scope_token = bind_scope(TenantScope(kernel, tenant, session, principal))
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
    page = current_app.extensions.get("udyog.error_page")  # the web UI answers its own paths with pages
    if page is not None and (answer := page(status, message)) is not None:
        return answer
    body: dict[str, Any] = {"success": False, "message": message, "errors": dict(errors or {})}
    return jsonify(body), status


#: Where webargs says a bad field came from: a level of its messages, not a field.
WEBARGS_LOCATIONS = ("json", "query", "form", "view_args", "path", "headers", "files")


def _flatten_errors(messages: Any) -> dict[str, list[str]]:
    """webargs/marshmallow messages ({location: {field: [...]}}) → {field: [...]}."""
    return flatten_messages(messages, skip=WEBARGS_LOCATIONS)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(UdyogError)
    def _udyog_error(exc: UdyogError) -> ResponseReturnValue:
        body, status = _envelope_error(exc.status, exc.message, exc.errors)  # type: ignore[misc]
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            body.headers["Retry-After"] = str(retry_after)
        return body, status

    @app.errorhandler(NoScopeError)
    def _no_tenant(exc: NoScopeError) -> ResponseReturnValue:
        return _envelope_error(400, "this route acts for a tenant, and the request names none")

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> ResponseReturnValue:
        log.info("integrity error: %s", exc.orig)
        return _envelope_error(409, "the change conflicts with existing data (a duplicate, or a record still in use)")

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError) -> ResponseReturnValue:
        log.info("stale data: %s", exc)
        return _envelope_error(
            409,
            "changed by someone else since you read it: reload it and apply your change again",
            {"version": ["the record changed meanwhile"]},
        )

    @app.errorhandler(DataError)
    def _data_error(exc: DataError) -> ResponseReturnValue:
        # A value the schema let through but the column cannot hold (too long,
        # out of range): the input is at fault, and the schema should be tightened.
        log.warning("data error on %s %s: %s", request.method, request.path, exc.orig)
        return _envelope_error(422, "a value does not fit its field")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        errors = _flatten_errors(messages) if messages else {}
        status = exc.code or 500
        message = {
            400: "invalid request",
            404: "not found",
            405: "method not allowed",
            415: "unsupported media type: send JSON",
            422: "invalid input",
        }.get(status, exc.name)
        if status == 400 and not errors:
            message = exc.description or exc.name
        return _envelope_error(status, message, errors)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _envelope_error(500, "internal error")
