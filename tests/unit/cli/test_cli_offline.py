"""The ``swarm`` commands that need no target: validate, plan, schema, --version, typos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from framework import __version__
from framework.cli.main import main

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

VALID = """\
name: checkout
description: Browse then buy.
host: http://shop.local:8080
users:
  - name: browser
    weight: 3
    think_time: {fixed_ms: 250}
    requests:
      - {name: home, path: /, weight: 3, expect: {status: 200}}
      - {name: item, path: /item, weight: 1}
load: {shape: constant, users: 4, spawn_rate: 2, duration: 1m}
"""

INVALID = """\
name: checkout
users:
  - name: browser
    requests: [{path: home}]
load: {shape: constant, users: 0, duration: 1m}
"""


@pytest.fixture
def scenario(tmp_path, monkeypatch):
    """Write a scenario into a clean working folder and return its file name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWARM_HOST", raising=False)

    def write(text: str, name: str = "scenario.yaml") -> str:
        (tmp_path / name).write_text(text, encoding="utf-8")
        return name

    return write


def test_validate_prints_a_summary_and_exits_0(scenario, capsys):
    assert main(["validate", scenario(VALID)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "scenario.yaml: valid scenario 'checkout'",
        "  Browse then buy.",
        "  target: http://shop.local:8080",
        "  users browser: weight 3 (100%), think 250 ms",
        "    GET    home                     /  weight 3 (75%), expect 200",
        "    GET    item                     /item  weight 1 (25%)",
        "  load: constant, peak 4 users, 1m in 2 phases",
    ]
    assert err == ""


def test_validate_shows_the_host_flag_as_target(scenario, capsys):
    assert main(["validate", scenario(VALID), "--host", "https://staging.example/"]) == 0
    assert "  target: https://staging.example" in capsys.readouterr().out.splitlines()


def test_invalid_scenario_exits_2_with_every_problem_on_stderr(scenario, capsys):
    assert main(["validate", scenario(INVALID)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "swarm: 2 problems in scenario:",
        "  scenario.yaml:4:23: users[0].requests[0].path: "
        "path must start with '/' (or be a full http(s) URL), got 'home'",
        "  scenario.yaml:5:32: load.users: Input should be greater than or equal to 1 (found 0)",
    ]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "missing.yaml"], "  missing.yaml: file not found"),
        (
            ["validate", "scenario.yaml", "--host", "ftp://x"],
            "  scenario.yaml: host: --host must be an http:// or https:// URL, got 'ftp://x'",
        ),
        (["plan", "missing.yaml"], "  missing.yaml: file not found"),
    ],
)
def test_input_errors_exit_2_without_a_traceback(scenario, capsys, argv, message):
    scenario(VALID)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["swarm: 1 problem in scenario:", message]


def test_plan_prints_the_title_chart_and_phase_table(scenario, capsys):
    assert main(["plan", scenario(VALID), "--width", "40", "--height", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["checkout: users over time", "constant: 1m, peak 4 users"]
    assert lines[2].startswith("4 ┤")
    assert lines[-3:] == [
        "phase    kind     start  end  users",
        "ramp-up  ramp        0s   2s      4",
        "steady   plateau     2s   1m      4",
    ]


@pytest.mark.parametrize("flag", [["--width", "0"], ["--height", "1"]])
def test_plan_size_too_small_is_a_usage_error(scenario, capsys, flag):
    with pytest.raises(SystemExit) as info:
        main(["plan", scenario(VALID), *flag])
    assert info.value.code == 2
    assert flag[0] in capsys.readouterr().err


def _schema(capsys) -> dict:
    assert main(["schema"]) == 0
    return json.loads(capsys.readouterr().out)


def test_schema_is_a_draft_2020_12_json_schema(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema(capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "swarm scenario"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_a_real_example_scenario(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    document = yaml.safe_load((SCENARIOS / "spike.yaml").read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


@pytest.mark.parametrize("name", ["smoke.yaml", "load.yaml", "stress.yaml"])
def test_schema_accepts_example_status_forms(capsys, name):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    document = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


@pytest.mark.parametrize(
    "document",
    [
        {"name": "t", "users": [{"name": "u", "requests": [{"path": "/x"}]}]},
        {
            "name": "t",
            "users": [{"name": "u", "requests": [{"path": "/x"}]}],
            "load": {"shape": "constant", "users": 1, "duration": "10s"},
            "loads": 1,
        },
        {
            "name": "t",
            "users": [{"name": "u", "requests": [{"path": "/x"}]}],
            "load": {"shape": "ramp", "users": 1, "duration": "10s"},
        },
        {
            "name": "t",
            "users": [{"name": "u", "requests": [{"path": "/x"}]}],
            "load": {"shape": "constant", "users": 1, "duration": "2x"},
        },
    ],
    ids=["missing-load", "unknown-key", "unknown-shape", "bad-duration"],
)
def test_schema_rejects_what_the_loader_rejects(capsys, document):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    assert list(validator.iter_errors(document)) != []


def test_unknown_command_suggests_the_closest(capsys):
    with pytest.raises(SystemExit) as info:
        main(["valdate", "scenario.yaml"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'valdate'" in err
    assert err.rstrip().endswith("did you mean 'validate'?")


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"swarm {__version__}\n"


def test_extra_arguments_are_refused_outside_run(capsys):
    with pytest.raises(SystemExit) as info:
        main(["schema", "--bogus"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_a_bad_progress_interval_stops_swarm_run_before_any_run_folder(
    scenario, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SWARM_PROGRESS_INTERVAL_S", "soon")
    assert main(["run", scenario(VALID), "--out", str(tmp_path / "reports")]) == 2
    assert (
        "SWARM_PROGRESS_INTERVAL_S='soon': must be a number of seconds" in capsys.readouterr().err
    )
    assert not (tmp_path / "reports").exists()
