"""Timeline version 3: open-model requests, arrivals and per-group load, from recorder to reader."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from framework.timeline.columns import TimelineColumns
from framework.timeline.reader import read_timeline
from framework.timeline.recorder import PAYLOAD_VERSION, SecondRecorder, TimelineMerger
from framework.timeline.records import (
    ALL_GROUPS,
    FILE_NAME,
    ArrivalSecond,
    RequestSecond,
    Second,
)
from framework.timeline.writer import TimelineWriter

T0 = 1_700_000_000
CREATED_S = float(T0)


# --------------------------------------------------------------------------- recorder


def test_record_open_keeps_intended_start_latency_in_the_main_fields_and_service_apart():
    rec = SecondRecorder()
    rec.record_open("/w", "POST", T0 + 0.5, latency_ms=30.0, service_ms=10.0, size_bytes=7,
                    failure_kind=None)  # fmt: skip
    rec.record_open("/w", "POST", T0 + 0.6, latency_ms=50.0, service_ms=20.0, size_bytes=3,
                    failure_kind=None)  # fmt: skip
    rec.record_open("/w", "POST", T0 + 0.7, latency_ms=900.0, service_ms=800.0, size_bytes=0,
                    failure_kind="timeout", failure_message="TimeoutError")  # fmt: skip
    rec.record("/w", "POST", T0 + 0.8, latency_ms=5.0, size_bytes=1, failure_kind=None)
    (record,) = rec.drain(now_s=T0 + 1.1)["records"]
    r = RequestSecond.from_record(record)
    assert (r.count, r.bytes, r.failures) == (4, 11, {"timeout": 1})
    assert (r.sum_us, r.sumsq_us) == (85_000, 30_000**2 + 50_000**2 + 5_000**2)
    assert (r.fail_sum_us, r.failure_messages) == (900_000, {"TimeoutError": 1})
    assert (r.svc_count, r.svc_sum_us, r.svc_sumsq_us) == (2, 30_000, 10_000**2 + 20_000**2)
    assert r.service_mean_us == 15_000
    hist = r.service_histogram()
    assert hist.get_total_count() == 2 and hist.get_max_value() == pytest.approx(20_000, rel=1e-3)
    assert r.histogram.get_total_count() == 3  # the two open successes and the closed one


def test_a_closed_request_record_carries_no_service_fields():
    rec = SecondRecorder()
    rec.record("/ok", "GET", T0 + 0.2, latency_ms=1.0, size_bytes=0, failure_kind=None)
    (record,) = rec.drain(now_s=T0 + 1.0)["records"]
    assert not any(key.startswith("svc_") for key in record)


def test_arrivals_are_keyed_by_their_due_second_with_lag_drops_and_peak_in_flight():
    rec = SecondRecorder()
    rec.record_arrival("writers", due_s=T0 + 0.1, lag_ms=1.0, in_flight=1)
    rec.record_arrival("writers", due_s=T0 + 0.9, lag_ms=400.0, in_flight=3)  # starts at T0+1.3
    rec.record_arrival("writers", due_s=T0 + 0.5, lag_ms=-0.01, in_flight=2)  # clock jitter
    rec.record_dropped("writers", due_s=T0 + 0.95, count=2)
    rec.record_arrival("readers", due_s=T0 + 1.2, lag_ms=2.0, in_flight=1)
    payload = rec.drain(now_s=T0 + 1.5)
    assert payload["v"] == PAYLOAD_VERSION == 4  # version 4 adds custom metrics
    assert msgpack.unpackb(msgpack.packb(payload)) == payload
    found = {(a["t"], a["group"]): a for a in payload["arrivals"]}
    writers = found[(T0, "writers")]
    assert (writers["due"], writers["started"], writers["dropped"]) == (5, 3, 2)
    assert (writers["lag_sum_us"], writers["lag_sumsq_us"]) == (401_000, 1_000**2 + 400_000**2)
    assert writers["in_flight_max"] == 3
    assert ArrivalSecond.from_record(writers).lag_histogram().get_total_count() == 3
    assert found[(T0 + 1, "readers")]["started"] == 1
    assert rec.drain(now_s=T0 + 2)["arrivals"] == []


def test_dropped_only_arrivals_have_no_lag_histogram():
    rec = SecondRecorder()
    rec.record_dropped("spike", due_s=T0 + 0.5)
    (a,) = rec.drain(now_s=T0 + 1)["arrivals"]
    assert (a["due"], a["started"], a["dropped"], a["lag_hist"]) == (1, 0, 1, "")
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        rec.record_dropped("spike", due_s=T0, count=-1)


def test_a_local_drain_of_whole_seconds_keeps_the_open_seconds_arrivals():
    rec = SecondRecorder()
    rec.record_arrival("g", due_s=T0 + 0.5, lag_ms=1.0, in_flight=1)
    rec.record_arrival("g", due_s=T0 + 1.5, lag_ms=1.0, in_flight=1)
    first = rec.drain(now_s=T0 + 1.7, before_s=T0 + 1)
    assert [a["t"] for a in first["arrivals"]] == [T0]
    assert [a["t"] for a in rec.drain(now_s=T0 + 2.1)["arrivals"]] == [T0 + 1]


# --------------------------------------------------------------------------- merger


def _worker(lags_ms: list[float], *, dropped: int = 0, peak: int, due_s: float = T0 + 0.5):
    rec = SecondRecorder()
    for i, lag in enumerate(lags_ms):
        rec.record_arrival("writers", due_s=due_s, lag_ms=lag, in_flight=min(i + 1, peak))
    rec.record_dropped("writers", due_s=due_s, count=dropped)
    rec.record_open("/w", "POST", due_s + 0.1, latency_ms=40.0, service_ms=30.0, size_bytes=0,
                    failure_kind=None)  # fmt: skip
    return rec.drain(now_s=T0 + 1.2)


def test_merged_arrivals_add_counts_and_lags_and_sum_the_workers_peaks():
    merger = TimelineMerger(grace_s=5.0)
    merger.add("w1", _worker([1.0, 2.0, 3.0], peak=3), now_s=T0 + 1.2)
    merger.add("w2", _worker([10.0], dropped=4, peak=1), now_s=T0 + 1.2)
    (second,) = merger.close(now_s=T0 + 1.3).seconds
    (a,) = second.arrivals
    assert (a.group, a.due, a.started, a.dropped) == ("writers", 8, 4, 4)
    assert a.lag_sum_us == 16_000
    assert a.lag_histogram().get_total_count() == 4
    assert a.in_flight_max == 3 + 1  # the sum of the workers' maxima: an upper bound
    (r,) = second.requests
    assert (r.count, r.svc_count, r.sum_us, r.svc_sum_us) == (2, 2, 80_000, 60_000)


def test_a_worker_whose_second_spans_two_reports_counts_its_peak_in_flight_once():
    def report(in_flight: list[int]) -> Any:
        rec = SecondRecorder()
        for n in in_flight:
            rec.record_arrival("writers", due_s=T0 + 0.5, lag_ms=1.0, in_flight=n)
        return rec.drain(now_s=T0 + 1.2)

    merger = TimelineMerger(grace_s=5.0)
    merger.add("w1", report([90, 80]), now_s=T0 + 0.6)
    merger.add("w1", report([100]), now_s=T0 + 1.2)
    merger.add("w2", report([5]), now_s=T0 + 1.2)
    (second,) = merger.close(now_s=T0 + 1.3).seconds
    (a,) = second.arrivals
    assert a.started == 4
    assert a.in_flight_max == 100 + 5  # w1's larger maximum once, plus w2's


def test_arrivals_for_a_released_second_come_back_as_late_corrections(tmp_path):
    merger = TimelineMerger(grace_s=0.0)
    merger.add("w1", _worker([1.0], peak=1), now_s=T0 + 1.2)
    first = merger.close(now_s=T0 + 1.3)
    assert [s.t for s in first.seconds] == [T0]
    # an arrival due in T0 that only started at T0 + 2.1: its second is written already
    late_worker = SecondRecorder()
    late_worker.record_arrival("writers", due_s=T0 + 0.9, lag_ms=1200.0, in_flight=1)
    assert merger.add("w1", late_worker.drain(now_s=T0 + 2.2), now_s=T0 + 2.2) == 1
    result = merger.close(now_s=T0 + 2.3)
    (late,) = result.late_arrivals
    assert (late.t, late.group, late.started, late.lag_sum_us) == (T0, "writers", 1, 1_200_000)
    assert result.late == () and merger.late_arrival_records == 1

    path = tmp_path / FILE_NAME
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for second in (*first.seconds, *result.seconds):
            writer.write_second(second)
        writer.write_late_arrival(late)
    tl = read_timeline(path)
    assert tl.late_records == 1 and tl.end["late_records"] == 1
    a = tl.seconds[0].arrival("writers")
    assert (a.due, a.started, a.lag_sum_us) == (2, 2, 1_201_000)


def test_observed_group_load_is_carried_forward_like_users():
    merger = TimelineMerger(grace_s=0.0)
    merger.observe(T0 + 0.5, users=5, workers=2, active={"readers": 5, "writers": 12})
    merger.observe(T0 + 2.5, users=6, workers=2)
    seconds = merger.close(now_s=T0 + 3.1).seconds
    assert [dict(s.active) for s in seconds] == [
        {"readers": 5, "writers": 12},
        {"readers": 5, "writers": 12},
        {},
    ]


# --------------------------------------------------------------------------- file


def _open_second(t: int, *, active: dict[str, int] | None = None) -> Second:
    requests = (
        RequestSecond.from_latencies(t, "GET", "/closed", [1.0, 2.0]),
        RequestSecond.from_latencies(
            t,
            "POST",
            "/w",
            [40.0, 60.0, 80.0],
            failed_ms=[900.0],
            failures={"timeout": 1},
            service_ms=[30.0, 40.0, 50.0],
        ),
    )
    arrivals = (
        ArrivalSecond.from_lags(t, "spike", [0.5], dropped=1, in_flight_max=2),
        ArrivalSecond.from_lags(t, "writers", [1.0, 2.0, 3.0, 20.0], in_flight_max=5),
    )
    return Second(
        t=t, users=3, workers=1, requests=requests, arrivals=arrivals,
        active=active if active is not None else {"readers": 3, "writers": 4},
    )  # fmt: skip


def _write_open_run(path: Path, seconds: int = 3) -> list[str]:
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        for i in range(seconds):
            writer.write_second(_open_second(T0 + i))
    return path.read_text().splitlines()


def test_a_version_3_timeline_reads_back_every_open_model_field(tmp_path):
    path = tmp_path / FILE_NAME
    lines = [json.loads(line) for line in _write_open_run(path)]
    assert lines[0]["version"] >= 3  # version 4 keeps every version-3 field
    assert [line["type"] for line in lines[1:6]] == ["req", "req", "arr", "arr", "sec"]
    assert lines[5]["active"] == {"readers": 3, "writers": 4}
    assert "svc_count" not in lines[1] and lines[2]["svc_count"] == 3

    tl = read_timeline(path)
    assert tl.damaged_records == 0 and tl.open_model
    assert tl.arrival_groups() == ["spike", "writers"]
    assert tl.seconds[1].active == {"readers": 3, "writers": 4}
    assert tl.seconds[0].arrivals == _open_second(T0).arrivals

    total = tl.total("POST /w")
    assert (total.count, total.svc_count, total.svc_sum_us) == (12, 9, 360_000)
    assert total.sum_us == 3 * 180_000  # the intended-start latencies, successes only
    assert tl.total().svc_count == 9  # the closed requests add no service time
    assert tl.service_histogram("/w").get_total_count() == 9
    assert tl.service_histogram("GET /closed").get_total_count() == 0
    assert tl.service_histogram("/w", T0 + 1, T0 + 2).get_total_count() == 3

    every = tl.arrivals_total()
    assert (every.group, every.due, every.started, every.dropped) == (ALL_GROUPS, 18, 15, 3)
    assert every.in_flight_max == 7  # the groups add within a second; the largest second
    writers = tl.arrivals_total("writers", start_s=T0 + 1)
    assert (writers.t, writers.due, writers.lag_sum_us, writers.in_flight_max) == (
        T0 + 1, 8, 52_000, 5,
    )  # fmt: skip
    assert tl.lag_histogram("writers").get_total_count() == 12
    assert tl.lag_histogram().get_value_at_percentile(100) == pytest.approx(20_000, rel=1e-3)
    assert tl.arrivals_total("nobody").due == 0


def test_columns_give_service_counters_and_histograms_row_for_row(tmp_path):
    path = tmp_path / FILE_NAME
    _write_open_run(path)
    columns = TimelineColumns(read_timeline(path))
    counters = columns.counters("POST /w")
    assert counters.svc_count.tolist() == [3, 3, 3]
    assert counters.svc_sum_us.tolist() == [120_000.0] * 3
    assert columns.counters("GET /closed").svc_count.tolist() == [0, 0, 0]
    rows = columns.service_buckets("POST /w", T0 + 1, T0 + 3)
    assert len(rows) == 2 and rows.total().get_total_count() == 6
    assert columns.service_buckets(None).total().get_total_count() == 9
    assert columns.service_buckets("GET /closed").total().get_total_count() == 0


def test_a_version_2_timeline_reads_as_closed_model_with_no_arrivals(tmp_path):
    path = tmp_path / FILE_NAME
    with TimelineWriter(path, created_s=CREATED_S) as writer:
        writer.write_second(Second(t=T0, users=2, workers=1, requests=(
            RequestSecond.from_latencies(T0, "GET", "/ok", [1.0, 2.0]),
        )))  # fmt: skip
    lines = path.read_text().splitlines()
    header = json.loads(lines[0]) | {"version": 2}
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    tl = read_timeline(path)
    assert not tl.open_model and tl.arrival_groups() == []
    assert tl.seconds[0].arrivals == () and tl.seconds[0].active == {}
    assert tl.total().svc_count == 0 and tl.arrivals_total().due == 0


# --------------------------------------------------------------------------- damage

ARR_LINE = 4  # the "arr" line of group "spike" in the first second
REQ_LINE = 3  # the "req" line of POST /w in the first second
SEC_LINE = 6


def _damaged(tmp_path: Path, line: int, change) -> Any:
    path = tmp_path / FILE_NAME
    lines = _write_open_run(path)
    record = json.loads(lines[line - 1])
    change(record)
    lines[line - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    return read_timeline(path)


def _set(key: str, value: Any):
    return lambda record: record.__setitem__(key, value)


def _other_lags(record: dict[str, Any]) -> None:
    record["lag_hist"] = ArrivalSecond.from_lags(record["t"], "x", [1.0, 2.0]).lag_hist_blobs[0]


ARRIVAL_DAMAGE = {
    "due is not the sum": (_set("due", 7), "arr: due 7 is not started 1 + dropped 1"),
    "negative drops": (_set("dropped", -1), "arr: dropped must be an integer >= 0, got -1"),
    "group not text": (_set("group", 3), "arr: group must be text, got 3"),
    "lags of another count": (_other_lags, "arr: started 1 but 2 in its lag histogram"),
    "lag histogram missing": (_set("lag_hist", ""), "arr: 1 started arrivals with no lag"),
    "negative variance": (_set("lag_sumsq_us", 1), "arr: lag_sumsq_us is too small"),
    "garbled histogram": (_set("lag_hist", "HISTFAAAAxyz"), "arr: its lag histogram: histogram"),
    "late not boolean": (_set("late", "yes"), "arr: late must be true or false, got 'yes'"),
}  # fmt: skip


@pytest.mark.parametrize(("change", "reason"), ARRIVAL_DAMAGE.values(), ids=list(ARRIVAL_DAMAGE))
def test_a_damaged_arrival_line_is_skipped_and_reported(tmp_path, change, reason):
    tl = _damaged(tmp_path, ARR_LINE, change)
    assert tl.damaged_records == 1
    assert tl.damaged[0].line == ARR_LINE and tl.damaged[0].reason.startswith(reason)
    assert tl.seconds[0].arrival("spike") is None  # none of it is in the figures
    assert tl.seconds[0].arrival("writers") is not None
    assert tl.arrivals_total("spike").due == 2 * 2


OTHER_SERVICE = RequestSecond.from_latencies(T0, "GET", "/x", [1.0, 2.0]).hist_blobs[0]
SERVICE_DAMAGE = {
    "more than the successes": (_set("svc_count", 4), "req: svc_count 4 is more than the 3 succ"),
    "count not integer": (_set("svc_count", 2.5), "req: svc_count must be an integer >= 0, got 2"),
    "other count": (_set("svc_hist", OTHER_SERVICE), "req: latencies 3 but 2 in its service"),
    "histogram missing": (_set("svc_hist", ""), "req: svc_count 3 with no service histogram"),
    "negative service variance": (_set("svc_sumsq_us", 1), "req: svc_sumsq_us is too small"),
}  # fmt: skip


@pytest.mark.parametrize(("change", "reason"), SERVICE_DAMAGE.values(), ids=list(SERVICE_DAMAGE))
def test_a_request_line_with_damaged_service_fields_is_skipped_and_reported(
    tmp_path, change, reason
):
    tl = _damaged(tmp_path, REQ_LINE, change)
    assert tl.damaged_records == 1
    assert tl.damaged[0].line == REQ_LINE and tl.damaged[0].reason.startswith(reason)
    assert tl.total("POST /w").count == 2 * 4


def test_a_sec_line_with_a_damaged_active_loses_only_its_gauges(tmp_path):
    tl = _damaged(tmp_path, SEC_LINE, _set("active", {"writers": -2}))
    assert tl.damaged_records == 1 and tl.damaged[0].reason.startswith("sec: active must be")
    assert (tl.seconds[0].users, tl.seconds[0].active) == (None, {})
    assert tl.seconds[0].count == 6 and len(tl.seconds[0].arrivals) == 2


# --------------------------------------------------------------------------- report


def test_swarm_report_reads_a_version_3_timeline_and_its_figures_are_the_main_fields(tmp_path):
    """The v3 additions change no figure of today's report: it reads the main fields."""
    from framework.cli.main import main
    from tests.synthetic import write_run

    plain = write_run(tmp_path / "plain", seconds=40, names=("POST /w",), seed=3)
    opened = write_run(tmp_path / "open", seconds=40, names=("POST /w",), seed=3)
    timeline = read_timeline(opened / FILE_NAME)
    (opened / FILE_NAME).unlink()
    with TimelineWriter(opened / FILE_NAME, created_s=CREATED_S) as writer:
        for second in timeline.seconds:
            writer.write_second(_as_open_model(second))
    assert read_timeline(opened / FILE_NAME).open_model

    assert main(["report", str(plain)]) == main(["report", str(opened)]) == 0
    results = [json.loads((f / "results.json").read_text()) for f in (plain, opened)]
    # the open model adds one quality check, "schedule" (1 of ~38 arrivals dropped each
    # second: it warns); every figure and every other check is the same
    for found in (results[1]["baseline"]["overall"], *results[1]["baseline"]["endpoints"]):
        checks = found["quality"]["checks"]
        assert [c["grade"] for c in checks if c["name"] == "schedule"] == ["warn"]
        found["quality"]["checks"] = [c for c in checks if c["name"] != "schedule"]
        found["quality"]["grade"] = None
    for found in (results[0]["baseline"]["overall"], *results[0]["baseline"]["endpoints"]):
        found["quality"]["grade"] = None
    for key in ("baseline", "steps", "series", "verdict", "budgets", "failures_by_kind"):
        assert results[0][key] == results[1][key], key


def _as_open_model(second: Second) -> Second:
    """A second as an open model would have written it: the same latencies as response
    times from the intended start, service times equal to them, and its arrivals."""
    requests = tuple(
        replace(
            r,
            svc_count=r.latency_count,
            svc_sum_us=r.sum_us,
            svc_sumsq_us=r.sumsq_us,
            svc_hist_blobs=r.hist_blobs,
        )
        for r in second.requests
    )
    started = sum(r.count for r in second.requests)
    arrivals = (ArrivalSecond.from_lags(second.t, "scenario", [0.2] * started, dropped=1),)
    return replace(second, requests=requests, arrivals=arrivals, active={"scenario": 3})


@pytest.mark.parametrize("n", [5000, 20], ids=["vectorised", "few"])
def test_service_times_counted_at_drain_match_a_histogram_recorded_one_by_one(n):
    """The service times are counted at drain (a cell's many in one vectorised pass): exactly
    what recording each latency (``record``'s rounding and bucket) gives, edge values and
    sums past 64 bits included."""
    rng = np.random.default_rng(7)
    service_ms = [
        *rng.lognormal(3, 1.5, n).tolist(),
        0.0, -0.2, 0.0005, 0.0015, 0.0025, 2.047, 2.048, 2.0485, 1e-9,
        3_600_000.0, 5_000_000.0, 123456.789,
    ]  # fmt: skip
    rec = SecondRecorder()
    for ms in service_ms:
        rec.record_open("/w", "POST", T0 + 0.5, ms + 1.0, ms, 0, None)
    got = RequestSecond.from_record(rec.drain(now_s=T0 + 1)["records"][0])
    want = RequestSecond.from_latencies(T0, "POST", "/w", service_ms)
    assert (got.svc_count, got.svc_sum_us) == (want.count, want.sum_us)
    assert got.svc_sumsq_us == float(want.sumsq_us)  # past 2**63: a float on the wire
    got_counts = np.asarray(got.service_histogram().counts)
    assert np.array_equal(got_counts, np.asarray(want.histogram.counts))
