"""A request's ``metrics:`` and the ``gauges:`` section: what loads, and what is reported
where (file:line:column, field, what is allowed) when it does not."""

from __future__ import annotations

import textwrap

import pytest

from framework.errors import ScenarioError
from framework.scenario import custom_metrics, request
from framework.scenario.custom_metrics import GaugeSpec, ResponseMetric
from framework.scenario.loader import load_scenario
from framework.timeline import metric_recorder, metric_records

FILE = "scenario.yaml"
SOURCES = "header, json_path, server_timing, body_size: true, count_of"


def _scenario(metrics: str = "", gauges: str = "", host: str = "host: http://127.0.0.1:1\n") -> str:
    text = (
        "name: t\n"
        f"{host}"
        "users:\n"
        "  - name: u\n"
        "    requests:\n"
        "      - path: /detect\n"
        "        metrics:\n"
        f"{textwrap.indent(textwrap.dedent(metrics), '          ')}"
        "    flow:\n"
        "      - path: /step\n"
        "        metrics: [{name: step.ms, unit: ms, header: X-Step-Ms}]\n"
        "load: {shape: constant, users: 1, duration: 5s}\n"
    )
    if gauges:
        text += "gauges:\n" + textwrap.indent(textwrap.dedent(gauges), "  ")
    return text


def _problems(tmp_path, monkeypatch, text: str, **options) -> list[tuple[int | None, str, str]]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(FILE, env={}, **options)
    return [(p.line, p.path, p.message) for p in info.value.problems]


def test_every_source_and_a_gauge_load_with_dimensions_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = _scenario(
        """\
        - {name: detector.server_ms, unit: ms, server_timing: app, dims: {model: "${MODEL:-fast}"}}
        - {name: detector.processing_ms, unit: ms, header: X-Processing-Ms}
        - {name: detector.score, unit: "1", json_path: $.score, kind: gauge}
        - {name: detector.bytes, unit: bytes, body_size: true, kind: counter}
        - {name: detector.items, unit: items, count_of: $.results, kind: meter, dims: {n: 3}}
        """,
        "- {name: detector.queue.depth, unit: jobs, path: /admin/queue, json_path: $.depth}\n",
    )
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    loaded = load_scenario(FILE, env={"MODEL": "slow"})
    metrics = loaded.scenario.users[0].requests[0].metrics
    assert [m.source for m in metrics] == [
        "server_timing app",
        "header X-Processing-Ms",
        "json_path $.score",
        "body_size",
        "count_of $.results",
    ]
    assert metrics[0].dims == {"model": "slow"} and metrics[0].kind == "histogram"
    assert metrics[4].dims == {"n": "3"}
    assert loaded.scenario.users[0].flow[0].metrics[0].name == "step.ms"
    gauge = loaded.scenario.gauges[0]
    assert (gauge.every, gauge.timeout_s, gauge.kind) == (1.0, 1.0, "gauge")
    assert gauge.target("http://h:8/") == "http://h:8/admin/queue"


@pytest.mark.parametrize(
    ("metrics", "gauges", "expected"),
    [
        pytest.param(
            "- {name: 1bad, unit: ms, header: X}\n",
            "",
            [(8, "users[0].requests[0].metrics[0].name",
              "a metric name is identifiers joined by dots (letters, digits and _, not starting "
              "with a digit), like detector.queue.depth; got '1bad'")],
            id="name-not-an-identifier-path",
        ),
        pytest.param(
            "- {name: a.b, unit: ms}\n",
            "",
            [(8, "users[0].requests[0].metrics[0]",
              f"a metric takes exactly one source of {SOURCES} (found: none)")],
            id="no-source",
        ),
        pytest.param(
            "- {name: a.b, unit: ms, header: X, json_path: $.x}\n",
            "",
            [(8, "users[0].requests[0].metrics[0]",
              f"a metric takes exactly one source of {SOURCES} (found: header, json_path)")],
            id="two-sources",
        ),
        pytest.param(
            "- {name: a.b, unit: ms, json_path: '$[[['}\n",
            "",
            [(8, "users[0].requests[0].metrics[0].json_path",
              "invalid JSONPath '$[[[': Parse error at 1:2 near token [ ([)")],
            id="json-path-does-not-parse",
        ),
        pytest.param(
            "- {name: a.b, unit: ms, header: X, kind: timer}\n",
            "",
            [(8, "users[0].requests[0].metrics[0].kind",
              "Input should be 'histogram', 'counter', 'gauge' or 'meter' (found 'timer')")],
            id="kind-not-allowed",
        ),
        pytest.param(
            "- {name: a.b, unit: ms, header: X, dims: {unit: x}}\n",
            "",
            [(8, "users[0].requests[0].metrics[0].dims",
              "dimension name 'unit' is reserved (kind, name, unit label the metric itself); "
              "pick another, like unit_")],
            id="reserved-dimension",
        ),
        pytest.param(
            "- {name: a.b, unit: 'm s', header: X}\n",
            "",
            [(8, "users[0].requests[0].metrics[0].unit",
              "a unit is 1 to 32 letters, digits or _ % / . - (ms, s, bytes, items, jobs, 1); "
              "got 'm s'")],
            id="unit-not-a-unit",
        ),
        pytest.param(
            "- {name: step.ms, unit: s, header: X}\n",
            "",
            [(11, "users[0].flow[0].metrics[0]",
              "metric 'step.ms' is a histogram in 'ms' here but a histogram in 's' at "
              "users[0].requests[0].metrics[0]; one name keeps one kind and one unit: rename "
              "one, or make them agree")],
            id="one-name-two-units",
        ),
        pytest.param(
            "- {name: q, unit: jobs, header: X}\n",
            "- {name: q, unit: jobs, path: /q, json_path: $.depth}\n",
            [(14, "gauges[0]",
              "metric 'q' is a gauge in 'jobs' here but a histogram in 'jobs' at "
              "users[0].requests[0].metrics[0]; one name keeps one kind and one unit: rename "
              "one, or make them agree")],
            id="one-name-two-kinds",
        ),
        pytest.param(
            "- {name: a, unit: ms, header: X}\n",
            "- {name: q, unit: jobs}\n",
            [(14, "gauges[0]", "a gauge polls path: (on the scenario's host) or url: (a full URL)"),
             (14, "gauges[0]",
              "a gauge takes exactly one source of json_path, header, regex (found: none)")],
            id="gauge-without-path-or-source",
        ),
        pytest.param(
            "- {name: a, unit: ms, header: X}\n",
            "- {name: q, unit: jobs, url: 'ftp://x', regex: '(', every: 10ms}\n",
            [(14, "gauges[0].url", "url must be an http:// or https:// URL, got 'ftp://x'"),
             (14, "gauges[0].regex",
              "invalid regular expression: missing ), unterminated subpattern at position 0 "
              "(found '(')"),
             (14, "gauges[0].every",
              "must be at least 100ms: a gauge is polled, not loaded; got 10ms")],
            id="gauge-bad-url-regex-interval",
        ),
    ],
)  # fmt: skip
def test_bad_metrics_are_reported_where_they_are_written(
    tmp_path, monkeypatch, metrics, gauges, expected
):
    assert _problems(tmp_path, monkeypatch, _scenario(metrics, gauges)) == expected


def test_a_gauge_path_without_any_host_is_refused_where_the_run_needs_one(tmp_path, monkeypatch):
    text = _scenario(
        "- {name: a, unit: ms, header: X}\n",
        "- {name: q, unit: jobs, path: /q, json_path: $.depth}\n",
        host="",
    ).replace("  - name: u\n", "  - name: u\n    host: http://127.0.0.1:1\n")
    assert _problems(tmp_path, monkeypatch, text, require_host=True) == [
        (14, "gauges[0].path",
         "a gauge's path is polled on the scenario's host, and there is none: set host, pass "
         "--host, or give url: a full URL"),
    ]  # fmt: skip
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    assert load_scenario(FILE, env={}, host="http://127.0.0.1:2", require_host=True)


def test_a_secret_in_a_dimension_is_refused(tmp_path, monkeypatch):
    text = _scenario("- {name: a, unit: ms, header: X, dims: {tenant: '${TENANT}'}}\n").replace(
        "users:\n", "secrets: [TENANT]\nusers:\n"
    )
    monkeypatch.setenv("TENANT", "acme-secret")
    monkeypatch.chdir(tmp_path)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(FILE)
    (problem,) = info.value.problems
    assert problem.path == "users[0].requests[0].metrics[0].dims"
    assert "holds a secret's value" in problem.message and "acme-secret" not in str(info.value)


def test_the_scenario_stage_keeps_the_recording_apis_rules():
    """The scenario stage may not import the timeline's definitions; these keep them equal."""
    assert metric_records.METRIC_NAME.pattern == custom_metrics.METRIC_NAME_PATTERN
    assert metric_recorder.METRIC_UNIT.pattern == custom_metrics.UNIT_PATTERN
    assert custom_metrics.RESERVED_DIMENSIONS == metric_recorder.RESERVED_DIMENSIONS
    assert custom_metrics.MAX_DIMENSION_VALUE_CHARS == metric_recorder.MAX_DIMENSION_VALUE_CHARS
    assert custom_metrics._SECRETS_CONTEXT == request.SECRETS_CONTEXT


def test_a_gauge_timeout_defaults_to_its_interval_up_to_five_seconds():
    spec = {"name": "q", "unit": "jobs", "url": "http://h/q", "header": "X-Depth"}
    assert GaugeSpec.model_validate({**spec, "every": "250ms"}).timeout_s == 0.25
    assert GaugeSpec.model_validate({**spec, "every": "30s"}).timeout_s == 5.0
    assert GaugeSpec.model_validate({**spec, "every": "30s", "timeout": "9s"}).timeout_s == 9.0


def test_numbers_and_flags_in_dimensions_become_text():
    metric = ResponseMetric.model_validate(
        {"name": "a", "unit": "1", "header": "X", "dims": {"n": 3, "hot": True, "r": 0.5}}
    )
    assert metric.dims == {"n": "3", "hot": "true", "r": "0.5"}


def test_swarm_validate_lists_every_metric_and_gauge(tmp_path, monkeypatch):
    from framework.plan.summary import describe_scenario

    monkeypatch.chdir(tmp_path)
    text = _scenario(
        "- {name: detector.score, unit: '1', json_path: $.score, dims: {model: fast}}\n",
        "- {name: detector.queue.depth, unit: jobs, path: /admin/queue, json_path: $.depth}\n",
    )
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    lines = describe_scenario(load_scenario(FILE, env={})).splitlines()
    start = lines.index("  custom metrics: 2 from responses, 1 polled")
    assert lines[start + 1 :] == [
        "    detector.score{model=fast} (histogram, 1): json_path $.score of /detect",
        "    step.ms (histogram, ms): header X-Step-Ms of /step",
        "    detector.queue.depth (gauge, jobs): json_path $.depth of GET /admin/queue every 1s",
    ]
