"""payroll's vigilance rule end to end (run computed or approved → background job → alert); payroll without it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from payroll_kit import assign, employee, run_month, standard
from sqlalchemy import select

RULE = "payroll.net_pay_change"


def alerts(tenant: Any) -> list[Any]:
    """The tenant's alerts of the rule, by subject (detached)."""
    from udyog_vigilance.models import Alert

    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(Alert).where(Alert.rule_key == RULE).order_by(Alert.subject)).all()
        scope.session.expunge_all()
        return list(rows)


def april_then_may(tenant: Any, *, asha_in_may: str, approve_may: bool) -> tuple[dict[str, Any], Any]:
    """RAVI and ASHA on ₹30,000 in April (approved); ASHA on ``asha_in_may`` from May; May's run computed."""
    with tenant.scope() as scope:
        ids = {code: employee(scope.session, code).id for code in ("RAVI", "ASHA")}
        for employee_id in ids.values():
            assign(employee_id, standard(), "30000")
        run_month(2025, 4)
        scope.session.commit()
    with tenant.scope() as scope:
        assign(ids["ASHA"], standard(), asha_in_may, since=dt.date(2025, 5, 1))
        may = run_month(2025, 5, approve=approve_may)
        scope.session.commit()
        return ids, may.id


@pytest.mark.udyog_plugins("payroll", "vigilance")
class TestWithVigilance:
    @pytest.fixture
    def udyog_kernel(self, kernel_factory: Any, backend: str) -> Any:
        """payroll with vigilance; background jobs run eagerly when the emitting transaction commits."""
        return kernel_factory(("hr", "payroll", "vigilance"), backend=backend, jobs_eager=True)

    def test_a_sharp_change_of_net_pay_is_alerted_per_employee_and_month(self, udyog_tenant):
        ids, may = april_then_may(udyog_tenant, asha_in_may="50000", approve_may=False)
        [alert] = alerts(udyog_tenant)  # April had nothing to compare with; RAVI's May is unchanged
        assert (alert.subject, alert.severity, alert.state) == (f"employee:{ids['ASHA']}:2025-05", "warning", "open")
        assert alert.title.startswith("ASHA Asha: net pay up ") and "% in 2025-05 (₹" in alert.title
        assert alert.link == f"/payroll/runs/{may}" and alert.detail.startswith("Previous released payslip: 2025-04")
        assert float(alert.data["change_pct"]) > 25
        from udyog_payroll import services
        from udyog_payroll.models import Run

        with udyog_tenant.scope() as scope:  # approving evaluates again: the same alert, seen twice
            services.approve_run(scope.session.scalar(select(Run).where(Run.id == may)))
            scope.session.commit()
        [again] = alerts(udyog_tenant)
        assert again.id == alert.id and again.occurrences == 2

    def test_a_recomputation_back_within_the_threshold_clears_the_months_alert(self, udyog_tenant):
        from udyog_payroll import services
        from udyog_payroll.models import Run

        ids, may = april_then_may(udyog_tenant, asha_in_may="50000", approve_may=False)
        assert [a.state for a in alerts(udyog_tenant)] == ["open"]
        with udyog_tenant.scope() as scope:  # the raise was a typo: corrected from 2 May, May computed again
            assign(ids["ASHA"], standard(), "31000", since=dt.date(2025, 5, 2))
            services.compute_run(scope.session.scalar(select(Run).where(Run.id == may)), attendance_lop=False)
            scope.session.commit()
        [cleared] = alerts(udyog_tenant)
        assert cleared.state == "resolved" and cleared.resolution_note == "condition cleared"

    def test_a_change_within_the_threshold_raises_nothing(self, udyog_tenant):
        april_then_may(udyog_tenant, asha_in_may="33000", approve_may=True)  # +10% gross
        assert alerts(udyog_tenant) == []


@pytest.mark.udyog_plugins("payroll")
def test_payroll_works_without_vigilance_and_announces_its_runs(kernel_factory, backend):
    from udyog.models import OutboxEvent
    from udyog.testing import make_tenant

    kernel = kernel_factory(("hr", "payroll"), backend=backend, jobs_eager=True)
    assert "vigilance" not in kernel.registry.loaded_names()
    tenant = make_tenant(kernel, "acme", "Acme", plugins=("hr", "payroll"))
    april_then_may(tenant, asha_in_may="50000", approve_may=True)
    with kernel.db.session(all_tenants=True) as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.name.like("payroll.%"))).all()
        got = sorted((row.name, row.payload["month"]) for row in rows)
    assert got == [
        ("payroll.run.approved", 4),
        ("payroll.run.approved", 5),
        ("payroll.run.computed", 4),
        ("payroll.run.computed", 5),
    ]
