"""Tables of the vigilance plugin: alerts, per-tenant rule settings and the record of failed evaluations.

Every table is tenant-scoped (``tenant_id`` leads every key and index). The
partial unique index ``ux_vigilance_alert_live`` keeps one open or
acknowledged alert per (tenant, rule, subject), on PostgreSQL and SQLite
alike: it is what makes raising the same condition from two workers at once
end with one alert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, TenantMixin, UTCDateTime, VersionedMixin

#: Alert states: open → acknowledged → resolved (open → resolved too).
STATES = ("open", "acknowledged", "resolved")
#: States in which an alert is live (at most one per rule and subject).
LIVE_STATES = ("open", "acknowledged")
_LIVE = text("state <> 'resolved'")


class Alert(VersionedMixin, TenantMixin, Base):
    """A condition a rule found: one live alert per (rule, subject), repeats counted on it."""

    __tablename__ = "vigilance_alert"
    __table_args__ = (
        Index(
            "ux_vigilance_alert_live",
            "tenant_id",
            "rule_key",
            "subject",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        Index("ix_vigilance_alert_state", "tenant_id", "state", "severity"),
        Index("ix_vigilance_alert_last_seen", "tenant_id", "last_seen", "id"),
        Index("ix_vigilance_alert_rule", "tenant_id", "rule_key", "state"),
        Index("ix_vigilance_alert_assignee", "tenant_id", "assignee_id", "state"),
    )

    rule_key: Mapped[str] = mapped_column(String(120))
    #: The de-duplication key within the rule (``distributor:<id>``).
    subject: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(16), default="open")
    #: A path of the record in the web UI (``/sales/orders/<id>``).
    link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    #: The event that raised it last (None for a scheduled evaluation).
    event_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    #: A member of the tenant (a user id of the core).
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Who resolved it (None: cleared by its rule).
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    resolution_note: Mapped[str] = mapped_column(Text, default="")


class RuleSetting(VersionedMixin, TenantMixin, Base):
    """A tenant's configuration of one rule; a column left NULL (or no row at all) keeps the rule's default."""

    __tablename__ = "vigilance_rule_setting"
    __table_args__ = (UniqueConstraint("tenant_id", "rule_key"),)

    rule_key: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    severity: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: Overridden thresholds: name → number as a string (exact decimals).
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: Role names told of a new alert (None: the rule's default roles).
    roles: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class RuleFailure(TenantMixin, Base):
    """An evaluation of a rule that raised: kept so that the settings page and the API show it."""

    __tablename__ = "vigilance_rule_failure"
    __udyog_audit__ = False  # a log of its own; nothing to audit
    __table_args__ = (Index("ix_vigilance_rule_failure_rule", "tenant_id", "rule_key", "occurred_at"),)

    rule_key: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    event_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
