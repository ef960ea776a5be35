"""framework.reports.charts and the chart modules: downsampling, ticks, and SVG that is
valid, escaped and labelled."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from framework.reports import charts
from framework.reports.chart_categories import Interval, IntervalSeries, bar_chart, interval_chart
from framework.reports.chart_comparison import ratio_marker
from framework.reports.chart_timeseries import Band, Line, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_downsample_keeps_short_series_unchanged():
    points = [(0, 1.0), (1, None), (2, 3.0)]
    assert charts.downsample(points, 10) == points


def test_downsample_reduces_to_at_most_max_points_by_max_or_mean():
    points = [(t, float(t % 10)) for t in range(3600)]
    peaks = charts.downsample(points, 1000, "max")
    means = charts.downsample(points, 1000, "mean")
    assert len(peaks) <= 1000 and len(means) <= 1000
    assert peaks[0] == (0, 3.0) and means[0] == (0, 1.5)  # buckets of 4 seconds


def test_downsample_keeps_gaps_where_a_bucket_has_no_values():
    points = [(t, None if 10 <= t < 20 else 1.0) for t in range(30)]
    assert (10, None) in charts.downsample(points, 15, "max")


def test_downsample_rejects_a_non_positive_size():
    with pytest.raises(ValueError, match="max_points must be >= 1, got 0"):
        charts.downsample([(0, 1.0)], 0)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (0, 487, [0, 100, 200, 300, 400, 500]),
     (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0])],
)  # fmt: skip
def test_nice_ticks_are_round_and_cover_the_range(low, high, expected):
    assert charts.nice_ticks(low, high) == pytest.approx(expected)


def test_elapsed_time_is_formatted_as_minutes_or_hours():
    assert charts.format_elapsed(65) == "1:05"
    assert charts.format_elapsed(3725) == "1:02:05"
    assert charts.format_elapsed(-5) == "-0:05"


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_line_chart_is_valid_svg_with_axis_labels_legend_and_gaps():
    svg = line_chart(
        [Line("p95 <ms>", [(0, 1.0), (1, 2.0), (2, None), (3, 4.0)], "#f00"),
         Line("users", [(0, 1.0), (3, 2.0)], "#00f", axis="right", step=True)],
        bands=[Band("band & co", 1, 2, "#0f0", low=1, high=2)],
        x_label="time", y_label="ms", y2_label="users",
    )  # fmt: skip
    root = _svg(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert {"time", "ms", "users"} <= set(texts)
    assert any(t.startswith("p95 <ms>") for t in texts)
    assert any(t.startswith("band & co") for t in texts)
    paths = [p.get("d") for p in root.iter(f"{SVG}path") if p.get("class") == "series"]
    assert paths[0].count("M") == 2  # the None lifts the pen
    assert "H" in paths[1]  # the step line
    assert "&lt;ms&gt;" in svg


def test_interval_chart_draws_whiskers_and_highlights_one_category():
    svg = interval_chart(
        ["a", "b"],
        [IntervalSeries("rps", [Interval(1, 0.5, 1.5), Interval(2)], "#00f")],
        x_label="step", y_label="rps", highlight="b", highlight_label="knee",
    )  # fmt: skip
    root = _svg(svg)
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "whisker"]) == 1
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    assert any("".join(t.itertext()) == "knee" for t in root.iter(f"{SVG}title"))


def test_bar_chart_sums_the_tail_into_other():
    bars = [(f"kind {i}", float(i)) for i in range(20)]
    root = _svg(bar_chart(bars, x_label="failures", max_bars=5))
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(label.startswith("16 other kinds") for label in labels)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 5


def test_ratio_marker_is_empty_without_a_ratio_and_valid_with_one():
    assert ratio_marker(None, None, None) == ""
    root = _svg(ratio_marker(1.3, 1.1, 1.5, verdict="regression"))
    assert root.find(f"{SVG}circle").get("fill") == "#dc2626"
