"""The settings pages: the plugins with settings, and a form per plugin generated from its schema.

The form shows every setting with its current value (the tenant's, else the
default), saves only what the user changed (like ``PATCH``), checks the
version read (a conflict is explained), and shows validation errors inline.
The work is in :mod:`udyog.plugin_settings`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for

from udyog import plugin_settings as ps
from udyog.registry import CORE_NAME
from udyog.web.i18n import gettext as _
from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk._pages import _kind, _max_length, _one_of, as_text, label_of, read_form
from udyog_sdk.resources import FormField
from udyog_sdk.security import requires

#: Strings longer than this get a textarea.
TEXTAREA_FROM = 500


def _kernel() -> Any:
    return current_app.extensions["udyog"]


def form_fields(declared: ps.Declared, values: dict[str, Any], defaults: dict[str, Any]) -> list[FormField]:
    """The inputs of a plugin's settings form, holding the current values (JSON form)."""
    out: list[FormField] = []
    for name, fld in declared.schema.fields.items():
        kind = _kind(fld)
        if not kind:
            continue  # nested, lists, dicts: through the API only
        key = fld.data_key or name
        value = values.get(key)
        default = defaults.get(key)
        shown_default = (_("yes") if default else _("no")) if kind == "checkbox" else as_text(default) or _("empty")
        help_text = str(fld.metadata.get("description") or "")
        item = FormField(
            name=key,
            label=label_of(name, fld),
            kind=kind,
            required=not fld.allow_none and kind != "checkbox",
            value=bool(value) if kind == "checkbox" else as_text(value),
            help=f"{help_text} {_('Default: {value}.').format(value=shown_default)}".strip(),
            maxlength=_max_length(fld),
            nullable=bool(fld.allow_none),
        )
        choices = _one_of(fld)
        if choices is not None:
            item.kind = "select"
            item.choices = [(c, c) for c in choices]
            if item.nullable:
                item.choices.insert(0, ("", "—"))
        elif (kind == "text" and (item.maxlength or 0) > TEXTAREA_FROM) or fld.metadata.get("widget") == "textarea":
            item.kind = "textarea"
        out.append(item)
    return out


def _others(declared: ps.Declared) -> list[tuple[str, str]]:
    """(label, name) of settings that have no generic input."""
    return [
        (label_of(name, fld), fld.data_key or name) for name, fld in declared.schema.fields.items() if not _kind(fld)
    ]


def create_settings_pages() -> Blueprint:
    """A fresh blueprint with the settings pages (part of the shell)."""
    bp = Blueprint("web_settings", __name__)

    @bp.route("/core/settings")
    @requires(ps.READ_PERMISSION)
    def settings_index() -> str:
        """The core and every enabled plugin with settings the user may see."""
        kernel = _kernel()
        user = current_user()
        sections = [
            d
            for d in kernel.plugin_settings.visible(current_tenant().enabled_plugins)
            if kernel.plugin_settings.may_read(d, user)
        ]
        return render_template("udyog/settings_index.html", sections=sections, core=CORE_NAME)

    def page(
        plugin: str,
        *,
        errors: dict[str, list[str]] | None = None,
        status: int = 200,
        submitted: dict[str, Any] | None = None,
        conflict: bool = False,
        version: int | None = None,
    ) -> Response:
        kernel = _kernel()
        ps.accessible(kernel, plugin)
        declared, loaded = ps.read(kernel, db_session(), current_tenant().id, plugin)
        data = ps.as_data(declared, loaded, can_change=kernel.plugin_settings.may_change(declared, current_user()))
        fields = form_fields(declared, data["values"], data["defaults"])
        errors = errors or {}
        for item in fields:
            if submitted is not None and item.name in submitted:
                item.value = submitted[item.name]
            item.errors = list(errors.get(item.name, []))
        placed = {f.name for f in fields}
        general = {k: v for k, v in errors.items() if k not in placed}
        html = render_template(
            "udyog/settings_form.html",
            declared=declared,
            data=data,
            fields=fields,
            others=_others(declared),
            general=general,
            conflict=conflict,
            version=loaded.version if version is None else version,
            saved=request.args.get("saved") == "1",
            reset=request.args.get("reset") == "1",
            humanise=lambda name: name.replace("_", " ").capitalize(),
        )
        return make_response(html, status)

    @bp.route("/core/settings/<string:plugin>", methods=["GET"])
    @requires(ps.READ_PERMISSION)
    def settings_form(plugin: str) -> Response:
        """A plugin's settings form."""
        _check_name(plugin)
        return page(plugin)

    @bp.route("/core/settings/<string:plugin>", methods=["POST"])
    @requires(ps.MANAGE_PERMISSION)
    def save_settings(plugin: str) -> Response:
        """Save what changed; errors and version conflicts are shown on the form."""
        _check_name(plugin)
        kernel = _kernel()
        declared = ps.accessible(kernel, plugin, change=True)
        session = db_session()
        tenant = current_tenant()
        _, loaded = ps.read(kernel, session, tenant.id, plugin)
        current = ps.as_data(declared, loaded, can_change=True)
        fields = form_fields(declared, current["values"], current["defaults"])
        shown = {f.name: f.value for f in fields}
        raw = read_form(fields, "edit", request.form)
        changed = {name: value for name, value in raw.items() if not _same(value, shown.get(name))}
        submitted = {f.name: f.value for f in fields}
        sent = request.form.get("version", "")
        if not sent.isdigit() or len(sent) > 10:
            errors = {"version": [_("the form lacks the version you read: reload it")]}
            return page(plugin, errors=errors, status=422, submitted=submitted)
        try:
            ps.save(kernel, session, tenant.id, plugin, changed, int(sent), partial=True)
        except UdyogError as exc:
            if exc.status not in (409, 422):
                raise
            session.rollback()
            errors = {key.removeprefix("values."): list(messages) for key, messages in exc.errors.items()}
            conflict = exc.status == 409 and "version" in errors
            return page(
                plugin, errors=errors, status=exc.status, submitted=submitted, conflict=conflict, version=int(sent)
            )
        session.commit()
        return redirect(url_for("web_settings.settings_form", plugin=plugin, saved=1), 303)  # type: ignore[return-value]

    @bp.route("/core/settings/<string:plugin>/reset", methods=["POST"])
    @requires(ps.MANAGE_PERMISSION)
    def reset_settings(plugin: str) -> Response:
        """Forget the tenant's values: every setting goes back to its default."""
        _check_name(plugin)
        ps.accessible(_kernel(), plugin, change=True)
        session = db_session()
        ps.purge(session, current_tenant().id, [plugin])
        session.commit()
        return redirect(url_for("web_settings.settings_form", plugin=plugin, reset=1), 303)  # type: ignore[return-value]

    return bp


def _same(sent: Any, shown: Any) -> bool:
    """Whether a submitted input equals what the form showed (an empty input is "no value")."""
    return (None if sent == "" else sent) == (None if shown == "" else shown)


def _check_name(plugin: str) -> None:
    from udyog.settings_api import PLUGIN_RE

    if not PLUGIN_RE.match(plugin):
        raise UdyogError(ps.NO_SETTINGS, status=404)


__all__ = ["create_settings_pages", "form_fields"]
