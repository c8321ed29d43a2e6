"""The engine: an event → a background job → every matching rule evaluated → de-duplicated alerts."""

from __future__ import annotations

from typing import Any

import pytest
from vigilance_kit import alerts, failures, note

pytestmark = pytest.mark.udyog_plugins("notes", "vigilance")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (eager mode)."""
    return kernel_factory(("notes", "vigilance"), backend=backend, jobs_eager=True)


def test_an_event_raises_an_alert_in_the_background_and_repeats_count_on_it(udyog_tenant):
    note(udyog_tenant, "ALERT boiler")
    [alert] = alerts(udyog_tenant)
    assert (alert.rule_key, alert.subject, alert.state, alert.severity) == (
        "notes.flagged_note",
        "title:boiler",
        "open",
        "warning",
    )
    assert alert.occurrences == 1 and alert.link == "/notes/" and alert.event_id is not None
    note(udyog_tenant, "boiler ALERT")  # same subject: the same alert, seen again
    [again] = alerts(udyog_tenant)
    assert again.id == alert.id and again.occurrences == 2 and again.last_seen >= alert.last_seen
    note(udyog_tenant, "ALERT pump")
    assert [a.subject for a in alerts(udyog_tenant)] == ["title:boiler", "title:pump"]


def test_clear_resolves_the_live_alert_and_a_new_condition_opens_a_new_one(udyog_tenant):
    note(udyog_tenant, "ALERT boiler")
    note(udyog_tenant, "CLEAR boiler")
    [cleared] = alerts(udyog_tenant)
    assert cleared.state == "resolved" and cleared.resolution_note == "condition cleared"
    assert cleared.resolved_at is not None and cleared.resolved_by is None
    note(udyog_tenant, "CLEAR boiler")  # nothing live: nothing happens
    note(udyog_tenant, "ALERT boiler")
    first, second = alerts(udyog_tenant)
    assert (first.state, second.state) == ("resolved", "open") and second.occurrences == 1


def test_a_failing_rule_is_recorded_and_does_not_stop_the_others(udyog_tenant):
    note(udyog_tenant, "ALERT BOOM")
    [alert] = alerts(udyog_tenant)
    assert alert.subject == "title:boom"
    [failure] = failures(udyog_tenant)
    assert failure.rule_key == "notes.fragile" and "broke on purpose" in failure.error
    assert failure.event_name == "notes.note.created"


def test_other_tenants_never_see_the_alerts(udyog_tenant, udyog_other_tenant):
    note(udyog_tenant, "ALERT boiler")
    note(udyog_other_tenant, "ALERT boiler")
    [mine], [theirs] = alerts(udyog_tenant), alerts(udyog_other_tenant)
    assert mine.id != theirs.id and mine.tenant_id != theirs.tenant_id
