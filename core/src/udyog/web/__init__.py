"""The server-rendered web UI shell: login, logout, tenant switcher, menu, landing page.

Pages are plain Flask views in the blueprint ``web``, protected by the same
declarations as the API (``@public``, ``@authenticated``, ``@requires``) and
authenticated by the same JWTs, carried in HttpOnly cookies; forms send the
CSRF double-submit value as the hidden field ``csrf_token``. Assets come from
the bootstrap-flask package and are served by the application. See
``docs/web-ui.md``.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from flask import Blueprint, Response, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_jwt_extended import create_access_token, get_jwt, set_access_cookies, set_refresh_cookies, unset_jwt_cookies
from flask_jwt_extended.exceptions import CSRFError

from udyog import auth
from udyog.auth_api import login_tokens
from udyog.models import User
from udyog.web.account import add_account_pages
from udyog.web.admin import add_admin_pages
from udyog.web.admin_setup import add_admin_setup_pages
from udyog.web.i18n import gettext as _
from udyog.web.notifications import add_notification_pages
from udyog.web.shell import install, is_page_request, render_error, safe_next, shell
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.security import ACCESS_ATTRIBUTE, F, authenticated, public

#: The cookie holding the login form's CSRF value (the form posts it back).
LOGIN_CSRF_COOKIE = "udyog_login_csrf"
EMAIL_MAX_LENGTH = 254
PASSWORD_MAX_LENGTH = 1024


def _refresh_only(view: F) -> F:
    """The route takes the refresh token (cookie), not the access token."""
    setattr(view, ACCESS_ATTRIBUTE, ("refresh", None))
    return view


def _login_page(next_url: str, *, error: str | None = None, email: str = "", status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    html = render_template("udyog/login.html", next_url=next_url, error=error, email=email, login_csrf=token)
    response = make_response(html, status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("JWT_COOKIE_SECURE")),
        path=url_for("web.login"),
    )
    return response


def _login_csrf_ok() -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = request.form.get("csrf_token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def create_web_blueprint() -> Blueprint:
    """A fresh blueprint with the shell's pages; registering it installs the shell into the app."""
    bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/core/static")

    @bp.record_once
    def _install(state: BlueprintSetupState) -> None:
        install(state.app)

    @bp.app_errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> ResponseReturnValue:
        # Every page of the shell, plugin pages included, answers with a page;
        # the API keeps JWT's answer (401 in the error envelope).
        if not is_page_request():
            return jsonify({"success": False, "message": f"authentication required: {exc}", "errors": {}}), 401
        return render_error(
            400,
            _(
                "This form could not be verified: its security token is missing or stale. Reload the page and try again."  # noqa: E501
            ),
        )

    @bp.route("/")
    @authenticated
    def home() -> str:
        """The landing page: the dashboard's widgets, the tenant, the user, their roles and the menu."""
        from udyog.web.dashboard import dashboard

        return render_template("udyog/home.html", cards=dashboard())

    @bp.route("/login", methods=["GET", "POST"])
    @public
    def login() -> Response:
        """The login form; on success the tokens are set as cookies and the browser goes to ``next``."""
        next_url = safe_next(request.values.get("next"))
        if request.method == "GET":
            return _login_page(next_url)
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        if not _login_csrf_ok():
            return _login_page(next_url, error="The form expired. Please log in again.", email=email, status=400)
        if not email or not password:
            return _login_page(next_url, error="Enter your e-mail address and password.", email=email, status=400)
        if len(email) > EMAIL_MAX_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
            return _login_page(next_url, error="Invalid e-mail or password.", email=email, status=401)
        kernel = current_app.extensions["udyog"]
        with kernel.db.session() as session:
            try:
                user = auth.authenticate(kernel, email, password, request.remote_addr or "")
            except auth.TooManyAttemptsError as exc:
                response = _login_page(
                    next_url,
                    error=f"Too many failed logins. Try again in {exc.retry_after} seconds.",
                    email=email,
                    status=429,
                )
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except UdyogError:
                return _login_page(next_url, error="Invalid e-mail or password.", email=email, status=401)
            tenants = auth.tenants_of(kernel, user.id)
            if not tenants:
                return _login_page(
                    next_url, error="This account belongs to no active organisation.", email=email, status=403
                )
            access, refresh = login_tokens(session, user, tenants[0])
        response = redirect(next_url)
        set_access_cookies(response, access)
        set_refresh_cookies(response, refresh)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=url_for("web.login"))
        return response

    @bp.route("/refresh")
    @_refresh_only
    def refresh() -> Response:
        """A new access cookie for a live login (the refresh cookie), then back to ``next``."""
        claims = get_jwt()
        access = create_access_token(
            identity=claims["sub"], additional_claims={"tid": claims["tid"], "sid": claims["sid"]}
        )
        response = redirect(safe_next(request.args.get("next")))
        set_access_cookies(response, access)
        return response

    @bp.route("/logout", methods=["POST"])
    @authenticated
    def logout() -> Response:
        """End this login: its tokens stop working at once, and the cookies are cleared."""
        session = db_session()
        auth.revoke_session(session, uuid.UUID(get_jwt()["sid"]))
        session.commit()
        response = redirect(url_for("web.login"))
        unset_jwt_cookies(response)
        return response

    @bp.route("/switch-tenant", methods=["POST"])
    @authenticated
    def switch_tenant() -> Response:
        """Act for another tenant of the user: a new login for it replaces this one."""
        kernel = current_app.extensions["udyog"]
        principal = current_user()
        assert principal is not None
        wanted = request.form.get("tenant", "")
        target = next((t for t in auth.tenants_of(kernel, principal.user_id) if wanted in (t.slug, str(t.id))), None)
        if target is None:
            raise UdyogError("You are not a member of that organisation.", status=403)
        if target.id == principal.tenant_id:
            return redirect(url_for("web.home"))
        session = db_session()
        user = session.get(User, principal.user_id)
        assert user is not None
        auth.revoke_session(session, uuid.UUID(get_jwt()["sid"]))
        access, refresh = login_tokens(session, user, target)
        response = redirect(url_for("web.home"))
        set_access_cookies(response, access)
        set_refresh_cookies(response, refresh)
        return response

    add_notification_pages(bp)

    @bp.route("/core/menu/badges")
    @authenticated
    def menu_badges() -> Response:
        """The counts of the menu entries with a badge the user sees, as JSON (polled by ``badges.js``)."""
        response = jsonify({"badges": shell().badges})
        response.headers["Cache-Control"] = "no-store"
        return response

    add_account_pages(bp)
    add_admin_pages(bp)
    add_admin_setup_pages(bp)

    return bp


__all__ = ["create_web_blueprint", "shell"]
