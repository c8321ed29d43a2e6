"""Dashboard widgets of sales: sales by month and the top distributors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from udyog_sdk import db_session
from udyog_sdk.formatting import format_amount, format_month, tenant_today
from udyog_sdk.i18n import gettext as _
from udyog_sdk.ui import BarChart, DashboardWidget, Series, Table

from .models import AccountTerms, Order

SOLD = ("confirmed", "delivered", "invoiced", "paid")


def months_back(today: dt.date, count: int) -> list[dt.date]:
    """The first days of the last ``count`` months, oldest first, ending with ``today``'s month."""
    firsts = []
    year, month = today.year, today.month
    for _month in range(count):
        firsts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def sales_by_month() -> BarChart:
    """The totals of confirmed (and later) orders by order month, the last 6 months."""
    months = months_back(tenant_today(), 6)
    query = select(Order.order_date, Order.total).where(Order.state.in_(SOLD), Order.order_date >= months[0])
    totals = dict.fromkeys(months, Decimal("0.00"))
    for order_date, total in db_session().execute(query):  # summed in Python: Money is text on SQLite
        first = order_date.replace(day=1)
        if first in totals:
            totals[first] += total
    labels = [format_month(m) for m in months]
    return BarChart(labels, [Series(_("Sales"), list(totals.values()))], prefix="₹", empty=_("No sales yet."))


def top_distributors() -> Table:
    """The 5 distributors owing the most."""
    from udyog_crm.models import Customer

    query = (
        select(Customer.name, AccountTerms.outstanding, AccountTerms.credit_limit)
        .join(AccountTerms, AccountTerms.record_id == Customer.id)
        .where(AccountTerms.is_distributor.is_(True))
        .order_by(AccountTerms.outstanding.desc(), Customer.name)
        .limit(5)
    )
    rows = [
        (name, format_amount(outstanding), format_amount(limit) if limit is not None else "—")
        for name, outstanding, limit in db_session().execute(query)
    ]
    return Table((_("Distributor"), _("Outstanding"), _("Credit limit")), rows, empty=_("No distributors yet."))


def widgets() -> list[DashboardWidget]:
    """The sales widgets."""
    return [
        DashboardWidget(
            "sales.by_month",
            "Sales by month",
            sales_by_month,
            permission="sales.order.read",
            weight=30,
            size="medium",
            url="/sales/orders",
            icon="bar-chart",
        ),
        DashboardWidget(
            "sales.top_distributors",
            "Top distributors",
            top_distributors,
            permission="sales.account.read",
            weight=31,
            size="medium",
            url="/sales/distributors",
            icon="people",
        ),
    ]
