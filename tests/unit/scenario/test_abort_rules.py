"""The scenario's ``abort:`` list and ``budgets.abort_on_fail``: valid shapes, located problems."""

from __future__ import annotations

import json

import pytest

from framework.cli.main import main
from framework.errors import ScenarioError
from framework.scenario.loader import load_budgets, load_scenario

HEAD = """\
name: guarded
host: http://127.0.0.1:1
users:
  - name: caller
    requests:
      - {name: detect, method: POST, path: /detect}
      - {path: /health}
load: {shape: constant, users: 1, duration: 10s}
"""


def _problems(tmp_path, tail: str) -> list[str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(HEAD + tail, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [str(p).split("scenario.yaml:", 1)[1] for p in caught.value.problems]


def test_rules_read_with_their_defaults_and_words(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(
        HEAD
        + "abort:\n"
        + "  - {error_rate: 50%, for: 30s}\n"
        + "  - {p95_ms: 2000, for: 1m, request: POST detect}\n"
        + "  - {target_down: true, for: 10s}\n"
        + "budgets: {abort_on_fail: true, abort_after: 2m, overall: {p95_ms: 500}}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path).scenario
    assert [r.text for r in scenario.abort] == [
        "error_rate ≥ 50% for 30 s",
        "p95_ms ≥ 2000 ms for 60 s on POST detect",
        "target_down for 10 s",
    ]
    assert scenario.budgets.abort_on_fail and scenario.budgets.abort_after == 120.0


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            "abort: [{error_rate: 50, for: 30s}]\n",
            "9:22: abort[0].error_rate: percentages are 0% to 100%",
        ),
        (
            "abort:\n  - {p95_ms: 2s}\n",
            "10:14: abort[0].p95_ms: p95_ms is a number of milliseconds, like 2000; got '2s'",
        ),
        (
            "abort:\n  - {error_rate: 10%, for: a while}\n",
            "10:28: abort[0].for: invalid duration 'a while'",
        ),
        (
            "abort:\n  - {p95: 100}\n",
            "10:6: abort[0].p95: unknown key 'p95'; did you mean 'p95_ms'? Allowed: error_rate",
        ),
        (
            "abort:\n  - {error_rate: 10%, p99_ms: 300}\n",
            "10:5: abort[0]: an abort rule has exactly one condition",
        ),
        ("abort:\n  - {for: 10s}\n", "(found: none)"),
        (
            "abort:\n  - {target_down: yes please}\n",
            "10:19: abort[0].target_down: expected true or false",
        ),
        (
            "abort:\n  - {target_down: true, request: detect}\n",
            "abort[0].request: target_down watches all requests together",
        ),
        ("abort:\n  - {target_down: true, for: 500ms}\n", "abort[0].for: must be at least 1s"),
        ("abort:\n  - {error_rate: 0%}\n", "abort[0].error_rate: must be above 0%"),
        (
            "abort:\n  - {error_rate: 10%, request: detekt}\n",
            "10:32: abort[0].request: no request of the scenario is named 'detekt' "
            "(did you mean 'detect'?)",
        ),
        (
            "abort:\n  - {target_down: false}\n  - {target_down: true}\n",
            "11:19: abort[1].target_down: target_down is given twice",
        ),
        ("abort: {error_rate: 50%}\n", "9:8: abort: Input should be a valid list"),
        ("budgets: {abort_on_fail: 1}\n", "9:26: budgets.abort_on_fail: expected true or false"),
        ("budgets: {abort_after: soon}\n", "9:24: budgets.abort_after: invalid duration 'soon'"),
    ],
)
def test_bad_abort_input_is_located_with_what_is_allowed(tmp_path, tail, expected):
    found = _problems(tmp_path, tail)
    assert any(expected in p for p in found), found


def test_a_bad_abort_rule_stops_swarm_run_with_exit_2_before_any_load(tmp_path, capsys):
    path = tmp_path / "scenario.yaml"
    path.write_text(HEAD + "abort:\n  - {p95_ms: 2s, for: soon}\n", encoding="utf-8")
    code = main(["run", str(path), "--out", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 2
    assert "abort[0].p95_ms" in err and "abort[0].for: invalid duration 'soon'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_a_budgets_file_takes_abort_on_fail_too(tmp_path):
    path = tmp_path / "budgets.yaml"
    path.write_text("abort_on_fail: true\nabort_after: 90s\noverall: {p95_ms: 300}\n")
    budgets = load_budgets(path)
    assert budgets.abort_on_fail and budgets.abort_after == 90.0


def test_the_schema_describes_abort_rules_and_abort_on_fail(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    rule = schema["$defs"]["AbortRule"]
    assert rule["additionalProperties"] is False
    assert {"error_rate", "p95_ms", "target_down", "for", "request"} <= rule["properties"].keys()
    assert schema["properties"]["abort"]["items"] == {"$ref": "#/$defs/AbortRule"}
    budgets = schema["$defs"]["Budgets"]["properties"]
    assert {"abort_on_fail", "abort_after"} <= budgets.keys()
