"""Hook implementations of the ``hr`` plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Permission, RecordRule, RoleTemplate, Schedule, TaskDefinition, TenantContext, hookimpl
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import MenuEntry

#: The record rules an Employee carries: own employee record, attendance, leave (and requests to decide).
EMPLOYEE_RULES = ("hr.own_employee", "hr.own_attendance", "hr.own_leave_requests", "hr.own_leave_allocations")
#: What the Employee role may do.
EMPLOYEE_PERMISSIONS = (
    "hr.employee.read",
    "hr.attendance.read",
    "hr.attendance.check_in",
    "hr.leave_request.read",
    "hr.leave_request.create",
    "hr.leave_request.write",
    "hr.leave_request.approve",
    "hr.leave_allocation.read",
    "hr.leave_type.read",
    "hr.holiday.read",
    "hr.shift.read",
    "hr.department.read",
)


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the API (``/api/v1/hr``) and the pages (``/hr``)."""
    from .api import create_api
    from .pages import create_pages

    return [create_api(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Declare every resource (others may contribute fields to ``hr.employee``)."""
    from .api import RESOURCES

    return list(RESOURCES)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """Each resource's permissions, self check-in, leave decisions and the accrual run."""
    from .api import RESOURCES

    out: list[Permission] = []
    for resource in RESOURCES:
        out.extend(resource.permissions())
    out += [
        Permission("hr.attendance.check_in", "Check in and out (own attendance)"),
        Permission("hr.leave_request.approve", "Approve or reject the leave of one's direct reports"),
        Permission("hr.leave_request.approve_any", "Approve, reject or ask leave for any employee"),
        Permission("hr.leave_allocation.accrue", "Credit the monthly leave accrual"),
    ]
    return out


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    """Own records only: the employee linked to the login, their attendance, leave credits and requests.

    Leave requests also show to the login they are routed to (the manager's),
    with the leave credits of those employees, so that a manager holding only
    the Employee role can decide them against the balance.
    """
    from sqlalchemy import or_, select

    from .models import Attendance, Employee, LeaveAllocation, LeaveRequest

    def own(column: Any) -> Any:
        return lambda p: column.in_(select(Employee.id).where(Employee.user_id == p.user_id))

    return [
        RecordRule("hr.own_employee", Employee, lambda p: Employee.user_id == p.user_id, "Only own employee record"),
        RecordRule("hr.own_attendance", Attendance, own(Attendance.employee_id), "Only own attendance"),
        RecordRule(
            "hr.own_leave_allocations",
            LeaveAllocation,
            lambda p: or_(
                own(LeaveAllocation.employee_id)(p),
                LeaveAllocation.employee_id.in_(
                    select(LeaveRequest.employee_id).where(LeaveRequest.approver_user_id == p.user_id)
                ),
            ),
            "Only own leave credits, and those of the people whose leave one decides",
        ),
        RecordRule(
            "hr.own_leave_requests",
            LeaveRequest,
            lambda p: or_(
                LeaveRequest.employee_id.in_(select(Employee.id).where(Employee.user_id == p.user_id)),
                LeaveRequest.approver_user_id == p.user_id,
            ),
            "Only own leave requests and those to decide as manager",
        ),
    ]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """HR Manager (all of hr) and Employee (own record, attendance and leave; decides the team's leave)."""
    return [
        RoleTemplate("HR Manager", ("hr.*",), description="Manages employees, attendance, holidays and leave"),
        RoleTemplate(
            "Employee",
            EMPLOYEE_PERMISSIONS,
            record_rules=EMPLOYEE_RULES,
            description="Sees own employee record, attendance and leave; checks in; asks and decides leave",
        ),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The HR group: check in, employees, attendance, the monthly summary, leave, and the set-up lists."""
    from .api import (
        ATTENDANCE,
        DEPARTMENTS,
        EMPLOYEES,
        GEOFENCES,
        HOLIDAYS,
        LEAVE_ALLOCATIONS,
        LEAVE_REQUESTS,
        LEAVE_TYPES,
        SHIFTS,
    )

    group = "hr.root"
    return [
        MenuEntry(group, "HR", "", None, weight=40, icon="person-badge"),
        MenuEntry("hr.checkin", "Check in / out", "/hr/checkin", "hr.attendance.check_in", weight=5, parent=group),
        EMPLOYEES.menu_entry(weight=10, parent=group),
        ATTENDANCE.menu_entry(weight=20, parent=group),
        MenuEntry("hr.summary", "Monthly summary", "/hr/summary", "hr.attendance.read", weight=25, parent=group),
        LEAVE_REQUESTS.menu_entry(weight=30, parent=group),
        LEAVE_ALLOCATIONS.menu_entry(weight=35, parent=group),
        LEAVE_TYPES.menu_entry(weight=40, parent=group),
        HOLIDAYS.menu_entry(weight=50, parent=group),
        SHIFTS.menu_entry(weight=60, parent=group),
        DEPARTMENTS.menu_entry(weight=70, parent=group),
        GEOFENCES.menu_entry(weight=80, parent=group),
    ]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    """Employee codes come from ``hr.employee`` (``EMP-0001``), never reset."""
    from .services import EMPLOYEE_PATTERN, EMPLOYEE_SERIES

    return [SeriesDefinition(EMPLOYEE_SERIES, "Employee", EMPLOYEE_PATTERN, max_length=32)]


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """``hr.accrue_leave``: credit a month's leave accrual (idempotent)."""
    from .services import accrue_task

    return [TaskDefinition("hr.accrue_leave", accrue_task, title="Monthly leave accrual", max_retries=3)]


@hookimpl
def udyog_schedules() -> list[Schedule]:
    """On the 1st of every month at 01:30, accrue the month just ended for every tenant with hr."""
    return [Schedule("hr.monthly_accrual", "hr.accrue_leave", cron="30 1 1 * *")]


@hookimpl
def udyog_tenant_setup(tenant: TenantContext, session: Any) -> None:
    """Seed the usual leave types and a general shift (once: a tenant's own are kept when hr is enabled again)."""
    from .services import seed_defaults

    seed_defaults(session)


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """Departments, a shift, holidays, a geofence, employees with logins' roles, last month's attendance and leave."""
    from .demo import load_demo

    load_demo(session, progress)
