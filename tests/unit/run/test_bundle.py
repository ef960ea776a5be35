"""The worker bundle: the validated scenario as JSON, no secret value, no YAML parsed again."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import framework.scenario.loader as loader
from framework.errors import UnresolvedVariableError
from framework.run.bundle import bundle_source
from framework.scenario.loader import load_scenario, load_scenario_data

MASTER_KEY = "master-secret-value"
WORKER_KEY = "worker-secret-value"
SCENARIO = """\
name: checkout
host: ${TARGET}
headers: {X-API-Key: "${API_KEY}", X-Tenant: "${TENANT:-perf}"}
data:
  items: {file: items.csv}
users:
  - name: buyer
    requests:
      - {path: "/buy/{{ data.items.sku }}", method: POST, json: {note: "$${literal}"}}
load: {shape: constant, users: 2, spawn_rate: 2, duration: 10s}
tags: {released: 2026-11-27}
"""


@pytest.fixture
def master(tmp_path: Path):
    (tmp_path / "items.csv").write_text("sku\na1\na2\n", encoding="utf-8")
    scenario = tmp_path / "checkout.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return load_scenario(scenario, env={"API_KEY": MASTER_KEY, "TARGET": "http://shop.local"})


def _constants(source: str) -> dict[str, Any]:
    """The literal assignments of a bundle, read without running it."""
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def _unpack(source: str, folder: Path) -> tuple[dict[str, Any], Path]:
    constants = _constants(source)
    for relative, text in constants["DATA_FILES"].items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    return json.loads(constants["SCENARIO_JSON"]), folder / constants["SCENARIO_NAME"]


def test_the_bundle_holds_references_and_no_secret_value(master):
    source = bundle_source(master)
    assert MASTER_KEY not in source
    assert "${API_KEY}" in source and "${TENANT:-perf}" in source
    data = json.loads(_constants(source)["SCENARIO_JSON"])
    assert data["host"] == "http://shop.local"  # hosts as the master resolved them
    assert data["tags"] == {"released": "2026-11-27"}


def test_a_worker_validates_the_bundle_s_json_with_its_own_secrets_and_no_yaml(
    master, tmp_path, monkeypatch
):
    def no_yaml(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a worker parsed YAML")

    monkeypatch.setattr(loader, "load_located", no_yaml)
    data, path = _unpack(bundle_source(master), tmp_path / "worker")
    worker = load_scenario_data(data, path, env={"API_KEY": WORKER_KEY})

    assert worker.scenario.headers == {"X-API-Key": WORKER_KEY, "X-Tenant": "perf"}
    assert worker.secrets == {WORKER_KEY}
    assert worker.redacted["headers"]["X-API-Key"] == "${API_KEY}"
    assert worker.scenario.host == "http://shop.local"
    assert (path.parent / "data" / "items.csv").read_text(encoding="utf-8") == "sku\na1\na2\n"
    expected = master.scenario.model_dump()
    expected["headers"]["X-API-Key"] = WORKER_KEY
    expected["data"]["items"]["file"] = "data/items.csv"
    expected["tags"]["released"] = "2026-11-27"
    assert worker.scenario.model_dump() == expected


def test_a_worker_without_a_secret_refuses_the_bundle_and_names_the_variable(master, tmp_path):
    data, path = _unpack(bundle_source(master), tmp_path / "worker")
    with pytest.raises(UnresolvedVariableError, match=r"\$\{API_KEY\} is not set"):
        load_scenario_data(data, path, env={})


def test_importing_the_bundle_compiles_the_scenario_without_yaml(master, tmp_path):
    bundle = tmp_path / "swarm_bundle.py"
    bundle.write_text(bundle_source(master), encoding="utf-8")
    probe = textwrap.dedent(
        f"""
        import runpy, yaml
        import framework.scenario.loader as loader
        def no_yaml(*args, **kwargs):
            raise AssertionError("the bundle parsed YAML")
        loader.load_located = no_yaml
        yaml.safe_load = yaml.load = yaml.compose = no_yaml
        namespace = runpy.run_path({str(bundle)!r})
        from locust import User
        users = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, User)]
        print([user.__name__ for user in users])
        """
    )
    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "API_KEY": WORKER_KEY, "PYTHONPATH": root}
    env.pop("TARGET", None)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "buyer" in done.stdout


def test_a_secret_password_in_the_host_stays_a_reference_in_the_bundle(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        textwrap.dedent(
            """\
            name: private
            secrets: [TARGET_PASSWORD]
            host: "http://perf:${TARGET_PASSWORD}@shop.local"
            users:
              - name: buyer
                host: "http://perf:${TARGET_PASSWORD}@admin.local"
                requests: [{path: /}]
            load: {shape: constant, users: 1, duration: 5s}
            """
        ),
        encoding="utf-8",
    )
    loaded = load_scenario(scenario, env={"TARGET_PASSWORD": "hunter2-secret"})
    source = bundle_source(loaded)
    assert "hunter2-secret" not in source
    data = json.loads(_constants(source)["SCENARIO_JSON"])
    assert data["host"] == "http://perf:${TARGET_PASSWORD}@shop.local"
    assert data["users"][0]["host"] == "http://perf:${TARGET_PASSWORD}@admin.local"
