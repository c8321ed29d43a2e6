"""The REST API: alerts (filters, pages, transitions, permissions, tenants) and rule settings."""

from __future__ import annotations

from typing import Any

import pytest
from vigilance_kit import alerts, note

pytestmark = pytest.mark.udyog_plugins("notes", "vigilance")

API = "/api/v1/vigilance"


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (eager mode)."""
    return kernel_factory(("notes", "vigilance"), backend=backend, jobs_eager=True)


def test_alerts_are_listed_with_filters_and_pages(udyog_client, udyog_tenant):
    for name in ("boiler", "pump", "valve"):
        note(udyog_tenant, f"ALERT {name}")
    listed = udyog_client.get(f"{API}/alerts", expect=200)
    assert [a["subject"] for a in listed.data] == ["title:valve", "title:pump", "title:boiler"]  # newest first
    first = udyog_client.get(f"{API}/alerts", params={"limit": 2}, expect=200)
    assert len(first.data) == 2 and first.pagination["next_cursor"]
    rest = udyog_client.get(f"{API}/alerts", params={"limit": 2, "cursor": first.pagination["next_cursor"]}, expect=200)
    assert [a["subject"] for a in rest.data] == ["title:boiler"]
    assert len(udyog_client.get(f"{API}/alerts", params={"rule": "notes.flagged_note"}, expect=200).data) == 3
    assert udyog_client.get(f"{API}/alerts", params={"severity": "critical"}, expect=200).data == []
    assert udyog_client.get(f"{API}/alerts", params={"state__in": "open,acknowledged"}, expect=200).data
    since = listed.data[0]["last_seen"]
    assert [a["subject"] for a in udyog_client.get(f"{API}/alerts", params={"since": since}, expect=200).data] == [
        "title:valve"
    ]
    bad = udyog_client.get(f"{API}/alerts", params={"since": "yesterday"}, expect=422)
    assert "since" in bad.errors
    counts = udyog_client.get(f"{API}/alerts/counts", expect=200).data
    assert counts == {"info": 0, "warning": 3, "critical": 0, "open": 3, "live": 3}


def test_acknowledge_assign_and_resolve_with_illegal_transitions_refused(udyog_client, udyog_tenant, udyog_user):
    note(udyog_tenant, "ALERT boiler")
    [alert] = udyog_client.get(f"{API}/alerts", expect=200).data
    url = f"{API}/alerts/{alert['id']}"
    stale = udyog_client.post(f"{url}/acknowledge", json={"version": alert["version"] + 5}, expect=409)
    assert "version" in stale.errors
    acked = udyog_client.post(f"{url}/acknowledge", json={"version": alert["version"]}, expect=200).data
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == str(udyog_user.id)
    again = udyog_client.post(f"{url}/acknowledge", json={"version": acked["version"]}, expect=409)
    assert again.errors == {"state": ["acknowledged alerts cannot be acknowledged"]}
    nobody = udyog_client.post(
        f"{url}/assign",
        json={"version": acked["version"], "assignee_id": "0190f7d2-0000-7000-8000-000000000000"},
        expect=422,
    )
    assert list(nobody.errors) == ["assignee_id"]
    mine = udyog_client.post(
        f"{url}/assign", json={"version": acked["version"], "assignee_id": str(udyog_user.id)}, expect=200
    ).data
    assert mine["assignee_id"] == str(udyog_user.id)
    assert udyog_client.get(f"{API}/alerts", params={"assignee": str(udyog_user.id)}, expect=200).data
    note(udyog_tenant, "boiler ALERT")  # a repeat keeps the state and the assignee
    seen = udyog_client.get(url, expect=200).data
    assert (seen["state"], seen["assignee_id"], seen["occurrences"]) == ("acknowledged", str(udyog_user.id), 2)
    missing = udyog_client.post(f"{url}/resolve", json={"note": "x"}, expect=422)
    assert "version" in missing.errors
    done = udyog_client.post(f"{url}/resolve", json={"version": seen["version"], "note": "fixed the valve"}, expect=200)
    assert done.data["state"] == "resolved" and done.data["resolution_note"] == "fixed the valve"
    twice = udyog_client.post(f"{url}/resolve", json={"version": done.data["version"]}, expect=409)
    assert twice.errors == {"state": ["resolved alerts cannot be resolved"]}
    udyog_client.post(f"{url}/assign", json={"version": done.data["version"], "assignee_id": None}, expect=409)
    assert udyog_client.get(f"{API}/alerts/counts", expect=200).data["live"] == 0


@pytest.mark.udyog_user(permissions=["vigilance.alert.read"])
def test_a_reader_may_read_but_not_act(udyog_client, udyog_tenant):
    note(udyog_tenant, "ALERT boiler")
    [alert] = udyog_client.get(f"{API}/alerts", expect=200).data
    refused = udyog_client.post(f"{API}/alerts/{alert['id']}/acknowledge", json={"version": 1}, expect=403)
    assert refused.errors == {"permission": ["vigilance.alert.manage"]}
    refused = udyog_client.patch(f"{API}/rules/notes.flagged_note", json={"enabled": False}, expect=403)
    assert refused.errors == {"permission": ["vigilance.rule.manage"]}
    assert udyog_client.get(f"{API}/rules", expect=200).data


@pytest.mark.udyog_user(permissions=["notes.note.read"])
def test_without_the_permission_nothing_is_shown(udyog_client):
    assert udyog_client.get(f"{API}/alerts", expect=403).errors == {"permission": ["vigilance.alert.read"]}
    udyog_client.get(f"{API}/alerts/counts", expect=403)
    udyog_client.get(f"{API}/rules", expect=403)


def test_another_tenants_alert_is_not_found(udyog_client, udyog_other_client, udyog_tenant):
    note(udyog_tenant, "ALERT boiler")
    [alert] = udyog_client.get(f"{API}/alerts", expect=200).data
    assert udyog_other_client.get(f"{API}/alerts", expect=200).data == []
    udyog_other_client.get(f"{API}/alerts/{alert['id']}", expect=404)
    udyog_other_client.post(f"{API}/alerts/{alert['id']}/acknowledge", json={"version": 1}, expect=404)
    udyog_other_client.post(f"{API}/alerts/{alert['id']}/resolve", json={"version": 1}, expect=404)


def test_rules_are_listed_with_their_effective_configuration(udyog_client):
    rules = {r["key"]: r for r in udyog_client.get(f"{API}/rules", expect=200).data}
    assert set(rules) == {"notes.flagged_note", "notes.fragile", "notes.note_count"}
    flagged = rules["notes.flagged_note"]
    assert flagged["events"] == ["notes.note.created"] and flagged["thresholds"] == {"min_words": 0}
    assert flagged["roles"] == ["Owner"] and flagged["enabled"] and not flagged["configured"]
    assert rules["notes.note_count"]["cron"] == "0 7 * * *" and not rules["notes.note_count"]["enabled"]
    udyog_client.get(f"{API}/rules/notes.nothing", expect=404)


def test_rule_settings_are_validated_and_change_the_evaluation(udyog_client, udyog_tenant):
    url = f"{API}/rules/notes.flagged_note"
    bad = udyog_client.patch(url, json={"thresholds": {"percent": 5}}, expect=422)
    assert list(bad.errors) == ["thresholds.percent"] and "min_words" in bad.errors["thresholds.percent"][0]
    bad = udyog_client.patch(url, json={"thresholds": {"min_words": "lots"}}, expect=422)
    assert list(bad.errors) == ["thresholds.min_words"]
    bad = udyog_client.patch(url, json={"thresholds": {"min_words": "2.5"}}, expect=422)
    assert bad.errors == {"thresholds.min_words": ["must be a whole number"]}
    assert "severity" in udyog_client.patch(url, json={"severity": "panic"}, expect=422).errors
    bad = udyog_client.patch(url, json={"roles": ["Owner", "Astrologer"]}, expect=422)
    assert bad.errors == {"roles": ["no role named 'Astrologer' in this organisation"]}
    assert "enabled" in udyog_client.patch(url, json={"enabled": "perhaps"}, expect=422).errors
    saved = udyog_client.patch(url, json={"thresholds": {"min_words": 5}, "severity": "critical"}, expect=200).data
    assert saved["thresholds"] == {"min_words": 5} and saved["severity"] == "critical" and saved["configured"]
    assert saved["defaults"]["thresholds"] == {"min_words": 0}
    note(udyog_tenant, "ALERT short", body="two words")  # below the tenant's threshold: nothing
    assert alerts(udyog_tenant) == []
    note(udyog_tenant, "ALERT long", body="one two three four five six")
    [alert] = alerts(udyog_tenant)
    assert alert.severity == "critical"
    udyog_client.patch(url, json={"enabled": False}, expect=200)
    note(udyog_tenant, "ALERT other", body="one two three four five six")
    assert len(alerts(udyog_tenant)) == 1
    back = udyog_client.patch(url, json={"enabled": None, "severity": None, "thresholds": None}, expect=200).data
    assert (back["enabled"], back["severity"], back["thresholds"]) == (True, "warning", {"min_words": 0})
