"""Hook implementations of the ``payroll`` plugin."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from udyog_sdk import (
    JobContext,
    JobFailed,
    Permission,
    RecordRule,
    RoleTemplate,
    SettingsSchema,
    TaskDefinition,
    TenantContext,
    UdyogError,
    hookimpl,
)
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import MenuEntry

PERMISSIONS = (
    Permission("payroll.rule.read", "See the statutory rules (EPF, ESI, professional tax, income tax)"),
    Permission("payroll.rule.write", "Add and change dated statutory rules"),
    Permission("payroll.component.read", "See salary components"),
    Permission("payroll.component.write", "Add and change salary components"),
    Permission("payroll.structure.read", "See salary structures"),
    Permission("payroll.structure.write", "Add and change salary structures"),
    Permission("payroll.assignment.read", "See employees' salary assignments"),
    Permission("payroll.assignment.write", "Assign salaries to employees"),
    Permission("payroll.run.read", "See payroll runs, every payslip and the statements"),
    Permission("payroll.run.write", "Create, compute and delete payroll runs before approval"),
    Permission("payroll.run.approve", "Approve payroll runs (numbers the payslips, locks the run)"),
    Permission("payroll.run.pay", "Mark approved payroll runs paid"),
    Permission("payroll.payslip.read_own", "See one's own payslips (of approved runs)"),
)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """Rules, components, structures, assignments, runs, and one's own payslips."""
    return list(PERMISSIONS)


def _own_payslips(principal: Any) -> Any:
    from udyog_hr.models import Employee

    from .models import Payslip

    mine = select(Employee.id).where(Employee.user_id == principal.user_id, Employee.tenant_id == principal.tenant_id)
    return Payslip.employee_id.in_(mine)


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    """``payroll.own_payslips``: only the payslips of the employee whose login is the user."""
    from .models import Payslip

    return [
        RecordRule(
            "payroll.own_payslips",
            Payslip,
            _own_payslips,
            "Only one's own payslips (the employee whose login is the user)",
        )
    ]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """The payroll officer runs payroll; an employee reads own payslips."""
    return [
        RoleTemplate("Payroll Officer", ("payroll.*",), description="Salary structures, payroll runs and statements"),
        RoleTemplate(
            "Employee",
            ("payroll.payslip.read_own",),
            record_rules=("payroll.own_payslips",),
            description="Own employee record, attendance, leave and payslips",
        ),
    ]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    """Payslip numbers: ``PS/25-26/000001``, restarting each financial year."""
    from .services import SERIES, SERIES_PATTERN

    return [SeriesDefinition(SERIES, "Payslip", SERIES_PATTERN, reset="financial_year", max_length=40)]


class PayrollSettings(ma.Schema):
    """The per-tenant settings of payroll."""

    loss_of_pay_from_attendance = ma.fields.Boolean(
        load_default=True,
        metadata={
            "label": "Loss of pay from attendance",
            "description": "Days without attendance or paid leave are not paid. Off: every day employed is paid.",
        },
    )
    employer_name = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=200),
        metadata={"label": "Employer name on payslips", "description": "Empty: the organisation's name."},
    )
    pf_establishment_code = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=30),
        metadata={"label": "PF establishment code", "description": "Printed on the PF statement."},
    )
    esi_employer_code = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=30),
        metadata={"label": "ESI employer code", "description": "Printed on the ESI statement."},
    )
    debit_account_number = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=30),
        metadata={"label": "Salary account (debit)", "description": "The account the bank transfer file debits."},
    )


@hookimpl
def udyog_settings() -> SettingsSchema:
    """Loss of pay, the employer's name and codes, the salary account."""
    return SettingsSchema(
        PayrollSettings, title="Payroll", description="Loss of pay, statutory codes and the salary account."
    )


@hookimpl
def udyog_tenant_setup(tenant: TenantContext, session: Any) -> None:
    """Seed the statutory rules, the default components and the standard structure (idempotent)."""
    from .services import seed_rules, seed_structure

    seed_rules()
    seed_structure()


def run_compute(ctx: JobContext, run_id: str) -> dict[str, Any]:
    """The background job: compute a payroll run's payslips; the result counts them."""
    import uuid

    from udyog_sdk import db_session

    from .models import Run
    from .services import compute_run

    run = db_session().scalar(select(Run).where(Run.id == uuid.UUID(run_id)))
    if run is None:
        raise JobFailed("the payroll run no longer exists", result={"run_id": run_id})
    period = f"{run.year}-{run.month:02d}"
    ctx.progress(5, f"payroll {period}")
    try:
        result = compute_run(run, progress=lambda percent, message: ctx.progress(percent, message))
    except UdyogError as exc:
        raise JobFailed(f"payroll {period}: {exc}", result={"run_id": run_id}) from None
    return {"run_id": run_id, "period": period, "payslips": result.payslips, "skipped": len(result.skipped)}


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """``payroll.compute_run``: compute a month's payslips."""
    from .services import COMPUTE_TASK

    return [TaskDefinition(COMPUTE_TASK, run_compute, title="Payroll run", max_retries=2, time_limit=1200)]


@hookimpl
def udyog_blueprints() -> list[Any]:
    """The API (``/api/v1/payroll``) and the pages (``/payroll``), fresh."""
    from .api import create_blueprint
    from .pages import create_pages

    return [create_blueprint(), create_pages()]


GROUP = "payroll.root"


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """Payroll runs, structures and one's own payslips."""
    return [
        MenuEntry(GROUP, "Payroll", "", None, weight=60, icon="cash-stack"),
        MenuEntry("payroll.runs", "Payroll runs", "/payroll/runs", "payroll.run.read", 61, GROUP, "calendar-check"),
        MenuEntry(
            "payroll.structures",
            "Salary structures",
            "/payroll/structures",
            "payroll.structure.read",
            62,
            GROUP,
            "diagram-3",
        ),
        MenuEntry(
            "payroll.assignments",
            "Salary assignments",
            "/payroll/assignments",
            "payroll.assignment.read",
            62,
            GROUP,
            "person-badge",
        ),
        MenuEntry("payroll.rules", "Statutory rules", "/payroll/rules", "payroll.rule.read", 63, GROUP, "bank"),
        MenuEntry("payroll.mine", "My payslips", "/payroll/my", "payroll.payslip.read_own", 64, GROUP, "receipt"),
    ]


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """Salaries for hr's demo employees and an approved run for last month (idempotent)."""
    from .demo import load

    load(progress)


@hookimpl(optionalhook=True)
def vigilance_rules(rule: Any) -> list[Any]:
    """``payroll.net_pay_change`` (percent 25) on a run computed or approved (vigilance is optional)."""
    from .alerts import rules

    return rules(rule)
