"""The hr pages (check-in, summary, leave decision, generic lists), the demo data, and isolation over real HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from hr_kit import make_employee
from sqlalchemy import func, select

from udyog_hr.demo import EMPLOYEES, load_demo
from udyog_hr.models import Attendance, Employee, LeaveRequest
from udyog_hr.services import attendance_summary

pytestmark = pytest.mark.udyog_plugins("hr")
PAGES = (
    "/hr/employees",
    "/hr/attendance",
    "/hr/leave-requests",
    "/hr/leave-types",
    "/hr/holidays",
    "/hr/shifts",
    "/hr/departments",
    "/hr/geofences",
    "/hr/leave-allocations",
    "/hr/employees/new",
    "/hr/shifts/new",
)


@pytest.mark.udyog_user(roles=["Employee"])
def test_an_employee_checks_in_on_the_page_and_cannot_open_a_colleagues_record(
    udyog_web_client, udyog_user, udyog_user_factory, udyog_client_factory
):
    hr = udyog_client_factory(udyog_user_factory(roles=["HR Manager"], email="hr@acme.example"))
    mine = make_employee(hr, name="Mine", user_id=str(udyog_user.id))
    theirs = make_employee(hr, name="Theirs")
    page = udyog_web_client.get("/hr/checkin")
    assert page.status_code == 200 and "Mine" in page.text and "/core/static/geolocate.js" in page.text
    answer = udyog_web_client.submit(
        "/hr/checkin", {"action": "in", "gps_latitude": "18.520000", "gps_longitude": "73.850000"}
    )
    assert answer.status_code == 303
    assert "Checked in today" in udyog_web_client.get("/hr/checkin").text
    bad = udyog_web_client.submit("/hr/checkin", {"action": "in", "gps_latitude": "95", "gps_longitude": "73"})
    assert bad.status_code == 422 and "latitude" in bad.text
    assert udyog_web_client.get(f"/hr/employees/{mine['id']}").status_code == 200
    assert udyog_web_client.get(f"/hr/employees/{theirs['id']}").status_code == 404
    assert udyog_web_client.get("/hr/employees/new").status_code == 403
    assert udyog_web_client.get("/hr/summary").status_code == 200
    assert udyog_web_client.get("/hr/summary?month=14").status_code == 422


def test_hr_pages_and_a_leave_decision_through_the_form(udyog_web_client, udyog_client, udyog_user_factory):
    login = udyog_user_factory(roles=["Employee"], email="asker@acme.example")
    asker = make_employee(udyog_client, name="Asker", user_id=str(login.id))
    types = {t["code"]: t["id"] for t in udyog_client.get("/api/v1/hr/leave-types", expect=200).data}
    request = udyog_client.post(
        "/api/v1/hr/leave-requests",
        json={"employee_id": asker["id"], "leave_type_id": types["LWP"], "from_date": "2026-10-05",
              "to_date": "2026-10-05"},
        expect=201,
    ).data  # fmt: skip
    for path in PAGES:
        assert udyog_web_client.get(path).status_code == 200, path
    detail = udyog_web_client.get(f"/hr/leave-requests/{request['id']}")
    assert detail.status_code == 200 and "leave-approve-form" in detail.text
    done = udyog_web_client.submit(
        f"/hr/leave-requests/{request['id']}/approve", {"version": str(request["version"]), "note": "ok"}
    )
    assert done.status_code == 303
    assert udyog_client.get(f"/api/v1/hr/leave-requests/{request['id']}", expect=200).data["status"] == "approved"
    summary = udyog_web_client.get("/hr/summary?year=2026&month=10")
    assert summary.status_code == 200 and "Asker" in summary.text


@pytest.mark.udyog_user(roles=["Employee"])
def test_over_real_http_one_employee_cannot_read_anothers_records(
    udyog_live_client, udyog_user, udyog_user_factory, udyog_client_factory
):
    udyog_client = udyog_client_factory(udyog_user_factory(roles=["HR Manager"], email="hr@acme.example"))
    mine = make_employee(udyog_client, name="Mine", user_id=str(udyog_user.id))
    other_login = udyog_user_factory(roles=["Employee"], email="other@acme.example")
    theirs = make_employee(udyog_client, name="Theirs", user_id=str(other_login.id))
    day = udyog_client.post(
        "/api/v1/hr/attendance", json={"employee_id": theirs["id"], "attendance_date": "2026-10-05"}, expect=201
    ).data
    udyog_live_client.get(f"/api/v1/hr/employees/{mine['id']}", expect=200)
    udyog_live_client.get(f"/api/v1/hr/employees/{theirs['id']}", expect=404)
    udyog_live_client.get(f"/api/v1/hr/attendance/{day['id']}", expect=404)
    assert udyog_live_client.get("/api/v1/hr/attendance", expect=200).data == []
    assert udyog_live_client.get("/api/v1/hr/leave-balances", params={"employee_id": theirs["id"]}).data == []


def test_demo_data_has_employees_and_last_months_attendance(udyog_tenant):
    with udyog_tenant.scope() as scope:
        lines: list[str] = []
        load_demo(scope.session, lines.append)
        load_demo(scope.session, lines.append)  # idempotent
        s = scope.session
        assert s.scalar(select(func.count()).select_from(Employee)) == len(EMPLOYEES)
        assert s.scalar(select(func.count()).select_from(LeaveRequest)) >= 2
        today = dt.date.today()
        last = today.replace(day=1) - dt.timedelta(days=1)
        assert s.scalar(select(func.count()).select_from(Attendance).where(Attendance.attendance_date <= last)) > 50
        summary = attendance_summary(last.year, last.month)
        assert len(summary) == len(EMPLOYEES)
        assert all(item.days_payable > 0 for item in summary.values())
        assert any(item.loss_of_pay_days > 0 for item in summary.values())
        assert len(lines) == 2
        s.rollback()
