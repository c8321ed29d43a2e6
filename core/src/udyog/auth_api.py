"""Authentication API: login, refresh, logout, tenant switch, password change, me.

Tokens are JWTs (Flask-JWT-Extended): a short-lived access token and a refresh
token, both carrying the login session id (``sid``) and the tenant they act
for (``tid``). The API takes them as ``Authorization: Bearer``; the web UI
gets the same tokens as HttpOnly cookies with CSRF double-submit protection.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    set_access_cookies,
    set_refresh_cookies,
    unset_jwt_cookies,
)
from sqlalchemy.orm import Session

from udyog import auth
from udyog.models import Tenant, User
from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.security import ACCESS_ATTRIBUTE, F, authenticated, public


class LoginSchema(ma.Schema):
    """Credentials, and optionally the tenant to act for."""

    class Meta:
        unknown = ma.RAISE

    email = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024))
    tenant = ma.fields.String(load_default=None, validate=ma.validate.Length(max=63))
    use_cookies = ma.fields.Boolean(load_default=False)


class SwitchSchema(ma.Schema):
    """The tenant to switch to (slug or id)."""

    class Meta:
        unknown = ma.RAISE

    tenant = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=63))


class PasswordSchema(ma.Schema):
    """Current and new password."""

    class Meta:
        unknown = ma.RAISE

    current_password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=1024))
    new_password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=1024))


class TenantRefSchema(ma.Schema):
    """A tenant the user belongs to."""

    id = ma.fields.UUID()
    slug = ma.fields.String()
    name = ma.fields.String()


class TokensSchema(ma.Schema):
    """Tokens issued at login, switch or password change."""

    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()
    tenant = ma.fields.Nested(TenantRefSchema)
    tenants = ma.fields.List(ma.fields.Nested(TenantRefSchema))


class MeSchema(ma.Schema):
    """The current user in the current tenant."""

    id = ma.fields.UUID()
    email = ma.fields.String()
    name = ma.fields.String()
    tenant = ma.fields.Nested(TenantRefSchema)
    tenants = ma.fields.List(ma.fields.Nested(TenantRefSchema))
    roles = ma.fields.List(ma.fields.String())
    permissions = ma.fields.List(ma.fields.String())
    enabled_plugins = ma.fields.List(ma.fields.String())


def _tenant_ref(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "slug": tenant.slug, "name": tenant.name}


def _pick_tenant(tenants: list[Tenant], wanted: str | None) -> Tenant:
    if not tenants:
        raise UdyogError("this user belongs to no active tenant", status=403)
    if wanted is None:
        return tenants[0]
    for tenant in tenants:
        if wanted in (tenant.slug, str(tenant.id)):
            return tenant
    raise UdyogError("not a member of that tenant", status=403, errors={"tenant": [f"no membership in {wanted!r}"]})


def login_tokens(session: Session, user: User, tenant: Tenant) -> tuple[str, str]:
    """Open a login session for ``user`` acting for ``tenant`` (committed); its access and refresh tokens."""
    session_id = auth.open_session(
        session,
        user.id,
        tenant.id,
        user_agent=request.headers.get("User-Agent", ""),
        remote_addr=request.remote_addr or "",
    )
    session.commit()
    claims = {"tid": str(tenant.id), "sid": str(session_id)}
    access = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh = create_refresh_token(identity=str(user.id), additional_claims=claims)
    return access, refresh


def change_own_password(current: str, new: str) -> tuple[Session, User, Tenant, list[Tenant]]:
    """Change the logged-in user's password (:func:`udyog.auth.change_password`'s checks), uncommitted.

    Every login session of the user is revoked, this one included. Returns
    what the caller needs to open the new login for the same tenant (the
    API's ``POST /auth/password`` and the shell's password page both do):
    the session, the user, the tenant, and the user's tenants. Raises
    :class:`UdyogError` 422 (wrong current password: ``current_password``;
    weak new one: ``password``) or 429 (too many wrong tries).
    """
    kernel = current_app.extensions["udyog"]
    principal = current_user()
    if principal is None:
        raise UdyogError("log in first", status=401)
    session = db_session()
    auth.change_password(kernel, session, principal.user_id, current, new)
    user = session.get(User, principal.user_id)
    assert user is not None
    tenants = auth.tenants_of(kernel, user.id)
    target = _pick_tenant(tenants, str(principal.tenant_id))
    return session, user, target, tenants


def issue_tokens(session: Session, user: User, tenant: Tenant, tenants: list[Tenant], *, use_cookies: bool) -> Response:
    """Open a login session for ``user`` acting for ``tenant`` (committed) and answer with its tokens."""
    kernel = current_app.extensions["udyog"]
    access, refresh = login_tokens(session, user, tenant)
    data = {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": kernel.settings.access_token_minutes * 60,
        "tenant": _tenant_ref(tenant),
        "tenants": [_tenant_ref(t) for t in tenants],
    }
    response = jsonify(ok(TokensSchema().dump(data), message="logged in"))
    if use_cookies:
        set_access_cookies(response, access)
        set_refresh_cookies(response, refresh)
    return response


def _refresh_token_required(view: F) -> F:
    """The route takes a refresh token (not an access token)."""
    setattr(view, ACCESS_ATTRIBUTE, ("refresh", None))
    return view


def _uses_cookies() -> bool:
    return "Authorization" not in request.headers


def create_auth_blueprint() -> Blueprint:
    """A fresh blueprint with the authentication routes."""
    bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login, tokens, tenant switch")

    @bp.route("/login", methods=["POST"])
    @bp.arguments(LoginSchema)
    @bp.response(200, envelope(TokensSchema))
    @public
    def login(data: dict[str, Any]) -> Response:
        """Exchange e-mail and password for tokens (429 after too many failures)."""
        kernel = current_app.extensions["udyog"]
        user = auth.authenticate(kernel, data["email"], data["password"], request.remote_addr or "")
        tenants = auth.tenants_of(kernel, user.id)
        target = _pick_tenant(tenants, data["tenant"])
        with kernel.db.session() as session:
            return issue_tokens(session, user, target, tenants, use_cookies=data["use_cookies"])

    @bp.route("/refresh", methods=["POST"])
    @bp.response(200, envelope(TokensSchema))
    @_refresh_token_required
    def refresh() -> Response:
        """A new access token for a valid refresh token of a live login session."""
        claims = get_jwt()
        extra = {"tid": claims["tid"], "sid": claims["sid"]}
        access = create_access_token(identity=claims["sub"], additional_claims=extra)
        kernel = current_app.extensions["udyog"]
        data = {"access_token": access, "token_type": "Bearer", "expires_in": kernel.settings.access_token_minutes * 60}
        response = jsonify(ok(data, message="refreshed"))
        if _uses_cookies():
            set_access_cookies(response, access)
        return response

    @bp.route("/logout", methods=["POST"])
    @bp.response(200, envelope(TokensSchema))
    @authenticated
    def logout() -> Response:
        """Revoke this login session: its access and refresh tokens stop working at once."""
        session = db_session()
        auth.revoke_session(session, uuid.UUID(get_jwt()["sid"]))
        session.commit()
        response = jsonify(ok(None, message="logged out"))
        unset_jwt_cookies(response)
        return response

    @bp.route("/switch-tenant", methods=["POST"])
    @bp.arguments(SwitchSchema)
    @bp.response(200, envelope(TokensSchema))
    @authenticated
    def switch_tenant(data: dict[str, Any]) -> Response:
        """New tokens scoped to another tenant the user belongs to; this login ends."""
        kernel = current_app.extensions["udyog"]
        principal = current_user()
        assert principal is not None
        tenants = auth.tenants_of(kernel, principal.user_id)
        target = _pick_tenant(tenants, data["tenant"])
        session = db_session()
        user = session.get(User, principal.user_id)
        assert user is not None
        auth.revoke_session(session, uuid.UUID(get_jwt()["sid"]))
        return issue_tokens(session, user, target, tenants, use_cookies=_uses_cookies())

    @bp.route("/password", methods=["POST"])
    @bp.arguments(PasswordSchema)
    @bp.response(200, envelope(TokensSchema))
    @authenticated
    def change_password(data: dict[str, Any]) -> Response:
        """Change the password; every login of the user is revoked and new tokens issued."""
        session, user, target, tenants = change_own_password(data["current_password"], data["new_password"])
        return issue_tokens(session, user, target, tenants, use_cookies=_uses_cookies())

    @bp.route("/me")
    @bp.response(200, envelope(MeSchema))
    @authenticated
    def me() -> dict[str, Any]:
        """Who is logged in, in which tenant, with which roles and permissions."""
        kernel = current_app.extensions["udyog"]
        principal = current_user()
        tenant = current_tenant()
        assert principal is not None
        tenants = auth.tenants_of(kernel, principal.user_id)
        return ok(
            MeSchema().dump(
                {
                    "id": principal.user_id,
                    "email": principal.email,
                    "name": principal.name,
                    "tenant": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name},
                    "tenants": [_tenant_ref(t) for t in tenants],
                    "roles": sorted(principal.roles),
                    "permissions": sorted(principal.permissions),
                    "enabled_plugins": sorted(tenant.enabled_plugins),
                }
            )
        )

    return bp
