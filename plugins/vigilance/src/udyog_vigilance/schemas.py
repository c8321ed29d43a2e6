"""Marshmallow schemas of vigilance's API."""

from __future__ import annotations

import marshmallow as ma

from udyog_sdk.api import version_field

from .models import STATES
from .rules import SEVERITIES
from .services import MAX_NOTE


class AlertSchema(ma.Schema):
    """An alert as the API shows it (alerts are raised by rules, never created through the API)."""

    id = ma.fields.UUID(dump_only=True)
    rule_key = ma.fields.String(dump_only=True, metadata={"description": "the rule that raised it"})
    subject = ma.fields.String(dump_only=True, metadata={"description": "the de-duplication key within the rule"})
    title = ma.fields.String(dump_only=True)
    detail = ma.fields.String(dump_only=True)
    severity = ma.fields.String(dump_only=True, metadata={"enum": list(SEVERITIES)})
    state = ma.fields.String(dump_only=True, metadata={"enum": list(STATES)})
    link = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "the record's page"})
    data = ma.fields.Dict(dump_only=True, allow_none=True)
    first_seen = ma.fields.DateTime(dump_only=True)
    last_seen = ma.fields.DateTime(dump_only=True)
    occurrences = ma.fields.Integer(dump_only=True)
    event_id = ma.fields.UUID(dump_only=True, allow_none=True)
    assignee_id = ma.fields.UUID(dump_only=True, allow_none=True)
    acknowledged_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    acknowledged_by = ma.fields.UUID(dump_only=True, allow_none=True)
    resolved_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    resolved_by = ma.fields.UUID(dump_only=True, allow_none=True)
    resolution_note = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class AcknowledgeSchema(ma.Schema):
    """Body of acknowledge: the version read."""

    version = version_field()


class ResolveSchema(ma.Schema):
    """Body of resolve: the version read and a note."""

    version = version_field()
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=MAX_NOTE))


class AssignSchema(ma.Schema):
    """Body of assign: the version read and the member (null: nobody)."""

    version = version_field()
    assignee_id = ma.fields.UUID(required=True, allow_none=True)


class CountsSchema(ma.Schema):
    """Live alerts by severity, and the open ones (the shell's badge)."""

    info = ma.fields.Integer()
    warning = ma.fields.Integer()
    critical = ma.fields.Integer()
    open = ma.fields.Integer(metadata={"description": "open alerts (not yet acknowledged)"})
    live = ma.fields.Integer(metadata={"description": "open and acknowledged alerts"})


class RuleDefaultsSchema(ma.Schema):
    """A rule's defaults, as its plugin declares them."""

    enabled = ma.fields.Boolean()
    severity = ma.fields.String()
    thresholds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
    roles = ma.fields.List(ma.fields.String())


class FailureSchema(ma.Schema):
    """The last failed evaluation of a rule."""

    error = ma.fields.String()
    at = ma.fields.DateTime()
    event_name = ma.fields.String(allow_none=True)


class RuleSchema(ma.Schema):
    """A rule with the tenant's effective configuration."""

    key = ma.fields.String()
    plugin = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    cron = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean()
    severity = ma.fields.String(metadata={"enum": list(SEVERITIES)})
    thresholds = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
    roles = ma.fields.List(ma.fields.String())
    configured = ma.fields.Boolean(metadata={"description": "whether the tenant changed anything"})
    defaults = ma.fields.Nested(RuleDefaultsSchema)
    last_failure = ma.fields.Nested(FailureSchema, allow_none=True)


class RulePatchSchema(ma.Schema):
    """Body of PATCH of a rule: only the fields given change; null returns a field to the rule's default."""

    enabled = ma.fields.Boolean(allow_none=True)
    severity = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(SEVERITIES))
    thresholds = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=60)),
        values=ma.fields.Raw(allow_none=True),
        allow_none=True,
        metadata={"description": "threshold name → number (or a string holding one); null drops the override"},
    )
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=80)),
        allow_none=True,
        validate=ma.validate.Length(max=50),
        metadata={"description": "role names told of a new alert; null: the rule's default roles"},
    )
