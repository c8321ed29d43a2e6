"""Rules: what plugins contribute (:class:`RuleSpec`, built by :func:`rule`) and the collected set of them.

A plugin never imports this module: vigilance passes :func:`rule` to the
plugin's ``vigilance_rules`` implementation. The rules of every loaded plugin
are collected once per hook relay (the kernel's full relay at start, a
tenant's relay when a job runs) and cached.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)

#: Severities of a rule and an alert, least to most urgent.
SEVERITIES = ("info", "warning", "critical")
#: ``<plugin>.<snake_name>``: dotted lower-case words.
RULE_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
#: An event name or glob: dotted words of letters, digits, ``_`` and ``*``/``?``.
EVENT_PATTERN = re.compile(r"^[a-z0-9_*?]+(\.[a-z0-9_*?]+)*$")
#: A threshold's name: a snake-case word.
THRESHOLD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: The longest rule key (the column's width).
MAX_KEY = 120


@dataclass(frozen=True)
class RuleSpec:
    """One rule contributed by a plugin (build it with :func:`rule`).

    Attributes:
        key: ``<plugin>.<snake_name>``, unique; starts with the contributing plugin's name.
        title: short text shown in lists (translated through the contributing plugin's catalogue).
        evaluate: ``evaluate(ctx)``, run in a background job (see :class:`udyog_vigilance.engine.RuleContext`).
        description: what the rule watches, for the settings page.
        events: event names or globs that trigger an evaluation (``()``: schedule only).
        cron: a crontab expression (``"0 * * * *"``) evaluated for every tenant, or None.
        severity: the default severity of its alerts.
        thresholds: tunables with their defaults (int or Decimal values).
        roles: role names told of a new alert by default.
        enabled: whether the rule is on for a tenant that has not configured it.
    """

    key: str
    title: Any
    evaluate: Callable[[Any], None]
    description: str = ""
    events: tuple[str, ...] = ()
    cron: str | None = None
    severity: str = "warning"
    thresholds: Mapping[str, int | Decimal] = field(default_factory=lambda: MappingProxyType({}))
    roles: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def plugin(self) -> str:
        """The contributing plugin's name (the key's first word)."""
        return self.key.split(".", 1)[0]

    def matches(self, event_name: str) -> bool:
        """Whether an event called ``event_name`` triggers this rule."""
        return any(fnmatchcase(event_name, pattern) for pattern in self.events)


def _number(name: str, value: Any) -> int | Decimal:
    """A threshold default: an int or a Decimal (bool, float and text are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"threshold {name!r}: default must be an int or a Decimal, not {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"threshold {name!r}: default must be a finite number")
    return value


def _cron(value: str) -> str:
    """A five-field crontab expression, checked by Celery's parser."""
    from celery.schedules import crontab

    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"cron {value!r}: five fields expected (minute hour day-of-month month day-of-week)")
    try:
        crontab(*fields[:2], day_of_month=fields[2], month_of_year=fields[3], day_of_week=fields[4])
    except Exception as exc:
        raise ValueError(f"cron {value!r}: {exc}") from exc
    return " ".join(fields)


def rule(
    *,
    key: str,
    title: Any,
    evaluate: Callable[[Any], None],
    description: str = "",
    events: Iterable[str] = (),
    cron: str | None = None,
    severity: str = "warning",
    thresholds: Mapping[str, int | Decimal] | None = None,
    roles: Iterable[str] = (),
    enabled: bool = True,
) -> RuleSpec:
    """Build a :class:`RuleSpec`, checking every argument (``ValueError`` names the bad one).

    This is the factory handed to the ``vigilance_rules`` hook as ``rule``.
    """
    if not isinstance(key, str) or not RULE_KEY.match(key) or len(key) > MAX_KEY:
        raise ValueError(f"key {key!r}: expected '<plugin>.<snake_name>' (dotted lower-case words)")
    if not str(title).strip():
        raise ValueError(f"rule {key}: title must not be empty")
    if not callable(evaluate):
        raise ValueError(f"rule {key}: evaluate must be callable")
    if isinstance(events, str):
        events = (events,)
    patterns = tuple(events)
    for pattern in patterns:
        if not isinstance(pattern, str) or not EVENT_PATTERN.match(pattern):
            raise ValueError(f"rule {key}: event {pattern!r} is not an event name or glob")
    if cron is not None:
        cron = _cron(cron)
    if not patterns and cron is None:
        raise ValueError(f"rule {key}: give events, a cron schedule, or both")
    if severity not in SEVERITIES:
        raise ValueError(f"rule {key}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    checked: dict[str, int | Decimal] = {}
    for name, value in (thresholds or {}).items():
        if not isinstance(name, str) or not THRESHOLD_NAME.match(name):
            raise ValueError(f"rule {key}: threshold name {name!r} must be a snake_case word")
        checked[name] = _number(name, value)
    if isinstance(roles, str):
        roles = (roles,)
    role_names = tuple(str(r) for r in roles)
    if any(not r.strip() for r in role_names):
        raise ValueError(f"rule {key}: role names must not be empty")
    return RuleSpec(
        key=key,
        title=title,
        evaluate=evaluate,
        description=str(description),
        events=patterns,
        cron=cron,
        severity=severity,
        thresholds=MappingProxyType(checked),
        roles=role_names,
        enabled=bool(enabled),
    )


class RuleSet:
    """The rules of a set of plugins: by key, by event name (cached) and by schedule."""

    def __init__(self, rules: Iterable[RuleSpec], problems: Mapping[str, str] | None = None) -> None:
        self.rules: dict[str, RuleSpec] = {r.key: r for r in sorted(rules, key=lambda r: r.key)}
        #: plugin → why its rules were refused.
        self.problems: dict[str, str] = dict(problems or {})
        self._by_event: dict[str, tuple[RuleSpec, ...]] = {}

    @property
    def patterns(self) -> tuple[str, ...]:
        """Every event name or glob some rule listens to, sorted."""
        return tuple(sorted({p for r in self.rules.values() for p in r.events}))

    @property
    def crons(self) -> tuple[str, ...]:
        """Every distinct cron expression of the rules, sorted."""
        return tuple(sorted({r.cron for r in self.rules.values() if r.cron}))

    def for_event(self, event_name: str) -> tuple[RuleSpec, ...]:
        """The rules an event called ``event_name`` triggers (memoised per name)."""
        found = self._by_event.get(event_name)
        if found is None:
            found = tuple(r for r in self.rules.values() if r.matches(event_name))
            if len(self._by_event) < 10_000:
                self._by_event[event_name] = found
        return found

    def for_cron(self, cron: str) -> tuple[RuleSpec, ...]:
        """The rules scheduled with ``cron``."""
        return tuple(r for r in self.rules.values() if r.cron == cron)


def collect(relay: Any) -> RuleSet:
    """Call ``vigilance_rules`` on every plugin of ``relay``; a plugin with a bad answer keeps none of its rules.

    A refused plugin (its hook raised, it returned something else than rules,
    a key outside its own name, a key declared twice) is logged and listed in
    :attr:`RuleSet.problems`; the other plugins' rules stand.
    """
    caller = getattr(relay, "vigilance_rules", None)
    rules: dict[str, RuleSpec] = {}
    problems: dict[str, str] = {}
    if caller is None:
        return RuleSet(())
    for impl in sorted(caller.get_hookimpls(), key=lambda i: i.plugin_name):
        plugin = impl.plugin_name
        try:
            answer = impl.function(**{a: rule for a in impl.argnames})
            mine: dict[str, RuleSpec] = {}
            for spec in answer or ():
                if not isinstance(spec, RuleSpec):
                    raise TypeError(f"vigilance_rules must return rules built by rule(), not {type(spec).__name__}")
                if spec.plugin != plugin:
                    raise ValueError(f"rule {spec.key!r} must start with '{plugin}.'")
                if spec.key in mine:
                    raise ValueError(f"rule {spec.key!r} is declared twice")
                mine[spec.key] = spec
        except Exception as exc:  # noqa: BLE001 - a plugin's mistake must not stop the others' rules
            log.error("vigilance: the rules of plugin %s are refused: %s", plugin, exc)
            problems[plugin] = f"{type(exc).__name__}: {exc}"
            continue
        rules.update(mine)
    return RuleSet(rules.values(), problems)


_cache: weakref.WeakKeyDictionary[Any, RuleSet] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def ruleset(relay: Any) -> RuleSet:
    """The rules of the plugins of hook relay ``relay`` (collected once per relay)."""
    found = _cache.get(relay)
    if found is None:
        with _lock:
            found = _cache.get(relay)
            if found is None:
                found = _cache[relay] = collect(relay)
    return found
