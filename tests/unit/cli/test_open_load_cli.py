"""``swarm validate``, ``swarm plan`` and ``swarm schema`` with open loads and users entries
that carry their own load: bad files exit 2 with place and reason, warnings go to stderr
and the command goes on, and the plan draws each group and their sum."""

from __future__ import annotations

import json

import pytest

from framework.cli.main import main

READERS_AND_WRITERS = """\
name: shop
host: http://shop.local:8080
timeout: 5s
users:
  - name: readers
    weight: 3
    requests: [{path: /items}]
  - name: writers
    requests: [{method: POST, path: /orders}]
    load:
      model: open
      shape: spike
      base_rate: 2
      spike_rate: 40
      base_duration: 30s
      spike_duration: 10s
      recovery_duration: 20s
      arrivals: poisson
load: {shape: constant, users: 20, spawn_rate: 10, duration: 1m}
"""

BAD = {
    "mixed.yaml": (
        "name: b\nusers: [{name: u, requests: [{path: /x}]}]\n"
        "load: {shape: constant, users: 10, rate: 50, duration: 1m}\n",
        ["mixed.yaml:3:36: load.rate: rate is an open-model field (arrivals per second); "
         "this load is closed, in users (users, spawn_rate)"],
    ),
    "zero.yaml": (
        "name: b\nusers: [{name: u, requests: [{path: /x}]}]\n"
        "load: {model: open, shape: constant, rate: 0, duration: 1m, max_in_flight: 0}\n",
        ["zero.yaml:3:44: load.rate: Input should be greater than 0 (found 0)",
         "zero.yaml:3:76: load.max_in_flight: Input should be greater than or equal to 1 "
         "(found 0)"],
    ),
    "closed-with-open-settings.yaml": (
        "name: b\nusers: [{name: u, requests: [{path: /x}]}]\n"
        "load:\n  shape: constant\n  users: 5\n  duration: 1m\n  arrivals: poisson\n",
        ["closed-with-open-settings.yaml:7:3: load.arrivals: arrivals is an open-model "
         "setting; this load is closed"],
    ),
    "unknown-shape.yaml": (
        "name: b\nusers: [{name: u, requests: [{path: /x}]}]\n"
        "load: {model: open, shape: ramp, rate: 5, duration: 1m}\n",
        ["unknown-shape.yaml:3:28: load.shape: unknown shape 'ramp' for model: open; "
         "allowed: 'constant', 'stepped', 'spike', 'wave', 'stages', 'find_capacity'"],
    ),
    "no-load.yaml": (
        "name: b\nusers:\n  - {name: a, requests: [{path: /x}]}\n"
        "  - {name: b, requests: [{path: /y}], load: {model: open, shape: constant, rate: 1, "
        "duration: 1m}}\n",
        ["no-load.yaml:1:1: load: required field is missing: users 'a' run under the "
         "scenario's load"],
    ),
}  # fmt: skip


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWARM_HOST", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", list(BAD))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_bad_load_exits_2_naming_file_line_field_and_reason(folder, capsys, name, command):
    text, expected = BAD[name]
    (folder / name).write_text(text, encoding="utf-8")
    assert main([command, name]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    for line in expected:
        assert f"  {line}" in err, err


def test_validate_summarises_the_groups_and_warns_with_the_arithmetic(folder, capsys):
    (folder / "s.yaml").write_text(
        READERS_AND_WRITERS.replace("timeout: 5s", "timeout: 60s"), encoding="utf-8"
    )
    assert main(["validate", "s.yaml"]) == 0
    out, err = capsys.readouterr()
    assert "  load: mixed, 2 groups, peak 20 users and 40 arrivals/s, 1m in 4 phases" in out
    assert "    group scenario (readers): closed constant, peak 20 users, 1m" in out
    assert (
        "    group writers (writers): open spike, peak 40 arrivals/s, poisson, "
        "max_in_flight 1000 per worker, 1m"
    ) in out
    assert err == (
        "swarm: warning: s.yaml:11:7: users[1].load.max_in_flight: peak rate 40 arrivals/s × "
        "request timeout 60 s = 2400 arrivals could be in flight at once while the target does "
        "not answer, above max_in_flight 1000 per load generator: unless 3 or more workers "
        "share the rate, arrivals beyond it are dropped (and counted); raise max_in_flight to "
        "2400 or shorten the timeout to 25 s\n"
    )


def test_plan_draws_each_group_their_sum_and_the_combined_phases(folder, capsys):
    (folder / "s.yaml").write_text(READERS_AND_WRITERS, encoding="utf-8")
    assert main(["plan", "s.yaml", "--width", "50", "--height", "4"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "shop: 2 load groups over time (closed in users, open in arrivals/s)"
    assert lines[1] == "group scenario (closed): users entries readers (weight 3)"
    assert lines[2] == "constant: 1m, peak 20 users"
    assert (
        "group writers (open): users entries writers (weight 1), poisson arrivals, "
        "max_in_flight 1000 per worker"
    ) in lines
    assert "spike: 1m, peak 40 arrivals/s" in lines
    assert (
        "all groups: constant + spike, 1m, users of the closed groups together, peak 20 users"
        in lines
    )
    assert (
        "all groups: constant + spike, 1m, arrivals of the open groups together, peak 40 arrivals/s"
    ) in lines
    combined = lines[lines.index("combined phases (cut at every group's phase boundary):") + 1 :]
    assert combined[0].split() == ["phase", "kind", "start", "end", "users", "arrivals/s"]
    assert [row.split()[-2:] for row in combined[1:]] == [
        ["20", "2"], ["20", "2"], ["20", "40"], ["20", "2"]
    ]  # fmt: skip
    assert combined[3].split()[:6] == ["scenario", "steady", "+", "writers", "spike", "spike"]
    spike_chart = lines[lines.index("spike: 1m, peak 40 arrivals/s") + 1 :][:4]
    assert spike_chart[0].startswith("40 ┤") and "█" in spike_chart[0]
    assert spike_chart[-1].startswith(" 0 ┤")


def test_time_scale_shortens_an_open_plan_s_durations_and_ramps_and_keeps_its_rates(folder, capsys):
    (folder / "s.yaml").write_text(
        "name: o\nusers: [{name: u, requests: [{path: /x}]}]\ntimeout: 1s\n"
        "load: {model: open, shape: stepped, start_rate: 10, step_rate: 10, "
        "step_duration: 1m, steps: 2, ramp: 10s}\n",
        encoding="utf-8",
    )
    assert main(["plan", "s.yaml", "--time-scale", "0.1", "--set", "load.step_rate=30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "o: arrivals per second over time (open load)"
    table = lines[lines.index("phase           kind     start  end  arrivals/s") + 1 :]
    assert [row.split() for row in table] == [
        ["ramp-up", "ramp", "0s", "1s", "10"],
        ["step", "1", "plateau", "1s", "6s", "10"],
        ["ramp", "to", "step", "2", "ramp", "6s", "7s", "40"],
        ["step", "2", "plateau", "7s", "12s", "40"],
    ]


def test_schema_exports_the_open_shapes(folder, capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    names = set(schema["$defs"])
    assert {"OpenConstantLoad", "OpenSteppedLoad", "OpenSpikeLoad", "OpenWaveLoad"} <= names
    assert {"OpenStagesLoad", "OpenStageSpec"} <= names
    assert "load" in schema["$defs"]["UserSpec"]["properties"]
    assert "load" not in schema.get("required", [])


def test_the_readme_s_open_and_per_kind_examples_are_valid_scenarios(folder, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    examples = re.findall(
        r"```yaml\n(name: (?:checkout-open|readers-and-writers)\n.*?)```", readme, re.S
    )
    assert len(examples) == 2
    for i, text in enumerate(examples):
        (folder / f"e{i}.yaml").write_text(text, encoding="utf-8")
        assert main(["validate", f"e{i}.yaml"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # no warning: both fit max_in_flight through their timeout
    assert "  load: open, 1 group, peak 200 arrivals/s, 8m in 8 phases" in out
    assert "  users writers: its own load, no think time" in out
