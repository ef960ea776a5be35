"""Compiled scenarios driving a real local Locust runner against a real recording server.

Most runs are in-process (``Environment`` + local runner + the scenario's own shape), which
gives exact ``StatsEntry`` objects; the locustfile parity test runs ``locust`` as a
subprocess, as a user would, and compares its CSV with a hand-written locustfile's. Every
run is bounded by its shape (2-3 s) and by a deadline, so a shape that never ends fails fast.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from locust.env import Environment
from locust.runners import STATE_STOPPED

from framework.locust_glue.compiler import compile_scenario
from framework.scenario.loader import load_scenario
from tests.integration.recording_server import SLOW_S, RecordingServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_LOCUSTFILE = REPO_ROOT / "locustfiles" / "scenario.py"
POLL_S = 0.05
RUN_DEADLINE_S = 15.0
SIGMAS = 4.0


def _write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _run_in_process(scenario: Path, host: str) -> Environment:
    """Run ``scenario`` on a local runner until its shape ends; return the environment."""
    compiled = compile_scenario(load_scenario(scenario, env={}, host=host))
    env = Environment(user_classes=list(compiled.user_classes), shape_class=compiled.shape_class())
    runner = env.create_local_runner()
    try:
        runner.start_shape()
        deadline = time.monotonic() + RUN_DEADLINE_S
        while runner.state != STATE_STOPPED:
            assert time.monotonic() < deadline, f"shape did not end within {RUN_DEADLINE_S} s"
            gevent.sleep(POLL_S)
    finally:
        runner.quit()
    return env


def _entry(env: Environment, name: str, method: str = "GET"):
    entry = env.stats.entries.get((name, method))
    assert entry is not None, f"no stats for {method} {name}: {sorted(env.stats.entries)}"
    return entry


def _errors(env: Environment, name: str) -> dict[str, int]:
    """``{message: occurrences}`` of the failures recorded for request ``name``."""
    found: dict[str, int] = defaultdict(int)
    for error in env.stats.errors.values():
        if error.name == name:
            found[str(error.error)] += error.occurrences
    return dict(found)


def _assert_multinomial(counts: dict[str, int], weights: dict[str, int]) -> None:
    """Each count is within SIGMAS binomial standard deviations of its weight's share."""
    total = sum(counts.values())
    weight_sum = sum(weights.values())
    for name, weight in weights.items():
        p = weight / weight_sum
        expected = total * p
        sd = math.sqrt(total * p * (1 - p))
        assert abs(counts.get(name, 0) - expected) <= SIGMAS * sd, (
            f"{name}: {counts.get(name, 0)} of {total}, expected {expected:.0f} ± {SIGMAS * sd:.0f}"
        )


# --- weights --------------------------------------------------------------------------------

WEIGHTS_SCENARIO = """
    name: weights
    users:
      - name: browser
        weight: 3
        headers: {X-User-Id: "{{ user_id }}"}
        requests:
          - {name: light, path: /ok, weight: 1}
          - {name: medium, path: /ok, weight: 3}
          - {name: heavy, path: /ok, weight: 6}
      - name: buyer
        weight: 1
        headers: {X-User-Id: "{{ user_id }}"}
        requests:
          - {name: buy, method: POST, path: /ok, json: {item: 1}}
    load: {shape: constant, users: 4, spawn_rate: 4, duration: 2s}
"""


@pytest.fixture(scope="module")
def weights_run(tmp_path_factory):
    """One WEIGHTS_SCENARIO run: its environment and the requests the server received."""
    folder = tmp_path_factory.mktemp("weights")
    with RecordingServer() as server:
        env = _run_in_process(_write(folder, WEIGHTS_SCENARIO), server.url)
        return env, server.requests("/ok")


def test_request_counts_follow_task_weights_within_binomial_tolerance(weights_run):
    env, _ = weights_run

    counts = {name: _entry(env, name).num_requests for name in ("light", "medium", "heavy")}
    assert sum(counts.values()) >= 200, f"too few requests for a meaningful test: {counts}"
    _assert_multinomial(counts, {"light": 1, "medium": 3, "heavy": 6})
    assert all(_entry(env, name).num_failures == 0 for name in counts)


def test_user_weights_split_users_between_classes(weights_run):
    _, recorded = weights_run

    users_by_method: dict[str, set[str | None]] = defaultdict(set)
    for request in recorded:
        users_by_method[request.method].add(request.header("X-User-Id"))
    assert len(users_by_method["GET"]) == 3  # browser, weight 3
    assert len(users_by_method["POST"]) == 1  # buyer, weight 1
    assert users_by_method["GET"].isdisjoint(users_by_method["POST"])


# --- expectations ---------------------------------------------------------------------------

EXPECT_SCENARIO = """
    name: expectations
    users:
      - name: checker
        requests:
          - {name: wants_201, path: /ok, expect: {status: 201}}
          - {name: wants_dirty, path: /ok, expect: {json: [{path: verdict, equals: dirty}]}}
          - {name: slow_budget, path: /slow, expect: {max_ms: 100}}
          - {name: plain_500, path: /fail}
          - {name: expected_500, path: /fail, expect: {status: [500]}}
          - {name: json_only_on_500, path: /fail, expect: {json: [{path: error, equals: boom}]}}
          - {name: created_201, method: POST, path: /created, expect: {status: 201}}
          - name: all_pass
            path: /ok
            expect:
              status: 2xx
              body_contains: clean
              max_ms: 5000
              json:
                - {path: verdict, in: [clean, flagged]}
                - {path: labels.0, equals: a}
                - {path: score, gte: 0.5, lte: 0.5}
                - {path: missing, exists: false}
    load: {shape: constant, users: 3, spawn_rate: 3, duration: 2s}
"""


@pytest.fixture(scope="module")
def expect_run(tmp_path_factory) -> Iterator[Environment]:
    """One run of EXPECT_SCENARIO shared by the expectation tests (they only read stats)."""
    folder = tmp_path_factory.mktemp("expect")
    with RecordingServer() as server:
        yield _run_in_process(_write(folder, EXPECT_SCENARIO), server.url)


def test_unexpected_status_is_a_failure_naming_got_and_expected(expect_run):
    entry = _entry(expect_run, "wants_201")
    assert entry.num_requests > 0
    assert entry.num_failures == entry.num_requests
    assert _errors(expect_run, "wants_201") == {"status 200, expected 201": entry.num_failures}


def test_failed_json_check_is_a_failure_naming_field_value_and_expectation(expect_run):
    entry = _entry(expect_run, "wants_dirty")
    assert entry.num_requests > 0
    assert entry.num_failures == entry.num_requests
    assert _errors(expect_run, "wants_dirty") == {
        "json verdict = 'clean', expected 'dirty'": entry.num_failures
    }


def test_responses_slower_than_max_ms_are_failures_under_one_message(expect_run):
    entry = _entry(expect_run, "slow_budget")
    errors = _errors(expect_run, "slow_budget")
    assert entry.num_requests > 0
    assert errors == {"slower than 100 ms": entry.num_requests}
    assert entry.num_failures == entry.num_requests


def test_status_500_without_expect_fails_by_locust_rule(expect_run):
    entry = _entry(expect_run, "plain_500")
    assert entry.num_requests > 0
    assert entry.num_failures == entry.num_requests
    (message,) = _errors(expect_run, "plain_500")
    assert "500" in message


def test_status_500_listed_in_expect_is_a_success(expect_run):
    entry = _entry(expect_run, "expected_500")
    assert entry.num_requests > 0
    assert entry.num_failures == 0


def test_expect_without_status_keeps_locust_rule_for_500(expect_run):
    entry = _entry(expect_run, "json_only_on_500")
    assert entry.num_requests > 0
    assert _errors(expect_run, "json_only_on_500") == {"status 500": entry.num_requests}


def test_expected_201_and_passing_checks_are_successes(expect_run):
    created = _entry(expect_run, "created_201", "POST")
    passing = _entry(expect_run, "all_pass")
    assert created.num_requests > 0 and passing.num_requests > 0
    assert created.num_failures == 0
    assert passing.num_failures == 0, _errors(expect_run, "all_pass")


# --- what arrives at the server -------------------------------------------------------------

CONTENT_SCENARIO = """
    name: request-content
    headers: {X-Scenario: from-scenario, X-Level: scenario, X-Case: scenario}
    users:
      - name: shopper
        headers: {X-User-Level: from-user, X-Level: user}
        requests:
          - {name: inherit, path: /ok}
          - name: override
            path: /ok
            headers: {X-Level: request, x-case: request}
          - name: templated
            method: POST
            path: /ok
            headers: {X-User-Id: "{{ user_id }}"}
            json:
              text: "{{ random_text(12) }}"
              count: "{{ random_int(5, 9) }}"
              user: "{{ user_id }}"
              id: "{{ random_id() }}"
              label: "user-{{ user_id }}"
              pick: "{{ choice(['x', 'y']) }}"
              fixed: 7
          - name: query
            path: /ok?fixed=1
            query: {q: "a b&c=d/é", tags: [x, y], n: "{{ random_int(1, 3) }}"}
    load: {shape: constant, users: 3, spawn_rate: 3, duration: 2s}
"""


@pytest.fixture(scope="module")
def content_requests(tmp_path_factory) -> dict[str, list]:
    """The recorded requests of one CONTENT_SCENARIO run, by request name."""
    folder = tmp_path_factory.mktemp("content")
    with RecordingServer() as server:
        env = _run_in_process(_write(folder, CONTENT_SCENARIO), server.url)
        recorded = server.requests("/ok")
    assert env.stats.total.num_failures == 0
    by_name: dict[str, list] = defaultdict(list)
    for request in recorded:
        if request.method == "POST":
            by_name["templated"].append(request)
        elif request.query:
            by_name["query"].append(request)
        elif request.header("X-Level") == "request":
            by_name["override"].append(request)
        else:
            by_name["inherit"].append(request)
    assert all(by_name[n] for n in ("inherit", "override", "templated", "query")), by_name.keys()
    return by_name


def test_scenario_and_user_headers_reach_the_server(content_requests):
    for request in content_requests["inherit"]:
        assert request.header("X-Scenario") == "from-scenario"
        assert request.header("X-User-Level") == "from-user"
        assert request.header("X-Level") == "user"  # the user level overrides the scenario
        assert request.header("X-Case") == "scenario"


def test_request_headers_override_inherited_ones_whatever_their_case(content_requests):
    for request in content_requests["override"]:
        assert request.header("X-Level") == "request"
        assert request.header_values("X-Case") == ["request"]  # one header, not two
        assert request.header("X-Scenario") == "from-scenario"


def test_json_templates_render_per_request_with_native_types(content_requests):
    bodies = [r.json() for r in content_requests["templated"]]
    for request, body in zip(content_requests["templated"], bodies, strict=True):
        assert request.header("Content-Type") == "application/json"
        assert isinstance(body["text"], str) and len(body["text"]) == 12
        assert type(body["count"]) is int and 5 <= body["count"] <= 9
        assert type(body["user"]) is int
        assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
        assert body["label"] == f"user-{body['user']}"
        assert body["pick"] in ("x", "y")
        assert body["fixed"] == 7
    assert len({b["id"] for b in bodies}) == len(bodies)  # rendered per request, not once
    assert len({b["text"] for b in bodies}) > 1


def test_user_id_is_one_number_per_simulated_user(content_requests):
    pairs = {(r.header("X-User-Id"), r.json()["user"]) for r in content_requests["templated"]}
    assert all(header == str(body) for header, body in pairs)
    assert {body for _, body in pairs} == {1, 2, 3}


def test_query_parameters_are_url_encoded_and_appended_to_the_path_query(content_requests):
    for request in content_requests["query"]:
        query = dict(request.query)
        assert query.pop("n")[0] in ("1", "2", "3")
        assert query == {"fixed": ["1"], "q": ["a b&c=d/é"], "tags": ["x", "y"]}


# --- CSV data files -------------------------------------------------------------------------

DATA_SCENARIO = """
    name: data-files
    data:
      words: {file: words.csv, order: sequential}
      accounts: {file: accounts.csv, order: unique}
    users:
      - name: reader
        weight: 1
        requests:
          - name: read
            path: /ok
            query: {id: "{{ data.words.id }}", word: "{{ data.words.word }}"}
      - name: account
        weight: 3
        requests:
          - name: login
            method: POST
            path: /ok
            headers: {X-User-Id: "{{ user_id }}"}
            json: {account: "{{ data.accounts.name }}"}
    load: {shape: constant, users: 4, spawn_rate: 4, duration: 2s}
"""
WORDS = [("1", "one"), ("2", "two"), ("3", "three")]
ACCOUNTS = ["alice", "bob", "carol", "dave", "erin", "frank"]


def _write_data_files(folder: Path, accounts: list[str]) -> None:
    (folder / "words.csv").write_text(
        "id,word\n" + "".join(f"{i},{w}\n" for i, w in WORDS), encoding="utf-8"
    )
    (folder / "accounts.csv").write_text("name\n" + "\n".join(accounts) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def data_requests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    _write_data_files(folder, ACCOUNTS)
    with RecordingServer() as server:
        env = _run_in_process(_write(folder, DATA_SCENARIO), server.url)
        recorded = server.requests("/ok")
    assert env.stats.total.num_failures == 0
    return recorded


def test_sequential_rows_arrive_in_file_order_one_row_per_request(data_requests):
    rows = [(r.query["id"][0], r.query["word"][0]) for r in data_requests if r.method == "GET"]
    assert len(rows) >= 2 * len(WORDS)
    assert rows == [WORDS[i % len(WORDS)] for i in range(len(rows))]


def test_unique_rows_give_each_user_its_own_account_for_its_whole_life(data_requests):
    accounts_by_user: dict[str, set[str]] = defaultdict(set)
    for request in data_requests:
        if request.method == "POST":
            accounts_by_user[request.header("X-User-Id")].add(request.json()["account"])
    assert len(accounts_by_user) == 3  # the three `account` users
    assert all(len(accounts) == 1 for accounts in accounts_by_user.values()), accounts_by_user
    held = [next(iter(accounts)) for accounts in accounts_by_user.values()]
    assert len(set(held)) == len(held)
    assert set(held) <= set(ACCOUNTS)


UNIQUE_FOR_SOME_SCENARIO = """
    name: unique-for-some
    data:
      accounts: {file: accounts.csv, order: unique}
    users:
      - name: login
        requests:
          - {name: login, method: POST, path: /ok, json: {account: "{{ data.accounts.name }}"}}
      - name: browse
        headers: {X-User-Id: "{{ user_id }}"}
        requests:
          - {name: browse, path: /ok}
    load: {shape: constant, users: 4, spawn_rate: 4, duration: 2s}
"""


def test_unique_rows_are_only_taken_by_users_that_read_the_file(recording_server, tmp_path):
    _write_data_files(tmp_path, ACCOUNTS[:2])  # two rows for the two `login` users
    env = _run_in_process(_write(tmp_path, UNIQUE_FOR_SOME_SCENARIO), recording_server.url)

    recorded = recording_server.requests("/ok")
    logins = {r.json()["account"] for r in recorded if r.method == "POST"}
    browsers = {r.header("X-User-Id") for r in recorded if r.method == "GET"}
    assert env.stats.total.num_requests > 0
    assert logins == set(ACCOUNTS[:2])
    assert len(browsers) == 2


# --- request timeout ------------------------------------------------------------------------

TIMEOUT_SCENARIO = """
    name: request-timeout
    users:
      - name: impatient
        requests:
          - {name: too_slow, path: /slow, timeout: 0.1}
          - {name: next_ok, path: /ok, expect: {json: [{path: verdict, equals: clean}]}}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 2s}
"""


def test_request_timeout_is_a_quick_failure_and_the_next_request_reads_its_own_reply(
    recording_server, tmp_path
):
    env = _run_in_process(_write(tmp_path, TIMEOUT_SCENARIO), recording_server.url)

    slow = _entry(env, "too_slow")
    assert slow.num_requests > 0
    assert slow.num_failures == slow.num_requests
    assert _errors(env, "too_slow") == {"no response within 0.1 s": slow.num_failures}
    assert slow.max_response_time < SLOW_S * 1000 * 0.8  # cut at 0.1 s, not after 0.3 s
    # a late /slow reply must not be taken for the next request's reply on a reused connection
    after = _entry(env, "next_ok")
    assert after.num_requests > 0
    assert after.num_failures == 0, _errors(env, "next_ok")
    assert len(recording_server.requests("/slow")) >= slow.num_requests


# --- same statistics as a hand-written locustfile -------------------------------------------

PARITY_SCENARIO = """
    name: parity
    users:
      - name: Shopper
        requests:
          - {name: list items, path: /ok, weight: 3}
          - {name: create item, method: POST, path: /ok, json: {a: 1}}
          - {name: remove item, method: DELETE, path: /ok, query: {id: 1}}
          - {path: /fail}
    load: {shape: constant, users: 2, spawn_rate: 2, duration: 3s}
"""
HANDWRITTEN_LOCUSTFILE = """
    from locust import FastHttpUser, constant, task


    class Shopper(FastHttpUser):
        wait_time = constant(0)

        @task(3)
        def list_items(self):
            self.client.request("GET", "/ok", name="list items")

        @task
        def create_item(self):
            self.client.request("POST", "/ok", name="create item", json={"a": 1})

        @task
        def remove_item(self):
            self.client.request("DELETE", "/ok?id=1", name="remove item")

        @task
        def fail(self):
            self.client.request("GET", "/fail")
"""


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_scenario_statistics_match_a_handwritten_locustfile(
    recording_server, tmp_path, child_processes
):
    scenario = _write(tmp_path, PARITY_SCENARIO)
    handwritten = _write(tmp_path, HANDWRITTEN_LOCUSTFILE, "handwritten.py")
    common = ["--headless", "--host", recording_server.url, "--exit-code-on-error", "0"]
    locust = [sys.executable, "-m", "locust"]
    runs = {
        "scenario": [*locust, "-f", str(SCENARIO_LOCUSTFILE), "--scenario", str(scenario)],
        "handwritten": [*locust, "-f", str(handwritten), "-u", "2", "-r", "2", "-t", "3s"],
    }
    children = {}
    for label, command in runs.items():  # both at once: same server, same few seconds
        with (tmp_path / f"{label}.log").open("w") as log:
            children[label] = child_processes.start(
                [*command, *common, "--csv", str(tmp_path / label)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    for label, child in children.items():
        code = child.wait(timeout=30)
        assert code == 0, (tmp_path / f"{label}.log").read_text()

    stats = {label: _csv_rows(tmp_path / f"{label}_stats.csv") for label in runs}
    failures = {label: _csv_rows(tmp_path / f"{label}_failures.csv") for label in runs}
    names = {label: sorted((r["Type"], r["Name"]) for r in rows) for label, rows in stats.items()}
    assert (
        names["scenario"]
        == names["handwritten"]
        == [
            ("", "Aggregated"),
            ("DELETE", "remove item"),
            ("GET", "/fail"),
            ("GET", "list items"),
            ("POST", "create item"),
        ]
    )
    errors = {
        label: sorted((r["Method"], r["Name"], r["Error"]) for r in rows)
        for label, rows in failures.items()
    }
    assert errors["scenario"] == errors["handwritten"]
    assert [name for _, name, _ in errors["scenario"]] == ["/fail"]
    by_name = {label: {r["Name"]: r for r in rows} for label, rows in stats.items()}
    for label in runs:
        fail_row = by_name[label]["/fail"]
        assert int(fail_row["Failure Count"]) == int(fail_row["Request Count"]) > 0
        assert int(by_name[label]["list items"]["Failure Count"]) == 0
    methods = Counter(r.method for r in recording_server.requests())
    assert set(methods) == {"GET", "POST", "DELETE"}
