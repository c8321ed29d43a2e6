"""Background jobs in one process: queuing, execution, retries, checkpoints, schedules, API.

These tests run tasks eagerly (Celery's ``task_always_eager``: the same task
code, executed when the queuing transaction commits). Real workers, the
embedded queue, Redis and the kill test are in ``test_jobs_worker.py``.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from udyog_test_notes.models import Note

from udyog.app import create_app
from udyog.jobs import JobError, backoff_delay, schedule_slot
from udyog.models import JobRun, OutboxEvent
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login
from udyog_sdk import Schedule, TaskDefinition, enqueue
from udyog_sdk.models import utcnow


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend, jobs_eager=True)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_tenant(kernel, "globex", "Globex", plugins=["notes"])
    create_tenant(kernel, "plain", "Plain", plugins=[])
    owner_id = create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    create_member(kernel, "globex", "owner@globex.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return kernel, app, owner_id


def runs(kernel, tenant="acme", **where):
    with kernel.tenant_scope(tenant, write=False) as scope:
        query = select(JobRun).order_by(JobRun.created_at, JobRun.id)
        for key, value in where.items():
            query = query.where(getattr(JobRun, key) == value)
        return scope.session.scalars(query).all()


def note_titles(kernel, tenant="acme"):
    with kernel.tenant_scope(tenant, write=False) as scope:
        return sorted(scope.session.scalars(select(Note.title)).all())


def queue(kernel, task, kwargs=None, tenant="acme", **options):
    with kernel.tenant_scope(tenant) as scope:
        run_id = enqueue(task, kwargs or {}, **options)
        scope.session.commit()
    return run_id


def test_a_committed_run_executes_and_its_work_commits_with_its_success(world):
    kernel, _, _ = world
    run_id = queue(kernel, "notes.append", {"title": "from a job"})
    (run,) = runs(kernel, id=run_id)
    assert run.state == "succeeded" and run.attempts == 1 and run.progress == 100.0
    assert run.started_at is not None and run.finished_at >= run.started_at
    assert note_titles(kernel).count("from a job") == 1
    assert "from a job" not in note_titles(kernel, "globex")


def test_a_rolled_back_transaction_queues_nothing(world):
    kernel, _, _ = world
    with kernel.tenant_scope("acme") as scope:
        enqueue("notes.append", {"title": "never"})
        scope.session.rollback()
    assert runs(kernel) == []
    assert "never" not in note_titles(kernel)


def test_a_rolled_back_savepoint_keeps_the_transactions_other_runs(world):
    kernel, _, _ = world
    with kernel.tenant_scope("acme") as scope:
        kept = enqueue("notes.append", {"title": "kept"})
        with scope.session.begin_nested() as savepoint:
            enqueue("notes.append", {"title": "undone"})
            savepoint.rollback()
        scope.session.commit()
    # sent (and, eagerly, run) at the commit, not left to the sweeper
    assert [(run.id, run.state) for run in runs(kernel)] == [(kept, "succeeded")]
    assert note_titles(kernel).count("kept") == 1 and "undone" not in note_titles(kernel)


def test_queuing_with_a_key_is_idempotent(world):
    kernel, _, _ = world
    first = queue(kernel, "notes.append", {"title": "once"}, key="import:42")
    second = queue(kernel, "notes.append", {"title": "once"}, key="import:42")
    assert first == second
    assert len(runs(kernel)) == 1 and note_titles(kernel).count("once") == 1


def test_bad_queuing_is_refused_with_a_reason(world):
    kernel, _, _ = world
    with kernel.tenant_scope("acme") as scope:
        with pytest.raises(JobError, match="unknown task"):
            scope.enqueue("notes.nothing", {})
        with pytest.raises(TypeError, match="plain JSON"):
            scope.enqueue("notes.append", {"title": object()})
        with pytest.raises(JobError, match="delay"):
            scope.enqueue("notes.append", {"title": "x"}, delay=-1)
    with kernel.tenant_scope("plain") as scope, pytest.raises(JobError, match="not enabled"):
        scope.enqueue("notes.append", {"title": "x"})


def test_transient_errors_are_retried_until_success(world):
    kernel, _, _ = world
    run_id = queue(kernel, "notes.flaky", {"title": "flaky", "fail_until": 2})
    (run,) = runs(kernel, id=run_id)
    assert run.state == "succeeded" and run.attempts == 3
    # Each failed attempt rolled back its own note: only the successful one stays.
    assert note_titles(kernel).count("flaky") == 1


def test_retries_stop_at_max_retries_and_the_run_fails(world):
    kernel, _, _ = world
    run_id = queue(kernel, "notes.flaky", {"title": "hopeless", "fail_until": 99})
    (run,) = runs(kernel, id=run_id)
    assert run.state == "failed" and run.attempts == 4  # the first try and max_retries=3
    assert "TransientError" in run.error and "busy" in run.error
    assert "hopeless" not in note_titles(kernel)


def test_backoff_doubles_with_jitter_and_is_capped():
    definition = TaskDefinition("notes.x", lambda ctx: None, backoff=2.0, backoff_max=10.0)
    for attempt, base in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        delays = [backoff_delay(definition, attempt) for _ in range(50)]
        assert all(0.75 * base <= d <= 1.25 * base for d in delays)
        assert len(set(delays)) > 1


def test_a_failed_run_keeps_its_error_and_can_be_retried_by_permission(world):
    kernel, app, _ = world
    run_id = queue(kernel, "notes.copy_to", {"title": "copied", "notebook": "Archive"})
    (run,) = runs(kernel, id=run_id)
    assert run.state == "failed" and "no notebook called 'Archive'" in run.error
    owner = login(app, "owner@acme.test")
    member = login(app, "member@acme.test")
    denied = member.post(f"/api/v1/core/jobs/{run_id}/retry")
    assert denied.status_code == 403 and denied.get_json()["errors"]["permission"] == ["core.jobs.retry"]
    assert owner.post("/api/v1/notes/notebooks", json={"title": "Archive"}).status_code in (200, 201)
    retried = owner.post(f"/api/v1/core/jobs/{run_id}/retry")
    assert retried.status_code == 200, retried.get_json()
    (run,) = runs(kernel, id=run_id)
    assert run.state == "succeeded" and run.attempts == 2 and run.error is None
    assert "copied" in note_titles(kernel)
    again = owner.post(f"/api/v1/core/jobs/{run_id}/retry")
    assert again.status_code == 409 and "only failed" in again.get_json()["message"]
    assert owner.post(f"/api/v1/core/jobs/{uuid.uuid4()}/retry").status_code == 404


def test_progress_checkpoints_commit_and_a_retry_resumes_from_them(world):
    kernel, _, _ = world
    run_id = queue(kernel, "notes.count_up", {"title": "step", "steps": 4, "crash_at": 2})
    (run,) = runs(kernel, id=run_id)
    assert run.state == "succeeded" and run.attempts == 2
    assert run.checkpoint == {"done": 4} and run.progress == 100.0 and run.message == "step 4 of 4"
    # Steps 1-2 were committed by checkpoints of the first attempt; the retry did 3-4 only.
    assert [t for t in note_titles(kernel) if t.startswith("step")] == ["step 1", "step 2", "step 3", "step 4"]


def test_a_succeeded_run_never_executes_again(world):
    kernel, app, _ = world
    run_id = queue(kernel, "notes.append", {"title": "just once"})
    celery_app = app.extensions["celery"]
    tenant_id = runs(kernel)[0].tenant_id
    headers = {"udyog_tenant": str(tenant_id), "udyog_user": ""}
    # A redelivered message (the worker died after the commit, before the acknowledgement).
    result = celery_app.tasks["notes.append"].apply(args=[str(run_id)], task_id=str(run_id), headers=headers)
    assert result.get() == "skipped"
    assert note_titles(kernel).count("just once") == 1
    assert runs(kernel, id=run_id)[0].attempts == 1


@pytest.fixture
def pg_world(kernel_factory):
    kernel = kernel_factory(["notes"], backend="postgresql", jobs_eager=True)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    return kernel, create_app(kernel=kernel), None


def test_when_two_executions_race_only_the_first_commit_counts(pg_world):
    # PostgreSQL: both executions write at once. (SQLite serialises writing transactions, so there
    # the second execution starts after the first committed and is skipped, as tested above.)
    kernel, app, _ = pg_world
    started = threading.Event()
    proceed = threading.Event()

    def slow(ctx, title):
        from udyog_test_notes.tasks import _append

        _append(title)
        started.set()
        proceed.wait(10)

    kernel.jobs._add_task("notes", TaskDefinition("notes.race", slow))
    kernel.jobs._register(app.extensions["celery"], "notes.race", kernel.jobs.tasks["notes.race"][1])
    with kernel.tenant_scope("acme") as scope:
        # Queued but not sent (as if the message were still in the broker): executed twice by hand.
        run_id = scope.enqueue("notes.race", {"title": "raced"})
        scope.session.info.pop("udyog_jobs")
        scope.session.commit()
        tenant_id = scope.tenant.id
    task = app.extensions["celery"].tasks["notes.race"]
    headers = {"udyog_tenant": str(tenant_id), "udyog_user": ""}
    outcome: dict[str, str] = {}
    first = threading.Thread(target=lambda: outcome.update(first=task.apply(args=[str(run_id)], headers=headers).get()))
    first.start()
    assert started.wait(10)
    # Meanwhile another execution finished the run and committed.
    with kernel.db.session(tenant_id) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(state="succeeded")
            .execution_options(synchronize_session=False)
        )
        session.commit()
    proceed.set()
    first.join(10)
    assert outcome["first"] == "duplicate"
    assert "raced" not in note_titles(kernel)  # the losing execution's work was rolled back


def test_runs_act_as_the_user_who_queued_them_and_stop_if_they_are_disabled(world):
    kernel, app, owner_id = world
    seen = {}

    def whoami(ctx):
        from udyog_sdk import current_user

        seen["user"] = current_user()

    kernel.jobs._add_task("notes", TaskDefinition("notes.whoami", whoami))
    kernel.jobs._register(app.extensions["celery"], "notes.whoami", kernel.jobs.tasks["notes.whoami"][1])
    principal = kernel.jobs.principal
    with kernel.tenant_scope("acme") as scope:
        scope.user = principal(scope.session, scope.tenant, owner_id)
        scope.enqueue("notes.whoami", {})
        scope.session.commit()
    assert seen["user"].user_id == owner_id and seen["user"].can("notes.note.write")
    from udyog.auth import set_user_active

    with kernel.db.session() as session:
        set_user_active(session, owner_id, False)
        session.commit()
    seen.clear()
    with kernel.tenant_scope("acme") as scope:
        scope.user = principal(scope.session, scope.tenant, owner_id)
        assert scope.user is None  # disabled: no principal any more
    with kernel.tenant_scope("acme") as scope:
        run = JobRun(task="notes.whoami", kwargs={}, state="queued", user_id=owner_id)
        scope.session.add(run)
        scope.session.commit()
        run_id, tenant_id = run.id, scope.tenant.id
    task = app.extensions["celery"].tasks["notes.whoami"]
    assert task.apply(args=[str(run_id)], headers={"udyog_tenant": str(tenant_id)}).get() == "failed"
    assert "disabled" in runs(kernel, id=run_id)[0].error and seen == {}


def test_background_listeners_get_events_as_jobs(world):
    kernel, app, _ = world
    owner = login(app, "owner@acme.test")
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    made = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "bg:report"})
    assert made.status_code in (200, 201), made.get_json()
    assert "indexed:report" in note_titles(kernel)
    (delivery,) = runs(kernel, task="core.deliver_event")
    assert delivery.state == "succeeded" and delivery.kwargs["listener"] == "notes.index"
    with kernel.tenant_scope("acme", write=False) as scope:
        event = scope.session.scalar(select(OutboxEvent).where(OutboxEvent.name == "notes.note.created"))
        assert event.dispatched_at is not None and str(event.id) == delivery.kwargs["event_id"]
    # Redelivering the event (at-least-once) queues no second job.
    assert kernel.dispatcher.deliver(event.tenant_id, event.id) is False
    kernel.dispatcher.dispatch_pending()
    assert len(runs(kernel, task="core.deliver_event")) == 1


def test_the_background_deliveries_of_one_commit_are_queued_by_one_statement(world):
    kernel, _, _ = world
    from sqlalchemy import event as sa_event
    from udyog_test_notes.services import create_note, ensure_default_notebook

    inserts: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO CORE_JOB_RUN"):
            inserts.append(statement)

    engine = kernel.db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        with kernel.tenant_scope("acme") as scope:
            book = ensure_default_notebook()
            for n in range(5):
                create_note(notebook_id=book.id, title=f"bg:batch{n}")
            scope.session.commit()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    deliveries = runs(kernel, task="core.deliver_event")
    assert len(deliveries) == 5 and {d.state for d in deliveries} == {"succeeded"}
    assert [f"indexed:batch{n}" for n in range(5)] == [t for t in note_titles(kernel) if t.startswith("indexed:")]
    # One for the five runs of notes.index, one for the run of the batched notes.digest.
    assert len(inserts) == 2, inserts


def test_a_failure_to_queue_background_deliveries_leaves_the_events_pending(world, monkeypatch):
    kernel, _, _ = world
    from udyog_test_notes.services import create_note, ensure_default_notebook

    def broken(scope, deliveries):
        raise RuntimeError("broker table unavailable")

    monkeypatch.setattr(kernel.jobs, "enqueue_deliveries", broken)
    with kernel.tenant_scope("acme") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title="bg:later")
        scope.session.commit()
    with kernel.tenant_scope("acme", write=False) as scope:
        event = scope.session.scalar(select(OutboxEvent).where(OutboxEvent.name == "notes.note.created"))
    assert event.dispatched_at is None and sorted(event.pending_listeners) == ["notes.digest", "notes.index"]
    assert "broker table unavailable" in event.last_error and runs(kernel, task="core.deliver_event") == []
    monkeypatch.undo()
    assert kernel.dispatcher.dispatch_pending() == 1
    assert "indexed:later" in note_titles(kernel)


def test_a_failing_background_listener_fails_its_job_not_the_request(world):
    kernel, app, _ = world
    owner = login(app, "owner@acme.test")
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    made = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "bg:explode"})
    assert made.status_code in (200, 201)
    (delivery,) = runs(kernel, task="core.deliver_event")
    assert delivery.state == "failed" and "cannot index this note" in delivery.error


def _notes(kernel, titles, tenant="acme"):
    from udyog_test_notes.services import create_note, ensure_default_notebook

    with kernel.tenant_scope(tenant) as scope:
        book = ensure_default_notebook()
        for title in titles:
            create_note(notebook_id=book.id, title=title)
        scope.session.commit()


def inbox(kernel, tenant="acme"):
    from udyog.models import ListenerInbox

    with kernel.tenant_scope(tenant, write=False) as scope:
        return scope.session.scalars(select(ListenerInbox).order_by(ListenerInbox.created_at)).all()


def test_a_batched_listener_gets_the_events_of_a_second_in_one_run(world):
    kernel, _, _ = world
    _notes(kernel, ["batch:one", "batch:two", "plain"])
    _notes(kernel, ["batch:three"])
    assert {"digested:one", "digested:two", "digested:three"} <= set(note_titles(kernel))
    batches = runs(kernel, task="core.deliver_batch")
    # Eager jobs run at commit, so here each commit's events make a run; a worker runs one per second.
    assert {b.state for b in batches} == {"succeeded"} and sum(b.result["delivered"] for b in batches) == 4
    assert all(b.kwargs == {"listener": "notes.digest"} for b in batches) and inbox(kernel) == []
    assert len({b.key for b in batches}) == len(batches)


def test_one_run_per_second_drains_every_waiting_event(world, monkeypatch):
    kernel, _, _ = world
    sent = []
    monkeypatch.setattr(kernel.jobs, "send", sent.append)  # nothing runs: the runs stay queued
    _notes(kernel, ["batch:a"])
    _notes(kernel, ["batch:b", "batch:c"])
    waiting = inbox(kernel)
    assert [w.listener for w in waiting] == ["notes.digest"] * 3
    queued = runs(kernel, task="core.deliver_batch")
    seconds = {r.key.rsplit(":", 1)[1] for r in queued}
    assert len(queued) == len(seconds) <= 2  # one per second, however many commits
    assert all(r.eta is not None for r in queued)  # each waits for the end of its second
    monkeypatch.undo()
    from udyog.testing import execute_run

    tenant_id = waiting[0].tenant_id
    assert execute_run(kernel, tenant_id, queued[0].id) == "succeeded"
    assert inbox(kernel) == [] and {"digested:a", "digested:b", "digested:c"} <= set(note_titles(kernel))
    assert runs(kernel, id=queued[0].id)[0].result == {"delivered": 3, "failed": 0, "dropped": 0}


def test_a_failing_event_stays_waiting_alone_and_is_dropped_after_ten_attempts(world, monkeypatch):
    kernel, _, _ = world
    from udyog import jobs as jobs_module
    from udyog.testing import execute_run

    sent = []
    monkeypatch.setattr(kernel.jobs, "send", sent.append)
    _notes(kernel, ["batch:fine", "batch:explode"])
    (run,) = runs(kernel, task="core.deliver_batch")
    tenant_id = inbox(kernel)[0].tenant_id
    assert execute_run(kernel, tenant_id, run.id) == "succeeded"
    # Handled once in the first pass (rolled back when the next event raised) and once in savepoints.
    assert note_titles(kernel).count("digested:fine") == 1
    (left,) = inbox(kernel)
    assert left.attempts == 1 and "cannot digest this note" in left.last_error
    assert runs(kernel, id=run.id)[0].result == {"delivered": 1, "failed": 1, "dropped": 0}
    with kernel.tenant_scope("acme") as scope:
        from udyog.models import ListenerInbox

        scope.session.get(ListenerInbox, (tenant_id, left.id)).attempts = jobs_module.BATCH_MAX_ATTEMPTS - 1
        scope.session.commit()
    with kernel.tenant_scope("acme") as scope:
        kernel.jobs._queue_batch_run(scope, "notes.digest", "retry", None)
        scope.session.commit()
    (retry,) = [r for r in runs(kernel, task="core.deliver_batch") if r.key.endswith(":retry")]
    assert execute_run(kernel, tenant_id, retry.id) == "succeeded"
    assert inbox(kernel) == [] and runs(kernel, id=retry.id)[0].result == {"delivered": 0, "failed": 0, "dropped": 1}


def test_the_sweeper_queues_a_run_for_events_left_waiting(world, monkeypatch):
    kernel, _, _ = world
    from datetime import timedelta

    from udyog.models import ListenerInbox

    sent = []
    monkeypatch.setattr(kernel.jobs, "send", sent.append)
    _notes(kernel, ["batch:late"])
    with kernel.tenant_scope("acme") as scope:  # its run was lost and it has waited a minute
        scope.session.execute(delete(JobRun).where(JobRun.task == "core.deliver_batch"))
        for row in scope.session.scalars(select(ListenerInbox)):
            row.created_at = utcnow() - timedelta(minutes=1)
        scope.session.commit()
    assert kernel.jobs.sweep()["batched"] == 1
    (run,) = runs(kernel, task="core.deliver_batch")
    assert run.key.startswith("batch:") and ":sweep:" in run.key and run.kwargs == {"listener": "notes.digest"}
    assert runs(kernel, "globex", task="core.deliver_batch") == []


def test_batch_needs_background():
    from udyog_sdk import Listener

    with pytest.raises(ValueError, match="batch=True needs background=True"):
        Listener("notes.*", print, name="x", batch=True)


def test_schedules_queue_one_run_per_slot_for_tenants_with_the_plugin(world):
    kernel, _, _ = world
    assert kernel.jobs.fire_schedule("notes.tick") == 2  # acme and globex; not plain
    assert kernel.jobs.fire_schedule("notes.tick") == 0  # a second beat in the same slot
    for tenant in ("acme", "globex"):
        (run,) = runs(kernel, tenant, task="notes.tick")
        assert run.state == "succeeded" and run.key.startswith("schedule:notes.tick:") and run.user_id is None
        assert note_titles(kernel, tenant).count("tick 1") == 1
    assert runs(kernel, "plain") == []
    assert kernel.jobs.fire_schedule("notes.unknown") == 0


def test_schedule_slots_are_aligned_periods():
    hourly = Schedule("notes.s", "notes.t", every=timedelta(hours=1))
    at = datetime(2026, 11, 23, 10, 17, 5, tzinfo=UTC)
    assert schedule_slot(hourly, at) == schedule_slot(hourly, at + timedelta(minutes=40))
    assert schedule_slot(hourly, at) != schedule_slot(hourly, at + timedelta(minutes=45))
    cron = Schedule("notes.c", "notes.t", cron="30 2 * * *")
    assert schedule_slot(cron, at) == schedule_slot(cron, at + timedelta(seconds=50))
    assert schedule_slot(cron, at) != schedule_slot(cron, at + timedelta(seconds=60))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every": timedelta(hours=1), "cron": "* * * * *"}, "exactly one"),
        ({}, "exactly one"),
        ({"cron": "* * *"}, "five fields"),
        ({"every": timedelta(0)}, "at least one second"),
    ],
)
def test_bad_schedules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Schedule("notes.s", "notes.t", **kwargs)


def test_a_plugin_with_an_invalid_task_is_unloaded_alone(kernel_factory):
    from udyog.registry import PluginLoadError

    kernel = kernel_factory(["notes", "tags"], strict=False)
    jobs = kernel.jobs
    jobs._isolated("broken", lambda: None)  # not loaded here: ignored
    jobs._isolated("notes", lambda: jobs._add_task("notes", TaskDefinition("tags.steal", lambda ctx: None)))
    assert "notes" not in kernel.registry.loaded_names()
    assert "tags" not in kernel.registry.loaded_names()  # it requires notes
    assert not any(plugin == "notes" for plugin, _ in jobs.tasks.values())
    assert "core.deliver_event" in jobs.tasks
    strict = kernel_factory(["notes"])
    with pytest.raises(PluginLoadError, match=r"must start with 'notes\.'"):
        strict.jobs._isolated("notes", lambda: strict.jobs._add_task("notes", TaskDefinition("x.y", print)))


def test_the_sweeper_sends_runs_whose_message_never_left(world):
    kernel, _, _ = world
    with kernel.tenant_scope("acme") as scope:
        run_id = scope.enqueue("notes.append", {"title": "lost"})
        scope.session.info.pop("udyog_jobs")  # the process died between the commit and the send
        scope.session.commit()
        tenant_id = scope.tenant.id
    with kernel.db.session(tenant_id) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(sent_at=None, created_at=utcnow() - timedelta(minutes=5))
            .execution_options(synchronize_session=False)
        )
        session.commit()
    assert kernel.jobs.sweep()["resent"] == 1
    assert runs(kernel, id=run_id)[0].state == "succeeded"
    assert kernel.jobs.sweep()["resent"] == 0


def test_the_sweeper_sends_runs_whose_worker_died_again(world):
    kernel, _, _ = world
    with kernel.tenant_scope("acme") as scope:
        run_id = scope.enqueue("notes.append", {"title": "orphan"})
        scope.session.info.pop("udyog_jobs")
        scope.session.commit()
        tenant_id = scope.tenant.id
    limit = kernel.settings.jobs_time_limit
    with kernel.db.session(tenant_id) as session:  # claimed by a worker that was killed long ago
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(state="running", attempts=1, started_at=utcnow() - timedelta(seconds=limit + 60))
            .execution_options(synchronize_session=False)
        )
        session.commit()
    assert kernel.jobs.sweep()["resent"] == 0  # within its time limit and grace: maybe still running
    with kernel.db.session(tenant_id) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(started_at=utcnow() - timedelta(seconds=limit + 180))
            .execution_options(synchronize_session=False)
        )
        session.commit()
    assert kernel.jobs.sweep()["resent"] == 1
    (run,) = runs(kernel, id=run_id)
    assert run.state == "succeeded" and run.attempts == 2 and note_titles(kernel).count("orphan") == 1


def test_jobs_api_lists_the_tenants_runs_with_filters(world):
    kernel, app, _ = world
    queue(kernel, "notes.append", {"title": "a"})
    queue(kernel, "notes.copy_to", {"title": "b", "notebook": "Nowhere"})
    queue(kernel, "notes.append", {"title": "other"}, tenant="globex")
    owner = login(app, "owner@acme.test")
    listed = owner.get("/api/v1/core/jobs").get_json()
    assert [r["task"] for r in listed["data"]] == ["notes.copy_to", "notes.append"]
    failed = listed["data"][0]
    assert failed["state"] == "failed" and failed["title"] == "Copy to a notebook" and failed["duration"] >= 0
    only = owner.get("/api/v1/core/jobs?state=succeeded").get_json()["data"]
    assert [r["task"] for r in only] == ["notes.append"]
    bad = owner.get("/api/v1/core/jobs?state=exploded")
    assert bad.status_code == 422 and "state" in bad.get_json()["errors"]
    one = owner.get(f"/api/v1/core/jobs/{failed['id']}").get_json()["data"]
    assert one["id"] == failed["id"] and "Nowhere" in one["error"]
    other = runs(kernel, "globex")[0]
    assert owner.get(f"/api/v1/core/jobs/{other.id}").status_code == 404
    tasks = {t["name"] for t in owner.get("/api/v1/core/tasks").get_json()["data"]}
    assert {"core.deliver_event", "notes.append", "notes.tick"} <= tasks
    member = login(app, "member@acme.test")
    assert member.get("/api/v1/core/jobs").status_code == 403


def test_jobs_page_shows_runs_progress_and_retry(world):
    kernel, app, _ = world
    queue(kernel, "notes.count_up", {"title": "p", "steps": 2})
    queue(kernel, "notes.copy_to", {"title": "b", "notebook": "Nowhere"})
    from test_web import web_login

    client = web_login(app, "owner@acme.test")
    page = client.get("/core/jobs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Count up" in html and "step 2 of 2" in html and "100%" in html
    assert "no notebook called" in html and "Retry" in html
    assert 'http-equiv="refresh"' not in html  # nothing is running
