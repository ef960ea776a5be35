"""Values taken from responses for a request's ``metrics:``: each source on literal answers,
and what reaches the recorder (values, and ``missing`` when a source finds nothing)."""

from __future__ import annotations

import re
import time

import pytest

from framework.locust_glue.gauge_poller import PollFailed, gauge_value
from framework.locust_glue.response_metrics import (
    compile_response_metrics,
    extract,
    header_value,
    server_timing_ms,
)
from framework.scenario.custom_metrics import GaugeSpec, ResponseMetric
from framework.timeline.metric_recorder import MetricRecorder
from framework.timeline.metrics_api import Counter, Gauge, Histogram, Meter

BODY = b'{"score": 0.93, "label": "spam", "results": [{"s": 1}, {"s": 2}, {"s": 3}], "n": "7"}'


def _metric(**source: object) -> ResponseMetric:
    return ResponseMetric.model_validate({"name": "m", "unit": "ms", **source})


@pytest.mark.parametrize(
    ("source", "headers", "body", "expected"),
    [
        ({"header": "X-Processing-Ms"}, {"x-processing-ms": " 12.5 "}, b"", 12.5),
        ({"header": "X-Processing-Ms"}, {"X-Processing-Ms": ["3", "4"]}, b"", 3.0),
        ({"header": "X-Processing-Ms"}, {}, b"", None),
        ({"header": "X-Processing-Ms"}, {"X-Processing-Ms": "fast"}, b"", None),
        ({"server_timing": "app"}, {"Server-Timing": "app;dur=12.3"}, b"", 12.3),
        (
            {"server_timing": "db"},
            {"Server-Timing": 'app;dur=12.3, db;desc="x, y";dur=4'},
            b"",
            4.0,
        ),
        ({"server_timing": "db"}, {"Server-Timing": ["app;dur=1", "db;dur=2.5"]}, b"", 2.5),
        ({"server_timing": "DB"}, {"server-timing": "db;dur=7"}, b"", 7.0),
        ({"server_timing": "cache"}, {"Server-Timing": "cache;desc=hit"}, b"", None),
        ({"server_timing": "app"}, {"Server-Timing": "application;dur=9"}, b"", None),
        ({"json_path": "$.score"}, {}, BODY, 0.93),
        ({"json_path": "$.n"}, {}, BODY, 7.0),
        ({"json_path": "$.label"}, {}, BODY, None),
        ({"json_path": "$.results[1].s"}, {}, BODY, 2.0),
        ({"json_path": "$..s"}, {}, BODY, 1.0),
        ({"json_path": "$.missing"}, {}, BODY, None),
        ({"json_path": "$.score"}, {}, b"<html>busy</html>", None),
        ({"count_of": "$.results"}, {}, BODY, 3.0),
        ({"count_of": "$.results[*]"}, {}, BODY, 3.0),
        ({"count_of": "$.score"}, {}, BODY, None),
        ({"count_of": "$.nothing"}, {}, BODY, None),
        ({"body_size": True}, {}, BODY, float(len(BODY))),
        ({"body_size": True}, {}, b"", 0.0),
    ],
)
def test_each_source_finds_its_value_or_nothing(source, headers, body, expected):
    assert extract(_metric(**source), headers, body) == expected


def test_a_negative_value_is_missing_but_for_a_gauge():
    headers = {"X-Delta": "-3"}
    assert extract(_metric(header="X-Delta"), headers, b"") is None
    assert extract(_metric(header="X-Delta", kind="gauge"), headers, b"") == -3.0


def test_server_timing_commas_and_semicolons_inside_quotes_do_not_split_entries():
    value = 'miss, db;desc="a;b, c";dur=53.2, app;dur=47.2'
    assert server_timing_ms([value], "db") == 53.2
    assert server_timing_ms([value], "app") == 47.2
    assert server_timing_ms([value], "miss") is None


def test_a_header_is_found_in_any_case_and_every_value_is_kept():
    assert header_value({"Server-Timing": ["a", "b"]}, "server-timing") == ["a", "b"]
    assert header_value({}, "X") == []


def _handles(recorder: MetricRecorder):  # type: ignore[no-untyped-def]
    classes = {"histogram": Histogram, "counter": Counter, "gauge": Gauge, "meter": Meter}
    verbs = {"histogram": "record", "counter": "add", "gauge": "set", "meter": "mark"}

    def handle(spec: ResponseMetric):  # type: ignore[no-untyped-def]
        made = classes[spec.kind](recorder, spec.name, spec.unit, dict(spec.dims))
        return getattr(made, verbs[spec.kind]), made.missing

    return handle


def test_recorded_values_and_missing_ones_reach_the_recorder():
    recorder = MetricRecorder()
    specs = [
        ResponseMetric.model_validate(spec)
        for spec in (
            {"name": "detector.server_ms", "unit": "ms", "server_timing": "app",
             "dims": {"model": "fast"}},
            {"name": "detector.score", "unit": "1", "json_path": "$.score"},
            {"name": "detector.bytes", "unit": "bytes", "kind": "counter", "body_size": True},
            {"name": "detector.items", "unit": "items", "kind": "meter", "count_of": "$.results"},
        )
    ]  # fmt: skip
    metrics = compile_response_metrics(specs, _handles(recorder))
    assert metrics is not None
    metrics.record_parts({"Server-Timing": "app;dur=12"}, BODY)
    metrics.record_parts({"Server-Timing": "app;dur=20"}, b'{"error": "busy"}')
    records = {r["name"]: r for r in recorder.drain(time.time() + 5)}
    server = records["detector.server_ms"]
    assert (server["count"], server["sum"], server["dims"]) == (2, 32, {"model": "fast"})
    assert "missing" not in server
    score = records["detector.score"]
    assert (score["count"], score["sum"], score["missing"]) == (1, 0.93, 1)
    assert records["detector.bytes"]["sum"] == len(BODY) + len(b'{"error": "busy"}')
    items = records["detector.items"]
    assert (items["sum"], items["missing"]) == (3, 1)


def test_a_request_without_metrics_compiles_to_nothing():
    assert compile_response_metrics([]) is None


def test_a_response_that_never_arrived_is_not_measured():
    recorder = MetricRecorder()
    metrics = compile_response_metrics([_metric(body_size=True)], _handles(recorder))
    assert metrics is not None

    class NoAnswer:
        status_code = 0
        headers = None
        content = None

    metrics.record(NoAnswer())
    metrics.record(None)
    assert recorder.drain(time.time() + 5) == []


GAUGE = {"name": "detector.queue.depth", "unit": "jobs", "url": "http://h/q"}


@pytest.mark.parametrize(
    ("source", "status", "headers", "body", "expected"),
    [
        ({"json_path": "$.depth"}, 200, {}, b'{"depth": 7}', 7.0),
        ({"header": "X-Depth"}, 200, {"x-depth": "3"}, b"", 3.0),
        ({"regex": r"queue_depth (\d+)"}, 200, {}, b"# x\nqueue_depth 42\n", 42.0),
        ({"regex": r"\d+"}, 200, {}, b"depth=5", 5.0),
    ],
)
def test_a_polled_gauge_reads_its_value(source, status, headers, body, expected):
    assert gauge_value(GaugeSpec.model_validate({**GAUGE, **source}), status, headers, body) == (
        expected
    )


@pytest.mark.parametrize(
    ("source", "status", "body", "why"),
    [
        ({"json_path": "$.depth"}, 503, b'{"depth": 7}', "status 503"),
        ({"json_path": "$.depth"}, 200, b"busy", "the answer is not JSON"),
        ({"json_path": "$.depth"}, 200, b"{}", "$.depth found nothing"),
        ({"json_path": "$.depth"}, 200, b'{"depth": "many"}', "json_path $.depth is not a number"),
        ({"header": "X-Depth"}, 200, b"", "no header X-Depth"),
        ({"regex": r"depth (\d+)"}, 200, b"", "found nothing"),
    ],
)
def test_a_failed_poll_says_why(source, status, body, why):
    with pytest.raises(PollFailed, match=re.escape(why)):
        gauge_value(GaugeSpec.model_validate({**GAUGE, **source}), status, {}, body)
