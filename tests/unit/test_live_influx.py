"""The InfluxDB points of a closed second, the sink's settings and its bounded buffer."""

from __future__ import annotations

import re

import pytest

from framework.live.influx import (
    InfluxSettings,
    PointBuffer,
    influx_settings,
    second_points,
    state_point,
)
from framework.timeline.histograms import percentiles_us
from framework.timeline.records import RequestSecond, Second

T = 1_800_000_000


def _fields(line: str) -> dict[str, str]:
    """The field set of a line-protocol line (values as written)."""
    _head, fields, _t = re.split(r"(?<!\\) ", line)
    return dict(item.split("=", 1) for item in re.split(r",(?=[a-z0-9_]+=)", fields))


def _second(*records: RequestSecond, users: int | None = 8) -> Second:
    return Second(t=T, users=users, workers=2, requests=records)


def test_each_name_gets_its_counts_and_the_percentiles_of_its_histogram():
    ok = RequestSecond.from_latencies(T, "GET", "/ok", [1.0, 2.0, 3.0, 40.0], bytes=400)
    lines = second_points(_second(ok), run_id="r1", scenario="smoke", state="running")
    assert lines[0].startswith("swarm_requests,run_id=r1,scenario=smoke,name=/ok,method=GET ")
    assert lines[0].endswith(f" {T}")
    fields = _fields(lines[0])
    assert (fields["count"], fields["failures"], fields["bytes"]) == ("4i", "0i", "400i")
    assert float(fields["rps"]) == 4.0
    assert float(fields["mean_ms"]) == pytest.approx(11.5)
    expected = percentiles_us(ok.histogram, (50, 90, 95, 99, 100))
    for label, value_us in zip(("p50", "p90", "p95", "p99", "max"), expected, strict=True):
        assert float(fields[f"{label}_ms"]) == value_us / 1000


def test_records_of_one_name_from_two_workers_are_added_before_their_percentiles():
    a = RequestSecond.from_latencies(T, "GET", "/x", [1.0] * 90)
    b = RequestSecond.from_latencies(T, "GET", "/x", [100.0] * 10)
    lines = second_points(_second(a, b), run_id="r", scenario="s", state="running")
    fields = _fields(lines[0])
    assert fields["count"] == "100i"
    assert float(fields["p50_ms"]) == pytest.approx(1.0, rel=1e-3)
    assert float(fields["p95_ms"]) == pytest.approx(100.0, rel=1e-3)
    assert len([x for x in lines if x.startswith("swarm_requests")]) == 1


def test_failures_get_a_point_per_kind_and_no_latency_without_a_success():
    failed = RequestSecond.from_latencies(
        T, "POST", "/detect", [], failures={"HTTP 500": 2, "timeout": 1}, failed_ms=[5, 5, 9]
    )
    lines = second_points(_second(failed), run_id="r", scenario="s", state="running")
    fields = _fields(lines[0])
    assert (fields["count"], fields["failures"], fields["timeouts"]) == ("3i", "3i", "1i")
    assert not any(key.endswith("_ms") for key in fields)
    kinds = [x for x in lines if x.startswith("swarm_failures")]
    assert kinds == [
        f"swarm_failures,run_id=r,scenario=s,name=/detect,method=POST,kind=HTTP\\ 500 count=2i {T}",
        f"swarm_failures,run_id=r,scenario=s,name=/detect,method=POST,kind=timeout count=1i {T}",
    ]


def test_the_run_point_carries_load_totals_and_state():
    a = RequestSecond.from_latencies(T, "GET", "/a", [1.0, 2.0])
    b = RequestSecond.from_latencies(T, "GET", "/b", [], failures={"HTTP 500": 1}, failed_ms=[1])
    run = second_points(_second(a, b), run_id="r", scenario="s", state="stopping")[-1]
    assert run.startswith("swarm_run,run_id=r,scenario=s ")
    fields = _fields(run)
    assert fields == {
        "users": "8i",
        "workers": "2i",
        "requests": "3i",
        "failures": "1i",
        "rps": "3.0",
        "paused": "0i",
        "state": '"stopping"',
    }


def test_a_paused_second_says_so_and_a_second_without_a_load_sample_leaves_it_out():
    run = second_points(
        _second(users=None), run_id="r", scenario="s", state="running", counted=False
    )
    fields = _fields(run[-1])
    assert (fields["paused"], fields["state"]) == ("1i", '"paused"')
    assert "users" not in fields


def test_tag_values_and_strings_are_escaped_for_line_protocol():
    odd = RequestSecond.from_latencies(T, "GET", "/a b,c=d", [1.0])
    lines = second_points(_second(odd), run_id="r 1", scenario='my "scn"', state="running")
    assert lines[0].startswith(
        'swarm_requests,run_id=r\\ 1,scenario=my\\ "scn",name=/a\\ b\\,c\\=d,'
    )
    assert state_point(T, run_id="r", scenario="s", state='x"y') == (
        f'swarm_run,run_id=r,scenario=s state="x\\"y" {T}'
    )


def test_settings_come_from_influxdb_clients_variables():
    assert influx_settings({}) is None
    found = influx_settings(
        {
            "INFLUXDB_V2_URL": "http://u:pw@db:8086",
            "INFLUXDB_V2_ORG": "o",
            "INFLUXDB_V2_BUCKET": "b",
            "INFLUXDB_V2_TOKEN": "tok-secret",
        }
    )
    assert found == InfluxSettings(
        url="http://u:pw@db:8086", org="o", bucket="b", token="tok-secret"
    )
    assert "tok-secret" not in repr(found) and "pw" not in repr(found)
    assert found.shown_url == "http://u:***@db:8086"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"INFLUXDB_V2_URL": "db:8086", "INFLUXDB_V2_BUCKET": "b"}, "INFLUXDB_V2_URL"),
        ({"INFLUXDB_V2_URL": "http://db:99999", "INFLUXDB_V2_BUCKET": "b"}, "INFLUXDB_V2_URL"),
        ({"INFLUXDB_V2_URL": "http://db:8086"}, "INFLUXDB_V2_BUCKET"),
    ],
)
def test_settings_that_cannot_work_name_the_variable(environ, named):
    with pytest.raises(ValueError, match=named):
        influx_settings(environ)


def test_buffer_keeps_the_newest_points_up_to_its_bound_and_counts_the_rest():
    buffer = PointBuffer(bound=5)
    assert buffer.add([f"p{i}" for i in range(4)]) == 0
    assert buffer.add(["p4", "p5", "p6"]) == 2
    assert buffer.take(2) == ["p2", "p3"]
    buffer.add(["p7", "p8"])
    assert buffer.put_back(["p2", "p3"]) == 2  # newer points filled the room meanwhile
    assert buffer.take(10) == ["p4", "p5", "p6", "p7", "p8"]
    assert buffer.dropped == 4
    buffer.add(["p9"])
    assert buffer.drop_all() == 1 and buffer.dropped == 5 and len(buffer) == 0


def test_points_put_back_are_sent_first_in_their_order():
    buffer = PointBuffer(bound=10)
    buffer.add(["a", "b", "c", "d"])
    batch = buffer.take(3)
    buffer.add(["e"])
    buffer.put_back(batch)
    assert buffer.take(10) == ["a", "b", "c", "d", "e"]


def test_each_open_group_gets_a_swarm_arrivals_point_with_counts_lags_and_in_flight():
    from framework.timeline.records import ArrivalSecond

    arrivals = (
        ArrivalSecond.from_lags(T, "writers", [1.0, 2.0, 3.0, 90.0], dropped=1, in_flight_max=6),
        ArrivalSecond(t=T, group="stuck", due=3, dropped=3),
    )
    second = Second(t=T, users=0, workers=1, arrivals=arrivals, active={"writers": 5})
    lines = second_points(second, run_id="r1", scenario="s", state="running")
    points = [line for line in lines if line.startswith("swarm_arrivals,")]
    assert [p.split(" ")[0] for p in points] == [
        "swarm_arrivals,run_id=r1,scenario=s,group=writers",
        "swarm_arrivals,run_id=r1,scenario=s,group=stuck",
    ]
    writers, stuck = (_fields(p) for p in points)
    assert (writers["due"], writers["started"], writers["dropped"]) == ("5i", "4i", "1i")
    assert (writers["in_flight"], writers["in_flight_max"]) == ("5i", "6i")
    assert float(writers["lag_p50_ms"]) == 2.0
    assert float(writers["lag_p99_ms"]) == pytest.approx(90.0, rel=0.001)
    assert float(writers["lag_mean_ms"]) == 24.0
    assert "lag_p99_ms" not in stuck and "in_flight" not in stuck  # none started, none reported
    assert lines[-1].startswith("swarm_run,")  # the run's point stays last


def test_late_arrivals_rewrite_their_seconds_point_whole_while_it_is_remembered():
    from framework.live.influx import ArrivalSeconds, arrival_point
    from framework.timeline.records import ArrivalSecond

    seconds = ArrivalSeconds(keep_s=10)
    seconds.note(Second(t=T, arrivals=(ArrivalSecond.from_lags(T, "w", [1.0] * 9),)))
    whole = seconds.amended(ArrivalSecond.from_lags(T, "w", [800.0], dropped=2))
    fields = _fields(arrival_point(whole, run_id="r", scenario="s"))
    assert (fields["due"], fields["started"], fields["dropped"]) == ("12i", "10i", "2i")
    again = seconds.amended(ArrivalSecond.from_lags(T, "w", [1.0]))
    assert again.started == 11  # the correction is kept for the next one
    seconds.note(Second(t=T + 11))
    assert seconds.amended(ArrivalSecond.from_lags(T, "w", [1.0])) is None  # forgotten
