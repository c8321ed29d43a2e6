"""Web pages of payroll (``/payroll``): runs with their actions and files, structures, rules, one's own payslips."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from udyog_hr.models import Employee
from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import flatten_messages
from udyog_sdk.exports import file_response
from udyog_sdk.i18n import gettext as _
from udyog_sdk.pickers import add_choices_route, reference_field
from udyog_sdk.security import requires

from . import documents, services, statutory
from .api import PayrollAssignmentSchema, _settings, run_view, structure_view
from .models import Assignment, Payslip, Run, StatutoryRule, Structure

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The most payslips a run's page lists (the register has them all).
PAGE_ROWS = 200
#: The most assignments the assignments page lists (the API filters by employee).
ASSIGNMENT_ROWS = 300


def _run(record_id: uuid.UUID) -> Run:
    run = db_session().scalar(select(Run).where(Run.id == record_id))
    if run is None:
        raise UdyogError("Run not found", status=404)
    return run


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _act(record_id: uuid.UUID | None, work: Callable[[], Any], done: str) -> Response:
    """Run ``work`` and commit; flash the outcome or the refusal; back to the run's page (or the list)."""
    try:
        result = work()
        db_session().commit()
    except UdyogError as exc:
        db_session().rollback()
        details = "; ".join(f"{k}: {m}" for k, messages in exc.errors.items() for m in messages)
        flash(exc.message + (f" ({details})" if details else ""), "danger")
        result = None
    except StaleDataError:
        db_session().rollback()
        flash(_("This record was changed by someone else: reload the page and try again."), "danger")
        result = None
    else:
        flash(done, "success")
    target = record_id or (result.id if isinstance(result, Run) else None)
    if target is None:
        return redirect(url_for(f"{request.blueprint}.runs"), code=303)  # type: ignore[return-value]
    return redirect(url_for(f"{request.blueprint}.run", record_id=target), code=303)  # type: ignore[return-value]


@requires("payroll.run.read")
def runs_page() -> str:
    """Payroll runs, latest first, with a form for a new month."""
    rows = db_session().scalars(select(Run).order_by(Run.year.desc(), Run.month.desc()).limit(120))
    return render_template(
        "payroll/runs.html",
        runs=[run_view(r) for r in rows],
        label=documents.period_label,
        breadcrumbs=[(_("Payroll"), None), (_("Payroll runs"), None)],
    )


@requires("payroll.run.write")
def runs_create() -> Response:
    """Start a draft run for the month in the form (``YYYY-MM``)."""
    raw = request.form.get("period", "")

    def work() -> Run:
        try:
            year, month = (int(part) for part in raw.split("-"))
        except ValueError:
            raise UdyogError("choose a month", status=422, errors={"period": ["YYYY-MM"]}) from None
        return services.create_run(year, month)

    return _act(None, work, _("Payroll run %(period)s created.", period=raw))


@requires("payroll.run.read")
def run_page(record_id: uuid.UUID) -> str:
    """A run: totals, progress, actions, files, and its first payslips."""
    run = _run(record_id)
    slips = list(
        db_session().scalars(
            select(Payslip).where(Payslip.run_id == run.id).order_by(Payslip.employee_code).limit(PAGE_ROWS)
        )
    )
    return render_template(
        "payroll/run.html",
        run=run_view(run),
        slips=slips,
        more=run.employees > len(slips),
        label=documents.period_label(run.year, run.month),
        today=dt.date.today(),
        breadcrumbs=[
            (_("Payroll"), None),
            (_("Payroll runs"), url_for(f"{request.blueprint}.runs")),
            (str(run.year), None),
        ],
    )


@requires("payroll.run.write")
def run_compute(record_id: uuid.UUID) -> Response:
    """Queue the computation."""
    run = _run(record_id)  # 404 for anyone else's run, before any redirect naming it
    return _act(record_id, lambda: services.queue_compute(run), _("Computation queued."))


@requires("payroll.run.approve")
def run_approve(record_id: uuid.UUID) -> Response:
    """Approve the run."""
    version = _int(request.form.get("version"))
    run = _run(record_id)
    return _act(record_id, lambda: services.approve_run(run, version), _("Run approved."))


@requires("payroll.run.pay")
def run_pay(record_id: uuid.UUID) -> Response:
    """Mark the run paid on the date in the form."""
    version = _int(request.form.get("version"))
    run = _run(record_id)

    def work() -> Run:
        try:
            when = dt.date.fromisoformat(request.form.get("payment_date", ""))
        except ValueError:
            raise UdyogError("choose the payment date", status=422, errors={"payment_date": ["a date"]}) from None
        return services.pay_run(run, when, version)

    return _act(record_id, work, _("Run marked paid."))


def _slips(record_id: uuid.UUID) -> tuple[Run, list[Payslip]]:
    run = _run(record_id)
    if run.state == "draft":
        raise UdyogError("not computed", status=409, errors={"state": ["compute the run first"]})
    return run, services.payslips_of(run)


@requires("payroll.run.read")
def run_file(record_id: uuid.UUID, what: str) -> Response:
    """A run's file: ``register.xlsx``, ``pf-ecr.txt``, ``pf.csv``, ``esi.csv`` or ``bank.csv``."""
    run, slips = _slips(record_id)
    stem = f"{run.year}-{run.month:02d}"
    if what == "register.xlsx":
        return file_response(documents.register_xlsx(run, slips), XLSX, f"payroll-register-{stem}.xlsx")
    if what == "pf-ecr.txt":
        return file_response(documents.pf_ecr(slips).encode(), "text/plain; charset=utf-8", f"pf-ecr-{stem}.txt")
    if what == "pf.csv":
        minimum = services.load_rules().epf_on(dt.date(run.year, run.month, 1)).admin_minimum
        return file_response(documents.pf_statement_csv(slips, minimum), "text/csv", f"pf-statement-{stem}.csv")
    if what == "esi.csv":
        return file_response(documents.esi_statement_csv(slips), "text/csv", f"esi-{stem}.csv")
    if what == "bank.csv" and run.state in ("approved", "paid"):
        content = documents.bank_transfer_csv(slips, run, _settings().get("debit_account_number", ""))
        return file_response(content, "text/csv", f"bank-transfer-{stem}.csv")
    raise UdyogError("No such file", status=404)


def _pdf(slip: Payslip) -> Response:
    run = _run(slip.run_id)
    name = (slip.number or f"draft-{slip.employee_code}").replace("/", "-")
    return file_response(documents.payslip_pdf(slip, run, _settings()), "application/pdf", f"payslip-{name}.pdf")


@requires("payroll.run.read")
def payslip_pdf(record_id: uuid.UUID) -> Response:
    """Any payslip as a PDF (payroll staff)."""
    slip = db_session().scalar(select(Payslip).where(Payslip.id == record_id))
    if slip is None:
        raise UdyogError("Payslip not found", status=404)
    return _pdf(slip)


@requires("payroll.structure.read")
def structures_page() -> str:
    """Salary structures and their lines."""
    rows = db_session().scalars(select(Structure).order_by(Structure.code))
    return render_template(
        "payroll/structures.html",
        structures=[structure_view(s) for s in rows],
        breadcrumbs=[(_("Payroll"), None), (_("Salary structures"), None)],
    )


@requires("payroll.assignment.read")
def assignments_page() -> str:
    """Salary assignments, latest first, with a form for a new one (an employee's salary from a date)."""
    session = db_session()
    rows = list(
        session.scalars(
            select(Assignment).order_by(Assignment.effective_from.desc(), Assignment.id).limit(ASSIGNMENT_ROWS)
        )
    )
    listed = {a.employee_id for a in rows}
    named = session.execute(select(Employee.id, Employee.code, Employee.name).where(Employee.id.in_(listed)))
    structures = list(session.execute(select(Structure.id, Structure.code, Structure.name).order_by(Structure.code)))
    employee = reference_field(
        "employee_id",
        _("Employee"),
        select(Employee),
        Employee,
        "",
        choices_url=url_for(f"{request.blueprint}.assignment_employees"),
        required=True,
        blank=True,
        describe=_employee_label,
    )
    return render_template(
        "payroll/assignments.html",
        assignments=rows,
        employee=employee,
        names={e.id: _employee_label(e) for e in named},
        structures=structures,
        codes={s.id: s.code for s in structures},
        regimes=statutory.REGIMES,
        breadcrumbs=[(_("Payroll"), None), (_("Salary assignments"), None)],
    )


@requires("payroll.assignment.write")
def assignments_create() -> Response:
    """Add an assignment from the form: checked in the API's schema and by the service (the refusal is flashed)."""
    form = request.form
    raw = {
        key: form.get(key, "")
        for key in ("employee_id", "structure_id", "effective_from", "monthly_gross", "tax_regime")
    }
    raw["declared_deductions"] = form.get("declared_deductions") or "0"
    for flag in ("pf_applicable", "esi_applicable", "pt_applicable"):
        raw[flag] = flag in form  # an unchecked box is not sent
    target = redirect(url_for(f"{request.blueprint}.assignments"), code=303)
    try:
        data = PayrollAssignmentSchema().load(raw)
        row = services.save_assignment(data)
        db_session().commit()
    except ma.ValidationError as exc:
        db_session().rollback()
        flash(_("The assignment was not saved: %(problems)s", problems=_problems(exc.messages)), "danger")
        return target  # type: ignore[return-value]
    except UdyogError as exc:
        db_session().rollback()
        flash(_("The assignment was not saved: %(problems)s", problems=_problems(exc.errors)), "danger")
        return target  # type: ignore[return-value]
    flash(_("Salary assignment from %(date)s saved.", date=row.effective_from.strftime("%d-%m-%Y")), "success")
    return target  # type: ignore[return-value]


def _employee_label(employee: Any) -> str:
    """An employee as the assignment form and list name them: ``code · name``."""
    return f"{employee.code} · {employee.name}"


def _problems(errors: Any) -> str:
    return "; ".join(f"{field}: {m}" for field, messages in flatten_messages(errors).items() for m in messages)


@requires("payroll.rule.read")
def rules_page() -> str:
    """The statutory rules, every dated version."""
    rows = db_session().scalars(
        select(StatutoryRule).order_by(StatutoryRule.kind, StatutoryRule.scope, StatutoryRule.effective_from)
    )
    return render_template(
        "payroll/rules.html", rules=list(rows), breadcrumbs=[(_("Payroll"), None), (_("Statutory rules"), None)]
    )


@requires("payroll.payslip.read_own")
def my_page() -> str:
    """The user's own payslips of approved runs."""
    mine = services.own_employee_ids()
    slips: list[Payslip] = []
    if mine:
        query = (
            services.released(select(Payslip))
            .where(Payslip.employee_id.in_(mine))
            .order_by(Payslip.year.desc(), Payslip.month.desc())
        )
        slips = list(db_session().scalars(query.limit(120)))
    return render_template(
        "payroll/my.html",
        slips=slips,
        label=documents.period_label,
        linked=bool(mine),
        breadcrumbs=[(_("Payroll"), None), (_("My payslips"), None)],
    )


@requires("payroll.payslip.read_own")
def my_pdf(record_id: uuid.UUID) -> Response:
    """One of the user's own payslips as a PDF (404 for anyone else's)."""
    mine = services.own_employee_ids()
    slip = None
    if mine:
        query = services.released(select(Payslip)).where(Payslip.id == record_id, Payslip.employee_id.in_(mine))
        slip = db_session().scalar(query)
    if slip is None:
        raise UdyogError("Payslip not found", status=404)
    return _pdf(slip)


def create_pages() -> Blueprint:
    """A fresh blueprint at ``/payroll``."""
    bp = Blueprint("payroll_pages", __name__, url_prefix="/payroll", template_folder="templates")
    bp.add_url_rule("/runs", "runs", runs_page, methods=["GET"])
    bp.add_url_rule("/runs", "runs_create", runs_create, methods=["POST"])
    bp.add_url_rule("/runs/<uuid:record_id>", "run", run_page, methods=["GET"])
    bp.add_url_rule("/runs/<uuid:record_id>/compute", "run_compute", run_compute, methods=["POST"])
    bp.add_url_rule("/runs/<uuid:record_id>/approve", "run_approve", run_approve, methods=["POST"])
    bp.add_url_rule("/runs/<uuid:record_id>/pay", "run_pay", run_pay, methods=["POST"])
    bp.add_url_rule("/runs/<uuid:record_id>/files/<what>", "run_file", run_file, methods=["GET"])
    bp.add_url_rule("/payslips/<uuid:record_id>/pdf", "payslip_pdf", payslip_pdf, methods=["GET"])
    bp.add_url_rule("/structures", "structures", structures_page, methods=["GET"])
    bp.add_url_rule("/assignments", "assignments", assignments_page, methods=["GET"])
    bp.add_url_rule("/assignments", "assignments_create", assignments_create, methods=["POST"])
    # The assignment form's employee picker (a select for a few employees, a search for many).
    add_choices_route(
        bp,
        "/assignments/employees",
        "assignment_employees",
        lambda: select(Employee),
        Employee,
        ("payroll.assignment.write",),
        label=_employee_label,
    )
    bp.add_url_rule("/rules", "rules", rules_page, methods=["GET"])
    bp.add_url_rule("/my", "my", my_page, methods=["GET"])
    bp.add_url_rule("/my/<uuid:record_id>/pdf", "my_pdf", my_pdf, methods=["GET"])
    return bp
