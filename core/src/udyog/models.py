"""The core's tables: tenants, users, memberships, branches, plugin enablement, outbox."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from udyog_sdk.models import Base, TenantMixin, UTCDateTime, VersionedMixin, new_id, tenant_fk, utcnow

DEFAULT_TIMEZONE = "Asia/Kolkata"


class Tenant(Base):
    """A company. Not tenant-scoped itself: it is the scope."""

    __tablename__ = "core_tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    #: Plugin settings, keyed by plugin: ``{"ledger": {"version": 2, "values": {...}}}``; only
    #: values a tenant set are stored (see :mod:`udyog.plugin_settings`).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped whenever the tenant's set of enabled plugins changes; processes
    #: cache the set per (tenant, revision), so a change needs no restart.
    plugins_rev: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped whenever roles or role assignments change; permission caches
    #: are keyed on it, so an edit takes effect at once in every process.
    security_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Bumped whenever a custom-field definition changes; composed schemas are
    #: cached per revision, so a change takes effect at once in every process.
    fields_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Bumped whenever ``settings`` changes; resolved settings are cached per
    #: (tenant, revision), so a change takes effect at once in every process.
    settings_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    #: argon2id hash; None for a user who cannot log in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Mobile number for SMS and WhatsApp notifications (E.164, e.g. +919876543210).
    phone: Mapped[str | None] = mapped_column(String(20), default=None)


class Membership(TenantMixin, Base):
    """A user's membership of a tenant."""

    __tablename__ = "core_membership"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"), tenant_fk("branch_id", "core_branch"))

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The user's own branch in this tenant (for "own branch only" record rules).
    branch_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class AuthSession(Base):
    """A login: the tokens it issued carry its id; revoking it revokes them at once.

    Not tenant-scoped (it is checked before a request is bound to a tenant);
    ``acting_tenant_id`` is the tenant the tokens act for.
    """

    __tablename__ = "core_auth_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    acting_tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_tenant.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """Failed logins counted per key (an e-mail or an address) in a window."""

    __tablename__ = "core_login_failure"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Role(VersionedMixin, TenantMixin, Base):
    """A tenant's role: permissions (``*`` wildcards allowed) and record rules."""

    __tablename__ = "core_role"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    record_rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Seeded from plugins' role templates (still editable).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class UserRole(TenantMixin, Base):
    """A role held by a user in a tenant."""

    __tablename__ = "core_user_role"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "role_id"),
        tenant_fk("role_id", "core_role", ondelete="CASCADE"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    role_id: Mapped[uuid.UUID]


class NumberSeries(VersionedMixin, TenantMixin, Base):
    """A tenant's pattern for a registered series key (``sales.invoice``)."""

    __tablename__ = "core_series"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(80))
    pattern: Mapped[str] = mapped_column(String(120))
    #: never, yearly, financial_year or monthly (in the tenant's timezone).
    reset: Mapped[str] = mapped_column(String(16), default="never")
    gap_free: Mapped[bool] = mapped_column(Boolean, default=False)
    max_length: Mapped[int | None] = mapped_column(Integer, default=None)
    allowed_chars: Mapped[str | None] = mapped_column(String(200), default=None)


class SeriesCounter(TenantMixin, Base):
    """The last number taken of a series in one period (and branch)."""

    # Counter state, bumped for every number taken; the documents carrying
    # the numbers are audited.
    __udyog_audit__ = False

    __tablename__ = "core_series_counter"
    __table_args__ = (
        UniqueConstraint("tenant_id", "series_id", "period", "branch"),
        tenant_fk("series_id", "core_series", ondelete="CASCADE"),
    )

    series_id: Mapped[uuid.UUID]
    period: Mapped[str] = mapped_column(String(16), default="")
    branch: Mapped[str] = mapped_column(String(16), default="")
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(TenantMixin, Base):
    """One insert, update or delete of tenant data; never edited (see :mod:`udyog.audit`)."""

    __tablename__ = "core_audit"
    __table_args__ = (
        # A record's history, and the whole log, newest first (keyset on at, id).
        Index("ix_core_audit_record", "tenant_id", "entity", "record_id", "at", "id"),
        Index("ix_core_audit_at", "tenant_id", "at", "id"),
    )
    __udyog_audit__ = False

    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Branch(VersionedMixin, TenantMixin, Base):
    """A site of a tenant: address and state (plugins attach registrations to it)."""

    __tablename__ = "core_branch"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    # Files may be attached to a branch (registrations, licences) by those who may see branches.
    __udyog_attachments__ = True
    __udyog_read_permission__ = "core.branch.read"

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

    __udyog_audit__ = False  # delivery bookkeeping; the change that emitted the event is audited

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


class ListenerInbox(TenantMixin, Base):
    """An event waiting for a batched background listener (``Listener(..., batch=True)``).

    The dispatcher writes one row per event and listener; a ``core.deliver_batch``
    run hands the listener every waiting event and deletes the rows it delivered.
    """

    __tablename__ = "core_listener_inbox"
    __table_args__ = (
        UniqueConstraint("tenant_id", "listener", "event_id"),
        Index("ix_core_listener_inbox_waiting", "tenant_id", "listener", "created_at"),
        tenant_fk("event_id", "core_outbox", ondelete="CASCADE"),
    )
    __udyog_audit__ = False  # delivery bookkeeping, like the outbox

    listener: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class Notification(TenantMixin, Base):
    """A notification of one event to one member (see :mod:`udyog.notifications`).

    Rows with ``in_app`` are the member's inbox; the others only anchor the
    deliveries of channels outside the application.
    """

    __tablename__ = "core_notification"
    __table_args__ = (
        # A member's inbox, newest first (keyset on created_at, id), and their unread count.
        Index("ix_core_notification_inbox", "tenant_id", "user_id", "created_at", "id"),
        Index("ix_core_notification_unread", "tenant_id", "user_id", "read_at"),
    )
    # A record of messages sent, not business data: marking one read is no change worth an audit row.
    __udyog_audit__ = False

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class NotificationDelivery(TenantMixin, Base):
    """One notification sent on one channel outside the application (e-mail, SMS, WhatsApp)."""

    __tablename__ = "core_notification_delivery"
    __table_args__ = (
        UniqueConstraint("tenant_id", "notification_id", "channel"),
        tenant_fk("notification_id", "core_notification", ondelete="CASCADE"),
    )
    __udyog_audit__ = False  # delivery bookkeeping

    notification_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    #: An e-mail address or a phone number.
    address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    #: pending, sent or failed (failed: given up, see last_error).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    #: Set while a process is sending (a claim that expires).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class NotificationTemplateOverride(VersionedMixin, TenantMixin, Base):
    """A tenant's own text (or switch-off) of a notification template."""

    __tablename__ = "core_notification_template"
    __table_args__ = (UniqueConstraint("tenant_id", "event", "channel", "language"),)

    event: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Attachment(TenantMixin, Base):
    """A file attached to a record of any attachable table (see :mod:`udyog.attachments`).

    The record is named by its table (``entity``) and id; the file's bytes live
    in the attachment storage under ``storage_key``, never at a path taken
    from user input.
    """

    __tablename__ = "core_attachment"
    __table_args__ = (
        # A record's attachments, newest first (keyset on uploaded_at, id).
        Index("ix_core_attachment_record", "tenant_id", "entity", "record_id", "uploaded_at", "id"),
        # One row per stored file: deleting the row may delete the file.
        UniqueConstraint("tenant_id", "storage_key"),
    )

    entity: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobRun(TenantMixin, Base):
    """One queued run of a background task for a tenant (see :mod:`udyog.jobs`).

    The run is the task's idempotency record: the work a task does and the
    move to ``succeeded`` commit together, and a succeeded run never runs again.
    """

    __tablename__ = "core_job_run"
    __table_args__ = (
        # Newest first per tenant (keyset on created_at, id), and by state.
        Index("ix_core_job_run_created", "tenant_id", "created_at", "id"),
        Index("ix_core_job_run_state", "tenant_id", "state", "created_at"),
        # Idempotent queuing: one run per key and tenant (NULL keys never clash).
        UniqueConstraint("tenant_id", "key"),
    )
    __udyog_audit__ = False  # bookkeeping of the jobs system; what tasks change is audited

    task: Mapped[str] = mapped_column(String(120))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(200), default=None)
    #: queued → running → succeeded | failed; retrying between attempts; cancelled.
    state: Mapped[str] = mapped_column(String(16), default="queued")
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the run is due (a delay, or a retry's backoff).
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When the run's message was last handed to the broker (NULL: sending failed).
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float | None] = mapped_column(default=None)
    message: Mapped[str] = mapped_column(String(300), default="")
    #: What the task's last progress checkpoint saved, to resume from.
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    #: What the task returned (plain JSON), or the result of a refusal (``JobFailed.result``).
    result: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)


class CustomField(VersionedMixin, TenantMixin, Base):
    """A tenant's custom field on a resource, defined by an implementer (see :mod:`udyog.custom_fields`)."""

    __tablename__ = "core_custom_field"
    __table_args__ = (UniqueConstraint("tenant_id", "resource", "name"),)

    #: The resource's key (its permission prefix, ``ledger.voucher``).
    resource: Mapped[str] = mapped_column(String(80))
    #: The input and output key: ``x_`` and lower-case letters, digits, underscores.
    name: Mapped[str] = mapped_column(String(40))
    #: text, number, decimal, date, choice, boolean or link.
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(120))
    help: Mapped[str] = mapped_column(String(500), default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The default on create, as the API reads it (text, a decimal or date as a string, a number, a boolean).
    default: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), default=None)
    #: The choices of a ``choice`` field.
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The resource a ``link`` field points at.
    target: Mapped[str | None] = mapped_column(String(80), default=None)
    #: Decimal places of a ``decimal`` field; the longest text of a ``text`` field.
    places: Mapped[int | None] = mapped_column(Integer, default=None)
    max_length: Mapped[int | None] = mapped_column(Integer, default=None)
    show_in_list: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Order among the resource's custom fields (then by name).
    position: Mapped[int] = mapped_column(Integer, default=0)


class CustomValue(TenantMixin, Base):
    """The value of one custom field for one record: a typed column per kind of value (EAV).

    Typed columns keep values comparable and indexable on SQLite and
    PostgreSQL alike: text and choices in ``value_text``, numbers in
    ``value_int``, decimals in ``value_decimal`` as an exact integer of
    millionths (``Decimal("12.5")`` is ``12500000``), dates, booleans, and
    links (the record's id) in their own columns.
    """

    __tablename__ = "core_custom_value"
    __table_args__ = (
        UniqueConstraint("tenant_id", "field_id", "record_id"),
        tenant_fk("field_id", "core_custom_field"),
        # A record's values (output, deletion with the record), and the filters by type.
        Index("ix_core_custom_value_record", "tenant_id", "record_id"),
        Index("ix_core_custom_value_text", "tenant_id", "field_id", "value_text"),
        Index("ix_core_custom_value_int", "tenant_id", "field_id", "value_int"),
        Index("ix_core_custom_value_decimal", "tenant_id", "field_id", "value_decimal"),
        Index("ix_core_custom_value_date", "tenant_id", "field_id", "value_date"),
        Index("ix_core_custom_value_ref", "tenant_id", "value_ref"),
    )

    field_id: Mapped[uuid.UUID]
    #: The record (of the field's resource) the value belongs to.
    record_id: Mapped[uuid.UUID]
    value_text: Mapped[str | None] = mapped_column(String(500), default=None)
    value_int: Mapped[int | None] = mapped_column(BigInteger, default=None)
    value_decimal: Mapped[int | None] = mapped_column(BigInteger, default=None)
    value_date: Mapped[date | None] = mapped_column(Date, default=None)
    value_bool: Mapped[bool | None] = mapped_column(Boolean, default=None)
    value_ref: Mapped[uuid.UUID | None] = mapped_column(default=None)
