"""Business logic of the hr plugin (published: payroll calls :func:`attendance_summary` and :func:`employee_for_user`).

Plain functions over the current tenant's session: routes, pages, tasks,
demo data and other plugins call them alike. They work in the caller's
transaction and never commit; a refusal raises
``udyog_sdk.UdyogError(message, status=4xx, errors={field: [reason]})``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from sqlalchemy import case, func, insert, or_, select

from udyog_sdk import UdyogError, current_tenant, current_user, db_session, emit
from udyog_sdk.api import check_version, flatten_messages
from udyog_sdk.models import Base, utcnow
from udyog_sdk.series import next_number

from .models import (
    Attendance,
    Employee,
    Geofence,
    Holiday,
    LeaveAllocation,
    LeaveRequest,
    LeaveType,
    Shift,
)

#: The series employee codes come from, and its default pattern.
EMPLOYEE_SERIES = "hr.employee"
EMPLOYEE_PATTERN = "EMP-{seq:04}"
#: The permission that lets its holder decide any leave request (HR Managers), not only their reports'.
APPROVE_ANY = "hr.leave_request.approve_any"
#: Weekly offs of an employee without a shift: Sunday (ISO weekday 7).
DEFAULT_WEEKLY_OFFS = frozenset({7})
ZERO = Decimal("0")
ONE = Decimal("1")
HALF = Decimal("0.5")
CENT = Decimal("0.01")
#: Mean radius of the Earth in metres (for distances to a geofence's centre).
EARTH_RADIUS_M = 6_371_008.8
#: How many ids go into one ``IN (...)`` (SQLite allows 32,766 bound parameters, PostgreSQL 65,535).
ID_CHUNK = 5000


# -- employees -------------------------------------------------------------------------------------


def employee_for_user(user_id: uuid.UUID) -> Employee | None:
    """The active employee whose login is ``user_id`` in the current tenant, or None."""
    return db_session().scalar(
        select(Employee).where(Employee.user_id == user_id, Employee.active.is_(True)).order_by(Employee.code).limit(1)
    )


def new_employee_code(branch: Any = None) -> str:
    """The next employee code from the series ``hr.employee`` (``EMP-0001``)."""
    return next_number(EMPLOYEE_SERIES, branch=branch)


def check_employee(data: dict[str, Any], obj: Employee | None) -> None:
    """Refuse an employee that contradicts itself: dates in order, a manager who is not the employee.

    Raises 422 naming the field, or 409 naming ``code`` or ``user_id`` when taken.
    """
    session = db_session()

    def value(name: str) -> Any:
        return data[name] if name in data else getattr(obj, name, None)

    joined, left, born = value("date_of_joining"), value("date_of_leaving"), value("date_of_birth")
    errors: dict[str, list[str]] = {}
    if joined is not None and left is not None and left < joined:
        errors["date_of_leaving"] = ["must be on or after the date of joining"]
    if joined is not None and born is not None and born >= joined:
        errors["date_of_birth"] = ["must be before the date of joining"]
    manager = value("manager_id")
    if manager is not None and obj is not None and manager == obj.id:
        errors["manager_id"] = ["an employee cannot be their own manager"]
    if manager is not None and obj is not None and "manager_id" in data and _reports_to(manager, obj.id):
        errors["manager_id"] = ["this manager reports (directly or not) to the employee"]
    if errors:
        raise UdyogError("invalid employee", status=422, errors=errors)
    code = data.get("code")
    if (
        code is not None
        and (obj is None or obj.code != code)
        and session.scalar(select(Employee.id).where(Employee.code == code)) is not None
    ):
        raise UdyogError("code taken", status=409, errors={"code": [f"an employee {code!r} already exists"]})
    user_id = data.get("user_id")
    if user_id is not None and (obj is None or obj.user_id != user_id):
        membership = core_model("core_membership")
        if session.scalar(select(membership.id).where(membership.user_id == user_id)) is None:
            raise UdyogError("no such user", status=422, errors={"user_id": ["no such user in this organisation"]})
        taken = session.scalar(select(Employee.code).where(Employee.user_id == user_id))
        if taken is not None:
            raise UdyogError(
                "login taken", status=409, errors={"user_id": [f"this login belongs to employee {taken} already"]}
            )


def core_model(table: str) -> Any:
    """The core's mapped class of ``table``, found by table name (plugins never import the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == table)


def _reports_to(manager_id: uuid.UUID, employee_id: uuid.UUID) -> bool:
    """Whether ``manager_id`` is ``employee_id`` or reports to them through the chain of managers."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = manager_id
    while current is not None and current not in seen:
        if current == employee_id:
            return True
        seen.add(current)
        current = db_session().scalar(select(Employee.manager_id).where(Employee.id == current))
    return False


def sync_manager_logins(employee: Employee, *, manager_changed: bool, login_changed: bool) -> None:
    """Keep ``manager_user_id`` and the routing of leave requests in step with managers and their logins.

    A new manager takes over all the employee's leave requests (so they see
    the history they decide on); a manager whose login changes takes their
    reports' requests along. Called by HR's changes, which see everyone.
    """
    session = db_session()
    if manager_changed:
        employee.manager_user_id = (
            None
            if employee.manager_id is None
            else session.scalar(select(Employee.user_id).where(Employee.id == employee.manager_id))
        )
        _route(employee.id, employee.manager_user_id)
    if login_changed:
        for report in session.scalars(select(Employee).where(Employee.manager_id == employee.id)):
            report.manager_user_id = employee.user_id
            _route(report.id, employee.user_id)
    session.flush()


def _route(employee_id: uuid.UUID, approver: uuid.UUID | None) -> None:
    for request in db_session().scalars(select(LeaveRequest).where(LeaveRequest.employee_id == employee_id)):
        if request.approver_user_id != approver:
            request.approver_user_id = approver


# -- calendar: weekly offs and holidays -----------------------------------------------------------


def parse_weekly_offs(text: str | None) -> frozenset[int]:
    """ISO weekdays from ``"6,7"``; an empty or missing value is no weekly off."""
    if not text:
        return frozenset()
    return frozenset(int(part) for part in text.split(",") if part.strip())


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a month (422 naming ``year`` or ``month`` when out of range)."""
    if not 1 <= month <= 12:
        raise UdyogError("invalid month", status=422, errors={"month": ["must be 1 to 12"]})
    if not 1900 <= year <= 9999:
        raise UdyogError("invalid year", status=422, errors={"year": ["must be 1900 to 9999"]})
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _holidays(first: dt.date, last: dt.date) -> tuple[set[dt.date], dict[uuid.UUID, set[dt.date]]]:
    """Company-wide holiday dates and each branch's own between two dates (one query)."""
    common: set[dt.date] = set()
    by_branch: dict[uuid.UUID, set[dt.date]] = defaultdict(set)
    rows = db_session().execute(
        select(Holiday.holiday_date, Holiday.branch_id).where(Holiday.holiday_date.between(first, last))
    )
    for day, branch_id in rows:
        (common if branch_id is None else by_branch[branch_id]).add(day)
    return common, by_branch


def _weekly_offs_by_shift() -> dict[uuid.UUID, frozenset[int]]:
    return {sid: parse_weekly_offs(text) for sid, text in db_session().execute(select(Shift.id, Shift.weekly_offs))}


def working_days(employee: Employee, first: dt.date, last: dt.date) -> list[dt.date]:
    """The employee's working days from ``first`` to ``last``: neither weekly offs nor holidays."""
    offs = DEFAULT_WEEKLY_OFFS
    if employee.shift_id is not None:
        text = db_session().scalar(select(Shift.weekly_offs).where(Shift.id == employee.shift_id))
        offs = parse_weekly_offs(text)
    common, by_branch = _holidays(first, last)
    holidays = common | by_branch.get(employee.branch_id, set()) if employee.branch_id else common
    return [d for d in _days(first, last) if d.isoweekday() not in offs and d not in holidays]


# -- the monthly attendance summary (published for payroll) ----------------------------------------


@dataclass(frozen=True)
class AttendanceSummary:
    """One employee's month, as payroll reads it.

    Every day the employee was employed (from joining to leaving) is exactly
    one of: a holiday, a weekly off, present (1 or ½), paid leave (1 or ½) or
    loss of pay, so ``days_payable = days_present + paid_leave_days +
    holidays + weekly_offs`` and ``days_payable + loss_of_pay_days`` is the
    number of days employed in the month. Days before joining or after
    leaving are in neither.
    """

    employee_id: uuid.UUID
    days_in_month: int
    days_payable: Decimal
    loss_of_pay_days: Decimal
    days_present: Decimal
    paid_leave_days: Decimal
    holidays: int
    weekly_offs: int


def _chunks(ids: Sequence[uuid.UUID]) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def attendance_summary(
    year: int, month: int, employee_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, AttendanceSummary]:
    """Each employee's month: days payable, loss of pay, present, paid leave, holidays and weekly offs.

    ``employee_ids`` None means every employee employed at some time in the
    month; given ids are summarised even when not employed then (all zero),
    and unknown ids are left out.

    Each employed day counts, in this order: a holiday of the company or of
    the employee's branch; a weekly off of the employee's shift (Sunday
    without one); what was worked (``present`` 1, ``half_day`` ½; no
    attendance or ``absent`` 0); then approved leave covers the rest of the
    day (½ for a half-day request): paid leave is payable, unpaid leave and
    whatever remains uncovered are loss of pay.

    Set-based: at most nine queries whatever the number of employees (ids go
    in chunks of 5,000), and no joins. Attendance comes summed per employee
    (in half days); only the rows that need a look day by day are read one by
    one: those on a holiday or weekly off, of employees who joined or left
    during the month, and on days of approved leave. Employees sharing a
    branch's holidays, weekly offs and the same employed days share one
    calendar.
    """
    first, last = month_bounds(year, month)
    session = db_session()
    wanted = None if employee_ids is None else list(dict.fromkeys(employee_ids))
    columns = (Employee.id, Employee.branch_id, Employee.shift_id, Employee.date_of_joining, Employee.date_of_leaving)
    employees: list[Any] = []
    if wanted is None:
        employees = list(
            session.execute(
                select(*columns).where(
                    Employee.date_of_joining <= last,
                    or_(Employee.date_of_leaving.is_(None), Employee.date_of_leaving >= first),
                )
            )
        )
    else:
        for chunk in _chunks(wanted):
            employees.extend(session.execute(select(*columns).where(Employee.id.in_(chunk))))
    if not employees:
        return {}
    ids = [row[0] for row in employees]
    chunks: list[Sequence[uuid.UUID] | None] = [None] if wanted is None else list(_chunks(ids))

    def each_chunk(statement: Any, column: Any) -> Iterator[Any]:
        for chunk in chunks:
            yield from session.execute(statement if chunk is None else statement.where(column.in_(chunk)))

    common_holidays, branch_holidays = _holidays(first, last)
    shift_offs = _weekly_offs_by_shift()
    month_days = list(_days(first, last))
    patterns = {DEFAULT_WEEKLY_OFFS, *shift_offs.values()}
    special = common_holidays.union(*branch_holidays.values())
    special |= {day for day in month_days if any(day.isoweekday() in offs for offs in patterns)}

    # Attendance in half days: summed per employee, and day by day where the day needs a look.
    halves_of = case((Attendance.status == "present", 2), else_=1)
    counted = (Attendance.attendance_date.between(first, last), Attendance.status.in_(("present", "half_day")))
    worked: dict[uuid.UUID, int] = {}
    summed = select(Attendance.employee_id, func.sum(halves_of)).where(*counted).group_by(Attendance.employee_id)
    for employee_id, halves in each_chunk(summed, Attendance.employee_id):
        worked[employee_id] = int(halves)
    # Approved leave, day by day, in half days: (halves, paid).
    paid_types = {tid: paid for tid, paid in session.execute(select(LeaveType.id, LeaveType.paid))}
    leave: dict[uuid.UUID, dict[dt.date, tuple[int, bool]]] = defaultdict(dict)
    leaves = select(
        LeaveRequest.employee_id, LeaveRequest.from_date, LeaveRequest.to_date, LeaveRequest.half_day,
        LeaveRequest.leave_type_id,
    ).where(
        LeaveRequest.status == "approved", LeaveRequest.from_date <= last, LeaveRequest.to_date >= first
    )  # fmt: skip
    for employee_id, start, end, half, type_id in each_chunk(leaves, LeaveRequest.employee_id):
        amount = 1 if half else 2
        paid = paid_types.get(type_id, False)
        days = leave[employee_id]
        for day in _days(max(start, first), min(end, last)):
            had = days.get(day)
            # Two approved requests on one day: paid leave wins, amounts add up to a day at most.
            days[day] = (min(2, amount + had[0]), paid or had[1]) if had else (amount, paid)

    # Rows that need a look day by day (no joins: plans stay simple on fresh, unanalysed tables):
    # on a holiday or weekly off of anyone; of those employed for part of the month; on leave days.
    by_day: dict[uuid.UUID, dict[dt.date, int]] = defaultdict(dict)
    one_by_one = select(Attendance.employee_id, Attendance.attendance_date, halves_of).where(*counted)
    looks: list[tuple[Any, list[uuid.UUID] | None]] = []
    if special:
        looks.append((one_by_one.where(Attendance.attendance_date.in_(sorted(special))), None))
    partial = [row[0] for row in employees if row[3] > first or (row[4] is not None and row[4] < last)]
    if partial:
        looks.append((one_by_one, partial))
    if leave:
        leave_days = sorted(set().union(*leave.values()))
        looks.append((one_by_one.where(Attendance.attendance_date.in_(leave_days)), list(leave)))
    for statement, only in looks:
        if only is None:
            rows: Iterable[Any] = each_chunk(statement, Attendance.employee_id)
        else:
            rows = (
                r
                for chunk in _chunks(only)
                for r in session.execute(statement.where(Attendance.employee_id.in_(chunk)))
            )
        for employee_id, day, halves in rows:
            by_day[employee_id][day] = int(halves)

    calendars: dict[tuple[Any, ...], tuple[int, int, frozenset[dt.date]]] = {}

    def calendar_of(
        branch_id: Any, offs: frozenset[int], start: dt.date, end: dt.date
    ) -> tuple[int, int, frozenset[dt.date]]:
        key = (branch_id, offs, start, end)
        found = calendars.get(key)
        if found is None:
            holidays = common_holidays | branch_holidays[branch_id] if branch_id is not None else common_holidays
            n_holidays = n_offs = 0
            working: set[dt.date] = set()
            for day in month_days:
                if day < start or day > end:
                    continue
                if day in holidays:
                    n_holidays += 1
                elif day.isoweekday() in offs:
                    n_offs += 1
                else:
                    working.add(day)
            found = calendars[key] = (n_holidays, n_offs, frozenset(working))
        return found

    days_in_month = last.day
    out: dict[uuid.UUID, AttendanceSummary] = {}
    for employee_id, branch_id, shift_id, joined, left in employees:
        start = max(first, joined)
        end = min(last, left) if left is not None else last
        offs = DEFAULT_WEEKLY_OFFS if shift_id is None else shift_offs.get(shift_id, DEFAULT_WEEKLY_OFFS)
        n_holidays, n_offs, working = calendar_of(branch_id if branch_id in branch_holidays else None, offs, start, end)
        its_days = by_day.get(employee_id, {})
        present = worked.get(employee_id, 0) - sum(h for day, h in its_days.items() if day not in working)
        paid_leave = 0
        for day, (amount, paid) in leave.get(employee_id, {}).items():
            if paid and day in working:
                paid_leave += min(2 - its_days.get(day, 0), amount)
        present_days = Decimal(present) / 2
        paid_days = Decimal(paid_leave) / 2
        out[employee_id] = AttendanceSummary(
            employee_id=employee_id,
            days_in_month=days_in_month,
            days_payable=present_days + paid_days + n_holidays + n_offs,
            loss_of_pay_days=len(working) - present_days - paid_days,
            days_present=present_days,
            paid_leave_days=paid_days,
            holidays=n_holidays,
            weekly_offs=n_offs,
        )
    return out


# -- attendance: check-in and check-out ------------------------------------------------------------


def distance_m(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """The great-circle distance between two points in metres (haversine), to the centimetre."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return Decimal(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))).quantize(CENT)


def geofence_check(
    branch_id: uuid.UUID | None, latitude: Decimal | None, longitude: Decimal | None, accuracy_m: Decimal | None
) -> tuple[Decimal | None, bool | None]:
    """Distance from the branch's geofence centre and whether the position lies outside it.

    Outside means even the nearest point of the fix's circle (its distance
    less its accuracy) is beyond the radius. ``(None, None)`` without a
    position, a branch or a geofence.
    """
    if branch_id is None or latitude is None or longitude is None:
        return None, None
    fence = db_session().scalar(select(Geofence).where(Geofence.branch_id == branch_id))
    if fence is None:
        return None, None
    distance = distance_m(fence.latitude, fence.longitude, latitude, longitude)
    return distance, distance - (accuracy_m or ZERO) > fence.radius_m


def _punch_employee(employee_id: uuid.UUID | None) -> Employee:
    """Whom a check-in or check-out is for: the acting user's employee, or (with hr.attendance.write) anyone."""
    me = current_user()
    session = db_session()
    if employee_id is None:
        employee = employee_for_user(me.user_id) if me is not None else None
        if employee is None:
            raise UdyogError(
                "no employee is linked to your login",
                status=422,
                errors={"employee_id": ["no employee is linked to your login: name the employee"]},
            )
        return employee
    employee = session.scalar(select(Employee).where(Employee.id == employee_id))
    if employee is None:
        raise UdyogError("no such employee", status=422, errors={"employee_id": ["no such employee"]})
    if me is not None and employee.user_id != me.user_id and not me.can("hr.attendance.write"):
        raise UdyogError(
            "you may check in only yourself",
            status=403,
            errors={"employee_id": ["checking in someone else needs hr.attendance.write"]},
        )
    if not employee.active:
        raise UdyogError("inactive employee", status=422, errors={"employee_id": ["the employee is not active"]})
    return employee


def local_date(at: dt.datetime) -> dt.date:
    """The tenant's calendar day at instant ``at`` (its time zone)."""
    return at.astimezone(ZoneInfo(current_tenant().timezone or "Asia/Kolkata")).date()


def check_in(
    *,
    employee_id: uuid.UUID | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    accuracy_m: Decimal | None = None,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> Attendance:
    """Record a check-in now (or at ``at``) for the acting user's employee, flagging it outside the geofence.

    409 naming ``check_in_at`` when the employee checked in that day already.
    """
    employee = _punch_employee(employee_id)
    at = at or utcnow()
    day = local_date(at)
    if employee.date_of_joining > day or (employee.date_of_leaving is not None and employee.date_of_leaving < day):
        raise UdyogError("not employed", status=422, errors={"employee_id": ["not employed on this day"]})
    session = db_session()
    row = session.scalar(
        select(Attendance).where(Attendance.employee_id == employee.id, Attendance.attendance_date == day)
    )
    if row is not None and row.check_in_at is not None:
        raise UdyogError(
            "checked in already",
            status=409,
            errors={"check_in_at": [f"checked in already at {row.check_in_at:%H:%M} UTC"]},
        )
    distance, outside = geofence_check(employee.branch_id, latitude, longitude, accuracy_m)
    if row is None:
        row = Attendance(employee_id=employee.id, attendance_date=day)
        session.add(row)
    row.status = "present"
    row.source = "gps" if latitude is not None else "manual"
    row.check_in_at = at
    row.check_in_latitude, row.check_in_longitude, row.check_in_accuracy_m = latitude, longitude, accuracy_m
    row.check_in_distance_m, row.check_in_outside = distance, outside
    if note:
        row.note = note
    session.flush()
    emit(
        "hr.attendance.checked_in",
        {"attendance_id": str(row.id), "employee_id": str(employee.id), "outside_geofence": outside},
    )
    return row


def check_out(
    *,
    employee_id: uuid.UUID | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    accuracy_m: Decimal | None = None,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> Attendance:
    """Record the check-out of the day's (or, past midnight, the previous day's) open check-in.

    The hours worked decide the day by the employee's shift: a full day, a
    half day or absent. 409 naming ``check_out_at`` without an open check-in.
    """
    employee = _punch_employee(employee_id)
    at = at or utcnow()
    day = local_date(at)
    session = db_session()
    row = session.scalar(
        select(Attendance)
        .where(
            Attendance.employee_id == employee.id,
            Attendance.attendance_date.in_((day, day - dt.timedelta(days=1))),
            Attendance.check_in_at.is_not(None),
            Attendance.check_out_at.is_(None),
        )
        .order_by(Attendance.attendance_date.desc())
        .limit(1)
    )
    if row is None or row.check_in_at is None or row.check_in_at > at:
        raise UdyogError("not checked in", status=409, errors={"check_out_at": ["no open check-in to close"]})
    distance, outside = geofence_check(employee.branch_id, latitude, longitude, accuracy_m)
    row.check_out_at = at
    row.check_out_latitude, row.check_out_longitude, row.check_out_accuracy_m = latitude, longitude, accuracy_m
    row.check_out_distance_m, row.check_out_outside = distance, outside
    hours = Decimal((at - row.check_in_at).total_seconds() / 3600).quantize(CENT)
    row.worked_hours = min(hours, Decimal("999.99"))
    full, half = Decimal("8"), Decimal("4")
    if employee.shift_id is not None:
        shift = session.scalar(select(Shift).where(Shift.id == employee.shift_id))
        if shift is not None:
            full, half = shift.full_day_hours, shift.half_day_hours
    row.status = "present" if hours >= full else "half_day" if hours >= half else "absent"
    if note:
        row.note = f"{row.note}\n{note}".strip()
    session.flush()
    emit("hr.attendance.checked_out", {"attendance_id": str(row.id), "employee_id": str(employee.id)})
    return row


def check_attendance(data: dict[str, Any], obj: Attendance | None) -> None:
    """One attendance row per employee and day (409 naming ``attendance_date``)."""
    employee_id = data.get("employee_id", getattr(obj, "employee_id", None))
    day = data.get("attendance_date", getattr(obj, "attendance_date", None))
    if (
        employee_id is None
        or day is None
        or (obj is not None and (obj.employee_id, obj.attendance_date) == (employee_id, day))
    ):
        return
    taken = db_session().scalar(
        select(Attendance.id).where(Attendance.employee_id == employee_id, Attendance.attendance_date == day)
    )
    if taken is not None:
        raise UdyogError(
            "attendance exists", status=409, errors={"attendance_date": ["this employee has attendance on this day"]}
        )


def worked_hours(check_in_at: dt.datetime | None, check_out_at: dt.datetime | None) -> Decimal | None:
    """Hours between check-in and check-out, to the hundredth (None unless both are known)."""
    if check_in_at is None or check_out_at is None:
        return None
    return min(Decimal((check_out_at - check_in_at).total_seconds() / 3600).quantize(CENT), Decimal("999.99"))


# -- leave -----------------------------------------------------------------------------------------


def _employee(employee_id: uuid.UUID | None, *, field: str = "employee_id") -> Employee:
    """The employee a leave request or balance is for: the acting user's when not named.

    Naming another employee needs ``hr.leave_request.approve_any``; 422
    naming the field for an unknown one, 403 for someone else's.
    """
    me = current_user()
    if employee_id is None:
        employee = employee_for_user(me.user_id) if me is not None else None
        if employee is None:
            raise UdyogError(
                "no employee is linked to your login",
                status=422,
                errors={field: ["no employee is linked to your login: name the employee"]},
            )
        return employee
    employee = db_session().scalar(select(Employee).where(Employee.id == employee_id))
    if employee is None:
        raise UdyogError("no such employee", status=422, errors={field: ["no such employee"]})
    if me is not None and employee.user_id != me.user_id and not me.can(APPROVE_ANY):
        raise UdyogError(
            "only your own leave", status=403, errors={field: ["asking leave for someone else needs an HR Manager"]}
        )
    return employee


def _leave_type(leave_type_id: uuid.UUID) -> LeaveType:
    found = db_session().scalar(select(LeaveType).where(LeaveType.id == leave_type_id))
    if found is None or not found.active:
        raise UdyogError("no such leave type", status=422, errors={"leave_type_id": ["no such active leave type"]})
    return found


def leave_days(employee: Employee, start: dt.date, end: dt.date, half_day: bool) -> Decimal:
    """Working days of a request (weekly offs and holidays do not count); 422 naming ``to_date`` when none."""
    days = len(working_days(employee, start, end))
    if days == 0:
        raise UdyogError(
            "no working day", status=422, errors={"to_date": ["the dates hold no working day (weekly offs, holidays)"]}
        )
    return HALF if half_day else Decimal(days)


def _check_overlap(request: LeaveRequest) -> None:
    clash = db_session().scalar(
        select(LeaveRequest.id).where(
            LeaveRequest.employee_id == request.employee_id,
            LeaveRequest.status.in_(("pending", "approved")),
            LeaveRequest.from_date <= request.to_date,
            LeaveRequest.to_date >= request.from_date,
            LeaveRequest.id != request.id,
        )
    )
    if clash is not None:
        raise UdyogError(
            "overlapping leave",
            status=409,
            errors={"from_date": ["another pending or approved request covers these dates"]},
        )


def request_leave(data: dict[str, Any]) -> LeaveRequest:
    """Ask for leave (for oneself, or with ``hr.leave_request.approve_any`` for anyone); routed to the manager."""
    employee = _employee(data.get("employee_id"))
    leave_type = _leave_type(data["leave_type_id"])
    start, end = data["from_date"], data["to_date"]
    if start < employee.date_of_joining or (employee.date_of_leaving is not None and end > employee.date_of_leaving):
        raise UdyogError("not employed", status=422, errors={"from_date": ["outside the employee's employment"]})
    half = bool(data.get("half_day"))
    request = LeaveRequest(
        employee_id=employee.id,
        leave_type_id=leave_type.id,
        from_date=start,
        to_date=end,
        half_day=half,
        days=leave_days(employee, start, end, half),
        reason=data.get("reason") or "",
        status="pending",
        approver_user_id=employee.manager_user_id,
    )
    db_session().add(request)
    db_session().flush()
    _check_overlap(request)
    emit(
        "hr.leave_request.created",
        {"leave_request_id": str(request.id), "employee_id": str(employee.id), "approver_user_id":
         str(request.approver_user_id) if request.approver_user_id else None},
    )  # fmt: skip
    return request


def _may_change(request: LeaveRequest) -> None:
    me = current_user()
    if me is None or me.can(APPROVE_ANY):
        return
    own = db_session().scalar(select(Employee.user_id).where(Employee.id == request.employee_id))
    if own != me.user_id:
        raise UdyogError(
            "not your request", status=403, errors={"employee_id": ["only the employee or HR may change it"]}
        )


def change_leave(request: LeaveRequest, data: dict[str, Any]) -> LeaveRequest:
    """Change a pending request (its employee or HR): the days are counted again."""
    if request.status != "pending":
        raise UdyogError("decided", status=409, errors={"status": [f"the request is {request.status}"]})
    _may_change(request)
    values = {k: v for k, v in data.items() if k != "version"}
    merged = {
        "from_date": values.get("from_date", request.from_date),
        "to_date": values.get("to_date", request.to_date),
        "half_day": values.get("half_day", request.half_day),
    }
    from .schemas import check_leave_range  # the same rules as a new request

    try:
        check_leave_range(merged)
    except ma.ValidationError as exc:
        raise UdyogError(
            "invalid leave request", status=422, errors=flatten_messages(exc.normalized_messages())
        ) from exc
    if "leave_type_id" in values:
        request.leave_type_id = _leave_type(values["leave_type_id"]).id
    request.from_date, request.to_date, request.half_day = merged["from_date"], merged["to_date"], merged["half_day"]
    if "reason" in values:
        request.reason = values["reason"] or ""
    employee = db_session().scalar(select(Employee).where(Employee.id == request.employee_id))
    assert employee is not None
    request.days = leave_days(employee, request.from_date, request.to_date, request.half_day)
    db_session().flush()
    _check_overlap(request)
    return request


def leave_balances(employee_ids: Iterable[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    """Each employee's balance per leave type: allocated (credits), taken (approved), pending, balance.

    Three grouped queries, whatever the number of employees; an employee
    appears with every active leave type they have any movement of.
    """
    session = db_session()
    wanted = None if employee_ids is None else list(employee_ids)
    allocated: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(lambda: ZERO)
    taken: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(lambda: ZERO)
    pending: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(lambda: ZERO)
    credits = select(LeaveAllocation.employee_id, LeaveAllocation.leave_type_id, LeaveAllocation.days)
    requests = select(
        LeaveRequest.employee_id, LeaveRequest.leave_type_id, LeaveRequest.days, LeaveRequest.status
    ).where(LeaveRequest.status.in_(("pending", "approved")))
    for chunk in [None] if wanted is None else _chunks(wanted):
        c = credits if chunk is None else credits.where(LeaveAllocation.employee_id.in_(chunk))
        for employee_id, type_id, days in session.execute(c):
            allocated[(employee_id, type_id)] += days
        r = requests if chunk is None else requests.where(LeaveRequest.employee_id.in_(chunk))
        for employee_id, type_id, days, status in session.execute(r):
            (taken if status == "approved" else pending)[(employee_id, type_id)] += days
    names = {tid: name for tid, name in session.execute(select(LeaveType.id, LeaveType.name))}
    keys = sorted(set(allocated) | set(taken) | set(pending), key=lambda k: (str(k[0]), names.get(k[1], "")))
    return [
        {
            "employee_id": employee_id,
            "leave_type_id": type_id,
            "leave_type": names.get(type_id, ""),
            "allocated": allocated[(employee_id, type_id)],
            "taken": taken[(employee_id, type_id)],
            "pending": pending[(employee_id, type_id)],
            "balance": allocated[(employee_id, type_id)] - taken[(employee_id, type_id)],
        }
        for employee_id, type_id in keys
        if type_id in names
    ]


def leave_balance(employee_id: uuid.UUID, leave_type_id: uuid.UUID) -> Decimal:
    """What is left of one leave type: credits less approved leave."""
    for row in leave_balances([employee_id]):
        if row["leave_type_id"] == leave_type_id:
            return row["balance"]
    return ZERO


def _decide(request: LeaveRequest, version: int, *, cancelling: bool = False) -> uuid.UUID | None:
    check_version(request, version)
    me = current_user()
    my_id = me.user_id if me is not None else None
    if cancelling:
        if request.status not in ("pending", "approved"):
            raise UdyogError("not open", status=409, errors={"status": [f"the request is {request.status}"]})
        _may_change(request)
        return my_id
    if request.status != "pending":
        raise UdyogError("decided", status=409, errors={"status": [f"the request is {request.status}"]})
    if me is None:
        return None
    own = db_session().scalar(select(Employee.user_id).where(Employee.id == request.employee_id))
    if own == me.user_id:
        raise UdyogError(
            "not your own", status=403, errors={"approver_user_id": ["nobody decides their own leave request"]}
        )
    if not me.can(APPROVE_ANY) and request.approver_user_id != me.user_id:
        raise UdyogError(
            "not the approver",
            status=403,
            errors={"approver_user_id": ["only the employee's manager or an HR Manager decides this request"]},
        )
    return my_id


def approve_leave(request: LeaveRequest, version: int, note: str = "") -> LeaveRequest:
    """Approve a pending request (its manager or an HR Manager); paid leave needs the balance (409 naming ``days``)."""
    decider = _decide(request, version)
    leave_type = db_session().scalar(select(LeaveType).where(LeaveType.id == request.leave_type_id))
    if leave_type is not None and leave_type.paid:
        left = leave_balance(request.employee_id, request.leave_type_id)
        if request.days > left:
            raise UdyogError(
                "not enough leave",
                status=409,
                errors={"days": [f"{request.days} days asked, {left} days of {leave_type.name} left"]},
            )
    _check_overlap(request)
    _set_decision(request, "approved", decider, note)
    emit("hr.leave_request.approved", {"leave_request_id": str(request.id), "employee_id": str(request.employee_id)})
    return request


def reject_leave(request: LeaveRequest, version: int, note: str = "") -> LeaveRequest:
    """Reject a pending request (its manager or an HR Manager)."""
    _set_decision(request, "rejected", _decide(request, version), note)
    emit("hr.leave_request.rejected", {"leave_request_id": str(request.id), "employee_id": str(request.employee_id)})
    return request


def cancel_leave(request: LeaveRequest, version: int, note: str = "") -> LeaveRequest:
    """Withdraw a pending or approved request (its employee or HR); approved days return to the balance."""
    _set_decision(request, "cancelled", _decide(request, version, cancelling=True), note)
    emit("hr.leave_request.cancelled", {"leave_request_id": str(request.id), "employee_id": str(request.employee_id)})
    return request


def _set_decision(request: LeaveRequest, status: str, decider: uuid.UUID | None, note: str) -> None:
    request.status = status
    request.decided_by = decider
    request.decided_at = utcnow()
    request.decision_note = note or ""
    db_session().flush()


def accrue_leave(year: int, month: int) -> int:
    """Credit each leave type's monthly accrual to every employee employed in the month (idempotent).

    Once per employee, leave type and month (``period`` ``YYYY-MM``); a type
    with ``max_balance`` credits only up to it. Set-based: a few queries and
    one bulk insert. Returns how many credits were written.
    """
    first, last = month_bounds(year, month)
    period = f"{year:04d}-{month:02d}"
    session = db_session()
    types = list(
        session.execute(
            select(LeaveType.id, LeaveType.monthly_accrual, LeaveType.max_balance).where(
                LeaveType.active.is_(True), LeaveType.monthly_accrual > 0
            )
        )
    )
    if not types:
        return 0
    employees = list(
        session.scalars(
            select(Employee.id).where(
                Employee.active.is_(True),
                Employee.date_of_joining <= last,
                or_(Employee.date_of_leaving.is_(None), Employee.date_of_leaving >= first),
            )
        )
    )
    done = set(
        session.execute(
            select(LeaveAllocation.employee_id, LeaveAllocation.leave_type_id).where(LeaveAllocation.period == period)
        )
    )
    capped = any(cap is not None for _t, _a, cap in types)
    balances = {(r["employee_id"], r["leave_type_id"]): r["balance"] for r in leave_balances()} if capped else {}
    rows: list[dict[str, Any]] = []
    for employee_id in employees:
        for type_id, accrual, cap in types:
            if (employee_id, type_id) in done:
                continue
            credit = accrual
            if cap is not None:
                credit = max(ZERO, min(accrual, cap - balances.get((employee_id, type_id), ZERO)))
            rows.append(
                {
                    "employee_id": employee_id,
                    "leave_type_id": type_id,
                    "days": credit,
                    "kind": "accrual",
                    "period": period,
                    "note": "" if credit == accrual else f"capped at {cap} days",
                }
            )
    if rows:
        session.execute(insert(LeaveAllocation), rows)
    emit("hr.leave.accrued", {"period": period, "credited": len(rows)})
    return len(rows)


# -- set-up ----------------------------------------------------------------------------------------

#: Leave types a tenant starts with: code, name, paid, days accrued a month, most days held.
DEFAULT_LEAVE_TYPES: tuple[tuple[str, str, bool, str, str | None], ...] = (
    ("CL", "Casual leave", True, "0.50", "6"),
    ("SL", "Sick leave", True, "0.50", "12"),
    ("EL", "Earned leave", True, "1.25", "45"),
    ("LWP", "Leave without pay", False, "0", None),
)


def seed_defaults(session: Any) -> int:
    """Add the default leave types and the "General" shift to a tenant that has none (idempotent)."""
    added = 0
    if session.scalar(select(LeaveType.id).limit(1)) is None:
        for code, name, paid, accrual, cap in DEFAULT_LEAVE_TYPES:
            session.add(
                LeaveType(
                    code=code,
                    name=name,
                    paid=paid,
                    monthly_accrual=Decimal(accrual),
                    max_balance=None if cap is None else Decimal(cap),
                )
            )
            added += 1
    if session.scalar(select(Shift.id).limit(1)) is None:
        session.add(Shift(name="General", start_time=dt.time(9, 30), end_time=dt.time(18, 0), weekly_offs="7"))
        added += 1
    session.flush()
    return added


def accrue_task(ctx: Any, year: int | None = None, month: int | None = None) -> dict[str, Any]:
    """The task ``hr.accrue_leave``: accrue a month (by default the one before the tenant's today).

    Scheduled on the 1st of every month for every tenant with hr; idempotent,
    so a retried or repeated run credits nothing twice. Returns the period
    and how many credits were written (kept as the run's result).
    """
    from udyog_sdk.formatting import tenant_today

    if year is None or month is None:
        previous = tenant_today().replace(day=1) - dt.timedelta(days=1)
        year, month = previous.year, previous.month
    credited = accrue_leave(year, month)
    return {"period": f"{year:04d}-{month:02d}", "credited": credited}
