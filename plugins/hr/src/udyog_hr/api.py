"""Resources of the hr plugin (REST routes, OpenAPI, generic pages, menu entries) and its own API routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import services
from .models import Attendance, Department, Employee, Geofence, Holiday, LeaveAllocation, LeaveRequest, LeaveType, Shift
from .schemas import (
    AccrualMonthSchema,
    AttendancePunchSchema,
    AttendanceSchema,
    AttendanceSummaryQuerySchema,
    AttendanceSummarySchema,
    DepartmentSchema,
    EmployeeSchema,
    GeofenceSchema,
    HolidaySchema,
    LeaveAccrualSchema,
    LeaveAllocationSchema,
    LeaveBalanceQuerySchema,
    LeaveBalanceSchema,
    LeaveDecisionSchema,
    LeaveRequestSchema,
    LeaveRequestUpdateSchema,
    LeaveTypeSchema,
    ShiftSchema,
)


def _unique(model: Any, field: str, value: Any, obj: Any | None, what: str) -> None:
    """409 naming ``field`` when another record of ``model`` has ``value`` there."""
    if value is None or (obj is not None and getattr(obj, field) == value):
        return
    if db_session().scalar(select(model.id).where(getattr(model, field) == value)) is not None:
        raise UdyogError(f"{field} taken", status=409, errors={field: [f"{what} {value!r} already exists"]})


class DepartmentResource(Resource):
    """Departments."""

    model = Department
    schema = DepartmentSchema
    permission_prefix = "hr.department"
    filters = ("code", "name", "active")
    sort = ("name", "code")
    search = ("name", "code")
    list_columns = ("code", "name", "active")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A code is taken once per tenant (409 naming ``code``)."""
        _unique(Department, "code", data.get("code"), obj, "a department")


class ShiftResource(Resource):
    """Shifts: hours, what makes a full or half day, and weekly offs."""

    model = Shift
    schema = ShiftSchema
    permission_prefix = "hr.shift"
    filters = ("name",)
    sort = ("name",)
    list_columns = ("name", "start_time", "end_time", "weekly_offs", "full_day_hours")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A name is taken once; a half day is no longer than a full day (422 naming ``half_day_hours``)."""
        _unique(Shift, "name", data.get("name"), obj, "a shift")
        full = data.get("full_day_hours", getattr(obj, "full_day_hours", None))
        half = data.get("half_day_hours", getattr(obj, "half_day_hours", None))
        if full is not None and half is not None and half > full:
            raise UdyogError(
                "invalid shift", status=422, errors={"half_day_hours": ["must not exceed the hours of a full day"]}
            )


class EmployeeResource(Resource):
    """Employees; codes from the series ``hr.employee`` unless given."""

    model = Employee
    schema = EmployeeSchema
    permission_prefix = "hr.employee"
    filters = ("code", "name", "department_id", "branch_id", "manager_id", "work_state", "gender", "active", "user_id")
    sort = ("name", "code", "date_of_joining")
    search = ("name", "code", "designation", "email")
    default_sort = "name"
    list_columns = ("code", "name", "designation", "department_id", "branch_id", "active")
    create_only = ("code",)

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """Dates in order, no manager loops, code and login taken once (see ``services.check_employee``)."""
        services.check_employee(data, obj)

    def create(self, data: dict[str, Any]) -> Employee:
        """Take the code from the series when none is given."""
        values = dict(data)
        values["code"] = values.get("code") or services.new_employee_code()
        services.check_employee({"code": values["code"]}, None)
        employee: Employee = super().create(values)
        services.sync_manager_logins(employee, manager_changed=True, login_changed=False)
        return employee

    def update(self, obj: Employee, data: dict[str, Any]) -> Employee:
        """Change; a new manager (or a manager's new login) takes over the leave requests to decide."""
        old_manager, old_login = obj.manager_id, obj.user_id
        super().update(obj, data)
        services.sync_manager_logins(
            obj, manager_changed=obj.manager_id != old_manager, login_changed=obj.user_id != old_login
        )
        return obj


class GeofenceResource(Resource):
    """Geofences of branches: check-ins farther from the centre than the radius are flagged."""

    model = Geofence
    schema = GeofenceSchema
    permission_prefix = "hr.geofence"
    filters = ("branch_id",)
    sort = ("radius_m",)
    list_columns = ("branch_id", "latitude", "longitude", "radius_m")
    title_field = "branch_id"
    importable = False

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """One geofence per branch (409 naming ``branch_id``)."""
        _unique(Geofence, "branch_id", data.get("branch_id"), obj, "a geofence for branch")


class HolidayResource(Resource):
    """Holidays of the company or of a branch."""

    model = Holiday
    schema = HolidaySchema
    permission_prefix = "hr.holiday"
    filters = ("holiday_date", "branch_id")
    sort = ("holiday_date", "name")
    search = ("name",)
    default_sort = "holiday_date"
    list_columns = ("holiday_date", "name", "branch_id")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """One holiday per day and branch (or company-wide): 409 naming ``holiday_date``."""
        day = data.get("holiday_date", getattr(obj, "holiday_date", None))
        branch = data["branch_id"] if "branch_id" in data else getattr(obj, "branch_id", None)
        if day is None:
            return
        clash = select(Holiday.id).where(
            Holiday.holiday_date == day, Holiday.branch_id.is_(None) if branch is None else Holiday.branch_id == branch
        )
        if obj is not None:
            clash = clash.where(Holiday.id != obj.id)
        if db_session().scalar(clash) is not None:
            raise UdyogError(
                "holiday exists", status=409, errors={"holiday_date": ["a holiday is on this day already"]}
            )


class AttendanceResource(Resource):
    """Attendance days: recorded by check-in and check-out, or by HR (``source`` ``hr``)."""

    model = Attendance
    schema = AttendanceSchema
    permission_prefix = "hr.attendance"
    path = "attendance"
    label = "attendance"
    label_plural = "attendance"
    filters = ("employee_id", "attendance_date", "status", "source", "check_in_outside")
    sort = ("attendance_date",)
    default_sort = "-attendance_date"
    list_columns = ("attendance_date", "employee_id", "status", "check_in_at", "check_out_at", "check_in_outside")
    title_field = "attendance_date"
    create_only = ("employee_id",)

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """One row per employee and day; check-out not before check-in."""
        services.check_attendance(data, obj)
        start = data.get("check_in_at", getattr(obj, "check_in_at", None))
        end = data.get("check_out_at", getattr(obj, "check_out_at", None))
        if start is not None and end is not None and end < start:
            raise UdyogError(
                "invalid attendance", status=422, errors={"check_out_at": ["must be at or after the check-in"]}
            )

    def create(self, data: dict[str, Any]) -> Attendance:
        """Record as HR: source ``hr``, hours from the times given."""
        values = {**data, "source": "hr"}
        values["worked_hours"] = services.worked_hours(values.get("check_in_at"), values.get("check_out_at"))
        return super().create(values)

    def update(self, obj: Attendance, data: dict[str, Any]) -> Attendance:
        """Correct as HR: the hours follow the times."""
        super().update(obj, data)
        obj.worked_hours = services.worked_hours(obj.check_in_at, obj.check_out_at)
        db_session().flush()
        return obj


class LeaveTypeResource(Resource):
    """Leave types."""

    model = LeaveType
    schema = LeaveTypeSchema
    permission_prefix = "hr.leave_type"
    path = "leave-types"
    label = "leave type"
    label_plural = "leave types"
    filters = ("code", "paid", "active")
    sort = ("name", "code")
    list_columns = ("code", "name", "paid", "monthly_accrual", "max_balance", "active")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A code is taken once per tenant (409 naming ``code``)."""
        _unique(LeaveType, "code", data.get("code"), obj, "a leave type")


class LeaveAllocationResource(Resource):
    """Leave credits: opening balances, adjustments and the monthly accruals."""

    model = LeaveAllocation
    schema = LeaveAllocationSchema
    permission_prefix = "hr.leave_allocation"
    path = "leave-allocations"
    label = "leave allocation"
    label_plural = "leave allocations"
    filters = ("employee_id", "leave_type_id", "kind", "period")
    sort = ("period",)
    list_columns = ("employee_id", "leave_type_id", "days", "kind", "period")
    title_field = "kind"
    create_only = ("employee_id", "leave_type_id")


class LeaveRequestResource(Resource):
    """Leave requests: asked by the employee (or HR), decided by the manager or an HR Manager."""

    model = LeaveRequest
    schema = LeaveRequestSchema
    update_schema = LeaveRequestUpdateSchema
    permission_prefix = "hr.leave_request"
    path = "leave-requests"
    label = "leave request"
    label_plural = "leave requests"
    filters = ("employee_id", "leave_type_id", "status", "from_date", "to_date", "approver_user_id")
    sort = ("from_date",)
    default_sort = "-from_date"
    list_columns = ("employee_id", "leave_type_id", "from_date", "to_date", "days", "status")
    title_field = "from_date"
    operations = ("list", "get", "create", "update")
    importable = False
    detail_template = "hr/leave_request_detail.html"

    def create(self, data: dict[str, Any]) -> LeaveRequest:
        """Ask through the service: days counted, routed to the manager."""
        return services.request_leave(data)

    def update(self, obj: LeaveRequest, data: dict[str, Any]) -> LeaveRequest:
        """Change a pending request through the service."""
        return services.change_leave(obj, data)


DEPARTMENTS = DepartmentResource()
SHIFTS = ShiftResource()
EMPLOYEES = EmployeeResource()
GEOFENCES = GeofenceResource()
HOLIDAYS = HolidayResource()
ATTENDANCE = AttendanceResource()
LEAVE_TYPES = LeaveTypeResource()
LEAVE_ALLOCATIONS = LeaveAllocationResource()
LEAVE_REQUESTS = LeaveRequestResource()

#: Every resource, in menu order.
RESOURCES: tuple[Resource, ...] = (
    EMPLOYEES,
    DEPARTMENTS,
    SHIFTS,
    ATTENDANCE,
    LEAVE_REQUESTS,
    LEAVE_ALLOCATIONS,
    LEAVE_TYPES,
    HOLIDAYS,
    GEOFENCES,
)


def summary_rows(year: int, month: int, employee_ids: list[Any] | None) -> list[dict[str, Any]]:
    """The attendance summary with each employee's code and name, by code (what the user's rules show)."""
    summary = services.attendance_summary(year, month, employee_ids)
    if not summary:
        return []
    names: dict[Any, tuple[str, str]] = {}
    ids = list(summary)
    for start in range(0, len(ids), services.ID_CHUNK):
        chunk = ids[start : start + services.ID_CHUNK]
        for eid, code, name in db_session().execute(
            select(Employee.id, Employee.code, Employee.name).where(Employee.id.in_(chunk))
        ):
            names[eid] = (code, name)
    rows = []
    for eid, item in summary.items():
        code, name = names.get(eid, ("", ""))
        rows.append({**item.__dict__, "employee_code": code, "employee_name": name})
    rows.sort(key=lambda r: r["employee_code"])
    return rows


def create_api() -> Blueprint:
    """One blueprint ``hr`` at ``/api/v1/hr``: every resource, check-in/out, the summary, leave decisions."""
    bp = Blueprint("hr", __name__, url_prefix="/api/v1/hr", description="HR: employees, attendance and leave")
    for resource in RESOURCES:
        resource.register(bp)

    @bp.route("/attendance/check-in", methods=["POST"])
    @bp.arguments(AttendancePunchSchema)
    @bp.response(200, envelope(AttendanceSchema))
    @requires("hr.attendance.check_in")
    def check_in(data: dict[str, Any]) -> dict[str, Any]:
        """Check in now

        For the employee linked to your login (or, with `hr.attendance.write`,
        `employee_id`). With a position (`latitude`, `longitude`, optionally
        `accuracy_m`), it is compared with the branch's geofence:
        `check_in_outside` is true when it lies outside. 409 when checked in
        already today.
        """
        row = services.check_in(**data)
        db_session().commit()
        message = "checked in outside the geofence" if row.check_in_outside else "checked in"
        return ok(ATTENDANCE.dump(row), message=message)

    @bp.route("/attendance/check-out", methods=["POST"])
    @bp.arguments(AttendancePunchSchema)
    @bp.response(200, envelope(AttendanceSchema))
    @requires("hr.attendance.check_in")
    def check_out(data: dict[str, Any]) -> dict[str, Any]:
        """Check out now

        Closes today's (or, past midnight, yesterday's) open check-in; the hours
        worked decide a full day, a half day or absent by the shift. 409
        without an open check-in.
        """
        row = services.check_out(**data)
        db_session().commit()
        return ok(ATTENDANCE.dump(row), message="checked out")

    @bp.route("/attendance/summary", methods=["GET"])
    @bp.arguments(AttendanceSummaryQuerySchema, location="query")
    @bp.response(200, envelope(AttendanceSummarySchema, many=True))
    @requires("hr.attendance.read")
    def attendance_summary(args: dict[str, Any]) -> dict[str, Any]:
        """The monthly attendance summary

        Per employee (those you may see; `employee_id` repeated to choose):
        days payable, loss of pay, present, paid leave, holidays, weekly offs.
        """
        rows = summary_rows(args["year"], args["month"], args.get("employee_id"))
        return ok(AttendanceSummarySchema(many=True).dump(rows))

    @bp.route("/leave-requests/<uuid:leave_request_id>/approve", methods=["POST"])
    @bp.arguments(LeaveDecisionSchema)
    @bp.response(200, envelope(LeaveRequestSchema))
    @requires("hr.leave_request.approve")
    def approve(data: dict[str, Any], leave_request_id: Any) -> dict[str, Any]:
        """Approve a leave request

        By the employee's manager or an HR Manager; never one's own. Paid leave
        needs the balance (409 naming `days`); a stale `version` answers 409.
        """
        request = LEAVE_REQUESTS.lookup(leave_request_id)
        services.approve_leave(request, data["version"], data.get("note") or "")
        db_session().commit()
        return ok(LEAVE_REQUESTS.dump(request), message="approved")

    @bp.route("/leave-requests/<uuid:leave_request_id>/reject", methods=["POST"])
    @bp.arguments(LeaveDecisionSchema)
    @bp.response(200, envelope(LeaveRequestSchema))
    @requires("hr.leave_request.approve")
    def reject(data: dict[str, Any], leave_request_id: Any) -> dict[str, Any]:
        """Reject a leave request (its manager or an HR Manager)"""
        request = LEAVE_REQUESTS.lookup(leave_request_id)
        services.reject_leave(request, data["version"], data.get("note") or "")
        db_session().commit()
        return ok(LEAVE_REQUESTS.dump(request), message="rejected")

    @bp.route("/leave-requests/<uuid:leave_request_id>/cancel", methods=["POST"])
    @bp.arguments(LeaveDecisionSchema)
    @bp.response(200, envelope(LeaveRequestSchema))
    @requires("hr.leave_request.write")
    def cancel(data: dict[str, Any], leave_request_id: Any) -> dict[str, Any]:
        """Cancel a pending or approved leave request (its employee or HR); its days return to the balance"""
        request = LEAVE_REQUESTS.lookup(leave_request_id)
        services.cancel_leave(request, data["version"], data.get("note") or "")
        db_session().commit()
        return ok(LEAVE_REQUESTS.dump(request), message="cancelled")

    @bp.route("/leave-balances", methods=["GET"])
    @bp.arguments(LeaveBalanceQuerySchema, location="query")
    @bp.response(200, envelope(LeaveBalanceSchema, many=True))
    @requires("hr.leave_allocation.read")
    def leave_balances(args: dict[str, Any]) -> dict[str, Any]:
        """Leave balances per employee and leave type (those you may see)"""
        employee_id = args.get("employee_id")
        rows = services.leave_balances(None if employee_id is None else [employee_id])
        return ok(LeaveBalanceSchema(many=True).dump(rows))

    @bp.route("/leave-allocations/accrue", methods=["POST"])
    @bp.arguments(AccrualMonthSchema)
    @bp.response(200, envelope(LeaveAccrualSchema))
    @requires("hr.leave_allocation.accrue")
    def accrue(data: dict[str, Any]) -> dict[str, Any]:
        """Credit a month's leave accrual

        Each active leave type's `monthly_accrual` to every employee employed
        in the month, once (running it again credits nothing more).
        """
        credited = services.accrue_leave(data["year"], data["month"])
        db_session().commit()
        period = f"{data['year']:04d}-{data['month']:02d}"
        return ok({"period": period, "credited": credited}, message=f"{credited} credits for {period}")

    return bp
