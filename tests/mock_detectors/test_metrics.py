"""Metrics from every process add up, and the text parses as Prometheus exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mock_detectors.metrics import ENDPOINTS, MetricsBoard, render

DETECT = ENDPOINTS.index("detect")
HEALTH = ENDPOINTS.index("health")


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_counts_from_all_process_slots_are_summed() -> None:
    board = MetricsBoard(processes=3)
    for index, count in enumerate((2, 3, 5)):
        writer = board.writer(index)
        for _ in range(count):
            writer.started()
            writer.finished(DETECT, 200, 0.004)
    writer = board.writer(1)
    writer.started()
    writer.finished(HEALTH, 503, 0.0001)
    writer.started()  # still in flight
    found = samples(render([("d", board)], lambda _: ([], 0.0)))
    key = (("detector", "d"), ("endpoint", "detect"), ("status", "200"))
    assert found[("mock_detector_requests_total", key)] == 10
    health = (("detector", "d"), ("endpoint", "health"), ("status", "503"))
    assert found[("mock_detector_requests_total", health)] == 1
    assert found[("mock_detector_in_flight_requests", (("detector", "d"),))] == 1


def test_histogram_buckets_are_cumulative_with_le_semantics() -> None:
    board = MetricsBoard(processes=1)
    writer = board.writer(0)
    for seconds in (0.05, 0.05, 0.051, 2.0, 100.0):
        writer.started()
        writer.finished(DETECT, 200, seconds)
    found = samples(render([("d", board)], lambda _: ([], 0.0)))

    def bucket(le: str) -> float:
        labels = (("detector", "d"), ("endpoint", "detect"), ("le", le))
        return found[("mock_detector_request_duration_seconds_bucket", labels)]

    assert bucket("0.05") == 2  # an observation equal to a bound counts in that bucket
    assert bucket("0.1") == 3
    assert bucket("2.5") == 4
    assert bucket("60") == 4
    assert bucket("+Inf") == 5
    count = (("detector", "d"), ("endpoint", "detect"))
    assert found[("mock_detector_request_duration_seconds_count", count)] == 5
    sum_s = found[("mock_detector_request_duration_seconds_sum", count)]
    assert sum_s == pytest.approx(102.151)


def test_active_fault_kinds_are_one_and_others_zero() -> None:
    board = MetricsBoard(processes=1)
    found = samples(render([("d", board)], lambda _: (["outage"], 4.5)))

    def gauge(kind: str) -> float:
        return found[("mock_detector_active_faults", (("detector", "d"), ("fault", kind)))]

    assert gauge("outage") == 1 and gauge("error_rate") == 0 and gauge("latency") == 0
    assert found[("mock_detector_fault_remaining_seconds", (("detector", "d"),))] == 4.5
