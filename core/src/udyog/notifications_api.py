"""REST API of notifications: the caller's inbox, and the tenant's notification templates.

Routes stay thin; the work is in :mod:`udyog.notifications`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma

from udyog.models import Notification
from udyog.notifications import (
    BODY_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    inbox_query,
    list_templates,
    mark_all_read,
    mark_read,
    reset_template,
    set_template,
    unread_count,
)
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.api import Blueprint, Filter, Listing, envelope, ok
from udyog_sdk.notifications import CHANNELS
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import Principal, authenticated, requires

if TYPE_CHECKING:
    from udyog.kernel import TenantScope


class NotificationSchema(ma.Schema):
    """An in-app notification of the caller."""

    id = ma.fields.UUID()
    event = ma.fields.String(metadata={"description": "the event it tells of, e.g. sales.order.confirmed"})
    title = ma.fields.String()
    body = ma.fields.String()
    link = ma.fields.String(metadata={"description": "a path of this site to open, or empty"})
    created_at = ma.fields.AwareDateTime()
    read_at = ma.fields.AwareDateTime(allow_none=True)


#: The caller's inbox, newest first. ``unread`` is declared here for the schema and
#: applied by the route (a null test, not a comparison with the column).
INBOX = Listing(
    Notification,
    filters={
        "event": ("eq", "in"),
        "unread": Filter(
            Notification.read_at,
            field=ma.fields.Boolean(metadata={"description": "true: only unread; false: only read"}),
        ),
    },
    sort=("created_at",),
    default_sort="-created_at",
    name="Inbox",
)


class UnreadSchema(ma.Schema):
    """How many of the caller's notifications are unread."""

    unread = ma.fields.Integer()


class MarkedSchema(ma.Schema):
    """How many notifications were marked read."""

    marked = ma.fields.Integer()


class TemplateSchema(ma.Schema):
    """A notification template as the tenant uses it."""

    event = ma.fields.String()
    channel = ma.fields.String(metadata={"description": f"one of {', '.join(CHANNELS)}"})
    language = ma.fields.String(metadata={"description": "a language tag such as en or hi"})
    plugin = ma.fields.String(metadata={"description": "the plugin that declares the event"})
    permission = ma.fields.String(allow_none=True, metadata={"description": "who is notified by default"})
    subject = ma.fields.String(metadata={"description": "Jinja2: the in-app title or the e-mail subject"})
    body = ma.fields.String(metadata={"description": "Jinja2: the message"})
    enabled = ma.fields.Boolean(metadata={"description": "false: the channel is switched off for this event"})
    overridden = ma.fields.Boolean(metadata={"description": "the tenant saved its own version"})
    default_subject = ma.fields.String(allow_none=True, metadata={"description": "the plugin's text, if any"})
    default_body = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(metadata={"description": "send it back with a change (0: never saved)"})


class TemplateArgsSchema(ma.Schema):
    """Narrow the template list to one event."""

    class Meta:
        unknown = ma.RAISE

    event = ma.fields.String(validate=ma.validate.Length(min=1, max=120))


class TemplateUpdateSchema(ma.Schema):
    """The tenant's own version of a template; fields left out keep their value."""

    class Meta:
        unknown = ma.RAISE

    version = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "the version you read (0: not saved yet); a stale one answers 409"},
    )
    subject = ma.fields.String(validate=ma.validate.Length(max=SUBJECT_MAX_LENGTH))
    body = ma.fields.String(validate=ma.validate.Length(max=BODY_MAX_LENGTH))
    enabled = ma.fields.Boolean()


def _scope() -> TenantScope:
    # The core binds its own TenantScope for every request that names a tenant.
    return cast("TenantScope", current_scope())


def _me() -> Principal:
    user = current_user()
    if user is None:  # every route here is authenticated; a scope without a user is a bug
        raise UdyogError("this route needs a logged-in user", status=401)
    return user


def create_notifications_blueprint() -> Blueprint:
    """A fresh blueprint with the notification routes (owned by the core, never gated)."""
    bp = Blueprint(
        "core_notifications", __name__, url_prefix="/api/v1/core", description="Kernel: notifications and templates"
    )

    @bp.route("/notifications")
    @bp.arguments(INBOX.schema, location="query")
    @bp.response(200, envelope(NotificationSchema, many=True, paginated=True))
    @authenticated
    def inbox(args: dict[str, Any]) -> dict[str, Any]:
        """Your in-app notifications, newest first, a page at a time (nobody sees anyone else's)."""
        query = inbox_query(_me().user_id)
        if "unread" in args:
            unread = args.pop("unread")
            query = query.where(Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None))
        rows, meta = INBOX.page(query, args)
        return ok(NotificationSchema(many=True).dump(rows), meta=meta)

    @bp.route("/notifications/unread-count")
    @bp.response(200, envelope(UnreadSchema))
    @authenticated
    def unread() -> dict[str, Any]:
        """How many of your notifications are unread (the shell's navbar badge)."""
        return ok({"unread": unread_count(db_session(), _me().user_id)})

    @bp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
    @bp.response(200, envelope(NotificationSchema))
    @authenticated
    def read_one(notification_id: uuid.UUID) -> dict[str, Any]:
        """Mark one of your notifications read (404 for anyone else's)."""
        session = db_session()
        row = mark_read(session, _me().user_id, notification_id)
        session.commit()
        return ok(NotificationSchema().dump(row), message="marked read")

    @bp.route("/notifications/read-all", methods=["POST"])
    @bp.response(200, envelope(MarkedSchema))
    @authenticated
    def read_all() -> dict[str, Any]:
        """Mark all your notifications read."""
        session = db_session()
        marked = mark_all_read(session, _me().user_id)
        session.commit()
        return ok({"marked": marked}, message="marked read")

    @bp.route("/notification-templates")
    @bp.arguments(TemplateArgsSchema, location="query")
    @bp.response(200, envelope(TemplateSchema, many=True))
    @requires("core.notification_template.read")
    def templates(args: dict[str, Any]) -> dict[str, Any]:
        """The templates in force: each declared (event, channel, language), with the tenant's own versions."""
        return ok(list_templates(_scope(), args.get("event")))

    @bp.route("/notification-templates/<event>/<channel>/<language>", methods=["PUT"])
    @bp.arguments(TemplateUpdateSchema)
    @bp.response(200, envelope(TemplateSchema))
    @requires("core.notification_template.manage")
    def put_template(data: dict[str, Any], event: str, channel: str, language: str) -> dict[str, Any]:
        """Save the tenant's own text of a template, or switch it off; a new language adds a translation.

        ``version`` 0 creates the tenant's version; a stale one answers 409.
        Text that is not valid Jinja2 answers 422 naming the field.
        """
        result = set_template(_scope(), event, channel, language, **data)
        db_session().commit()
        return ok(result, message="template saved")

    @bp.route("/notification-templates/<event>/<channel>/<language>", methods=["DELETE"])
    @bp.response(200, envelope(TemplateSchema))
    @requires("core.notification_template.manage")
    def delete_template(event: str, channel: str, language: str) -> dict[str, Any]:
        """Drop the tenant's own version: the plugin's template applies again."""
        result = reset_template(_scope(), event, channel, language)
        db_session().commit()
        return ok(result, message="template reset")

    return bp


__all__ = ["create_notifications_blueprint"]
