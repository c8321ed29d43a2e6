"""Shared set-up of the hr tests: employees made through the API."""

from __future__ import annotations

from typing import Any

EMPLOYEES = "/api/v1/hr/employees"


def employee(**values: Any) -> dict[str, Any]:
    """A valid employee body (Pune, Maharashtra), changed by ``values``."""
    body = {
        "name": "Asha Patil",
        "date_of_joining": "2024-04-01",
        "date_of_birth": "1994-08-12",
        "gender": "female",
        "work_state": "MH",
        "pan": "abcpe1234f",
        "uan": "100200300400",
        "esi_number": "3100123456",
        "bank_account_number": "50100234567890",
        "bank_ifsc": "hdfc0001234",
    }
    body.update(values)
    return body


def make_employee(client: Any, **values: Any) -> dict[str, Any]:
    """Create an employee through the API (201) and return it."""
    return client.post(EMPLOYEES, json=employee(**values), expect=201).data
