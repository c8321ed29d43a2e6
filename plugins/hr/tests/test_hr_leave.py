"""Leave over HTTP: days counted, routed to the manager, balances, approval rules, accrual."""

from __future__ import annotations

import pytest
from hr_kit import make_employee

pytestmark = pytest.mark.udyog_plugins("hr")

REQUESTS = "/api/v1/hr/leave-requests"
ALLOCATIONS = "/api/v1/hr/leave-allocations"
# October 2026: Monday the 5th; Sunday the 11th; Gandhi Jayanti on Friday the 2nd.


@pytest.fixture
def team(udyog_client, udyog_user_factory, udyog_client_factory):
    """A manager and a worker reporting to them, and an outsider: all with the Employee role only."""
    out = {}
    manager_id = None
    for name in ("manager", "worker", "outsider"):
        login = udyog_user_factory(roles=["Employee"], email=f"{name}@acme.example")
        boss = manager_id if name == "worker" else None
        record = make_employee(udyog_client, name=name.title(), user_id=str(login.id), manager_id=boss)
        manager_id = manager_id or record["id"]
        out[name] = (udyog_client_factory(login), record, login)
    types = {t["code"]: t for t in udyog_client.get("/api/v1/hr/leave-types", expect=200).data}
    out["types"] = types
    udyog_client.post("/api/v1/hr/holidays", json={"holiday_date": "2026-10-02", "name": "Gandhi Jayanti"}, expect=201)
    return out


def test_a_request_is_counted_routed_to_the_manager_and_decided_by_them(team, udyog_client):
    manager, _, manager_login = team["manager"]
    worker, worker_record, _ = team["worker"]
    outsider, _, _ = team["outsider"]
    cl = team["types"]["CL"]["id"]
    udyog_client.post(ALLOCATIONS, json={"employee_id": worker_record["id"], "leave_type_id": cl, "days": "2",
                                         "kind": "opening"}, expect=201)  # fmt: skip
    # Thursday 1st to Monday 5th: the 2nd is a holiday, the 4th a Sunday: 3 days (1st, 3rd, 5th).
    asked = worker.post(REQUESTS, json={"leave_type_id": cl, "from_date": "2026-10-01", "to_date": "2026-10-05",
                                        "reason": "Wedding"}, expect=201).data  # fmt: skip
    assert (asked["days"], asked["status"]) == ("3.00", "pending")
    assert asked["employee_id"] == worker_record["id"]
    assert asked["approver_user_id"] == str(manager_login.id)
    clash = worker.post(REQUESTS, json={"leave_type_id": cl, "from_date": "2026-10-05", "to_date": "2026-10-05"})
    assert clash.status == 409 and "from_date" in clash.errors

    # The outsider neither sees nor decides it; the worker cannot approve their own.
    outsider.get(f"{REQUESTS}/{asked['id']}", expect=404)
    outsider.post(f"{REQUESTS}/{asked['id']}/approve", json={"version": asked["version"]}, expect=404)
    own = worker.post(f"{REQUESTS}/{asked['id']}/approve", json={"version": asked["version"]}, expect=403)
    assert "approver_user_id" in own.errors

    # Two days of casual leave left: 409 naming days; one more credited, then approved.
    short = manager.post(f"{REQUESTS}/{asked['id']}/approve", json={"version": asked["version"]}, expect=409)
    assert "days" in short.errors
    udyog_client.post(ALLOCATIONS, json={"employee_id": worker_record["id"], "leave_type_id": cl, "days": "1"},
                      expect=201)  # fmt: skip
    approved = manager.post(f"{REQUESTS}/{asked['id']}/approve", json={"version": asked["version"], "note": "Enjoy"})
    assert approved.status == 200 and approved.data["status"] == "approved"
    assert manager.get(REQUESTS, expect=200).data[0]["id"] == asked["id"]
    again = manager.post(f"{REQUESTS}/{asked['id']}/reject", json={"version": approved.data["version"]}, expect=409)
    assert "status" in again.errors

    balances = {b["leave_type"]: b for b in worker.get("/api/v1/hr/leave-balances", expect=200).data}
    assert (balances["Casual leave"]["allocated"], balances["Casual leave"]["balance"]) == ("3.00", "0.00")
    summary = udyog_client.get("/api/v1/hr/attendance/summary", params={"year": 2026, "month": 10, "employee_id":
                               worker_record["id"]}, expect=200).data  # fmt: skip
    assert (summary[0]["paid_leave_days"], summary[0]["holidays"]) == ("3", 1)

    cancelled = worker.post(f"{REQUESTS}/{asked['id']}/cancel", json={"version": approved.data["version"]}, expect=200)
    assert cancelled.data["status"] == "cancelled"
    balances = {b["leave_type"]: b for b in worker.get("/api/v1/hr/leave-balances", expect=200).data}
    assert balances["Casual leave"]["balance"] == "3.00"


def test_leave_input_is_checked_field_by_field(team):
    worker, _, _ = team["worker"]
    _, outsider_record, _ = team["outsider"]
    cl = team["types"]["CL"]["id"]
    base = {"leave_type_id": cl, "from_date": "2026-10-05", "to_date": "2026-10-06"}
    assert "to_date" in worker.post(REQUESTS, json={**base, "to_date": "2026-10-01"}, expect=422).errors
    assert "half_day" in worker.post(REQUESTS, json={**base, "half_day": True}, expect=422).errors
    sunday = worker.post(REQUESTS, json={**base, "from_date": "2026-10-11", "to_date": "2026-10-11"}, expect=422)
    assert "to_date" in sunday.errors
    someone_else = worker.post(REQUESTS, json={**base, "employee_id": outsider_record["id"]})
    assert someone_else.status in (403, 422) and "employee_id" in someone_else.errors
    missing_type = worker.post(REQUESTS, json={**base, "leave_type_id": outsider_record["id"]}, expect=422)
    assert "leave_type_id" in missing_type.errors
    half = worker.post(REQUESTS, json={**base, "to_date": "2026-10-05", "half_day": True}, expect=201).data
    assert half["days"] == "0.50"
    moved = worker.patch(f"{REQUESTS}/{half['id']}", json={"to_date": "2026-10-07", "version": half["version"]})
    assert moved.status == 422 and "half_day" in moved.errors
    whole = worker.patch(
        f"{REQUESTS}/{half['id']}",
        json={"to_date": "2026-10-07", "half_day": False, "version": half["version"]},
        expect=200,
    ).data
    assert whole["days"] == "3.00"
    worker.post(ALLOCATIONS, json={"employee_id": whole["employee_id"], "leave_type_id": cl, "days": "9"}, expect=403)


def test_monthly_accrual_is_credited_once_and_capped(team, udyog_client):
    worker, worker_record, _ = team["worker"]
    worker.post(f"{ALLOCATIONS}/accrue", json={"year": 2026, "month": 10}, expect=403)
    first = udyog_client.post(f"{ALLOCATIONS}/accrue", json={"year": 2026, "month": 10}, expect=200).data
    # Three employees, three leave types accrue (CL, SL, EL; leave without pay does not).
    assert first == {"period": "2026-10", "credited": 9}
    assert (
        udyog_client.post(f"{ALLOCATIONS}/accrue", json={"year": 2026, "month": 10}, expect=200).data["credited"] == 0
    )
    el = team["types"]["EL"]["id"]
    udyog_client.post(ALLOCATIONS, json={"employee_id": worker_record["id"], "leave_type_id": el, "days": "43.5"},
                      expect=201)  # fmt: skip
    udyog_client.post(f"{ALLOCATIONS}/accrue", json={"year": 2026, "month": 11}, expect=200)
    balances = {b["leave_type"]: b["balance"] for b in worker.get("/api/v1/hr/leave-balances", expect=200).data}
    assert balances == {
        "Casual leave": "1.00",
        "Sick leave": "1.00",
        "Earned leave": "45.00",
    }  # 44.75 + 0.25 (cap)
    bad = udyog_client.post(f"{ALLOCATIONS}/accrue", json={"year": 2026, "month": 13}, expect=422)
    assert "month" in bad.errors


def test_the_scheduled_task_accrues_the_month_just_ended_once(team, udyog_tenant):
    import datetime as dt

    from udyog_hr.services import accrue_task
    from udyog_sdk.formatting import tenant_today

    with udyog_tenant.scope() as scope:
        first = accrue_task(None)
        previous = tenant_today().replace(day=1) - dt.timedelta(days=1)
        assert first == {"period": f"{previous:%Y-%m}", "credited": 9}
        assert accrue_task(None)["credited"] == 0
        assert accrue_task(None, year=2026, month=1)["period"] == "2026-01"
        scope.session.rollback()
