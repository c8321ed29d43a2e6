"""A record's audit history, read through the host (the core writes the log; see ``docs/audit.md``).

Inside a tenant scope, :func:`history` returns what was recorded about one
record: who changed it, when, and which values, newest first. Like
:mod:`udyog_sdk.attachments`, these helpers act for the plugin's own code and
check no user permission; a page that shows the history to a user checks
``core.audit.read`` first (the generic detail page does).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from udyog_sdk.runtime import current_scope

#: The most entries one call returns.
MAX_HISTORY = 200


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the audit log: an insert, update or delete of a record."""

    id: uuid.UUID
    at: datetime
    #: ``insert``, ``update`` or ``delete``.
    action: str
    #: The table of the record, e.g. ``notes_note``.
    entity: str
    record_id: str
    #: Who made the change; None for system work (CLI, tenant setup, listeners).
    user_id: uuid.UUID | None
    #: The user's name at the time of reading (None for system work or a user no longer known).
    user_name: str | None
    #: As logged: ``{"after": {...}}``, ``{"before": {...}}`` or ``{field: {"before": x, "after": y}}``.
    changes: Mapping[str, Any] = field(default_factory=dict)

    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        """``(field, before, after)`` for each value the entry holds (None where a side has no value)."""
        return field_changes(self.action, self.changes)


def field_changes(action: str, changes: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """An audit entry's ``changes`` as ``(field, before, after)`` rows, by field name.

    An insert has no *before*, a delete no *after*; an update lists the
    changed fields only (a bare value counts as the *after*).
    """
    if action == "insert":
        after = changes.get("after") or {}
        return [(name, None, after[name]) for name in sorted(after)]
    if action == "delete":
        before = changes.get("before") or {}
        return [(name, before[name], None) for name in sorted(before)]
    out: list[tuple[str, Any, Any]] = []
    for name in sorted(changes):
        change = changes[name]
        if isinstance(change, Mapping):
            out.append((name, change.get("before"), change.get("after")))
        else:
            out.append((name, None, change))
    return out


def record_history(entity: str, record_id: str, *, limit: int = 20) -> list[AuditRecord]:
    """The audit entries of record ``record_id`` of table ``entity``, newest first (at most ``limit``)."""
    limit = max(1, min(int(limit), MAX_HISTORY))
    reader = getattr(current_scope(), "audit_history", None)
    if reader is None:
        return []
    return list(reader(entity, str(record_id), limit=limit))


def history(record: Any, *, limit: int = 20) -> list[AuditRecord]:
    """The audit entries of ``record`` (an ORM object of a tenant-scoped model), newest first."""
    from udyog_sdk.attachments import record_ref

    entity, record_id = record_ref(record)
    return record_history(entity, record_id, limit=limit)


__all__ = ["MAX_HISTORY", "AuditRecord", "field_changes", "history", "record_history"]
