"""Demo data of payroll for ``udyog demo``: salaries for hr's demo employees and last month's run, approved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_hr.models import Employee
from udyog_sdk import db_session
from udyog_sdk.formatting import tenant_today

from . import services
from .models import Assignment, Run, Structure

#: Monthly gross by position in the employee list (cycled): from ESI-covered wages to a taxable salary.
GROSSES = (
    Decimal("18000"),
    Decimal("24000"),
    Decimal("35000"),
    Decimal("52000"),
    Decimal("110000"),
    Decimal("15500"),
    Decimal("42000"),
)


def load(progress: Any = None) -> None:
    """Assign the standard structure to every employee without a salary, then compute and approve last month.

    Idempotent: employees with an assignment keep it; a month with a run is left alone.
    """
    services.seed_rules()
    services.seed_structure()
    session = db_session()
    structure = session.scalar(select(Structure).where(Structure.code == "STANDARD"))
    if structure is None:
        return
    assigned = set(session.scalars(select(Assignment.employee_id)))
    employees = list(session.scalars(select(Employee).where(Employee.active.is_(True)).order_by(Employee.code)))
    for index, employee in enumerate(employees):
        if employee.id in assigned:
            continue
        session.add(
            Assignment(
                employee_id=employee.id,
                structure_id=structure.id,
                effective_from=max(employee.date_of_joining, dt.date(2025, 4, 1)),
                monthly_gross=GROSSES[index % len(GROSSES)],
                tax_regime="old" if index % 5 == 4 else "new",
            )
        )
    session.flush()
    if not employees:
        return
    first_of_this_month = tenant_today().replace(day=1)
    last_month = first_of_this_month - dt.timedelta(days=1)
    if session.scalar(select(Run.id).where(Run.year == last_month.year, Run.month == last_month.month)) is None:
        run = services.create_run(last_month.year, last_month.month, note="Demo run")
        services.compute_run(run)  # loss of pay from hr's demo attendance of that month
        services.approve_run(run)
    if progress is not None:
        progress(f"payroll: {len(employees)} salaries, the run of {last_month:%B %Y}")
