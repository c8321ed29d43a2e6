"""The landing page's dashboard: widgets of the enabled plugins, filtered by permission.

Plugins contribute :class:`udyog_sdk.ui.DashboardWidget` objects through
``udyog_dashboard``; the core's own cards come through the same hook. Each
plugin's implementation is called on its own and each widget is rendered on
its own: a failure costs only that plugin's widgets (a raising hook) or that
card (a raising ``render`` or template), which then says "unavailable". The
page always renders. See ``docs/dashboard.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select

from udyog.registry import CORE_NAME
from udyog.web.shell import is_local_path
from udyog_sdk import Principal
from udyog_sdk.runtime import current_scope
from udyog_sdk.ui import WIDGET_SIZES, BarChart, Counter, DashboardWidget, ItemList, LineChart, Table

log = logging.getLogger("udyog.web")

#: Bootstrap grid classes per widget size: full width on a phone, more abreast on wider screens.
SIZE_CLASSES = {
    "small": "col-12 col-sm-6 col-xl-3",
    "medium": "col-12 col-md-6",
    "large": "col-12 col-lg-8",
    "full": "col-12",
}

#: The SDK's template for each kind of widget data.
DATA_TEMPLATES = {
    Counter: "udyog_sdk/widget_counter.html",
    ItemList: "udyog_sdk/widget_list.html",
    Table: "udyog_sdk/widget_table.html",
    BarChart: "udyog_sdk/widget_chart.html",
    LineChart: "udyog_sdk/widget_chart.html",
}


@dataclass
class Card:
    """A widget as the page shows it: its declaration, its plugin, and its rendered body (or None)."""

    widget: DashboardWidget
    plugin: str
    body: Markup | None = None

    @property
    def available(self) -> bool:
        """Whether the widget rendered."""
        return self.body is not None

    @property
    def classes(self) -> str:
        """The grid column classes of the card's size."""
        return SIZE_CLASSES[self.widget.size]


def collect_widgets(relay: Any) -> list[tuple[str, DashboardWidget]]:
    """Call ``udyog_dashboard`` on every plugin of ``relay``, one at a time.

    A plugin whose implementation raises loses its widgets (logged); so does
    a widget that is not a :class:`DashboardWidget`, whose key lacks the
    plugin's prefix, whose size is unknown, whose ``render`` is not callable,
    or whose ``url`` is no path of this site.
    """
    out: list[tuple[str, DashboardWidget]] = []
    for impl in relay.udyog_dashboard.get_hookimpls():
        plugin = impl.plugin_name
        try:
            widgets = impl.function()
        except Exception:
            log.exception("plugin %s: udyog_dashboard failed", plugin)
            continue
        for widget in widgets or ():
            problem = _problem(plugin, widget)
            if problem:
                log.warning("plugin %s: dashboard widget refused: %s", plugin, problem)
            else:
                out.append((plugin, widget))
    return out


def _problem(plugin: str, widget: Any) -> str | None:
    if not isinstance(widget, DashboardWidget):
        return f"{widget!r} is not a DashboardWidget"
    if not widget.key.startswith(f"{plugin}."):
        return f"key {widget.key!r} does not start with {plugin}."
    if widget.size not in WIDGET_SIZES:
        return f"{widget.key}: size {widget.size!r} is not one of {', '.join(WIDGET_SIZES)}"
    if not callable(widget.render):
        return f"{widget.key}: render is not callable"
    if widget.url and not is_local_path(widget.url):
        return f"{widget.key}: url {widget.url!r} is not a path of this site"
    return None


def visible_widgets(entries: Iterable[tuple[str, DashboardWidget]], principal: Principal) -> list[Card]:
    """The cards ``principal`` may see, by weight then title; a key seen twice keeps its first."""
    visible = [(p, w) for p, w in entries if w.permission is None or principal.can(w.permission)]
    visible.sort(key=lambda pw: (pw[1].weight, pw[1].title.casefold(), pw[1].key))
    cards: dict[str, Card] = {}
    for plugin, widget in visible:
        if widget.key in cards:
            log.warning(
                "dashboard widget %r is contributed twice (%s and %s)", widget.key, cards[widget.key].plugin, plugin
            )
            continue
        cards[widget.key] = Card(widget, plugin)
    return list(cards.values())


def render_card(card: Card) -> Card:
    """Render ``card``'s body; a widget that raises (or returns what no template draws) is unavailable."""
    from flask import render_template

    widget = card.widget
    try:
        data = widget.render()
        if widget.template:
            template = widget.template
        else:
            template = DATA_TEMPLATES.get(type(data))  # type: ignore[assignment]
            if template is None:
                raise TypeError(
                    f"render() returned {type(data).__name__}; "
                    "use Counter, ItemList, Table, BarChart or LineChart, or a template"
                )
            _check_links(data)
        card.body = Markup(render_template(template, widget=widget, data=data))
    except Exception:
        log.exception("dashboard widget %s of plugin %s failed", widget.key, card.plugin)
        card.body = None
    return card


def _check_links(data: Any) -> None:
    urls = (
        [data.url] if isinstance(data, Counter) else [i.url for i in data.items] if isinstance(data, ItemList) else []
    )
    for url in urls:
        if url and not is_local_path(url):
            raise ValueError(f"link {url!r} is not a path of this site")


def dashboard() -> list[Card]:
    """The rendered cards of the current request's user (empty outside a login)."""
    scope = current_scope()
    if scope.user is None:
        return []
    return [render_card(card) for card in visible_widgets(collect_widgets(scope.hooks), scope.user)]


# -- the core's own widgets ------------------------------------------------------------------


def _unread() -> Counter:
    from udyog.notifications import unread_count

    scope = current_scope()
    assert scope.user is not None
    count = unread_count(scope.session, scope.user.user_id)
    return Counter(count, "unread" if count != 1 else "unread notification", url="/core/notifications")


def _failed_jobs() -> Counter:
    from udyog.models import JobRun

    session = current_scope().session
    count = session.scalar(select(func.count()).select_from(JobRun).where(JobRun.state == "failed")) or 0
    return Counter(count, "failed" if count != 1 else "failed job", url="/core/jobs?state=failed")


def core_widgets() -> list[DashboardWidget]:
    """The core's cards: unread notifications (everyone), failed background jobs (``core.jobs.read``)."""
    return [
        DashboardWidget(f"{CORE_NAME}.notifications", "Notifications", _unread, weight=0, icon="bell"),
        DashboardWidget(
            f"{CORE_NAME}.failed_jobs",
            "Background jobs",
            _failed_jobs,
            permission="core.jobs.read",
            weight=900,
            icon="hourglass-split",
        ),
    ]
