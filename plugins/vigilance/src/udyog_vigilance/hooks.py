"""Hook implementations of the ``vigilance`` plugin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from udyog_sdk import (
    Listener,
    NotificationTemplate,
    Permission,
    RoleTemplate,
    Schedule,
    TaskDefinition,
    TenantContext,
    hookimpl,
    hooks,
)
from udyog_sdk.ui import DashboardWidget, MenuEntry

from .rules import ruleset

#: The background listener's name (stable: failures and retries are recorded under it).
LISTENER = "vigilance.evaluate"
#: The task evaluating scheduled rules.
SCHEDULE_TASK = "vigilance.evaluate_schedule"


@dataclass(frozen=True)
class RulesListener(Listener):
    """One batched background listener for the union of the rules' event patterns.

    Batched (see docs/events.md): the events of each second are evaluated by
    one job, so thousands of events a minute cost a job a second, not a job each.
    """

    patterns: tuple[str, ...] = field(default=())

    def matches(self, event_name: str) -> bool:
        """Whether some rule listens to events called ``event_name``."""
        return any(fnmatchcase(event_name, p) for p in self.patterns)


def schedule_name(cron: str) -> str:
    """The schedule of the rules with crontab ``cron`` (stable across restarts)."""
    return f"vigilance.cron_{hashlib.sha1(cron.encode()).hexdigest()[:12]}"


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    """A background listener on every event some loaded plugin's rule names (none when no rule listens)."""
    from .engine import on_event

    patterns = ruleset(hooks()).patterns
    if not patterns:
        return []
    return [RulesListener(" ".join(patterns), on_event, name=LISTENER, background=True, batch=True, patterns=patterns)]


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """``vigilance.evaluate_schedule``: evaluate the tenant's rules of one cron expression."""
    from .engine import evaluate_schedule

    return [TaskDefinition(SCHEDULE_TASK, evaluate_schedule, title="Evaluate scheduled vigilance rules", max_retries=3)]


@hookimpl
def udyog_schedules() -> list[Schedule]:
    """One schedule per distinct cron expression of the loaded plugins' rules (run for every tenant)."""
    return [
        Schedule(schedule_name(cron), SCHEDULE_TASK, cron=cron, kwargs={"cron": cron})
        for cron in ruleset(hooks()).crons
    ]


@hookimpl
def udyog_permissions() -> list[Permission]:
    """Reading alerts, acting on them, and configuring rules."""
    return [
        Permission("vigilance.alert.read", "See alerts"),
        Permission("vigilance.alert.manage", "Acknowledge, assign and resolve alerts"),
        Permission("vigilance.rule.manage", "Enable rules and change their thresholds, severity and recipients"),
    ]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Vigilance Manager: every alert and rule setting (the Owner holds everything already)."""
    return [RoleTemplate("Vigilance Manager", ("vigilance.*",), description="Handles alerts and configures rules")]


@hookimpl
def udyog_notification_templates() -> list[NotificationTemplate]:
    """``vigilance.alert.raised``: in-app, e-mail (English and Hindi) and SMS."""
    from .notify import templates

    return templates()


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the API (``/api/v1/vigilance``) and the pages (``/vigilance``)."""
    from .api import create_api
    from .pages import create_pages

    return [create_api(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Alerts, as a declared resource (lists, filters, export)."""
    from .api import ALERTS

    return [ALERTS]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """Vigilance: the alerts (with the live count of open ones as a badge) and the rules."""
    from .services import open_count

    group = "vigilance.root"
    return [
        MenuEntry(group, "Vigilance", "", None, weight=85, icon="bell"),
        MenuEntry(
            "vigilance.alerts",
            "Alerts",
            "/vigilance/alerts",
            "vigilance.alert.read",
            weight=10,
            parent=group,
            badge=open_count,
        ),
        MenuEntry("vigilance.rules", "Rules", "/vigilance/rules", "vigilance.alert.read", weight=20, parent=group),
    ]


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """The widget "Open alerts": live alerts by severity, each linked to the filtered list."""
    from .pages import open_alerts_widget

    return [
        DashboardWidget(
            "vigilance.open_alerts",
            "Open alerts",
            open_alerts_widget,
            permission="vigilance.alert.read",
            url="/vigilance/alerts",
            icon="bell",
            weight=5,
        )
    ]


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """Evaluate the scheduled rules once against the demo data (after the demo's commit)."""
    from .demo import load_demo

    load_demo(progress)
