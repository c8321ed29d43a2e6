"""Domain events: outbox in the same transaction, delivery after commit, never lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select
from udyog_test_notes import hooks as notes_hooks
from udyog_test_notes.services import create_note, ensure_default_notebook
from udyog_test_tags import hooks as tags_hooks

from udyog.app import create_app
from udyog.kernel import Kernel
from udyog.models import OutboxEvent
from udyog.tenancy import create_tenant
from udyog_sdk import UdyogError, emit, emit_detached


@pytest.fixture
def kernel(kernel_factory, backend):
    kernel = kernel_factory(["notes", "tags"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["tags"])
    notes_hooks.RECEIVED.clear()
    notes_hooks.FAIL_TITLES.clear()
    tags_hooks.SEEN.clear()
    tags_hooks.FAIL_TITLES.clear()
    return kernel


def outbox(kernel):
    with kernel.db.session(all_tenants=True) as s:
        return s.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)).all()


def add_note(kernel, title, *, commit=True):
    with kernel.tenant_scope("acme") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title=title)
        if commit:
            scope.session.commit()
        else:
            scope.session.rollback()


def test_event_is_delivered_after_commit(kernel):
    add_note(kernel, "hello")
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.created"]
    assert tags_hooks.SEEN == ["hello"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None and row.pending_listeners is None and row.attempts == 1


def test_events_nobody_listens_to_are_marked_dispatched_without_a_claim(kernel):
    with kernel.tenant_scope("acme") as scope:
        emit("tags.nobody.listens", {"n": 1})
        emit("tags.nobody.cares", {"n": 2})
        create_note(notebook_id=ensure_default_notebook().id, title="wanted")
        scope.session.commit()
    rows = {row.name: row for row in outbox(kernel)}
    assert set(rows) == {"tags.nobody.listens", "tags.nobody.cares", "notes.note.created"}
    for name in ("tags.nobody.listens", "tags.nobody.cares"):
        assert rows[name].dispatched_at is not None and rows[name].attempts == 0 and rows[name].claimed_at is None
    wanted = rows["notes.note.created"]
    assert wanted.dispatched_at is not None and wanted.attempts == 1 and wanted.claimed_at is None
    assert tags_hooks.SEEN == ["wanted"]
    assert kernel.dispatcher.dispatch_pending() == 0


def test_an_event_no_loaded_listener_matches_is_written_delivered(kernel):
    # With delivery after commit switched off, only the emit itself can have marked it.
    kernel.dispatcher.enabled = False
    try:
        with kernel.tenant_scope("acme") as scope:
            emit("tags.nobody.listens", {"n": 1})
            assert scope.session.info.get("udyog_outbox") in (None, [])  # nothing for after the commit
            create_note(notebook_id=ensure_default_notebook().id, title="wanted")
            scope.session.commit()
    finally:
        kernel.dispatcher.enabled = True
    rows = {row.name: row for row in outbox(kernel)}
    quiet = rows["tags.nobody.listens"]
    assert quiet.dispatched_at is not None and quiet.attempts == 0 and quiet.claimed_at is None
    wanted = rows["notes.note.created"]  # a listener matches: left to the delivery after commit
    assert wanted.dispatched_at is None and wanted.attempts == 0
    assert kernel.dispatcher.anyone_listens("notes.note.created")
    assert not kernel.dispatcher.anyone_listens("tags.nobody.listens")
    assert kernel.dispatcher.dispatch_pending() == 1


def test_an_event_of_one_in_process_listener_is_taken_and_delivered_in_the_listeners_transaction(kernel):
    from sqlalchemy import event

    commits: list[int] = []
    engine = kernel.db.write_engine.engine

    def count(conn):
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        with kernel.tenant_scope("acme") as scope:
            emit("notes.note.archived", {"title": "old"})  # only notes.remember (notes.*) listens: in-process
            scope.session.commit()
    finally:
        event.remove(engine, "commit", count)
    # the emitting transaction, and the listener's, which took the event: no claim, no outcome transaction
    assert len(commits) == 2, commits
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.archived"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None and row.attempts == 1 and row.claimed_at is None
    assert row.pending_listeners is None and row.last_error is None
    assert kernel.dispatcher.dispatch_pending() == 0


def test_an_event_of_in_process_listeners_only_is_marked_by_the_last_ones_transaction(kernel):
    from sqlalchemy import event

    commits: list[int] = []
    engine = kernel.db.write_engine.engine
    # notes.remember (notes.*) and tags' listener are both in-process for this event: claimed, then each
    # listener in its own transaction, the last one marking the event
    assert [lst.background for _, lst in kernel.dispatcher.matching("notes.note.updated")] == [False, False]

    def count(conn):
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        with kernel.tenant_scope("acme") as scope:
            emit("notes.note.updated", {"title": "edited"})
            scope.session.commit()
    finally:
        event.remove(engine, "commit", count)
    # the emitting transaction, the claim, and the last listener's with the mark (the first one writes
    # nothing: its session never opens a database transaction)
    assert len(commits) == 3, commits
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.updated"] and tags_hooks.SEEN == ["edited"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None and row.attempts == 1 and row.claimed_at is None
    assert row.pending_listeners is None and row.last_error is None


def test_the_sole_listeners_failure_leaves_the_event_pending_with_its_error_and_nothing_of_its_work(kernel):
    from udyog_test_notes.models import Note

    notes_hooks.FAIL_TITLES.add("flaky")
    with kernel.tenant_scope("acme") as scope:
        emit("notes.note.archived", {"title": "flaky"})
        scope.session.commit()
    [row] = outbox(kernel)
    assert row.dispatched_at is None and row.claimed_at is None and row.attempts == 1
    assert row.pending_listeners == ["notes.remember"]
    assert "notes listener failed on purpose" in row.last_error
    assert notes_hooks.RECEIVED == []
    with kernel.db.session(all_tenants=True) as s:
        assert s.scalars(select(Note)).all() == []
    assert [p[1] for p in kernel.dispatcher.pending()] == [row.id]
    notes_hooks.FAIL_TITLES.clear()
    assert kernel.dispatcher.dispatch_pending() == 1
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.archived"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None and row.attempts == 2 and row.last_error is None
    assert row.pending_listeners is None


def test_an_event_taken_by_another_process_is_not_delivered_twice(kernel):
    """While one process's listener transaction holds the event, another's delivery finds nothing to take."""
    kernel.dispatcher.enabled = False
    try:
        with kernel.tenant_scope("acme") as scope:
            emit("notes.note.archived", {"title": "busy"})
            scope.session.commit()
    finally:
        kernel.dispatcher.enabled = True
    [row] = outbox(kernel)
    with kernel.db.session(all_tenants=True) as other:  # a claim another process holds (unexpired lease)
        from datetime import UTC, datetime

        other.execute(
            OutboxEvent.__table__.update().where(OutboxEvent.id == row.id).values(claimed_at=datetime.now(UTC))
        )
        other.commit()
    kernel.dispatcher.deliver_many(row.tenant_id, [(row.id, "notes.note.archived")])
    assert notes_hooks.RECEIVED == []
    [row] = outbox(kernel)
    assert row.dispatched_at is None and row.attempts == 0


def test_a_rolled_back_change_emits_nothing(kernel):
    add_note(kernel, "never", commit=False)
    assert notes_hooks.RECEIVED == []
    assert outbox(kernel) == []


def test_a_rolled_back_savepoint_keeps_the_transactions_other_events(kernel):
    with kernel.tenant_scope("acme") as scope:
        notebook_id = ensure_default_notebook().id
        create_note(notebook_id=notebook_id, title="kept")
        with scope.session.begin_nested() as savepoint:
            create_note(notebook_id=notebook_id, title="undone")
            savepoint.rollback()
        scope.session.commit()
    # delivered right after the commit, not only by the sweeper
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.created"]
    assert tags_hooks.SEEN == ["kept"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None


def test_a_released_savepoint_delivers_nothing_before_the_transaction_commits(kernel):
    with kernel.tenant_scope("acme") as scope:
        notebook_id = ensure_default_notebook().id
        with scope.session.begin_nested():
            create_note(notebook_id=notebook_id, title="inside")
        # the savepoint is released, the transaction is not committed: nothing delivered yet
        assert notes_hooks.RECEIVED == [] and tags_hooks.SEEN == []
        scope.session.rollback()
    assert notes_hooks.RECEIVED == [] and outbox(kernel) == []
    with kernel.tenant_scope("acme") as scope:
        with scope.session.begin_nested():
            create_note(notebook_id=ensure_default_notebook().id, title="committed")
        scope.session.commit()
    assert tags_hooks.SEEN == ["committed"]


def test_events_left_pending_are_delivered_at_the_next_start(kernel):
    kernel.dispatcher.enabled = False  # as if the process died right after the commit
    add_note(kernel, "orphan")
    assert notes_hooks.RECEIVED == [] and outbox(kernel)[0].dispatched_at is None
    restarted = Kernel(kernel.settings)
    try:
        create_app(kernel=restarted)  # start-up delivers pending events
    finally:
        restarted.close()
    assert tags_hooks.SEEN == ["orphan"]
    assert outbox(kernel)[0].dispatched_at is not None


def die_during_delivery(kernel, imports: str, work: str) -> subprocess.CompletedProcess[str]:
    """Run ``work`` (committing in tenant acme's scope) in a process the listener kills during delivery."""
    script = textwrap.dedent(
        """
        import sys
        from udyog.kernel import Kernel
        from udyog.config import Settings, PluginsFile
        {imports}
        settings = Settings.from_env(
            {{
                "database_url": sys.argv[1],
                "plugins": PluginsFile(enabled=("notes", "tags")),
                "app_db_role": sys.argv[2] or None,
            }},
            environ={{}},
        )
        kernel = Kernel(settings)
        with kernel.tenant_scope("acme") as scope:
            {work}
            scope.session.commit()   # a listener kills the process during delivery
        print("not reached")
        """
    ).format(imports=imports, work=work)
    env = {**os.environ, "NOTES_DIE_ON_EVENT": "doomed"}
    return subprocess.run(
        [sys.executable, "-c", script, kernel.settings.database_url, kernel.settings.app_db_role or ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_process_killed_during_delivery_loses_nothing(kernel, monkeypatch):
    done = die_during_delivery(
        kernel,
        "from udyog_test_notes.services import create_note, ensure_default_notebook",
        'create_note(notebook_id=ensure_default_notebook().id, title="doomed")',
    )
    assert done.returncode == 3, done.stderr
    [row] = outbox(kernel)
    assert row.dispatched_at is None and row.claimed_at is not None  # committed, claimed, not delivered
    assert kernel.dispatcher.pending() == []  # the claim holds while its lease runs
    from datetime import timedelta

    from udyog import outbox as outbox_module

    monkeypatch.setattr(outbox_module, "CLAIM_LEASE", timedelta(seconds=0))
    assert kernel.dispatcher.dispatch_pending() == 1
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.created"]
    assert tags_hooks.SEEN == ["doomed"]
    assert outbox(kernel)[0].dispatched_at is not None


def test_a_process_killed_while_the_sole_listener_runs_leaves_the_event_pending_at_once(kernel):
    done = die_during_delivery(kernel, "from udyog_sdk import emit", 'emit("notes.note.archived", {"title": "doomed"})')
    assert done.returncode == 3, done.stderr
    [row] = outbox(kernel)
    # the listener's transaction never committed: no claim, no attempt, pending for the next delivery
    assert row.dispatched_at is None and row.claimed_at is None and row.attempts == 0
    assert [event_id for _, event_id in kernel.dispatcher.pending()] == [row.id]
    assert kernel.dispatcher.dispatch_pending() == 1
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.archived"]
    assert outbox(kernel)[0].dispatched_at is not None


def test_only_the_failed_listener_is_retried(kernel):
    tags_hooks.FAIL_TITLES.add("flaky")
    add_note(kernel, "flaky")
    [row] = outbox(kernel)
    assert row.dispatched_at is None
    assert row.pending_listeners == ["tags.tag_new_note"]
    assert "tags listener failed on purpose" in row.last_error
    assert len(notes_hooks.RECEIVED) == 1
    tags_hooks.FAIL_TITLES.clear()
    assert kernel.dispatcher.dispatch_pending() == 1
    assert len(notes_hooks.RECEIVED) == 1  # not delivered twice to the listener that succeeded
    assert tags_hooks.SEEN == ["flaky"]
    [row] = outbox(kernel)
    assert row.dispatched_at is not None and row.attempts == 2 and row.last_error is None


def test_a_delivered_event_is_never_delivered_again(kernel):
    add_note(kernel, "once")
    [row] = outbox(kernel)
    assert kernel.dispatcher.deliver(row.tenant_id, row.id) is False
    assert kernel.dispatcher.dispatch_pending() == 0
    assert len(notes_hooks.RECEIVED) == 1


def test_event_names_and_payloads_are_checked(kernel):
    with kernel.tenant_scope("acme"):
        with pytest.raises(UdyogError, match="invalid event name"):
            emit("Bad Name", {})
        with pytest.raises(TypeError, match="not plain JSON"):
            emit("notes.thing.happened", {"when": object()})


def test_a_detached_event_survives_the_rollback_of_the_transaction_that_emitted_it(kernel):
    with kernel.tenant_scope("acme") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title="refused")
        event_id = emit_detached("notes.note.refused", {"title": "refused"})
        # nothing is written while the caller's transaction is open
        assert notes_hooks.RECEIVED == []
        scope.session.rollback()
    # the note and its created event are gone; the detached event was committed on its own and delivered
    [row] = outbox(kernel)
    assert (row.id, row.name, row.payload) == (event_id, "notes.note.refused", {"title": "refused"})
    assert row.dispatched_at is not None
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.refused"]
    with kernel.tenant_scope("acme") as scope:
        assert scope.session.scalar(select(OutboxEvent.tenant_id)) == scope.tenant.id


def test_a_detached_event_is_written_after_a_commit_too_and_at_once_outside_a_transaction(kernel):
    with kernel.tenant_scope("acme") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title="kept")
        emit_detached("notes.note.noticed", {"title": "first", "n": 1})
        scope.session.commit()
        assert not scope.session.in_transaction()
        emit_detached("notes.note.noticed", {"title": "second", "n": 2})
        # no transaction was open: written (and delivered) before emit_detached returned
        assert [name for _, name in notes_hooks.RECEIVED][-1] == "notes.note.noticed"
    names = sorted((row.name, row.payload.get("n")) for row in outbox(kernel))
    assert names == [("notes.note.created", None), ("notes.note.noticed", 1), ("notes.note.noticed", 2)]


def test_a_detached_events_name_and_payload_are_checked_at_once(kernel):
    with kernel.tenant_scope("acme") as scope:
        with pytest.raises(UdyogError):
            emit_detached("Bad Name", {})
        with pytest.raises(TypeError):
            emit_detached("notes.note.refused", {"when": object()})
        scope.session.rollback()
    assert outbox(kernel) == []
