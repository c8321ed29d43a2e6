"""Notifications: what plugins declare, how they notify, and the gateway interface.

A plugin declares, per event, the messages it sends — one
:class:`NotificationTemplate` per channel and language — through the
``udyog_notification_templates`` hook; tenants may override them. Inside a
tenant scope it calls :func:`notify` with the event's payload: the core
renders the templates in the tenant's language, records an in-app
notification per recipient in the caller's transaction, and delivers e-mail,
SMS and WhatsApp messages after the commit. A gateway for SMS or WhatsApp
implements :class:`MessageGateway`. See ``docs/notifications.md``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from udyog_sdk.runtime import current_scope

#: Every channel a template may name; ``in_app`` is the inbox in the web UI.
CHANNELS = ("in_app", "email", "sms", "whatsapp")
#: Channels delivered after commit, outside the application (one delivery row each).
EXTERNAL_CHANNELS = ("email", "sms", "whatsapp")
#: A language tag: ``en``, ``hi``, ``mr``, ``en-IN``.
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
#: The language used when a tenant names none, and the last fallback.
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class NotificationTemplate:
    """One message a plugin sends when ``event`` happens, on one channel, in one language.

    Attributes:
        event: the notification's event name, ``<plugin>.<thing>.<happened>``
            (it need not be a domain event of the outbox).
        channel: ``in_app``, ``email``, ``sms`` or ``whatsapp``.
        subject: Jinja2 text: the in-app title or the e-mail subject (one
            line); ignored for SMS and WhatsApp.
        body: Jinja2 text: the message.
        language: the language tag the text is written in (default ``en``).
        permission: who is notified when :func:`notify` names no recipients:
            members holding this permission. Templates of one event must agree.

    Templates are rendered in a sandbox with the payload's keys as variables
    (and ``payload``, ``tenant`` and ``recipient``), so a tenant's override
    cannot reach anything else.
    """

    event: str
    channel: str
    subject: str
    body: str
    language: str = DEFAULT_LANGUAGE
    permission: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"template {self.event}: channel must be one of {', '.join(CHANNELS)}")
        if not LANGUAGE_RE.match(self.language):
            raise ValueError(f"template {self.event}: language {self.language!r} is no language tag such as 'en'")


@runtime_checkable
class MessageGateway(Protocol):
    """Sends a text message to a phone number (an SMS or WhatsApp provider).

    ``send`` raises on failure; the core records the error and retries the
    delivery later. Select an implementation with ``UDYOG_SMS_GATEWAY`` or
    ``UDYOG_WHATSAPP_GATEWAY`` (``module:factory``, called without arguments).
    """

    def send(self, to: str, text: str) -> None:
        """Send ``text`` to the phone number ``to``."""
        ...


@dataclass(frozen=True)
class NotifyResult:
    """What :func:`notify` recorded in the caller's transaction."""

    #: Ids of the notifications (one per recipient).
    notifications: tuple[uuid.UUID, ...]
    #: Ids of the deliveries queued for after the commit (one per recipient and external channel).
    deliveries: tuple[uuid.UUID, ...]
    #: The language the templates were rendered in.
    language: str


def notify(
    event: str,
    payload: Mapping[str, Any],
    *,
    users: Iterable[uuid.UUID] | None = None,
    permission: str | None = None,
    link: str = "",
    roles: Iterable[str] | None = None,
) -> NotifyResult:
    """Notify people that ``event`` happened, in the current tenant's language.

    Recipients are the active members among ``users`` plus the members
    holding ``permission`` plus the members holding a role named in
    ``roles`` (role names, since SDK 1.3; names the tenant has no role of are
    ignored); when all three are None, the members holding the permission
    the event's templates name. Each gets one in-app notification
    (when the event has an active ``in_app`` template) and one delivery per
    external channel with an active template. Everything is written in the
    caller's transaction: a rollback sends nothing. E-mails and text messages
    go out after the commit. ``link`` is a path of this site the in-app
    notification opens (``/sales/orders/…``). ``payload`` must be plain JSON
    data (``TypeError`` otherwise). Raises ``ValueError`` for an event no
    enabled plugin declares templates for, a link that is not a path of this
    site, or an undeclared permission. Returns the ids recorded.
    """
    if roles is None:
        return current_scope().notify(event, payload, users=users, permission=permission, link=link)
    names = [roles] if isinstance(roles, str) else list(roles)
    return current_scope().notify(event, payload, users=users, permission=permission, link=link, roles=names)


__all__ = [
    "CHANNELS",
    "DEFAULT_LANGUAGE",
    "EXTERNAL_CHANNELS",
    "LANGUAGE_RE",
    "MessageGateway",
    "NotificationTemplate",
    "NotifyResult",
    "notify",
]
