"""The statutory engine with worked values (INDIA.md, "Payroll"): pure, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from udyog_payroll.statutory import (
    DEFAULT_RULES,
    KINDS,
    EpfRule,
    IncomeTaxRule,
    StatutoryError,
    StatutoryInput,
    StatutoryRules,
    age_on,
    annual_income_tax,
    ceil_rupee,
    compute_statutory,
    contribution_period,
    epf_contribution,
    esi_contribution,
    esi_covered,
    half_up,
    monthly_tds,
    months_remaining,
    professional_tax,
    rule_from_params,
    rule_kind,
    rule_to_params,
    tds_for_month,
)

D = Decimal
RULES = DEFAULT_RULES
JUNE = dt.date(2025, 6, 1)
EPF = RULES.epf_on(JUNE)
ESI = RULES.esi_on(JUNE)
NEW = RULES.income_tax_on("new", JUNE)
OLD = RULES.income_tax_on("old", JUNE)


def test_rounding_helpers_are_half_up_and_ceiling() -> None:
    assert half_up(D("416.50")) == 417  # round() would give 416
    assert half_up(D("416.49")) == 416
    assert half_up(D("1249.50")) == 1250
    assert ceil_rupee(D("157.01")) == 158
    assert ceil_rupee(D("135.00")) == 135


def test_india_md_example_maharashtra_man_18000() -> None:
    result = compute_statutory(
        RULES,
        StatutoryInput(
            month=dt.date(2025, 4, 1),
            gross=D("18000"),
            pf_wages=D("10000"),
            state="MH",
            gender="male",
            date_of_birth=dt.date(1990, 5, 17),
        ),
    )
    assert result.epf is not None and result.esi is not None
    assert (result.epf.employee, result.epf.eps, result.epf.employer_epf, result.epf.edli) == (1200, 833, 367, 50)
    assert result.epf.admin == 50
    assert (result.esi.employee, result.esi.employer) == (135, 585)
    assert result.professional_tax == 200
    assert result.tds.tds == 0
    assert D("18000") - result.employee_deductions == D("16465")


@pytest.mark.parametrize(
    ("wages", "employee", "eps", "employer_epf", "edli"),
    [
        ("5000", 600, 417, 183, 25),  # 416.50 rounds half up
        ("15000", 1800, 1250, 550, 75),  # 1,249.50 → 1,250, the most EPS can be
        ("25000", 1800, 1250, 550, 75),  # restricted to the ceiling by default
        ("0", 0, 0, 0, 0),
    ],
)
def test_epf_heads(wages: str, employee: int, eps: int, employer_epf: int, edli: int) -> None:
    result = epf_contribution(D(wages), EPF, age=30)
    assert (result.employee, result.eps, result.employer_epf, result.edli) == (employee, eps, employer_epf, edli)
    assert result.employee == result.eps + result.employer_epf


def test_epf_on_actual_wages_when_the_policy_says_so() -> None:
    result = epf_contribution(D("25000"), EPF, age=30, restrict=False)
    assert (result.employee, result.eps, result.employer_epf) == (3000, 1250, 1750)
    assert result.admin == 125
    assert result.edli == 75  # EDLI always on wages up to the ceiling
    unrestricted = dataclasses.replace(EPF, restrict_to_ceiling=False)
    assert epf_contribution(D("25000"), unrestricted, age=30).employee == 3000


def test_no_eps_from_58() -> None:
    dob = dt.date(1967, 6, 1)
    assert age_on(dob, dt.date(2025, 5, 31)) == 57
    assert age_on(dob, JUNE) == 58
    before = epf_contribution(D("10000"), EPF, age=57)
    after = epf_contribution(D("10000"), EPF, age=58)
    assert (before.eps, before.employer_epf) == (833, 367)
    assert (after.eps, after.employer_epf, after.employee, after.eps_wages) == (0, 1200, 1200, 0)
    may = compute_statutory(RULES, StatutoryInput(dt.date(2025, 5, 1), D("12000"), D("10000"), "MH", "male", dob))
    june = compute_statutory(RULES, StatutoryInput(JUNE, D("12000"), D("10000"), "MH", "male", dob))
    assert may.epf is not None and june.epf is not None
    assert (may.epf.eps, june.epf.eps) == (833, 0)


def test_esi_at_and_over_the_ceiling() -> None:
    at = esi_contribution(D("21000"), ESI)
    assert at.covered and (at.employee, at.employer) == (158, 683)  # 157.50 and 682.50 rounded up
    over = esi_contribution(D("21001"), ESI)
    assert not over.covered and (over.employee, over.employer) == (0, 0)
    assert esi_covered(D("21000"), ESI) and not esi_covered(D("21000.01"), ESI)
    assert esi_contribution(D("18001"), ESI).employee == 136  # 135.0075 → 136


def test_esi_coverage_is_fixed_for_the_contribution_period() -> None:
    # Covered in April at 20,000; a raise to 25,000 in July keeps contributions on the full gross until September.
    raised = esi_contribution(D("25000"), ESI, covered=True)
    assert raised.covered and (raised.employee, raised.employer) == (188, 813)
    # Not covered at the period's start: a cut below the ceiling does not bring the employee in mid-period.
    assert esi_contribution(D("15000"), ESI, covered=False).employee == 0
    assert contribution_period(dt.date(2025, 7, 15)) == (dt.date(2025, 4, 1), dt.date(2025, 9, 30))
    assert contribution_period(dt.date(2025, 10, 1)) == (dt.date(2025, 10, 1), dt.date(2026, 3, 31))
    assert contribution_period(dt.date(2026, 2, 1)) == (dt.date(2025, 10, 1), dt.date(2026, 3, 31))


MH = RULES.professional_tax_on("MH", JUNE)
KA_2025 = RULES.professional_tax_on("KA", JUNE)
KA_2024 = RULES.professional_tax_on("KA", dt.date(2025, 2, 1))


@pytest.mark.parametrize(
    ("gross", "gender", "month", "tax"),
    [
        ("7500", "male", 6, 0),
        ("7500.01", "male", 6, 175),
        ("10000", "male", 6, 175),
        ("10000", "male", 2, 175),  # no February change in the ₹175 slab
        ("10000.01", "male", 6, 200),
        ("10000.01", "male", 2, 300),
        ("50000", "other", 2, 300),  # everyone but women is on the men's slabs
        ("12000", "female", 6, 0),
        ("25000", "female", 6, 0),
        ("25000", "female", 2, 0),
        ("25000.01", "female", 6, 200),
        ("25000.01", "female", 2, 300),
    ],
)
def test_maharashtra_professional_tax(gross: str, gender: str, month: int, tax: int) -> None:
    assert professional_tax(D(gross), MH, month=month, gender=gender) == tax


@pytest.mark.parametrize(
    ("gross", "month", "tax"),
    [("24999.99", 6, 0), ("25000", 6, 200), ("60000", 6, 200), ("25000", 2, 300), ("24999.99", 2, 0)],
)
def test_karnataka_professional_tax_from_fy_2025_26(gross: str, month: int, tax: int) -> None:
    assert professional_tax(D(gross), KA_2025, month=month, gender="female") == tax


def test_karnataka_february_before_fy_2025_26_was_200() -> None:
    assert KA_2024 is not None and KA_2024.effective_from < dt.date(2025, 4, 1)
    assert professional_tax(D("30000"), KA_2024, month=2, gender="male") == 200
    feb_2026 = RULES.professional_tax_on("KA", dt.date(2026, 2, 1))
    assert professional_tax(D("30000"), feb_2026, month=2, gender="male") == 300


def test_no_professional_tax_where_the_state_levies_none() -> None:
    assert RULES.professional_tax_on("DL", JUNE) is None
    assert professional_tax(D("90000"), None, month=2, gender="male") == 0


@pytest.mark.parametrize(
    ("taxable", "tax", "rebate", "total"),
    [
        ("1200000", "60000", "60000", 0),  # full rebate at the limit
        ("1210000", "61500", "51500", 10400),  # marginal relief: tax = income over 12 lakh, plus 4% cess
        ("1270588", "70588.20", "0.20", 73412),  # the relief fades out here, computed, not a constant
        ("1275000", "71250", "0", 74100),  # past the relief
        ("400000", "0", "0", 0),
        ("800000", "20000", "20000", 0),
        ("2500000", "330000", "0", 343200),
    ],
)
def test_new_regime_rebate_edge(taxable: str, tax: str, rebate: str, total: int) -> None:
    result = annual_income_tax(D(taxable), NEW)
    assert (result.tax, result.rebate, result.total) == (D(tax), D(rebate), total)


def test_new_regime_never_taxes_more_than_the_income_over_the_limit() -> None:
    for taxable in range(1200000, 1290001, 1000):
        result = annual_income_tax(D(taxable), NEW)
        assert result.tax - result.rebate <= taxable - 1200000


def test_surcharge_with_marginal_relief() -> None:
    # 51 lakh: slab tax 11,10,000; 10% surcharge would be 1,11,000 but relief caps tax+surcharge at
    # the tax at 50 lakh (10,80,000) plus the income over it (1,00,000).
    result = annual_income_tax(D("5100000"), NEW)
    assert (result.tax, result.surcharge, result.cess, result.total) == (
        D("1110000"),
        D("70000"),
        D("47200"),
        1227200,
    )
    assert annual_income_tax(D("6000000"), NEW).surcharge == D("138000")  # 13,80,000 x 10%


def test_old_regime_on_request() -> None:
    assert annual_income_tax(D("500000"), OLD).total == 0  # rebate up to 12,500 at 5 lakh
    assert annual_income_tax(D("500001"), OLD).total == 13000  # no marginal relief: 12,500.20 + cess
    # MH, 50,000 a month from April: 6,00,000 - 50,000 - PT 2,400 = 5,47,600 → 22,020 + cess 880.80.
    result = tds_for_month(
        RULES, month=dt.date(2025, 4, 1), regime="old", gross_this_month=D("50000"), pt_this_month=D("200")
    )
    assert result.deductions == D("52400")
    assert result.computation.total == 22901
    assert result.tds == 1908
    senior = RULES.income_tax_on("old", JUNE, age=65)
    assert senior.min_age == 60 and senior.slabs[0].upto == D("300000")
    assert RULES.income_tax_on("old", JUNE, age=81).min_age == 80
    # The new regime has no age bands and does not deduct professional tax.
    assert RULES.income_tax_on("new", JUNE, age=81) is NEW
    assert tds_for_month(
        RULES, month=JUNE, regime="new", gross_this_month=D("100000"), pt_this_month=D("200")
    ).deductions == D("75000")


def test_months_remaining_and_monthly_tds() -> None:
    assert [months_remaining(dt.date(2025 if m >= 4 else 2026, m, 1)) for m in (4, 9, 12, 1, 3)] == [12, 7, 4, 3, 1]
    assert monthly_tds(D("150800"), D("0"), 12) == 12567  # 12,566.67
    assert monthly_tds(D("1000"), D("5000"), 3) == 0  # over-deducted: never negative
    with pytest.raises(StatutoryError):
        monthly_tds(D("1"), D("0"), 0)


def test_constant_salary_tds_is_annual_tax_over_twelve() -> None:
    total = D(0)
    for month in range(12):
        on = dt.date(2025, 4 + month, 1) if month < 9 else dt.date(2026, month - 8, 1)
        tds = tds_for_month(
            RULES,
            month=on,
            regime="new",
            gross_this_month=D("200000"),
            gross_paid_before=D(200000 * month),
            tds_deducted_before=total,
        )
        assert tds.computation.total == 292500  # 23,25,000 taxable: 2,81,250 + cess 11,250
        assert tds.tds == 24375
        total += tds.tds
    assert total == 292500


def test_mid_year_salary_change() -> None:
    """1,50,000 a month April-September, 2,00,000 from October: the extra tax spreads over the months left."""
    paid = deducted = D(0)
    monthly: list[D] = []
    for month in range(12):
        on = dt.date(2025, 4 + month, 1) if month < 9 else dt.date(2026, month - 8, 1)
        gross = D("150000") if month < 6 else D("200000")
        result = tds_for_month(
            RULES, month=on, regime="new", gross_this_month=gross, gross_paid_before=paid, tds_deducted_before=deducted
        )
        monthly.append(result.tds)
        paid += gross
        deducted += result.tds
    # April: 18 lakh projected → taxable 17,25,000 → 1,45,000 + cess 5,800 = 1,50,800; / 12 = 12,566.67.
    assert monthly[:6] == [12567, 12567, 12567, 12567, 12567, 12566]
    # October: 9 lakh paid + 2 lakh x 6 = 21 lakh → 2,14,500 a year; (2,14,500 - 75,401) / 6 = 23,183.17.
    assert monthly[6] == 23183
    assert deducted == 214500


def test_rules_are_dated() -> None:
    with pytest.raises(StatutoryError, match="income-tax"):
        RULES.income_tax_on("new", dt.date(2025, 3, 1))  # FY 2024-25 is not seeded
    with pytest.raises(StatutoryError, match="EPF"):
        RULES.epf_on(dt.date(2010, 1, 1))
    raised = dataclasses.replace(EPF, effective_from=dt.date(2026, 1, 1), wage_ceiling=D("25000"))
    rules = StatutoryRules.of([*RULES.all(), raised])
    assert rules.epf_on(dt.date(2025, 12, 1)).wage_ceiling == 15000
    assert epf_contribution(D("25000"), rules.epf_on(dt.date(2026, 1, 1)), age=30).eps == 2083  # 2,082.50 half up
    with pytest.raises(StatutoryError, match="regime"):
        RULES.income_tax_on("flat", JUNE)


def test_rules_round_trip_as_data() -> None:
    for rule in RULES.all():
        kind = rule_kind(rule)
        assert kind in KINDS
        assert rule_from_params(kind, rule_to_params(rule)) == rule


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("epf", {"wage_ceiling": "lots"}, "wage_ceiling"),
        ("epf", {"employee_rate": "-0.12"}, "employee_rate"),
        ("epf", {"restrict_to_ceiling": "yes"}, "restrict_to_ceiling"),
        ("epf", {"effective_from": "2025-13-01"}, "effective_from"),
        ("epf", {"surprise": 1}, "surprise"),
        ("income_tax", {"slabs": [{"upto": "100", "rate": "0.1"}]}, "slabs"),
        ("income_tax", {"regime": "flat"}, "regime"),
        ("professional_tax", {"state": "Maharashtra"}, "state"),
        ("professional_tax", {"slabs": [{"from_gross": "1"}]}, "slabs.0.amount"),
    ],
)
def test_bad_rule_data_names_the_field(kind: str, change: dict, field: str) -> None:
    sample = {"epf": EPF, "income_tax": NEW, "professional_tax": MH}[kind]
    params = {**rule_to_params(sample), **change}
    with pytest.raises(StatutoryError, match=field.replace(".", r"\.")):
        rule_from_params(kind, params)


def test_rule_types_are_what_the_seed_says() -> None:
    assert isinstance(EPF, EpfRule) and isinstance(NEW, IncomeTaxRule)
    assert NEW.standard_deduction == 75000 and NEW.cess_rate == D("0.04")
    assert OLD.standard_deduction == 50000 and OLD.pt_deduction_max == 2500
