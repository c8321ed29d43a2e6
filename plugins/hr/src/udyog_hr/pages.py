"""The hr plugin's web pages: the generic resource pages, check-in/out, the monthly summary and leave decisions.

Every form posts ``csrf_token`` (the shell checks it before the view runs)
and works without JavaScript. The check-in page loads the shell's ``geolocate.js``
to fill in the browser's position.
"""

from __future__ import annotations

import datetime as dt
import uuid

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.api import flatten_messages
from udyog_sdk.formatting import tenant_today
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires

from . import services
from .api import LEAVE_REQUESTS, RESOURCES, summary_rows
from .models import Attendance
from .schemas import AttendancePunchSchema


def create_pages() -> Blueprint:
    """The blueprint ``hr_pages`` at ``/hr``: resource pages, check-in/out, the summary and leave decisions."""
    bp = Blueprint("hr_pages", __name__, url_prefix="/hr", template_folder="templates")
    for resource in RESOURCES:
        resource.register_pages(bp)

    @bp.route("/checkin", methods=["GET", "POST"])
    @requires("hr.attendance.check_in")
    def checkin_page() -> Response:
        """Check in or out: the browser's position when allowed (script), else none."""
        errors: dict[str, list[str]] = {}
        status = 200
        if request.method == "POST":
            action = request.form.get("action", "in")
            data = {
                key: request.form.get("gps_" + key, "").strip()
                for key in ("latitude", "longitude", "accuracy_m")
                if request.form.get("gps_" + key, "").strip()
            }
            if request.form.get("note", "").strip():
                data["note"] = request.form["note"].strip()
            try:
                loaded = AttendancePunchSchema().load(data)
                row = services.check_out(**loaded) if action == "out" else services.check_in(**loaded)
            except ma.ValidationError as exc:
                errors, status = flatten_messages(exc.messages), 422
            except UdyogError as exc:
                db_session().rollback()
                errors, status = dict(exc.errors) or {"_schema": [exc.message]}, exc.status
            else:
                db_session().commit()
                if action == "out":
                    flash(_("Checked out."), "success")
                elif row.check_in_outside:
                    flash(_("Checked in, outside your branch's geofence."), "warning")
                else:
                    flash(_("Checked in."), "success")
                return redirect(url_for(".checkin_page"), 303)  # type: ignore[return-value]
        me = current_user()
        employee = services.employee_for_user(me.user_id) if me is not None else None
        today = None
        if employee is not None:
            today = db_session().scalar(
                select(Attendance).where(
                    Attendance.employee_id == employee.id, Attendance.attendance_date == tenant_today()
                )
            )
        html = render_template(
            "hr/checkin.html",
            employee=employee,
            today=today,
            errors=errors,
            breadcrumbs=[(_("HR"), None), (_("Check in / out"), None)],
        )
        return make_response(html, status)

    @bp.route("/summary")
    @requires("hr.attendance.read")
    def summary_page() -> Response:
        """The monthly attendance summary of the employees the user sees (last month by default)."""
        today = tenant_today()
        last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        errors: dict[str, list[str]] = {}
        try:
            year = int(request.args.get("year", last_month.year))
            month = int(request.args.get("month", last_month.month))
            if not (1900 <= year <= 9999 and 1 <= month <= 12):
                raise ValueError
        except ValueError:
            errors = {"month": [_("Choose a month: year 1900 to 9999, month 1 to 12.")]}
            year, month = last_month.year, last_month.month
        rows = summary_rows(year, month, None)
        html = render_template(
            "hr/summary.html",
            rows=rows,
            year=year,
            month=month,
            errors=errors,
            breadcrumbs=[(_("HR"), None), (_("Monthly summary"), None)],
        )
        return make_response(html, 422 if errors else 200)

    def _decide(record_id: uuid.UUID, action: str) -> Response:
        leave = LEAVE_REQUESTS.lookup(record_id)
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            version = 0
        note = request.form.get("note", "").strip()[:2000]
        decide = {"approve": services.approve_leave, "reject": services.reject_leave, "cancel": services.cancel_leave}
        try:
            decide[action](leave, version, note)
        except UdyogError as exc:
            db_session().rollback()
            reasons = [m for messages in (exc.errors or {}).values() for m in messages if m != exc.message]
            flash(" ".join([_("The leave request was not changed:"), exc.message, *reasons]), "error")
        else:
            db_session().commit()
            flash({"approve": _("Leave approved."), "reject": _("Leave rejected."),
                   "cancel": _("Leave cancelled.")}[action], "success")  # fmt: skip
        return redirect(url_for(".leave_requests_detail_page", record_id=record_id), 303)  # type: ignore[return-value]

    @bp.route("/leave-requests/<uuid:record_id>/approve", methods=["POST"])
    @requires("hr.leave_request.approve")
    def leave_approve(record_id: uuid.UUID) -> Response:
        """Approve the request (the detail page's button), then back to it."""
        return _decide(record_id, "approve")

    @bp.route("/leave-requests/<uuid:record_id>/reject", methods=["POST"])
    @requires("hr.leave_request.approve")
    def leave_reject(record_id: uuid.UUID) -> Response:
        """Reject the request, then back to it."""
        return _decide(record_id, "reject")

    @bp.route("/leave-requests/<uuid:record_id>/withdraw", methods=["POST"])
    @requires("hr.leave_request.write")
    def leave_withdraw(record_id: uuid.UUID) -> Response:
        """Cancel the request (its employee or HR), then back to it."""
        return _decide(record_id, "cancel")

    return bp
