"""A secret from the environment is sent, but no ``repr()`` or ``str()`` shows it."""

from __future__ import annotations

import os

import pytest

from framework.run.runner import RunOptions
from framework.scenario.interpolation import interpolate, mask_secrets
from framework.scenario.loader import load_scenario
from framework.scenario.model import Scenario

KEY = "sk-live-7f3a9c"
SCENARIO = """\
name: checkout
host: http://localhost:8001
headers:
  Authorization: Bearer ${API_KEY}
users:
  - name: shopper
    headers: {X-Api-Key: "${API_KEY}"}
    requests:
      - path: /items?key=${API_KEY}
        query: {token: "${API_KEY}"}
        json: {auth: {key: "${API_KEY}"}, keys: ["${API_KEY}", "k-${API_KEY}"]}
      - path: /form
        method: POST
        body: "key=${API_KEY}"
load: {shape: constant, users: 1, duration: 5s}
"""


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", KEY)
    monkeypatch.setenv("SWARM_HOST", f"http://ci:{KEY}@localhost:8001")
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return load_scenario(path)


def _shown(obj: object) -> list[str]:
    return [repr(obj), str(obj)]


def test_the_loaded_scenario_and_every_model_in_it_mask_the_secret(loaded):
    scenario = loaded.scenario
    user = scenario.users[0]
    objects = [loaded, scenario, user, *user.requests, scenario.load]
    for obj in objects:
        for text in _shown(obj):
            assert KEY not in text, type(obj).__name__
    assert "Bearer ***" in repr(scenario)
    assert "<1 hidden>" in repr(loaded)


def test_the_secret_is_still_what_is_sent(loaded):
    user = loaded.scenario.users[0]
    assert loaded.scenario.headers["Authorization"] == f"Bearer {KEY}"
    assert user.headers["X-Api-Key"] == KEY
    assert user.requests[0].json_body["keys"] == [KEY, f"k-{KEY}"]
    assert user.requests[1].body == f"key={KEY}"
    assert loaded.host == f"http://ci:{KEY}@localhost:8001"
    assert KEY in loaded.secrets


def test_which_values_were_secret_does_not_change_equality(loaded):
    again = Scenario.model_validate(loaded.scenario.model_dump(by_alias=True))
    assert again == loaded.scenario
    assert KEY in repr(again)  # validated without the loader's context: nothing to mask


def test_interpolated_data_masks_the_secret():
    values = interpolate({"headers": {"X-Key": "${API_KEY}"}}, {**os.environ, "API_KEY": KEY})
    assert values.resolved == {"headers": {"X-Key": KEY}}
    for text in _shown(values):
        assert KEY not in text


def test_run_options_show_only_the_names_of_their_environment():
    options = RunOptions(env={"API_KEY": KEY}, workers=2)
    for text in _shown(options):
        assert KEY not in text
        assert "'API_KEY': '***'" in text and "workers=2" in text


def test_mask_secrets_masks_the_longest_secret_first():
    assert mask_secrets(["abcdef", ("abc",), {"k": "xabcdefx"}, 5], {"abc", "abcdef"}) == [
        "***",
        ("***",),
        {"k": "x***x"},
        5,
    ]
