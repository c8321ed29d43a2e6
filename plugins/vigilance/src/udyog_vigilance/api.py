"""vigilance's REST API (``/api/v1/vigilance``): alerts (list, get, acknowledge, assign, resolve, counts) and rules."""

from __future__ import annotations

from typing import Any

from udyog_sdk import db_session
from udyog_sdk.api import Blueprint, Filter, envelope, ok
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import services
from .engine import forget_settings
from .models import Alert
from .schemas import (
    AcknowledgeSchema,
    AlertSchema,
    AssignSchema,
    CountsSchema,
    ResolveSchema,
    RulePatchSchema,
    RuleSchema,
)


class AlertResource(Resource):
    """Alerts: listed and read through the resource; they change only through the actions below."""

    model = Alert
    schema = AlertSchema
    permission_prefix = "vigilance.alert"
    operations = ("list", "get")
    importable = False
    filters = {
        "state": ("eq", "in"),
        "severity": ("eq", "in"),
        "rule_key": ("eq", "in"),
        "rule": Filter(Alert.rule_key, "eq"),
        "assignee_id": ("eq",),
        "assignee": Filter(Alert.assignee_id, "eq"),
        "since": Filter(Alert.last_seen, "gte"),
        "last_seen": ("gte", "lte"),
    }
    sort = ("last_seen", "first_seen", "severity")
    default_sort = "-last_seen"
    search = ("title", "subject")
    list_columns = ("title", "severity", "state", "rule_key", "occurrences", "last_seen")
    title_field = "title"


ALERTS = AlertResource()


def create_api() -> Blueprint:
    """A fresh blueprint of vigilance's routes."""
    bp = Blueprint("vigilance", __name__, url_prefix="/api/v1/vigilance", description="Alerts and vigilance rules")

    @bp.route("/alerts/counts", methods=["GET"])
    @bp.response(200, envelope(CountsSchema))
    @requires("vigilance.alert.read")
    def counts() -> dict[str, Any]:
        """Live alerts by severity

        `open` counts the alerts nobody acknowledged yet (the shell's badge);
        `live` the open and acknowledged ones.
        """
        by_severity = services.open_counts()
        return ok({**by_severity, "open": services.open_count(), "live": sum(by_severity.values())})

    ALERTS.register(bp)

    @bp.route("/alerts/<uuid:alert_id>/acknowledge", methods=["POST"])
    @bp.arguments(AcknowledgeSchema)
    @bp.response(200, envelope(AlertSchema))
    @requires("vigilance.alert.manage")
    def acknowledge(data: dict[str, Any], alert_id: Any) -> dict[str, Any]:
        """Acknowledge an open alert

        open → acknowledged. 409 for an alert acknowledged or resolved already,
        or a stale `version`.
        """
        alert = services.acknowledge(ALERTS.lookup(alert_id), data["version"])
        db_session().commit()
        return ok(ALERTS.dump(alert), message="acknowledged")

    @bp.route("/alerts/<uuid:alert_id>/assign", methods=["POST"])
    @bp.arguments(AssignSchema)
    @bp.response(200, envelope(AlertSchema))
    @requires("vigilance.alert.manage")
    def assign(data: dict[str, Any], alert_id: Any) -> dict[str, Any]:
        """Assign an alert to a member (null: nobody)

        422 naming `assignee_id` for someone who is no active member of the
        organisation; 409 for a resolved alert or a stale `version`.
        """
        alert = services.assign(ALERTS.lookup(alert_id), data["version"], data["assignee_id"])
        db_session().commit()
        return ok(ALERTS.dump(alert), message="assigned")

    @bp.route("/alerts/<uuid:alert_id>/resolve", methods=["POST"])
    @bp.arguments(ResolveSchema)
    @bp.response(200, envelope(AlertSchema))
    @requires("vigilance.alert.manage")
    def resolve(data: dict[str, Any], alert_id: Any) -> dict[str, Any]:
        """Resolve an alert with a note

        open or acknowledged → resolved. 409 for a resolved alert or a stale
        `version`. If the condition is found again, its rule opens a new alert.
        """
        alert = services.resolve(ALERTS.lookup(alert_id), data["version"], data.get("note") or "")
        db_session().commit()
        return ok(ALERTS.dump(alert), message="resolved")

    @bp.route("/rules", methods=["GET"])
    @bp.response(200, envelope(RuleSchema, many=True))
    @requires("vigilance.alert.read")
    def rules() -> dict[str, Any]:
        """The rules of the organisation's plugins, with their effective configuration"""
        return ok(RuleSchema(many=True).dump(services.list_rules()))

    @bp.route("/rules/<string:key>", methods=["GET"])
    @bp.response(200, envelope(RuleSchema))
    @requires("vigilance.alert.read")
    def rule(key: str) -> dict[str, Any]:
        """One rule with its effective configuration (404 for an unknown key)"""
        return ok(RuleSchema().dump(services.describe(key)))

    @bp.route("/rules/<string:key>", methods=["PATCH"])
    @bp.arguments(RulePatchSchema)
    @bp.response(200, envelope(RuleSchema))
    @requires("vigilance.rule.manage")
    def configure(data: dict[str, Any], key: str) -> dict[str, Any]:
        """Configure a rule: enable, severity, thresholds, roles

        Only the fields given change; `null` returns a field to the rule's
        default (in `thresholds`, a name with `null` drops that override).
        422 names the field: an unknown threshold (`thresholds.<name>`), a
        value that is no number, a bad `severity`, an unknown role (`roles`).
        """
        described = services.configure(key, data)
        db_session().commit()
        forget_settings()  # again: an evaluation may have cached the old settings before the commit
        return ok(RuleSchema().dump(described), message="saved")

    return bp
