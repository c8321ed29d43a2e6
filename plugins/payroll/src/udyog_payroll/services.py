"""Business logic of payroll: plain functions over the tenant's session (``udyog_sdk.db_session()``).

- Statutory rules: seeded per tenant from :data:`~udyog_payroll.statutory.DEFAULT_RULES`, read back
  as a :class:`~udyog_payroll.statutory.StatutoryRules`, added and edited as dated data.
- Salary structures: components as fixed amounts or formulas (:mod:`udyog_payroll.formula`),
  compiled once per structure and evaluated for every employee.
- Payroll runs: created per month, computed set-based (a handful of queries whatever the number
  of employees, then one bulk insert), approved (numbers from the series ``payroll.payslip``),
  paid. Recomputing is allowed until approval; an approved run is locked.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from udyog_hr.models import Employee
from udyog_hr.services import AttendanceSummary, attendance_summary
from udyog_sdk import UdyogError, current_user, db_session, emit, enqueue, plugin_settings, run_status
from udyog_sdk.models import new_id, utcnow
from udyog_sdk.series import next_number

from . import statutory
from .formula import GROSS, Formula, FormulaError, compile_formula, evaluation_order
from .models import Assignment, Component, Payslip, Run, StatutoryRule, Structure, StructureLine
from .statutory import StatutoryError, StatutoryInput, StatutoryRules

SERIES = "payroll.payslip"
SERIES_PATTERN = "PS/{FY_SHORT}/{seq:06}"
COMPUTE_TASK = "payroll.compute_run"
ZERO = Decimal("0")
PAISE = Decimal("0.01")
#: Rows per bulk insert.
INSERT_CHUNK = 2000
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _paise(value: Decimal) -> Decimal:
    return value.quantize(PAISE, rounding=ROUND_HALF_UP)


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a month (422 naming ``year`` or ``month`` when out of range)."""
    if not 1 <= month <= 12:
        raise UdyogError("invalid month", status=422, errors={"month": ["must be 1 to 12"]})
    if not 2000 <= year <= 2999:
        raise UdyogError("invalid year", status=422, errors={"year": ["must be 2000 to 2999"]})
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


# -- statutory rules ---------------------------------------------------------------------------------


def seed_rules() -> int:
    """Copy the shipped rules into the tenant's table where missing (idempotent); returns how many were added."""
    session = db_session()
    have = set(session.execute(select(StatutoryRule.kind, StatutoryRule.scope, StatutoryRule.effective_from)).all())
    added = 0
    for rule in statutory.DEFAULT_RULES.all():
        key = (statutory.rule_kind(rule), statutory.rule_scope(rule), rule.effective_from)
        if key in have:
            continue
        session.add(
            StatutoryRule(
                kind=key[0],
                scope=key[1],
                effective_from=key[2],
                params=statutory.rule_to_params(rule),
                note="Shipped with the payroll plugin (INDIA.md)",
            )
        )
        added += 1
    session.flush()
    return added


def load_rules() -> StatutoryRules:
    """The tenant's statutory rules, every version (a rule row that no longer parses is a 409)."""
    rules = []
    for row in db_session().scalars(select(StatutoryRule)):
        try:
            rules.append(statutory.rule_from_params(row.kind, row.params))
        except StatutoryError as exc:
            message = f"statutory rule {row.kind} {row.scope} from {row.effective_from} is broken: {exc}"
            raise UdyogError(message, status=409) from None
    return StatutoryRules.of(rules)


def _rule_error(exc: StatutoryError) -> UdyogError:
    text = str(exc)
    field, _, message = text.partition(": ")
    key = f"params.{field}" if message and field and " " not in field else "params"
    return UdyogError("invalid statutory rule", status=422, errors={key: [message or text]})


def save_rule(kind: str, params: dict[str, Any], note: str = "", obj: StatutoryRule | None = None) -> StatutoryRule:
    """Add a dated rule version, or change one (422 naming the parameter that is wrong, 409 on a duplicate)."""
    if kind not in statutory.KINDS:
        raise UdyogError(
            "invalid statutory rule", status=422, errors={"kind": [f"one of {', '.join(statutory.KINDS)}"]}
        )
    try:
        rule = statutory.rule_from_params(kind, params)
    except StatutoryError as exc:
        raise _rule_error(exc) from None
    scope = statutory.rule_scope(rule)
    session = db_session()
    clash = select(StatutoryRule.id).where(
        StatutoryRule.kind == kind, StatutoryRule.scope == scope, StatutoryRule.effective_from == rule.effective_from
    )
    if obj is not None:
        clash = clash.where(StatutoryRule.id != obj.id)
    if session.scalar(clash) is not None:
        raise UdyogError(
            "a version of this rule starts on that date already",
            status=409,
            errors={"params.effective_from": [f"{kind} {scope} has a version from {rule.effective_from}"]},
        )
    if obj is None:
        obj = StatutoryRule(kind=kind)
        session.add(obj)
    obj.scope = scope
    obj.effective_from = rule.effective_from
    obj.params = statutory.rule_to_params(rule)
    obj.note = note
    session.flush()
    return obj


# -- components and structures -----------------------------------------------------------------------

DEFAULT_COMPONENTS = (
    ("BASIC", "Basic", "earning", True, 10),
    ("DA", "Dearness allowance", "earning", True, 20),
    ("HRA", "House rent allowance", "earning", False, 30),
    ("SPECIAL", "Special allowance", "earning", False, 90),
)
#: The standard structure: half the gross as basic, 40% of basic as HRA, the rest special allowance.
DEFAULT_STRUCTURE = (
    ("BASIC", None, "round(GROSS * 0.5)"),
    ("DA", Decimal("0"), None),
    ("HRA", None, "round(BASIC * 0.4)"),
    ("SPECIAL", None, "GROSS - BASIC - DA - HRA"),
)


def seed_structure() -> None:
    """The default components and the ``STANDARD`` structure, where missing (idempotent)."""
    session = db_session()
    have = {c.code: c for c in session.scalars(select(Component))}
    for code, name, kind, pf_wage, sequence in DEFAULT_COMPONENTS:
        if code not in have:
            have[code] = Component(code=code, name=name, kind=kind, pf_wage=pf_wage, prorated=True, sequence=sequence)
            session.add(have[code])
    session.flush()
    if session.scalar(select(Structure.id).where(Structure.code == "STANDARD")) is None:
        save_structure(
            {
                "code": "STANDARD",
                "name": "Standard (basic 50%, HRA 40% of basic)",
                "lines": [{"component": c, "amount": a, "formula": f} for c, a, f in DEFAULT_STRUCTURE],
            }
        )


def check_code(code: str, field: str = "code") -> str:
    """A component or structure code: capitals, digits and ``_``, starting with a letter, not ``GROSS``."""
    code = (code or "").strip().upper()
    if not code or not code[0].isalpha() or not set(code) <= CODE_CHARS or len(code) > 24:
        raise UdyogError(
            "invalid code", status=422, errors={field: ["1 to 24 capitals, digits or _, starting with a letter"]}
        )
    if code in (GROSS, "MIN", "MAX", "ROUND"):
        raise UdyogError("invalid code", status=422, errors={field: [f"{code} is reserved"]})
    return code


@dataclass(frozen=True)
class CompiledLine:
    """A structure's line ready to evaluate."""

    code: str
    name: str
    kind: str
    pf_wage: bool
    prorated: bool
    sequence: int
    amount: Decimal | None
    formula: Formula | None


@dataclass(frozen=True)
class CompiledStructure:
    """A structure's lines in evaluation order."""

    id: uuid.UUID
    code: str
    lines: tuple[CompiledLine, ...]
    #: The lines in the order payslips show them (by sequence, then code).
    shown: tuple[CompiledLine, ...] = ()

    def evaluate(self, gross: Decimal) -> dict[str, Decimal]:
        """Each component's full monthly amount for a monthly ``gross`` (paise, half up)."""
        env: dict[str, Decimal] = {GROSS: gross}
        for line in self.lines:
            value = line.amount if line.formula is None else line.formula.evaluate(env)
            env[line.code] = _paise(value if value is not None else ZERO)
        del env[GROSS]
        return env


def compile_structure(structure_id: uuid.UUID, code: str, lines: Sequence[CompiledLine]) -> CompiledStructure:
    """Order the lines so each formula comes after what it reads; ``FormulaError`` on unknown names or cycles."""
    by_code = {line.code: line for line in lines}
    for line in lines:
        if line.formula is not None:
            unknown = sorted(line.formula.names - set(by_code) - {GROSS})
            if unknown:
                raise FormulaError(
                    f"{line.code}: unknown component {unknown[0]} (use GROSS or a component of the structure)"
                )
    order = evaluation_order({c: (ln.formula.names if ln.formula else frozenset()) for c, ln in by_code.items()})
    shown = tuple(sorted(lines, key=lambda line: (line.sequence, line.code)))
    return CompiledStructure(structure_id, code, tuple(by_code[c] for c in order), shown)


def save_structure(data: dict[str, Any], obj: Structure | None = None) -> Structure:
    """Create or replace a structure and its lines (422 naming ``lines.N.formula`` and friends)."""
    session = db_session()
    code = check_code(data["code"]) if "code" in data or obj is None else obj.code
    clash = select(Structure.id).where(Structure.code == code)
    if obj is not None:
        clash = clash.where(Structure.id != obj.id)
    if session.scalar(clash) is not None:
        raise UdyogError("code taken", status=409, errors={"code": [f"a structure {code} exists"]})
    components = {c.code: c for c in session.scalars(select(Component))}
    raw_lines = data.get("lines")
    compiled: list[CompiledLine] = []
    rows: list[tuple[Component, Decimal | None, str | None]] = []
    if raw_lines is not None:
        if not raw_lines:
            raise UdyogError("invalid structure", status=422, errors={"lines": ["at least one component"]})
        seen: set[str] = set()
        for index, line in enumerate(raw_lines):
            where = f"lines.{index}"
            comp_code = (line.get("component") or "").strip().upper()
            component = components.get(comp_code)
            if component is None:
                raise UdyogError("invalid structure", status=422, errors={f"{where}.component": ["no such component"]})
            if comp_code in seen:
                raise UdyogError("invalid structure", status=422, errors={f"{where}.component": ["listed twice"]})
            seen.add(comp_code)
            amount, text = line.get("amount"), line.get("formula")
            text = text.strip() if isinstance(text, str) and text.strip() else None
            if (amount is None) == (text is None):
                raise UdyogError(
                    "invalid structure",
                    status=422,
                    errors={f"{where}.amount": ["give an amount or a formula, not both"]},
                )
            formula = None
            if text is not None:
                try:
                    formula = compile_formula(text)
                except FormulaError as exc:
                    raise UdyogError("invalid structure", status=422, errors={f"{where}.formula": [str(exc)]}) from None
            compiled.append(
                CompiledLine(
                    comp_code,
                    component.name,
                    component.kind,
                    component.pf_wage,
                    component.prorated,
                    component.sequence,
                    amount,
                    formula,
                )
            )
            rows.append((component, amount, text))
        try:
            compile_structure(obj.id if obj else uuid.uuid4(), code, compiled)
        except FormulaError as exc:
            raise UdyogError("invalid structure", status=422, errors={"lines": [str(exc)]}) from None
    if obj is None:
        obj = Structure(code=code, name=data.get("name") or code, active=data.get("active", True))
        session.add(obj)
    else:
        obj.code = code
        if "name" in data:
            obj.name = data["name"]
        if "active" in data:
            obj.active = data["active"]
    session.flush()
    if raw_lines is not None:
        session.execute(delete(StructureLine).where(StructureLine.structure_id == obj.id))
        for component, amount, text in rows:
            session.add(StructureLine(structure_id=obj.id, component_id=component.id, amount=amount, formula=text))
        session.flush()
    return obj


def structure_lines(structure_id: uuid.UUID) -> list[dict[str, Any]]:
    """A structure's lines as ``{component, name, kind, amount, formula}``, in the components' order."""
    rows = db_session().execute(
        select(
            Component.code,
            Component.name,
            Component.kind,
            Component.sequence,
            StructureLine.amount,
            StructureLine.formula,
        )
        .join(Component, Component.id == StructureLine.component_id)
        .where(StructureLine.structure_id == structure_id)
        .order_by(Component.sequence, Component.code)
    )
    return [
        {"component": r.code, "name": r.name, "kind": r.kind, "amount": r.amount, "formula": r.formula} for r in rows
    ]


def compiled_structures() -> dict[uuid.UUID, CompiledStructure]:
    """Every structure of the tenant, compiled (one query for all lines)."""
    session = db_session()
    lines: dict[uuid.UUID, list[CompiledLine]] = {}
    codes = dict(session.execute(select(Structure.id, Structure.code)).all())
    rows = session.execute(
        select(
            StructureLine.structure_id,
            Component.code,
            Component.name,
            Component.kind,
            Component.pf_wage,
            Component.prorated,
            Component.sequence,
            StructureLine.amount,
            StructureLine.formula,
        ).join(Component, Component.id == StructureLine.component_id)
    )
    for r in rows:
        formula = compile_formula(r.formula) if r.formula else None
        lines.setdefault(r.structure_id, []).append(
            CompiledLine(r.code, r.name, r.kind, r.pf_wage, r.prorated, r.sequence, r.amount, formula)
        )
    return {sid: compile_structure(sid, codes[sid], found) for sid, found in lines.items()}


def preview(structure_id: uuid.UUID, gross: Decimal) -> list[dict[str, Any]]:
    """The components a monthly ``gross`` comes to under a structure (422 if a formula cannot be evaluated)."""
    structure = compiled_structures().get(structure_id)
    if structure is None:
        raise UdyogError("Structure not found", status=404)
    try:
        amounts = structure.evaluate(gross)
    except FormulaError as exc:
        raise UdyogError("cannot evaluate", status=422, errors={"gross": [str(exc)]}) from None
    ordered = sorted(structure.lines, key=lambda line: (line.sequence, line.code))
    return [{"component": ln.code, "name": ln.name, "kind": ln.kind, "amount": amounts[ln.code]} for ln in ordered]


# -- assignments -------------------------------------------------------------------------------------

REGIMES = statutory.REGIMES


def save_assignment(data: dict[str, Any], obj: Assignment | None = None) -> Assignment:
    """Assign a structure and monthly gross to an employee from a date (422 naming the field, 409 on a clash)."""
    session = db_session()
    merged = {
        **(
            {
                "employee_id": obj.employee_id,
                "structure_id": obj.structure_id,
                "effective_from": obj.effective_from,
            }
            if obj
            else {}
        ),
        **data,
    }
    if session.scalar(select(Employee.id).where(Employee.id == merged["employee_id"])) is None:
        raise UdyogError("invalid assignment", status=422, errors={"employee_id": ["no such employee"]})
    if session.scalar(select(Structure.id).where(Structure.id == merged["structure_id"])) is None:
        raise UdyogError("invalid assignment", status=422, errors={"structure_id": ["no such structure"]})
    if merged.get("tax_regime", "new") not in REGIMES:
        raise UdyogError("invalid assignment", status=422, errors={"tax_regime": [f"one of {', '.join(REGIMES)}"]})
    clash = select(Assignment.id).where(
        Assignment.employee_id == merged["employee_id"], Assignment.effective_from == merged["effective_from"]
    )
    if obj is not None:
        clash = clash.where(Assignment.id != obj.id)
    if session.scalar(clash) is not None:
        raise UdyogError(
            "an assignment starts on that date already",
            status=409,
            errors={"effective_from": ["the employee has a salary assignment from that date"]},
        )
    locked = _locked_through(merged["employee_id"])
    if locked is not None and merged["effective_from"] <= locked:
        raise UdyogError(
            "that month is paid already",
            status=422,
            errors={"effective_from": [f"payroll is approved up to {locked.isoformat()}; start after it"]},
        )
    if obj is None:
        obj = Assignment(**data)
        session.add(obj)
    else:
        for key, value in data.items():
            setattr(obj, key, value)
    session.flush()
    return obj


def _locked_through(employee_id: uuid.UUID) -> dt.date | None:
    """The last day of the latest approved or paid month on which the employee has a payslip."""
    row = (
        db_session()
        .execute(
            select(Payslip.year, Payslip.month)
            .join(Run, Run.id == Payslip.run_id)
            .where(Payslip.employee_id == employee_id, Run.state.in_(("approved", "paid")))
            .order_by(Payslip.year.desc(), Payslip.month.desc())
            .limit(1)
        )
        .first()
    )
    return None if row is None else month_bounds(row.year, row.month)[1]


# -- runs ----------------------------------------------------------------------------------------------


def create_run(year: int, month: int, note: str = "") -> Run:
    """A draft run for a month (409 if the month has one)."""
    month_bounds(year, month)
    session = db_session()
    if session.scalar(select(Run.id).where(Run.year == year, Run.month == month)) is not None:
        raise UdyogError("run exists", status=409, errors={"month": [f"{year}-{month:02d} has a payroll run"]})
    run = Run(year=year, month=month, state="draft", note=note, skipped=[])
    session.add(run)
    session.flush()
    return run


def run_computing(run: Run) -> bool:
    """Whether the run's latest computation job has not finished yet."""
    if run.job_id is None:
        return False
    status = run_status(run.job_id)
    return status is not None and not status.finished


def queue_compute(run: Run) -> uuid.UUID:
    """Queue the background computation of a draft (or computed, not approved) run; returns the job id."""
    if run.state not in ("draft", "computed"):
        raise UdyogError("run is locked", status=409, errors={"state": [f"the run is {run.state}: locked"]})
    if run_computing(run):
        raise UdyogError("run is being computed", status=409, errors={"state": ["a computation is running"]})
    run.job_id = enqueue(COMPUTE_TASK, {"run_id": str(run.id)})
    db_session().flush()
    return run.job_id


@dataclass(frozen=True)
class _EmployeeRow:
    id: uuid.UUID
    code: str
    name: str
    designation: str | None
    department_id: uuid.UUID | None
    work_state: str
    gender: str
    date_of_birth: dt.date
    pan: str | None
    uan: str | None
    esi_number: str | None
    bank_account_number: str | None
    bank_ifsc: str | None


EMPLOYEE_COLUMNS = (
    Employee.id,
    Employee.code,
    Employee.name,
    Employee.designation,
    Employee.department_id,
    Employee.work_state,
    Employee.gender,
    Employee.date_of_birth,
    Employee.pan,
    Employee.uan,
    Employee.esi_number,
    Employee.bank_account_number,
    Employee.bank_ifsc,
)


@dataclass(frozen=True)
class YearToDate:
    """What earlier approved months of the financial year paid an employee."""

    gross: Decimal = ZERO
    tds: Decimal = ZERO
    professional_tax: Decimal = ZERO


def _ordinal(year: int, month: int) -> int:
    return year * 12 + month - 1


def _ordinal_of_payslip() -> Any:
    return Payslip.year * 12 + Payslip.month - 1


def _released_between(query: Any, lo: int, hi: int) -> Any:
    ordinal = _ordinal_of_payslip()
    return query.join(Run, Run.id == Payslip.run_id).where(
        Run.state.in_(("approved", "paid")), ordinal >= lo, ordinal < hi
    )


def _year_to_date(first: dt.date) -> dict[uuid.UUID, YearToDate]:
    """Sums per employee over approved or paid runs of the financial year before ``first``'s month (one query).

    PostgreSQL adds up in SQL (exact ``NUMERIC``); SQLite, whose sums of decimals go through
    floating point, returns the rows and Python adds them up.
    """
    fy = statutory.financial_year_start(first)
    start, end = _ordinal(fy.year, fy.month), _ordinal(first.year, first.month)
    session = db_session()
    if session.get_bind().dialect.name == "postgresql":
        totals = _released_between(
            select(
                Payslip.employee_id,
                func.sum(Payslip.gross),
                func.sum(Payslip.tds),
                func.sum(Payslip.professional_tax),
            ),
            start,
            end,
        ).group_by(Payslip.employee_id)
        return {row[0]: YearToDate(row[1], row[2], row[3]) for row in session.execute(totals)}
    sums: dict[uuid.UUID, list[Decimal]] = {}
    rows = session.execute(
        _released_between(select(Payslip.employee_id, Payslip.gross, Payslip.tds, Payslip.professional_tax), start, end)
    )
    for employee_id, gross, tds, pt in rows:
        acc = sums.setdefault(employee_id, [ZERO, ZERO, ZERO])
        acc[0] += gross
        acc[1] += tds
        acc[2] += pt
    return {k: YearToDate(*v) for k, v in sums.items()}


def _esi_coverage(first: dt.date) -> dict[uuid.UUID, bool]:
    """Each employee's ESI coverage fixed earlier in the contribution period (their first payslip in it)."""
    start, _ = statutory.contribution_period(first)
    if start == first:
        return {}
    lo, hi = _ordinal(start.year, start.month), _ordinal(first.year, first.month)
    ordinal = _ordinal_of_payslip()
    firsts = (
        _released_between(select(Payslip.employee_id.label("employee_id"), func.min(ordinal).label("first")), lo, hi)
        .group_by(Payslip.employee_id)
        .subquery()
    )
    query = _released_between(select(Payslip.employee_id, Payslip.esi_covered), lo, hi).join(
        firsts, and_(firsts.c.employee_id == Payslip.employee_id, firsts.c.first == ordinal)
    )
    return dict(db_session().execute(query).all())


def _settings() -> Mapping[str, Any]:
    try:
        return plugin_settings("payroll")
    except LookupError:
        return {}


@dataclass
class ComputeResult:
    """What a computation wrote: payslips, and employees left out with the reason."""

    payslips: int
    skipped: list[dict[str, str]]


def compute_payslip(
    employee: Any,
    assignment: Any,
    structure: CompiledStructure,
    summary: AttendanceSummary | None,
    rules: StatutoryRules,
    first: dt.date,
    *,
    ytd: YearToDate,
    esi_covered: bool | None,
    attendance_lop: bool = True,
) -> dict[str, Any]:
    """One employee's payslip row for the month starting ``first`` (no database access).

    The structure splits the assignment's monthly gross into components; prorated components
    are paid for ``days_payable / days_in_month`` (hr's summary: loss of pay and days before
    joining or after leaving are not payable). Then EPF on the basic and DA paid, ESI and
    professional tax on the gross paid, TDS on the year's projection (the full monthly gross
    for the months to come), other deductions as the structure says.
    """
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    if summary is None:
        payable, lop = Decimal(days_in_month), ZERO
    elif attendance_lop:
        payable, lop = summary.days_payable, summary.loss_of_pay_days
    else:  # loss of pay is not tracked by attendance: every day employed is paid
        payable, lop = summary.days_payable + summary.loss_of_pay_days, ZERO
    factor = payable / Decimal(days_in_month)
    full = structure.evaluate(assignment.monthly_gross)
    ordered = structure.shown
    paid = dict(full)
    if factor != 1:
        # Prorate each component to the paisa; the earnings' rounding residue goes to the largest one,
        # so that prorated earnings add up to the prorated total exactly.
        exact = ZERO
        largest: str | None = None
        for line in ordered:
            if not line.prorated:
                continue
            paid[line.code] = _paise(full[line.code] * factor)
            if line.kind == "earning":
                exact += full[line.code] * factor
                if largest is None or full[line.code] > full[largest]:
                    largest = line.code
        if largest is not None:
            rounded = sum((paid[x.code] for x in ordered if x.prorated and x.kind == "earning"), ZERO)
            paid[largest] += _paise(exact) - rounded
    lines = []
    gross = pf_wages = other = ZERO
    for line in ordered:
        amount = paid[line.code]
        if amount == 0 and line.amount is not None and line.amount == 0:
            continue
        lines.append({"code": line.code, "name": line.name, "kind": line.kind, "amount": str(amount)})
        if line.kind == "earning":
            gross += amount
            if line.pf_wage:
                pf_wages += amount
        else:
            other += amount
    result = statutory.compute_statutory(
        rules,
        StatutoryInput(
            month=first,
            gross=gross,
            pf_wages=pf_wages,
            state=employee.work_state,
            gender=employee.gender,
            date_of_birth=employee.date_of_birth,
            regime=assignment.tax_regime,
            pf_applicable=assignment.pf_applicable,
            esi_covered=esi_covered,
            esi_applicable=assignment.esi_applicable,
            pt_applicable=assignment.pt_applicable,
            gross_paid_before=ytd.gross,
            tds_deducted_before=ytd.tds,
            pt_paid_before=ytd.professional_tax,
            other_deductions=assignment.declared_deductions,
            gross_future_monthly=assignment.monthly_gross,
        ),
    )
    epf, esi, tds = result.epf, result.esi, result.tds
    total_deductions = result.employee_deductions + other
    computation = tds.computation
    heads = {
        "days_payable": payable,
        "lop_days": lop,
        "monthly_gross": assignment.monthly_gross,
        "pf_wages": epf.pf_wages if epf else ZERO,
        "epf_wages": epf.epf_wages if epf else ZERO,
        "eps_wages": epf.eps_wages if epf else ZERO,
        "edli_wages": epf.edli_wages if epf else ZERO,
        "epf_employee": epf.employee if epf else ZERO,
        "eps": epf.eps if epf else ZERO,
        "epf_employer": epf.employer_epf if epf else ZERO,
        "edli": epf.edli if epf else ZERO,
        "epf_admin": epf.admin if epf else ZERO,
        "esi_wages": esi.wages if esi else ZERO,
        "esi_employee": esi.employee if esi else ZERO,
        "esi_employer": esi.employer if esi else ZERO,
        "other_deductions": other,
    }
    return {
        "id": new_id(),
        "employee_id": employee.id,
        "year": first.year,
        "month": first.month,
        "employee_code": employee.code,
        "employee_name": employee.name,
        "tax_regime": assignment.tax_regime,
        "days_in_month": days_in_month,
        "esi_covered": bool(esi and esi.covered),
        "gross": gross,
        "professional_tax": result.professional_tax,
        "tds": tds.tds,
        "total_deductions": total_deductions,
        "net_pay": gross - total_deductions,
        # Every head has at most two decimals already: formatting with two places is exact.
        "heads": {key: f"{value:.2f}" for key, value in heads.items()},
        "snapshot": {
            "designation": employee.designation,
            "department_id": str(employee.department_id) if employee.department_id else None,
            "work_state": employee.work_state,
            "gender": employee.gender,
            "pan": employee.pan,
            "uan": employee.uan,
            "esi_number": employee.esi_number,
            "bank_account_number": employee.bank_account_number,
            "bank_ifsc": employee.bank_ifsc,
        },
        "lines": lines,
        "tax": {
            "regime": tds.regime,
            "projected_gross": str(tds.projected_gross),
            "deductions": str(tds.deductions),
            "taxable_income": str(computation.taxable_income),
            "tax": str(computation.tax),
            "rebate": str(computation.rebate),
            "surcharge": str(computation.surcharge),
            "cess": str(computation.cess),
            "annual_tax": str(computation.total),
            "deducted_before": str(tds.deducted_before),
            "months_remaining": tds.months_remaining,
        },
    }


def compute_run(
    run: Run, progress: Callable[[float, str], None] | None = None, *, attendance_lop: bool | None = None
) -> ComputeResult:
    """Compute every payslip of a draft run, replacing those of an earlier computation (set-based).

    Reads employees employed in the month, their assignment in force on the month's last day,
    the compiled structures, hr's attendance summary, the year to date and the ESI coverage of
    the contribution period, each in one query or a few; computes in memory; writes the payslips
    in bulk. Employees without a salary (or whose formulas fail) are listed in ``run.skipped``.
    ``attendance_lop`` overrides the setting ``loss_of_pay_from_attendance``.
    """
    if run.state not in ("draft", "computed"):
        raise UdyogError("run is locked", status=409, errors={"state": [f"the run is {run.state}: locked"]})
    report = progress or (lambda percent, message: None)
    session = db_session()
    first, last = month_bounds(run.year, run.month)
    rules = load_rules()
    try:
        rules.epf_on(first), rules.esi_on(first), rules.income_tax_on("new", first)
    except StatutoryError as exc:
        raise UdyogError(str(exc), status=422, errors={"month": [str(exc)]}) from None
    employees = session.execute(
        select(*EMPLOYEE_COLUMNS)
        .where(
            Employee.date_of_joining <= last,
            or_(Employee.date_of_leaving.is_(None), Employee.date_of_leaving >= first),
            or_(Employee.active.is_(True), Employee.date_of_leaving.is_not(None)),
        )
        .order_by(Employee.code)
    ).all()
    assignments: dict[uuid.UUID, Any] = {}
    for row in session.execute(
        select(
            Assignment.employee_id,
            Assignment.structure_id,
            Assignment.effective_from,
            Assignment.monthly_gross,
            Assignment.tax_regime,
            Assignment.pf_applicable,
            Assignment.esi_applicable,
            Assignment.pt_applicable,
            Assignment.declared_deductions,
        ).where(Assignment.effective_from <= last)
    ):
        held = assignments.get(row.employee_id)
        if held is None or row.effective_from > held.effective_from:
            assignments[row.employee_id] = row
    structures = compiled_structures()
    report(20, f"{len(employees)} employees")
    # Every employee employed in the month (no list of ids: the same set, without 5,000-id IN lists).
    summaries = attendance_summary(run.year, run.month) if employees else {}
    ytd = _year_to_date(first)
    coverage = _esi_coverage(first)
    lop_from_attendance = (
        bool(_settings().get("loss_of_pay_from_attendance", True)) if attendance_lop is None else attendance_lop
    )
    report(40, "attendance and year to date read")
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    empty = YearToDate()
    for employee in employees:
        assignment = assignments.get(employee.id)
        if assignment is None:
            skipped.append({"employee_id": str(employee.id), "code": employee.code, "reason": "no salary assigned"})
            continue
        structure = structures.get(assignment.structure_id)
        if structure is None:
            skipped.append({"employee_id": str(employee.id), "code": employee.code, "reason": "structure has no lines"})
            continue
        try:
            row = compute_payslip(
                employee,
                assignment,
                structure,
                summaries.get(employee.id),
                rules,
                first,
                ytd=ytd.get(employee.id, empty),
                esi_covered=coverage.get(employee.id),
                attendance_lop=lop_from_attendance,
            )
        except (FormulaError, StatutoryError) as exc:
            skipped.append({"employee_id": str(employee.id), "code": employee.code, "reason": str(exc)})
            continue
        row["run_id"] = run.id
        rows.append(row)
    report(70, f"{len(rows)} payslips computed")
    session.execute(delete(Payslip).where(Payslip.run_id == run.id))
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(Payslip), rows[start : start + INSERT_CHUNK])
    run.employees = len(rows)
    run.total_gross = sum((r["gross"] for r in rows), ZERO)
    run.total_deductions = sum((r["total_deductions"] for r in rows), ZERO)
    run.total_net = sum((r["net_pay"] for r in rows), ZERO)
    run.total_employer = sum(
        (
            Decimal(r["heads"][key])
            for r in rows
            for key in ("eps", "epf_employer", "edli", "epf_admin", "esi_employer")
        ),
        ZERO,
    )
    run.skipped = skipped
    run.state = "computed"
    run.computed_at = utcnow()
    session.flush()
    emit("payroll.run.computed", run_event(run))
    return ComputeResult(len(rows), skipped)


def run_event(run: Run) -> dict[str, Any]:
    """The payload of ``payroll.run.computed`` and ``payroll.run.approved``."""
    return {
        "run_id": str(run.id),
        "year": run.year,
        "month": run.month,
        "employees": run.employees,
        "total_net": str(run.total_net),
    }


def _check_version(run: Run, version: int | None) -> None:
    if version is not None and version != run.version:
        raise UdyogError(
            "the run changed since you read it", status=409, errors={"version": [f"current version is {run.version}"]}
        )


def approve_run(run: Run, version: int | None = None) -> Run:
    """Approve a computed run: its payslips get numbers from ``payroll.payslip`` (by employee code) and it locks."""
    _check_version(run, version)
    if run.state != "computed":
        raise UdyogError("cannot approve", status=409, errors={"state": [f"the run is {run.state}; compute it first"]})
    if run_computing(run):
        raise UdyogError("run is being computed", status=409, errors={"state": ["a computation is running"]})
    session = db_session()
    _, last = month_bounds(run.year, run.month)
    slips = session.scalars(select(Payslip).where(Payslip.run_id == run.id).order_by(Payslip.employee_code)).all()
    for slip in slips:
        slip.number = next_number(SERIES, on=last)
    run.state = "approved"
    run.approved_at = utcnow()
    user = current_user()
    run.approved_by = user.user_id if user else None
    session.flush()
    emit("payroll.run.approved", run_event(run))
    return run


def pay_run(run: Run, payment_date: dt.date, version: int | None = None) -> Run:
    """Mark an approved run paid on ``payment_date``."""
    _check_version(run, version)
    if run.state != "approved":
        raise UdyogError(
            "cannot mark paid", status=409, errors={"state": [f"the run is {run.state}; approve it first"]}
        )
    run.state = "paid"
    run.paid_at = utcnow()
    run.payment_date = payment_date
    db_session().flush()
    return run


def delete_run(run: Run) -> None:
    """Delete a run that is not approved, with its payslips."""
    if run.state not in ("draft", "computed"):
        raise UdyogError("run is locked", status=409, errors={"state": [f"the run is {run.state}: locked"]})
    session = db_session()
    session.execute(delete(Payslip).where(Payslip.run_id == run.id))
    session.delete(run)
    session.flush()


def payslips_of(run: Run) -> list[Payslip]:
    """A run's payslips by employee code."""
    return list(db_session().scalars(select(Payslip).where(Payslip.run_id == run.id).order_by(Payslip.employee_code)))


def own_employee_ids() -> list[uuid.UUID]:
    """The ids of the employees whose login is the current user (usually one)."""
    user = current_user()
    if user is None:
        return []
    return list(db_session().scalars(select(Employee.id).where(Employee.user_id == user.user_id)))


def released(query: Any) -> Any:
    """Limit a payslip query to approved or paid runs (what employees may see)."""
    return query.join(Run, Run.id == Payslip.run_id).where(Run.state.in_(("approved", "paid")))


def employees_named(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Employee id → name, for the ids given (one query)."""
    wanted = list(ids)
    if not wanted:
        return {}
    return dict(db_session().execute(select(Employee.id, Employee.name).where(Employee.id.in_(wanted))).all())
