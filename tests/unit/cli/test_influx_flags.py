"""The InfluxDB sink's flags and variables: settings that cannot work stop ``swarm run``
with exit 2 before any load is sent; the ones given reach Locust as influxdb-client's
variables, and a sink's news from the master lands in run.json's ``sinks``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from framework.cli.commands import _influx_env
from framework.cli.main import main
from framework.live.announce import announcement
from framework.run.folder import RunRecord, create_run_folder, read_run_record
from framework.run.runner import RunOptions, _Run

SMOKE = Path(__file__).resolve().parents[3] / "scenarios" / "smoke.yaml"


@pytest.fixture(autouse=True)
def _no_influx_environment(monkeypatch):
    for name in ("URL", "ORG", "BUCKET", "TOKEN"):
        monkeypatch.delenv(f"INFLUXDB_V2_{name}", raising=False)


def test_a_url_that_is_not_http_exits_2_naming_flag_and_variable(tmp_path, capsys):
    code = main(["run", str(SMOKE), "--out", str(tmp_path), "--influx-url", "ftp://db"])
    err = capsys.readouterr().err
    assert code == 2
    assert "INFLUXDB_V2_URL must be an http:// or https:// URL" in err
    assert "--influx-url" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # no run folder: nothing ran


def test_a_url_from_the_environment_without_a_bucket_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INFLUXDB_V2_URL", "http://127.0.0.1:8086")
    code = main(["run", str(SMOKE), "--out", str(tmp_path)])
    assert code == 2
    assert "INFLUXDB_V2_BUCKET must name the bucket" in capsys.readouterr().err


def test_flags_become_influxdb_clients_variables_and_the_token_stays_out_of_repr():
    args = argparse.Namespace(
        influx_url="http://db:8086", influx_org="o", influx_bucket="b", influx_token="tok-1"
    )
    env = _influx_env(args)
    assert env == {
        "INFLUXDB_V2_URL": "http://db:8086",
        "INFLUXDB_V2_ORG": "o",
        "INFLUXDB_V2_BUCKET": "b",
        "INFLUXDB_V2_TOKEN": "tok-1",
    }
    assert "tok-1" not in repr(RunOptions(env=env))


def test_sink_announcements_are_recorded_in_run_json(tmp_path):
    record = RunRecord(run_id="r1", scenario="s", scenario_file=None, host=None, started_at="")
    folder = create_run_folder(tmp_path, "r1", record, started=datetime.now(UTC))
    run = _Run(None, RunOptions(), folder)  # type: ignore[arg-type]  # reads no scenario
    line = announcement(
        "sink", sink="influxdb", url="http://db:8086", status="failed", written=0, dropped=9
    )
    run.on_master_line(f"[2026-12-06 01:00:00,000] host/INFO/x: {line}")
    saved = json.loads(folder.run_json.read_text())["sinks"]
    assert saved == {
        "influxdb": {"url": "http://db:8086", "status": "failed", "written": 0, "dropped": 9}
    }
    assert read_run_record(folder.path).sinks == saved
