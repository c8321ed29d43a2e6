"""Contributions to the web UI shell: menu entries and dashboard widgets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MenuEntry:
    """An entry of the shell's menu, shown only to users holding ``permission``.

    ``url`` is a path (``/notes/``); ``weight`` orders entries (lower first,
    then by label); ``parent`` names another entry's key to nest under it.
    """

    key: str
    label: str
    url: str
    permission: str | None
    weight: int = 100
    parent: str | None = None
    icon: str | None = None


# -- the dashboard -----------------------------------------------------------------

#: Widths a dashboard widget may ask for (see :class:`DashboardWidget`).
WIDGET_SIZES = ("small", "medium", "large", "full")


@dataclass(frozen=True)
class Counter:
    """Widget data: one number (or short text) with a caption, e.g. "12 open orders"."""

    value: Any
    caption: str = ""
    #: A path of this site the number links to (``/sales/orders?state=open``).
    url: str | None = None


@dataclass(frozen=True)
class ListItem:
    """One line of an :class:`ItemList`: text, an optional link and a detail on the right."""

    text: str
    url: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ItemList:
    """Widget data: a short list of items (recent documents, things to do)."""

    items: Sequence[ListItem]
    #: Shown when ``items`` is empty.
    empty: str = "Nothing here yet."


@dataclass(frozen=True)
class Table:
    """Widget data: a small table (a few rows; no paging)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    empty: str = "Nothing here yet."


@dataclass(frozen=True)
class DashboardWidget:
    """A card on the landing page, shown only to users holding ``permission``.

    ``render()`` is called each time the page is shown, in the request's
    tenant scope (``db_session()``, ``plugin_settings()`` work), and returns
    the card's data: a :class:`Counter`, :class:`ItemList` or :class:`Table`,
    drawn by the SDK's templates; or, with ``template`` (a template of the
    plugin's blueprint), any value, passed to it as ``data`` beside ``widget``.
    Keep it cheap: a query or two. If it raises, the card says the widget is
    unavailable and the error is logged; the page still renders.

    ``key`` starts with the plugin's name (``sales.open_orders``); ``weight``
    orders the cards (lower first, then by title); ``size`` is one of
    :data:`WIDGET_SIZES` — on a phone every card takes the full width, on a
    tablet small cards go two abreast, on a desktop four; ``url`` is a path of
    this site linked from the card's header ("open"); ``icon`` a Bootstrap
    Icons name.
    """

    key: str
    title: str
    render: Callable[[], Any]
    permission: str | None = None
    template: str | None = None
    weight: int = 100
    size: str = "small"
    url: str | None = None
    icon: str | None = None
