"""The engine: an event → a background job → every matching rule evaluated → de-duplicated alerts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
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


def test_a_new_alert_notifies_the_rules_roles_once(udyog_tenant, udyog_client):
    note(udyog_tenant, "ALERT boiler")
    inbox = udyog_client.get("/api/v1/core/notifications", expect=200).data
    assert len(inbox) == 1 and "Flagged note: ALERT boiler" in inbox[0]["title"]
    assert inbox[0]["link"].startswith("/vigilance/alerts/")
    note(udyog_tenant, "boiler ALERT")  # a repeat: no second notification
    assert len(udyog_client.get("/api/v1/core/notifications", expect=200).data) == 1


def test_a_scheduled_rule_runs_for_the_tenant_when_enabled(udyog_tenant, udyog_client):
    from udyog_sdk import enqueue

    def run() -> None:
        with udyog_tenant.scope() as scope:
            enqueue("vigilance.evaluate_schedule", {"cron": "0 7 * * *"})
            scope.session.commit()

    note(udyog_tenant, "a note")
    run()  # disabled by default: nothing
    assert alerts(udyog_tenant) == []
    udyog_client.patch(
        "/api/v1/vigilance/rules/notes.note_count", json={"enabled": True, "thresholds": {"max_notes": 0}}, expect=200
    )
    run()
    [alert] = alerts(udyog_tenant)
    assert (alert.rule_key, alert.subject, alert.severity, alert.event_id) == (
        "notes.note_count",
        "notes",
        "info",
        None,
    )
    udyog_client.patch("/api/v1/vigilance/rules/notes.note_count", json={"thresholds": {"max_notes": 10}}, expect=200)
    run()
    assert alerts(udyog_tenant)[0].state == "resolved"


def test_two_workers_raising_the_same_condition_at_once_end_with_one_alert(udyog_tenant):
    import threading
    import time

    from udyog_vigilance.engine import raise_alert, utcnow

    inserted = threading.Event()
    results: dict[str, tuple[Any, bool]] = {}
    waited: list[bool] = []

    def worker(name: str, hold: float) -> None:
        if name == "second":
            # Before opening its scope: on SQLite a scope that begins first holds the write lock, and the
            # first worker would queue behind the one waiting for it.
            waited.append(inserted.wait(30))
        with udyog_tenant.scope() as scope:
            results[name] = raise_alert(
                "notes.flagged_note",
                "title:race",
                title=name,
                detail="",
                link=None,
                severity="warning",
                data=None,
                event_id=None,
                now=utcnow(),
            )
            if name == "first":
                inserted.set()
                time.sleep(hold)  # the second worker's insert waits on this uncommitted row
            scope.session.commit()

    threads = [
        threading.Thread(target=worker, args=("first", 0.5)),
        threading.Thread(target=worker, args=("second", 0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert waited == [True], "the first worker did not insert within 30 s"
    [alert] = alerts(udyog_tenant)
    assert alert.occurrences == 2 and alert.title == "second"
    assert results["first"] == (alert.id, True) and results["second"] == (alert.id, False)


def test_settings_written_directly_apply_to_the_next_evaluation(udyog_tenant):
    from udyog_vigilance.models import RuleSetting

    note(udyog_tenant, "ALERT boiler")  # caches the tenant's (absent) settings
    with udyog_tenant.scope() as scope:
        scope.session.add(RuleSetting(rule_key="notes.flagged_note", enabled=False))
        scope.session.commit()
    note(udyog_tenant, "ALERT pump")
    assert [a.subject for a in alerts(udyog_tenant)] == ["title:boiler"]
    with udyog_tenant.scope() as scope:
        setting = scope.session.scalar(select(RuleSetting))
        setting.enabled, setting.severity = None, "critical"
        scope.session.commit()
    note(udyog_tenant, "ALERT valve")
    assert [(a.subject, a.severity) for a in alerts(udyog_tenant)][-1] == ("title:valve", "critical")


def test_a_repeat_writes_no_audit_entry_while_the_creation_and_the_clearing_do(udyog_tenant):
    from udyog_sdk.audit import history
    from udyog_vigilance.models import Alert

    def actions() -> list[str]:
        with udyog_tenant.scope(write=False) as scope:
            alert = scope.session.scalar(select(Alert))
            return sorted(entry.action for entry in history(alert))

    note(udyog_tenant, "ALERT boiler")
    assert actions() == ["insert"]
    note(udyog_tenant, "boiler ALERT")
    note(udyog_tenant, "ALERT boiler")
    assert actions() == ["insert"] and alerts(udyog_tenant)[0].occurrences == 3
    note(udyog_tenant, "CLEAR boiler")
    assert actions() == ["insert", "update"]


def test_live_subjects_names_the_rules_open_and_acknowledged_alerts(udyog_tenant):
    from udyog_vigilance.engine import RuleContext, effective, evaluate_rule_now, tenant_rules

    note(udyog_tenant, "ALERT boiler")
    note(udyog_tenant, "ALERT pump")
    note(udyog_tenant, "CLEAR pump")
    with udyog_tenant.scope() as scope:
        ctx = evaluate_rule_now("notes.note_count")  # a scheduled run, disabled or not: no event
        assert ctx is not None and ctx.event is None
        assert ctx.live_subjects() == set()  # another rule's alerts are not its own
        flagged = RuleContext(effective(tenant_rules().rules["notes.flagged_note"], None), None, ctx.now)
        assert flagged.live_subjects() == {"title:boiler"}
        scope.session.rollback()
