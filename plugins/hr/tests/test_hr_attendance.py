"""Attendance over HTTP: GPS check-in against a branch's geofence, check-out, own records only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hr_kit import make_employee

from udyog_hr.services import distance_m

pytestmark = pytest.mark.udyog_plugins("hr")

CHECK_IN = "/api/v1/hr/attendance/check-in"
CHECK_OUT = "/api/v1/hr/attendance/check-out"
ATTENDANCE = "/api/v1/hr/attendance"


def test_distance_is_the_great_circle_in_metres():
    assert distance_m(Decimal("18.52"), Decimal("73.85"), Decimal("18.521"), Decimal("73.85")) == Decimal("111.20")
    assert distance_m(Decimal("18.52"), Decimal("73.85"), Decimal("18.52"), Decimal("73.85")) == 0


@pytest.fixture
def staff(udyog_client, udyog_user_factory, udyog_client_factory):
    """Two employees with the Employee role at the Pune branch, which has a 200 m geofence."""
    branch = udyog_client.post("/api/v1/core/branches", json={"code": "PUN", "name": "Pune"}, expect=201).data
    udyog_client.post(
        "/api/v1/hr/geofences",
        json={"branch_id": branch["id"], "latitude": "18.520000", "longitude": "73.850000", "radius_m": 200},
        expect=201,
    )
    people = {}
    for name in ("asha", "bala"):
        login = udyog_user_factory(roles=["Employee"], email=f"{name}@acme.example")
        record = make_employee(udyog_client, name=name.title(), branch_id=branch["id"], user_id=str(login.id))
        people[name] = (udyog_client_factory(login), record)
    return people


def test_check_in_inside_and_outside_the_geofence_then_check_out(staff):
    asha, asha_record = staff["asha"]
    bala, _bala_record = staff["bala"]
    inside = asha.post(CHECK_IN, json={"latitude": "18.520400", "longitude": "73.850000", "accuracy_m": 15}, expect=200)
    assert inside.data["check_in_outside"] is False
    assert inside.data["employee_id"] == asha_record["id"]
    assert inside.data["source"] == "gps"
    assert Decimal(inside.data["check_in_distance_m"]) == Decimal("44.48")
    again = asha.post(CHECK_IN, json={}, expect=409)
    assert set(again.errors) == {"check_in_at"}

    far = bala.post(CHECK_IN, json={"latitude": "18.538000", "longitude": "73.850000", "accuracy_m": "25"}, expect=200)
    assert far.data["check_in_outside"] is True
    assert far.message == "checked in outside the geofence"
    # A poor fix whose circle reaches into the fence is not flagged.
    closed = asha.post(CHECK_OUT, json={"latitude": "18.530000", "longitude": "73.850000", "accuracy_m": 1000})
    assert closed.status == 200
    assert closed.data["check_out_outside"] is False
    assert closed.data["worked_hours"] == "0.00"
    assert closed.data["status"] == "absent"  # checked out at once: no hours worked
    asha.post(CHECK_OUT, json={}, expect=409)


def test_check_in_input_is_checked_field_by_field(staff, udyog_user_factory, udyog_client_factory):
    asha, _ = staff["asha"]
    _, bala_record = staff["bala"]
    assert "longitude" in asha.post(CHECK_IN, json={"latitude": "18.5"}, expect=422).errors
    assert "latitude" in asha.post(CHECK_IN, json={"latitude": "91", "longitude": "73"}, expect=422).errors
    assert "accuracy_m" in asha.post(CHECK_IN, json={"accuracy_m": "5"}, expect=422).errors
    assert "latitude" in asha.post(CHECK_IN, json={"latitude": "18.1234567", "longitude": "73"}, expect=422).errors
    # Someone else's check-in needs hr.attendance.write.
    other = asha.post(CHECK_IN, json={"employee_id": bala_record["id"]})
    assert other.status in (403, 422) and "employee_id" in other.errors
    nobody = udyog_client_factory(udyog_user_factory(roles=["Employee"], email="nobody@acme.example"))
    assert "employee_id" in nobody.post(CHECK_IN, json={}, expect=422).errors


def test_an_employee_reads_only_own_employee_record_and_attendance(staff, udyog_client):
    asha, asha_record = staff["asha"]
    bala, bala_record = staff["bala"]
    asha.post(CHECK_IN, json={}, expect=200)
    bala_day = bala.post(CHECK_IN, json={}, expect=200).data
    asha.get(f"/api/v1/hr/employees/{asha_record['id']}", expect=200)
    asha.get(f"/api/v1/hr/employees/{bala_record['id']}", expect=404)
    assert [e["id"] for e in asha.get("/api/v1/hr/employees", expect=200).data] == [asha_record["id"]]
    asha.get(f"{ATTENDANCE}/{bala_day['id']}", expect=404)
    assert {a["employee_id"] for a in asha.get(ATTENDANCE, expect=200).data} == {asha_record["id"]}
    today = bala_day["attendance_date"]
    summary = asha.get("/api/v1/hr/attendance/summary", params={"year": today[:4], "month": today[5:7]}, expect=200)
    assert [r["employee_id"] for r in summary.data] == [asha_record["id"]]
    # An employee neither edits attendance nor employees.
    asha.patch(f"/api/v1/hr/employees/{asha_record['id']}", json={"name": "X", "version": 1}, expect=403)
    asha.post(ATTENDANCE, json={"employee_id": asha_record["id"], "attendance_date": today}, expect=403)
    # HR sees both.
    assert len(udyog_client.get(ATTENDANCE, expect=200).data) == 2


def test_hr_records_and_corrects_attendance(udyog_client):
    worker = make_employee(udyog_client, name="Worker")
    day = {"employee_id": worker["id"], "attendance_date": "2026-10-05"}
    made = udyog_client.post(
        ATTENDANCE,
        json={**day, "check_in_at": "2026-10-05T03:30:00Z", "check_out_at": "2026-10-05T12:00:00Z"},
        expect=201,
    ).data
    assert (made["source"], made["worked_hours"]) == ("hr", "8.50")
    assert set(udyog_client.post(ATTENDANCE, json=day, expect=409).errors) == {"attendance_date"}
    backwards = udyog_client.patch(
        f"{ATTENDANCE}/{made['id']}", json={"check_out_at": "2026-10-05T01:00:00Z", "version": made["version"]}
    )
    assert backwards.status == 422 and "check_out_at" in backwards.errors
    half = udyog_client.patch(f"{ATTENDANCE}/{made['id']}", json={"status": "half_day", "version": made["version"]})
    assert half.status == 200 and half.data["status"] == "half_day"
    summary = udyog_client.get("/api/v1/hr/attendance/summary", params={"year": 2026, "month": 10}, expect=200).data
    assert summary[0]["days_present"] == "0.5"
    assert "month" in udyog_client.get("/api/v1/hr/attendance/summary", params={"year": 2026, "month": 13}).errors
