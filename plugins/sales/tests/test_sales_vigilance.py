"""sales' vigilance rules end to end (event or schedule → background job → alert)."""

from __future__ import annotations

import uuid
from decimal import Decimal as D  # noqa: N817 - amounts read as D("1.00")
from typing import Any

import pytest
from sales_kit import ORDERS, PAYMENTS, order_body, world
from sqlalchemy import select

from udyog_sales.models import AccountTerms

PLUGINS = ("crm", "inventory", "sales", "vigilance")
CUSTOMERS = "/api/v1/crm/customers"
CREDIT = "sales.credit_limit_breach"
DISCOUNT = "sales.unusual_discount"
pytestmark = pytest.mark.udyog_plugins("sales", "vigilance")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """sales with vigilance; background jobs run eagerly when the emitting transaction commits."""
    return kernel_factory(PLUGINS, backend=backend, jobs_eager=True)


def alerts(tenant: Any, rule_key: str) -> list[Any]:
    """The tenant's alerts of one rule, oldest first (detached)."""
    from udyog_vigilance.models import Alert

    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(
            select(Alert).where(Alert.rule_key == rule_key).order_by(Alert.first_seen, Alert.subject)
        ).all()
        scope.session.expunge_all()
        return list(rows)


def configure(tenant: Any, rule_key: str, **thresholds: str) -> None:
    """Store the tenant's thresholds of a rule (as vigilance's settings page does)."""
    from udyog_vigilance.models import RuleSetting

    with tenant.scope() as scope:
        scope.session.add(RuleSetting(rule_key=rule_key, thresholds=thresholds))
        scope.session.commit()


def confirmed(client: Any, w: dict[str, str], *lines: tuple[str, str, str | None], **header: Any) -> dict[str, Any]:
    """An order of customer C1 made and confirmed (the test user is an Owner: the credit override applies)."""
    made = client.post(ORDERS, json=order_body(w, *lines, **header), expect=201).data
    return client.post(f"{ORDERS}/{made['id']}/confirm", json={"version": made["version"]}, expect=200).data  # type: ignore[no-any-return]


def test_an_order_confirmed_over_the_limit_raises_and_a_payment_clears(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    confirmed(udyog_client, w, ("p1", "6", None))  # 600 of 1000
    assert alerts(udyog_tenant, CREDIT) == []
    confirmed(udyog_client, w, ("p1", "6", None))  # 1200 of 1000, with the Owner's override
    [alert] = alerts(udyog_tenant, CREDIT)
    assert (alert.subject, alert.severity, alert.state) == (f"customer:{w['c1']}", "critical", "open")
    assert alert.title == "Sunrise Distributors: outstanding ₹1200.00 exceeds the credit limit ₹1000.00 by ₹200.00"
    assert alert.link == f"/crm/customers/{w['c1']}" and alert.data["outstanding"] == "1200.00"
    udyog_client.post(PAYMENTS, json={"customer_id": w["c1"], "amount": "150.00"}, expect=201)  # 1050: still over
    [still] = alerts(udyog_tenant, CREDIT)
    assert still.state == "open" and still.occurrences == 2 and "₹1050.00" in still.title
    udyog_client.post(PAYMENTS, json={"customer_id": w["c1"], "amount": "100.00"}, expect=201)  # 950: back under
    [cleared] = alerts(udyog_tenant, CREDIT)
    assert cleared.id == alert.id and cleared.state == "resolved" and cleared.resolution_note == "condition cleared"


def test_a_lowered_limit_raises_and_a_raised_one_clears(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    confirmed(udyog_client, w, ("p1", "6", None))  # 600 of 1000
    customer = udyog_client.get(f"{CUSTOMERS}/{w['c1']}", expect=200).data
    lowered = udyog_client.patch(
        f"{CUSTOMERS}/{w['c1']}", json={"version": customer["version"], "credit_limit": "500.00"}, expect=200
    ).data
    [alert] = alerts(udyog_tenant, CREDIT)
    assert alert.state == "open" and alert.title.endswith("the credit limit ₹500.00 by ₹100.00")
    udyog_client.patch(f"{CUSTOMERS}/{w['c1']}", json={"version": lowered["version"], "name": "Sunrise"}, expect=200)
    assert alerts(udyog_tenant, CREDIT)[0].occurrences == 1  # no limit change, no event, no evaluation
    current = udyog_client.get(f"{CUSTOMERS}/{w['c1']}", expect=200).data
    udyog_client.patch(f"{CUSTOMERS}/{w['c1']}", json={"version": current["version"], "credit_limit": None}, expect=200)
    [cleared] = alerts(udyog_tenant, CREDIT)  # no limit at all: nothing to breach
    assert cleared.state == "resolved"


def test_the_percent_threshold_is_the_tenants(udyog_client, udyog_tenant):
    configure(udyog_tenant, CREDIT, percent="50")
    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    confirmed(udyog_client, w, ("p1", "4", None))  # 400: under half the limit
    assert alerts(udyog_tenant, CREDIT) == []
    confirmed(udyog_client, w, ("p1", "2", None))  # 600: above half
    [alert] = alerts(udyog_tenant, CREDIT)
    assert alert.title == "Sunrise Distributors: outstanding ₹600.00 exceeds the credit limit ₹1000.00 (50% of it)"


def test_the_daily_run_finds_breaches_no_event_announced(udyog_tenant):
    from udyog_vigilance.engine import evaluate_rule_now

    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    with udyog_tenant.scope() as scope:  # e.g. a balance migrated in: no event
        row = scope.session.scalar(select(AccountTerms).where(AccountTerms.record_id == uuid.UUID(w["c1"])))
        row.outstanding = D("1500.00")
        scope.session.commit()
    with udyog_tenant.scope() as scope:
        evaluate_rule_now(CREDIT)
        scope.session.commit()
    [alert] = alerts(udyog_tenant, CREDIT)
    assert alert.subject == f"customer:{w['c1']}" and alert.event_id is None


def test_an_unusual_discount_is_alerted_once_per_order(udyog_client, udyog_tenant):
    w = world(udyog_tenant, margin="0.00")
    confirmed(udyog_client, w, ("p1", "10", "10"), ("p2", "2", None))  # 90 + 500 of 1000 + 500: 6%
    assert alerts(udyog_tenant, DISCOUNT) == []
    # 10% on the lines and 15% on the order: 1 - 0.9 * 0.85 = 23.5% in effect
    big = confirmed(udyog_client, w, ("p1", "10", "10"), discount_pct="15")
    [alert] = alerts(udyog_tenant, DISCOUNT)
    assert (alert.subject, alert.severity) == (f"order:{big['id']}", "warning")
    assert alert.title == f"Order {big['number']} for Sunrise Distributors confirmed with a 23.50% discount"
    assert alert.link == f"/sales/orders/{big['id']}" and alert.data["gross"] == "1000.00"
    configure(udyog_tenant, DISCOUNT, percent="25")
    confirmed(udyog_client, w, ("p1", "10", "24"))  # under the tenant's 25%
    assert len(alerts(udyog_tenant, DISCOUNT)) == 1


def test_the_daily_run_clears_customers_back_under_the_line(udyog_tenant):
    from udyog_vigilance.engine import evaluate_rule_now

    w = world(udyog_tenant, margin="0.00", credit_limit="1000.00")
    for amount in ("1500.00", "500.00"):  # over the limit, then back under, with no event either time
        with udyog_tenant.scope() as scope:
            row = scope.session.scalar(select(AccountTerms).where(AccountTerms.record_id == uuid.UUID(w["c1"])))
            row.outstanding = D(amount)
            scope.session.commit()
        with udyog_tenant.scope() as scope:
            evaluate_rule_now(CREDIT)
            scope.session.commit()
    [alert] = alerts(udyog_tenant, CREDIT)
    assert alert.state == "resolved" and alert.resolution_note == "condition cleared"
