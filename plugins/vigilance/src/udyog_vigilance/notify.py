"""Telling people about new alerts through the core's notifications (not about de-duplicated repeats)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from udyog_sdk import NotificationTemplate, db_session, notify

from .models import Alert

if TYPE_CHECKING:
    from .engine import EffectiveRule

#: The notification event of a new alert.
ALERT_RAISED = "vigilance.alert.raised"
#: Who is told when a caller names nobody (the templates' permission).
READER = "vigilance.alert.read"


def alert_path(alert_id: uuid.UUID | str) -> str:
    """The alert's page in the web UI."""
    return f"/vigilance/alerts/{alert_id}"


def notify_created(config: EffectiveRule, alert_ids: Iterable[uuid.UUID]) -> None:
    """Notify the members of the rule's configured roles of each new alert (nobody when it names no role)."""
    if not config.roles:
        return
    ids = list(alert_ids)
    alerts = db_session().scalars(select(Alert).where(Alert.id.in_(ids)))
    for alert in alerts:
        payload = {
            "alert_id": str(alert.id),
            "rule": config.spec.key,
            "rule_title": str(config.spec.title),
            "title": alert.title,
            "detail": alert.detail,
            "severity": alert.severity,
            "subject": alert.subject,
            "record_link": alert.link or "",
        }
        notify(ALERT_RAISED, payload, roles=list(config.roles), link=alert_path(alert.id))


def templates() -> list[NotificationTemplate]:
    """In-app, e-mail and SMS texts of a new alert, in English and Hindi."""
    subject_en = "[{{ severity }}] {{ title }}"
    subject_hi = "[{{ severity }}] चेतावनी: {{ title }}"
    body_en = "{{ rule_title }}: {{ title }}{% if detail %}\n{{ detail }}{% endif %}"
    body_hi = "{{ rule_title }}: {{ title }}{% if detail %}\n{{ detail }}{% endif %}"
    mail_en = (
        "Dear {{ recipient.name }},\n\nvigilance raised an alert in {{ tenant.name }}:\n\n"
        "{{ title }} ({{ severity }})\n{{ detail }}\n\nRule: {{ rule_title }}"
    )
    mail_hi = (
        "प्रिय {{ recipient.name }},\n\n{{ tenant.name }} में एक चेतावनी उठी है:\n\n"
        "{{ title }} ({{ severity }})\n{{ detail }}\n\nनियम: {{ rule_title }}"
    )
    sms = "{{ tenant.name }}: {{ title }} ({{ severity }})"
    out = []
    for language, subject, body, mail in (("en", subject_en, body_en, mail_en), ("hi", subject_hi, body_hi, mail_hi)):
        out += [
            NotificationTemplate(ALERT_RAISED, "in_app", subject, body, language=language, permission=READER),
            NotificationTemplate(ALERT_RAISED, "email", subject, mail, language=language, permission=READER),
        ]
    out.append(NotificationTemplate(ALERT_RAISED, "sms", "", sms, permission=READER))
    return out
