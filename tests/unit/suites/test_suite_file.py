"""The suite file: every problem located at its line (the suite's own fields and each test's
scenario with its overrides and targets), in one pass, before anything runs; targets and
per-worker values as the ``--set`` texts each run gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.cli.main import main
from framework.errors import SuiteError
from framework.suites import load_suite, read_suite
from framework.suites.loader import target_overrides
from framework.suites.model import Targets

SCENARIO = """\
name: probe
host: http://127.0.0.1:9
users:
  - name: client
    requests: [{path: /health}]
load: {shape: constant, users: 2, spawn_rate: 2, duration: 20s}
budgets:
  overall: {p95_ms: 600}
  requests:
    GET /health: {p99_ms: 900}
"""

VALID = """\
name: nightly
description: two tests
targets: {p95_ms: 2000, success_rate: 95%, min_throughput: 100}
tests:
  - name: smoke-one
    type: smoke
    scenario: probe.yaml
    set: {load.users: 3, host: "http://127.0.0.1:${PORT:-8001}"}
    targets: {p95_ms: 1500, success_rate: 0.9}
  - name: scale-it
    type: scalability
    scenario: probe.yaml
    time_scale: 0.5
    scale: {workers: [1, 2, 4], per_worker: {load.users: 5, load.spawn_rate: 2.5}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "probe.yaml").write_text(SCENARIO, encoding="utf-8")
    return tmp_path


def _suite(folder: Path, text: str) -> Path:
    path = folder / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_suite(path, env={})
    return [str(p) for p in caught.value.problems]


def test_a_valid_suite_plans_each_test_with_its_overrides_then_its_targets(folder):
    loaded = load_suite(_suite(folder, VALID), env={})
    smoke, scale = loaded.tests
    assert smoke.scenario_path == folder / "probe.yaml"
    assert smoke.overrides == (
        "load.users=3",
        'host="http://127.0.0.1:${PORT:-8001}"',
        "budgets.overall.p95_ms=1500",
        "budgets.overall.error_rate=0.1",
    )
    assert smoke.worker_counts == (0,)
    assert scale.worker_counts == (1, 2, 4)
    assert scale.overrides[-3:] == (
        "budgets.overall.p95_ms=2000",
        "budgets.overall.error_rate=0.05",
        "budgets.overall.min_throughput=100",
    )
    assert scale.overrides_at(4)[-2:] == ("load.users=20", "load.spawn_rate=10.0")
    assert [t.name for t in loaded.selected("scalability")] == ["scale-it"]
    assert [t.name for t in loaded.selected("all")] == ["smoke-one", "scale-it"]
    assert loaded.selected("soak") == ()


def test_targets_merge_into_a_budgets_file_as_one_override():
    targets = Targets(p95_ms=2000, success_rate="95%")
    merged = target_overrides(targets, {"overall": {"p99_ms": 900, "p95_ms": 10}, "tolerance": 0})
    assert merged == [
        'budgets={"overall":{"p99_ms":900,"p95_ms":2000.0,"error_rate":0.05},"tolerance":0}'
    ]
    assert target_overrides(None) == []


def test_every_problem_of_the_suite_file_is_located_in_one_pass(folder):
    path = _suite(
        folder,
        """\
name: broken
targets: {p95_ms: -1, sucess_rate: 95%}
tests:
  - name: first
    type: smokey
    scenario: probe.yaml
  - name: bad name!
    type: scalability
    scenario: probe.yaml
    scale: {workers: [2, 1]}
  - name: third
    type: load
    scenario: probe.yaml
    scale: {workers: [1, 2]}
""",
    )
    problems = _problems(path)
    text = "\n".join(problems)
    assert f"{path}:2:" in text and "targets.p95_ms" in text
    assert "unknown key 'sucess_rate'; did you mean 'success_rate'?" in text
    assert f"{path}:5:11: tests[0].type:" in text and "'fault-tolerance'" in text
    assert f"{path}:7:" in text and "tests[1].name: a test name is 1-40 letters" in text
    assert "tests[1].scale.workers: worker counts must rise" in text
    assert "tests[2].scale: scale runs a test once per worker count, for type scalability" in text
    assert len(problems) == 6


def test_a_missing_scenario_and_a_bad_override_point_at_their_suite_lines(folder):
    path = _suite(
        folder,
        """\
name: broken
tests:
  - name: gone
    type: smoke
    scenario: nowhere.yaml
  - name: zero
    type: load
    scenario: probe.yaml
    set:
      load.users: 0
      users.5.weight: 2
  - name: dup
    type: load
    scenario: probe.yaml
    time_scale: 0.01
  - name: dup
    type: soak
    scenario: probe.yaml
""",
    )
    text = "\n".join(_problems(path))
    assert f"{path}:5:15: tests[0].scenario: scenario {folder / 'nowhere.yaml'} not found" in text
    assert f"{path}:10:19: tests[1].set.load.users:" in text and "(in scenario probe.yaml)" in text
    assert f"{path}:11:23: tests[1].set.users.5.weight:" in text
    assert "index 5 is out of range" in text
    assert f"{path}:15:17: tests[2].time_scale: time_scale 0.01 leaves 0.2 s" in text
    assert f"{path}:16:" in text and "two tests are named 'dup'" in text


def test_a_problem_in_the_scenario_file_itself_names_both_files(folder):
    (folder / "broken.yaml").write_text(SCENARIO.replace("users: 2,", "users: -2,"))
    path = _suite(folder, "name: s\ntests:\n  - {name: a, type: smoke, scenario: broken.yaml}\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:3:")
    assert "tests[0].scenario: in the scenario: " in problem
    assert f"{folder / 'broken.yaml'}:6:" in problem and "load.users" in problem


def test_an_unresolved_variable_or_a_missing_host_is_caught_before_anything_runs(folder):
    (folder / "nohost.yaml").write_text(SCENARIO.replace("host: http://127.0.0.1:9\n", ""))
    path = _suite(
        folder,
        """\
name: s
tests:
  - {name: a, type: smoke, scenario: nohost.yaml}
  - {name: b, type: smoke, scenario: probe.yaml, set: {host: "${NOT_SET_ANYWHERE}"}}
""",
    )
    text = "\n".join(_problems(path))
    assert "tests[0].scenario: in the scenario: " in text and "no target host" in text
    assert f"{path}:4:" in text and "tests[1].set.host: ${NOT_SET_ANYWHERE} is not set" in text


def test_an_invalid_mocks_config_is_a_problem_at_mocks(folder):
    (folder / "mocks.yaml").write_text("detectors: {fast: {latency: {model: nope}}}\n")
    path = _suite(
        folder,
        "name: s\nmocks: mocks.yaml\ntests:\n  - {name: a, type: smoke, scenario: probe.yaml}\n",
    )
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:2:8: mocks: mock-detector config")
    assert "unknown model 'nope'" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "found a list; expected a suite"),
        ("name: [unclosed\n", "invalid YAML"),
        ("name: s\ntests: []\n", "tests: List should have at least 1 item"),
    ],
)
def test_a_file_that_is_no_suite_says_what_a_suite_is(folder, text, expected):
    path = _suite(folder, text)
    assert expected in "\n".join(_problems(path))


def test_the_shipped_suite_is_valid_and_exercises_the_five_detectors():
    root = Path(__file__).resolve().parents[3]
    loaded = load_suite(root / "suites" / "detectors.yaml", env={})
    assert {t.type for t in loaded.tests} == {
        "smoke", "load", "stress", "fault-tolerance", "scalability",
    }  # fmt: skip
    ports = {
        port
        for t in loaded.tests
        for text in t.overrides
        for port in ("8001", "8002", "8003", "8004", "8005")
        if f":{port}" in text
    }
    assert ports == {"8001", "8002", "8003", "8004", "8005"}
    assert loaded.mocks_path == root / "mock_detectors" / "detectors.yaml"
    assert read_suite(root / "suites" / "detectors.yaml").targets == Targets(
        p95_ms=2000, success_rate=0.95, min_throughput=100
    )


def test_swarm_suite_with_an_invalid_suite_exits_2_and_writes_nothing(folder, capsys):
    path = _suite(folder, "name: s\ntests:\n  - {name: a, type: smoke, scenario: gone.yaml}\n")
    out = folder / "reports"
    assert main(["suite", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 problem in suite" in err and "tests[0].scenario" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_swarm_suite_with_a_type_no_test_has_exits_2_and_writes_nothing(folder, capsys):
    out = folder / "reports"
    assert main(["suite", str(_suite(folder, VALID)), "--type", "soak", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has no test of type 'soak'; its types: scalability, smoke" in err
    assert not out.exists()


def test_suite_dir_without_report_only_is_a_usage_error(folder, capsys):
    path = _suite(folder, VALID)
    assert main(["suite", str(path), "--suite-dir", str(folder), "--out", str(folder)]) == 2
    assert "--suite-dir goes with --report-only" in capsys.readouterr().err
