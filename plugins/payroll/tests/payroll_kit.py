"""Helpers shared by payroll's tests: employees (hr's published model), a structure, salaries, runs."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_hr.models import Employee
from udyog_payroll import services
from udyog_payroll.models import Assignment, Run, Structure

#: The INDIA.md example's split: basic 8,000 + DA 2,000 = PF wages 10,000 of a gross of 18,000.
EXAMPLE_LINES = [
    {"component": "BASIC", "amount": Decimal("8000"), "formula": None},
    {"component": "DA", "amount": Decimal("2000"), "formula": None},
    {"component": "HRA", "amount": None, "formula": "round(BASIC * 0.4)"},
    {"component": "SPECIAL", "amount": None, "formula": "GROSS - BASIC - DA - HRA"},
]


def employee(session: Any, code: str, **values: Any) -> Employee:
    """An employee of hr (Maharashtra, a man born in 1990, joined in 2020, unless told otherwise)."""
    values = {
        "name": code.title(),
        "date_of_joining": dt.date(2020, 1, 1),
        "date_of_birth": dt.date(1990, 5, 17),
        "gender": "male",
        "work_state": "MH",
        "uan": "1001" + str(abs(hash(code)) % 10**8).zfill(8),
        "bank_account_number": "5000" + str(abs(hash(code)) % 10**8).zfill(8),
        "bank_ifsc": "HDFC0001234",
        **values,
    }
    row = Employee(code=code, **values)
    session.add(row)
    session.flush()
    return row


def standard() -> Structure:
    """The seeded ``STANDARD`` structure."""
    from udyog_sdk import db_session

    return db_session().scalar(select(Structure).where(Structure.code == "STANDARD"))


def example_structure() -> Structure:
    """A structure with fixed basic and DA (the INDIA.md example's PF wages)."""
    return services.save_structure({"code": "EXAMPLE", "name": "Example", "lines": EXAMPLE_LINES})


def assign(
    employee_id: uuid.UUID, structure: Structure, gross: str, since: dt.date = dt.date(2025, 4, 1), **values: Any
) -> Assignment:
    """A salary from ``since``."""
    return services.save_assignment(
        {
            "employee_id": employee_id,
            "structure_id": structure.id,
            "effective_from": since,
            "monthly_gross": Decimal(gross),
            **values,
        }
    )


def run_month(year: int, month: int, *, approve: bool = True, attendance_lop: bool = False) -> Run:
    """Create, compute (every day employed paid unless ``attendance_lop``) and approve a month."""
    run = services.create_run(year, month)
    services.compute_run(run, attendance_lop=attendance_lop)
    if approve:
        services.approve_run(run)
    return run
