"""Hooks the vigilance plugin publishes."""

from __future__ import annotations

from collections.abc import Callable

from udyog_sdk import hookspec

from .rules import RuleSpec


@hookspec
def vigilance_rules(rule: Callable[..., RuleSpec]) -> list[RuleSpec]:
    """Rules this plugin contributes. Build each with the ``rule`` factory passed in (never import vigilance).

    ``rule(key=..., title=..., evaluate=..., description="", events=(), cron=None,
    severity="warning", thresholds=None, roles=(), enabled=True)`` returns a
    :class:`~udyog_vigilance.rules.RuleSpec` (and raises ``ValueError`` naming
    the argument for a bad one). ``key`` is ``<plugin>.<snake_name>`` and must
    start with the contributing plugin's name; ``events`` are event names or
    globs that trigger an evaluation; ``cron`` a crontab expression evaluated
    for every tenant that enabled the plugin (in ``UDYOG_TIMEZONE``).
    ``evaluate(ctx)`` runs in a background job with the tenant's scope active
    and calls ``ctx.raise_alert(subject, title, ...)`` or ``ctx.clear(subject)``.

    Implement it with ``@hookimpl(optionalhook=True)`` and declare
    ``optional=("vigilance",)`` in the manifest, so that the plugin works
    without vigilance installed. See docs/vigilance.md.

    Returns: the plugin's rules. Broadcast.

    Since: vigilance 0.1.
    """
