"""No verdict without evidence (design contract 6), on literal timelines and results.

A run whose window is empty, holds no request, or holds only failures is failed with its
reason; latency figures and latency budgets rest on successful requests only, and the
failures' latencies are kept apart, with figures of their own.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from framework.cli.main import main
from framework.scenario.budgets import Budgets
from framework.timeline.reader import read_timeline
from framework.timeline.records import RequestSecond, Second
from framework.timeline.writer import TimelineWriter
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.rules import budget_verdicts, evidence_problems
from tests.synthetic import START_S, write_run
from tests.unit.verdicts.test_budgets import endpoint, fig, window

SECONDS = 40


def _refused(ms: float, n: int) -> tuple[list[float], dict[str, int]]:
    return [ms] * n, {"ConnectionRefusedError": n}


def _run_folder(tmp_path, make_second, *, budgets=None):
    """A synthetic run folder whose timeline (version 2) is ``make_second(t)`` per second."""
    folder = write_run(tmp_path / "run", seconds=SECONDS, budgets=budgets)
    (folder / "timeline.jsonl").unlink()
    with TimelineWriter(folder / "timeline.jsonl", created_s=START_S - 1.0) as writer:
        for i in range(SECONDS):
            t = START_S + i
            writer.write_second(Second(t=t, users=10, workers=1, requests=make_second(t)))
    return folder


def _results(folder, budgets=None):
    options = ReportOptions(budgets=Budgets.model_validate(budgets) if budgets else None)
    results, _ = build_results(load_run(folder), options, created_at="2024-01-01T00:00:00Z")
    return results


# --------------------------------------------------------------------------- the rules


def test_a_window_with_successes_has_evidence():
    ok = dataclasses.replace(endpoint("Aggregated", ""), count=100, failures=99)
    assert evidence_problems(window(overall=ok)) == []


def test_no_request_in_the_window_fails_with_the_reason():
    empty = dataclasses.replace(endpoint("Aggregated", ""), count=0)
    (reason,) = evidence_problems(window(overall=empty))
    assert reason.startswith("no request completed in the analysed window (300 s)")


def test_an_empty_window_fails_with_the_reason():
    empty = dataclasses.replace(window(), start_s=100, end_s=100)
    (reason,) = evidence_problems(empty)
    assert reason.startswith("the analysed window is empty (0 s)")


def test_only_failures_fail_with_the_kinds_named():
    failed = dataclasses.replace(
        endpoint("Aggregated", ""),
        count=30,
        failures=30,
        failures_by_kind={"template": 10, "ConnectionRefusedError": 20},
    )
    assert evidence_problems(window(overall=failed)) == [
        "no request succeeded: all 30 requests failed (ConnectionRefusedError: 20, template: 10)"
    ]


def test_a_latency_budget_on_failures_only_fails_even_with_a_fast_mixed_figure():
    # a version-1 timeline mixed 1 ms connection refusals into p95: that is no evidence
    refused = dataclasses.replace(
        endpoint(p95_ms=fig(1.0, 0.9, 1.1), error_rate=fig(1.0, 0.99, 1.0)),
        failures=1000,
        failures_by_kind={"ConnectionRefusedError": 1000},
    )
    budgets = Budgets.model_validate({"requests": {"/detect": {"p95_ms": 500, "error_rate": 1.0}}})
    p95, errors = budget_verdicts(window(refused), budgets)
    assert p95.verdict == "fail"
    assert "no successful request to measure (all 1000 failed; ConnectionRefusedError: 1000)" in (
        p95.message
    )
    assert errors.verdict == "pass"  # the error rate itself is measured


# --------------------------------------------------------------------------- from a timeline


def test_target_down_fails_a_p95_budget_and_the_run_with_reasons(tmp_path):
    folder = _run_folder(
        tmp_path,
        lambda t: (
            RequestSecond.from_latencies(
                t, "GET", "/x", [], failed_ms=_refused(1.0, 50)[0], failures=_refused(1.0, 50)[1]
            ),
        ),
    )
    results = _results(folder, {"overall": {"p95_ms": 500}})
    assert results.verdict == "failed"
    assert results.evidence[0].startswith("no request succeeded: all ")
    (budget,) = results.budgets
    assert budget.verdict == "fail" and "no successful request to measure" in budget.message
    overall = results.baseline.overall
    assert overall.p95_ms.value is None and overall.mean_ms.value is None
    assert overall.failure_latency is not None
    assert overall.failure_latency.mean_ms == pytest.approx(1.0)


def test_failures_latencies_are_kept_apart_from_the_successes(tmp_path):
    ok_ms = [10.0, 20.0, 30.0, 40.0]
    folder = _run_folder(
        tmp_path,
        lambda t: (
            RequestSecond.from_latencies(
                t, "GET", "/x", ok_ms, failed_ms=[1.0, 3.0], failures={"HTTP 503": 2}
            ),
        ),
    )
    results = _results(folder)
    overall = results.baseline.overall
    assert overall.failures / overall.count == pytest.approx(2 / 6)
    assert overall.mean_ms.value == pytest.approx(25.0)  # successes only, not 17.3
    assert overall.min_ms == pytest.approx(10.0, rel=1e-3)
    assert overall.failure_latency.mean_ms == pytest.approx(2.0)
    assert overall.failure_latency.max_ms == pytest.approx(3.0, rel=1e-3)
    assert results.settings["failures_in_latency"] is False
    assert results.evidence == ()


def test_a_version_1_timeline_is_read_with_failures_in_its_latencies(tmp_path):
    path = tmp_path / "timeline.jsonl"
    with TimelineWriter(path, created_s=99.0) as writer:
        r = RequestSecond.from_latencies(100, "GET", "/x", [1.0, 3.0], failures={"HTTP 500": 1})
        writer.write_second(Second(t=100, users=1, workers=1, requests=(r,)))
    lines = path.read_text().splitlines()
    header = json.loads(lines[0]) | {"version": 1}
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    tl = read_timeline(path)
    total = tl.total("GET /x")
    assert tl.failures_in_latency and total.failures_in_latency
    assert (total.latency_count, total.mean_us, total.failure_mean_us) == (2, 2000.0, None)


def test_recorded_failures_keep_their_own_histogram():
    from framework.timeline.recorder import SecondRecorder

    rec = SecondRecorder()
    rec.record("/x", "GET", t_s=100.1, latency_ms=50.0, size_bytes=1, failure_kind=None)
    rec.record("/x", "GET", t_s=100.2, latency_ms=1.0, size_bytes=0, failure_kind="timeout")
    (record,) = rec.drain(now_s=101.0)["records"]
    r = RequestSecond.from_record(record)
    assert (r.latency_count, r.mean_us, r.failure_mean_us) == (1, 50_000.0, 1000.0)
    assert r.histogram.get_total_count() == 1 and r.failure_histogram.get_total_count() == 1


# --------------------------------------------------------------------------- the CLI


def test_report_of_a_run_without_success_exits_1_with_the_reason(tmp_path, capsys):
    folder = _run_folder(
        tmp_path,
        lambda t: (
            RequestSecond.from_latencies(
                t, "GET", "/x", [], failed_ms=[0.0], failures={"template": 1}
            ),
        ),
    )
    assert main(["report", str(folder)]) == 1
    results = json.loads((folder / "results.json").read_text())
    assert results["verdict"] == "failed"
    assert results["evidence"] == [results["reasons"][0]]
    assert "no request succeeded" in results["reasons"][0]
    out = capsys.readouterr().out
    assert out.startswith("swarm report: FAILED")
    assert "template: " in (folder / "report.md").read_text()
    assert 'type="evidence"' in (folder / "junit.xml").read_text()
