"""The user's own account pages: changing the password.

``/core/account/password`` is open to every logged-in member. It runs the
same code as ``POST /api/v1/auth/password``
(:func:`udyog.auth_api.change_own_password`): the current password is
checked (wrong tries count like failed logins), the new one must pass
:func:`udyog.auth.validate_password`, and every login session of the user is
revoked. This browser then gets a fresh login for the same organisation, so
only the other sessions end. See ``docs/web-ui.md``.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from flask_jwt_extended import set_access_cookies, set_refresh_cookies

from udyog import auth
from udyog.auth_api import change_own_password, login_tokens
from udyog_sdk import UdyogError, db_session
from udyog_sdk.security import authenticated

#: Longer inputs are refused without hashing them (the API's limit).
PASSWORD_MAX_LENGTH = 1024
#: The form's inputs.
FIELDS = ("current_password", "new_password", "new_password_repeat")


def _form(errors: dict[str, list[str]] | None = None, status: int = 200) -> Response:
    html = render_template(
        "udyog/account_password.html",
        errors=errors or {},
        min_length=auth.PASSWORD_MIN_LENGTH,
        breadcrumbs=[("Account", None), ("Change password", None)],
    )
    return make_response(html, status)


def _check_form(values: dict[str, str]) -> dict[str, list[str]]:
    """Errors the form itself shows before asking the core (missing, too long, not repeated)."""
    errors: dict[str, list[str]] = {}
    for name in FIELDS:
        if not values[name]:
            errors[name] = ["Enter it."]
        elif len(values[name]) > PASSWORD_MAX_LENGTH:
            errors[name] = [f"At most {PASSWORD_MAX_LENGTH} characters."]
    typed = "new_password" not in errors and "new_password_repeat" not in errors
    if typed and values["new_password"] != values["new_password_repeat"]:
        errors["new_password_repeat"] = ["The two new passwords differ."]
    return errors


def add_account_pages(bp: Blueprint) -> None:
    """Add the account pages to the shell's blueprint."""

    @bp.route("/core/account/password", methods=["GET", "POST"])
    @authenticated
    def account_password() -> Response:
        """Change your password: current, new, new again; other logins end, this one goes on."""
        if request.method == "GET":
            return _form()
        values = {name: request.form.get(name, "") for name in FIELDS}
        errors = _check_form(values)
        if errors:
            return _form(errors, 422)
        try:
            session, user, tenant, _ = change_own_password(values["current_password"], values["new_password"])
        except auth.TooManyAttemptsError as exc:
            db_session().rollback()
            message = f"Too many wrong passwords. Try again in {exc.retry_after} seconds."
            response = _form({"current_password": [message]}, 429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except UdyogError as exc:
            if exc.status != 422:
                raise
            db_session().rollback()
            found = {"new_password" if k == "password" else k: list(v) for k, v in exc.errors.items()}
            if "current_password" in found:
                found["current_password"] = ["This is not your current password."]
            return _form(found or {"new_password": [exc.message]}, 422)
        access, refresh = login_tokens(session, user, tenant)  # commits the change with the new login
        flash("Your password was changed. Your other sessions were logged out.", "success")
        response = redirect(url_for("web.home"), 303)
        set_access_cookies(response, access)
        set_refresh_cookies(response, refresh)
        return response


__all__ = ["add_account_pages"]
