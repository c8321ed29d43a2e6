"""Alert transitions, rule settings and counts: what the API and the pages call (in the current tenant's scope)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select

from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.api import check_version
from udyog_sdk.models import Base

from .engine import EffectiveRule, effective, forget_settings, settings_of, tenant_rules, utcnow
from .models import Alert, RuleFailure, RuleSetting
from .rules import SEVERITIES, RuleSpec

#: The longest resolution note.
MAX_NOTE = 2000


def core_model(table: str) -> Any:
    """The core's mapped class of ``table``, found by table name (plugins never import the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == table)


def _user_id() -> uuid.UUID | None:
    user = current_user()
    return user.user_id if user is not None else None


def _conflict(alert: Alert, action: str) -> UdyogError:
    return UdyogError(
        f"this alert is {alert.state}: it cannot be {action}",
        status=409,
        errors={"state": [f"{alert.state} alerts cannot be {action}"]},
    )


def acknowledge(alert: Alert, version: int | None) -> Alert:
    """open → acknowledged (by the current user); 409 from any other state or for a stale version."""
    check_version(alert, version)
    if alert.state != "open":
        raise _conflict(alert, "acknowledged")
    alert.state = "acknowledged"
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = _user_id()
    db_session().flush()
    return alert


def resolve(alert: Alert, version: int | None, note: str = "") -> Alert:
    """open or acknowledged → resolved with a note (by the current user); 409 when resolved already."""
    check_version(alert, version)
    if alert.state == "resolved":
        raise _conflict(alert, "resolved")
    alert.state = "resolved"
    alert.resolved_at = utcnow()
    alert.resolved_by = _user_id()
    alert.resolution_note = (note or "").strip()[:MAX_NOTE]
    db_session().flush()
    return alert


def is_member(user_id: uuid.UUID) -> bool:
    """Whether ``user_id`` is an active member of the current tenant."""
    membership = core_model("core_membership")
    found = select(membership.id).where(membership.user_id == user_id, membership.is_active.is_(True))
    return db_session().scalar(found) is not None


def assign(alert: Alert, version: int | None, assignee_id: uuid.UUID | None) -> Alert:
    """Give the alert to a member of the tenant (None: nobody); 409 for a resolved alert, 422 for a non-member."""
    check_version(alert, version)
    if alert.state == "resolved":
        raise _conflict(alert, "assigned")
    if assignee_id is not None and not is_member(assignee_id):
        raise UdyogError(
            "no such member", status=422, errors={"assignee_id": ["no active member of this organisation has this id"]}
        )
    alert.assignee_id = assignee_id
    db_session().flush()
    return alert


def open_counts() -> dict[str, int]:
    """Live (open or acknowledged) alerts by severity, every severity present (0 when none)."""
    rows = db_session().execute(
        select(Alert.severity, func.count()).where(Alert.state != "resolved").group_by(Alert.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, count in rows:
        counts[severity] = counts.get(severity, 0) + count
    return counts


def open_count() -> int:
    """How many alerts are open (not acknowledged, not resolved): the shell's badge."""
    return db_session().scalar(select(func.count()).select_from(Alert).where(Alert.state == "open")) or 0


# -- rule settings ---------------------------------------------------------------------------------


def number_out(value: int | Decimal) -> int | str:
    """A threshold for JSON: ints as numbers, decimals as exact strings."""
    return value if isinstance(value, int) else str(value)


def describe_rule(config: EffectiveRule, failure: RuleFailure | None = None) -> dict[str, Any]:
    """A rule with its defaults and the tenant's effective configuration (the API's and the page's view)."""
    spec = config.spec
    return {
        "key": spec.key,
        "plugin": spec.plugin,
        "title": str(spec.title),
        "description": str(spec.description),
        "events": list(spec.events),
        "cron": spec.cron,
        "enabled": config.enabled,
        "severity": config.severity,
        "thresholds": {k: number_out(v) for k, v in config.thresholds.items()},
        "roles": list(config.roles),
        "configured": config.configured,
        "defaults": {
            "enabled": spec.enabled,
            "severity": spec.severity,
            "thresholds": {k: number_out(v) for k, v in spec.thresholds.items()},
            "roles": list(spec.roles),
        },
        "last_failure": None
        if failure is None
        else {"error": failure.error, "at": failure.occurred_at, "event_name": failure.event_name},
    }


def _last_failures(keys: list[str]) -> dict[str, RuleFailure]:
    if not keys:
        return {}
    latest = (
        select(RuleFailure.rule_key, func.max(RuleFailure.occurred_at).label("at"))
        .where(RuleFailure.rule_key.in_(keys))
        .group_by(RuleFailure.rule_key)
        .subquery()
    )
    rows = db_session().scalars(
        select(RuleFailure).join(
            latest, (RuleFailure.rule_key == latest.c.rule_key) & (RuleFailure.occurred_at == latest.c.at)
        )
    )
    return {r.rule_key: r for r in rows}


def list_rules() -> list[dict[str, Any]]:
    """Every rule of the tenant's enabled plugins with its effective configuration, by key."""
    rules = tenant_rules().rules
    settings = settings_of(rules)
    failures = _last_failures(list(rules))
    return [describe_rule(effective(spec, settings.get(key)), failures.get(key)) for key, spec in rules.items()]


def get_rule(key: str) -> RuleSpec:
    """The tenant's rule ``key``, or 404."""
    spec = tenant_rules().rules.get(key)
    if spec is None:
        raise UdyogError("no such rule", status=404)  # the key is not echoed: it is whatever the URL held
    return spec


def describe(key: str) -> dict[str, Any]:
    """One rule as :func:`list_rules` shows it."""
    spec = get_rule(key)
    return describe_rule(effective(spec, settings_of([key]).get(key)), _last_failures([key]).get(key))


def _threshold(spec: RuleSpec, name: str, value: Any, errors: dict[str, list[str]]) -> str | None:
    """A threshold as stored (an exact string), or None after recording why it is refused."""
    field = f"thresholds.{name}"
    if name not in spec.thresholds:
        known = ", ".join(sorted(spec.thresholds)) or "none"
        errors[field] = [f"unknown threshold {name!r} (this rule has: {known})"]
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors[field] = ["must be a number"]
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = ["must be a number"]
        return None
    if not number.is_finite() or number < 0 or number > Decimal("1e12"):
        errors[field] = ["must be a number between 0 and 10^12"]
        return None
    if isinstance(spec.thresholds[name], int) and number != number.to_integral_value():
        errors[field] = ["must be a whole number"]
        return None
    return str(number.normalize()) if number == number.to_integral_value() else str(number)


def _roles(names: list[str], errors: dict[str, list[str]]) -> list[str]:
    role = core_model("core_role")
    wanted = sorted({n.strip() for n in names})
    known = set(db_session().scalars(select(role.name).where(role.name.in_(wanted)))) if wanted else set()
    unknown = [n for n in wanted if n not in known]
    if unknown:
        errors["roles"] = [f"no role named {n!r} in this organisation" for n in unknown]
    return wanted


def configure(key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Change the tenant's settings of rule ``key`` (given fields only; null: back to the default).

    ``thresholds`` is merged name by name (a null value drops that override).
    Refusals answer 422 naming the field (``thresholds.percent``, ``severity``,
    ``roles``). Returns the rule as :func:`describe` shows it.
    """
    spec = get_rule(key)
    session = db_session()
    setting = session.scalar(select(RuleSetting).where(RuleSetting.rule_key == key))
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if "enabled" in data:
        changes["enabled"] = data["enabled"]
    if "severity" in data:
        severity = data["severity"]
        if severity is not None and severity not in SEVERITIES:
            errors["severity"] = [f"must be one of {', '.join(SEVERITIES)}"]
        changes["severity"] = severity
    if "thresholds" in data:
        merged = dict((setting.thresholds or {}) if setting is not None else {})
        given = data["thresholds"]
        if given is None:
            merged = {}
        elif not isinstance(given, Mapping):
            errors["thresholds"] = ["must be an object of threshold names and numbers"]
        else:
            for name, value in given.items():
                if value is None:
                    merged.pop(name, None)
                    if name not in spec.thresholds:
                        errors[f"thresholds.{name}"] = [f"unknown threshold {name!r}"]
                    continue
                stored = _threshold(spec, str(name), value, errors)
                if stored is not None:
                    merged[str(name)] = stored
        changes["thresholds"] = merged or None
    if "roles" in data:
        roles = data["roles"]
        changes["roles"] = None if roles is None else _roles(list(roles), errors)
    if errors:
        raise UdyogError("invalid rule settings", status=422, errors=errors)
    if setting is None:
        setting = RuleSetting(rule_key=key)
        session.add(setting)
    for name, value in changes.items():
        setattr(setting, name, value)
    session.flush()
    forget_settings()
    return describe(key)
