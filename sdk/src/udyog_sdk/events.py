"""Domain events as seen by listeners."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Event:
    """A committed domain event delivered to a listener.

    ``id`` is stable across redeliveries: listeners are called at least once
    and should use it to stay idempotent.
    """

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Listener:
    """A listener returned from the ``udyog_event_listeners`` hook.

    Attributes:
        event: an event name (``sales.order.confirmed``) or a glob
            (``sales.order.*``).
        handler: called with the :class:`Event` inside a tenant scope whose
            session (:func:`udyog_sdk.db_session`) it may write to; the scope
            commits when the handler returns and rolls back if it raises.
        name: stable identifier, used to record failures and to retry only
            the listeners that failed (default: module and qualified name).
        background: deliver the event to this listener as a background job
            (a Celery task) instead of in the process that committed it; the
            job appears in the tenant's job list and is retried on failure.
        batch: with ``background``, for listeners of many events: instead of
            a job per event, the events wait in the core's inbox and one job
            per tenant and second hands them to the handler one after the
            other (each in a savepoint of that job's transaction). A handler
            that raises for an event leaves that event waiting for the next
            job (up to 10 attempts).
    """

    event: str
    handler: Callable[[Event], None]
    name: str = field(default="")
    background: bool = False
    batch: bool = False

    def __post_init__(self) -> None:
        if self.batch and not self.background:
            raise ValueError(f"listener {self.name or self.handler!r}: batch=True needs background=True")
        if not self.name:
            qual = getattr(self.handler, "__qualname__", repr(self.handler))
            module = getattr(self.handler, "__module__", "")
            object.__setattr__(self, "name", f"{module}.{qual}")

    def matches(self, event_name: str) -> bool:
        """Whether this listener wants events called ``event_name``."""
        return fnmatchcase(event_name, self.event)
