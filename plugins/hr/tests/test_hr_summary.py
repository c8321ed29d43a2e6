"""The monthly attendance summary payroll reads: worked values, joining mid-month, set-based queries."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from udyog_hr.models import Attendance, Employee, Holiday, LeaveRequest, LeaveType, Shift
from udyog_hr.services import attendance_summary, employee_for_user

pytestmark = pytest.mark.udyog_plugins("hr")

NOV = dt.date(2026, 11, 1)  # a Sunday: Sundays are the 1st, 8th, 15th, 22nd and 29th


def _day(n: int) -> dt.date:
    return NOV.replace(day=n)


def _employee(session, code: str, **values) -> Employee:
    values = {
        "name": code.title(),
        "date_of_joining": dt.date(2024, 4, 1),
        "date_of_birth": dt.date(1990, 5, 17),
        "gender": "female",
        "work_state": "MH",
        **values,
    }
    employee = Employee(code=code, **values)
    session.add(employee)
    session.flush()
    return employee


def _branches(udyog_client) -> tuple[uuid.UUID, uuid.UUID]:
    pune = udyog_client.post("/api/v1/core/branches", json={"code": "PUN", "name": "Pune"}, expect=201).data
    blr = udyog_client.post("/api/v1/core/branches", json={"code": "BLR", "name": "Bengaluru"}, expect=201).data
    return uuid.UUID(pune["id"]), uuid.UUID(blr["id"])


def test_a_month_counts_holidays_offs_work_paid_and_unpaid_leave(udyog_client, udyog_tenant):
    pune, blr = _branches(udyog_client)
    with udyog_tenant.scope() as scope:
        s = scope.session
        casual = LeaveType(code="XCL", name="Extra casual leave", paid=True)
        unpaid = LeaveType(code="XLWP", name="Extra unpaid leave", paid=False)
        five_day = Shift(name="Office", start_time=dt.time(9, 30), end_time=dt.time(18), weekly_offs="6,7")
        s.add_all([casual, unpaid, five_day])
        s.add_all(
            [
                Holiday(holiday_date=_day(9), name="Company day"),
                Holiday(holiday_date=_day(10), name="Pune only", branch_id=pune),
                Holiday(holiday_date=_day(11), name="Bengaluru only", branch_id=blr),
            ]
        )
        asha = _employee(s, "ASHA", branch_id=pune)
        bala = _employee(s, "BALA", branch_id=blr, shift_id=five_day.id, date_of_joining=_day(16))
        gone = _employee(s, "GONE", date_of_leaving=dt.date(2026, 10, 31))
        # Asha: present on every working day but the 2nd (half), the 3rd-5th; also on Sunday the 8th.
        working = [n for n in range(1, 31) if _day(n).isoweekday() != 7 and n not in (9, 10)]
        assert len(working) == 23
        for n in working:
            if n in (3, 5):
                continue
            status = {2: "half_day", 4: "absent"}.get(n, "present")
            s.add(Attendance(employee_id=asha.id, attendance_date=_day(n), status=status))
        s.add(Attendance(employee_id=asha.id, attendance_date=_day(8), status="present"))
        s.flush()
        s.add_all(
            [
                LeaveRequest(employee_id=asha.id, leave_type_id=casual.id, from_date=_day(2), to_date=_day(2),
                             half_day=True, days=Decimal("0.5"), status="approved"),
                LeaveRequest(employee_id=asha.id, leave_type_id=casual.id, from_date=_day(3), to_date=_day(3),
                             days=Decimal("1"), status="approved"),
                LeaveRequest(employee_id=asha.id, leave_type_id=unpaid.id, from_date=_day(4), to_date=_day(4),
                             days=Decimal("1"), status="approved"),
                LeaveRequest(employee_id=asha.id, leave_type_id=casual.id, from_date=_day(5), to_date=_day(5),
                             days=Decimal("1"), status="pending"),
            ]
        )  # fmt: skip
        for n in range(16, 21):
            s.add(Attendance(employee_id=bala.id, attendance_date=_day(n), status="present"))
        s.add(Attendance(employee_id=bala.id, attendance_date=_day(12), status="present"))  # before joining: ignored
        s.flush()

        summary = attendance_summary(2026, 11)
        assert set(summary) == {asha.id, bala.id}
        a = summary[asha.id]
        assert a.days_in_month == 30
        assert (a.holidays, a.weekly_offs) == (2, 5)
        assert a.days_present == Decimal("19.5")
        assert a.paid_leave_days == Decimal("1.5")
        assert a.loss_of_pay_days == Decimal("2")  # unpaid leave on the 4th, nothing approved on the 5th
        assert a.days_payable == Decimal("28")
        b = summary[bala.id]  # joined on the 16th; Saturdays and Sundays off; Bengaluru's holiday was before
        assert (b.holidays, b.weekly_offs) == (0, 4)
        assert (b.days_present, b.loss_of_pay_days, b.days_payable) == (Decimal(5), Decimal(6), Decimal(9))

        chosen = attendance_summary(2026, 11, [gone.id, bala.id, uuid.uuid4()])
        assert set(chosen) == {gone.id, bala.id}
        assert chosen[bala.id] == b
        g = chosen[gone.id]
        assert (g.days_payable, g.loss_of_pay_days, g.weekly_offs, g.days_in_month) == (Decimal(0), Decimal(0), 0, 30)
        october = attendance_summary(2026, 10, [gone.id])[gone.id]  # employed all October, never came
        assert (october.days_payable, october.loss_of_pay_days, october.weekly_offs) == (4, 27, 4)
        scope.session.rollback()


def test_the_summary_is_set_based(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        few = [_employee(s, f"E{n:03}") for n in range(2)]
        s.add(Attendance(employee_id=few[0].id, attendance_date=_day(2), status="present"))
        s.flush()
        engine = s.get_bind()
        engine = getattr(engine, "engine", engine)
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            attendance_summary(2026, 11)
            with_few = len(statements)
            for n in range(2, 40):
                _employee(s, f"E{n:03}")
            s.flush()
            statements.clear()
            summary = attendance_summary(2026, 11)
            assert len(summary) == 40
            assert len(statements) == with_few
            statements.clear()
            attendance_summary(2026, 11, [e.id for e in few])
            assert len(statements) == with_few
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert summary[few[0].id].days_present == 1
        assert summary[few[1].id].loss_of_pay_days == 25  # 30 days, 5 Sundays, never came
        s.rollback()


def test_employee_for_user_finds_the_active_employee_of_a_login(udyog_tenant, udyog_user):
    with udyog_tenant.scope() as scope:
        assert employee_for_user(udyog_user.id) is None
        mine = _employee(scope.session, "MINE", user_id=udyog_user.id)
        assert employee_for_user(udyog_user.id) is mine
        mine.active = False
        scope.session.flush()
        assert employee_for_user(udyog_user.id) is None
        assert scope.session.scalar(select(Employee.code).where(Employee.user_id == udyog_user.id)) == "MINE"
        scope.session.rollback()
