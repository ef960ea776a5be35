"""Windows of a run (steady state, per-step plateaus) and the figures computed in them."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from framework.plan import shapes
from framework.stats.estimators import estimates
from framework.timeline.columns import TimelineColumns
from framework.timeline.histograms import cumulative_counts, percentiles_us
from framework.timeline.reader import read_timeline
from framework.timeline.records import (
    RequestSecond,
    Second,
    decode_buckets,
    decode_histogram,
    new_histogram,
)
from framework.timeline.writer import TimelineWriter
from framework.verdicts.analysis import (
    AnalysisSettings,
    PlannedWindow,
    analyse_window,
    interval_data,
    planned_windows,
    run_start_s,
    steady_window,
)
from framework.verdicts.builder import load_run
from tests.synthetic import START_S, Latency, plan_record, write_run

CONSTANT = shapes.constant(users=30, spawn_rate=1, duration_s=200)  # 30 s ramp-up
STEPPED = shapes.stepped(start_users=5, step_users=5, step_duration_s=40, steps=3, spawn_rate=1)


def _ramp_is_slow(second: int, users: int) -> float:
    """Latency ten times higher while users are still arriving (below 30)."""
    return 10.0 if users < 30 else 1.0


@pytest.fixture(scope="module")
def ramped(tmp_path_factory):
    """A constant run whose ramp-up is ten times slower than its steady state."""
    folder = tmp_path_factory.mktemp("ramped") / "run"
    write_run(
        folder,
        seconds=201,
        names=("GET /a", "POST /b"),
        latency=Latency(median_ms=40, sigma=0.3, scale=_ramp_is_slow),
        rps=40,
        plan=CONSTANT,
        seed=11,
    )
    return load_run(folder)


# --------------------------------------------------------------------------- windows


def test_run_starts_at_the_running_phase_not_at_the_first_second_seen(ramped):
    assert run_start_s(ramped.run, ramped.timeline) == START_S
    late = {**ramped.run, "phases": [{"name": "running", "at": "2023-11-14T22:13:25.400Z"}]}
    assert run_start_s(late, ramped.timeline) == pytest.approx(START_S + 5.4)
    assert run_start_s({"phases": []}, ramped.timeline) == START_S


def test_steady_window_skips_the_ramp_up_and_the_cut_short_last_second(ramped):
    w = steady_window(ramped.run, ramped.timeline, None)
    assert (w.name, w.start_s, w.end_s, w.users) == (
        "steady state",
        START_S + 30,
        START_S + 200,
        30,
    )


def test_warmup_overrides_the_ramp_up(ramped):
    assert steady_window(ramped.run, ramped.timeline, 60).start_s == START_S + 60
    assert steady_window(ramped.run, ramped.timeline, 0).start_s == START_S
    assert steady_window(ramped.run, ramped.timeline, 12.3).start_s == START_S + 13


def test_steady_window_starts_after_a_fractional_running_time(ramped):
    run = {**ramped.run, "phases": [{"name": "running", "at": "2023-11-14T22:13:20.500Z"}]}
    w = steady_window(run, ramped.timeline, None)
    assert w.start_s == START_S + 31  # 30.5 s into the data, rounded up to a whole second


def test_steady_window_ends_at_the_plan_end_even_if_data_goes_on(ramped):
    run = {**ramped.run, "plan": {**ramped.run["plan"], "duration_s": 100}}
    assert steady_window(run, ramped.timeline, None).end_s == START_S + 100


def test_steady_window_never_ends_before_it_starts(ramped):
    w = steady_window(ramped.run, ramped.timeline, 500)
    assert w.end_s == w.start_s


def test_steady_state_figures_leave_the_slow_ramp_out(ramped):
    truth = Latency(median_ms=40, sigma=0.3).p(95)
    steady = steady_window(ramped.run, ramped.timeline, None)
    figures = analyse_window(ramped.timeline, steady, AnalysisSettings()).window.overall
    assert figures.p95_ms.low < truth < figures.p95_ms.high
    everything = steady_window(ramped.run, ramped.timeline, 0)
    polluted = analyse_window(ramped.timeline, everything, AnalysisSettings()).window.overall
    assert polluted.p95_ms.value > 1.5 * truth


def test_a_constant_plan_has_no_step_windows(ramped):
    assert planned_windows(ramped.run, ramped.timeline) == []


def test_step_windows_are_the_plateaus_without_the_ramps(ramped):
    run = {**ramped.run, "plan": plan_record(STEPPED)}
    windows = planned_windows(run, ramped.timeline)
    # ramps: 0-5 s (to 5 users), 40-45 s (to 10), 80-85 s (to 15); plateaus end at 40, 80, 120 s
    assert windows == [
        PlannedWindow("step 1", START_S + 5, START_S + 40, 5),
        PlannedWindow("step 2", START_S + 45, START_S + 80, 10),
        PlannedWindow("step 3", START_S + 85, START_S + 120, 15),
    ]


def test_step_windows_are_cut_at_the_end_of_the_data_and_dropped_when_too_short(ramped):
    run = {**ramped.run, "plan": plan_record(STEPPED)}
    short = {**run, "phases": [{"name": "running", "at": "2023-11-14T22:15:44Z"}]}  # +144 s
    windows = planned_windows(short, ramped.timeline)
    assert [(w.name, w.start_s - START_S, w.end_s - START_S) for w in windows] == [
        ("step 1", 149, 184),
        ("step 2", 189, 200),  # cut at the last whole second; step 3 would be < 2 s
    ]


def test_stages_plans_get_step_windows_too(ramped):
    stages = shapes.stages(stages=[(30, 10, 10), (30, 20, 10)])
    names = [
        w.name
        for w in planned_windows({**ramped.run, "plan": plan_record(stages)}, ramped.timeline)
    ]
    assert names and all(isinstance(n, str) for n in names)


# --------------------------------------------------------------------------- figures


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    folder = tmp_path_factory.mktemp("steady") / "run"
    write_run(
        folder,
        seconds=241,
        names=("GET /a", "GET /b", "POST /b"),
        latency={
            "GET /a": Latency(median_ms=20, sigma=0.4),
            "GET /b": Latency(median_ms=80, sigma=0.6, phi=0.5, level_sd=0.05),
            "POST /b": Latency(median_ms=200, sigma=0.2),
        },
        rps={"GET /a": 60, "GET /b": 30, "POST /b": 10},
        error_rate={"GET /a": 0.0, "GET /b": 0.02, "POST /b": 0.0},
        plan=shapes.constant(users=10, spawn_rate=10, duration_s=240),
        seed=5,
    )
    data = load_run(folder)
    w = steady_window(data.run, data.timeline, None)
    return data, w, analyse_window(data.timeline, w, AnalysisSettings())


def test_every_name_and_all_together_get_every_figure(steady):
    analysed = steady[2]
    result = analysed.window
    assert [e.key for e in result.endpoints] == ["GET /a", "GET /b", "POST /b"]
    assert result.overall.key == "Aggregated"
    assert set(analysed.estimates) == {"", "GET /a", "GET /b", "POST /b"}
    assert result.overall.count == sum(e.count for e in result.endpoints)
    for e in (*result.endpoints, result.overall):
        for name in ("mean_ms", "median_ms", "p95_ms", "p99_ms", "throughput_rps", "error_rate"):
            f = getattr(e, name)
            assert f.low <= f.value <= f.high, (e.key, name)
            assert f.n > 0 and f.method
        assert e.min_ms <= e.median_ms.value <= e.p90_ms <= e.max_ms
        assert e.quality.grade in ("pass", "warn", "fail")


def test_figures_cover_the_true_values(steady):
    result = steady[2].window
    a, b = result.endpoints[0], result.endpoints[1]
    assert a.p95_ms.low < Latency(median_ms=20, sigma=0.4).p(95) < a.p95_ms.high
    assert a.median_ms.low < 20 < a.median_ms.high
    assert a.throughput_rps.low < 60 < a.throughput_rps.high
    assert a.error_rate.value == 0 and a.failures == 0
    assert b.error_rate.low < 0.02 < b.error_rate.high
    assert b.failures_by_kind == {"HTTP 500": b.failures}


def test_windows_read_through_the_runs_columns_equal_windows_read_alone(steady):
    data, w, alone = steady
    columns = TimelineColumns(data.timeline)
    half = PlannedWindow("first half", w.start_s, (w.start_s + w.end_s) // 2, None)
    first = analyse_window(data.timeline, half, AnalysisSettings(), columns=columns)
    shared = analyse_window(data.timeline, w, AnalysisSettings(), columns=columns)
    assert shared.window == alone.window
    assert first.window == analyse_window(data.timeline, half, AnalysisSettings()).window
    other = dataclasses.replace(data.timeline)
    with pytest.raises(ValueError, match="this very timeline"):
        analyse_window(other, w, AnalysisSettings(), columns=columns)


def test_window_figures_equal_estimates_from_the_timeline_histograms(steady):
    """The analysis (however it reads histograms) gives exactly what the estimators give on
    the timeline's own per-second records, decoded with HdrHistogram."""
    data, w, _ = steady
    analysed = analyse_window(data.timeline, w, AnalysisSettings(confidence=0.9))
    for key in ("GET /a", "GET /b", None):
        records = [r for r in data.timeline.series(key) if w.start_s <= r.t < w.end_s]
        reference = estimates(
            interval_data(records),
            ("mean", "p50", "p95", "p99", "throughput", "error_rate"),
            confidence=0.9,
        )
        found = analysed.estimates["" if key is None else key]
        for metric, est in reference.items():
            assert found[metric] == est, (key, metric)


def test_min_max_and_p90_come_from_the_merged_window_histogram(steady):
    data, w, analysed = steady
    result = analysed.window
    for e, key in ((result.endpoints[0], "GET /a"), (result.overall, None)):
        h = data.timeline.merged_histogram(key, w.start_s, w.end_s)
        assert e.min_ms == pytest.approx(h.get_min_value() / 1000, rel=1e-12)
        assert e.max_ms == pytest.approx(h.get_max_value() / 1000, rel=1e-12)
        assert e.p90_ms == pytest.approx(percentiles_us(h, (90,))[0] / 1000, rel=1e-12)
        assert e.count == h.get_total_count()


def test_an_empty_window_gets_a_failing_grade_and_no_figures(steady):
    data, _, _ = steady
    empty = PlannedWindow("nothing", START_S + 10_000, START_S + 10_100, None)
    result = analyse_window(data.timeline, empty, AnalysisSettings()).window
    assert result.overall.count == 0
    assert result.overall.p95_ms.value is None
    assert result.overall.quality.grade == "fail"
    assert result.overall.quality.checks[0].reason == "no requests in this window"


def test_a_one_second_window_is_too_short_for_an_interval(steady):
    data, w, _ = steady
    one = PlannedWindow("blip", w.start_s, w.start_s + 1, None)
    result = analyse_window(data.timeline, one, AnalysisSettings()).window
    assert result.overall.count > 0
    assert result.overall.mean_ms.value is None
    assert result.overall.quality.checks[0].reason == "window shorter than 2 s"


def test_timeouts_are_counted_from_failure_kinds(tmp_path):
    folder = write_run(
        tmp_path / "run",
        seconds=61,
        rps=20,
        error_rate=0.1,
        failure_kind="timeout",
        plan=shapes.constant(users=1, spawn_rate=1, duration_s=60),
    )
    data = load_run(folder)
    w = steady_window(data.run, data.timeline, None)
    result = analyse_window(data.timeline, w, AnalysisSettings(timeout_s=30)).window.overall
    assert result.timeouts == result.failures > 0
    assert not math.isnan(result.error_rate.value)


# --------------------------------------------------------------------------- the read path


def _reference(blobs) -> HdrHistogram:
    """What decoding each blob with HdrHistogram and adding them up gives."""
    merged = new_histogram()
    for blob in blobs:
        merged.add(decode_histogram(blob))
    return merged


def _nonzero(histogram: HdrHistogram) -> tuple[list[int], list[int]]:
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    index = np.flatnonzero(counts)
    return index.tolist(), counts[index].tolist()


def _blob(values, counts=None, histogram=None) -> str:
    h = histogram or new_histogram()
    for i, v in enumerate(values):
        h.record_value(int(v), 1 if counts is None else int(counts[i]))
    return h.encode().decode("ascii")


def test_decoded_buckets_are_exactly_hdrhistograms_counts():
    rng = np.random.default_rng(7)
    blobs = [
        _blob([0, 1, 2, 2047, 2048, 2049, 4095, 4096, 3_600_000_000]),  # bucket edges
        _blob(range(0, 400, 2)),  # single empty buckets between counts
        _blob([7, 5_000_000], counts=[2**40, 3]),  # a count needing a 6-byte varint
        _blob(rng.integers(0, 3_600_000_000, 300)),
        _blob(rng.lognormal(10, 1, 2000).astype(int)),
        _blob([]),  # no values
        _blob([123_456], histogram=HdrHistogram(1, 3_600_000_000, 2)),  # other layouts:
        _blob([123_456, 999], histogram=HdrHistogram(1000, 10**9, 3)),  # converted as add does
    ]
    indptr, index, counts = decode_buckets(blobs)
    assert len(indptr) == len(blobs) + 1
    for i, blob in enumerate(blobs):
        part = slice(indptr[i], indptr[i + 1])
        assert (index[part].tolist(), counts[part].tolist()) == _nonzero(_reference([blob])), i
    assert decode_buckets([])[0].tolist() == [0]


@pytest.fixture(scope="module")
def amended(tmp_path_factory):
    """A timeline with two methods on one name, idle seconds and late corrections."""
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("amended") / "timeline.jsonl"
    with TimelineWriter(path, created_s=100.0) as writer:
        for t in range(100, 160):
            requests = []
            for method, name in (("GET", "/b"), ("POST", "/b"), ("GET", "/a")):
                latencies = rng.lognormal(3, 1, rng.integers(0, 40))
                if t not in (110, 120) and latencies.size:
                    requests.append(RequestSecond.from_latencies(t, method, name, latencies))
            writer.write_second(Second(t=t, users=3, workers=1, requests=tuple(requests)))
            if t % 4 == 0:
                late = RequestSecond.from_latencies(t - 2, "GET", "/b", rng.lognormal(3, 1, 5))
                writer.write_late(late)
    return read_timeline(path)


@pytest.mark.parametrize("name", [None, "/b", "GET /b", "POST /b", "GET /a", "/nope"])
@pytest.mark.parametrize(("start", "end"), [(None, None), (105, 150), (150, 105)])
def test_per_second_buckets_are_each_records_own_histogram(amended, name, start, end):
    records = amended.series(name, start, end)
    assert [r.t for r in records] == [
        s.t for s in amended.seconds if (start or 0) <= s.t < (end or 10**9)
    ]
    rows = amended.buckets(name, start, end)
    assert len(rows) == len(records)
    percentiles = rows.percentiles_us((50, 99.9))
    for i, record in enumerate(records):
        reference = _reference(record.hist_blobs)
        row = rows.row(i)
        assert (row.index.tolist(), row.counts_nonzero.tolist()) == _nonzero(reference)
        expected = percentiles_us(reference, (50, 99.9))
        assert [None if math.isnan(v) else v for v in percentiles[i]] == expected
        assert percentiles_us(row, (50, 99.9)) == expected
        assert (row.get_min_value(), row.get_max_value()) == (
            reference.get_min_value(),
            reference.get_max_value(),
        )
        assert row.get_total_count() == reference.get_total_count() == record.count


@pytest.mark.parametrize("name", [None, "/b", "GET /a"])
def test_merged_histograms_equal_hdrhistograms_own_merge(amended, name):
    blobs = [b for r in amended.select(name, 105, 150) for b in r.hist_blobs]
    reference = _reference(blobs)
    for merged in (
        amended.merged_histogram(name, 105, 150),
        amended.total(name, 105, 150).histogram,
        amended.buckets(name, 105, 150).total().to_hdrhistogram(),
    ):
        assert _nonzero(merged) == _nonzero(reference)
        assert (merged.get_total_count(), merged.get_min_value(), merged.get_max_value()) == (
            reference.get_total_count(),
            reference.get_min_value(),
            reference.get_max_value(),
        )
    sparse = amended.buckets(name, 105, 150).total()
    bounds = [1000, 20_000, 50_000, 10**7]
    assert cumulative_counts(sparse, bounds) == cumulative_counts(reference, bounds)


def test_series_equals_adding_up_the_records_one_by_one(amended):
    for name in (None, "/b", "GET /a"):
        for second, got in zip(amended.seconds, amended.series(name), strict=True):
            expected = RequestSecond(t=second.t, method=got.method, name=got.name)
            for r in second.requests:
                if name is None or name in (r.key, r.name):
                    expected = expected.combine(r)
            assert got == expected


def test_all_requests_merged_from_the_endpoints_read_first_equal_reading_them_again(amended):
    fresh = read_timeline(amended.path)
    for name in fresh.names():  # as the analysis does: each name, then all together
        fresh.buckets(name, 105, 150)
    merged, decoded = fresh.buckets(None), amended.buckets(None)
    assert merged.indptr.tolist() == decoded.indptr.tolist()
    assert merged.index.tolist() == decoded.index.tolist()
    assert merged.counts.tolist() == decoded.counts.tolist()
    for name in fresh.names():
        a, b = fresh.buckets(name, 105, 150), amended.buckets(name, 105, 150)
        assert (a.indptr.tolist(), a.index.tolist()) == (b.indptr.tolist(), b.index.tolist())


@pytest.mark.parametrize("name", [None, "/b", "GET /b", "POST /b", "GET /a", "/nope"])
@pytest.mark.parametrize(("start", "end"), [(None, None), (105, 150), (150, 105)])
def test_counters_are_the_series_records_as_arrays(amended, name, start, end):
    records = amended.series(name, start, end)
    counters = amended.counters(name, start, end)
    assert len(counters) == len(records)
    assert counters.t.tolist() == [r.t for r in records]
    assert counters.count.tolist() == [r.count for r in records]
    assert counters.failures.tolist() == [r.failure_count for r in records]
    assert counters.bytes.tolist() == [r.bytes for r in records]
    assert counters.sum_us.tolist() == [float(r.sum_us) for r in records]
    assert counters.sumsq_us.tolist() == [float(r.sumsq_us) for r in records]
    kinds = {k for r in records for k in r.failures}
    assert set(counters.failures_by_kind) == kinds
    for kind, per_second in counters.failures_by_kind.items():
        assert per_second.tolist() == [r.failures.get(kind, 0) for r in records]


def test_rows_read_a_piece_at_a_time_equal_rows_read_at_once(amended, monkeypatch):
    import framework.timeline.histograms

    rows = amended.buckets(None)
    whole, percentiles = rows.total(), rows.percentiles_us((50, 95, 99.9))
    monkeypatch.setattr(framework.timeline.histograms, "_PIECE", 50)
    assert rows.index.size > 10 * 50
    pieced = rows.total()
    assert (pieced.index.tolist(), pieced.counts_nonzero.tolist()) == (
        whole.index.tolist(),
        whole.counts_nonzero.tolist(),
    )
    np.testing.assert_array_equal(rows.percentiles_us((50, 95, 99.9)), percentiles)


def test_counts_past_16_bits_are_kept_exactly(tmp_path):
    path = tmp_path / "timeline.jsonl"
    busy = RequestSecond.from_latencies(100, "GET", "/busy", [5.0] * 70_000 + [9.0])
    other = RequestSecond.from_latencies(100, "GET", "/other", [5.0] * 3)
    with TimelineWriter(path, created_s=100.0) as writer:
        writer.write_second(Second(t=100, users=1, workers=1, requests=(busy, other)))
    timeline = read_timeline(path)
    for name in timeline.names():  # read each name first, so all-requests is their merge
        timeline.buckets(name)
    for name, expected in (("GET /busy", [70_000, 1]), (None, [70_003, 1])):
        row = timeline.buckets(name).row(0)
        assert row.counts_nonzero.tolist() == expected
        assert row.get_total_count() == sum(expected)


def test_integers_past_64_bits_are_read_exactly(tmp_path):
    path = tmp_path / "timeline.jsonl"
    with TimelineWriter(path, created_s=100.0) as writer:
        r = RequestSecond.from_latencies(100, "GET", "/x", [1.0, 2.0])
        writer.write_second(Second(t=100, users=1, workers=1, requests=(r,)))
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"sumsq_us":5000000', f'"sumsq_us":{2**70}')
    assert str(2**70) in lines[1]
    path.write_text("\n".join(lines) + "\n")
    assert read_timeline(path).total("GET /x").sumsq_us == 2**70


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_leaves_the_garbage_collector_as_it_was(amended, enabled):
    import gc

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        read_timeline(amended.path)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
