"""Employees over HTTP: codes from the series, statutory numbers checked, 4xx naming the field."""

from __future__ import annotations

import pytest
from hr_kit import EMPLOYEES, employee, make_employee

pytestmark = pytest.mark.udyog_plugins("hr")


def test_an_employee_gets_a_code_from_the_series_and_normalised_numbers(udyog_client):
    dept = udyog_client.post("/api/v1/hr/departments", json={"code": "PROD", "name": "Production"}, expect=201).data
    first = make_employee(udyog_client, department_id=dept["id"], pan=" abcpe 1234f ")
    second = make_employee(udyog_client, name="Bala", pan=None)
    assert (first["code"], second["code"]) == ("EMP-0001", "EMP-0002")
    assert first["pan"] == "ABCPE1234F"
    assert first["bank_ifsc"] == "HDFC0001234"
    assert first["department_id"] == dept["id"]
    own_code = make_employee(udyog_client, name="Chitra", code="PUN-17")
    assert own_code["code"] == "PUN-17"
    taken = udyog_client.post(EMPLOYEES, json=employee(code="PUN-17"), expect=409)
    assert set(taken.errors) == {"code"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pan", "ABCPE1234"),  # too short
        ("pan", "ABCCE1234F"),  # a company's PAN (4th character C)
        ("pan", "1BCPE1234F"),
        ("uan", "12345"),
        ("esi_number", "31-00-ABC"),
        ("bank_account_number", "12AB"),
        ("bank_ifsc", "HDFC1001234"),  # the 5th character must be 0
        ("work_state", "XX"),
        ("gender", "unknown"),
        ("date_of_leaving", "2024-03-31"),  # before joining
        ("date_of_birth", "2024-04-01"),  # not before joining
        ("name", ""),
    ],
)
def test_bad_input_is_422_naming_the_field(udyog_client, field, value):
    refused = udyog_client.post(EMPLOYEES, json=employee(**{field: value}), expect=422)
    assert field in refused.errors, refused.errors


def test_references_logins_and_managers_are_checked(udyog_client, udyog_user_factory):
    boss = make_employee(udyog_client, name="Boss")
    missing = udyog_client.post(EMPLOYEES, json=employee(manager_id="00000000-0000-7000-8000-000000000000"), expect=422)
    assert "manager_id" in missing.errors
    worker = make_employee(udyog_client, name="Worker", manager_id=boss["id"])
    loop = udyog_client.patch(
        f"{EMPLOYEES}/{boss['id']}", json={"manager_id": worker["id"], "version": boss["version"]}, expect=422
    )
    assert "manager_id" in loop.errors
    self_managed = udyog_client.patch(
        f"{EMPLOYEES}/{boss['id']}", json={"manager_id": boss["id"], "version": boss["version"]}, expect=422
    )
    assert "manager_id" in self_managed.errors
    stranger = udyog_client.post(EMPLOYEES, json=employee(user_id=str(boss["id"])), expect=422)
    assert "user_id" in stranger.errors
    login = udyog_user_factory(roles=["Employee"])
    make_employee(udyog_client, name="Linked", user_id=str(login.id))
    twice = udyog_client.post(EMPLOYEES, json=employee(name="Again", user_id=str(login.id)), expect=409)
    assert set(twice.errors) == {"user_id"}
