"""Payroll runs as services: the INDIA.md example end to end, loss of pay, year to date, ESI periods, locking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from payroll_kit import assign, employee, example_structure, run_month, standard
from sqlalchemy import select

from udyog_payroll import services
from udyog_payroll.models import Payslip, StatutoryRule
from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("payroll")


def _slip(session, run, code: str) -> Payslip:
    return session.scalar(select(Payslip).where(Payslip.run_id == run.id, Payslip.employee_code == code))


def test_tenant_setup_seeds_rules_components_and_structure(udyog_tenant):
    with udyog_tenant.scope() as scope:
        kinds = {(r.kind, r.scope) for r in scope.session.scalars(select(StatutoryRule))}
        assert {
            ("epf", ""),
            ("esi", ""),
            ("professional_tax", "MH"),
            ("professional_tax", "KA"),
            ("income_tax", "new"),
        } <= kinds
        assert services.seed_rules() == 0  # idempotent
        assert [line["component"] for line in services.preview(standard().id, Decimal("18001"))] == [
            "BASIC",
            "DA",
            "HRA",
            "SPECIAL",
        ]
        amounts = {line["component"]: line["amount"] for line in services.preview(standard().id, Decimal("18001"))}
        assert amounts == {"BASIC": 9001, "DA": 0, "HRA": 3600, "SPECIAL": 5400}  # round(9000.5) is 9001


def test_india_md_example_through_a_run(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        ravi = employee(s, "RAVI")
        assign(ravi.id, example_structure(), "18000")
        run = run_month(2025, 4)
        slip = _slip(s, run, "RAVI")
        assert (slip.gross, slip.pf_wages, slip.epf_employee, slip.eps, slip.epf_employer, slip.edli) == (
            18000,
            10000,
            1200,
            833,
            367,
            50,
        )
        assert (slip.esi_employee, slip.esi_employer, slip.professional_tax, slip.tds) == (135, 585, 200, 0)
        assert slip.net_pay == Decimal("16465")
        assert slip.number == "PS/25-26/000001"
        assert run.state == "approved" and run.total_net == Decimal("16465") and run.employees == 1
        assert run.total_employer == 833 + 367 + 50 + 50 + 585
        s.commit()


def test_loss_of_pay_comes_from_hr_attendance(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        asha = employee(s, "ASHA", gender="female")
        late = employee(s, "LATE", date_of_joining=dt.date(2025, 11, 16))
        assign(asha.id, example_structure(), "30000")
        assign(late.id, standard(), "30000", since=dt.date(2025, 11, 16))
        run = services.create_run(2025, 11)
        services.compute_run(run)  # no attendance: only the five Sundays are payable
        slip = _slip(s, run, "ASHA")
        assert (slip.days_in_month, slip.days_payable, slip.lop_days) == (30, 5, 25)
        assert slip.gross == Decimal("5000.00")  # 30,000 x 5/30
        assert slip.pf_wages == Decimal("1666.66")  # basic 1,333.33 + DA 333.33 (the residue goes to the largest)
        assert {line["code"]: line["amount"] for line in slip.lines}["SPECIAL"] == "2800.01"
        assert slip.professional_tax == 0  # a woman under 25,000 in Maharashtra
        services.compute_run(run, attendance_lop=False)  # recompute while not approved: replaces the payslips
        assert len(services.payslips_of(run)) == 2
        assert _slip(s, run, "ASHA").gross == 30000
        joined = _slip(s, run, "LATE")
        assert (joined.days_payable, joined.gross) == (15, Decimal("15000.00"))  # employed from the 16th
        # The tax projection uses the full monthly gross for the months to come.
        assert Decimal(joined.tax["projected_gross"]) == Decimal("15000") + Decimal("30000") * 4


def test_mid_year_raise_spreads_the_extra_tax(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        meera = employee(s, "MEERA", gender="female", work_state="KA")
        structure = standard()
        assign(meera.id, structure, "150000")
        tds = []
        for month in range(4, 11):
            if month == 10:
                assign(meera.id, structure, "200000", since=dt.date(2025, 10, 1))
            run = run_month(2025, month)
            tds.append(_slip(s, run, "MEERA").tds)
        assert tds[:6] == [12567, 12567, 12567, 12567, 12567, 12566]
        assert tds[6] == 23183  # (2,14,500 - 75,401) / 6
        october = _slip(s, run, "MEERA")
        assert october.tax["annual_tax"] == "214500" and october.tax["deducted_before"] == "75401.00"
        assert october.professional_tax == 200  # Karnataka, 25,000 and above
        # An assignment may not start in a month already approved.
        with pytest.raises(UdyogError) as refused:
            assign(meera.id, structure, "1", since=dt.date(2025, 9, 1))
        assert "effective_from" in refused.value.errors


def test_esi_coverage_is_fixed_for_the_contribution_period(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        kiran = employee(s, "KIRAN")
        structure = standard()
        assign(kiran.id, structure, "20000")
        for month in (4, 5, 6):
            run_month(2025, month)
        assign(kiran.id, structure, "25000", since=dt.date(2025, 7, 1))
        july = run_month(2025, 7)
        slip = _slip(s, july, "KIRAN")
        assert slip.esi_covered and (slip.esi_employee, slip.esi_employer) == (188, 813)  # 187.50 and 812.50 up
        for month in (8, 9):
            run_month(2025, month)
        october = run_month(2025, 10)
        assert not _slip(s, october, "KIRAN").esi_covered  # a new period: 25,000 is over the ceiling
        assert _slip(s, october, "KIRAN").esi_employee == 0


def test_runs_lock_after_approval_and_skip_unpaid_employees(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        paid = employee(s, "PAID")
        employee(s, "NOSAL")
        employee(s, "GONE", date_of_leaving=dt.date(2025, 3, 31), active=False)
        assign(paid.id, standard(), "40000")
        run = services.create_run(2025, 6)
        with pytest.raises(UdyogError) as refused:
            services.approve_run(run)
        assert refused.value.status == 409  # compute first
        services.compute_run(run, attendance_lop=False)
        assert [item["code"] for item in run.skipped] == ["NOSAL"]
        assert run.skipped[0]["reason"] == "no salary assigned"
        services.approve_run(run)
        for work in (
            lambda: services.compute_run(run),
            lambda: services.delete_run(run),
            lambda: services.queue_compute(run),
        ):
            with pytest.raises(UdyogError) as locked:
                work()
            assert locked.value.status == 409
        services.pay_run(run, dt.date(2025, 7, 1))
        assert run.state == "paid"
        with pytest.raises(UdyogError):
            services.create_run(2025, 6)


def test_a_changed_rule_applies_from_its_date(udyog_tenant):
    with udyog_tenant.scope() as scope:
        s = scope.session
        dev = employee(s, "DEV")
        assign(dev.id, example_structure(), "18000")
        epf = s.scalar(select(StatutoryRule).where(StatutoryRule.kind == "epf"))
        raised = {**epf.params, "effective_from": "2025-06-01", "wage_ceiling": "5000"}
        services.save_rule("epf", raised)
        may, june = run_month(2025, 5), run_month(2025, 6)
        assert _slip(s, may, "DEV").eps == 833
        assert _slip(s, june, "DEV").eps == 417  # 8.33% of 5,000 = 416.50, half up
        assert _slip(s, june, "DEV").epf_employee == 600
        with pytest.raises(UdyogError) as refused:
            services.save_rule("epf", {**raised, "wage_ceiling": "much"})
        assert list(refused.value.errors) == ["params.wage_ceiling"]
