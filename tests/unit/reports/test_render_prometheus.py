"""metrics.prom: parseable exposition, cumulative histograms, escaped labels, verdict codes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from framework.reports.prometheus import render_prometheus
from tests.fixtures.results import result_builders as rb


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _samples(families: dict, family: str, sample: str | None = None, **labels) -> list:
    return [
        s
        for s in families[family].samples
        if (sample is None or s.name == sample)
        and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_every_fixture_parses_as_prometheus_text():
    for build in (rb.sample_results, rb.stepped_results, rb.passing_results, rb.empty_results):
        assert _families(render_prometheus(build()))


def test_histogram_buckets_are_cumulative_and_end_at_the_count():
    results = rb.sample_results()
    families = _families(render_prometheus(results))
    hist = families["swarm_request_duration_milliseconds"]
    assert hist.type == "histogram"
    detect = _samples(families, hist.name, f"{hist.name}_bucket", name="/detect", method="POST")
    les = [s.labels["le"] for s in detect]
    assert les == [str(b) for b in rb.BUCKETS_MS] + ["+Inf"]
    counts = [s.value for s in detect]
    assert counts == sorted(counts)
    assert counts[-1] == 3000
    (count,) = _samples(families, hist.name, f"{hist.name}_count", name="/detect")
    assert count.value == 3000


def test_histogram_without_buckets_still_has_inf_sum_and_count():
    families = _families(render_prometheus(rb.empty_results()))
    name = "swarm_request_duration_milliseconds"
    assert [s.labels["le"] for s in _samples(families, name, f"{name}_bucket")] == ["+Inf"]


def test_latency_gauges_carry_the_interval_as_bound_labels():
    families = _families(render_prometheus(rb.sample_results()))
    p95 = {
        s.labels["bound"]: s.value
        for s in _samples(families, "swarm_latency_milliseconds", name="/detect", stat="p95")
    }
    assert p95 == {"estimate": 140.0, "low": 134.4, "high": 145.6}
    censored = _samples(families, "swarm_latency_censored", name=rb.QUOTED, stat="p99")
    assert censored[0].value == 1


def test_counters_count_requests_and_failures_by_kind():
    families = _families(render_prometheus(rb.sample_results()))
    assert families["swarm_requests"].type == "counter"
    (total,) = _samples(families, "swarm_requests", name="Aggregated")
    assert total.value == 4000
    kinds = {
        s.labels["kind"]: s.value
        for s in _samples(families, "swarm_request_failures_by_kind", name="/detect")
    }
    assert kinds == {"HTTP 500": 20, "timeout": 10}


def test_budget_status_is_one_zero_or_minus_one():
    families = _families(render_prometheus(rb.sample_results()))
    status = {
        (s.labels["scope"], s.labels["metric"]): s.value
        for s in families["swarm_budget_status"].samples
    }
    assert status[("overall", "p95_ms")] == 1
    assert status[("/detect", "p95_ms")] == 0
    assert status[(rb.HOSTILE, "p99_ms")] == -1
    (verdict,) = families["swarm_run_verdict"].samples
    assert verdict.value == 0


def test_hostile_label_values_are_escaped_and_parse_back_exactly():
    text = render_prometheus(rb.sample_results())
    assert '\\"hi\\"' in text and "\\\\ back\\nslash" in text
    families = _families(text)
    names = {s.labels.get("name") for s in families["swarm_requests"].samples}
    assert {rb.HOSTILE, rb.QUOTED} <= names


def test_steps_and_comparisons_are_exported():
    families = _families(render_prometheus(rb.stepped_results()))
    steps = {s.labels["step"] for s in families["swarm_step_throughput_rps"].samples}
    assert steps == {"step 1", "step 2", "step 3", "step 4"}
    families = _families(render_prometheus(rb.sample_results()))
    verdicts = {
        (s.labels["scope"], s.labels["metric"]): s.value
        for s in families["swarm_comparison_verdict"].samples
    }
    assert verdicts[("overall", "p95")] == -1
    assert verdicts[(f"GET {rb.HOSTILE}", "mean")] == 1
