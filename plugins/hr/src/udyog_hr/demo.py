"""Demo data of the hr plugin: a Pune factory and a Bengaluru depot's people (``udyog demo``, ``make run``).

Departments, a factory shift, holidays, a geofence around the Pune factory,
six employees (the demo owner's login is linked to the Pune plant head, so
the check-in page works for them), opening leave balances, last month's
accrual, attendance for every working day of last month (with GPS check-ins,
one of them outside the fence) and a few leave requests.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import services
from .models import Attendance, Department, Employee, Geofence, Holiday, LeaveAllocation, LeaveRequest, LeaveType, Shift

IST = ZoneInfo("Asia/Kolkata")
DEPARTMENTS = (("PROD", "Production"), ("QA", "Quality"), ("SALES", "Sales"), ("ACC", "Accounts"))
#: name, branch code, department, designation, gender, state, born, joined, manager (name), PAN, bank IFSC.
EMPLOYEES = (
    ("Asha Deshmukh", "PUNE", "PROD", "Plant head", "female", "MH",
      "1978-03-14", "2015-06-01", None, "AFZPD4312K", "HDFC0000123"),
    ("Sunita Jadhav", "PUNE", "QA", "QA executive", "female", "MH",
      "1990-11-02", "2019-01-07", "Asha Deshmukh", "BNCPJ7781L", "SBIN0001234"),
    ("Vijay Kulkarni", "PUNE", "PROD", "Machine operator", "male", "MH",
      "1995-07-21", "2021-08-16", "Asha Deshmukh", "CKHPK2245M", "ICIC0000456"),
    ("Priya Joshi", "PUNE", "ACC", "Accountant", "female", "MH",
      "1992-01-30", "2020-04-01", "Asha Deshmukh", "DLMPJ9012N", "HDFC0000123"),
    ("Lakshmi Rao", "BLR", "SALES", "Depot manager", "female", "KA",
      "1984-09-09", "2017-02-13", None, "ERTPR3390P", "CNRB0002345"),
    ("Manjunath Gowda", "BLR", "SALES", "Sales executive", "male", "KA",
      "1998-05-18", "2023-03-01", "Lakshmi Rao", "FGHPG5567Q", "KARB0000789"),
)  # fmt: skip
#: Holidays of 2026-27: date, name, branch code (None: company-wide).
HOLIDAYS = (
    ("2026-01-26", "Republic Day", None),
    ("2026-05-01", "Maharashtra Day", "PUNE"),
    ("2026-08-15", "Independence Day", None),
    ("2026-09-14", "Ganesh Chaturthi", "PUNE"),
    ("2026-10-02", "Gandhi Jayanti", None),
    ("2026-10-20", "Dussehra", None),
    ("2026-11-01", "Kannada Rajyotsava", "BLR"),
    ("2026-11-09", "Diwali (Balipratipada)", None),
    ("2026-12-25", "Christmas", None),
    ("2027-01-26", "Republic Day", None),
)
PUNE_FACTORY = (Decimal("18.520430"), Decimal("73.856743"))
OPENING = {"CL": Decimal("3"), "SL": Decimal("4"), "EL": Decimal("10")}


def load_demo(session: Any, progress: Any) -> None:
    """Add the demo records unless they are there (checked by the first employee's name)."""
    services.seed_defaults(session)
    if session.scalar(select(Employee.id).where(Employee.name == EMPLOYEES[0][0])) is not None:
        return
    branch_cls = services.core_model("core_branch")
    branches = {b.code: b.id for b in session.scalars(select(branch_cls))}
    departments = {}
    for code, name in DEPARTMENTS:
        departments[code] = Department(code=code, name=name)
        session.add(departments[code])
    factory = Shift(name="Factory", start_time=dt.time(8), end_time=dt.time(16, 30), weekly_offs="7")
    session.add(factory)
    for day, name, branch in HOLIDAYS:
        if branch is None or branch in branches:
            session.add(Holiday(holiday_date=dt.date.fromisoformat(day), name=name, branch_id=branches.get(branch)))
    if "PUNE" in branches:
        session.add(
            Geofence(branch_id=branches["PUNE"], latitude=PUNE_FACTORY[0], longitude=PUNE_FACTORY[1], radius_m=300)
        )
    session.flush()

    owner = _owner_id(session)
    people: dict[str, Employee] = {}
    for n, (name, branch, dept, title, gender, state, born, joined, manager, pan, ifsc) in enumerate(EMPLOYEES):
        employee = Employee(
            code=services.new_employee_code(),
            name=name,
            branch_id=branches.get(branch),
            department_id=departments[dept].id,
            designation=title,
            gender=gender,
            work_state=state,
            date_of_birth=dt.date.fromisoformat(born),
            date_of_joining=dt.date.fromisoformat(joined),
            email=f"{name.split()[0].lower()}@sunrise.example",
            pan=pan,
            uan=f"1012{n:02d}345678",
            esi_number=f"31{n:02d}123456" if dept in ("PROD", "QA") else None,
            bank_account_number=f"5010023{n:04d}789",
            bank_ifsc=ifsc,
            manager_id=people[manager].id if manager else None,
            manager_user_id=people[manager].user_id if manager else None,
            shift_id=factory.id if dept in ("PROD", "QA") else None,
            user_id=owner if n == 0 else None,
        )
        session.add(employee)
        session.flush()
        people[name] = employee
    progress(f"hr: {len(people)} employees in {len(DEPARTMENTS)} departments")

    today = dt.date.today()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last = today.replace(day=1) - dt.timedelta(days=1)
    types = {t.code: t for t in session.scalars(select(LeaveType))}
    for employee in people.values():
        for code, days in OPENING.items():
            if code in types:
                session.add(LeaveAllocation(employee_id=employee.id, leave_type_id=types[code].id, days=days,
                                            kind="opening", note="Opening balance"))  # fmt: skip
    session.flush()
    services.accrue_leave(first.year, first.month)

    sunita, vijay, manjunath = people["Sunita Jadhav"], people["Vijay Kulkarni"], people["Manjunath Gowda"]
    leave_days: dict[Any, set[dt.date]] = {sunita.id: set(), manjunath.id: set()}
    # Sunita took two days of casual leave last month (approved by Asha); Manjunath a sick day.
    for employee, code, offset, length in ((sunita, "CL", 8, 2), (manjunath, "SL", 12, 1)):
        days = services.working_days(employee, first + dt.timedelta(days=offset), last)[:length]
        if days and code in types:
            session.add(LeaveRequest(employee_id=employee.id, leave_type_id=types[code].id, from_date=days[0],
                                     to_date=days[-1], days=Decimal(len(days)), status="approved",
                                     reason="Family function" if code == "CL" else "Fever",
                                     approver_user_id=owner, decided_by=owner))  # fmt: skip
            leave_days[employee.id].update(days)
    upcoming = services.working_days(vijay, today + dt.timedelta(days=7), today + dt.timedelta(days=14))[:1]
    if upcoming and "CL" in types:
        session.add(LeaveRequest(employee_id=vijay.id, leave_type_id=types["CL"].id, from_date=upcoming[0],
                                 to_date=upcoming[0], days=Decimal(1), status="pending", reason="Bank work",
                                 approver_user_id=owner))  # fmt: skip

    rows = 0
    for n, employee in enumerate(people.values()):
        for k, day in enumerate(services.working_days(employee, first, last)):
            if day in leave_days.get(employee.id, ()):
                continue
            if employee is vijay and k == 5:
                continue  # absent without leave: loss of pay
            start = dt.datetime.combine(day, dt.time(8 if employee.shift_id else 9, 20 + (n * 7 + k) % 25), IST)
            hours = (
                dt.timedelta(hours=4, minutes=30)
                if employee is vijay and k == 11
                else dt.timedelta(hours=8, minutes=50)
            )
            row = Attendance(employee_id=employee.id, attendance_date=day, source="manual",
                             check_in_at=start.astimezone(dt.UTC), check_out_at=(start + hours).astimezone(dt.UTC),
                             status="half_day" if hours.total_seconds() < 8 * 3600 else "present",
                             worked_hours=Decimal(hours.total_seconds() / 3600).quantize(Decimal("0.01")))  # fmt: skip
            if employee.branch_id == branches.get("PUNE"):
                # GPS check-ins at the factory; once from 2 km away (flagged outside the geofence).
                far = Decimal("0.018") if k == 3 and n == 2 else Decimal(0)
                lat, lon = PUNE_FACTORY[0] + Decimal("0.0004") + far, PUNE_FACTORY[1] - Decimal("0.0003")
                distance, outside = services.geofence_check(employee.branch_id, lat, lon, Decimal("12"))
                row.source = "gps"
                row.check_in_latitude, row.check_in_longitude, row.check_in_accuracy_m = lat, lon, Decimal("12")
                row.check_in_distance_m, row.check_in_outside = distance, outside
            session.add(row)
            rows += 1
    session.flush()
    progress(f"hr: {rows} attendance days of {first:%B %Y}, leave balances and requests")


def _owner_id(session: Any) -> Any:
    """The demo owner's user id (linked to the plant head), or None."""
    try:
        user_cls = services.core_model("core_user")
    except StopIteration:
        return None
    return session.scalar(select(user_cls.id).where(user_cls.email == "owner@sunrise.example"))
