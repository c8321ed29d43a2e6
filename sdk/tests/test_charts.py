"""Chart widget data (udyog_sdk.ui.BarChart, LineChart): validation, round ticks, scaling into the drawing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from udyog_sdk.ui import (
    MAX_CHART_POINTS,
    MAX_CHART_SERIES,
    BarChart,
    LineChart,
    Series,
    format_chart_value,
    nice_number,
    nice_ticks,
)


def decimals(*values):
    return [Decimal(str(v)) for v in values]


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 95, decimals(0, 20, 40, 60, 80, 100)),
        (-30, 70, decimals(-40, -20, 0, 20, 40, 60, 80)),
        (0, Decimal("0.37"), decimals("0", "0.1", "0.2", "0.3", "0.4")),
        (0, 0, decimals("0", "0.2", "0.4", "0.6", "0.8", "1")),
        (5, 5, decimals(4, "4.5", 5, "5.5", 6)),
        (0, 150000, decimals(0, 50000, 100000, 150000)),
        (0, Decimal("123456.78"), decimals(0, 50000, 100000, 150000)),
        (-12, 0, decimals(-15, -10, -5, 0)),
        (10, 0, decimals(0, 2, 4, 6, 8, 10)),
    ],
)
def test_ticks_are_round_numbers_that_cover_the_range(low, high, ticks):
    assert nice_ticks(low, high) == ticks
    assert [str(t) for t in nice_ticks(0, 95)] == ["0", "20", "40", "60", "80", "100"]  # no 1E+2


def test_nice_numbers():
    assert nice_number(Decimal(95), False) == 100
    assert nice_number(Decimal("23.75"), True) == 20
    assert nice_number(Decimal("0.037"), True) == Decimal("0.05")
    assert nice_number(Decimal(1400), True) == 1000


def test_values_are_formatted_with_prefix_unit_and_sign():
    assert format_chart_value(Decimal("-1234.50"), "₹") == "-₹1,234.50"
    assert format_chart_value(1234567, unit=" kg") == "12,34,567 kg"  # lakh grouping (the default en_IN)
    assert format_chart_value(Decimal("12345678.5"), "₹", decimals=2) == "₹1,23,45,678.50"
    assert format_chart_value(0.1 + 0.2) == "0.3"
    assert format_chart_value(Decimal("2.5"), "₹", decimals=2) == "₹2.50"
    chart = BarChart(["a"], [Series("x", [1])], prefix="₹", decimals=2)
    assert chart.format(None) == ""
    assert chart.format(Decimal("1500")) == "₹1,500.00"


def test_bars_are_scaled_from_the_zero_line_and_negative_values_hang_below_it():
    chart = BarChart(["Jan", "Feb", "Mar"], [Series("Profit", [Decimal("10.50"), -5, None])], prefix="₹")
    layout = chart.layout()
    assert [t.text for t in layout.ticks] == ["-₹5", "₹0", "₹5", "₹10", "₹15"]
    # The plot runs from y=10 (₹15) to y=194 (-₹5): 184 units for ₹20, 9.2 per rupee.
    assert [t.y for t in layout.ticks] == [194.0, 148.0, 102.0, 56.0, 10.0]
    assert layout.zero == 148.0
    series, css, marks, lines = layout.series[0]
    assert (series.name, css, lines) == ("Profit", "text-primary", ())
    assert len(marks) == 2  # the gap draws no bar
    jan, feb = marks
    assert (jan.label, jan.text, jan.y, jan.height) == ("Jan", "₹10.50", 51.4, 96.6)  # 10.5 * 9.2 above zero
    assert (feb.label, feb.text, feb.y, feb.height) == ("Feb", "-₹5", 148.0, 46.0)  # 5 * 9.2 below zero
    # Three slots of 136 units from x=64; a bar is 80 % of its slot, centred.
    assert (jan.x, jan.width, feb.x) == (77.6, 108.8, 213.6)
    assert [x for x, _ in layout.labels] == [132.0, 268.0, 404.0]


def test_several_series_stand_side_by_side():
    chart = BarChart(["A", "B"], [Series("x", [1, 2]), Series("y", [2, 1])])
    (_, first, bars_x, _), (_, second, bars_y, _) = chart.layout().series
    assert (first, second) == ("text-primary", "text-success")
    assert bars_x[0].width == bars_y[0].width == 81.6  # 80 % of a 204-unit slot, halved
    assert (bars_x[0].x, bars_y[0].x) == (84.4, 166.0)


def test_a_line_breaks_at_gaps():
    chart = LineChart(["a", "b", "c", "d"], [Series("x", [0, 10, None, 5])])
    _, _, points, lines = chart.layout().series[0]
    assert [(p.x, p.y) for p in points] == [(115.0, 194.0), (217.0, 10.0), (421.0, 102.0)]
    assert lines == ("115,194 217,10", "421,102")
    assert chart.kind == "line" and BarChart(["a"], [Series("x", [1])]).kind == "bar"


def test_many_labels_are_thinned_out_under_the_axis():
    labels = [f"d{i}" for i in range(30)]
    chart = BarChart(labels, [Series("x", list(range(30)))])
    assert [text for _, text in chart.layout().labels] == [f"d{i}" for i in range(0, 30, 3)]
    assert len(chart.layout().series[0][2]) == 30


def test_emptiness():
    assert BarChart([], []).is_empty
    assert BarChart(["a", "b"], [Series("x", [None, None])]).is_empty
    assert not BarChart(["a"], [Series("x", [0])]).is_empty
    assert BarChart([], [], empty="No sales yet.").empty == "No sales yet."


def test_data_is_frozen_into_tuples():
    values = [1, 2]
    chart = BarChart(["a", "b"], [Series("x", values)])
    values.append(3)
    assert chart.series[0].values == (1, 2)
    assert isinstance(chart.labels, tuple)
    with pytest.raises(AttributeError):
        chart.prefix = "$"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: BarChart(["a", "b"], [Series("x", [1])]), ValueError, "series 'x' has 1 values for 2 labels"),
        (lambda: BarChart("ab", []), TypeError, "labels must be a sequence of str"),
        (lambda: BarChart([1], []), TypeError, "labels must be str"),
        (lambda: BarChart(["a"], Series("x", [1])), TypeError, "series must be a sequence of Series"),
        (lambda: BarChart(["a"], [[1]]), TypeError, "series must be Series objects"),
        (lambda: Series("x", [1, "2"]), TypeError, "'2' is not a number"),
        (lambda: Series("x", [True]), TypeError, "True is not a number"),
        (lambda: Series("x", [float("nan")]), ValueError, "nan is not a finite number"),
        (lambda: Series("x", [Decimal("Infinity")]), ValueError, "is not a finite number"),
        (lambda: Series("x", "12"), TypeError, "values must be a sequence of numbers"),
        (
            lambda: LineChart(["a"] * (MAX_CHART_POINTS + 1), []),
            ValueError,
            f"at most {MAX_CHART_POINTS} labels, not {MAX_CHART_POINTS + 1}",
        ),
        (
            lambda: BarChart(["a"], [Series(str(n), [n]) for n in range(MAX_CHART_SERIES + 1)]),
            ValueError,
            f"at most {MAX_CHART_SERIES} series",
        ),
        (lambda: BarChart(["a"], [Series("x", [1])], decimals=7), ValueError, "decimals must be None or 0 to 6"),
    ],
)
def test_charts_are_validated_when_built(build, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
