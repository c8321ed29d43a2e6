"""Notifications: templates per event, channel and language; the inbox; deliveries by e-mail, SMS and WhatsApp.

- Plugins declare :class:`~udyog_sdk.NotificationTemplate` objects through
  ``udyog_notification_templates`` (collected once per kernel, checked:
  prefix, duplicates, Jinja2 syntax, one permission per event). Tenants
  override them (``core_notification_template``).
- :func:`notify` (``udyog_sdk.notify``) runs in the caller's transaction: it
  resolves the recipients, renders each channel's template in the tenant's
  language in a Jinja2 sandbox, writes one :class:`Notification` per
  recipient and one :class:`NotificationDelivery` per external channel, and
  emits ``core.notification.queued`` naming the deliveries. A rollback leaves
  nothing behind and sends nothing.
- The core's listener ``core.notifications.deliver`` hands each delivery to
  :func:`deliver`, which claims it, sends it once and records the outcome.
  A delivery already sent is never sent again.
"""

from __future__ import annotations

import importlib
import json
import logging
import smtplib
import ssl
import threading
import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from udyog.bulk import insert_rows
from udyog.models import (
    Membership,
    Notification,
    NotificationDelivery,
    NotificationTemplateOverride,
    Role,
    User,
    UserRole,
)
from udyog.outbox import EVENT_NAME_RE
from udyog.reads import read_records
from udyog.registry import CORE_NAME
from udyog_sdk import Event, Listener, NotificationTemplate, TenantContext, TransientError, UdyogError
from udyog_sdk.models import new_id, utcnow
from udyog_sdk.notifications import (
    CHANNELS,
    DEFAULT_LANGUAGE,
    EXTERNAL_CHANNELS,
    LANGUAGE_RE,
    MessageGateway,
    NotifyResult,
)
from udyog_sdk.runtime import current_scope

if TYPE_CHECKING:
    from udyog.config import Settings
    from udyog.kernel import Kernel, TenantScope

log = logging.getLogger("udyog.notifications")

#: The domain event that carries new deliveries to the listener below.
QUEUED_EVENT = "core.notification.queued"
#: The name of the core's listener that sends them.
LISTENER_NAME = "core.notifications.deliver"
#: A claim on a delivery lasts this long; a process that dies mid-send loses it after.
CLAIM_LEASE = timedelta(minutes=5)
#: After this many failed attempts a delivery is marked failed and left alone.
MAX_ATTEMPTS = 9  # the first try and the eight retries of core.deliver_event (about 35 minutes)
SUBJECT_MAX_LENGTH = 300
BODY_MAX_LENGTH = 20000
LINK_MAX_LENGTH = 500

DeliveryStatus = Literal["sent", "pending", "failed", "busy", "missing"]


# -- templates: declarations ---------------------------------------------------------------

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1024)
def _compile(text: str) -> Any:
    return _ENV.from_string(text)


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a valid Jinja2 template, or None."""
    try:
        _compile(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"invalid template{f' (line {line})' if line else ''}: {exc}"
    return None


@dataclass
class TemplateCatalog:
    """Every plugin's declared templates, checked once per kernel."""

    #: (event, channel, language) -> (plugin, template)
    templates: dict[tuple[str, str, str], tuple[str, NotificationTemplate]] = field(default_factory=dict)
    #: event -> (plugin, permission of its recipients or None)
    events: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: plugin -> why its declarations were refused
    problems: dict[str, list[str]] = field(default_factory=dict)

    def event_plugin(self, event: str) -> str | None:
        """The plugin that declares ``event``, or None."""
        found = self.events.get(event)
        return found[0] if found else None


def build_catalog(contributions: Iterable[tuple[str, Any]]) -> TemplateCatalog:
    """Check and index ``(plugin, templates)`` pairs; a plugin with any problem keeps none of its templates."""
    catalog = TemplateCatalog()
    owners: dict[tuple[str, str, str], str] = {}
    for plugin, declared in sorted(contributions, key=lambda pc: pc[0]):
        problems: list[str] = []
        mine: dict[tuple[str, str, str], NotificationTemplate] = {}
        permissions: dict[str, str | None] = {}
        for template in declared or ():
            if not isinstance(template, NotificationTemplate):
                problems.append(f"returned {type(template).__name__}, not NotificationTemplate")
                continue
            if not EVENT_NAME_RE.match(template.event) or template.event.split(".", 1)[0] != plugin:
                problems.append(f"event {template.event!r} must be dotted lower-case words starting with {plugin}.")
                continue
            key = (template.event, template.channel, template.language)
            if key in mine or key in owners:
                other = owners.get(key, plugin)
                problems.append(f"template {'/'.join(key)} declared by both {other} and {plugin}")
                continue
            for part, text in (("subject", template.subject), ("body", template.body)):
                problem = template_problem(text)
                if problem:
                    problems.append(f"template {'/'.join(key)}: {part}: {problem}")
            if template.event in permissions and permissions[template.event] != template.permission:
                problems.append(f"templates of {template.event} name different permissions")
            permissions[template.event] = template.permission
            mine[key] = template
        if problems:
            catalog.problems[plugin] = problems
            log.error("plugin %s: notification templates refused: %s", plugin, "; ".join(problems))
            continue
        for key, template in mine.items():
            owners[key] = plugin
            catalog.templates[key] = (plugin, template)
        for event, permission in permissions.items():
            catalog.events[event] = (plugin, permission)
    return catalog


_CATALOGS: weakref.WeakKeyDictionary[Any, tuple[frozenset[str], TemplateCatalog]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def template_catalog(kernel: Kernel) -> TemplateCatalog:
    """The kernel's templates: ``udyog_notification_templates`` collected once per set of loaded plugins."""
    loaded = kernel.bus.loaded
    cached = _CATALOGS.get(kernel)
    if cached is not None and cached[0] == loaded:
        return cached[1]
    contributions: list[tuple[str, Any]] = []
    failures: dict[str, list[str]] = {}
    for impl in kernel.pm.hook.udyog_notification_templates.get_hookimpls():
        if impl.plugin_name != CORE_NAME and impl.plugin_name not in loaded:
            continue
        try:
            contributions.append((impl.plugin_name, impl.function()))
        except Exception as exc:  # a plugin's bug is recorded against it
            failures[impl.plugin_name] = [f"udyog_notification_templates failed: {type(exc).__name__}: {exc}"]
            log.exception("plugin %s: udyog_notification_templates failed", impl.plugin_name)
    catalog = build_catalog(contributions)
    for plugin, items in failures.items():
        catalog.problems.setdefault(plugin, []).extend(items)
    with _LOCK:
        _CATALOGS[kernel] = (loaded, catalog)
    return catalog


def _enabled_here(plugin: str, tenant: TenantContext) -> bool:
    return plugin == CORE_NAME or tenant.is_enabled(plugin)


# -- templates: the tenant's view ----------------------------------------------------------


def tenant_language(tenant: TenantContext) -> str:
    """The tenant's language: the core setting ``language`` (``hi_IN`` reads as ``hi-IN``), else en."""
    core_settings = tenant.settings.get(CORE_NAME) or {}
    for key in ("language",):
        value = core_settings.get(key)
        if isinstance(value, str):
            tag = value.strip().replace("_", "-")
            if "-" in tag:
                base, region = tag.split("-", 1)
                tag = f"{base.lower()}-{region}"
            else:
                tag = tag.lower()
            if LANGUAGE_RE.match(tag):
                return tag
    return DEFAULT_LANGUAGE


def _fallbacks(language: str) -> list[str]:
    return list(dict.fromkeys([language, language.split("-", 1)[0], DEFAULT_LANGUAGE]))


@dataclass(frozen=True)
class Resolved:
    """The template a tenant uses for one event and channel."""

    subject: str
    body: str
    language: str
    #: The plugin's template in that language, if any (the fallback when an override fails to render).
    default: NotificationTemplate | None


def resolve(
    catalog: TemplateCatalog,
    overrides: Mapping[tuple[str, str], NotificationTemplateOverride],
    event: str,
    channel: str,
    language: str,
) -> Resolved | None:
    """The first of the tenant's override or the plugin's template in ``language``, its base language, then en.

    ``overrides`` maps (channel, language) to the tenant's rows for ``event``.
    A switched-off override in the first language that has any template
    switches the channel off (None).
    """
    for lang in _fallbacks(language):
        found = catalog.templates.get((event, channel, lang))
        default = found[1] if found else None
        override = overrides.get((channel, lang))
        if override is not None:
            if not override.enabled:
                return None
            return Resolved(override.subject, override.body, lang, default)
        if default is not None:
            return Resolved(default.subject, default.body, lang, None)
    return None


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render Jinja2 ``text`` in the sandbox with ``context``."""
    return str(_compile(text).render(context))


def _render_pair(resolved: Resolved, context: Mapping[str, Any], event: str, channel: str) -> tuple[str, str]:
    try:
        return render(resolved.subject, context), render(resolved.body, context)
    except Exception:
        if resolved.default is None:
            raise
        # A tenant's broken override must not fail the business transaction: use the plugin's text.
        log.warning("the tenant's %s template of %s failed to render; using the default", channel, event, exc_info=True)
        return render(resolved.default.subject, context), render(resolved.default.body, context)


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


# -- recipients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """An active member to notify."""

    user_id: uuid.UUID
    email: str
    name: str
    phone: str | None


def recipients(
    scope: TenantScope,
    *,
    users: Iterable[uuid.UUID] | None = None,
    permission: str | None = None,
    roles: Iterable[str] | None = None,
) -> list[Recipient]:
    """Active members of the scope's tenant among ``users``, holding ``permission`` (wildcards apply)
    or holding one of the roles named ``roles`` (names the tenant has no role of are ignored).

    The roles granting ``permission`` come from the kernel's security cache (read once per security
    revision of the tenant: :meth:`udyog.rbac.Security.roles_granting`).
    """
    session = scope.session
    wanted = sorted({uuid.UUID(str(u)) for u in users or ()})
    role_names = sorted({str(r) for r in roles or ()})
    role_ids: list[Any] = []
    if permission is not None:
        role_ids = scope.kernel.security.roles_granting(session, scope.tenant, permission)
    if not (wanted or role_names or role_ids):
        return []
    query = _recipients_query(bool(wanted), bool(role_names), bool(role_ids))
    rows = session.execute(query, {"users": wanted, "role_names": role_names, "role_ids": role_ids}).all()
    return [Recipient(r[0], r[1], r[2], r[3]) for r in rows]


@lru_cache(maxsize=8)
def _recipients_query(users: bool, roles: bool, role_ids: bool) -> Any:
    """The active members among the given users, or holding a role named, or holding one of the role ids."""
    conditions = []
    if users:
        conditions.append(User.id.in_(bindparam("users", expanding=True)))
    if roles:
        named = select(Role.id).where(Role.name.in_(bindparam("role_names", expanding=True)))
        conditions.append(User.id.in_(select(UserRole.user_id).where(UserRole.role_id.in_(named))))
    if role_ids:
        held = select(UserRole.user_id).where(UserRole.role_id.in_(bindparam("role_ids", expanding=True)))
        conditions.append(User.id.in_(held))
    return (
        select(User.id, User.email, User.name, User.phone)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.is_active.is_(True), User.is_active.is_(True), or_(*conditions))
        .order_by(User.email)
    )


# -- notify ------------------------------------------------------------------------------


def _check_link(link: str) -> str:
    if not link:
        return ""
    if (
        len(link) > LINK_MAX_LENGTH
        or not link.startswith("/")
        or link.startswith("//")
        or "\\" in link
        or any(ord(c) < 32 for c in link)
    ):
        raise ValueError(f"notification link must be a path of this site (/...), not {link!r}")
    return link


#: Built once: the tenant's overrides of an event's templates.
_OVERRIDES = select(NotificationTemplateOverride).where(NotificationTemplateOverride.event == bindparam("event"))


def notify(
    scope: TenantScope,
    event: str,
    payload: Mapping[str, Any],
    *,
    users: Iterable[uuid.UUID] | None = None,
    permission: str | None = None,
    link: str = "",
    roles: Iterable[str] | None = None,
) -> NotifyResult:
    """Record notifications of ``event`` in the scope's transaction (see :func:`udyog_sdk.notify`)."""
    catalog = template_catalog(scope.kernel)
    tenant = scope.tenant
    plugin = catalog.event_plugin(event)
    if plugin is None or not _enabled_here(plugin, tenant):
        owner = event.split(".", 1)[0] if isinstance(event, str) else ""
        why = "; ".join(catalog.problems.get(owner, [])) or "no enabled plugin declares templates for it"
        raise ValueError(f"cannot notify {event!r}: {why}")
    try:
        data = json.loads(json.dumps(dict(payload)))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"notification {event}: payload is not plain JSON data ({exc})") from exc
    link = _check_link(link)
    roles = None if roles is None else [roles] if isinstance(roles, str) else list(roles)
    if users is None and permission is None and roles is None:
        permission = catalog.events[event][1]
    if permission is not None and permission not in scope.kernel.security.permissions:
        raise ValueError(f"notification {event}: permission {permission!r} is not declared")
    language = tenant_language(tenant)
    session = scope.session
    overrides = {(o.channel, o.language): o for o in read_records(session, _OVERRIDES, {"event": event})}
    templates = {ch: resolve(catalog, overrides, event, ch, language) for ch in CHANNELS}
    active = {ch: r for ch, r in templates.items() if r is not None}
    people = recipients(scope, users=users, permission=permission, roles=roles) if active else []
    notifications: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    used_language = active["in_app"].language if "in_app" in active else language
    for person in people:
        context = {
            **data,
            "payload": data,
            "event": event,
            "tenant": {"name": tenant.name, "slug": tenant.slug},
            "recipient": {"name": person.name, "email": person.email},
        }
        rendered = {ch: _render_pair(r, context, event, ch) for ch, r in active.items()}
        title, body = rendered.get("in_app") or next(iter(rendered.values()))
        notification_id = new_id()
        notifications.append(
            {
                "id": notification_id,
                "user_id": person.user_id,
                "event": event,
                "title": _one_line(title, SUBJECT_MAX_LENGTH) or event,
                "body": body[:BODY_MAX_LENGTH],
                "link": link,
                "in_app": "in_app" in active,
            }
        )
        for channel in EXTERNAL_CHANNELS:
            if channel not in rendered:
                continue
            subject, text = rendered[channel]
            address = person.email if channel == "email" else person.phone
            missing = f"no {'e-mail address' if channel == 'email' else 'phone number'} on file"
            deliveries.append(
                {
                    "id": new_id(),
                    "notification_id": notification_id,
                    "channel": channel,
                    "address": (address or "")[:254],
                    "language": active[channel].language,
                    "subject": _one_line(subject, SUBJECT_MAX_LENGTH),
                    "body": text[:BODY_MAX_LENGTH],
                    "status": "pending" if address else "failed",
                    "last_error": None if address else missing,
                }
            )
    # Bookkeeping rows nobody reads back here, not audited: one plain insert per table (udyog.bulk).
    insert_rows(session, Notification, notifications)
    insert_rows(session, NotificationDelivery, deliveries)
    notification_ids = [n["id"] for n in notifications]
    delivery_ids = [d["id"] for d in deliveries if d["status"] == "pending"]
    if delivery_ids:
        scope.emit(QUEUED_EVENT, {"event": event, "deliveries": [str(d) for d in delivery_ids]})
    return NotifyResult(tuple(notification_ids), tuple(delivery_ids), used_language)


# -- channels ----------------------------------------------------------------------------


class LoggingGateway:
    """The default SMS and WhatsApp gateway: writes each message to the log instead of sending it."""

    def __init__(self, channel: str = "sms") -> None:
        self.channel = channel

    def send(self, to: str, text: str) -> None:
        """Log ``text`` as sent to ``to``."""
        log.info("%s to %s: %s", self.channel, to, text)


def load_gateway(spec: str, channel: str) -> MessageGateway:
    """The gateway named by a setting: ``log`` or ``package.module:factory`` (called without arguments)."""
    if spec in ("", "log"):
        return LoggingGateway(channel)
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{channel} gateway {spec!r}: use 'log' or 'package.module:factory'")
    gateway = getattr(importlib.import_module(module_name), attr)()
    if not isinstance(gateway, MessageGateway):
        raise TypeError(f"{channel} gateway {spec!r} has no send(to, text)")
    return cast("MessageGateway", gateway)


class Channels:
    """Sends deliveries: e-mail through SMTP, SMS and WhatsApp through gateways."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gateways: dict[str, MessageGateway] = {
            "sms": load_gateway(settings.sms_gateway, "sms"),
            "whatsapp": load_gateway(settings.whatsapp_gateway, "whatsapp"),
        }

    def send(self, delivery: NotificationDelivery) -> None:
        """Send one delivery; raises on failure."""
        if delivery.channel == "email":
            self.send_email(delivery)
        else:
            self.gateways[delivery.channel].send(delivery.address, delivery.body)

    def email_message(self, delivery: NotificationDelivery) -> EmailMessage:
        """The e-mail of a delivery; its Message-ID derives from the delivery's id."""
        settings = self.settings
        domain = settings.smtp_from.rpartition("@")[2] or "localhost"
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = delivery.address
        message["Subject"] = delivery.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{delivery.id}@{domain.strip('>')}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(delivery.body)
        message["Content-Language"] = delivery.language  # after set_content, which clears Content-* headers
        return message

    def send_email(self, delivery: NotificationDelivery) -> None:
        """Send an e-mail through the SMTP server (or log it when none is configured)."""
        settings = self.settings
        message = self.email_message(delivery)
        if not settings.smtp_host:
            log.info("e-mail to %s (no UDYOG_SMTP_HOST): %s\n%s", delivery.address, delivery.subject, delivery.body)
            return
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)


_CHANNELS: weakref.WeakKeyDictionary[Any, Channels] = weakref.WeakKeyDictionary()


def channels_for(kernel: Kernel) -> Channels:
    """The kernel's channels, built from its settings on first use."""
    found = _CHANNELS.get(kernel)
    if found is None:
        with _LOCK:
            found = _CHANNELS.get(kernel)
            if found is None:
                found = _CHANNELS[kernel] = Channels(kernel.settings)
    return found


# -- delivery ----------------------------------------------------------------------------


def deliver(kernel: Kernel, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryStatus:
    """Send one delivery at most once; returns its status afterwards.

    Claims the delivery in its own short transaction (only while it is
    ``pending`` and nobody holds an unexpired claim), sends it, and records
    the outcome in another. ``sent``: sent now or before (never twice);
    ``pending``: this attempt failed and it will be retried; ``failed``: given
    up after :data:`MAX_ATTEMPTS` (or nothing to send to); ``busy``: another
    process holds the claim; ``missing``: no such delivery. Safe to call from
    any process, any number of times.
    """
    now = utcnow()
    with kernel.db.session(tenant_id) as session:
        claimed = session.execute(
            update(NotificationDelivery)
            .where(
                NotificationDelivery.id == delivery_id,
                NotificationDelivery.status == "pending",
                or_(NotificationDelivery.claimed_at.is_(None), NotificationDelivery.claimed_at < now - CLAIM_LEASE),
            )
            .values(claimed_at=now, attempts=NotificationDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        row = session.scalar(select(NotificationDelivery).where(NotificationDelivery.id == delivery_id))
        if not claimed:
            session.rollback()
            if row is None:
                return "missing"
            return "busy" if row.status == "pending" else cast("DeliveryStatus", row.status)
        assert row is not None
        session.commit()
        session.expunge(row)
    error: str | None = None
    try:
        channels_for(kernel).send(row)
    except Exception as exc:  # noqa: BLE001 - any failure of the channel is recorded and retried
        error = f"{type(exc).__name__}: {exc}"
        log.warning("delivery %s (%s to %s) failed: %s", delivery_id, row.channel, row.address, error)
    status: DeliveryStatus = "sent" if error is None else "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
    with kernel.db.session(tenant_id) as session:
        session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id)
            .values(
                status=status,
                claimed_at=None,
                last_error=error,
                sent_at=utcnow() if error is None else None,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return status


class DeliveryRetryError(TransientError):
    """Some deliveries of an event failed and stay pending (the job is retried with backoff)."""


def deliver_queued(event: Event) -> None:
    """The listener of ``core.notification.queued``: deliver each delivery it names.

    Runs in a tenant scope but works in its own short transactions (see
    :func:`deliver`). Raises :class:`DeliveryRetryError` if some stay pending,
    so the event is delivered again later; those already sent are skipped then.
    """
    kernel = cast("TenantScope", current_scope()).kernel
    retry = []
    for raw in event.payload.get("deliveries", []):
        if deliver(kernel, event.tenant_id, uuid.UUID(str(raw))) in ("pending", "busy"):
            retry.append(str(raw))
    if retry:
        raise DeliveryRetryError(f"{len(retry)} of the deliveries are still pending: {', '.join(retry)}")


def listeners() -> list[Listener]:
    """The core's notification listeners (returned from its ``udyog_event_listeners``)."""
    # Sending waits on remote servers: a worker does it, never the request that notified.
    return [Listener(QUEUED_EVENT, deliver_queued, name=LISTENER_NAME, background=True)]


# -- the inbox -------------------------------------------------------------------------------


def inbox_query(user_id: uuid.UUID) -> Any:
    """The in-app notifications of ``user_id`` (a select to paginate)."""
    return select(Notification).where(Notification.user_id == user_id, Notification.in_app.is_(True))


def unread_count(session: Session, user_id: uuid.UUID) -> int:
    """How many in-app notifications of ``user_id`` are unread."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    """Mark one of ``user_id``'s notifications read (404 for anyone else's)."""
    row = session.scalar(inbox_query(user_id).where(Notification.id == notification_id))
    if row is None:
        raise UdyogError("notification not found", status=404)
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def mark_all_read(session: Session, user_id: uuid.UUID) -> int:
    """Mark every unread notification of ``user_id`` read; returns how many."""
    return int(
        session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    )


# -- tenant overrides -----------------------------------------------------------------------


def _declared_event(scope: TenantScope, event: str) -> str:
    plugin = template_catalog(scope.kernel).event_plugin(event)
    if plugin is None or not _enabled_here(plugin, scope.tenant):
        raise UdyogError(
            "notification event not found",
            status=404,
            errors={"event": ["no plugin this tenant has enabled declares templates for this event"]},
        )
    return plugin


def _template_row(
    catalog: TemplateCatalog,
    event: str,
    channel: str,
    language: str,
    override: NotificationTemplateOverride | None,
) -> dict[str, Any]:
    plugin, permission = catalog.events[event]
    declared = catalog.templates.get((event, channel, language))
    default = declared[1] if declared else None
    return {
        "event": event,
        "channel": channel,
        "language": language,
        "plugin": plugin,
        "permission": permission,
        "subject": override.subject if override else default.subject if default else "",
        "body": override.body if override else default.body if default else "",
        "enabled": override.enabled if override else True,
        "overridden": override is not None,
        "default_subject": default.subject if default else None,
        "default_body": default.body if default else None,
        "version": override.version if override else 0,
    }


def list_templates(scope: TenantScope, event: str | None = None) -> list[dict[str, Any]]:
    """The templates in force for the tenant: every declared one, with the tenant's overrides and additions."""
    catalog = template_catalog(scope.kernel)
    query = select(NotificationTemplateOverride)
    if event is not None:
        query = query.where(NotificationTemplateOverride.event == event)
    overrides = {(o.event, o.channel, o.language): o for o in scope.session.scalars(query)}
    keys = {k for k, (plugin, _) in catalog.templates.items() if _enabled_here(plugin, scope.tenant)}
    keys |= {k for k in overrides if k[0] in catalog.events and _enabled_here(catalog.events[k[0]][0], scope.tenant)}
    if event is not None:
        keys = {k for k in keys if k[0] == event}
    return [_template_row(catalog, *key, overrides.get(key)) for key in sorted(keys)]


def _check_key(scope: TenantScope, event: str, channel: str, language: str) -> None:
    _declared_event(scope, event)
    if channel not in CHANNELS:
        raise UdyogError("unknown channel", status=404, errors={"channel": [f"one of {', '.join(CHANNELS)}"]})
    if not LANGUAGE_RE.match(language):
        raise UdyogError("unknown language", status=404, errors={"language": ["a language tag such as en or hi"]})


def _override(session: Session, event: str, channel: str, language: str) -> NotificationTemplateOverride | None:
    return session.scalar(
        select(NotificationTemplateOverride).where(
            NotificationTemplateOverride.event == event,
            NotificationTemplateOverride.channel == channel,
            NotificationTemplateOverride.language == language,
        )
    )


def set_template(
    scope: TenantScope,
    event: str,
    channel: str,
    language: str,
    *,
    version: int,
    subject: str | None = None,
    body: str | None = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    """Save the tenant's own template for (event, channel, language); ``version`` 0 creates it.

    Fields left None keep their value (the plugin's text for a new override).
    A stale version answers 409; text that is not valid Jinja2, or an empty
    subject where one is shown (in-app, e-mail), answers 422 naming the field.
    """
    _check_key(scope, event, channel, language)
    catalog = template_catalog(scope.kernel)
    session = scope.session
    row = _override(session, event, channel, language)
    current = row.version if row is not None else 0
    if version != current:
        raise UdyogError(
            "changed by someone else since you read it: reload it and apply your change again",
            status=409,
            errors={"version": [f"is {current} now, you sent {version}"]},
        )
    base = _template_row(catalog, event, channel, language, row)
    new_subject = base["subject"] if subject is None else subject
    new_body = base["body"] if body is None else body
    new_enabled = base["enabled"] if enabled is None else enabled
    errors: dict[str, list[str]] = {}
    for name, text in (("subject", new_subject), ("body", new_body)):
        problem = template_problem(text)
        if problem:
            errors[name] = [problem]
    if new_enabled and channel in ("in_app", "email") and not new_subject.strip() and "subject" not in errors:
        errors["subject"] = [f"a {channel} message needs a subject"]
    if new_enabled and not new_body.strip() and "body" not in errors and channel != "in_app":
        errors["body"] = ["must not be empty"]
    if errors:
        raise UdyogError("invalid template", status=422, errors=errors)
    if row is None:
        row = NotificationTemplateOverride(event=event, channel=channel, language=language)
        session.add(row)
    row.subject, row.body, row.enabled = new_subject, new_body, new_enabled
    session.flush()
    return _template_row(catalog, event, channel, language, row)


def reset_template(scope: TenantScope, event: str, channel: str, language: str) -> dict[str, Any]:
    """Remove the tenant's override: the plugin's template applies again (404 if there is none)."""
    _check_key(scope, event, channel, language)
    row = _override(scope.session, event, channel, language)
    if row is None:
        raise UdyogError("this template has no override of the tenant", status=404)
    scope.session.delete(row)
    scope.session.flush()
    catalog = template_catalog(scope.kernel)
    if (event, channel, language) not in catalog.templates:
        return {**_template_row(catalog, event, channel, language, None), "subject": "", "body": ""}
    return _template_row(catalog, event, channel, language, None)
