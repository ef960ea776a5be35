"""The custom metrics' recorder and recording API: exact records, bounds and clear errors."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

import framework
from framework.errors import MetricError
from framework.timeline.metric_recorder import (
    MAX_DIMENSION_SETS,
    MetricRecorder,
    default_recorder,
)
from framework.timeline.metric_records import MetricSecond
from framework.timeline.metrics_api import Timer, counter, gauge, histogram, meter, timer
from framework.timeline.recorder import PAYLOAD_VERSION, TimelineMerger
from framework.timeline.records import HISTOGRAM_HIGHEST_US, new_histogram

T = 1_700_000_000


@pytest.fixture(autouse=True)
def _empty_default_recorder():
    default_recorder().clear()
    yield
    default_recorder().clear()


def test_histogram_record_holds_exact_sums_and_a_histogram_in_thousandths():
    rec = MetricRecorder()
    n = rec.register("detector.server_ms", "histogram", "ms", {"model": "fast"})
    for value in (10.0, 20.0, 30.0, 0.0):
        rec.record_value(n, T + 0.5, value)
    rec.record_missing(n, T + 0.9)
    (record,) = rec.drain(T + 1.0)
    assert record["t"] == T and record["dims"] == {"model": "fast"}
    assert (record["count"], record["sum"], record["sumsq"]) == (4, 60.0, 1400.0)
    assert (record["min"], record["max"], record["missing"]) == (0.0, 30.0, 1)
    m = MetricSecond.from_record(record)
    assert m.histogram().get_total_count() == 4
    assert m.histogram().get_value_at_percentile(75) == pytest.approx(20_000, rel=1e-3)
    assert rec.drain(T + 2.0) == []


@pytest.mark.parametrize("per_cell", [5, 400])
def test_values_counted_in_bulk_equal_each_counted_alone(per_cell):
    """``record_value`` keeps values and ``drain`` counts them per second and series; the
    records hold what counting each alone holds: the count, the sums in arrival order, min,
    max, and HdrHistogram's own histogram of the thousandths (few values and many: both
    sides of the numpy cut-over; halves, zero and values past the histogram's range)."""
    rng = random.Random(per_cell)
    rec = MetricRecorder()
    series = [rec.register("job.ms", "timer", "ms", {"q": q}) for q in ("a", "b")]
    expected: dict[tuple[int, int], list] = {}
    records = []
    for t in (T, T + 1):
        for _ in range(per_cell):
            number = rng.choice(series)
            value = rng.choice([0.0, 0.0005, 0.0015, 1e300, rng.lognormvariate(2, 2)])
            rec.record_value(number, t + rng.random() * 0.999, value)
            cell = expected.setdefault((t, number), [0, 0, 0, value, value, new_histogram()])
            cell[0], cell[1], cell[2] = cell[0] + 1, cell[1] + value, cell[2] + value * value
            cell[3], cell[4] = min(cell[3], value), max(cell[4], value)
            cell[5].record_value(min(round(value * 1000), HISTOGRAM_HIGHEST_US))
        assert rec.recorded == sum(c[0] for c in expected.values())
        assert rec.pending_cells == sum(1 for key in expected if key[0] == t)
        records += rec.drain(t + 1.5, before_s=t + 1)
    got = {
        (r["t"], series.index(rec.register("job.ms", "timer", "ms", r["dims"]))): r for r in records
    }
    assert set(got) == set(expected)
    for key, (count, total, squares, low, high, reference) in expected.items():
        record = got[key]
        assert (record["count"], record["sum"], record["sumsq"]) == (count, total, squares)
        assert (record["min"], record["max"]) == (low, high)
        held = MetricSecond.from_record(record).histogram()
        assert held.get_total_count() == reference.get_total_count() == count
        for p in (0, 25, 50, 90, 99, 99.9, 100):
            assert held.get_value_at_percentile(p) == reference.get_value_at_percentile(p)


def test_clear_forgets_values_not_yet_counted():
    rec = MetricRecorder()
    n = rec.register("job.ms", "timer", "ms", {})
    rec.record_value(n, T, 5.0)
    rec.clear()
    assert rec.drain(T + 2.0) == [] and rec.recorded == 0


def test_counter_gauge_and_meter_records():
    rec = MetricRecorder()
    c = rec.register("jobs.done", "counter", "jobs", {})
    g = rec.register("queue.depth", "gauge", "jobs", {})
    m = rec.register("alerts", "meter", "alerts", {})
    rec.add(c, T + 0.1, 3)
    rec.add(c, T + 0.2, 4)
    rec.set(g, T + 0.7, 5)
    rec.set(g, T + 0.3, 9)  # set earlier (another greenlet's clock): not the last
    rec.add(m, T + 0.4)
    records = {r["name"]: r for r in rec.drain(T + 1)}
    assert (records["jobs.done"]["count"], records["jobs.done"]["sum"]) == (2, 7)
    assert "hist" not in records["jobs.done"] and "min" not in records["jobs.done"]
    gauge_record = records["queue.depth"]
    assert (gauge_record["last"], gauge_record["last_at"]) == (5, T + 0.7)
    assert (gauge_record["min"], gauge_record["max"], gauge_record["count"]) == (5, 9, 2)
    assert records["alerts"]["sum"] == 1


def test_drain_before_keeps_the_open_second():
    rec = MetricRecorder()
    n = rec.register("jobs.done", "counter", "jobs", {})
    rec.add(n, T + 0.5, 1)
    rec.add(n, T + 1.5, 2)
    assert [r["t"] for r in rec.drain(T + 1.7, before_s=T + 1)] == [T]
    assert rec.pending_cells == 1
    assert [r["sum"] for r in rec.drain(T + 3)] == [2]


def test_workers_records_combine_exactly():
    workers = [MetricRecorder(), MetricRecorder()]
    merged = None
    for i, rec in enumerate(workers):
        n = rec.register("detector.server_ms", "timer", "ms", {})
        for value in range(1 + i, 1000, 2):  # 1..999 split across the two
            rec.record_value(n, T, float(value))
        (record,) = rec.drain(T + 1)
        m = MetricSecond.from_record(record)
        merged = m if merged is None else merged.combine(m)
    assert merged.count == 999 and merged.sum == sum(range(1, 1000))
    assert merged.histogram().get_value_at_percentile(95) / 1000 == pytest.approx(950, rel=2e-3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.register("bad name", "counter", "1", {}), "'bad name' is not an identifier"),
        (lambda r: r.register("a..b", "counter", "1", {}), "'a..b' is not an identifier path"),
        (lambda r: r.register("a.b", "counter", "", {}), "metric 'a.b': unit '' is not a unit"),
        (lambda r: r.register("a.b", "counter", "1", {"x-y": "1"}), "dimension name 'x-y'"),
        (lambda r: r.register("a.b", "counter", "1", {"kind": "1"}), "'kind' is reserved"),
        (lambda r: r.register("a.b", "counter", "1", {"m": 1.5}), "m=1.5 must be text"),
        (lambda r: r.register("a.b", "counter", "1", {"m": "x,y"}), "without { } = ,"),
        (lambda r: r.register("a.b", "rate", "1", {}), "unknown kind 'rate'"),
    ],
)
def test_bad_names_units_and_dimensions_are_metric_errors_naming_the_metric(call, message):
    with pytest.raises(MetricError, match=message):
        call(MetricRecorder())


def test_kind_and_unit_are_fixed_by_first_use():
    rec = MetricRecorder()
    rec.register("detector.server_ms", "histogram", "ms", {"model": "fast"})
    with pytest.raises(MetricError, match=r"'detector.server_ms' has unit 'ms' .* in 's'") as e:
        rec.register("detector.server_ms", "histogram", "s", {"model": "slow"})
    assert e.value.metric == "detector.server_ms"
    with pytest.raises(MetricError, match=r"is a histogram \(ms\) and cannot also be a gauge"):
        rec.register("detector.server_ms", "gauge", "ms", {"model": "fast"})


def test_more_than_the_bound_of_dimension_sets_is_refused_naming_the_metric():
    rec = MetricRecorder()
    for i in range(MAX_DIMENSION_SETS):
        rec.register("detector.score", "histogram", "1", {"user": str(i)})
    rec.register("detector.score", "histogram", "1", {"user": "0"})  # known: fine
    with pytest.raises(MetricError, match=r"'detector.score': more than 100 distinct dimension"):
        rec.register("detector.score", "histogram", "1", {"user": "100"})
    rec.register("other.metric", "histogram", "1", {"user": "100"})  # the bound is per metric


@pytest.mark.parametrize("value", [-1, -0.001, float("nan"), float("inf"), "12", None])
def test_a_histogram_refuses_values_it_cannot_hold(value):
    h = histogram("detector.score", unit="1")
    with pytest.raises(MetricError, match=r"metric 'detector.score' \(histogram, 1\): value must"):
        h.record(value)
    assert default_recorder().drain(0) == []


def test_counter_refuses_a_negative_increment_and_gauge_a_nan():
    with pytest.raises(MetricError, match=r"'jobs.done' \(counter, jobs\): increment must be"):
        counter("jobs.done", unit="jobs").add(-1)
    with pytest.raises(MetricError, match=r"'queue.depth' \(gauge, jobs\): value must be a fin"):
        gauge("queue.depth", unit="jobs").set(float("nan"))


def test_the_api_records_into_the_default_recorder_with_cached_handles():
    h = histogram("detector.score", unit="1", model="fast", batch=2)
    assert histogram("detector.score", unit="1", model="fast", batch=2) is h
    assert h.key == "detector.score{batch=2,model=fast}"
    h.record(0.5)
    h.missing()
    counter("detector.batch.items", unit="items").add(3)
    meter("detector.alerts", unit="alerts").mark(2)
    gauge("detector.queue.depth", unit="jobs").set(12)
    records = {(r["name"], tuple(r["dims"].items())): r for r in default_recorder().drain(0)}
    score = records[("detector.score", (("batch", "2"), ("model", "fast")))]
    assert (score["count"], score["missing"]) == (1, 1)
    assert records[("detector.batch.items", ())]["sum"] == 3
    assert records[("detector.alerts", ())]["sum"] == 2
    assert records[("detector.queue.depth", ())]["last"] == 12


def test_framework_re_exports_the_api_lazily():
    assert framework.timer is timer and framework.counter is counter


def test_timer_times_blocks_decorated_functions_and_recorded_values():
    t = timer("detector.parse", unit="s")
    with t:
        pass
    with pytest.raises(KeyError), t:
        raise KeyError("x")  # timed too, and the error passes on

    @timer("detector.parse", unit="s")
    def parse() -> int:
        return 7

    async def fetch() -> int:
        return 8

    assert parse() == 7
    assert asyncio.run(timer("detector.parse", unit="s")(fetch)()) == 8
    t.record(2.5)
    (record,) = default_recorder().drain(0)
    assert record["count"] == 5 and record["max"] == 2.5 and record["unit"] == "s"


def test_one_timer_handle_times_overlapping_blocks_in_two_threads_apart():
    t = timer("detector.threaded", unit="ms")
    entered, release = threading.Event(), threading.Event()

    def slow() -> None:
        with t:
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=slow)
    thread.start()
    entered.wait(5)
    with t:
        pass  # starts and stops while the other thread's block is open
    release.set()
    thread.join(5)
    (record,) = default_recorder().drain(0)
    assert record["count"] == 2 and record["min"] < record["max"]


def test_timer_unit_must_be_a_time():
    with pytest.raises(MetricError, match=r"'detector.items': a timer's unit must be one of ms"):
        timer("detector.items", unit="items")
    assert isinstance(timer("detector.default_unit"), Timer)


def _payload(mark: int, metrics: list) -> dict:
    return {"v": PAYLOAD_VERSION, "complete_before_s": mark, "records": [], "metrics": metrics}


def _worker_metrics(values: list[float], depth: float, at: float, items: int) -> list:
    rec = MetricRecorder()
    h = rec.register("detector.server_ms", "histogram", "ms", {"model": "fast"})
    g = rec.register("detector.queue.depth", "gauge", "jobs", {})
    c = rec.register("detector.batch.items", "counter", "items", {})
    for value in values:
        rec.record_value(h, T + 0.5, value)
    rec.set(g, at, depth)
    rec.add(c, T + 0.2, items)
    return rec.drain(T + 1)


def test_merger_combines_workers_metrics_per_second_name_and_dimensions():
    merger = TimelineMerger(grace_s=5.0)
    merger.add("w1", _payload(T + 1, _worker_metrics([10.0] * 90, 4, T + 0.9, 3)), T + 1.1)
    merger.add("w2", _payload(T + 1, _worker_metrics([100.0] * 10, 7, T + 0.4, 5)), T + 1.1)
    (second,) = merger.close(T + 1.2).seconds
    items, depth, server = second.metrics  # sorted by key
    assert (items.key, items.count, items.sum) == ("detector.batch.items", 2, 8)
    assert (depth.last, depth.min, depth.max) == (4, 4, 7)  # w1 set it last
    assert server.key == "detector.server_ms{model=fast}" and server.count == 100
    assert server.histogram().get_value_at_percentile(90) == pytest.approx(10_000, rel=1e-3)
    assert server.histogram().get_value_at_percentile(95) == pytest.approx(100_000, rel=1e-3)


def test_metrics_of_a_released_second_are_late_metrics():
    merger = TimelineMerger(grace_s=5.0)
    merger.observe(T + 0.5, users=1, workers=1)
    merger.add("w1", _payload(T + 2, []), T + 2.1)
    assert [s.t for s in merger.close(T + 2.2).seconds] == [T, T + 1]
    late = merger.add("w1", _payload(T + 3, _worker_metrics([1.0], 1, T + 0.1, 2)), T + 3.1)
    assert late == 3 and merger.late_metric_records == 3
    result = merger.close(T + 3.2)
    assert sorted(m.key for m in result.late_metrics) == [
        "detector.batch.items",
        "detector.queue.depth",
        "detector.server_ms{model=fast}",
    ]


def test_the_masters_own_metrics_neither_hold_nor_release_seconds():
    merger = TimelineMerger(grace_s=5.0)
    merger.add("w1", _payload(T + 1, []), T + 1.1)
    rec = MetricRecorder()
    g = rec.register("detector.queue.depth", "gauge", "jobs", {})
    rec.set(g, T + 1.5, 12)
    rec.set(g, T + 0.5, 10)
    merger.add_metrics(rec.drain(T + 1.6))
    released = merger.close(T + 1.7).seconds  # w1 promised T only
    assert [(s.t, [m.last for m in s.metrics]) for s in released] == [(T, [10])]
    merger.add("w1", _payload(T + 2, []), T + 2.1)
    released = merger.close(T + 2.2).seconds
    assert [(s.t, [m.last for m in s.metrics]) for s in released] == [(T + 1, [12])]
