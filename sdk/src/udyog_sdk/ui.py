"""Contributions to the web UI shell: menu entries and dashboard widgets (numbers, lists, tables, charts)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from udyog_sdk.formatting import format_number


@dataclass(frozen=True)
class MenuEntry:
    """An entry of the shell's menu, shown only to users holding ``permission``.

    ``url`` is a path (``/notes/``); ``weight`` orders entries (lower first,
    then by label); ``parent`` names another entry's key to nest under it.

    ``badge`` (since 1.3) is an optional callable taking no argument and
    returning a count (or None), called in the tenant's scope of the request
    for users who see the entry: the shell shows a positive count beside the
    label (and the sum of its children's beside a group) and refreshes it
    without reloading the page (``GET /core/menu/badges``). Keep it one cheap
    query; a badge that raises is logged and not shown.
    """

    key: str
    label: str
    url: str
    permission: str | None
    weight: int = 100
    parent: str | None = None
    icon: str | None = None
    badge: Callable[[], int | None] | None = None


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


# -- charts ------------------------------------------------------------------------

#: The most labels (points along the x axis) a chart may have.
MAX_CHART_POINTS = 60
#: The most series a chart may have (each gets its own colour of the theme).
MAX_CHART_SERIES = 6

#: A value of a chart: an exact number; ``None`` is a gap (no bar, a break in the line).
ChartValue = Decimal | int | float | None

#: Bootstrap text classes the series are drawn in (``fill``/``stroke`` are ``currentColor``), in order.
SERIES_CLASSES = ("text-primary", "text-success", "text-warning", "text-info", "text-danger", "text-secondary")

# The drawing's own units (the SVG's viewBox); it scales to the card's width.
_WIDTH, _HEIGHT = 480, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 8, 10, 26
_MAX_X_LABELS = 12


@dataclass(frozen=True)
class Series:
    """One series of a chart: a name and one value per label (``None`` for a gap)."""

    name: str
    values: Sequence[ChartValue]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"a series' name must be a str, not {type(self.name).__name__}")
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Sequence):
            raise TypeError(f"series {self.name!r}: values must be a sequence of numbers")
        values = tuple(self.values)
        for value in values:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
                raise TypeError(f"series {self.name!r}: {value!r} is not a number (Decimal, int, float) or None")
            if not math.isfinite(value):
                raise ValueError(f"series {self.name!r}: {value!r} is not a finite number")
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class ChartTick:
    """A value marked on the y axis: the value, its text and its height in the drawing."""

    value: Decimal
    text: str
    y: float


@dataclass(frozen=True)
class ChartMark:
    """One drawn value: its label, series, text, and where it sits (a bar's box, or a line's point)."""

    label: str
    series: str
    value: Decimal | int | float
    text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class ChartLayout:
    """Where everything of a chart goes, in the drawing's units (computed by :meth:`BarChart.layout`)."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    zero: float
    ticks: tuple[ChartTick, ...]
    #: ``(x, text)`` of the labels written under the axis (thinned out when there are many).
    labels: tuple[tuple[float, str], ...]
    #: Per series: ``(series, css class, marks, polylines)``; polylines only for a line chart.
    series: tuple[tuple[Series, str, tuple[ChartMark, ...], tuple[str, ...]], ...]


def nice_number(x: Decimal, round_: bool) -> Decimal:
    """A "nice" number near ``x`` (> 0): 1, 2 or 5 (``round_``), or 1, 2, 5, 10 at least ``x``, times a power of ten."""
    exponent = x.adjusted()
    fraction = x.scaleb(-exponent)
    if round_:
        nice = 1 if fraction < Decimal("1.5") else 2 if fraction < 3 else 5 if fraction < 7 else 10
    else:
        nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return Decimal(nice).scaleb(exponent)


def nice_ticks(low: Decimal | int | float, high: Decimal | int | float, count: int = 5) -> list[Decimal]:
    """About ``count`` round, evenly spaced values from at most ``low`` to at least ``high`` (exact decimals).

    ``nice_ticks(0, 95)`` is ``[0, 20, 40, 60, 80, 100]``; ``nice_ticks(-30, 70)`` is
    ``[-40, -20, 0, 20, 40, 60, 80]``. Equal bounds are widened by one unit around them.
    """
    low, high = Decimal(str(low)), Decimal(str(high))
    if low > high:
        low, high = high, low
    if low == high:
        low, high = (low - 1, high + 1) if low != 0 else (Decimal(0), Decimal(1))
    step = nice_number(nice_number(high - low, False) / (count - 1), True)
    first = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    last = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    steps = int((last - first) / step)
    return [(first + step * i).normalize() + 0 for i in range(steps + 1)]


def format_chart_value(
    value: Decimal | int | float, prefix: str = "", unit: str = "", decimals: int | None = None
) -> str:
    """``value`` grouped in the tenant's locale (lakh and crore: ``₹1,23,456.50``), with ``prefix`` and ``unit``.

    ``decimals`` fixes the decimal places. By default a ``Decimal`` keeps the
    places it has (``Decimal("10.50")`` → ``10.50``, up to six), and an ``int``
    or ``float`` shows up to three, without trailing zeros.
    """
    places = decimals
    if places is None and isinstance(value, Decimal) and value.is_finite():
        places = min(max(-int(value.as_tuple().exponent), 0), 6)
    text = format_number(value, places=places)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}{prefix}{text}{unit}"


@dataclass(frozen=True)
class BarChart:
    """Widget data: a bar chart drawn as inline SVG (no script, nothing loaded from elsewhere).

    ``labels`` name the points along the x axis (months, products), at most
    :data:`MAX_CHART_POINTS`; each of ``series`` (at most :data:`MAX_CHART_SERIES`)
    has one value per label, ``None`` for a gap. Several series stand side by
    side. The y axis always includes zero; **negative values are drawn below the
    zero line** (a loss, a return). ``prefix`` and ``unit`` decorate values
    (``prefix="₹"``, ``unit=" kg"``); ``decimals`` fixes their decimal places
    (by default, as given). ``empty`` is shown when there are no labels or
    every value is ``None``. A visually hidden table repeats the data for
    screen readers. Raises ``TypeError``/``ValueError`` when built wrongly.
    """

    labels: Sequence[str]
    series: Sequence[Series]
    prefix: str = ""
    unit: str = ""
    decimals: int | None = None
    empty: str = "Nothing here yet."

    #: ``"bar"`` or ``"line"``: how the SDK's template draws the values.
    kind = "bar"

    def __post_init__(self) -> None:
        if isinstance(self.labels, (str, bytes)) or not isinstance(self.labels, Sequence):
            raise TypeError("labels must be a sequence of str")
        labels = tuple(self.labels)
        if not all(isinstance(label, str) for label in labels):
            raise TypeError("labels must be str")
        if len(labels) > MAX_CHART_POINTS:
            raise ValueError(f"a chart has at most {MAX_CHART_POINTS} labels, not {len(labels)}")
        if isinstance(self.series, Series) or not isinstance(self.series, Sequence):
            raise TypeError("series must be a sequence of Series")
        series = tuple(self.series)
        if not all(isinstance(s, Series) for s in series):
            raise TypeError("series must be Series objects")
        if len(series) > MAX_CHART_SERIES:
            raise ValueError(f"a chart has at most {MAX_CHART_SERIES} series, not {len(series)}")
        for s in series:
            if len(s.values) != len(labels):
                raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")
        if self.decimals is not None and (isinstance(self.decimals, bool) or not 0 <= self.decimals <= 6):
            raise ValueError("decimals must be None or 0 to 6")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "series", series)

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to draw (no labels, or no value that is not ``None``)."""
        return not any(v is not None for s in self.series for v in s.values)

    def format(self, value: ChartValue) -> str:
        """``value`` as the chart writes it (prefix, unit, decimals); a gap is an empty string."""
        return "" if value is None else format_chart_value(value, self.prefix, self.unit, self.decimals)

    def layout(self) -> ChartLayout:
        """Scale the values into the drawing: round ticks including zero, bars or points per value."""
        values = [Decimal(str(v)) for s in self.series for v in s.values if v is not None]
        ticks = nice_ticks(min([Decimal(0), *values]), max([Decimal(0), *values]))
        low, high = ticks[0], ticks[-1]
        left, right, top, bottom = _LEFT, _WIDTH - _RIGHT, _TOP, _HEIGHT - _BOTTOM
        span = float(high - low)

        def y(value: Decimal | int | float) -> float:
            return round(bottom - (float(value) - float(low)) / span * (bottom - top), 2)

        count = max(1, len(self.labels))
        slot = (right - left) / count
        every = math.ceil(count / _MAX_X_LABELS)
        labels = tuple(
            (round(left + slot * (i + 0.5), 2), label) for i, label in enumerate(self.labels) if i % every == 0
        )
        step = ticks[1] - ticks[0]
        places = self.decimals if self.decimals is not None else max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
        tick_marks = tuple(ChartTick(t, format_chart_value(t, self.prefix, self.unit, places), y(t)) for t in ticks)
        zero = y(0)
        drawn = []
        for n, s in enumerate(self.series):
            marks = []
            for i, (label, value) in enumerate(zip(self.labels, s.values, strict=True)):
                if value is None:
                    marks.append(None)
                    continue
                if self.kind == "bar":
                    group = slot * 0.8
                    width = group / len(self.series)
                    x = left + slot * i + (slot - group) / 2 + width * n
                    top_y = min(y(value), zero)
                    height = abs(y(value) - zero)
                    marks.append(
                        ChartMark(
                            label,
                            s.name,
                            value,
                            self.format(value),
                            round(x, 2),
                            top_y,
                            round(width, 2),
                            round(height, 2),
                        )
                    )
                else:
                    marks.append(
                        ChartMark(
                            label,
                            s.name,
                            value,
                            self.format(value),
                            round(left + slot * (i + 0.5), 2),
                            y(value),
                            0.0,
                            0.0,
                        )
                    )
            lines: list[str] = []
            if self.kind == "line":
                run: list[ChartMark] = []
                for mark in [*marks, None]:
                    if mark is None:
                        if run:
                            lines.append(" ".join(f"{m.x:g},{m.y:g}" for m in run))
                        run = []
                    else:
                        run.append(mark)
            drawn.append((s, SERIES_CLASSES[n], tuple(m for m in marks if m is not None), tuple(lines)))
        return ChartLayout(_WIDTH, _HEIGHT, left, right, top, bottom, zero, tick_marks, labels, tuple(drawn))


@dataclass(frozen=True)
class LineChart(BarChart):
    """Widget data: a line chart drawn as inline SVG; the same fields and rules as :class:`BarChart`.

    Each series is a line through its values with a dot on each; a ``None``
    breaks the line. The y axis includes zero, so values below it sit below the
    zero line.
    """

    kind = "line"
