"""LiveChart's ranges: y in nice steps that do not follow every peak, x in whole steps."""

from __future__ import annotations

import numpy as np
import pytest

from gui.theme import load_theme
from gui.widgets.charts import LiveChart, nice_top, with_gaps
from tests.helpers.pixels import count_color_between


@pytest.mark.parametrize(
    ("value", "top"),
    [(0.0, 1.0), (-3.0, 1.0), (float("nan"), 1.0), (0.7, 0.8), (1.0, 1.0), (1.01, 1.2),
     (2.2, 2.5), (3.0, 3.0), (7.0, 8.0), (140.0, 150.0), (201.0, 250.0), (0.031, 0.04),
     (8.5, 10.0)],
)  # fmt: skip
def test_nice_top(value: float, top: float) -> None:
    assert nice_top(value) == pytest.approx(top)


def _chart(qtbot) -> LiveChart:
    chart = LiveChart("Tokens/s", "tok/s", load_theme("dark"))
    chart.add_curve("tok_s", "tok_s", load_theme("dark"))
    qtbot.addWidget(chart)
    return chart


def _top(chart: LiveChart) -> float:
    return float(chart.getPlotItem().getViewBox().viewRange()[1][1])


def test_the_y_range_grows_in_steps_and_shrinks_only_far_below(qtbot) -> None:
    chart = _chart(qtbot)
    x = np.arange(10.0)
    chart.set_series("tok_s", x, np.full(10, 140.0))
    assert _top(chart) == pytest.approx(200.0)  # 140 * 1.1 -> 200
    chart.set_series("tok_s", x, np.full(10, 150.0))
    assert _top(chart) == pytest.approx(200.0)  # a new peak inside the range: no move
    chart.set_series("tok_s", x, np.full(10, 70.0))
    assert _top(chart) == pytest.approx(200.0)  # 35% of the range: kept
    chart.set_series("tok_s", x, np.full(10, 230.0))
    assert _top(chart) == pytest.approx(300.0)  # above: grows (230 * 1.1 -> 300)
    chart.set_series("tok_s", x, np.full(10, 20.0))
    assert _top(chart) == pytest.approx(25.0)  # below 30%: shrinks to fit


def test_a_fixed_y_range_stays(qtbot) -> None:
    chart = _chart(qtbot)
    chart.fix_y(0, 100)
    top = _top(chart)
    assert 100.0 <= top < 110.0  # 100 and pyqtgraph's padding
    chart.set_series("tok_s", np.arange(3.0), np.array([10.0, 500.0, 20.0]))
    assert _top(chart) == top


def test_x_scrolls_in_whole_steps(qtbot) -> None:
    chart = _chart(qtbot)
    chart.set_series("tok_s", np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    chart.scroll_to(2.3)  # little history: 1 s steps from the first sample
    assert chart._x_range == (0.0, 3.0)
    chart.set_series("tok_s", np.array([0.0, 40.0]), np.array([1.0, 2.0]))
    chart.scroll_to(41.2)  # more than half the window: 5 s steps
    assert chart._x_range == (0.0, 45.0)
    chart.scroll_to(44.9)
    assert chart._x_range == (0.0, 45.0)  # no move inside a step
    chart.scroll_to(70.1)
    assert chart._x_range == (15.0, 75.0)  # the last 60 s


def test_an_empty_chart_scrolls_from_the_start_not_into_negative_time(qtbot) -> None:
    chart = _chart(qtbot)
    chart.scroll_to(2.4)
    assert chart._x_range == (0.0, 3.0)


def test_with_gaps_breaks_only_where_samples_are_far_apart() -> None:
    x = np.array([0.0, 0.1, 0.2, 3.0, 3.1])
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    gx, gy = with_gaps(x, y, 0.25)
    assert list(gx) == [0.0, 0.1, 0.2, 0.2, 3.0, 3.1]  # still sorted (clip to view)
    assert np.isnan(gy[3]) and list(np.delete(gy, 3)) == list(y)
    head_x, head_y = x[:3], y[:3]
    same_x, same_y = with_gaps(head_x, head_y, 0.25)
    assert same_x is head_x and same_y is head_y  # no gap: the arrays as they are


@pytest.mark.parametrize("max_gap_s", [None, 0.25])
def test_a_period_without_samples_is_drawn_as_a_gap(qtbot, max_gap_s: float | None) -> None:
    """Pixels of the curve's colour between two runs of samples: a line only without
    `max_gap_s` (the control that shows the count can see one)."""
    theme = load_theme("dark")
    chart = LiveChart("CPU", "%", theme, max_gap_s=max_gap_s)
    chart.add_curve("cpu", "cpu", theme)
    qtbot.addWidget(chart)
    chart.resize(600, 200)
    chart.show()
    chart.fix_y(0, 100)
    x = np.concatenate([np.arange(0.0, 10.0, 0.1), np.arange(20.0, 30.0, 0.1)])
    chart.set_series("cpu", x, np.where(x < 15, 30.0, 70.0))
    chart.setXRange(0, 30, padding=0)
    color = theme.chart("cpu")
    assert count_color_between(chart, color, 2.0, 8.0) > 20
    assert count_color_between(chart, color, 22.0, 28.0) > 20
    across = count_color_between(chart, color, 12.0, 18.0)
    assert across == 0 if max_gap_s else across > 20
