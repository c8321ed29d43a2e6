"""Domain events: written to the outbox in the caller's transaction, delivered after commit.

An event is never delivered for a rolled-back change (the row never exists)
and never lost: if the process dies after the commit, the row stays pending
and is delivered on the next start (:meth:`Dispatcher.dispatch_pending`).
Delivery is at least once; a process claims an event with an expiring claim
before delivering it, or, for an event whose only listener is in-process,
takes it (locked) in that listener's transaction, so two processes do not
deliver the same event at once.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Uuid, bindparam, event, literal_column, null, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from udyog.db import PreparedStatement, TenantSession
from udyog.models import OutboxEvent
from udyog_sdk import Event, Listener, TenantContext, UdyogError
from udyog_sdk.models import UTCDateTime, new_id, utcnow

if TYPE_CHECKING:
    from udyog.kernel import Kernel, TenantScope

log = logging.getLogger("udyog.events")

EVENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
CLAIM_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10


def record(session: Session, name: str, payload: Mapping[str, Any], scope: TenantScope | None = None) -> uuid.UUID:
    """Add event ``name`` to ``session``'s transaction; returns its id.

    With the emitting ``scope`` known, an event whose every listener is a
    background one of the core or of a plugin the tenant enables has its
    runs queued in this transaction, at its commit (:func:`_queue_at_commit`),
    and is written delivered: nothing is left to do after the commit.
    """
    if not EVENT_NAME_RE.match(name):
        raise UdyogError(f"invalid event name {name!r}: use dotted lower-case words (plugin.thing.happened)")
    try:
        data = json.loads(json.dumps(dict(payload)))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"event {name}: payload is not plain JSON data ({exc}); pass ids, not objects") from exc
    row = OutboxEvent(id=new_id(), name=name, payload=data)
    session.add(row)
    dispatcher: Dispatcher | None = session.info.get("udyog_dispatcher")
    if dispatcher is not None and not dispatcher.anyone_listens(name):
        # No loaded plugin (nor the core) listens to it, whatever the tenant enables:
        # written delivered, with no transaction after the commit to mark it.
        row.dispatched_at = utcnow()
        return row.id
    if dispatcher is not None and scope is not None and dispatcher.enabled:
        background = dispatcher.background_only(scope.tenant, name)
        if background:
            row.dispatched_at = utcnow()
            session.info.setdefault("udyog_outbox_queue", []).append((scope, row, background))
            return row.id
    session.info.setdefault("udyog_outbox", []).append((row.id, name))
    return row.id


def _mark_delivered(*conditions: Any, at: Any = None) -> Any:
    """The UPDATE marking the outbox events matching ``conditions`` delivered (no claim, nothing pending)."""
    return (
        update(OutboxEvent)
        .where(*conditions)
        .values(dispatched_at=utcnow() if at is None else at, claimed_at=None, pending_listeners=None, last_error=None)
        .execution_options(synchronize_session=False)
    )


def _unclaimed(expired: Any) -> Any:
    """Events no process holds: never claimed, or claimed before ``expired`` (the lease ran out)."""
    return or_(OutboxEvent.claimed_at.is_(None), OutboxEvent.claimed_at < expired)


#: Built once (a statement object run again skips building and keying its SQL): claim the given
#: events that are neither delivered nor claimed by another process (or whose claim has expired).
_CLAIM = (
    update(OutboxEvent)
    .where(
        OutboxEvent.id.in_(bindparam("ids", expanding=True)),
        OutboxEvent.dispatched_at.is_(None),
        _unclaimed(bindparam("expired")),
    )
    .values(claimed_at=bindparam("now"), attempts=OutboxEvent.attempts + 1)
    .returning(
        OutboxEvent.id, OutboxEvent.name, OutboxEvent.payload, OutboxEvent.created_at, OutboxEvent.pending_listeners
    )
    .execution_options(synchronize_session=False)
)
#: Built once: mark one event delivered (the last in-process listener's transaction does).
_MARK_ONE = _mark_delivered(OutboxEvent.id == bindparam("event_id"), at=bindparam("now"))
#: Built once: take one event for its only listener, in the listener's transaction: written delivered (the
#: attempt counted) if neither delivered nor held by another process. The row stays locked until that
#: transaction ends, and a rollback (the listener failed, the process died) leaves it pending as it was.
_OUTBOX = OutboxEvent.__table__
_TAKE = PreparedStatement(
    "udyog_outbox_take",
    update(_OUTBOX)
    .where(
        _OUTBOX.c.tenant_id == bindparam("p_tenant"),
        _OUTBOX.c.id == bindparam("p_event"),
        _OUTBOX.c.dispatched_at.is_(None),
        or_(_OUTBOX.c.claimed_at.is_(None), _OUTBOX.c.claimed_at < bindparam("p_expired")),
    )
    .values(
        dispatched_at=bindparam("p_now"),
        claimed_at=null(),
        attempts=_OUTBOX.c.attempts + literal_column("1"),
        pending_listeners=null(),
        last_error=null(),
    )
    .returning(_OUTBOX.c.name, _OUTBOX.c.payload, _OUTBOX.c.created_at),
    {"p_tenant": Uuid(), "p_event": Uuid(), "p_now": UTCDateTime(), "p_expired": UTCDateTime()},
)
#: Built once: record the listeners an event is still due to and their errors, releasing any claim.
#: ``attempt`` is 1 for a taken event (its rolled-back take did not count the attempt), else 0.
_RECORD_FAILED = (
    update(OutboxEvent)
    .where(OutboxEvent.id == bindparam("event_id"), OutboxEvent.dispatched_at.is_(None))
    .values(
        attempts=OutboxEvent.attempts + bindparam("attempt"),
        claimed_at=None,
        pending_listeners=bindparam("pending"),
        last_error=bindparam("error"),
    )
    .execution_options(synchronize_session=False)
)


def _mark_quiet(session: Session, ids: list[uuid.UUID], now: Any) -> None:
    """Mark delivered, without an attempt, events nobody of the tenant listens to (unless another holds them)."""
    session.execute(
        _mark_delivered(
            OutboxEvent.id.in_(ids), OutboxEvent.dispatched_at.is_(None), _unclaimed(now - CLAIM_LEASE), at=now
        )
    )


def _event(tenant: TenantContext, event_id: uuid.UUID, row: Any) -> Event:
    """The event a listener gets, from an outbox row's name, payload and creation time."""
    return Event(id=event_id, tenant_id=tenant.id, name=row.name, payload=row.payload, created_at=row.created_at)


def _failure(listener: Listener, exc: Exception) -> str:
    """A listener's failure as ``last_error`` records it."""
    return f"{listener.name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"


def record_detached(session: Session, name: str, payload: Mapping[str, Any]) -> uuid.UUID:
    """Record event ``name`` in a short transaction of its own, once ``session``'s transaction has ended.

    The event survives a rollback of ``session``'s transaction (and is written
    after its commit too): for recording that something was *attempted* and
    refused. The name and payload are checked at once (as :func:`record`
    does); the row is written when the outermost transaction ends (at once if
    none is open), by a new session of the same tenant whose commit delivers
    it like any other event. Returns the event's id.
    """
    if not EVENT_NAME_RE.match(name):
        raise UdyogError(f"invalid event name {name!r}: use dotted lower-case words (plugin.thing.happened)")
    try:
        data = json.loads(json.dumps(dict(payload)))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"event {name}: payload is not plain JSON data ({exc}); pass ids, not objects") from exc
    if session.info.get("tenant_id") is None:
        raise UdyogError(f"event {name}: a detached event needs a session bound to a tenant")
    item = (new_id(), name, data)
    if session.in_transaction():
        session.info.setdefault("udyog_outbox_detached", []).append(item)
    else:
        _write_detached(session, [item])
    return item[0]


def _write_detached(session: Session, items: list[tuple[uuid.UUID, str, dict[str, Any]]]) -> None:
    """Write ``items`` (id, name, payload) for ``session``'s tenant in a new session, committed (which delivers them).

    Runs after the caller's transaction has ended, when its connection is back
    in the pool (SQLite's write lock is free). A failure is logged: the
    caller's own work is done and must not fail for it.
    """
    dispatcher: Dispatcher | None = session.info.get("udyog_dispatcher")
    tenant_id = session.info.get("tenant_id")
    if dispatcher is None or tenant_id is None:
        log.error("detached events %s dropped: the session has no kernel or tenant", [name for _, name, _ in items])
        return
    try:
        with dispatcher.kernel.db.session(tenant_id) as other:
            for event_id, name, data in items:
                other.add(OutboxEvent(id=event_id, name=name, payload=data))
                other.info.setdefault("udyog_outbox", []).append((event_id, name))
            other.commit()
    except Exception:
        log.exception("detached events %s could not be recorded", [name for _, name, _ in items])


@event.listens_for(TenantSession, "after_commit")
def _after_commit(session: Session) -> None:
    """Deliver the transaction's events once the outermost transaction has committed.

    SQLAlchemy also fires ``after_commit`` when a savepoint is released; the
    events then belong to a transaction that may still roll back, so they wait.
    """
    if session.in_nested_transaction():
        return
    ids = session.info.pop("udyog_outbox", None)
    dispatcher: Dispatcher | None = session.info.get("udyog_dispatcher")
    if ids and dispatcher is not None and session.info["tenant_id"] is not None:
        dispatcher.deliver_many(session.info["tenant_id"], ids)


def _write_new_events(session: Session) -> None:
    """Write the transaction's new outbox rows by one plain INSERT (:mod:`udyog.records`), not the unit of work.

    The commit would flush them; for a handful of event rows the flush costs
    several times the statement. Other pending changes are flushed first, as
    a flush would order them; rows of a rolled-back savepoint are gone from
    the session already.
    """
    if session.info.get("tenant_id") is None:
        return
    rows = [obj for obj in session.new if isinstance(obj, OutboxEvent)]
    if rows:
        from udyog.records import write_records

        write_records(session, rows)


@event.listens_for(TenantSession, "before_commit")
def _queue_at_commit(session: Session) -> None:
    """Queue the background runs of the transaction's background-only events, in the transaction.

    The events are flushed first (an inbox row refers to its event); one
    rolled back with a savepoint is no longer in the session and is skipped.
    """
    if session.in_nested_transaction():
        return
    _write_new_events(session)
    items: list[tuple[TenantScope, OutboxEvent, list[Listener]]] | None = session.info.pop("udyog_outbox_queue", None)
    if not items:
        return
    session.flush()
    by_scope: dict[int, tuple[TenantScope, list[tuple[Event, Listener]]]] = {}
    for scope, row, listeners in items:
        if not sa_inspect(row).persistent:
            continue
        ev = Event(id=row.id, tenant_id=row.tenant_id, name=row.name, payload=row.payload, created_at=row.created_at)
        by_scope.setdefault(id(scope), (scope, []))[1].extend((ev, listener) for listener in listeners)
    for emitting, deliveries in by_scope.values():
        # The runs are system work, as the deliveries after a commit are: no user of the request.
        scope = replace(emitting, user=None) if emitting.user is not None else emitting
        jobs = scope.kernel.jobs
        jobs.enqueue_deliveries(scope, [(ev, lst.name) for ev, lst in deliveries if not lst.batch])
        jobs.enqueue_batched(scope, [(ev, lst.name) for ev, lst in deliveries if lst.batch])


@event.listens_for(TenantSession, "after_transaction_end")
def _after_rollback(session: Session, transaction: Any) -> None:
    """The outermost transaction ended without a commit (a commit has taken them): forget the events.

    Then write its detached events (:func:`record_detached`), whether it committed or rolled back.

    Not on a savepoint's rollback: the transaction's other events are still to be
    delivered (one added inside the savepoint, rolled back, is not found at its claim).
    """
    if transaction.parent is None:
        session.info.pop("udyog_outbox", None)
        session.info.pop("udyog_outbox_queue", None)
        detached = session.info.pop("udyog_outbox_detached", None)
        if detached:
            _write_detached(session, detached)


class Dispatcher:
    """Delivers committed events to the listeners of the tenant's enabled plugins."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.listeners: list[tuple[str, Listener]] = []
        for plugin, listeners in kernel.bus.collect_safely("udyog_event_listeners", on_error=kernel.registry.unload):
            for listener in listeners:
                if not isinstance(listener, Listener):
                    raise TypeError(f"plugin {plugin}: udyog_event_listeners must return Listener objects")
                self.listeners.append((plugin, listener))
        #: Set False to leave events pending after their commit (tests simulating a crash); events
        #: no loaded listener matches are still written delivered (there is nothing to deliver).
        self.enabled = True
        #: Event name → the loaded listeners matching it, by plugin (listeners are fixed for the process).
        self._matching: dict[str, list[tuple[str, Listener]]] = {}

    def matching(self, name: str) -> list[tuple[str, Listener]]:
        """(plugin, listener) of every loaded listener matching event ``name``, whatever the tenant enables."""
        found = self._matching.get(name)
        if found is None:
            found = self._matching[name] = [(p, lst) for p, lst in self.listeners if lst.matches(name)]
        return found

    def anyone_listens(self, name: str) -> bool:
        """Whether any listener of the core or of a loaded plugin matches event ``name`` (any tenant)."""
        return bool(self.matching(name))

    def due(self, tenant: TenantContext, name: str) -> list[Listener]:
        """The listeners of the core and of ``tenant``'s enabled plugins that event ``name`` is due to."""
        return [lst for plugin, lst in self.matching(name) if plugin == "core" or tenant.is_enabled(plugin)]

    def background_only(self, tenant: TenantContext, name: str) -> list[Listener] | None:
        """The listeners event ``name`` is due to in ``tenant``, if all of them are background ones; else None.

        None too when a plugin the tenant does not enable (yet: the emitting
        transaction may enable it) listens: delivery after the commit, which
        reads the tenant again, decides then.
        """
        due = self.due(tenant, name)
        if not due or len(due) < len(self.matching(name)) or not all(lst.background for lst in due):
            return None
        return due

    def background_handler(self, name: str) -> Any:
        """The handler of background listener ``name`` (None if no loaded plugin has it)."""
        for _, listener in self.listeners:
            if listener.background and listener.name == name:
                return listener.handler
        return None

    def deliver_many(self, tenant_id: uuid.UUID, ids: list[uuid.UUID] | list[tuple[uuid.UUID, str]]) -> None:
        """Deliver the given committed events of one tenant (ids, or (id, name) pairs as the commit recorded them).

        Three transactions for the whole batch at most, whatever its size: one
        reads the tenant, marks dispatched the events no listener of the
        tenant's enabled plugins wants (no claim: there is nothing to deliver)
        and claims the others; then each in-process listener in its own, and
        one queuing the runs of every background listener of the batch; then
        one records every claimed event's outcome. A single event whose only
        loaded listener is in-process takes one transaction instead
        (:meth:`_deliver_to_sole`).
        """
        if not self.enabled or not ids:
            return
        items = [item if isinstance(item, tuple) else (item, None) for item in ids]
        try:
            sole = self._sole_listener(items[0][1]) if len(items) == 1 else None
            if sole is not None:
                self._deliver_to_sole(tenant_id, items[0][0], *sole)
            else:
                self._deliver(tenant_id, items)
        except Exception:
            log.exception("delivery of events %s failed; they stay pending", [i for i, _ in items])

    def _sole_listener(self, name: str | None) -> tuple[str, Listener] | None:
        """(plugin, listener) when the only loaded listener matching event ``name`` is an in-process one."""
        if name is None:
            return None
        matching = self.matching(name)
        if len(matching) != 1 or matching[0][1].background:
            return None
        return matching[0]

    def _deliver_to_sole(self, tenant_id: uuid.UUID, event_id: uuid.UUID, plugin: str, listener: Listener) -> None:
        """Deliver a committed event whose only loaded listener is in-process, in one transaction.

        The transaction reads the tenant, takes the event (written delivered,
        the attempt counted: :data:`_TAKE`) and calls the listener; the
        listener's work and the event's outcome commit together. No claim is
        needed: the taken row stays locked until the commit, and if the
        listener fails or the process dies the transaction rolls back and the
        event is pending again at once (no lease to wait for). A failure is
        then recorded in a transaction of its own, as :meth:`_deliver` does.
        An event of a tenant that does not enable the listener's plugin is
        marked delivered without an attempt.
        """
        kernel = self.kernel
        with kernel.db.session(tenant_id) as session:
            tenant = kernel.tenant_context(session, tenant_id)
            if tenant is None:
                return
            now = utcnow()
            if plugin != "core" and not tenant.is_enabled(plugin):
                _mark_quiet(session, [event_id], now)
                session.commit()
                return
            try:
                with kernel.bound(tenant, session):
                    taken = _TAKE.rows(
                        session.connection(),
                        {"p_tenant": tenant_id, "p_event": event_id, "p_now": now, "p_expired": now - CLAIM_LEASE},
                        processed=True,
                    )
                    if not taken:  # delivered already, or another process holds it
                        return
                    name, payload, created_at = taken[0]
                    listener.handler(
                        Event(id=event_id, tenant_id=tenant.id, name=name, payload=payload, created_at=created_at)
                    )
                    session.commit()
                    return
            except Exception as exc:
                log.exception("listener %s failed on event %s", listener.name, event_id)
                error = _failure(listener, exc)
        with kernel.db.session(tenant_id) as session:
            failed = {"event_id": event_id, "attempt": 1, "pending": [listener.name], "error": error}
            session.execute(_RECORD_FAILED, failed)
            session.commit()

    def deliver(self, tenant_id: uuid.UUID, event_id: uuid.UUID) -> bool:
        """Claim and deliver one event; False if another process holds it, it is done, or a listener failed."""
        return self._deliver(tenant_id, [(event_id, None)]).get(event_id, False)

    def _deliver(self, tenant_id: uuid.UUID, items: list[tuple[uuid.UUID, str | None]]) -> dict[uuid.UUID, bool]:
        """Deliver events of one tenant; event id → whether it is now dispatched (claimed ones only)."""
        kernel = self.kernel
        now = utcnow()
        with kernel.db.session(tenant_id) as session:
            tenant = kernel.tenant_context(session, tenant_id)
            if tenant is None:
                session.rollback()
                return {}
            quiet = [event_id for event_id, name in items if name is not None and not self.due(tenant, name)]
            if quiet:  # nobody listens: delivered as they stand, never claimed
                _mark_quiet(session, quiet, now)
            skip = set(quiet)
            claim = [event_id for event_id, _ in items if event_id not in skip]
            rows: list[Any] = []
            if claim:
                rows = list(session.execute(_CLAIM, {"ids": claim, "now": now, "expired": now - CLAIM_LEASE}).all())
            session.commit()
        order = {event_id: n for n, (event_id, _) in enumerate(items)}
        rows.sort(key=lambda r: order[r.id])
        outcomes: dict[uuid.UUID, tuple[list[str], list[str]]] = {}
        background: list[tuple[Event, Listener]] = []
        settled: set[uuid.UUID] = set()  # marked delivered by their last listener's transaction
        for row in rows:
            outcomes[row.id] = self._call_listeners(tenant, row, background, settled)
        if background:
            self._queue_background(tenant, background, outcomes)
        if len(settled) < len(outcomes):
            done = [event_id for event_id, (failed, _) in outcomes.items() if not failed and event_id not in settled]
            with kernel.db.session(tenant_id) as session:
                if done:
                    session.execute(_mark_delivered(OutboxEvent.id.in_(done)))
                for event_id, (failed, errors) in outcomes.items():
                    if failed:  # the claim counted the attempt
                        record = {"event_id": event_id, "attempt": 0, "pending": failed, "error": "\n".join(errors)}
                        session.execute(_RECORD_FAILED, record)
                session.commit()
        return {event_id: not failed for event_id, (failed, _) in outcomes.items()}

    def _call_listeners(
        self, tenant: TenantContext, row: Any, background: list[tuple[Event, Listener]], settled: set[uuid.UUID]
    ) -> tuple[list[str], list[str]]:
        """Call the in-process listeners a claimed event is due to, each in its own scope; (failed names, errors).

        Background listeners it is due to are appended to ``background`` as
        (event, listener): their runs are queued together afterwards. When
        the event has no background listener and every in-process one before
        the last succeeded, the last one's transaction also marks the event
        delivered (its id goes into ``settled``): no transaction of its own
        for the outcome.
        """
        kernel = self.kernel
        ev = _event(tenant, row.id, row)
        pending = set(row.pending_listeners) if row.pending_listeners is not None else None
        due = [lst for lst in self.due(tenant, ev.name) if pending is None or lst.name in pending]
        in_process = [listener for listener in due if not listener.background]
        background.extend((ev, listener) for listener in due if listener.background)
        # With background ones too, the outcome waits for their queuing: no mark with the last listener.
        mark_with_last = len(in_process) == len(due)
        failed: list[str] = []
        errors: list[str] = []
        for n, listener in enumerate(in_process):
            try:
                with kernel.tenant_scope(tenant) as scope:
                    listener.handler(ev)
                    if mark_with_last and not failed and n == len(in_process) - 1:
                        scope.session.execute(_MARK_ONE, {"event_id": ev.id, "now": utcnow()})
                        scope.session.commit()
                        settled.add(ev.id)
                        continue
                    scope.session.commit()
            except Exception as exc:
                log.exception("listener %s failed on event %s (%s)", listener.name, ev.name, ev.id)
                failed.append(listener.name)
                errors.append(_failure(listener, exc))
        return failed, errors

    def _queue_background(
        self,
        tenant: TenantContext,
        deliveries: list[tuple[Event, Listener]],
        outcomes: dict[uuid.UUID, tuple[list[str], list[str]]],
    ) -> None:
        """Queue the runs of every (event, background listener) of a batch in one transaction.

        A batched listener's events go to its inbox, with one run per tenant
        and second (``Jobs.enqueue_batched``); the others get a run each. If
        that fails, each of those listeners counts as failed for its event
        (recorded in ``outcomes``), and a later delivery queues it again.
        """
        jobs = self.kernel.jobs
        try:
            with self.kernel.tenant_scope(tenant) as scope:
                jobs.enqueue_deliveries(scope, [(ev, lst.name) for ev, lst in deliveries if not lst.batch])
                jobs.enqueue_batched(scope, [(ev, lst.name) for ev, lst in deliveries if lst.batch])
                scope.session.commit()
        except Exception as exc:
            log.exception("queuing %d background deliveries failed", len(deliveries))
            error = f"{type(exc).__name__}: {exc}"
            for ev, listener in deliveries:
                failed, errors = outcomes[ev.id]
                failed.append(listener.name)
                errors.append(f"{listener.name}: {error}")

    def pending(self, limit: int = 1000) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(tenant_id, event_id) of events awaiting delivery, oldest first."""
        now = utcnow()
        with self.kernel.db.session(all_tenants=True, write=False) as session:
            rows = session.execute(
                select(OutboxEvent.tenant_id, OutboxEvent.id)
                .where(
                    OutboxEvent.dispatched_at.is_(None),
                    OutboxEvent.attempts < MAX_ATTEMPTS,
                    _unclaimed(now - CLAIM_LEASE),
                )
                .order_by(OutboxEvent.created_at)
                .limit(limit)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def dispatch_pending(self, limit: int = 1000) -> int:
        """Deliver events left pending (a crash after commit, a failed listener)."""
        delivered = 0
        for tenant_id, event_id in self.pending(limit):
            try:
                delivered += bool(self.deliver(tenant_id, event_id))
            except Exception:
                log.exception("delivery of pending event %s failed", event_id)
        return delivered
