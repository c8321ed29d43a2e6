"""The core's tables: tenants, users, memberships, branches, plugin enablement, outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, TenantMixin, UTCDateTime, new_id, utcnow

DEFAULT_TIMEZONE = "Asia/Kolkata"


class Tenant(Base):
    """A company. Not tenant-scoped itself: it is the scope."""

    __tablename__ = "core_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped whenever the tenant's set of enabled plugins changes; processes
    #: cache the set per (tenant, revision), so a change needs no restart.
    plugins_rev: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchemaState(Base):
    """Facts about the schema the kernel keeps for itself (e.g. the migration fingerprint)."""

    __tablename__ = "core_schema_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A person who can log in; belongs to tenants through memberships."""

    __tablename__ = "core_user"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(TenantMixin, Base):
    """A user's membership of a tenant."""

    __tablename__ = "core_membership"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Branch(TenantMixin, Base):
    """A site of a tenant: address and state (plugins attach registrations to it)."""

    __tablename__ = "core_branch"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    state_code: Mapped[str | None] = mapped_column(String(2), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TenantPlugin(TenantMixin, Base):
    """A plugin enabled for a tenant (a row per enabled plugin)."""

    __tablename__ = "core_tenant_plugin"
    __table_args__ = (UniqueConstraint("tenant_id", "plugin"),)

    plugin: Mapped[str] = mapped_column(String(40))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(TenantMixin, Base):
    """A domain event, written in the transaction that caused it."""

    __tablename__ = "core_outbox"
    # Only pending rows are indexed, so the cross-tenant scan for them stays
    # small; the index leads with tenant_id like every other.
    __table_args__ = (
        Index(
            "ix_core_outbox_pending",
            "tenant_id",
            "created_at",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Set while a process is delivering the event (a claim that expires).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Listener names still to deliver to; NULL means all matching listeners.
    pending_listeners: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
