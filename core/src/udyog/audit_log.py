"""Reading the audit log: the query of ``GET /api/v1/core/audit`` and of the log page.

Writing the log is :mod:`udyog.audit`'s work (the session's flush hooks).
This module reads the whole log in the caller's tenant session (the tenant
filter and row-level security apply). Permission checks are the caller's:
``core.audit.read``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from udyog.models import AuditEntry, User
from udyog_sdk.api import Filter, Listing
from udyog_sdk.audit import field_changes as sdk_field_changes

#: The actions an entry records.
ACTIONS = ("insert", "update", "delete")

#: The audit log, newest first (the API's and the page's filters, sort and keyset paging).
AUDIT = Listing(
    AuditEntry,
    filters={
        "entity": ("eq", "in"),
        "record_id": ("eq",),
        "user_id": ("eq",),
        "action": Filter(AuditEntry.action, field=ma.fields.String(validate=ma.validate.OneOf(ACTIONS))),
        "since": Filter(AuditEntry.at, "gte"),
        "until": Filter(AuditEntry.at, "lte"),
    },
    sort=("at",),
    default_sort="-at",
    name="Audit",
)


def audit_page(args: Mapping[str, Any], *, session: Session | None = None) -> tuple[list[AuditEntry], dict[str, Any]]:
    """One page of the log for ``args`` as :attr:`AUDIT.schema <udyog_sdk.api.Listing.schema>` parsed them.

    Returns the entries and the ``meta`` of the API's envelope
    (``{"pagination": {"limit", "next_cursor", "has_more"}}``).
    """
    return AUDIT.page(select(AuditEntry), args, session=session)


@dataclass(frozen=True)
class FieldChange:
    """One field of an entry: its value before and after (``None`` where the row did not exist)."""

    field: str
    before: Any
    after: Any


def field_changes(action: str, changes: Mapping[str, Any]) -> list[FieldChange]:
    """An entry's ``changes`` as one row per field, by field name (:func:`udyog_sdk.audit.field_changes`)."""
    return [FieldChange(*row) for row in sdk_field_changes(action, changes)]


def user_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names (or e-mail addresses) of the users ``ids``, for showing who made a change."""
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(sorted(ids))))
    return {row.id: row.name or row.email for row in rows}


def describe_entries(session: Session, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Entries as pages show them: who (by name), when, what, and the changed fields (:class:`FieldChange`)."""
    names = user_names(session, {e.user_id for e in entries if e.user_id is not None})
    return [
        {
            "id": e.id,
            "at": e.at,
            "user_id": e.user_id,
            "user": names.get(e.user_id) if e.user_id is not None else None,
            "action": e.action,
            "entity": e.entity,
            "record_id": e.record_id,
            "fields": field_changes(e.action, e.changes or {}),
        }
        for e in entries
    ]


__all__ = [
    "ACTIONS",
    "AUDIT",
    "FieldChange",
    "audit_page",
    "describe_entries",
    "field_changes",
    "user_names",
]
