"""The pages: alerts with filters and actions, one alert, the rules' settings; the shell's live badge; the widget."""

from __future__ import annotations

import re
from typing import Any

import pytest
from vigilance_kit import alerts, note

pytestmark = pytest.mark.udyog_plugins("notes", "vigilance")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (eager mode)."""
    return kernel_factory(("notes", "vigilance"), backend=backend, jobs_eager=True)


def _badge(html: str) -> str | None:
    found = re.search(r'data-menu-badge="vigilance.alerts">(\d+)<', html)
    return found.group(1) if found else None


def test_the_alerts_page_filters_and_acts(udyog_web_client, udyog_tenant):
    note(udyog_tenant, "ALERT boiler")
    note(udyog_tenant, "ALERT pump")
    page = udyog_web_client.get("/vigilance/alerts")
    assert page.status_code == 200 and "Flagged note: ALERT boiler" in page.text and "ALERT pump" in page.text
    assert udyog_web_client.get("/vigilance/alerts?severity=critical").text.count("data-alert-id=") == 0
    assert udyog_web_client.get("/vigilance/alerts?rule=notes.flagged_note").text.count("data-alert-id=") == 2
    boiler, pump = alerts(udyog_tenant)
    answer = udyog_web_client.submit(
        f"/vigilance/alerts/{boiler.id}/acknowledge", {"version": str(boiler.version), "next": "list"}
    )
    assert answer.status_code == 303
    answer = udyog_web_client.submit(
        f"/vigilance/alerts/{pump.id}/resolve", {"version": str(pump.version), "note": "ok"}
    )
    assert answer.status_code == 303
    states = {a.subject: a.state for a in alerts(udyog_tenant)}
    assert states == {"title:boiler": "acknowledged", "title:pump": "resolved"}
    live = udyog_web_client.get("/vigilance/alerts").text
    assert "ALERT boiler" in live and "ALERT pump" not in live
    assert "ALERT pump" in udyog_web_client.get("/vigilance/alerts?state=resolved").text
    # A stale form is refused with its reason, and nothing changes.
    udyog_web_client.submit(f"/vigilance/alerts/{pump.id}/resolve", {"version": str(pump.version)})
    detail = udyog_web_client.get(f"/vigilance/alerts/{pump.id}")
    assert detail.status_code == 200 and "ok" in detail.text and "resolved" in detail.text


def test_the_alert_page_assigns(udyog_web_client, udyog_tenant, udyog_user):
    note(udyog_tenant, "ALERT boiler")
    [alert] = alerts(udyog_tenant)
    page = udyog_web_client.get(f"/vigilance/alerts/{alert.id}")
    assert page.status_code == 200 and 'id="alert-record"' in page.text and str(udyog_user.id) in page.text
    udyog_web_client.submit(
        f"/vigilance/alerts/{alert.id}/assign", {"version": str(alert.version), "assignee_id": str(udyog_user.id)}
    )
    assert alerts(udyog_tenant)[0].assignee_id == udyog_user.id
    udyog_web_client.submit(f"/vigilance/alerts/{alert.id}/assign", {"version": "2", "assignee_id": "not-an-id"})
    assert alerts(udyog_tenant)[0].assignee_id == udyog_user.id


def test_the_rules_page_saves_and_names_bad_fields(udyog_web_client, udyog_client):
    page = udyog_web_client.get("/vigilance/rules")
    assert page.status_code == 200 and "notes.flagged_note" in page.text and "min_words" in page.text
    bad = udyog_web_client.submit(
        "/vigilance/rules/notes.flagged_note",
        {"enabled": "on", "severity": "warning", "threshold_min_words": "many", "roles": "Owner, Astrologer"},
    )
    assert bad.status_code == 422 and "thresholds.min_words" in bad.text and "Astrologer" in bad.text
    good = udyog_web_client.submit(
        "/vigilance/rules/notes.flagged_note", {"severity": "critical", "threshold_min_words": "4", "roles": "Owner"}
    )
    assert good.status_code == 303
    rule = udyog_client.get("/api/v1/vigilance/rules/notes.flagged_note", expect=200).data
    assert (rule["enabled"], rule["severity"], rule["thresholds"], rule["roles"]) == (
        False,
        "critical",
        {"min_words": 4},
        ["Owner"],
    )


def test_the_shell_shows_a_live_count_of_open_alerts(udyog_web_client, udyog_tenant):
    home = udyog_web_client.get("/")
    assert home.status_code == 200 and _badge(home.text) == "0" and "badges.js" in home.text
    assert udyog_web_client.get("/core/static/badges.js").status_code == 200
    note(udyog_tenant, "ALERT boiler")
    note(udyog_tenant, "ALERT pump")
    counts = udyog_web_client.get("/core/menu/badges")
    assert counts.status_code == 200 and counts.json == {"badges": {"vigilance.root": 2, "vigilance.alerts": 2}}
    assert _badge(udyog_web_client.get("/").text) == "2"
    [boiler, _] = alerts(udyog_tenant)
    udyog_web_client.submit(f"/vigilance/alerts/{boiler.id}/acknowledge", {"version": str(boiler.version)})
    assert udyog_web_client.get("/core/menu/badges").json["badges"]["vigilance.alerts"] == 1


def test_the_dashboard_card_counts_live_alerts_by_severity(udyog_web_client, udyog_tenant):
    assert "No open alerts." in udyog_web_client.get("/").text
    note(udyog_tenant, "ALERT boiler")
    home = udyog_web_client.get("/").text
    assert "/vigilance/alerts?state=live&amp;severity=warning" in home


@pytest.mark.udyog_user(permissions=["notes.note.read"])
def test_without_the_permission_no_badge_and_no_pages(udyog_web_client):
    assert _badge(udyog_web_client.get("/").text) is None
    assert udyog_web_client.get("/core/menu/badges").json == {"badges": {}}
    assert udyog_web_client.get("/vigilance/alerts").status_code == 403
