"""Bounded reading: every file swarm reads is a regular file within its limit, every YAML
document within its depth and its values (aliases expanded); each refusal is the reader's
own clean error naming the limit and the variable that raises it."""

from __future__ import annotations

import json
import os
import re
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from framework.cli.main import main
from framework.errors import (
    ConfigError,
    DetectorConfigError,
    ReportError,
    ScenarioError,
    StoreError,
)
from framework.limits import (
    DATA_BYTES,
    JSON_BYTES,
    LIMITS,
    TIMELINE_BYTES,
    YAML_BYTES,
    YAML_DEPTH,
    InputRefused,
    excerpt,
    read_bytes,
)
from framework.run.folder import read_json_object
from framework.scenario.loader import load_budgets, load_scenario
from framework.scenario.yaml_source import YamlSyntaxError, load_located
from framework.store.state import read_state
from framework.timeline.reader import read_timeline
from framework.verdicts.builder import load_run
from mock_detectors.loader import load_config, parse_config

BILLION_LAUGHS = "\n".join(
    ['lol0: &lol0 "lol"']
    + [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]" for i in range(1, 10)]
)
"""Nine aliases of nine aliases ... of "lol": 700 bytes that expand to 9**9 strings."""

SCENARIO = textwrap.dedent("""\
    name: t
    data: {accounts: {file: accounts.csv}}
    users: [{name: u, requests: [{path: "/u/{{ data.accounts.id }}"}]}]
    load: {shape: constant, users: 1, duration: 10s}
""")


@pytest.fixture(params=["libyaml prescan", "pure Python"])
def parser(request, monkeypatch) -> str:
    """Run a test with libyaml's fast prescan and without it (PyYAML without libyaml):
    the Python parser's own checks must refuse the same documents."""
    if request.param == "pure Python":
        monkeypatch.delattr(yaml, "CSafeLoader")
    return request.param


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        yield path


def _special(kind: str, tmp_path: Path, fifo: Path, unix_socket: Path) -> tuple[Path, str]:
    return {
        "fifo": (fifo, "is a FIFO (named pipe), not a regular file"),
        "char device": (Path("/dev/zero"), "is a character device, not a regular file"),
        "directory": (tmp_path, "is a directory, not a file"),
        "socket": (unix_socket, "is a socket, not a regular file"),
    }[kind]


KINDS = ["fifo", "char device", "directory", "socket"]


# --- the reader ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_that_is_not_regular_is_refused_before_reading(kind, tmp_path, fifo, unix_socket):
    path, message = _special(kind, tmp_path, fifo, unix_socket)
    with pytest.raises(InputRefused, match=re.escape(message)):
        read_bytes(path, DATA_BYTES)


def test_a_file_over_its_limit_names_the_limit_and_the_setting(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (YAML_BYTES.default + 1))
    with pytest.raises(InputRefused) as caught:
        read_bytes(path, YAML_BYTES)
    assert str(caught.value) == (
        "is 262,145 bytes (256 KiB); the limit for a YAML file (scenario, budgets, "
        "mock-detector config) is 262,144 bytes (256 KiB); to allow more, set "
        "SWARM_MAX_YAML_BYTES=257KiB"
    )
    assert caught.value.limit is YAML_BYTES


def test_the_setting_raises_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (YAML_BYTES.default + 1))
    monkeypatch.setenv("SWARM_MAX_YAML_BYTES", "1MiB")
    assert len(read_bytes(path, YAML_BYTES)) == YAML_BYTES.default + 1


def test_a_file_longer_than_it_says_is_cut_at_the_limit(monkeypatch):
    """/proc files say they are empty: the read itself stops one byte past the limit."""
    monkeypatch.setenv("SWARM_MAX_JSON_BYTES", "16")
    with pytest.raises(InputRefused, match="is more than 16 bytes; the limit"):
        read_bytes("/proc/self/status", JSON_BYTES)


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_setting_keeps_the_default(monkeypatch, value):
    monkeypatch.setenv("SWARM_MAX_DATA_BYTES", value)
    assert DATA_BYTES.value() == DATA_BYTES.default


@pytest.mark.parametrize(
    ("limit", "value", "expected"),
    [
        (YAML_BYTES, "1024", 1024),
        (YAML_BYTES, "2k", 2048),
        (DATA_BYTES, "3 MiB", 3 * 1024**2),
        (TIMELINE_BYTES, "4G", 4 * 1024**3),
        (YAML_DEPTH, "200", 200),
    ],
)
def test_settings_take_whole_numbers_and_binary_units(monkeypatch, limit, value, expected):
    monkeypatch.setenv(limit.env, value)
    assert limit.value() == expected


@pytest.mark.parametrize(
    ("limit", "value"),
    [
        (YAML_BYTES, "lots"),
        (YAML_BYTES, "0"),
        (YAML_BYTES, "-5"),
        (YAML_DEPTH, "64k"),
        (YAML_BYTES, "9" * 5000),  # past int()'s 4300 digits: still this error
    ],
)
def test_a_bad_setting_is_a_config_error_naming_the_variable(monkeypatch, limit, value):
    monkeypatch.setenv(limit.env, value)
    with pytest.raises(ConfigError, match=f"^{limit.env} must be a positive whole number") as e:
        limit.value()
    assert e.value.flag == limit.env and e.value.exit_code == 2


def test_every_limit_has_its_own_variable_and_is_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert len({limit.env for limit in LIMITS}) == len(LIMITS)
    assert [limit.env for limit in LIMITS if f"`{limit.env}`" not in readme] == []


def test_excerpt_cuts_long_text_with_an_ellipsis():
    assert excerpt("short") == "short"
    assert excerpt("x" * 100) == "x" * 79 + "…"
    assert len(excerpt(repr("y" * 10**6))) == 80


# --- YAML --------------------------------------------------------------------------------


def test_a_billion_laughs_alias_bomb_is_refused_before_it_expands(parser):
    with pytest.raises(YamlSyntaxError) as caught:
        load_located(BILLION_LAUGHS)
    message = str(caught.value)
    assert "aliases expand to more than 10,000 values (an alias bomb?)" in message
    assert "SWARM_MAX_YAML_VALUES" in message and caught.value.position is not None


def test_a_merge_key_bomb_is_refused(parser):
    text = "a0: &a0 {x: 1}\n" + "".join(
        f"a{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 9)}], y{i}: 1}}\n" for i in range(1, 9)
    )
    with pytest.raises(YamlSyntaxError, match="SWARM_MAX_YAML_VALUES"):
        load_located(text)


def test_a_recursive_alias_is_refused(parser):
    with pytest.raises(YamlSyntaxError, match="recursive alias"):
        load_located("a: &a [1, *a]\n")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 10_000 + "]" * 10_000,
        "a: " + "{b: " * 10_000 + "1" + "}" * 10_000,
        "- " * 10_000 + "x\n",
    ],
    ids=["flow lists", "flow mappings", "block lists"],
)
def test_ten_thousand_levels_of_nesting_are_refused_not_a_recursion_error(parser, text):
    with pytest.raises(YamlSyntaxError) as caught:
        load_located(text)
    assert str(caught.value).startswith("nested more than 64 levels deep; the limit")
    assert "SWARM_MAX_YAML_DEPTH" in str(caught.value)


def test_nesting_up_to_the_limit_is_read(parser):
    assert load_located("- " * 64 + "x\n").data is not None
    with pytest.raises(YamlSyntaxError, match="nested more than 64 levels"):
        load_located("- " * 65 + "x\n")


def test_nesting_counts_what_aliases_bring(parser):
    deep = "[" * 60 + "]" * 60
    text = f"a: &a {deep}\nb: [[[[*a]]]]\n"
    with pytest.raises(YamlSyntaxError, match="64 levels deep once its aliases are expanded"):
        load_located(text)


def test_too_many_plain_values_are_refused(parser, monkeypatch):
    monkeypatch.setenv("SWARM_MAX_YAML_VALUES", "100")
    with pytest.raises(YamlSyntaxError, match="holds more than 100 values"):
        load_located("a: [" + "1, " * 200 + "1]")


def test_ordinary_aliases_and_merge_keys_still_work(parser):
    text = "h: &h {x: 1}\nu: [*h, *h]\nm: {<<: *h, y: 2}\n"
    assert load_located(text).data == {
        "h": {"x": 1},
        "u": [{"x": 1}, {"x": 1}],
        "m": {"x": 1, "y": 2},
    }


def test_raising_the_values_limit_admits_a_large_expansion(monkeypatch):
    monkeypatch.setenv("SWARM_MAX_YAML_VALUES", "100000")
    text = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    assert len(load_located(text).data["b"]) == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 2001-13-45", "'2001-13-45' is not a valid timestamp (month must be in 1..12)"),
        ("a: !!int abc", "'abc' is not a valid int"),
        ("a: !!bool maybe", "'maybe' is not a valid bool"),
        ("a: !!timestamp x", "'x' is not a valid timestamp"),
        ("? !!set {a}\n: 1", "a mapping key must be a scalar"),
    ],
)
def test_a_value_its_tag_cannot_hold_is_a_located_yaml_error(text, message):
    with pytest.raises(YamlSyntaxError, match="invalid YAML: ") as caught:
        load_located(text)
    assert message in str(caught.value) and caught.value.position is not None


def test_a_long_duplicate_key_is_not_echoed_whole():
    key = "k" * 1000  # PyYAML's longest plain key
    with pytest.raises(YamlSyntaxError) as caught:
        load_located(f"{key}: 1\n{key}: 2\n")
    assert len(str(caught.value)) < 120 and str(caught.value).endswith("…")


# --- each file kind, through its own reader ---------------------------------------------


def _scenario(tmp_path: Path, text: str = SCENARIO, csv: str = "id\n1\n") -> Path:
    (tmp_path / "accounts.csv").write_text(csv, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fifo_scenario_is_a_scenario_error(fifo):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(fifo, env={})
    assert [str(p) for p in caught.value.problems] == [
        f"{fifo}: is a FIFO (named pipe), not a regular file; swarm reads only regular files"
    ]


def test_a_scenario_over_the_size_limit_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_MAX_YAML_BYTES", "100")
    path = _scenario(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert problem.message.startswith(f"is {path.stat().st_size} bytes; the limit")
    assert "set SWARM_MAX_YAML_BYTES=" in problem.message


def test_an_alias_bomb_scenario_is_one_located_problem(tmp_path):
    path = _scenario(tmp_path, BILLION_LAUGHS)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert problem.line is not None and "SWARM_MAX_YAML_VALUES" in problem.message


@pytest.mark.parametrize("kind", KINDS)
def test_a_data_file_that_is_not_regular_is_a_located_problem(kind, tmp_path, fifo, unix_socket):
    target, message = _special(kind, tmp_path, fifo, unix_socket)
    path = _scenario(tmp_path, SCENARIO.replace("accounts.csv", str(target)))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (2, "data.accounts.file")
    assert message in problem.message


def test_a_data_file_over_its_limit_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_MAX_DATA_BYTES", "8")
    path = _scenario(tmp_path, csv="id\n" + "1\n" * 10)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert "the limit for a CSV data file is 8 bytes" in problem.message
    assert "SWARM_MAX_DATA_BYTES=" in problem.message


def test_a_csv_field_past_the_csv_modules_limit_is_a_problem_not_a_traceback(tmp_path):
    path = _scenario(tmp_path, csv='id\n"' + "x" * 200_000 + '"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, env={})
    (problem,) = caught.value.problems
    assert "not valid CSV (field larger than field limit" in problem.message


@pytest.mark.parametrize("kind", ["fifo", "char device"])
def test_a_budgets_file_that_is_not_regular_is_a_config_error(kind, tmp_path, fifo, unix_socket):
    target, message = _special(kind, tmp_path, fifo, unix_socket)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_budgets(target)
    assert caught.value.file == str(target)


def test_an_alias_bomb_budgets_file_is_a_config_error(tmp_path):
    path = tmp_path / "budgets.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ConfigError, match="SWARM_MAX_YAML_VALUES"):
        load_budgets(path)


@pytest.mark.parametrize("text", [BILLION_LAUGHS, "a: " + "[" * 10_000])
def test_a_hostile_mock_detector_config_is_a_detector_config_error(tmp_path, text):
    path = tmp_path / "detectors.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DetectorConfigError, match="SWARM_MAX_YAML_"):
        load_config(path)


def test_a_fifo_mock_detector_config_is_refused(fifo):
    with pytest.raises(DetectorConfigError, match="is a FIFO"):
        load_config(fifo)


@pytest.mark.parametrize("kind", ["fifo", "char device", "directory"])
def test_a_timeline_that_is_not_regular_is_a_report_error(kind, tmp_path, fifo, unix_socket):
    target, message = _special(kind, tmp_path, fifo, unix_socket)
    with pytest.raises(ReportError, match=re.escape(f"cannot read timeline: {message}")):
        read_timeline(target)


def test_a_timeline_over_its_limit_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_MAX_TIMELINE_BYTES", "10")
    path = tmp_path / "timeline.jsonl"
    path.write_text('{"format": "swarm-timeline", "version": 2}\n', encoding="utf-8")
    with pytest.raises(ReportError, match="SWARM_MAX_TIMELINE_BYTES="):
        read_timeline(path)


def test_a_timeline_header_of_another_format_is_not_echoed_whole(tmp_path):
    path = tmp_path / "timeline.jsonl"
    path.write_text(json.dumps({"format": "f" * 100_000}) + "\n", encoding="utf-8")
    with pytest.raises(ReportError, match="not a swarm timeline") as caught:
        read_timeline(path)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("kind", ["fifo", "char device", "directory"])
def test_a_run_json_that_is_not_regular_is_a_report_error(kind, tmp_path, fifo, unix_socket):
    target, message = _special(kind, tmp_path, fifo, unix_socket)
    with pytest.raises(ReportError, match=re.escape(message)):
        read_json_object(target)


def test_a_run_json_nested_past_the_parser_is_a_report_error(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ReportError, match="unreadable"):
        read_json_object(path)


def test_a_run_json_over_its_limit_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_MAX_JSON_BYTES", "4")
    path = tmp_path / "run.json"
    path.write_text('{"status": "finished"}', encoding="utf-8")
    with pytest.raises(ReportError, match="SWARM_MAX_JSON_BYTES="):
        read_json_object(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "expected a JSON object, found list"),
        ('{"pins": [1]}', "pins must be an object, found list"),
        ("[" * 100_000, "unreadable"),
    ],
)
def test_a_store_json_of_the_wrong_shape_is_a_store_error(tmp_path, content, reason):
    path = tmp_path / "store.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StoreError, match=reason):
        read_state(path)


def test_a_fifo_store_json_is_a_store_error(fifo):
    with pytest.raises(StoreError, match="is a FIFO"):
        read_state(fifo)


def test_an_alias_bomb_in_a_run_folders_scenario_is_a_report_error(tmp_path):
    (tmp_path / "run.json").write_text('{"run_id": "x"}', encoding="utf-8")
    (tmp_path / "timeline.jsonl").write_text(
        json.dumps({"format": "swarm-timeline", "version": 2, "created_s": 1.0}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "scenario.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ReportError, match=r"scenario\.yaml: unreadable .*SWARM_MAX_YAML_VALUES"):
        load_run(tmp_path)


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "scenario.yaml", "--out", "taken"],
        ["runs", "list", "--out", "taken"],
        ["report", "some-run", "--out", "taken"],
    ],
)
def test_out_naming_a_file_says_so(tmp_path, monkeypatch, capsys, argv):
    """Not "run folder already exists" nor "store.json: unreadable": the flag at fault."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("", encoding="utf-8")
    _scenario(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: --out taken is a file, not a folder")


def test_validate_refuses_dev_zero_as_a_data_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _scenario(tmp_path, SCENARIO.replace("accounts.csv", "/dev/zero"))
    assert main(["validate", "scenario.yaml"]) == 2
    assert "/dev/zero: is a character device, not a regular file" in capsys.readouterr().err


def test_a_long_mock_config_value_is_not_echoed_whole():
    with pytest.raises(DetectorConfigError) as caught:
        parse_config('detectors:\n  x: {port: "' + "y" * 5000 + '"}\n')
    assert "y" * 100 not in str(caught.value) and "…" in str(caught.value)
