"""Custom metrics' figures over a window, on literal per-second data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.timeline.records import Second, Timeline
from framework.verdicts.custom_metrics import OBSERVED, metric_results

T0 = 1_700_000_000


def histogram_second(t: int, name: str, values: list[float], **dims: str) -> MetricSecond:
    hist = new_histogram()
    for v in values:
        hist.record_value(round(v * METRIC_SCALE))
    return MetricSecond(
        t=t,
        name=name,
        kind="histogram",
        unit="ms",
        dims=tuple(sorted(dims.items())),
        count=len(values),
        sum=sum(values),
        sumsq=sum(v * v for v in values),
        min=min(values),
        max=max(values),
        hist_blobs=(encode_histogram(hist),),
    )


def counter_second(t: int, name: str, n: float, adds: int = 1, **dims: str) -> MetricSecond:
    return MetricSecond(
        t=t, name=name, kind="counter", unit="items", dims=tuple(sorted(dims.items())),
        count=adds, sum=n,
    )  # fmt: skip


def gauge_second(t: int, name: str, values: list[float], **dims: str) -> MetricSecond:
    return MetricSecond(
        t=t,
        name=name,
        kind="gauge",
        unit="jobs",
        dims=tuple(sorted(dims.items())),
        count=len(values),
        sum=sum(values),
        min=min(values),
        max=max(values),
        last=values[-1],
        last_at=t + 0.5,
    )


def timeline(per_second: dict[int, list[MetricSecond]], seconds: int) -> Timeline:
    """``seconds`` seconds from T0, each with the metric records given for its offset."""
    return Timeline(
        None,
        {},
        tuple(
            Second(t=T0 + s, users=1, workers=1, metrics=tuple(per_second.get(s, ())))
            for s in range(seconds)
        ),
    )


def by_key(results):
    return {r.key: r for r in results}


def test_histogram_mean_is_exact_and_percentiles_come_from_the_merged_histograms():
    values = {s: [float(s % 10 + 1), float(s % 10 + 1) + 0.5] for s in range(40)}
    tl = timeline(
        {s: [histogram_second(T0 + s, "detector.server_ms", v)] for s, v in values.items()}, 40
    )
    result = by_key(metric_results(tl, T0, T0 + 40))["detector.server_ms"]
    flat = [x for v in values.values() for x in v]
    assert result.kind == "histogram" and result.unit == "ms" and result.count == 80
    assert result.figures["mean"].value == pytest.approx(sum(flat) / len(flat), rel=1e-12)
    assert result.figures["p50"].value == pytest.approx(np.quantile(flat, 0.5), rel=0.05)
    assert result.figures["p99"].value == pytest.approx(10.5, rel=0.01)
    assert result.figures["max"].value == 10.5 and result.figures["max"].method == OBSERVED
    for k in ("mean", "p50", "p95", "p99"):
        f = result.figures[k]
        assert f.low is not None and f.high is not None and f.low <= f.value <= f.high


def test_window_excludes_seconds_outside_it():
    tl = timeline(
        {0: [histogram_second(T0, "m", [1000.0])], 5: [histogram_second(T0 + 5, "m", [2.0])],
         6: [histogram_second(T0 + 6, "m", [4.0])]},
        10,
    )  # fmt: skip
    result = by_key(metric_results(tl, T0 + 2, T0 + 10))["m"]
    assert result.count == 2
    assert result.figures["mean"].value == 3.0
    assert result.figures["max"].value == 4.0


def test_counter_rate_counts_seconds_without_adds_as_zero():
    tl = timeline(
        {s: [counter_second(T0 + s, "batch.items", 6, adds=2)] for s in range(0, 30, 2)}, 30
    )
    result = by_key(metric_results(tl, T0, T0 + 30))["batch.items"]
    assert result.figures["rate"].value == pytest.approx(3.0)
    assert result.figures["total"].value == 90 and result.figures["total"].method == OBSERVED
    assert result.count == 30
    rate = result.figures["rate"]
    assert rate.low is not None and rate.low <= 3.0 <= rate.high


def test_dimension_sets_each_and_together():
    records = {
        s: [counter_second(T0 + s, "alerts", 1, model="fast"),
            counter_second(T0 + s, "alerts", 3, model="slow")]
        for s in range(20)
    }  # fmt: skip
    found = by_key(metric_results(timeline(records, 20), T0, T0 + 20))
    assert list(found) == ["alerts", "alerts{model=fast}", "alerts{model=slow}"]
    assert found["alerts"].dims == {} and found["alerts{model=slow}"].dims == {"model": "slow"}
    assert found["alerts"].figures["rate"].value == pytest.approx(4.0)
    assert found["alerts{model=fast}"].figures["rate"].value == pytest.approx(1.0)
    assert found["alerts{model=slow}"].figures["total"].value == 60


def test_gauge_mean_is_time_weighted_holding_each_value_until_the_next_set():
    # set to 10 in second 2, to 40 in second 8 (last of 30, 40), window of 10 s:
    # seconds 0-1 not counted, 2-7 hold 10 (6 s), 8-9 hold 40 (2 s): (60 + 80) / 8 = 17.5
    tl = timeline(
        {2: [gauge_second(T0 + 2, "queue.depth", [10])],
         8: [gauge_second(T0 + 8, "queue.depth", [30, 40])]},
        10,
    )  # fmt: skip
    result = by_key(metric_results(tl, T0, T0 + 10))["queue.depth"]
    assert result.figures["mean"].value == pytest.approx(17.5)
    assert result.figures["min"].value == 10 and result.figures["max"].value == 40
    assert result.figures["last"].value == 40
    assert result.count == 3


def test_gauge_set_before_the_window_holds_into_it():
    sets = {1: 5, 5: 5, 6: 5, 7: -5, 8: -5, 9: -5}
    tl = timeline({s: [gauge_second(T0 + s, "g", [v])] for s, v in sets.items()}, 10)
    result = by_key(metric_results(tl, T0 + 4, T0 + 10))["g"]
    # 4 holds the 5 set in second 1, 5-6 are 5, 7-9 are -5
    assert result.figures["mean"].value == pytest.approx(0.0, abs=1e-9)
    assert result.figures["min"].value == -5 and result.figures["max"].value == 5
    assert result.figures["last"].value == -5
    mean = result.figures["mean"]
    assert mean.low is not None and mean.low < 0 < mean.high  # negative values keep their interval


def test_gauge_dimension_sets_together_average_the_held_values():
    tl = timeline(
        {0: [gauge_second(T0, "q", [10], queue="a")],
         5: [gauge_second(T0 + 5, "q", [30], queue="b")]},
        10,
    )  # fmt: skip
    found = by_key(metric_results(tl, T0, T0 + 10))
    # 0-4: only a (10); 5-9: a and b (20 on average)
    assert found["q"].figures["mean"].value == pytest.approx(15.0)
    assert found["q{queue=a}"].figures["mean"].value == pytest.approx(10.0)
    assert found["q{queue=b}"].figures["mean"].value == pytest.approx(30.0)
    assert found["q"].figures["last"].value == 30


def test_too_little_data_gives_no_interval_and_says_so():
    tl = timeline({3: [histogram_second(T0 + 3, "m", [2.0])]}, 10)
    result = by_key(metric_results(tl, T0, T0 + 10))["m"]
    mean = result.figures["mean"]
    assert mean.value == 2.0 and mean.low is None and mean.high is None
    assert any("too few for an interval" in n for n in mean.notes)


def test_metric_only_outside_the_window_is_listed_without_values():
    tl = timeline({0: [histogram_second(T0, "m", [2.0])]}, 10)
    result = by_key(metric_results(tl, T0 + 5, T0 + 10))["m"]
    assert result.count == 0
    assert result.figures["p95"].value is None
    assert result.figures["p95"].notes == ("no values in the analysed window",)


def test_gauge_never_set_by_the_window_end_has_no_mean():
    tl = timeline({8: [gauge_second(T0 + 8, "g", [1])]}, 10)
    result = by_key(metric_results(tl, T0, T0 + 5))["g"]
    assert result.figures["mean"].value is None and result.figures["mean"].notes


def test_missing_values_are_counted():
    m = histogram_second(T0, "score", [0.5])
    m = MetricSecond(**{**m.__dict__, "missing": 3})
    result = by_key(metric_results(timeline({0: [m]}, 3), T0, T0 + 3))["score"]
    assert result.missing == 3


def test_interval_covers_the_truth_on_autocorrelated_data():
    """An AR(1) series (correlated over ~6 s, true mean 100): the interval allowing for
    time covers it in most of 40 runs (seeded), an iid interval in far fewer."""
    rng = np.random.default_rng(7)
    covered = iid_covered = 0
    for _ in range(40):
        x, level = [], 0.0
        for _ in range(600):
            level = 0.7 * level + rng.normal(0, 10)
            x.append(100 + level)
        tl = timeline({s: [counter_second(T0 + s, "c", x[s])] for s in range(600)}, 600)
        rate = by_key(metric_results(tl, T0, T0 + 600))["c"].figures["rate"]
        covered += rate.low <= 100 <= rate.high
        half = 1.96 * np.std(x, ddof=1) / math.sqrt(len(x))
        iid_covered += abs(np.mean(x) - 100) <= half
    assert covered >= 32  # 80%; nominal 95%
    assert iid_covered <= covered - 10
