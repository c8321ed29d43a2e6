"""The payroll plugin's vigilance rule (contributed through ``vigilance_rules`` when vigilance is installed).

This module never imports vigilance: the hook hands over the ``rule``
factory, and ``evaluate(ctx)`` reads payroll's own tables: two queries per
run, whatever its number of employees. See docs/payroll.md, "Vigilance rules".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from udyog_sdk import db_session
from udyog_sdk.i18n import lazy_gettext as _l

from .models import Payslip, Run

NET_PAY_CHANGE = "payroll.net_pay_change"
RELEASED = ("approved", "paid")
HUNDRED = Decimal(100)


def previous_net_pay(employee_ids_of_run: Any, before: int) -> dict[uuid.UUID, tuple[Decimal, int, int]]:
    """employee → (net pay, year, month) of their latest approved or paid payslip before month ordinal ``before``.

    One query: a window over the released payslips of the run's employees (a subquery, never an id list).
    """
    ordinal = Payslip.year * 12 + Payslip.month - 1
    ranked = (
        select(
            Payslip.employee_id,
            Payslip.net_pay,
            Payslip.year,
            Payslip.month,
            func.row_number()
            .over(partition_by=Payslip.employee_id, order_by=(Payslip.year.desc(), Payslip.month.desc()))
            .label("rank"),
        )
        .join(Run, Run.id == Payslip.run_id)
        .where(Run.state.in_(RELEASED), ordinal < before, Payslip.employee_id.in_(employee_ids_of_run))
        .subquery()
    )
    rows = db_session().execute(
        select(ranked.c.employee_id, ranked.c.net_pay, ranked.c.year, ranked.c.month).where(ranked.c.rank == 1)
    )
    return {row.employee_id: (Decimal(row.net_pay), row.year, row.month) for row in rows}


def check_net_pay(ctx: Any) -> None:
    """Employees of a computed or approved run whose net pay moved more than ``percent`` % from their last released one.

    One alert per employee and month (subject ``employee:<id>:<yyyy-mm>``); a
    recomputation that brings an employee back within the threshold clears theirs.
    """
    if ctx.event is None:
        return
    try:
        run_id = uuid.UUID(str(ctx.event.payload.get("run_id")))
    except ValueError:
        return
    session = db_session()
    run = session.execute(select(Run.year, Run.month, Run.state).where(Run.id == run_id)).first()
    if run is None or run.state not in ("computed", *RELEASED):
        return
    percent = Decimal(ctx.thresholds["percent"])
    period = f"{run.year}-{run.month:02d}"
    slips = session.execute(
        select(Payslip.employee_id, Payslip.employee_code, Payslip.employee_name, Payslip.net_pay).where(
            Payslip.run_id == run_id
        )
    ).all()
    of_run = aliased(Payslip)  # not correlated with the outer payslips
    previous = previous_net_pay(
        select(of_run.employee_id).where(of_run.run_id == run_id), run.year * 12 + run.month - 1
    )
    current = set()
    for employee_id, code, name, net_pay in slips:
        before = previous.get(employee_id)
        if before is None:
            continue  # a first payslip: nothing to compare with
        old, year, month = before
        net_pay = Decimal(net_pay)
        subject = f"employee:{employee_id}:{period}"
        if old == 0:
            change = HUNDRED if net_pay != 0 else Decimal(0)
        else:
            change = ((net_pay - old) * HUNDRED / old).quantize(Decimal("0.1"))
        if abs(change) <= percent:
            continue
        current.add(subject)
        ctx.raise_alert(
            subject,
            f"{code} {name}: net pay {'up' if change > 0 else 'down'} {abs(change)}% in {period} (₹{old} → ₹{net_pay})",
            detail=f"Previous released payslip: {year}-{month:02d}, net ₹{old}. Alert above {percent}%.",
            link=f"/payroll/runs/{run_id}",
            data={
                "employee_id": str(employee_id),
                "run_id": str(run_id),
                "previous_net_pay": str(old),
                "net_pay": str(net_pay),
                "change_pct": str(change),
            },
        )
    # recomputed: employees back within the threshold for this month
    for subject in sorted(s for s in ctx.live_subjects() - current if s.endswith(f":{period}")):
        ctx.clear(subject)


def rules(rule: Callable[..., Any]) -> list[Any]:
    """payroll's rule, built with vigilance's ``rule`` factory."""
    return [
        rule(
            key=NET_PAY_CHANGE,
            title=_l("Net pay changed sharply"),
            description=(
                "When a payroll run is computed or approved: each employee whose net pay differs by more than "
                "percent from their previous approved payslip (one alert per employee and month)."
            ),
            events=("payroll.run.computed", "payroll.run.approved"),
            evaluate=check_net_pay,
            severity="warning",
            thresholds={"percent": Decimal("25")},
            roles=("Payroll Officer",),
        ),
    ]
