"""Evaluating rules: the background listener's handler, the scheduled task, and the rules' context.

Everything here runs in a worker, in the tenant's scope (a job of the core:
``core.deliver_event`` for events, ``vigilance.evaluate_schedule`` for cron
rules), never in a user's request. One job evaluates every enabled rule an
event triggers; each rule runs inside a savepoint, so a rule that raises is
rolled back alone, recorded in ``vigilance_rule_failure`` and the other rules
still run.

Raising an alert is race-safe: an ``UPDATE`` of the live alert of (rule,
subject) first (the common case of a repeat), else an ``INSERT … ON CONFLICT
DO NOTHING`` against the partial unique index of live alerts, else (another
worker inserted it meanwhile) the ``UPDATE`` again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from udyog_sdk import Event, JobContext, current_tenant, db_session, hooks
from udyog_sdk.models import new_id

from .models import Alert, RuleFailure, RuleSetting
from .rules import SEVERITIES, RuleSet, RuleSpec, ruleset

log = logging.getLogger(__name__)

#: The note of an alert resolved because its rule found the condition gone.
CLEARED_NOTE = "condition cleared"
#: An evaluation slower than this (seconds) is logged as a warning.
SLOW_RULE = 2.0
#: Lengths of the alert's columns (longer text is cut).
MAX_SUBJECT, MAX_TITLE, MAX_LINK = 200, 300, 500


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as one tenant configured it: its settings over the rule's defaults."""

    spec: RuleSpec
    enabled: bool
    severity: str
    thresholds: Mapping[str, int | Decimal]
    roles: tuple[str, ...]
    configured: bool


def threshold_value(default: int | Decimal, stored: Any) -> int | Decimal:
    """A stored threshold (a string or number) as the type of its default; the default if unreadable."""
    try:
        value = Decimal(str(stored))
    except (InvalidOperation, ValueError):
        return default
    if not value.is_finite():
        return default
    if isinstance(default, int) and value == value.to_integral_value():
        return int(value)
    return value


def effective(spec: RuleSpec, setting: RuleSetting | SettingView | None) -> EffectiveRule:
    """``spec`` with a tenant's ``setting`` (None: the defaults) applied."""
    if setting is None:
        return EffectiveRule(spec, spec.enabled, spec.severity, dict(spec.thresholds), spec.roles, False)
    thresholds = dict(spec.thresholds)
    for name, stored in (setting.thresholds or {}).items():
        if name in thresholds:  # a threshold the rule dropped since is ignored
            thresholds[name] = threshold_value(thresholds[name], stored)
    return EffectiveRule(
        spec,
        spec.enabled if setting.enabled is None else bool(setting.enabled),
        setting.severity if setting.severity in SEVERITIES else spec.severity,
        thresholds,
        spec.roles if setting.roles is None else tuple(setting.roles),
        True,
    )


@dataclass(frozen=True)
class SettingView:
    """A snapshot of a :class:`RuleSetting` row, kept across sessions by the evaluation's cache."""

    enabled: bool | None
    severity: str | None
    thresholds: Mapping[str, Any] | None
    roles: tuple[str, ...] | None


#: Seconds a worker reuses a tenant's rule settings before reading them again.
SETTINGS_TTL = 2.0
_settings_cache: dict[tuple[str, uuid.UUID], tuple[float, dict[str, SettingView]]] = {}
_settings_lock = threading.Lock()


def _cache_key() -> tuple[str, uuid.UUID]:
    return (str(db_session().get_bind().url), current_tenant().id)


def cached_settings() -> dict[str, SettingView]:
    """Every rule setting of the tenant, read at most once per :data:`SETTINGS_TTL` seconds per process.

    Evaluations run for every event; their settings rarely change. A change
    made through this process (the API, the page) is seen at once
    (:func:`forget_settings`); other processes see it within ``SETTINGS_TTL``.
    """
    key = _cache_key()
    now = time.monotonic()
    found = _settings_cache.get(key)
    if found is not None and now - found[0] < SETTINGS_TTL:
        return found[1]
    rows = db_session().scalars(select(RuleSetting))
    views = {
        r.rule_key: SettingView(
            r.enabled, r.severity, dict(r.thresholds or {}), None if r.roles is None else tuple(r.roles)
        )
        for r in rows
    }
    with _settings_lock:
        if len(_settings_cache) > 10_000:
            _settings_cache.clear()
        _settings_cache[key] = (now, views)
    return views


def forget_settings() -> None:
    """Drop this process's cached settings of the current tenant (after they changed)."""
    with _settings_lock:
        _settings_cache.pop(_cache_key(), None)


@sa_event.listens_for(RuleSetting, "after_insert")
@sa_event.listens_for(RuleSetting, "after_update")
@sa_event.listens_for(RuleSetting, "after_delete")
def _setting_changed(mapper: Any, connection: Any, target: RuleSetting) -> None:
    """Any write of a setting (the API, a page, a test, a script) drops the tenant's cached settings."""
    with _settings_lock:
        _settings_cache.pop((str(connection.engine.url), target.tenant_id), None)


def settings_of(keys: Iterable[str]) -> dict[str, RuleSetting]:
    """The tenant's settings rows of the rules ``keys`` (one query)."""
    wanted = list(keys)
    if not wanted:
        return {}
    rows = db_session().scalars(select(RuleSetting).where(RuleSetting.rule_key.in_(wanted)))
    return {row.rule_key: row for row in rows}


def tenant_rules() -> RuleSet:
    """The rules of the plugins the current tenant enabled."""
    return ruleset(hooks())


def utcnow() -> datetime:
    """Now, timezone-aware (UTC)."""
    return datetime.now(UTC)


class RuleContext:
    """What ``evaluate(ctx)`` gets: the event, the thresholds, the time, and the alert operations."""

    def __init__(self, config: EffectiveRule, event: Event | None, now: datetime) -> None:
        self._config = config
        #: The event that triggered the evaluation, or None for a scheduled one.
        self.event = event
        #: The tenant's thresholds over the rule's defaults (int or Decimal values).
        self.thresholds: dict[str, int | Decimal] = dict(config.thresholds)
        #: When the evaluation started (timezone-aware).
        self.now = now
        #: Ids of the alerts this evaluation created (not repeats): they are notified.
        self.created: list[uuid.UUID] = []
        #: Alerts raised again, and subjects cleared, by this evaluation.
        self.repeated: list[uuid.UUID] = []
        self.cleared: list[str] = []

    @property
    def rule_key(self) -> str:
        """The key of the rule evaluated."""
        return self._config.spec.key

    @property
    def severity(self) -> str:
        """The severity the tenant configured for the rule."""
        return self._config.severity

    def raise_alert(
        self,
        subject: str,
        title: str,
        *,
        detail: str = "",
        link: str | None = None,
        severity: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        """Raise the alert of ``subject``: a new one, or the live one of (rule, subject) seen again.

        A repeat updates ``last_seen``, ``occurrences``, title, detail, link
        and data; it keeps the state (an acknowledged alert stays
        acknowledged) and the assignee. Returns the alert's id.
        """
        subject = str(subject)[:MAX_SUBJECT]
        if not subject:
            raise ValueError("raise_alert: subject must not be empty")
        if severity is not None and severity not in SEVERITIES:
            raise ValueError(f"raise_alert: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        if link is not None and not (link.startswith("/") and not link.startswith("//")):
            raise ValueError(f"raise_alert: link {link!r} must be a path of this site ('/...')")
        alert_id, created = raise_alert(
            self.rule_key,
            subject,
            title=str(title)[:MAX_TITLE],
            detail=str(detail),
            link=link[:MAX_LINK] if link else None,
            severity=severity or self.severity,
            data=dict(data) if data is not None else None,
            event_id=self.event.id if self.event is not None else None,
            now=self.now,
        )
        (self.created if created else self.repeated).append(alert_id)
        return alert_id

    def live_subjects(self) -> set[str]:
        """The subjects of this rule's open or acknowledged alerts (one query).

        For a scheduled full scan: raise for what is wrong now, and clear the
        live subjects it did not find, instead of clearing every healthy row.
        """
        found = db_session().scalars(
            select(Alert.subject).where(Alert.rule_key == self.rule_key, Alert.state != "resolved")
        )
        return set(found)

    def clear(self, subject: str) -> bool:
        """The condition of ``subject`` no longer holds: resolve its live alert. Whether there was one."""
        done = clear_alert(self.rule_key, str(subject)[:MAX_SUBJECT], now=self.now)
        if done:
            self.cleared.append(str(subject))
        return done


def _repeat(rule_key: str, subject: str, values: Mapping[str, Any]) -> uuid.UUID | None:
    """Update the live alert of (rule, subject) as seen again; its id, or None when there is none."""
    statement = (
        update(Alert)
        .where(Alert.rule_key == rule_key, Alert.subject == subject, Alert.state != "resolved")
        .values(occurrences=Alert.occurrences + 1, version=Alert.version + 1, **values)
        .returning(Alert.id)
        # A repeat is bookkeeping (the creation is audited): no audit read-before/after and entry per event.
        .execution_options(synchronize_session=False, udyog_audit=False)
    )
    return db_session().execute(statement).scalar()


def raise_alert(
    rule_key: str,
    subject: str,
    *,
    title: str,
    detail: str,
    link: str | None,
    severity: str,
    data: dict[str, Any] | None,
    event_id: uuid.UUID | None,
    now: datetime,
) -> tuple[uuid.UUID, bool]:
    """Create or update the live alert of (rule, subject) race-free; (its id, whether it was created)."""
    session = db_session()
    seen = {"last_seen": now, "title": title, "detail": detail, "link": link, "data": data, "event_id": event_id}
    found = _repeat(rule_key, subject, seen)
    if found is not None:
        return found, False
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {
        "tenant_id": current_tenant().id,
        "id": new_id(),
        "version": 1,
        "rule_key": rule_key,
        "subject": subject,
        "severity": severity,
        "state": "open",
        "first_seen": now,
        "occurrences": 1,
        "resolution_note": "",
        **seen,
    }
    statement = (
        insert(Alert)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "rule_key", "subject"], index_where=Alert.state != "resolved"
        )
        .returning(Alert.id)
    )
    # An ORM bulk insert (a list of rows): the tenant session checks the row's tenant.
    made = session.execute(statement, [row]).scalar()
    if made is not None:
        return made, True
    # Another worker created it between our update and our insert: it is a repeat after all.
    found = _repeat(rule_key, subject, seen)
    if found is None:  # pragma: no cover - it was resolved in that instant too
        raise RuntimeError(f"alert {rule_key}/{subject} changed concurrently; try again")
    return found, False


def clear_alert(rule_key: str, subject: str, *, now: datetime, note: str = CLEARED_NOTE) -> bool:
    """Resolve the live alert of (rule, subject), if any, as cleared by its rule."""
    statement = (
        update(Alert)
        .where(Alert.rule_key == rule_key, Alert.subject == subject, Alert.state != "resolved")
        .values(state="resolved", resolved_at=now, resolved_by=None, resolution_note=note, version=Alert.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(db_session().execute(statement).rowcount)


def run_rule(config: EffectiveRule, event: Event | None, now: datetime) -> RuleContext | None:
    """Evaluate one rule inside a savepoint; a failure is rolled back alone and recorded. Its context, or None."""
    session = db_session()
    ctx = RuleContext(config, event, now)
    started = time.perf_counter()
    try:
        with session.begin_nested():
            config.spec.evaluate(ctx)
            if ctx.created:
                from .notify import notify_created

                notify_created(config, ctx.created)
    except Exception as exc:
        log.exception("vigilance: rule %s failed", config.spec.key)
        session.add(
            RuleFailure(
                rule_key=config.spec.key,
                event_id=event.id if event is not None else None,
                event_name=event.name if event is not None else None,
                error=f"{type(exc).__name__}: {exc}"[:4000],
                occurred_at=utcnow(),
            )
        )
        return None
    finally:
        took = time.perf_counter() - started
        if took > SLOW_RULE:
            log.warning("vigilance: rule %s took %.1f s", config.spec.key, took)
    return ctx


def evaluate(rules: Iterable[RuleSpec], event: Event | None) -> dict[str, RuleContext | None]:
    """Evaluate the tenant's enabled rules among ``rules`` for ``event`` (None: scheduled). Key → context."""
    rules = list(rules)
    if not rules:
        return {}
    settings = cached_settings()
    now = utcnow()
    out: dict[str, RuleContext | None] = {}
    for spec in rules:
        config = effective(spec, settings.get(spec.key))
        if config.enabled:
            out[spec.key] = run_rule(config, event, now)
    return out


def on_event(event: Event) -> None:
    """The background listener: evaluate every enabled rule of the tenant that ``event`` triggers."""
    evaluate(tenant_rules().for_event(event.name), event)


def evaluate_schedule(ctx: JobContext, cron: str) -> dict[str, int]:
    """The scheduled task: evaluate the tenant's enabled rules whose schedule is ``cron``.

    Returns how many rules ran and how many failed (the run's result).
    """
    done = evaluate(tenant_rules().for_cron(cron), None)
    return {"rules": len(done), "failed": sum(1 for c in done.values() if c is None)}


def evaluate_rule_now(key: str) -> RuleContext | None:
    """Evaluate one rule of the tenant at once as a scheduled run would (enabled or not): its context."""
    spec = tenant_rules().rules.get(key)
    if spec is None:
        raise LookupError(key)
    config = effective(spec, settings_of([key]).get(key))
    return run_rule(config, None, utcnow())
