"""The audit log page: the tenant's changes newest first, with filters and keyset paging.

The query is :func:`udyog.audit_log.audit_page`, the one of ``GET
/api/v1/core/audit``; the page's filters are read by the same argument
schema. Dates are days in the tenant's timezone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any, cast

import marshmallow as ma
from flask import Blueprint, Response, make_response, render_template, request
from sqlalchemy import select

from udyog.audit import is_audited
from udyog.audit_log import ACTIONS, AUDIT, audit_page, describe_entries
from udyog.models import Membership, User
from udyog_sdk import current_tenant, db_session
from udyog_sdk.models import Base
from udyog_sdk.security import requires

#: Entries per page.
PAGE_SIZE = 50
#: The filters the page reads from its query string.
FILTERS = ("entity", "record_id", "user_id", "action", "since", "until")


def audited_tables() -> list[str]:
    """The tables whose changes are logged (the choices of the page's table filter)."""
    return sorted({m.class_.__tablename__ for m in Base.registry.mappers if is_audited(m.class_)})


def _day_bound(text: str, timezone: str, *, end: bool) -> str | None:
    """A day (``YYYY-MM-DD``) in ``timezone`` → the ISO instant of its start (or of its last microsecond)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min, tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment.isoformat()


def audit_args(query: Mapping[str, str], timezone: str) -> tuple[dict[str, Any], dict[str, str], dict[str, list[str]]]:
    """The listing's arguments from the page's query string, the filters as typed, and problems by filter.

    ``since`` and ``until`` are days: from the start of ``since`` to the end
    of ``until`` in the tenant's timezone.
    """
    typed = {name: query.get(name, "").strip() for name in FILTERS}
    raw: dict[str, Any] = {name: value for name, value in typed.items() if value and name not in ("since", "until")}
    errors: dict[str, list[str]] = {}
    for name in ("since", "until"):
        if typed[name]:
            bound = _day_bound(typed[name], timezone, end=name == "until")
            if bound is None:
                errors[name] = ["a date, e.g. 2026-04-01"]
            else:
                raw[name] = bound
    cursor = query.get("cursor", "")
    if cursor:
        raw["cursor"] = cursor
    raw["limit"] = PAGE_SIZE
    try:
        args = cast("dict[str, Any]", AUDIT.schema().load(raw))
    except ma.ValidationError as exc:
        messages = cast("dict[str, Any]", exc.messages)
        for key, value in messages.items():
            errors.setdefault(key, []).extend(str(m) for m in (value if isinstance(value, list) else [value]))
        args = {}
    return args, typed, errors


def add_audit_pages(bp: Blueprint) -> None:
    """Add the audit log page to the shell's blueprint."""

    @bp.route("/core/audit")
    @requires("core.audit.read")
    def audit() -> Response:
        """The audit log, newest first: who changed what and when, each changed field's old and new value."""
        tenant = current_tenant()
        args, typed, errors = audit_args(request.args, tenant.timezone)
        session = db_session()
        entries: list[dict[str, Any]] = []
        next_cursor = None
        if not errors:
            rows, meta = audit_page(args)
            entries = describe_entries(session, rows)
            next_cursor = meta["pagination"]["next_cursor"]
        members = session.execute(
            select(User.id, User.name, User.email).join(Membership, Membership.user_id == User.id).order_by(User.name)
        ).all()
        zone = zoneinfo.ZoneInfo(tenant.timezone)
        filters = {k: v for k, v in typed.items() if v}
        html = render_template(
            "udyog/audit.html",
            entries=entries,
            typed=typed,
            errors=errors,
            tables=audited_tables(),
            actions=ACTIONS,
            members=[(str(m.id), f"{m.name} ({m.email})") for m in members],
            filters=filters,
            next_query={**filters, "cursor": next_cursor} if next_cursor else None,
            paged=bool(request.args.get("cursor")),
            local=lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            breadcrumbs=[("Administration", None), ("Audit log", None)],
        )
        return make_response(html, 422 if errors else 200)


__all__ = ["add_audit_pages", "audit_args", "audited_tables"]
