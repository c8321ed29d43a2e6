"""vigilance's web pages: the alerts (filters, acknowledge/assign/resolve), one alert, and the rules' settings.

Every form posts ``csrf_token`` (the shell checks it before the view runs) and
works without JavaScript. Actions answer with a redirect (303) and a flashed
outcome; a refusal flashes its reason.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from udyog_sdk import UdyogError, current_tenant, current_user, db_session
from udyog_sdk.api import flatten_messages
from udyog_sdk.formatting import format_date
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires
from udyog_sdk.ui import ItemList, ListItem

from . import services
from .api import ALERTS
from .engine import forget_settings
from .models import STATES, Alert
from .rules import SEVERITIES
from .schemas import RulePatchSchema

#: Alerts per page of the list.
PAGE_SIZE = 50


def members() -> list[tuple[uuid.UUID, str]]:
    """The tenant's active members (id, name), for the assign form."""
    membership = services.core_model("core_membership")
    user = services.core_model("core_user")
    rows = db_session().execute(
        select(user.id, user.name, user.email)
        .join(membership, membership.user_id == user.id)
        .where(membership.is_active.is_(True), user.is_active.is_(True))
        .order_by(user.name, user.email)
    )
    return [(r.id, r.name or r.email) for r in rows]


def when(value: dt.datetime | None) -> str:
    """A moment in the tenant's time zone: ``24 Nov 2026 10:05``."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(current_tenant().timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Asia/Kolkata")
    local = value.astimezone(zone)
    return f"{format_date(local)} {local:%H:%M}"


def _can(permission: str) -> bool:
    me = current_user()
    return me is not None and me.can(permission)


def _version() -> int | None:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        return None


def create_pages() -> Blueprint:
    """The blueprint ``vigilance_pages`` at ``/vigilance``."""
    bp = Blueprint("vigilance_pages", __name__, url_prefix="/vigilance", template_folder="templates")
    bp.add_app_template_filter(when, "vigilance_when")

    @bp.route("/alerts")
    @requires("vigilance.alert.read")
    def alerts_page() -> str:
        """The alerts, newest first, filtered by state (default: the live ones), severity and rule."""
        state = request.args.get("state", "live")
        severity = request.args.get("severity", "")
        rule = request.args.get("rule", "")
        query = select(Alert)
        if state == "live":
            query = query.where(Alert.state != "resolved")
        elif state in STATES:
            query = query.where(Alert.state == state)
        if severity in SEVERITIES:
            query = query.where(Alert.severity == severity)
        if rule:
            query = query.where(Alert.rule_key == rule[:120])
        rows = db_session().scalars(query.order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(PAGE_SIZE)).all()
        rules = services.tenant_rules().rules
        names = dict(members())
        return render_template(
            "vigilance/alerts.html",
            alerts=rows,
            state=state,
            severity=severity,
            rule=rule,
            states=STATES,
            severities=SEVERITIES,
            rules={k: str(v.title) for k, v in rules.items()},
            names=names,
            can_manage=_can("vigilance.alert.manage"),
            counts=services.open_counts(),
        )

    @bp.route("/alerts/<uuid:alert_id>")
    @requires("vigilance.alert.read")
    def alert_page(alert_id: uuid.UUID) -> str:
        """One alert: what, since when, how often, its record, its history of handling; the actions."""
        alert = ALERTS.lookup(alert_id)
        spec = services.tenant_rules().rules.get(alert.rule_key)
        people = members()
        return render_template(
            "vigilance/alert.html",
            alert=alert,
            rule_title=str(spec.title) if spec is not None else alert.rule_key,
            members=people,
            names=dict(people),
            can_manage=_can("vigilance.alert.manage"),
        )

    def act(alert_id: uuid.UUID, action: str) -> Response:
        alert = ALERTS.lookup(alert_id)
        try:
            if action == "acknowledge":
                services.acknowledge(alert, _version())
                message = _("Alert acknowledged.")
            elif action == "resolve":
                services.resolve(alert, _version(), request.form.get("note", "")[: services.MAX_NOTE])
                message = _("Alert resolved.")
            else:
                raw = request.form.get("assignee_id", "").strip()
                try:
                    assignee = uuid.UUID(raw) if raw else None
                except ValueError:
                    raise UdyogError(
                        "no such member", status=422, errors={"assignee_id": ["choose a member"]}
                    ) from None
                services.assign(alert, _version(), assignee)
                message = _("Alert assigned.")
        except UdyogError as exc:
            db_session().rollback()
            details = "; ".join(m for ms in dict(exc.errors).values() for m in ms) or exc.message
            flash(details, "danger")
        else:
            db_session().commit()
            flash(message, "success")
        back = request.form.get("next", "")
        if back != "list":
            return redirect(url_for(".alert_page", alert_id=alert_id), 303)  # type: ignore[return-value]
        return redirect(url_for(".alerts_page"), 303)  # type: ignore[return-value]

    @bp.route("/alerts/<uuid:alert_id>/acknowledge", methods=["POST"])
    @requires("vigilance.alert.manage")
    def acknowledge_page(alert_id: uuid.UUID) -> Response:
        """Acknowledge (from the list or the alert's page)."""
        return act(alert_id, "acknowledge")

    @bp.route("/alerts/<uuid:alert_id>/assign", methods=["POST"])
    @requires("vigilance.alert.manage")
    def assign_page(alert_id: uuid.UUID) -> Response:
        """Assign to a member (empty: nobody)."""
        return act(alert_id, "assign")

    @bp.route("/alerts/<uuid:alert_id>/resolve", methods=["POST"])
    @requires("vigilance.alert.manage")
    def resolve_page(alert_id: uuid.UUID) -> Response:
        """Resolve with a note."""
        return act(alert_id, "resolve")

    @bp.route("/rules")
    @requires("vigilance.alert.read")
    def rules_page() -> str:
        """The rules with their effective configuration; an edit form for each to those who may configure."""
        return render_template(
            "vigilance/rules.html",
            rules=services.list_rules(),
            severities=SEVERITIES,
            can_configure=_can("vigilance.rule.manage"),
            errors={},
            failed=None,
        )

    @bp.route("/rules/<string:key>", methods=["POST"])
    @requires("vigilance.rule.manage")
    def rule_save(key: str) -> Any:
        """Save one rule's form: enabled, severity, thresholds, roles (comma-separated); 422 names the field."""
        spec = services.get_rule(key)
        form = request.form
        data: dict[str, Any] = {"enabled": form.get("enabled") == "on"}
        data["severity"] = form.get("severity") or None
        data["thresholds"] = {name: (form.get(f"threshold_{name}", "").strip() or None) for name in spec.thresholds}
        roles = [r.strip() for r in form.get("roles", "").split(",") if r.strip()]
        data["roles"] = roles if form.get("roles", "").strip() else None
        errors: dict[str, list[str]] = {}
        try:
            loaded = RulePatchSchema().load(data)
            services.configure(key, loaded)
        except ma.ValidationError as exc:
            errors = flatten_messages(exc.messages)
        except UdyogError as exc:
            errors = dict(exc.errors) or {"_schema": [exc.message]}
        if errors:
            db_session().rollback()
            return (
                render_template(
                    "vigilance/rules.html",
                    rules=services.list_rules(),
                    severities=SEVERITIES,
                    can_configure=True,
                    errors=errors,
                    failed=key,
                ),
                422,
            )
        db_session().commit()
        forget_settings()  # again: an evaluation may have cached the old settings before the commit
        flash(_("Rule %(title)s saved.", title=str(spec.title)), "success")
        return redirect(url_for(".rules_page") + f"#rule-{key.replace('.', '-')}", 303)

    return bp


def open_alerts_widget() -> ItemList:
    """The dashboard's card: live alerts by severity (most urgent first), linked to the filtered list."""
    counts = services.open_counts()
    labels = {"critical": _("Critical"), "warning": _("Warning"), "info": _("Info")}
    items = [
        ListItem(labels[s], url=f"/vigilance/alerts?state=live&severity={s}", detail=str(counts[s]))
        for s in reversed(SEVERITIES)
        if counts.get(s)
    ]
    return ItemList(items, empty=_("No open alerts."))
