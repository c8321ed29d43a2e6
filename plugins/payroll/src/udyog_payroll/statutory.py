"""The Indian statutory payroll engine: EPF, ESI, professional tax and income-tax TDS.

Pure functions on :class:`~decimal.Decimal`: no database, no Flask. Every rate,
ceiling and slab is *data* with an effective-from date (``../shared/domain/INDIA.md``,
"Payroll"): the dataclasses below hold one dated version of a rule, a
:class:`StatutoryRules` holds their histories and answers which version is in
force on a date. :data:`DEFAULT_RULES` is what the plugin seeds into each tenant's
table ``payroll_statutory_rule`` (where a tenant may edit the policy values);
:func:`rule_to_params` and :func:`rule_from_params` convert a rule to and from the
JSON kept in that table.

Rounding follows the law, head by head: EPF heads half up to the rupee (never
Python's ``round()``, which rounds 416.50 to 416), ESI up to the next rupee,
monthly TDS half up to the rupee.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "REGIMES",
    "EpfResult",
    "EpfRule",
    "EsiResult",
    "EsiRule",
    "IncomeTaxRule",
    "PtRule",
    "PtSlab",
    "StatutoryError",
    "StatutoryInput",
    "StatutoryResult",
    "StatutoryRules",
    "SurchargeSlab",
    "TaxComputation",
    "TaxSlab",
    "TdsResult",
    "age_on",
    "annual_income_tax",
    "ceil_rupee",
    "compute_statutory",
    "contribution_period",
    "epf_contribution",
    "esi_contribution",
    "esi_covered",
    "financial_year_start",
    "half_up",
    "monthly_tds",
    "months_remaining",
    "professional_tax",
    "rule_from_params",
    "rule_to_params",
    "slab_tax",
    "tds_for_month",
]

ZERO = Decimal(0)
RUPEE = Decimal(1)
PAISE = Decimal("0.01")

#: The income-tax regimes: "new" (the default since FY 2023-24) and "old" (on request).
REGIMES = ("new", "old")
#: The kinds of rule a tenant's table holds.
KINDS = ("epf", "esi", "professional_tax", "income_tax")


class StatutoryError(ValueError):
    """A rule needed for a computation is missing or malformed."""


def half_up(amount: Decimal | int | str) -> Decimal:
    """Round to the rupee, half up (416.50 → 417), as the EPF heads and TDS are."""
    return Decimal(amount).quantize(RUPEE, rounding=ROUND_HALF_UP)


def ceil_rupee(amount: Decimal | int | str) -> Decimal:
    """Round up to the next rupee (157.01 → 158), as ESI contributions are."""
    return Decimal(amount).quantize(RUPEE, rounding=ROUND_CEILING)


def paise(amount: Decimal | int | str) -> Decimal:
    """Round to the paisa, half up."""
    return Decimal(amount).quantize(PAISE, rounding=ROUND_HALF_UP)


def age_on(date_of_birth: dt.date, on: dt.date) -> int:
    """Full years of age on ``on``."""
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def financial_year_start(on: dt.date) -> dt.date:
    """The first day (1 April) of the Indian financial year containing ``on``."""
    return dt.date(on.year if on.month >= 4 else on.year - 1, 4, 1)


def months_remaining(on: dt.date) -> int:
    """Months left in the financial year of ``on``, its own month included (April 12 … March 1)."""
    return 16 - on.month if on.month >= 4 else 4 - on.month


def contribution_period(on: dt.date) -> tuple[dt.date, dt.date]:
    """The ESI contribution period (April-September or October-March) containing ``on``: first and last day."""
    if 4 <= on.month <= 9:
        return dt.date(on.year, 4, 1), dt.date(on.year, 9, 30)
    start_year = on.year if on.month >= 10 else on.year - 1
    return dt.date(start_year, 10, 1), dt.date(start_year + 1, 3, 31)


# -- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpfRule:
    """One dated version of the EPF rules (Employees' Provident Funds Act, 1952)."""

    effective_from: dt.date
    #: PF wages (basic + DA) above this are not contributed on (unless the policy says otherwise).
    wage_ceiling: Decimal
    employee_rate: Decimal
    #: Employer's pension share (EPS), always on wages up to the ceiling.
    eps_rate: Decimal
    #: Employer's insurance (EDLI), on wages up to the ceiling.
    edli_rate: Decimal
    #: Employer's administration charges, on the wages the employee contributes on.
    admin_rate: Decimal
    #: No EPS from the month that starts at or after this age.
    eps_max_age: int
    #: Policy: contribute on wages restricted to the ceiling (the default) or on the actual wages.
    restrict_to_ceiling: bool = True
    #: The least administration charge per establishment and month (applied to the monthly statement).
    admin_minimum: Decimal = ZERO


@dataclass(frozen=True)
class EsiRule:
    """One dated version of the ESI rules (Employees' State Insurance Act, 1948)."""

    effective_from: dt.date
    #: Employees whose gross at the start of a contribution period is at most this are covered for it.
    wage_ceiling: Decimal
    employee_rate: Decimal
    employer_rate: Decimal


@dataclass(frozen=True)
class PtSlab:
    """A professional-tax slab: from ``from_gross`` (inclusive or not) the tax is ``amount`` a month."""

    from_gross: Decimal
    amount: Decimal
    #: The amount in February where the state collects the year's balance then (None: as other months).
    february_amount: Decimal | None = None
    #: Whether a gross of exactly ``from_gross`` falls in this slab ("from ₹25,000") or the one below ("above ₹7,500").
    inclusive: bool = False


@dataclass(frozen=True)
class PtRule:
    """One dated version of a state's professional-tax slabs on monthly gross salary."""

    state: str
    effective_from: dt.date
    slabs: tuple[PtSlab, ...]
    #: Slabs for women where the state has its own (Maharashtra); empty: the general slabs.
    female_slabs: tuple[PtSlab, ...] = ()


@dataclass(frozen=True)
class TaxSlab:
    """An income band taxed at ``rate``: above the previous slab's ``upto`` up to this ``upto`` (None: no end)."""

    upto: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class SurchargeSlab:
    """Surcharge at ``rate`` of the tax when total income exceeds ``over`` (with marginal relief)."""

    over: Decimal
    rate: Decimal


@dataclass(frozen=True)
class IncomeTaxRule:
    """One regime's income-tax rules for salaried individuals, in force from a financial year's start."""

    regime: str
    effective_from: dt.date
    slabs: tuple[TaxSlab, ...]
    standard_deduction: Decimal
    #: Rebate (section 87A) when taxable income is at most ``rebate_income_limit``: the tax, at most ``rebate_max``.
    rebate_income_limit: Decimal
    rebate_max: Decimal
    #: Above the limit the tax never exceeds the income over it (new regime); computed, not a cut-off.
    rebate_marginal_relief: bool
    cess_rate: Decimal
    #: Professional tax deductible from salary income, at most this a year (old regime ₹2,500; new regime nil).
    pt_deduction_max: Decimal = ZERO
    surcharge: tuple[SurchargeSlab, ...] = ()
    #: These slabs apply from this age (the old regime's senior and very senior citizens).
    min_age: int = 0


Rule = EpfRule | EsiRule | PtRule | IncomeTaxRule
R = TypeVar("R", EpfRule, EsiRule, PtRule, IncomeTaxRule)


def _in_force(rules: Iterable[R], on: dt.date) -> R | None:
    best: R | None = None
    for rule in rules:
        if rule.effective_from <= on and (best is None or rule.effective_from > best.effective_from):
            best = rule
    return best


@dataclass(frozen=True)
class StatutoryRules:
    """The histories of every rule; each ``*_on`` answers the version in force on a date."""

    epf: tuple[EpfRule, ...] = ()
    esi: tuple[EsiRule, ...] = ()
    professional_tax: tuple[PtRule, ...] = ()
    income_tax: tuple[IncomeTaxRule, ...] = ()
    #: Answers already given (a run asks the same questions for thousands of employees).
    _memo: dict[tuple[Any, ...], Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> StatutoryRules:
        """Sort a mixed list of rules into their histories."""
        epf: list[EpfRule] = []
        esi: list[EsiRule] = []
        pt: list[PtRule] = []
        tax: list[IncomeTaxRule] = []
        for rule in rules:
            if isinstance(rule, EpfRule):
                epf.append(rule)
            elif isinstance(rule, EsiRule):
                esi.append(rule)
            elif isinstance(rule, PtRule):
                pt.append(rule)
            elif isinstance(rule, IncomeTaxRule):
                tax.append(rule)
            else:  # pragma: no cover - typing guards it
                raise StatutoryError(f"not a statutory rule: {rule!r}")
        return cls(tuple(epf), tuple(esi), tuple(pt), tuple(tax))

    def all(self) -> list[Rule]:
        """Every rule, of every kind."""
        return [*self.epf, *self.esi, *self.professional_tax, *self.income_tax]

    def epf_on(self, on: dt.date) -> EpfRule:
        """The EPF rules in force on ``on``."""
        key = ("epf", on)
        if key in self._memo:
            return self._memo[key]  # type: ignore[no-any-return]
        rule = self._memo[key] = _in_force(self.epf, on)
        if rule is None:
            raise StatutoryError(f"no EPF rule in force on {on.isoformat()}")
        return rule

    def esi_on(self, on: dt.date) -> EsiRule:
        """The ESI rules in force on ``on``."""
        key = ("esi", on)
        if key in self._memo:
            return self._memo[key]  # type: ignore[no-any-return]
        rule = self._memo[key] = _in_force(self.esi, on)
        if rule is None:
            raise StatutoryError(f"no ESI rule in force on {on.isoformat()}")
        return rule

    def professional_tax_on(self, state: str | None, on: dt.date) -> PtRule | None:
        """The professional-tax slabs of ``state`` in force on ``on``; None where the state levies none."""
        if not state:
            return None
        key = ("pt", state, on)
        if key not in self._memo:
            self._memo[key] = _in_force((r for r in self.professional_tax if r.state == state.upper()), on)
        return self._memo[key]  # type: ignore[no-any-return]

    def income_tax_on(self, regime: str, on: dt.date, age: int = 0) -> IncomeTaxRule:
        """The ``regime``'s rules for the financial year containing ``on``, for a person of ``age``."""
        key = ("tax", regime, on, age)
        if key in self._memo:
            return self._memo[key]  # type: ignore[no-any-return]
        if regime not in REGIMES:
            raise StatutoryError(f"unknown income-tax regime {regime!r}; one of {', '.join(REGIMES)}")
        fy_start = financial_year_start(on)
        in_force = [
            r for r in self.income_tax if r.regime == regime and r.min_age <= age and r.effective_from <= fy_start
        ]
        if in_force:
            band = max(r.min_age for r in in_force)
            rule = _in_force((r for r in in_force if r.min_age == band), fy_start)
            if rule is not None:
                self._memo[key] = rule
                return rule
        raise StatutoryError(f"no {regime}-regime income-tax rule for the financial year from {fy_start.isoformat()}")


# -- EPF --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpfResult:
    """A month's EPF for one employee: the wages each head is on and the heads, in rupees."""

    pf_wages: Decimal
    epf_wages: Decimal
    eps_wages: Decimal
    edli_wages: Decimal
    employee: Decimal
    eps: Decimal
    employer_epf: Decimal
    edli: Decimal
    admin: Decimal

    @property
    def employer(self) -> Decimal:
        """The employer's contribution to the member's accounts (EPS + EPF), without EDLI and admin."""
        return self.eps + self.employer_epf


def epf_contribution(pf_wages: Decimal, rule: EpfRule, *, age: int, restrict: bool | None = None) -> EpfResult:
    """EPF on ``pf_wages`` (basic + DA of the month) for an employee of ``age`` at the month's start.

    Employee 12% of the wages (restricted to the ceiling by default, ``restrict`` overrides the
    rule's policy); EPS 8.33% of min(wages, ceiling), nil from ``eps_max_age``; employer EPF =
    employee share - EPS; EDLI on min(wages, ceiling); admin on the employee's wages. Each head
    rounded half up to the rupee.
    """
    wages = max(paise(pf_wages), ZERO)
    ceiling = rule.wage_ceiling
    restricted = rule.restrict_to_ceiling if restrict is None else restrict
    epf_wages = min(wages, ceiling) if restricted else wages
    eps_wages = min(wages, ceiling) if age < rule.eps_max_age else ZERO
    edli_wages = min(wages, ceiling)
    employee = half_up(epf_wages * rule.employee_rate)
    eps = half_up(eps_wages * rule.eps_rate)
    return EpfResult(
        pf_wages=wages,
        epf_wages=epf_wages,
        eps_wages=eps_wages,
        edli_wages=edli_wages,
        employee=employee,
        eps=eps,
        employer_epf=employee - eps,
        edli=half_up(edli_wages * rule.edli_rate),
        admin=half_up(epf_wages * rule.admin_rate),
    )


# -- ESI --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EsiResult:
    """A month's ESI for one employee."""

    covered: bool
    wages: Decimal
    employee: Decimal
    employer: Decimal


def esi_covered(gross_at_period_start: Decimal, rule: EsiRule) -> bool:
    """Whether an employee is covered for a contribution period, from the gross of its first month on payroll."""
    return paise(gross_at_period_start) <= rule.wage_ceiling


def esi_contribution(gross: Decimal, rule: EsiRule, *, covered: bool | None = None) -> EsiResult:
    """ESI on the month's ``gross``: employee 0.75%, employer 3.25%, each rounded up to the rupee.

    ``covered`` is the coverage fixed for the contribution period (an employee covered at its
    start contributes on the full gross even when a raise takes it past the ceiling); None
    decides from this month's gross, as for the period's first month.
    """
    wages = max(paise(gross), ZERO)
    if covered is None:
        covered = esi_covered(wages, rule)
    if not covered or wages == ZERO:
        return EsiResult(covered=covered, wages=wages if covered else ZERO, employee=ZERO, employer=ZERO)
    return EsiResult(
        covered=True,
        wages=wages,
        employee=ceil_rupee(wages * rule.employee_rate),
        employer=ceil_rupee(wages * rule.employer_rate),
    )


# -- professional tax -------------------------------------------------------------------------------


def professional_tax(gross: Decimal, rule: PtRule | None, *, month: int, gender: str | None) -> Decimal:
    """The month's professional tax on ``gross`` under ``rule`` (nil where the state levies none).

    Women use the state's women's slabs where it has them; February uses a slab's
    ``february_amount`` where it has one.
    """
    if rule is None:
        return ZERO
    slabs = rule.female_slabs if gender == "female" and rule.female_slabs else rule.slabs
    wages = paise(gross)
    chosen: PtSlab | None = None
    for slab in sorted(slabs, key=lambda s: s.from_gross):
        if wages > slab.from_gross or (slab.inclusive and wages == slab.from_gross):
            chosen = slab
    if chosen is None:
        return ZERO
    if month == 2 and chosen.february_amount is not None:
        return chosen.february_amount
    return chosen.amount


# -- income tax -------------------------------------------------------------------------------------


def slab_tax(income: Decimal, slabs: Sequence[TaxSlab]) -> Decimal:
    """Tax on ``income`` by the slabs (each band at its rate), unrounded."""
    tax = ZERO
    lower = ZERO
    for slab in slabs:
        if income <= lower:
            break
        upper = income if slab.upto is None else min(income, slab.upto)
        if upper > lower:
            tax += (upper - lower) * slab.rate
        if slab.upto is None:
            break
        lower = slab.upto
    return tax


@dataclass(frozen=True)
class TaxComputation:
    """The year's income tax on a taxable income, step by step (rupees, the total rounded half up)."""

    taxable_income: Decimal
    tax: Decimal
    rebate: Decimal
    surcharge: Decimal
    cess: Decimal
    total: Decimal


def _surcharge(income: Decimal, tax: Decimal, rule: IncomeTaxRule) -> Decimal:
    slabs = sorted(rule.surcharge, key=lambda s: s.over)
    applicable = [s for s in slabs if income > s.over]
    if not applicable:
        return ZERO
    top = applicable[-1]
    surcharge = tax * top.rate
    # Marginal relief: tax + surcharge may exceed that at the threshold by no more than the income over it.
    below = applicable[-2].rate if len(applicable) > 1 else ZERO
    at_threshold = slab_tax(top.over, rule.slabs)
    ceiling = at_threshold * (1 + below) + (income - top.over)
    if tax + surcharge > ceiling:
        surcharge = max(ceiling - tax, ZERO)
    return surcharge


def annual_income_tax(taxable_income: Decimal, rule: IncomeTaxRule) -> TaxComputation:
    """The year's tax on ``taxable_income`` (after deductions) under ``rule``.

    Slab tax; the rebate when the income is at most the limit, and with marginal relief
    above it the tax never exceeds the income over the limit (so the rebate fades out
    where it must, computed rather than hard-coded); surcharge with its marginal relief;
    cess on the tax after rebate and surcharge. The total is rounded half up to the rupee.
    """
    income = max(half_up(taxable_income), ZERO)
    tax = slab_tax(income, rule.slabs)
    rebate = ZERO
    if income <= rule.rebate_income_limit:
        rebate = min(tax, rule.rebate_max)
    elif rule.rebate_marginal_relief:
        rebate = max(tax - (income - rule.rebate_income_limit), ZERO)
    after_rebate = tax - rebate
    surcharge = _surcharge(income, after_rebate, rule)
    cess = (after_rebate + surcharge) * rule.cess_rate
    return TaxComputation(
        taxable_income=income,
        tax=paise(tax),
        rebate=paise(rebate),
        surcharge=paise(surcharge),
        cess=paise(cess),
        total=half_up(after_rebate + surcharge + cess),
    )


def monthly_tds(annual_tax: Decimal, deducted_so_far: Decimal, remaining: int) -> Decimal:
    """(Estimated annual tax - TDS already deducted) / months remaining including this one, half up; never negative."""
    if remaining < 1:
        raise StatutoryError("months remaining must be at least 1")
    return max(half_up((annual_tax - deducted_so_far) / remaining), ZERO)


@dataclass(frozen=True)
class TdsResult:
    """A month's TDS with the projection it rests on."""

    regime: str
    projected_gross: Decimal
    deductions: Decimal
    computation: TaxComputation
    deducted_before: Decimal
    months_remaining: int
    tds: Decimal


def tds_for_month(
    rules: StatutoryRules,
    *,
    month: dt.date,
    regime: str,
    gross_this_month: Decimal,
    gross_paid_before: Decimal = ZERO,
    tds_deducted_before: Decimal = ZERO,
    pt_this_month: Decimal = ZERO,
    pt_paid_before: Decimal = ZERO,
    other_deductions: Decimal = ZERO,
    age: int = 0,
    gross_future_monthly: Decimal | None = None,
) -> TdsResult:
    """The month's TDS on salary.

    The year's gross is projected as what was paid earlier in the financial year plus this
    month's gross for every remaining month (this one included), so a raise mid-year spreads
    the extra tax over the months left. Taxable income = projection - standard deduction -
    professional tax (only where the regime allows it, up to its cap) - ``other_deductions``
    (declared exemptions and deductions, old regime only). ``gross_future_monthly`` projects
    the months after this one when this month's gross is not typical (loss of pay, joining
    mid-month); by default they are like this one.
    """
    rule = rules.income_tax_on(regime, month, age)
    remaining = months_remaining(month)
    future = gross_this_month if gross_future_monthly is None else gross_future_monthly
    projected = paise(gross_paid_before + gross_this_month + future * (remaining - 1))
    pt_year = pt_paid_before + pt_this_month * remaining
    deductions = rule.standard_deduction + min(pt_year, rule.pt_deduction_max)
    if regime == "old":
        deductions += max(other_deductions, ZERO)
    deductions = min(deductions, projected)
    computation = annual_income_tax(projected - deductions, rule)
    return TdsResult(
        regime=regime,
        projected_gross=projected,
        deductions=paise(deductions),
        computation=computation,
        deducted_before=tds_deducted_before,
        months_remaining=remaining,
        tds=monthly_tds(computation.total, tds_deducted_before, remaining),
    )


# -- one payslip ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatutoryInput:
    """What the statutory deductions of one employee's month depend on."""

    month: dt.date
    gross: Decimal
    pf_wages: Decimal
    state: str | None
    gender: str | None
    date_of_birth: dt.date | None
    regime: str = "new"
    pf_applicable: bool = True
    #: The ESI coverage fixed for the contribution period; None: decide from this month's gross.
    esi_covered: bool | None = None
    esi_applicable: bool = True
    pt_applicable: bool = True
    gross_paid_before: Decimal = ZERO
    tds_deducted_before: Decimal = ZERO
    pt_paid_before: Decimal = ZERO
    other_deductions: Decimal = ZERO
    #: The gross expected in each later month of the year (the full monthly salary); None: like this month.
    gross_future_monthly: Decimal | None = None


@dataclass(frozen=True)
class StatutoryResult:
    """Every statutory head of one employee's month, and the deductions from pay."""

    epf: EpfResult | None
    esi: EsiResult | None
    professional_tax: Decimal
    tds: TdsResult

    @property
    def employee_deductions(self) -> Decimal:
        """What comes off the employee's pay: PF, ESI, PT and TDS."""
        return (
            (self.epf.employee if self.epf else ZERO)
            + (self.esi.employee if self.esi else ZERO)
            + self.professional_tax
            + self.tds.tds
        )


def compute_statutory(rules: StatutoryRules, data: StatutoryInput) -> StatutoryResult:
    """EPF, ESI, professional tax and TDS of one employee's month."""
    month = data.month.replace(day=1)
    age = age_on(data.date_of_birth, month) if data.date_of_birth else 0
    epf = epf_contribution(data.pf_wages, rules.epf_on(month), age=age) if data.pf_applicable else None
    esi = esi_contribution(data.gross, rules.esi_on(month), covered=data.esi_covered) if data.esi_applicable else None
    pt = ZERO
    if data.pt_applicable:
        pt = professional_tax(
            data.gross, rules.professional_tax_on(data.state, month), month=month.month, gender=data.gender
        )
    tds = tds_for_month(
        rules,
        month=month,
        regime=data.regime,
        gross_this_month=data.gross,
        gross_paid_before=data.gross_paid_before,
        tds_deducted_before=data.tds_deducted_before,
        pt_this_month=pt,
        pt_paid_before=data.pt_paid_before,
        other_deductions=data.other_deductions,
        age=age,
        gross_future_monthly=data.gross_future_monthly,
    )
    return StatutoryResult(epf=epf, esi=esi, professional_tax=pt, tds=tds)


# -- rules as data ----------------------------------------------------------------------------------

_CLASSES: dict[str, type] = {
    "epf": EpfRule,
    "esi": EsiRule,
    "professional_tax": PtRule,
    "income_tax": IncomeTaxRule,
}
_NESTED: dict[str, type] = {"slabs": TaxSlab, "surcharge": SurchargeSlab}


def rule_kind(rule: Rule) -> str:
    """The kind of ``rule``: one of :data:`KINDS`."""
    for kind, cls in _CLASSES.items():
        if isinstance(rule, cls):
            return kind
    raise StatutoryError(f"not a statutory rule: {rule!r}")


def rule_scope(rule: Rule) -> str:
    """What a rule is about within its kind: the state of professional tax, the regime (and age band) of income tax."""
    if isinstance(rule, PtRule):
        return rule.state
    if isinstance(rule, IncomeTaxRule):
        return rule.regime if not rule.min_age else f"{rule.regime}:{rule.min_age}"
    return ""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def rule_to_params(rule: Rule) -> dict[str, Any]:
    """A rule as JSON-able data (decimals as strings, dates in ISO form), without its kind."""
    return _plain(rule)


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise StatutoryError(f"{name}: a number is required")
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise StatutoryError(f"{name}: not a number: {value!r}") from exc
    if not result.is_finite() or result < 0:
        raise StatutoryError(f"{name}: must be a finite number, not negative")
    return result


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise StatutoryError(f"{path or 'params'}: an object is required")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise StatutoryError(f"{path}{sorted(unknown)[0]}: unknown field")
    values: dict[str, Any] = {}
    for name, fld in known.items():
        where = f"{path}{name}"
        if name not in data:
            if fld.default is dataclasses.MISSING:
                raise StatutoryError(f"{where}: required")
            continue
        raw = data[name]
        kind = str(fld.type)
        if name in ("slabs", "female_slabs") and cls is PtRule:
            values[name] = tuple(_build(PtSlab, item, f"{where}.{i}.") for i, item in enumerate(_list(raw, where)))
        elif name in _NESTED:
            values[name] = tuple(
                _build(_NESTED[name], item, f"{where}.{i}.") for i, item in enumerate(_list(raw, where))
            )
        elif kind.startswith("dt.date"):
            try:
                values[name] = dt.date.fromisoformat(str(raw))
            except ValueError as exc:
                raise StatutoryError(f"{where}: not a date (YYYY-MM-DD)") from exc
        elif kind.startswith("Decimal"):
            values[name] = None if raw is None and "None" in kind else _decimal(raw, where)
        elif kind == "bool":
            if not isinstance(raw, bool):
                raise StatutoryError(f"{where}: true or false")
            values[name] = raw
        elif kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise StatutoryError(f"{where}: a whole number")
            values[name] = raw
        else:
            if not isinstance(raw, str) or not raw:
                raise StatutoryError(f"{where}: text is required")
            values[name] = raw
    return cls(**values)


def _list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list | tuple):
        raise StatutoryError(f"{where}: a list is required")
    return list(raw)


def rule_from_params(kind: str, params: dict[str, Any]) -> Rule:
    """Build a rule of ``kind`` from its JSON data, checking every field (``StatutoryError`` names the bad one)."""
    cls = _CLASSES.get(kind)
    if cls is None:
        raise StatutoryError(f"kind: one of {', '.join(KINDS)}")
    rule = _build(cls, params, "")
    if isinstance(rule, IncomeTaxRule):
        if rule.regime not in REGIMES:
            raise StatutoryError(f"regime: one of {', '.join(REGIMES)}")
        if not rule.slabs or rule.slabs[-1].upto is not None:
            raise StatutoryError("slabs: the last slab must have no upper limit")
        uppers = [s.upto for s in rule.slabs[:-1]]
        if any(u is None for u in uppers) or uppers != sorted(uppers):
            raise StatutoryError("slabs: upper limits must rise")
    if isinstance(rule, PtRule) and not (len(rule.state) == 2 and rule.state.isalpha() and rule.state.isupper()):
        raise StatutoryError("state: a two-letter state code such as MH")
    return rule


# -- the seed ---------------------------------------------------------------------------------------


def _d(value: str) -> Decimal:
    return Decimal(value)


def _new_regime_2025() -> IncomeTaxRule:
    return IncomeTaxRule(
        regime="new",
        effective_from=dt.date(2025, 4, 1),
        slabs=(
            TaxSlab(_d("400000"), _d("0")),
            TaxSlab(_d("800000"), _d("0.05")),
            TaxSlab(_d("1200000"), _d("0.10")),
            TaxSlab(_d("1600000"), _d("0.15")),
            TaxSlab(_d("2000000"), _d("0.20")),
            TaxSlab(_d("2400000"), _d("0.25")),
            TaxSlab(None, _d("0.30")),
        ),
        standard_deduction=_d("75000"),
        rebate_income_limit=_d("1200000"),
        rebate_max=_d("60000"),
        rebate_marginal_relief=True,
        cess_rate=_d("0.04"),
        pt_deduction_max=ZERO,
        surcharge=(
            SurchargeSlab(_d("5000000"), _d("0.10")),
            SurchargeSlab(_d("10000000"), _d("0.15")),
            SurchargeSlab(_d("20000000"), _d("0.25")),
        ),
    )


def _old_regime_2025(min_age: int, exempt: str) -> IncomeTaxRule:
    return IncomeTaxRule(
        regime="old",
        effective_from=dt.date(2025, 4, 1),
        slabs=(
            TaxSlab(_d(exempt), _d("0")),
            *((TaxSlab(_d("500000"), _d("0.05")),) if Decimal(exempt) < 500000 else ()),
            TaxSlab(_d("1000000"), _d("0.20")),
            TaxSlab(None, _d("0.30")),
        ),
        standard_deduction=_d("50000"),
        rebate_income_limit=_d("500000"),
        rebate_max=_d("12500"),
        rebate_marginal_relief=False,
        cess_rate=_d("0.04"),
        pt_deduction_max=_d("2500"),
        surcharge=(
            SurchargeSlab(_d("5000000"), _d("0.10")),
            SurchargeSlab(_d("10000000"), _d("0.15")),
            SurchargeSlab(_d("20000000"), _d("0.25")),
            SurchargeSlab(_d("50000000"), _d("0.37")),
        ),
        min_age=min_age,
    )


#: The rules the plugin seeds into each tenant (INDIA.md, "Payroll").
DEFAULT_RULES = StatutoryRules(
    epf=(
        EpfRule(
            effective_from=dt.date(2014, 9, 1),
            wage_ceiling=_d("15000"),
            employee_rate=_d("0.12"),
            eps_rate=_d("0.0833"),
            edli_rate=_d("0.005"),
            admin_rate=_d("0.005"),
            eps_max_age=58,
            restrict_to_ceiling=True,
            admin_minimum=_d("500"),
        ),
    ),
    esi=(
        EsiRule(
            effective_from=dt.date(2019, 7, 1),
            wage_ceiling=_d("21000"),
            employee_rate=_d("0.0075"),
            employer_rate=_d("0.0325"),
        ),
    ),
    professional_tax=(
        PtRule(
            state="MH",
            effective_from=dt.date(2023, 7, 1),
            slabs=(
                PtSlab(_d("7500"), _d("175")),
                PtSlab(_d("10000"), _d("200"), february_amount=_d("300")),
            ),
            female_slabs=(PtSlab(_d("25000"), _d("200"), february_amount=_d("300")),),
        ),
        PtRule(
            state="KA",
            effective_from=dt.date(2023, 4, 1),
            slabs=(PtSlab(_d("25000"), _d("200"), inclusive=True),),
        ),
        PtRule(
            state="KA",
            effective_from=dt.date(2025, 4, 1),
            slabs=(PtSlab(_d("25000"), _d("200"), february_amount=_d("300"), inclusive=True),),
        ),
    ),
    income_tax=(
        _new_regime_2025(),
        _old_regime_2025(0, "250000"),
        _old_regime_2025(60, "300000"),
        _old_regime_2025(80, "500000"),
    ),
)
