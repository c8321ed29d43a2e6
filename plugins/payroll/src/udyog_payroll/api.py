"""REST API of payroll (``/api/v1/payroll``): rules, components, structures, assignments, runs, payslips, files."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response
from sqlalchemy import select

from udyog_sdk import UdyogError, db_session, plugin_settings, run_status
from udyog_sdk.api import Blueprint, envelope, ok, paginate
from udyog_sdk.exports import file_response
from udyog_sdk.fields import ExactDecimal
from udyog_sdk.security import requires

from . import documents, services, statutory
from .models import COMPONENT_KINDS, Assignment, Component, Payslip, Run, StatutoryRule, Structure


def _not_negative(value: Any) -> None:
    if value is not None and value < 0:
        raise ma.ValidationError("must not be negative")


def _money(**kwargs: Any) -> ExactDecimal:
    return ExactDecimal(2, digits=12, validate=_not_negative, **kwargs)


class PayrollVersionSchema(ma.Schema):
    """The version the client read (optional)."""

    version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class PayrollRuleSchema(ma.Schema):
    """A dated statutory rule: its kind, what it applies to, from when, and its parameters."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(statutory.KINDS))
    scope = ma.fields.String(dump_only=True)
    effective_from = ma.fields.Date(dump_only=True)
    params = ma.fields.Dict(required=True, keys=ma.fields.String())
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class PayrollRuleUpdateSchema(ma.Schema):
    """New parameters for a rule version."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    params = ma.fields.Dict(required=True, keys=ma.fields.String())
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class PayrollRuleQuerySchema(ma.Schema):
    """Filter rules by kind."""

    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(statutory.KINDS))


class PayrollComponentSchema(ma.Schema):
    """A salary component."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=24))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    kind = ma.fields.String(load_default="earning", validate=ma.validate.OneOf(COMPONENT_KINDS))
    pf_wage = ma.fields.Boolean(load_default=False)
    prorated = ma.fields.Boolean(load_default=True)
    sequence = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=0, max=10000))
    active = ma.fields.Boolean(load_default=True)


class PayrollComponentUpdateSchema(ma.Schema):
    """Changes to a component (its code stays: formulas use it)."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    kind = ma.fields.String(validate=ma.validate.OneOf(COMPONENT_KINDS))
    pf_wage = ma.fields.Boolean()
    prorated = ma.fields.Boolean()
    sequence = ma.fields.Integer(validate=ma.validate.Range(min=0, max=10000))
    active = ma.fields.Boolean()


class PayrollLineSchema(ma.Schema):
    """A structure's line: a component as a fixed monthly amount or a formula."""

    component = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=24))
    name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    amount = _money(load_default=None, allow_none=True)
    formula = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=500))


class PayrollStructureSchema(ma.Schema):
    """A salary structure with its lines."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=24))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    active = ma.fields.Boolean(load_default=True)
    lines = ma.fields.List(
        ma.fields.Nested(PayrollLineSchema), required=True, validate=ma.validate.Length(min=1, max=50)
    )


class PayrollStructureUpdateSchema(ma.Schema):
    """Changes to a structure; ``lines`` replaces all lines."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    active = ma.fields.Boolean()
    lines = ma.fields.List(ma.fields.Nested(PayrollLineSchema), validate=ma.validate.Length(min=1, max=50))


class PayrollPreviewSchema(ma.Schema):
    """A monthly gross to split."""

    gross = _money(required=True)


class PayrollPreviewLineSchema(ma.Schema):
    """A component's amount in a preview."""

    component = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    amount = ma.fields.Decimal(as_string=True)


class PayrollAssignmentSchema(ma.Schema):
    """An employee's salary from a date."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    employee_id = ma.fields.UUID(required=True)
    structure_id = ma.fields.UUID(required=True)
    effective_from = ma.fields.Date(required=True)
    monthly_gross = _money(required=True)
    tax_regime = ma.fields.String(load_default="new", validate=ma.validate.OneOf(statutory.REGIMES))
    pf_applicable = ma.fields.Boolean(load_default=True)
    esi_applicable = ma.fields.Boolean(load_default=True)
    pt_applicable = ma.fields.Boolean(load_default=True)
    declared_deductions = _money(load_default=services.ZERO)


class PayrollAssignmentUpdateSchema(ma.Schema):
    """Changes to an assignment."""

    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    structure_id = ma.fields.UUID()
    effective_from = ma.fields.Date()
    monthly_gross = _money()
    tax_regime = ma.fields.String(validate=ma.validate.OneOf(statutory.REGIMES))
    pf_applicable = ma.fields.Boolean()
    esi_applicable = ma.fields.Boolean()
    pt_applicable = ma.fields.Boolean()
    declared_deductions = _money()


class PayrollAssignmentQuerySchema(ma.Schema):
    """Filter assignments by employee."""

    employee_id = ma.fields.UUID(load_default=None)


class PayrollRunCreateSchema(ma.Schema):
    """The month of a new run."""

    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2000, max=2999))
    month = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class PayrollPaySchema(PayrollVersionSchema):
    """When the salaries were paid."""

    payment_date = ma.fields.Date(required=True)


class PayrollSkippedSchema(ma.Schema):
    """An employee left out of a run."""

    employee_id = ma.fields.String()
    code = ma.fields.String()
    reason = ma.fields.String()


class PayrollRunSchema(ma.Schema):
    """A payroll run with its totals and the state of its computation."""

    id = ma.fields.UUID()
    version = ma.fields.Integer()
    year = ma.fields.Integer()
    month = ma.fields.Integer()
    state = ma.fields.String()
    computing = ma.fields.Boolean()
    job_id = ma.fields.UUID(allow_none=True)
    job = ma.fields.Dict(allow_none=True)
    employees = ma.fields.Integer()
    total_gross = ma.fields.Decimal(as_string=True)
    total_deductions = ma.fields.Decimal(as_string=True)
    total_net = ma.fields.Decimal(as_string=True)
    total_employer = ma.fields.Decimal(as_string=True)
    skipped = ma.fields.List(ma.fields.Nested(PayrollSkippedSchema))
    computed_at = ma.fields.DateTime(allow_none=True)
    approved_at = ma.fields.DateTime(allow_none=True)
    paid_at = ma.fields.DateTime(allow_none=True)
    payment_date = ma.fields.Date(allow_none=True)
    note = ma.fields.String()


class PayrollPayslipLineSchema(ma.Schema):
    """A component on a payslip."""

    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    amount = ma.fields.String()


class PayrollPayslipSchema(ma.Schema):
    """A payslip: the employee then, days, components, every statutory head and net pay."""

    id = ma.fields.UUID()
    run_id = ma.fields.UUID()
    employee_id = ma.fields.UUID()
    number = ma.fields.String(allow_none=True)
    year = ma.fields.Integer()
    month = ma.fields.Integer()
    employee_code = ma.fields.String()
    employee_name = ma.fields.String()
    designation = ma.fields.String(allow_none=True)
    work_state = ma.fields.String()
    pan = ma.fields.String(allow_none=True)
    uan = ma.fields.String(allow_none=True)
    esi_number = ma.fields.String(allow_none=True)
    bank_account_number = ma.fields.String(allow_none=True)
    bank_ifsc = ma.fields.String(allow_none=True)
    tax_regime = ma.fields.String()
    days_in_month = ma.fields.Integer()
    esi_covered = ma.fields.Boolean()
    lines = ma.fields.List(ma.fields.Nested(PayrollPayslipLineSchema))
    tax = ma.fields.Dict()
    monthly_gross = ma.fields.Decimal(as_string=True)
    gross = ma.fields.Decimal(as_string=True)
    pf_wages = ma.fields.Decimal(as_string=True)
    epf_wages = ma.fields.Decimal(as_string=True)
    eps_wages = ma.fields.Decimal(as_string=True)
    edli_wages = ma.fields.Decimal(as_string=True)
    epf_employee = ma.fields.Decimal(as_string=True)
    eps = ma.fields.Decimal(as_string=True)
    epf_employer = ma.fields.Decimal(as_string=True)
    edli = ma.fields.Decimal(as_string=True)
    epf_admin = ma.fields.Decimal(as_string=True)
    esi_wages = ma.fields.Decimal(as_string=True)
    esi_employee = ma.fields.Decimal(as_string=True)
    esi_employer = ma.fields.Decimal(as_string=True)
    professional_tax = ma.fields.Decimal(as_string=True)
    tds = ma.fields.Decimal(as_string=True)
    other_deductions = ma.fields.Decimal(as_string=True)
    total_deductions = ma.fields.Decimal(as_string=True)
    net_pay = ma.fields.Decimal(as_string=True)
    days_payable = ma.fields.Decimal(as_string=True)
    lop_days = ma.fields.Decimal(as_string=True)


class PayrollPageQuerySchema(ma.Schema):
    """A page of a list."""

    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class PayrollStatementQuerySchema(ma.Schema):
    """Which layout of the PF statement."""

    format = ma.fields.String(load_default="ecr", validate=ma.validate.OneOf(("ecr", "csv")))


class PayrollJobSchema(ma.Schema):
    """A queued computation."""

    run_id = ma.fields.UUID()
    job_id = ma.fields.UUID()
    state = ma.fields.String()


def _settings() -> dict[str, Any]:
    try:
        return dict(plugin_settings("payroll"))
    except LookupError:
        return {}


def _get(model: type, obj_id: uuid.UUID, what: str) -> Any:
    row = db_session().scalar(select(model).where(model.id == obj_id))
    if row is None:
        raise UdyogError(f"{what} not found", status=404)
    return row


def _need_version(obj: Any, version: int) -> None:
    if version != obj.version:
        raise UdyogError(
            "changed since you read it", status=409, errors={"version": [f"current version is {obj.version}"]}
        )


def run_view(run: Run) -> dict[str, Any]:
    """A run as the API shows it, with its computation's progress."""
    status = run_status(run.job_id) if run.job_id else None
    job = None
    if status is not None:
        job = {
            "state": status.state,
            "progress": status.progress,
            "message": status.message,
            "error": status.error,
        }
    return {
        **{c: getattr(run, c) for c in PayrollRunSchema._declared_fields if hasattr(run, c)},
        "computing": status is not None and not status.finished,
        "job": job,
    }


def structure_view(structure: Structure) -> dict[str, Any]:
    """A structure with its lines."""
    return {
        "id": structure.id,
        "version": structure.version,
        "code": structure.code,
        "name": structure.name,
        "active": structure.active,
        "lines": services.structure_lines(structure.id),
    }


def create_blueprint() -> Blueprint:
    """The payroll API, fresh."""
    bp = Blueprint("payroll", __name__, url_prefix="/api/v1/payroll", description="Payroll")

    # -- statutory rules ------------------------------------------------------------------------------

    @bp.route("/rules", methods=["GET"])
    @bp.arguments(PayrollRuleQuerySchema, location="query")
    @bp.response(200, envelope(PayrollRuleSchema, many=True))
    @requires("payroll.rule.read")
    def rules_list(args: dict[str, Any]) -> Any:
        """Statutory rules, every dated version, by kind, scope and date"""
        query = select(StatutoryRule).order_by(StatutoryRule.kind, StatutoryRule.scope, StatutoryRule.effective_from)
        if args.get("kind"):
            query = query.where(StatutoryRule.kind == args["kind"])
        return ok(PayrollRuleSchema(many=True).dump(list(db_session().scalars(query))))

    @bp.route("/rules", methods=["POST"])
    @bp.arguments(PayrollRuleSchema)
    @bp.response(201, envelope(PayrollRuleSchema))
    @requires("payroll.rule.write")
    def rules_create(data: dict[str, Any]) -> Any:
        """Add a dated version of a statutory rule (parameters checked; 422 names the wrong one)"""
        row = services.save_rule(data["kind"], data["params"], data.get("note", ""))
        db_session().commit()
        return ok(PayrollRuleSchema().dump(row), message="created"), 201

    @bp.route("/rules/<uuid:rule_id>", methods=["GET"])
    @bp.response(200, envelope(PayrollRuleSchema))
    @requires("payroll.rule.read")
    def rules_get(rule_id: uuid.UUID) -> Any:
        """One rule version"""
        return ok(PayrollRuleSchema().dump(_get(StatutoryRule, rule_id, "Rule")))

    @bp.route("/rules/<uuid:rule_id>", methods=["PUT"])
    @bp.arguments(PayrollRuleUpdateSchema)
    @bp.response(200, envelope(PayrollRuleSchema))
    @requires("payroll.rule.write")
    def rules_update(data: dict[str, Any], rule_id: uuid.UUID) -> Any:
        """Change a rule version's parameters (approved payslips keep what they were computed with)"""
        row = _get(StatutoryRule, rule_id, "Rule")
        _need_version(row, data["version"])
        services.save_rule(row.kind, data["params"], data.get("note", ""), obj=row)
        db_session().commit()
        return ok(PayrollRuleSchema().dump(row))

    # -- components -------------------------------------------------------------------------------------

    @bp.route("/components", methods=["GET"])
    @bp.response(200, envelope(PayrollComponentSchema, many=True))
    @requires("payroll.component.read")
    def components_list() -> Any:
        """Salary components in their order"""
        rows = db_session().scalars(select(Component).order_by(Component.sequence, Component.code))
        return ok(PayrollComponentSchema(many=True).dump(list(rows)))

    @bp.route("/components", methods=["POST"])
    @bp.arguments(PayrollComponentSchema)
    @bp.response(201, envelope(PayrollComponentSchema))
    @requires("payroll.component.write")
    def components_create(data: dict[str, Any]) -> Any:
        """Add a component (its code is what formulas use)"""
        data["code"] = services.check_code(data["code"])
        session = db_session()
        if session.scalar(select(Component.id).where(Component.code == data["code"])) is not None:
            raise UdyogError("code taken", status=409, errors={"code": [f"a component {data['code']} exists"]})
        row = Component(**data)
        session.add(row)
        session.commit()
        return ok(PayrollComponentSchema().dump(row), message="created"), 201

    @bp.route("/components/<uuid:component_id>", methods=["PUT"])
    @bp.arguments(PayrollComponentUpdateSchema)
    @bp.response(200, envelope(PayrollComponentSchema))
    @requires("payroll.component.write")
    def components_update(data: dict[str, Any], component_id: uuid.UUID) -> Any:
        """Change a component"""
        row = _get(Component, component_id, "Component")
        _need_version(row, data.pop("version"))
        for key, value in data.items():
            setattr(row, key, value)
        db_session().commit()
        return ok(PayrollComponentSchema().dump(row))

    # -- structures ------------------------------------------------------------------------------------

    @bp.route("/structures", methods=["GET"])
    @bp.response(200, envelope(PayrollStructureSchema, many=True))
    @requires("payroll.structure.read")
    def structures_list() -> Any:
        """Salary structures with their lines"""
        rows = db_session().scalars(select(Structure).order_by(Structure.code))
        return ok(PayrollStructureSchema(many=True).dump([structure_view(s) for s in rows]))

    @bp.route("/structures", methods=["POST"])
    @bp.arguments(PayrollStructureSchema)
    @bp.response(201, envelope(PayrollStructureSchema))
    @requires("payroll.structure.write")
    def structures_create(data: dict[str, Any]) -> Any:
        """Add a structure: each line a fixed amount or a formula of GROSS and other components"""
        row = services.save_structure(data)
        db_session().commit()
        return ok(PayrollStructureSchema().dump(structure_view(row)), message="created"), 201

    @bp.route("/structures/<uuid:structure_id>", methods=["GET"])
    @bp.response(200, envelope(PayrollStructureSchema))
    @requires("payroll.structure.read")
    def structures_get(structure_id: uuid.UUID) -> Any:
        """One structure with its lines"""
        return ok(PayrollStructureSchema().dump(structure_view(_get(Structure, structure_id, "Structure"))))

    @bp.route("/structures/<uuid:structure_id>", methods=["PUT"])
    @bp.arguments(PayrollStructureUpdateSchema)
    @bp.response(200, envelope(PayrollStructureSchema))
    @requires("payroll.structure.write")
    def structures_update(data: dict[str, Any], structure_id: uuid.UUID) -> Any:
        """Change a structure (``lines`` replaces them all)"""
        row = _get(Structure, structure_id, "Structure")
        _need_version(row, data.pop("version"))
        services.save_structure(data, obj=row)
        db_session().commit()
        return ok(PayrollStructureSchema().dump(structure_view(row)))

    @bp.route("/structures/<uuid:structure_id>/preview", methods=["POST"])
    @bp.arguments(PayrollPreviewSchema)
    @bp.response(200, envelope(PayrollPreviewLineSchema, many=True))
    @requires("payroll.structure.read")
    def structures_preview(data: dict[str, Any], structure_id: uuid.UUID) -> Any:
        """What a monthly gross comes to, component by component"""
        _get(Structure, structure_id, "Structure")
        return ok(PayrollPreviewLineSchema(many=True).dump(services.preview(structure_id, data["gross"])))

    # -- assignments -----------------------------------------------------------------------------------

    @bp.route("/assignments", methods=["GET"])
    @bp.arguments(PayrollAssignmentQuerySchema, location="query")
    @bp.response(200, envelope(PayrollAssignmentSchema, many=True))
    @requires("payroll.assignment.read")
    def assignments_list(args: dict[str, Any]) -> Any:
        """Salary assignments (of one employee with ``employee_id``), latest first"""
        query = select(Assignment).order_by(Assignment.effective_from.desc(), Assignment.id).limit(500)
        if args.get("employee_id"):
            query = query.where(Assignment.employee_id == args["employee_id"])
        return ok(PayrollAssignmentSchema(many=True).dump(list(db_session().scalars(query))))

    @bp.route("/assignments", methods=["POST"])
    @bp.arguments(PayrollAssignmentSchema)
    @bp.response(201, envelope(PayrollAssignmentSchema))
    @requires("payroll.assignment.write")
    def assignments_create(data: dict[str, Any]) -> Any:
        """Assign a structure and monthly gross to an employee from a date"""
        row = services.save_assignment(data)
        db_session().commit()
        return ok(PayrollAssignmentSchema().dump(row), message="created"), 201

    @bp.route("/assignments/<uuid:assignment_id>", methods=["PUT"])
    @bp.arguments(PayrollAssignmentUpdateSchema)
    @bp.response(200, envelope(PayrollAssignmentSchema))
    @requires("payroll.assignment.write")
    def assignments_update(data: dict[str, Any], assignment_id: uuid.UUID) -> Any:
        """Change an assignment (not into an approved month)"""
        row = _get(Assignment, assignment_id, "Assignment")
        _need_version(row, data.pop("version"))
        locked = services._locked_through(row.employee_id)
        if locked is not None and row.effective_from <= locked:
            raise UdyogError(
                "this assignment was paid on",
                status=409,
                errors={"effective_from": ["approved payroll used it; add a new assignment instead"]},
            )
        services.save_assignment(data, obj=row)
        db_session().commit()
        return ok(PayrollAssignmentSchema().dump(row))

    # -- runs --------------------------------------------------------------------------------------------

    @bp.route("/runs", methods=["GET"])
    @bp.response(200, envelope(PayrollRunSchema, many=True))
    @requires("payroll.run.read")
    def runs_list() -> Any:
        """Payroll runs, latest month first"""
        rows = db_session().scalars(select(Run).order_by(Run.year.desc(), Run.month.desc()).limit(120))
        return ok(PayrollRunSchema(many=True).dump([run_view(r) for r in rows]))

    @bp.route("/runs", methods=["POST"])
    @bp.arguments(PayrollRunCreateSchema)
    @bp.response(201, envelope(PayrollRunSchema))
    @requires("payroll.run.write")
    def runs_create(data: dict[str, Any]) -> Any:
        """Start a draft run for a month (409 if it has one)"""
        run = services.create_run(data["year"], data["month"], data.get("note", ""))
        db_session().commit()
        return ok(PayrollRunSchema().dump(run_view(run)), message="created"), 201

    @bp.route("/runs/<uuid:run_id>", methods=["GET"])
    @bp.response(200, envelope(PayrollRunSchema))
    @requires("payroll.run.read")
    def runs_get(run_id: uuid.UUID) -> Any:
        """A run: state, totals, employees left out, and its computation's progress"""
        return ok(PayrollRunSchema().dump(run_view(_get(Run, run_id, "Run"))))

    @bp.route("/runs/<uuid:run_id>", methods=["DELETE"])
    @bp.response(200, envelope(PayrollRunSchema))
    @requires("payroll.run.write")
    def runs_delete(run_id: uuid.UUID) -> Any:
        """Delete a run that is not approved"""
        run = _get(Run, run_id, "Run")
        services.delete_run(run)
        db_session().commit()
        return ok(None, message="deleted")

    @bp.route("/runs/<uuid:run_id>/compute", methods=["POST"])
    @bp.response(202, envelope(PayrollJobSchema))
    @requires("payroll.run.write")
    def runs_compute(run_id: uuid.UUID) -> Any:
        """Compute (or recompute) a run's payslips as a background job

        Answers 202 with the job; `GET /runs/<id>` shows its progress. Refused once approved.
        """
        run = _get(Run, run_id, "Run")
        job_id = services.queue_compute(run)
        db_session().commit()
        return ok(
            PayrollJobSchema().dump({"run_id": run_id, "job_id": job_id, "state": "queued"}), message="queued"
        ), 202

    @bp.route("/runs/<uuid:run_id>/approve", methods=["POST"])
    @bp.arguments(PayrollVersionSchema)
    @bp.response(200, envelope(PayrollRunSchema))
    @requires("payroll.run.approve")
    def runs_approve(data: dict[str, Any], run_id: uuid.UUID) -> Any:
        """Approve a computed run: payslips are numbered and the run is locked"""
        run = services.approve_run(_get(Run, run_id, "Run"), data.get("version"))
        db_session().commit()
        return ok(PayrollRunSchema().dump(run_view(run)), message="approved")

    @bp.route("/runs/<uuid:run_id>/pay", methods=["POST"])
    @bp.arguments(PayrollPaySchema)
    @bp.response(200, envelope(PayrollRunSchema))
    @requires("payroll.run.pay")
    def runs_pay(data: dict[str, Any], run_id: uuid.UUID) -> Any:
        """Mark an approved run paid"""
        run = services.pay_run(_get(Run, run_id, "Run"), data["payment_date"], data.get("version"))
        db_session().commit()
        return ok(PayrollRunSchema().dump(run_view(run)), message="paid")

    @bp.route("/runs/<uuid:run_id>/payslips", methods=["GET"])
    @bp.arguments(PayrollPageQuerySchema, location="query")
    @bp.response(200, envelope(PayrollPayslipSchema, many=True, paginated=True))
    @requires("payroll.run.read")
    def runs_payslips(args: dict[str, Any], run_id: uuid.UUID) -> Any:
        """A run's payslips by employee code, a page at a time"""
        _get(Run, run_id, "Run")
        rows, meta = paginate(
            select(Payslip).where(Payslip.run_id == run_id),
            sort=[(Payslip.employee_code, "asc")],
            cursor=args.get("cursor"),
            limit=args["limit"],
        )
        return ok(PayrollPayslipSchema(many=True).dump(rows), meta=meta)

    @bp.route("/payslips/<uuid:payslip_id>", methods=["GET"])
    @bp.response(200, envelope(PayrollPayslipSchema))
    @requires("payroll.run.read")
    def payslips_get(payslip_id: uuid.UUID) -> Any:
        """Any payslip (payroll staff)"""
        return ok(PayrollPayslipSchema().dump(_get(Payslip, payslip_id, "Payslip")))

    @bp.route("/payslips/<uuid:payslip_id>/pdf", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
    @requires("payroll.run.read")
    def payslips_pdf(payslip_id: uuid.UUID) -> Response:
        """Any payslip as a PDF (payroll staff)"""
        slip = _get(Payslip, payslip_id, "Payslip")
        return _pdf(slip)

    def _pdf(slip: Payslip) -> Response:
        run = _get(Run, slip.run_id, "Run")
        name = (slip.number or f"draft-{slip.employee_code}").replace("/", "-")
        return file_response(documents.payslip_pdf(slip, run, _settings()), "application/pdf", f"payslip-{name}.pdf")

    # -- one's own payslips --------------------------------------------------------------------------

    def _own(payslip_id: uuid.UUID) -> Payslip:
        mine = services.own_employee_ids()
        query = services.released(select(Payslip)).where(Payslip.id == payslip_id, Payslip.employee_id.in_(mine))
        slip = db_session().scalar(query) if mine else None
        if slip is None:
            raise UdyogError("Payslip not found", status=404)
        return slip

    @bp.route("/my/payslips", methods=["GET"])
    @bp.response(200, envelope(PayrollPayslipSchema, many=True))
    @requires("payroll.payslip.read_own")
    def my_payslips() -> Any:
        """The current user's own payslips of approved runs, latest first"""
        mine = services.own_employee_ids()
        if not mine:
            return ok([])
        query = (
            services.released(select(Payslip))
            .where(Payslip.employee_id.in_(mine))
            .order_by(Payslip.year.desc(), Payslip.month.desc())
            .limit(120)
        )
        return ok(PayrollPayslipSchema(many=True).dump(list(db_session().scalars(query))))

    @bp.route("/my/payslips/<uuid:payslip_id>", methods=["GET"])
    @bp.response(200, envelope(PayrollPayslipSchema))
    @requires("payroll.payslip.read_own")
    def my_payslip(payslip_id: uuid.UUID) -> Any:
        """One of the current user's own payslips (404 for anyone else's)"""
        return ok(PayrollPayslipSchema().dump(_own(payslip_id)))

    @bp.route("/my/payslips/<uuid:payslip_id>/pdf", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
    @requires("payroll.payslip.read_own")
    def my_payslip_pdf(payslip_id: uuid.UUID) -> Response:
        """One of the current user's own payslips as a PDF (404 for anyone else's)"""
        return _pdf(_own(payslip_id))

    # -- statements and files ---------------------------------------------------------------------------

    def _slips(run_id: uuid.UUID) -> tuple[Run, list[Payslip]]:
        run = _get(Run, run_id, "Run")
        if run.state == "draft":
            raise UdyogError("not computed", status=409, errors={"state": ["compute the run first"]})
        return run, services.payslips_of(run)

    def _name(run: Run, what: str, ext: str) -> str:
        return f"{what}-{run.year}-{run.month:02d}.{ext}"

    @bp.route("/runs/<uuid:run_id>/register.xlsx", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    @requires("payroll.run.read")
    def runs_register(run_id: uuid.UUID) -> Response:
        """The payroll register: every payslip with components, heads and totals (Excel)"""
        run, slips = _slips(run_id)
        content = documents.register_xlsx(run, slips)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return file_response(content, kind, _name(run, "payroll-register", "xlsx"))

    @bp.route("/runs/<uuid:run_id>/pf-statement", methods=["GET"])
    @bp.arguments(PayrollStatementQuerySchema, location="query")
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    @requires("payroll.run.read")
    def runs_pf(args: dict[str, Any], run_id: uuid.UUID) -> Response:
        """The PF statement: ECR text (``format=ecr``, fields joined by #~#) or CSV with totals"""
        run, slips = _slips(run_id)
        if args["format"] == "csv":
            first, _ = services.month_bounds(run.year, run.month)
            minimum = services.load_rules().epf_on(first).admin_minimum
            content = documents.pf_statement_csv(slips, minimum)
            return file_response(content, "text/csv; charset=utf-8", _name(run, "pf-statement", "csv"))
        return file_response(documents.pf_ecr(slips).encode(), "text/plain; charset=utf-8", _name(run, "pf-ecr", "txt"))

    @bp.route("/runs/<uuid:run_id>/esi-statement", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="text/csv")
    @requires("payroll.run.read")
    def runs_esi(run_id: uuid.UUID) -> Response:
        """The ESI contribution statement of the month (CSV)"""
        run, slips = _slips(run_id)
        return file_response(documents.esi_statement_csv(slips), "text/csv; charset=utf-8", _name(run, "esi", "csv"))

    @bp.route("/runs/<uuid:run_id>/bank-transfer", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="text/csv")
    @requires("payroll.run.read")
    def runs_bank(run_id: uuid.UUID) -> Response:
        """The bank transfer file of an approved run: one credit of net pay per employee (CSV)"""
        run, slips = _slips(run_id)
        if run.state not in ("approved", "paid"):
            raise UdyogError("not approved", status=409, errors={"state": ["approve the run first"]})
        debit = _settings().get("debit_account_number", "")
        content = documents.bank_transfer_csv(slips, run, debit)
        return file_response(content, "text/csv; charset=utf-8", _name(run, "bank-transfer", "csv"))

    return bp
