"""The shell's notification pages: the inbox, marking one or all read.

The navbar's unread badge comes from :attr:`udyog.web.shell.Shell.unread_notifications`.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, redirect, render_template, request, url_for

from udyog.models import Notification
from udyog.notifications import inbox_query, mark_all_read, mark_read
from udyog.web.shell import safe_next
from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.api import paginate
from udyog_sdk.security import authenticated

#: Notifications per page of the inbox.
PAGE_SIZE = 30


def _me() -> uuid.UUID:
    user = current_user()
    if user is None:
        raise UdyogError("log in first", status=401)
    return user.user_id


def add_notification_pages(bp: Blueprint) -> None:
    """Add the inbox pages to the shell's blueprint."""

    @bp.route("/core/notifications")
    @authenticated
    def notifications() -> str:
        """Your notifications, newest first, a page at a time (``?cursor=``)."""
        cursor = request.args.get("cursor") or None
        rows, meta = paginate(
            inbox_query(_me()), sort=[(Notification.created_at, "desc")], cursor=cursor, limit=PAGE_SIZE
        )
        return render_template("udyog/notifications.html", rows=rows, next_cursor=meta["pagination"]["next_cursor"])

    @bp.route("/core/notifications/<uuid:notification_id>/read", methods=["POST"])
    @authenticated
    def read_notification(notification_id: uuid.UUID) -> Response:
        """Mark one notification read; then open its link (or back to the inbox)."""
        session = db_session()
        row = mark_read(session, _me(), notification_id)
        session.commit()
        target = safe_next(row.link, default="") if request.form.get("open") else ""
        return redirect(target or url_for("web.notifications"))

    @bp.route("/core/notifications/read-all", methods=["POST"])
    @authenticated
    def read_all_notifications() -> Response:
        """Mark every notification read."""
        session = db_session()
        mark_all_read(session, _me())
        session.commit()
        return redirect(safe_next(request.form.get("next"), default=url_for("web.notifications")))
