"""The number-series pages: the tenant's series, and a form per series with a live preview.

The form previews the next number and the compliance check (every limit the
plugins declare) without JavaScript (its *Preview* button posts the form and
the page comes back with the preview), and as the user types with
JavaScript (``static/series-preview.js`` asks ``GET
/api/v1/core/series/<key>/preview``). Saving runs :func:`udyog.series.set_series`,
the check of ``PUT /api/v1/core/series/<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma
from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for

from udyog.series import KEEP, TOKEN_HELP, get_series, list_series, preview, set_series
from udyog.series_api import SeriesUpdateSchema
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires
from udyog_sdk.series import RESETS

if TYPE_CHECKING:
    from udyog.kernel import TenantScope

READ = "core.series.read"
MANAGE = "core.series.manage"

#: How the reset periods read on the page.
RESET_LABELS = {
    "never": "Never",
    "yearly": "Every calendar year",
    "financial_year": "Every financial year (April)",
    "monthly": "Every month",
}

#: The inputs of the form, in the order of :class:`udyog.series_api.SeriesUpdateSchema`.
INPUTS = ("pattern", "reset", "gap_free", "max_length", "allowed_chars")


def _scope() -> TenantScope:
    return cast("TenantScope", current_scope())


def _crumbs(*tail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [("Administration", None), ("Number series", url_for("web.series_list")), *tail]


def read_series_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The submitted inputs (as typed, for showing again) and the values for :func:`set_series`.

    Empty *own limits* mean no limit of the series' own (``None``). The
    values are not checked here: the schema of the API and ``set_series`` do it.
    """
    typed = {
        "pattern": form.get("pattern", ""),
        "reset": form.get("reset", ""),
        "gap_free": form.get("gap_free", "") not in ("", "false", "off"),
        "max_length": form.get("max_length", "").strip(),
        "allowed_chars": form.get("allowed_chars", ""),
    }
    max_length: Any = typed["max_length"]
    if max_length == "":
        max_length = None
    elif max_length.isdigit() and len(max_length) < 10:
        max_length = int(max_length)
    values = {
        "pattern": typed["pattern"],
        "reset": typed["reset"],
        "gap_free": typed["gap_free"],
        "max_length": max_length,
        "allowed_chars": typed["allowed_chars"] or None,
    }
    return typed, values


def _preview_of(key: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The preview of proposed values, as the API's preview route answers it (problems by field included)."""
    reset = values["reset"] if values["reset"] in RESETS else None
    result = preview(
        _scope(),
        key,
        pattern=values["pattern"],
        reset=reset,
        max_length=values["max_length"],
        allowed_chars=values["allowed_chars"],
    )
    if reset is None:
        result["compliance"]["errors"].setdefault("reset", []).append(f"must be one of {', '.join(RESETS)}")
        result["compliance"]["ok"] = False
    return result


def add_series_pages(bp: Blueprint) -> None:
    """Add the number-series pages to the shell's blueprint."""

    @bp.route("/core/series")
    @requires(READ)
    def series_list() -> str:
        """The tenant's series: key, plugin, pattern, reset period, next number, and whether it complies."""
        return render_template(
            "udyog/series_list.html",
            series=list_series(_scope()),
            resets=RESET_LABELS,
            breadcrumbs=_crumbs(),
        )

    def page(
        key: str,
        *,
        typed: Mapping[str, Any] | None = None,
        shown_preview: Mapping[str, Any] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        conflict: bool = False,
        version: int | None = None,
        status: int = 200,
    ) -> Response:
        series = get_series(_scope(), key)
        form = {
            "pattern": series["pattern"],
            "reset": series["reset"],
            "gap_free": series["gap_free"],
            "max_length": "" if series["max_length"] is None else str(series["max_length"]),
            "allowed_chars": series["allowed_chars"] or "",
        }
        if typed is not None:
            form.update(typed)
        if shown_preview is None:
            shown_preview = {
                "number": series["next_number"],
                "compliance": series["compliance"],
            }
        principal = current_user()
        html = render_template(
            "udyog/series_form.html",
            series=series,
            form=form,
            preview=shown_preview,
            errors=errors or {},
            conflict=conflict,
            version=series["version"] if version is None else version,
            resets=RESET_LABELS,
            tokens=TOKEN_HELP,
            can_manage=principal is not None and principal.can(MANAGE),
            breadcrumbs=_crumbs((series["title"], None)),
        )
        return make_response(html, status)

    @bp.route("/core/series/<string:key>")
    @requires(READ)
    def series_form(key: str) -> Response:
        """One series: its settings, the limits in force, the next number and the compliance check."""
        return page(key)

    @bp.route("/core/series/<string:key>/preview", methods=["POST"])
    @requires(READ)
    def series_preview(key: str) -> Response:
        """The form again, holding what was typed, with the next number and the problems it would have."""
        typed, values = read_series_form(request.form)
        return page(key, typed=typed, shown_preview=_preview_of(key, values), version=_sent_version())

    @bp.route("/core/series/<string:key>", methods=["POST"])
    @requires(MANAGE)
    def save_series(key: str) -> Response:
        """Save the settings, checked as the API checks them; problems are shown on the form (422)."""
        typed, values = read_series_form(request.form)
        sent = request.form.get("version", "")
        body = {**values, "version": int(sent) if sent.isdigit() and len(sent) < 10 else sent}
        try:
            data = SeriesUpdateSchema().load(body)
        except ma.ValidationError as exc:
            errors = {k: [str(m) for m in v] for k, v in cast("dict[str, list[Any]]", exc.messages).items()}
            return page(
                key,
                typed=typed,
                shown_preview=_preview_of(key, values),
                errors=errors,
                version=_sent_version(),
                status=422,
            )
        version = data.pop("version")
        changes = {name: data.get(name, KEEP) for name in INPUTS}
        session = db_session()
        try:
            set_series(_scope(), key, version=version, **changes)
        except UdyogError as exc:
            if exc.status not in (409, 422):
                raise
            session.rollback()
            return page(
                key,
                typed=typed,
                shown_preview=_preview_of(key, values),
                errors=exc.errors,
                conflict=exc.status == 409,
                version=version,
                status=exc.status,
            )
        session.commit()
        flash(f"Number series {key} saved.", "success")
        return redirect(url_for("web.series_form", key=key), 303)  # type: ignore[return-value]


def _sent_version() -> int | None:
    sent = request.form.get("version", "")
    return int(sent) if sent.isdigit() and len(sent) < 10 else None


__all__ = ["add_series_pages", "read_series_form"]
