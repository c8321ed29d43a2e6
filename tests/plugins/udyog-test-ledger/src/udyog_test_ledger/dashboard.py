"""The ledger's dashboard widgets: they read the tenant's ledger settings at runtime."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from udyog_sdk import db_session, hookimpl, plugin_settings
from udyog_sdk.formatting import format_amount, format_month, tenant_today
from udyog_sdk.ui import BarChart, Counter, DashboardWidget, ItemList, ListItem, Series, Table

from .models import Voucher

READ = "ledger.voucher.read"


def voucher_count() -> Counter:
    count = db_session().scalar(select(func.count()).select_from(Voucher).where(Voucher.cancelled.is_(False))) or 0
    return Counter(count, "voucher" if count == 1 else "vouchers", url="/ledger/vouchers")


def recent_vouchers() -> ItemList:
    settings = plugin_settings("ledger")
    query = select(Voucher).order_by(Voucher.issued_on.desc(), Voucher.number.desc()).limit(settings["recent_count"])
    if not settings["show_cancelled"]:
        query = query.where(Voucher.cancelled.is_(False))
    items = [
        ListItem(f"{v.number} · {v.party}", url=f"/ledger/vouchers/{v.id}", detail=format_amount(v.amount))
        for v in db_session().scalars(query)
    ]
    return ItemList(items, empty="No vouchers yet.")


def above_limit() -> Table:
    limit = plugin_settings("ledger")["approval_limit"]
    # Compared in Python: on SQLite, Money is stored as text, and text does not compare as numbers.
    query = select(Voucher.number, Voucher.party, Voucher.amount).where(Voucher.cancelled.is_(False)).limit(500)
    found = sorted((row for row in db_session().execute(query) if row.amount > limit), key=lambda r: -r.amount)
    rows = [(number, party, format_amount(amount)) for number, party, amount in found[:10]]
    return Table(("Number", "Party", "Amount"), rows, empty=f"Nothing above {format_amount(limit)}.")


def months_back(today: dt.date, count: int) -> list[dt.date]:
    """The first days of the last ``count`` months, oldest first, ending with ``today``'s month."""
    firsts = []
    year, month = today.year, today.month
    for _ in range(count):
        firsts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def amounts_by_month() -> BarChart:
    months = months_back(tenant_today(), 6)
    query = select(Voucher.issued_on, Voucher.amount).where(
        Voucher.cancelled.is_(False), Voucher.issued_on >= months[0]
    )
    totals = dict.fromkeys(months, Decimal("0.00"))
    for issued_on, amount in db_session().execute(query):  # summed in Python: Money is text on SQLite
        first = issued_on.replace(day=1)
        if first in totals:
            totals[first] += amount
    labels = [format_month(m) for m in months]  # in the tenant's locale: "Apr 2026", "अप्रैल 2026"
    return BarChart(labels, [Series("Amount", list(totals.values()))], prefix="₹", empty="No vouchers yet.")


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    return [
        DashboardWidget("ledger.vouchers", "Vouchers", voucher_count, permission=READ, weight=50, icon="receipt"),
        DashboardWidget(
            "ledger.recent",
            "Recent vouchers",
            recent_vouchers,
            permission=READ,
            weight=51,
            size="medium",
            url="/ledger/vouchers",
        ),
        DashboardWidget(
            "ledger.review", "To review", above_limit, permission=READ, weight=52, size="medium", icon="flag"
        ),
        DashboardWidget(
            "ledger.by_month",
            "Voucher amounts by month",
            amounts_by_month,
            permission=READ,
            weight=53,
            size="medium",
            icon="bar-chart",
        ),
    ]
