"""The landing page's dashboard: widgets of the enabled plugins, permissions, failures, settings at runtime."""

from __future__ import annotations

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant, disable_plugins
from udyog.testing import create_member, login, web_login
from udyog_sdk import hookimpl
from udyog_sdk.formatting import format_month
from udyog_sdk.ui import BarChart, Counter, DashboardWidget, ItemList, LineChart, ListItem, Series, Table


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes", "ledger"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes", "ledger"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    return kernel, create_app(kernel=kernel)


def widgets(html: str) -> list[str]:
    return re.findall(r'data-widget="([^"]+)"', html)


def card(html: str, key: str) -> str:
    start = html.index(f'data-widget="{key}"')
    return html[start : html.index("</section>", start)]


def add_vouchers(app, *rows, issued_on=None):
    api = login(app, "owner@acme.test")
    for party, amount in rows:
        made = api.post(
            "/api/v1/ledger/vouchers",
            json={"party": party, "amount": amount, "issued_on": (issued_on or kolkata_today()).isoformat()},
        )
        assert made.status_code == 201, made.get_json()
    return api


def test_the_landing_page_composes_widgets_by_weight_and_permission(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test").get("/").text
    assert widgets(owner) == [
        "core.notifications",
        "ledger.vouchers",
        "ledger.recent",
        "ledger.review",
        "ledger.by_month",
        "core.failed_jobs",
    ]
    member = web_login(app, "member@acme.test").get("/").text
    assert widgets(member) == ["core.notifications"]  # no ledger.voucher.read, no core.jobs.read
    # Responsive sizes: full width on phones, two or four abreast on wider screens.
    assert (
        'class="col-12 col-sm-6 col-xl-3">\n      <section class="card h-100 shadow-sm" data-widget="ledger.vouchers"'
        in owner
    )
    assert 'class="col-12 col-md-6">\n      <section class="card h-100 shadow-sm" data-widget="ledger.recent"' in owner


def test_widgets_show_live_data_and_read_the_tenants_settings(world):
    kernel, app = world
    api = add_vouchers(app, ("Asha Traders", "150000.00"), ("Bala Stores", "20.00"), ("Chitra Foods", "30.00"))
    client = web_login(app, "owner@acme.test")
    html = client.get("/").text
    assert re.search(r"data-widget-value>3<", card(html, "ledger.vouchers"))
    recent = card(html, "ledger.recent")
    assert recent.count("list-group-item") == 3 and 'href="/ledger/vouchers/' in recent
    review = card(html, "ledger.review")
    assert "Asha Traders" in review and "₹1,50,000.00" in review and "Bala Stores" not in review

    api.patch(
        "/api/v1/core/settings/ledger", json={"version": 0, "values": {"recent_count": 2, "approval_limit": "25"}}
    )
    html = client.get("/").text
    assert card(html, "ledger.recent").count("list-group-item") == 2
    review = card(html, "ledger.review")
    assert "Chitra Foods" in review and "Bala Stores" not in review


def kolkata_today() -> dt.date:
    """The test tenant's today (Asia/Kolkata): the ledger's chart counts months from it."""
    return dt.datetime.now(ZoneInfo("Asia/Kolkata")).date()


def months_ago(n: int) -> dt.date:
    today = kolkata_today()
    month = today.year * 12 + today.month - 1 - n
    return dt.date(month // 12, month % 12 + 1, 1)


def test_the_chart_widget_draws_inline_svg_bars_for_holders_of_its_permission(world):
    kernel, app = world
    add_vouchers(app, ("Asha Traders", "1500.00"), ("Bala Stores", "500.00"))
    add_vouchers(app, ("Chitra Foods", "250.50"), issued_on=months_ago(2))
    add_vouchers(app, ("Old Party", "9999.00"), issued_on=months_ago(6))  # before the six months shown
    html = web_login(app, "owner@acme.test").get("/").text
    chart = card(html, "ledger.by_month")
    months = [format_month(months_ago(n), locale="en_IN") for n in range(5, -1, -1)]
    assert 'data-widget-chart="bar"' in chart and "<script" not in chart and "style=" not in chart
    assert 'viewBox="0 0 480 220"' in chart
    assert re.findall(r"<text [^>]*data-chart-label>([^<]*)</text>", chart) == months
    assert re.findall(r"<rect [^>]*data-chart-bar><title>([^<]*)</title>", chart) == [
        f"{months[0]}: ₹0.00",
        f"{months[1]}: ₹0.00",
        f"{months[2]}: ₹0.00",
        f"{months[3]}: ₹250.50",
        f"{months[4]}: ₹0.00",
        f"{months[5]}: ₹2,000.00",
    ]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([^"]+)"', chart)]
    assert heights[:3] == [0.0, 0.0, 0.0] and heights[5] == 184.0 and heights[3] == round(250.5 / 2000 * 184, 2)
    assert re.findall(r"data-chart-tick>([^<]*)<", chart) == ["₹0", "₹500", "₹1,000", "₹1,500", "₹2,000"]
    title = re.search(r'aria-labelledby="([^" ]+) ([^"]+)"', chart)
    assert 'role="img"' in chart and title
    assert f'<title id="{title.group(1)}">Voucher amounts by month</title>' in chart
    assert f'<desc id="{title.group(2)}">Bar chart of Amount for 6 labels' in chart
    table = chart[chart.index("data-chart-table") :]
    assert (
        '<div class="visually-hidden" data-chart-table>' in chart
        and f'<th scope="row">{months[5]}</th><td>₹2,000.00</td>' in table
    )
    api = login(app, "owner@acme.test")
    api.put("/api/v1/core/settings/core", json={"version": 0, "values": {"locale": "hi_IN"}})
    hindi = card(web_login(app, "owner@acme.test").get("/").text, "ledger.by_month")
    hindi_months = [format_month(months_ago(n), locale="hi_IN") for n in range(5, -1, -1)]
    assert re.findall(r"<text [^>]*data-chart-label>([^<]*)</text>", hindi) == hindi_months != months
    api.delete("/api/v1/core/settings/core")
    member = web_login(app, "member@acme.test").get("/").text
    assert "ledger.by_month" not in widgets(member) and "data-widget-chart" not in member
    assert "Voucher amounts by month" not in member


class _Charts:
    @hookimpl
    def udyog_dashboard(self) -> list[DashboardWidget]:
        line = LineChart(["a", "b", "c"], [Series("Up", [1, None, 3]), Series("Down", [-2, -1, 0])], unit=" kg")
        return [
            DashboardWidget("zc.line", "Line", lambda: line, size="full"),
            DashboardWidget("zc.none", "None", lambda: BarChart([], [], empty="No sales yet.")),
        ]


def test_line_charts_empty_charts_and_negative_values(world):
    kernel, app = world
    kernel.pm.register(_Charts(), name="zc")
    kernel.bus.refresh(kernel.registry.order)
    html = web_login(app, "owner@acme.test").get("/").text
    line = card(html, "zc.line")
    assert 'data-widget-chart="line"' in line and "data-widget-unavailable" not in line
    assert line.count("data-chart-point") == 5 and line.count("<polyline") == 3  # "Up" breaks at its gap
    assert re.findall(r"data-chart-tick>([^<]*)<", line) == ["-2 kg", "-1 kg", "0 kg", "1 kg", "2 kg", "3 kg"]
    assert 'data-chart-series="Down"' in line and "<figcaption" in line  # a legend for two series
    empty = card(html, "zc.none")
    assert "No sales yet." in empty and "<svg" not in empty


def test_disabling_a_plugin_removes_its_widgets_without_restart(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    assert "ledger.vouchers" in widgets(client.get("/").text)
    disable_plugins(kernel, "acme", ["ledger"])
    assert not [w for w in widgets(client.get("/").text) if w.startswith("ledger.")]


class _Misbehaving:
    """A plugin (registered by hand) whose widgets fail in every way the page must survive."""

    @hookimpl
    def udyog_dashboard(self) -> list[DashboardWidget]:
        def boom() -> Counter:
            raise RuntimeError("the report server is down")

        return [
            DashboardWidget("zz.broken", "Broken", boom),
            DashboardWidget("zz.wrong_data", "Wrong data", lambda: {"value": 1}),
            DashboardWidget("zz.fine", "Fine", lambda: Table(("A",), [(1,)]), size="full"),
            DashboardWidget("zz.evil_link", "Evil", lambda: ItemList([ListItem("x", url="https://evil.example/")])),
            DashboardWidget("other.key", "Not its prefix", lambda: Counter(1)),
            DashboardWidget("zz.huge", "Bad size", lambda: Counter(1), size="huge"),
            DashboardWidget("zz.away", "Away", lambda: Counter(1), url="//evil.example/"),
            "not a widget",  # type: ignore[list-item]
        ]


class _Raising:
    @hookimpl
    def udyog_dashboard(self) -> list[DashboardWidget]:
        raise ValueError("cannot build widgets")


def test_failing_widgets_are_unavailable_and_never_break_the_page(world, caplog):
    kernel, app = world
    kernel.pm.register(_Misbehaving(), name="zz")
    kernel.pm.register(_Raising(), name="zy")
    kernel.bus.refresh(kernel.registry.order)
    with caplog.at_level(logging.WARNING, logger="udyog.web"):
        page = web_login(app, "owner@acme.test").get("/")
    assert page.status_code == 200
    html = page.text
    shown = widgets(html)
    assert {"zz.broken", "zz.wrong_data", "zz.fine", "zz.evil_link", "ledger.vouchers"} <= set(shown)
    assert not {"other.key", "zz.huge", "zz.away"} & set(shown)
    for key in ("zz.broken", "zz.wrong_data", "zz.evil_link"):
        assert "data-widget-unavailable" in card(html, key), key
    assert "data-widget-table" in card(html, "zz.fine") and 'class="col-12">' in html
    assert "evil.example" not in html
    log = caplog.text
    assert "the report server is down" in log and "plugin zy: udyog_dashboard failed" in log
    assert "does not start with zz." in log and "size 'huge'" in log and "not a DashboardWidget" in log


def test_the_unread_notifications_counter(world):
    from udyog.auth import user_by_email

    kernel, app = world
    member = user_by_email(kernel, "member@acme.test")
    with kernel.tenant_scope("acme") as scope:
        scope.notify("notes.note.shared", {"title": "Rates", "by": "Asha", "excerpt": "x"}, users=[member.id])
        scope.session.commit()
    html = web_login(app, "member@acme.test").get("/").text
    assert re.search(r'href="/core/notifications"[^>]*data-widget-value>1<', card(html, "core.notifications"))
    assert "unread notification" in card(html, "core.notifications")
