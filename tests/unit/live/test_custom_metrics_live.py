"""Custom metrics in the live views, from literal ``MetricSecond`` records: the InfluxDB
points, the Prometheus families (checked by ``promtool check metrics``) and the tab's rows."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from framework.live.custom_metrics import MetricTotals, second_figures
from framework.live.feed import LiveFeed
from framework.live.influx import CUSTOM_METRIC, metric_point, second_points
from framework.live.metrics import QUANTILE_WINDOW_S, LiveMetrics
from framework.live.tab_view import TabView
from framework.timeline.codec import encode_histogram, new_histogram
from framework.timeline.metric_records import METRIC_SCALE, MetricSecond
from framework.timeline.records import Second

T0 = 1_700_000_000


def histogram(t: int, values: list[float], name: str = "detector.server_time", **dims: str):
    hist = new_histogram()
    for v in values:
        hist.record_value(round(v * METRIC_SCALE))
    return MetricSecond(
        t=t,
        name=name,
        kind="timer" if name.endswith("_time") else "histogram",
        unit="ms" if name.endswith("_time") else "1",
        dims=tuple(sorted(dims.items())),
        count=len(values),
        sum=sum(values),
        sumsq=sum(v * v for v in values),
        min=min(values),
        max=max(values),
        hist_blobs=(encode_histogram(hist),),
    )


def counter(t: int, n: int, adds: int = 1, **dims: str) -> MetricSecond:
    return MetricSecond(
        t=t, name="detector.batch.items", kind="counter", unit="items",
        dims=tuple(sorted(dims.items())), count=adds, sum=n,
    )  # fmt: skip


def gauge(t: int, *values: float, missing: int = 0) -> MetricSecond:
    return MetricSecond(
        t=t, name="detector.queue.depth", kind="gauge", unit="jobs", count=len(values),
        sum=sum(values), min=min(values), max=max(values), last=values[-1],
        last_at=t + 0.9, missing=missing,
    )  # fmt: skip


def fields_of(line: str) -> tuple[str, dict[str, str], str]:
    head, fields, t = line.split(" ")
    return head, dict(f.split("=", 1) for f in fields.split(",")), t


def test_histogram_point_has_exact_sums_and_percentiles_in_the_metrics_unit():
    values = [float(v) for v in range(1, 101)]  # 1 … 100 ms
    head, fields, t = fields_of(
        metric_point(histogram(T0, values, model="fast"), run_id="r1", scenario="s")
    )
    tags = "run_id=r1,scenario=s,name=detector.server_time,kind=timer,unit=ms,model=fast"
    assert head == f"swarm_metric,{tags}"
    assert t == str(T0)
    assert fields["count"] == "100i" and float(fields["sum"]) == 5050.0
    assert float(fields["mean"]) == 50.5
    assert float(fields["min"]) == 1.0 and float(fields["max"]) == 100.0
    assert float(fields["p50"]) == pytest.approx(50.0, rel=0.001)
    assert float(fields["p95"]) == pytest.approx(95.0, rel=0.001)
    assert float(fields["p99"]) == pytest.approx(99.0, rel=0.001)


def test_a_fractional_score_keeps_its_unit_and_p99_never_passes_the_max():
    record = histogram(T0, [0.93, 0.91, 0.2], name="detector.score")
    figures = second_figures(record)
    assert figures["p99"] <= 0.93 and figures["p99"] == pytest.approx(0.93, rel=0.001)
    assert figures["p50"] == pytest.approx(0.91, rel=0.001)


def test_counter_point_has_count_sum_and_rate_and_gauge_point_last_min_max():
    _h, fields, _t = fields_of(metric_point(counter(T0, 7, adds=3), run_id="r", scenario="s"))
    assert fields == {"count": "3i", "sum": "7.0", "rate": "7.0"}
    _h, fields, _t = fields_of(
        metric_point(gauge(T0, 3, 9, 4, missing=2), run_id="r", scenario="s")
    )
    assert fields == {"count": "3i", "last": "4.0", "min": "3.0", "max": "9.0", "missing": "2i"}


def test_a_dimension_named_like_a_tag_is_prefixed_and_values_are_escaped():
    record = counter(T0, 1, kind="x", region="eu west")
    head, _f, _t = fields_of(metric_point(record, run_id="r", scenario="s").replace("\\ ", "_"))
    assert head.endswith("kind=counter,unit=items,dim_kind=x,region=eu_west")


def test_second_points_write_one_metric_point_per_record_before_the_run_point():
    second = Second(
        t=T0, users=1, workers=1,
        metrics=(counter(T0, 2, model="a"), counter(T0, 5, model="b"), gauge(T0, 1.0)),
    )  # fmt: skip
    lines = second_points(second, run_id="r", scenario="s", state="running")
    metric_lines = [line for line in lines if line.startswith(CUSTOM_METRIC + ",")]
    assert len(metric_lines) == 3
    assert lines[-1].startswith("swarm_run,")


def scrape(metrics: LiveMetrics) -> tuple[str, dict[str, dict[tuple, float]], dict[str, str]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    text = generate_latest(registry).decode()
    found: dict[str, dict[tuple, float]] = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return text, found, types


def test_prometheus_families_of_each_kind_with_dims_as_labels():
    feed = LiveFeed(started_s=T0, run_id="r1")
    metrics = LiveMetrics(feed, scenario="s")
    for i in range(3):
        t = T0 + i
        feed.add_second(
            Second(
                t=t,
                users=1,
                workers=1,
                metrics=(
                    counter(t, 2, model="a"),
                    counter(t, 5, model="b"),
                    gauge(t, 10.0 + i, missing=1),
                    histogram(t, [10.0, 20.0, 30.0], model="fast"),
                ),
            )
        )
    text, found, types = scrape(metrics)
    assert types["swarm_custom_detector_batch_items"] == "counter"
    assert found["swarm_custom_detector_batch_items_total"] == {
        (("model", "a"),): 6.0,
        (("model", "b"),): 15.0,
    }
    assert types["swarm_custom_detector_queue_depth"] == "gauge"
    assert found["swarm_custom_detector_queue_depth"] == {(): 12.0}
    assert types["swarm_custom_detector_server_time"] == "summary"
    assert found["swarm_custom_detector_server_time_count"] == {(("model", "fast"),): 9.0}
    assert found["swarm_custom_detector_server_time_sum"] == {(("model", "fast"),): 180.0}
    quantiles = found["swarm_custom_detector_server_time"]
    assert quantiles[(("model", "fast"), ("quantile", "0.5"))] == pytest.approx(20.0, rel=0.001)
    assert quantiles[(("model", "fast"), ("quantile", "0.99"))] == pytest.approx(30.0, rel=0.001)
    assert found["swarm_custom_values_missing_total"] == {
        (("metric", "detector.queue.depth"),): 3.0
    }
    assert "in ms" in text and "in items" in text  # the unit is in the HELP
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_summary_quantiles_are_of_the_last_window_while_count_and_sum_are_of_the_run():
    feed = LiveFeed(started_s=T0)
    metrics = LiveMetrics(feed, scenario="s")
    feed.add_second(Second(t=T0, metrics=(histogram(T0, [1000.0]),)))
    t = T0 + QUANTILE_WINDOW_S
    feed.add_second(Second(t=t, metrics=(histogram(t, [5.0]),)))
    _text, found, _types = scrape(metrics)
    assert found["swarm_custom_detector_server_time_count"] == {(): 2.0}
    assert found["swarm_custom_detector_server_time"][(("quantile", "0.99"),)] == 5.0


def test_dims_that_differ_between_sets_become_the_union_of_labels_and_reserved_ones_renamed():
    feed = LiveFeed(started_s=T0)
    metrics = LiveMetrics(feed, scenario="s")
    feed.add_second(
        Second(t=T0, metrics=(histogram(T0, [1.0], quantile="q"), histogram(T0, [2.0], zone="z")))
    )
    text, found, _types = scrape(metrics)
    assert set(found["swarm_custom_detector_server_time_count"]) == {
        (("dim_quantile", "q"), ("zone", "")),  # an empty label is no label to Prometheus
        (("dim_quantile", ""), ("zone", "z")),
    }
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_custom_family_when_the_run_records_none():
    feed = LiveFeed(started_s=T0)
    metrics = LiveMetrics(feed, scenario="s")
    feed.add_second(Second(t=T0, users=1, workers=1))
    _text, found, _types = scrape(metrics)
    assert not [name for name in found if name.startswith("swarm_custom_")]


def test_tab_lists_each_series_with_its_last_second_and_run_so_far():
    feed = LiveFeed(started_s=T0)
    view = TabView(plan=None, limits=[])
    view.attach(feed)
    feed.move("running", T0)
    for i in range(4):
        t = T0 + i
        records = [counter(t, 3, model="a"), histogram(t, [10.0 * (i + 1)], model="fast")]
        if i < 2:
            records.append(gauge(t, 5.0 + i))
        feed.add_second(Second(t=t, users=1, workers=1, metrics=tuple(records)))
    rows = {row["key"]: row for row in view.data(feed, now_s=T0 + 5)["metrics"]}
    assert list(rows) == [
        "detector.batch.items{model=a}",
        "detector.queue.depth",
        "detector.server_time{model=fast}",
    ]
    items = rows["detector.batch.items{model=a}"]
    assert items["kind"] == "counter" and items["unit"] == "items"
    assert items["last"] == 3.0 and items["run"] == {"total": 12.0, "rate": 3.0}
    depth = rows["detector.queue.depth"]
    assert depth["last"] == 6.0 and depth["last_t"] == T0 + 1
    assert depth["run"] == {"last": 6.0, "min": 5.0, "max": 6.0, "mean": 5.5}
    server = rows["detector.server_time{model=fast}"]
    assert server["last"] == 40.0 and server["run"]["mean"] == 25.0
    assert server["run"]["max"] == 40.0 and server["run"]["p50"] == pytest.approx(20.0, rel=1e-3)


def test_tab_leaves_paused_seconds_out_and_starts_afresh_with_each_run():
    feed = LiveFeed(started_s=T0)
    view = TabView(plan=None, limits=[])
    view.attach(feed)
    feed.add_second(Second(t=T0, metrics=(counter(T0, 3),)), counted=False)
    assert view.data(feed, now_s=T0 + 1)["metrics"] == []
    feed.add_second(Second(t=T0 + 1, metrics=(counter(T0 + 1, 3),)))
    assert view.data(feed, now_s=T0 + 2)["metrics"][0]["run"]["total"] == 3.0
    feed.start_run(T0 + 10, run_id="next")
    assert view.data(feed, now_s=T0 + 11)["metrics"] == []


def test_totals_merge_histograms_exactly_across_seconds():
    totals = MetricTotals()
    for i in range(10):
        totals.add_second(Second(t=T0 + i, metrics=(histogram(T0 + i, [float(i + 1)] * 10),)))
    (series,) = totals.sorted()
    assert series.count == 100 and series.sum == 550.0
    assert series.histogram().get_total_count() == 100
    assert series.percentiles() == [pytest.approx(5.0, rel=1e-3), 10.0, 10.0]
