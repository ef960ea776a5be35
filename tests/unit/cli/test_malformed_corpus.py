"""A corpus of malformed inputs: every file kind swarm reads and every flag of every command.

Each input must end in exit code 2 (invalid input) before anything runs, with no traceback,
a message that says where (``file:line`` or the flag's name) and a hint of what is allowed.
Driven in process through ``framework.cli.main.main`` so the whole corpus runs in seconds;
``tests/integration/test_malformed_cli.py`` proves a few of them through a real ``swarm``.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from framework.cli.main import build_parser, main


@dataclass(frozen=True)
class Case:
    """One malformed input: the command line, the files it names, what the error must say."""

    id: str
    argv: tuple[str, ...]
    where: str
    hint: str
    files: dict[str, str | bytes] = field(default_factory=dict)


SCENARIO = """\
name: t
host: http://127.0.0.1:9
users:
  - name: u
    requests:
      - path: /a
load: {shape: constant, users: 1, duration: 5}
"""
"""A valid scenario: each scenario case changes one thing in it (lines 1..7)."""

DATA_SCENARIO = """\
name: t
host: http://127.0.0.1:9
data:
  accounts: {file: accounts.csv}
users:
  - name: u
    requests:
      - path: "/a/{{ data.accounts.email }}"
load: {shape: constant, users: 1, duration: 5}
"""
"""A valid scenario that reads ``accounts.csv`` (declared on line 4)."""

MOCKS = """\
detectors:
  fast:
    latency: {model: fixed, ms: 5}
"""
"""A valid mock-detector config: each mock case changes one thing in it."""


def _changed(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


def _scenario(case_id: str, old: str, new: str, where: str, hint: str) -> Case:
    """``swarm validate`` of the base scenario with ``old`` replaced by ``new``."""
    text = _changed(SCENARIO, old, new)
    return Case(case_id, ("validate", "s.yaml"), where, hint, {"s.yaml": text})


def _budgets(case_id: str, text: str | bytes, where: str, hint: str) -> Case:
    """``swarm run`` with a broken ``--budgets`` file: refused before any load is sent."""
    files = {"s.yaml": SCENARIO, "b.yaml": text}
    return Case(case_id, ("run", "s.yaml", "--budgets", "b.yaml"), where, hint, files)


def _data(case_id: str, csv: str | bytes, where: str, hint: str) -> Case:
    files = {"s.yaml": DATA_SCENARIO, "accounts.csv": csv}
    return Case(case_id, ("validate", "s.yaml"), where, hint, files)


def _mocks(case_id: str, text: str | bytes, where: str, hint: str) -> Case:
    return Case(case_id, ("mocks", "--check", "--config", "m.yaml"), where, hint, {"m.yaml": text})


def _flag(case_id: str, argv: tuple[str, ...], where: str, hint: str) -> Case:
    """A bad command-line value; ``s.yaml`` is a valid scenario for commands that need one."""
    return Case(case_id, argv, where, hint, {"s.yaml": SCENARIO, "afile": "x"})


def _run_folder_files() -> dict[str, str | bytes]:
    """``run.json`` and ``timeline.jsonl`` of a small real run folder (the timeline writer's),
    for ``swarm query .`` in the case's folder."""
    from tests.synthetic import write_run

    with tempfile.TemporaryDirectory() as folder:
        run = write_run(Path(folder) / "r", seconds=5, names=("GET /a",), rps=5)
        return {name: (run / name).read_bytes() for name in ("run.json", "timeline.jsonl")}


RUN_FILES = _run_folder_files()


def _query(case_id: str, args: tuple[str, ...], where: str, hint: str) -> Case:
    """``swarm query`` of a real run folder (the case's folder itself) with a bad flag."""
    return Case(case_id, ("query", ".", *args), where, hint, dict(RUN_FILES))


SCENARIO_CASES = [
    Case("empty-file", ("validate", "s.yaml"), "s.yaml:1", "is empty", {"s.yaml": ""}),
    Case(
        "only-comments",
        ("validate", "s.yaml"),
        "s.yaml:1",
        "expected a scenario",
        {"s.yaml": "# nothing yet\n\n"},
    ),
    Case(
        "binary-file",
        ("validate", "s.yaml"),
        "s.yaml:1:",
        "looks binary",
        {"s.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
    ),
    Case(
        "nul-byte",
        ("validate", "s.yaml"),
        "s.yaml:2:",
        "NUL byte",
        {"s.yaml": SCENARIO.replace("host: http", "host: ht\x00tp")},
    ),
    Case(
        "control-character",
        ("validate", "s.yaml"),
        "s.yaml:1:",
        "not allowed in YAML",
        {"s.yaml": SCENARIO.replace("name: t", "name: t\x07")},
    ),
    Case(
        "top-level-list",
        ("validate", "s.yaml"),
        "s.yaml:1:1",
        "must be a mapping",
        {"s.yaml": "- a\n- b\n"},
    ),
    Case(
        "bad-yaml-indentation",
        ("validate", "s.yaml"),
        "s.yaml:4:",
        "invalid YAML",
        {"s.yaml": "name: t\nusers:\n  - name: u\n requests: []\n"},
    ),
    Case(
        "duplicate-key",
        ("validate", "s.yaml"),
        "s.yaml:2:",
        "duplicate key",
        {"s.yaml": "name: t\nname: u\n"},
    ),
    Case("file-not-found", ("validate", "missing.yaml"), "missing.yaml", "file not found"),
    Case("scenario-is-a-folder", ("validate", "."), ".", "is a directory"),
    _scenario("unknown-key", "name: t", "nmae: t", "s.yaml:1:", "did you mean 'name'"),
    _scenario("name-missing", "name: t\n", "", "s.yaml", "required field is missing"),
    _scenario("name-not-one-line", "name: t", 'name: "a\\nb"', "s.yaml:1:", "one non-blank"),
    _scenario("host-not-http", "http://127.0.0.1:9", "ftp://x", "s.yaml:2:", "http://"),
    _scenario(
        "users-empty",
        "users:\n  - name: u\n    requests:\n      - path: /a\n",
        "users: []\n",
        "s.yaml:3:",
        "at least 1",
    ),
    _scenario("user-name-bad", "- name: u", "- name: 9u", "s.yaml:4:", "must start with"),
    _scenario(
        "user-weight-bool", "- name: u", "- name: u\n    weight: true", "s.yaml:5:", "not numbers"
    ),
    _scenario(
        "user-weight-huge",
        "- name: u",
        "- name: u\n    weight: 1000000000000",
        "s.yaml:5:",
        "less than or equal",
    ),
    _scenario("path-without-slash", "path: /a", "path: a", "s.yaml:6:", "must start with '/'"),
    _scenario(
        "method-unknown", "path: /a", "path: /a\n        method: FETCH", "s.yaml:7:", "'GET'"
    ),
    _scenario(
        "json-and-body",
        "path: /a",
        "path: /a\n        json: {}\n        body: x",
        "s.yaml:8:",
        "not both",
    ),
    _scenario(
        "status-out-of-range",
        "path: /a",
        "path: /a\n        expect: {status: 700}",
        "s.yaml:7:",
        "100..599",
    ),
    _scenario(
        "status-bool",
        "path: /a",
        "path: /a\n        expect: {status: [true]}",
        "s.yaml:7:",
        "not codes",
    ),
    _scenario(
        "json-check-exists-string",
        "path: /a",
        "path: /a\n        expect: {json: [{path: a, exists: 'yes'}]}",
        "s.yaml:7:",
        "true or false",
    ),
    _scenario(
        "json-check-gte-above-lte",
        "path: /a",
        "path: /a\n        expect: {json: [{path: a, gte: 5, lte: 1}]}",
        "s.yaml:7:",
        "must not be below gte",
    ),
    _scenario(
        "json-check-bad-regex",
        "path: /a",
        "path: /a\n        expect: {json: [{path: a, matches: '('}]}",
        "s.yaml:7:",
        "regular expression",
    ),
    _scenario(
        "max-ms-infinite",
        "path: /a",
        "path: /a\n        expect: {max_ms: 1e400}",
        "s.yaml:7:",
        "finite",
    ),
    _scenario(
        "request-timeout-negative",
        "path: /a",
        "path: /a\n        timeout: -1s",
        "s.yaml:7:",
        "negative",
    ),
    _scenario(
        "think-time-reversed",
        "- name: u",
        "- name: u\n    think_time: {uniform_ms: [2000, 500]}",
        "s.yaml:5:",
        "write [500, 2000]",
    ),
    _scenario(
        "think-time-two-kinds",
        "- name: u",
        "- name: u\n    think_time: {fixed_ms: 5, pacing: 1s}",
        "s.yaml:5:",
        "exactly one",
    ),
    _scenario(
        "think-time-negative",
        "- name: u",
        "- name: u\n    think_time: {fixed_ms: -5}",
        "s.yaml:5:",
        "greater than or equal to 0",
    ),
    _scenario(
        "throughput-bool",
        "- name: u",
        "- name: u\n    think_time: {throughput: true}",
        "s.yaml:5:",
        "not numbers",
    ),
    _scenario(
        "timeout-not-a-duration", "name: t", "name: t\ntimeout: soon", "s.yaml:2:", "90s, 2m"
    ),
    _scenario("duration-too-long", "duration: 5", "duration: 400d", "s.yaml:7:", "90s, 2m"),
    _scenario(
        "duration-over-30-days", "duration: 5", "duration: 1000h", "s.yaml:7:", "at most 30 days"
    ),
    _scenario("users-zero", "users: 1,", "users: 0,", "s.yaml:7:", "greater than or equal to 1"),
    _scenario("users-bool", "users: 1,", "users: true,", "s.yaml:7:", "not numbers"),
    _scenario(
        "users-too-many", "users: 1,", "users: 99999999999,", "s.yaml:7:", "less than or equal"
    ),
    _scenario("shape-unknown", "shape: constant", "shape: ramp", "s.yaml:7:", "allowed"),
    _scenario("shape-missing", "shape: constant, ", "", "s.yaml:7:", "allowed"),
    _scenario(
        "spawn-rate-infinite",
        "duration: 5}",
        "duration: 5, spawn_rate: .inf}",
        "s.yaml:7:",
        "finite",
    ),
    _scenario(
        "wave-min-above-max-and-field-missing",
        "{shape: constant, users: 1, duration: 5}",
        "{shape: wave, min_users: 50, max_users: 10, duration: 60, spawn_rate: 5}",
        "s.yaml:7:",
        "must be above min_users (50)",
    ),
    _scenario(
        "spike-not-above-base",
        "{shape: constant, users: 1, duration: 5}",
        "{shape: spike, base_users: 9, spike_users: 3, base_duration: 5, "
        "spike_duration: 5, recovery_duration: 5, spawn_rate: 1}",
        "s.yaml:7:",
        "must be above base_users",
    ),
    _scenario(
        "stepped-peak-too-high",
        "{shape: constant, users: 1, duration: 5}",
        "{shape: stepped, start_users: 1, step_users: 9000000, step_duration: 5, "
        "steps: 5, spawn_rate: 1}",
        "s.yaml:7:",
        "at most",
    ),
    _scenario(
        "stages-empty",
        "{shape: constant, users: 1, duration: 5}",
        "{shape: stages, stages: []}",
        "s.yaml:7:",
        "at least 1",
    ),
    _scenario(
        "stage-users-negative",
        "{shape: constant, users: 1, duration: 5}",
        "{shape: stages, stages: [{duration: 5, users: -1, spawn_rate: 1}]}",
        "s.yaml:7:",
        "greater than or equal to 0",
    ),
    _scenario(
        "template-syntax", "path: /a", "path: '/a/{{ user_id'", "s.yaml:6:", "template syntax error"
    ),
    _scenario(
        "template-unknown-name",
        "path: /a",
        "path: '/a/{{ secret }}'",
        "s.yaml:6:",
        "allowed: choice",
    ),
    _scenario(
        "random-text-too-long",
        "path: /a",
        "path: '/a/{{ random_text(1e8) }}'",
        "s.yaml:6:",
        "must be 0..1048576",
    ),
    _scenario(
        "random-int-reversed",
        "path: /a",
        "path: '/a/{{ random_int(9, 1) }}'",
        "s.yaml:6:",
        "a must be <= b",
    ),
    _scenario(
        "choice-empty", "path: /a", "path: '/a/{{ choice([]) }}'", "s.yaml:6:", "non-empty list"
    ),
    _scenario(
        "helper-wrong-arity",
        "path: /a",
        "path: '/a/{{ random_id(3) }}'",
        "s.yaml:6:",
        "no arguments",
    ),
    _scenario(
        "unset-variable", "http://127.0.0.1:9", "${NO_SUCH_VARIABLE_12}", "s.yaml:2:", ":-default"
    ),
    _scenario("secrets-bad-name", "name: t", "name: t\nsecrets: [9x]", "s.yaml:2:", "like API_KEY"),
    _scenario(
        "duplicate-user-names",
        "      - path: /a\n",
        "      - path: /a\n  - name: u\n    requests: [{path: /b}]\n",
        "s.yaml:7:",
        "must be unique",
    ),
    _scenario(
        "budget-in-scenario-over-100-percent",
        "name: t",
        "name: t\nbudgets: {overall: {error_rate: 150%}}",
        "s.yaml:2:",
        "0% to 100%",
    ),
    Case(
        "long-value-not-echoed",
        ("validate", "s.yaml"),
        "s.yaml:6:",
        "characters)",
        {"s.yaml": _changed(SCENARIO, "path: /a", "path: " + "x" * 100_000)},
    ),
    Case(
        "plan-of-a-broken-scenario",
        ("plan", "s.yaml"),
        "s.yaml:7:",
        "greater than or equal to 1",
        {"s.yaml": _changed(SCENARIO, "users: 1,", "users: 0,")},
    ),
]

BUDGET_CASES = [
    _budgets("budgets-empty", "", "b.yaml:1", "is empty"),
    _budgets("budgets-binary", b"\xff\xfe\x00\x01", "b.yaml:1:", "looks binary"),
    _budgets("budgets-nul", "overall: {p95_ms: 5\x000}\n", "b.yaml:1:", "NUL byte"),
    _budgets("budgets-list", "- 1\n", "b.yaml:1:1", "must be a mapping"),
    _budgets("budgets-error-rate-150", "overall: {error_rate: 150%}\n", "b.yaml:1:", "0% to 100%"),
    _budgets("budgets-p95-1e400", "overall: {p95_ms: 1e400}\n", "b.yaml:1:", "finite"),
    _budgets("budgets-p95-negative", "overall: {p95_ms: -5}\n", "b.yaml:1:", "greater than 0"),
    _budgets("budgets-p95-bool", "overall: {p95_ms: true}\n", "b.yaml:1:", "not numbers"),
    _budgets(
        "budgets-percentiles-reversed",
        "overall: {p50_ms: 900, p99_ms: 800}\n",
        "b.yaml:1:",
        "never faster",
    ),
    _budgets("budgets-bad-percentage", "tolerance: ten%\n", "b.yaml:1:", "write e.g. 10%"),
    _budgets("budgets-unknown-key", "overall: {p96_ms: 5}\n", "b.yaml:1:", "did you mean 'p99_ms'"),
    _budgets("budgets-inconclusive", "inconclusive: maybe\n", "b.yaml:1:", "'pass'"),
    _budgets(
        "budgets-min-throughput-string",
        "overall: {min_throughput: fast}\n",
        "b.yaml:1:",
        "valid number",
    ),
    _budgets("budgets-bad-yaml", "overall: {p95_ms: 5\n", "b.yaml:2:", "invalid YAML"),
]

DATA_CASES = [
    _data("csv-empty", "", "s.yaml:4:", "header line is required"),
    _data("csv-header-only", "email\n", "s.yaml:4:", "no data rows"),
    _data("csv-binary", b"\x89PNG\r\n\x1a\n\xff\xfe", "s.yaml:4:", "looks binary"),
    _data("csv-nul", "email\na\x00b@x\n", "s.yaml:4:", "NUL byte"),
    _data("csv-missing-column", "login\nbob\n", "s.yaml:8:", "columns: login"),
    Case(
        "csv-not-found",
        ("validate", "s.yaml"),
        "s.yaml:4:",
        "data file not found",
        {"s.yaml": DATA_SCENARIO},
    ),
]

MOCK_CASES = [
    _mocks("mocks-empty", "", "m.yaml:1", "expected a mapping with 'detectors'"),
    _mocks("mocks-binary", b"\x00\x01\x02\xff", "m.yaml:1", "looks binary"),
    _mocks("mocks-nul", MOCKS.replace("fast:", "fa\x00st:"), "m.yaml:2:", "NUL byte"),
    _mocks("mocks-rate-bool", MOCKS + "    errors: {rate: true}\n", "m.yaml:4:", "not numbers"),
    _mocks("mocks-rate-above-1", MOCKS + "    errors: {rate: 1.5}\n", "m.yaml:4:", "<= 1"),
    _mocks("mocks-ms-infinite", MOCKS.replace("ms: 5", "ms: 1e400"), "m.yaml:3:", "finite"),
    _mocks(
        "mocks-uniform-reversed",
        MOCKS.replace("{model: fixed, ms: 5}", "{model: uniform, min_ms: 9, max_ms: 1}"),
        "m.yaml:3:",
        "must be >= min_ms",
    ),
    _mocks("mocks-model-unknown", MOCKS.replace("fixed", "gamma"), "m.yaml:3:", "allowed"),
    _mocks("mocks-port-too-high", "base_port: 70000\n" + MOCKS, "m.yaml:1:", "<= 65535"),
    _mocks("mocks-seed-string", MOCKS + "    seed: abc\n", "m.yaml:4:", "integer"),
    _mocks(
        "mocks-rates-over-1",
        MOCKS + "    errors: {rate: 0.7}\n    timeouts: {rate: 0.5}\n",
        "m.yaml:",
        "must be <= 1",
    ),
    _mocks("mocks-unknown-key", MOCKS + "    latencyy: 5\n", "m.yaml:4:", "allowed"),
]

FLAG_CASES = [
    _flag("unknown-command", ("valdiate", "s.yaml"), "valdiate", "did you mean"),
    _flag("init-not-openapi", ("init", "--from-openapi", "s.yaml"), "s.yaml:1", "not an OpenAPI"),
    _flag("init-no-spec", ("init", "--from-openapi", "nope.yaml"), "nope.yaml", "no such file"),
    _flag("run-host", ("run", "s.yaml", "--host", "ftp://x"), "--host", "http://"),
    _flag(
        "run-influx-url",
        ("run", "s.yaml", "--influx-url", "db:8086", "--influx-bucket", "b"),
        "--influx-url",
        "http://",
    ),
    _flag(
        "run-influx-bucket",
        ("run", "s.yaml", "--influx-url", "http://db:8086", "--influx-bucket", " "),
        "--influx-bucket",
        "must name the bucket",
    ),
    _flag(
        "master-influx-url",
        ("master", "s.yaml", "--influx-url", "http://db:x", "--influx-bucket", "b"),
        "--influx-url",
        "http://",
    ),
    _flag(
        "master-influx-bucket",
        ("master", "s.yaml", "--influx-url", "https://db", "--influx-bucket", ""),
        "--influx-bucket",
        "must name the bucket",
    ),
    _flag("run-out-is-a-file", ("run", "s.yaml", "--out", "afile"), "--out", "not a folder"),
    _flag("run-run-id", ("run", "s.yaml", "--run-id", "../x"), "--run-id", "use 1-128 letters"),
    _flag("run-web", ("run", "s.yaml", "--web=yes"), "--web", "ignored explicit argument"),
    _flag("run-web-port", ("run", "s.yaml", "--web-port", "0"), "--web-port", "1..65535"),
    _flag(
        "run-metrics-port", ("run", "s.yaml", "--metrics-port", "0"), "--metrics-port", "1..65535"
    ),
    _flag(
        "master-metrics-port",
        ("master", "s.yaml", "--metrics-port", "x"),
        "--metrics-port",
        "expected an integer",
    ),
    _flag("alerts-for", ("alerts", "s.yaml", "--for", "soon"), "--for", "2m"),
    _flag("alerts-window", ("alerts", "s.yaml", "--window", "0"), "--window", "at least 1s"),
    _flag(
        "run-allow-worker-loss",
        ("run", "s.yaml", "--allow-worker-loss=1"),
        "--allow-worker-loss",
        "ignored explicit argument",
    ),
    _flag("run-workers", ("run", "s.yaml", "--workers", "9999"), "--workers", "0..256"),
    _flag(
        "run-workers-text",
        ("run", "s.yaml", "--workers", "two"),
        "--workers",
        "expected an integer",
    ),
    _flag(
        "run-confidence", ("run", "s.yaml", "--confidence", "2"), "--confidence", "between 0 and 1"
    ),
    _flag("run-warmup", ("run", "s.yaml", "--warmup", "soon"), "--warmup", "90s, 2m"),
    _flag(
        "run-budgets-missing",
        ("run", "s.yaml", "--budgets", "nope.yaml"),
        "nope.yaml",
        "cannot read budgets file",
    ),
    _flag(
        "run-baseline",
        ("run", "s.yaml", "--baseline", "nope", "--out", "reports"),
        "nope",
        "swarm runs list",
    ),
    _flag(
        "run-min-effect", ("run", "s.yaml", "--min-effect", "2000%"), "--min-effect", "0% to 1000%"
    ),
    _flag(
        "run-min-effect-ms",
        ("run", "s.yaml", "--min-effect-ms=-1"),
        "--min-effect-ms",
        "0 ms or more",
    ),
    _flag(
        "run-correction",
        ("run", "s.yaml", "--correction", "bonferroni"),
        "--correction",
        "choose from",
    ),
    _flag(
        "run-inconclusive",
        ("run", "s.yaml", "--inconclusive", "maybe"),
        "--inconclusive",
        "choose from",
    ),
    _flag(
        "run-require-valid",
        ("run", "s.yaml", "--require-valid=yes"),
        "--require-valid",
        "ignored explicit argument",
    ),
    Case(
        "run-no-host",
        ("run", "s.yaml"),
        "host",
        "pass --host URL",
        {"s.yaml": SCENARIO.replace("host: http://127.0.0.1:9\n", "")},
    ),
    _flag("master-workers", ("master", "s.yaml", "--workers", "0"), "--workers", "1..256"),
    _flag(
        "master-port", ("master", "s.yaml", "--master-port", "70000"), "--master-port", "1..65535"
    ),
    _flag(
        "master-workers-timeout",
        ("master", "s.yaml", "--workers-timeout", "1000h"),
        "--workers-timeout",
        "at most 30 days",
    ),
    _flag(
        "master-web-port",
        ("master", "s.yaml", "--web-port", "x"),
        "--web-port",
        "expected an integer",
    ),
    _flag("run-plugin", ("run", "s.yaml", "--plugin", "missing.py"), "missing.py", "not exist"),
    _flag("master-plugin", ("master", "s.yaml", "--plugin", "afile"), "afile", "not a .py file"),
    _flag("ctl-unknown-run", ("ctl", "pause", "nope", "--reason", "x"), "'nope'", "no run folder"),
    _flag("ctl-action", ("ctl", "freeze", "latest"), "freeze", "choose from"),
    _flag("worker-master-host-missing", ("worker",), "--master-host", "required"),
    _flag(
        "worker-master-port",
        ("worker", "--master-host", "h", "--master-port", "p"),
        "--master-port",
        "expected an integer",
    ),
    _flag(
        "worker-processes",
        ("worker", "--master-host", "h", "--processes", "0"),
        "--processes",
        "1..256",
    ),
    _flag("validate-host", ("validate", "s.yaml", "--host", "localhost:80"), "--host", "http://"),
    _flag(
        "validate-extra-argument",
        ("validate", "s.yaml", "--fast"),
        "--fast",
        "unrecognized arguments",
    ),
    _flag("plan-width", ("plan", "s.yaml", "--width", "100000000"), "--width", "20..1000"),
    _flag("plan-height", ("plan", "s.yaml", "--height", "1"), "--height", "2..200"),
    _flag("schema-extra-argument", ("schema", "s.yaml"), "s.yaml", "unrecognized arguments"),
    _flag(
        "demo-port-offset",
        ("demo", "s.yaml", "--port-offset", "70000"),
        "--port-offset",
        "-8000..57534",
    ),
    _flag("demo-workers", ("demo", "s.yaml", "--workers=-1"), "--workers", "0..256"),
    _flag("demo-out-is-a-file", ("demo", "s.yaml", "--out", "afile"), "--out", "not a folder"),
    _flag(
        "demo-confidence",
        ("demo", "s.yaml", "--confidence", "95"),
        "--confidence",
        "between 0 and 1",
    ),
    _flag(
        "report-output-without-compare",
        ("report", "r", "--output", "x.html"),
        "--output",
        "--compare",
    ),
    _flag(
        "report-no-run",
        ("report", "no-such-run", "--out", "reports"),
        "no-such-run",
        "give a run folder",
    ),
    _flag("report-warmup", ("report", "r", "--warmup", "1y"), "--warmup", "90s, 2m"),
    _flag(
        "report-min-effect", ("report", "r", "--min-effect", "abc"), "--min-effect", "0.05 or 5%"
    ),
    _flag("report-compare-empty", ("report", "--compare"), "--compare", "expected at least"),
    _flag(
        "compare-max-overhead",
        ("compare", "a", "b", "--max-overhead", "5000%"),
        "--max-overhead",
        "0% to 1000%",
    ),
    _flag("compare-metric", ("compare", "a", "b", "--metric", "p42"), "--metric", "choose from"),
    _flag(
        "compare-confidence",
        ("compare", "a", "b", "--confidence", "nan"),
        "--confidence",
        "between 0 and 1",
    ),
    _flag(
        "compare-min-effect-ms",
        ("compare", "a", "b", "--min-effect-ms", "2h"),
        "--min-effect-ms",
        "expected milliseconds",
    ),
    _flag("compare-missing-candidate", ("compare", "a"), "candidate", "required"),
    _flag("runs-list-limit", ("runs", "list", "--limit", "0"), "--limit", "1..1000000"),
    _flag(
        "runs-show-unknown", ("runs", "show", "nope", "--out", "reports"), "nope", "swarm runs list"
    ),
    _flag(
        "runs-rm-delete",
        ("runs", "rm", "x", "--delete=yes"),
        "--delete",
        "ignored explicit argument",
    ),
    _flag("runs-no-action", ("runs", "frobnicate"), "frobnicate", "choose from"),
    _flag("history-rows", ("history", "smoke", "--rows=-1"), "--rows", "1..1000000"),
    _flag("history-metric", ("history", "smoke", "--metric", "p42"), "--metric", "'p95'"),
    _flag(
        "history-metric-not-a-key",
        ("history", "smoke", "--metric", "p 42"),
        "--metric",
        "choose from",
    ),
    _flag(
        "history-figure-of-a-request-figure",
        ("history", "smoke", "--metric", "p95", "--figure", "rate"),
        "--figure",
        "custom metric",
    ),
    _flag(
        "master-confidence",
        ("master", "s.yaml", "--confidence", "0"),
        "--confidence",
        "between 0 and 1",
    ),
    _flag(
        "master-correction",
        ("master", "s.yaml", "--correction", "none"),
        "--correction",
        "choose from",
    ),
    _flag(
        "master-inconclusive",
        ("master", "s.yaml", "--inconclusive", "1"),
        "--inconclusive",
        "choose from",
    ),
    _flag(
        "master-min-effect",
        ("master", "s.yaml", "--min-effect", "inf"),
        "--min-effect",
        "0% to 1000%",
    ),
    _flag(
        "master-min-effect-ms",
        ("master", "s.yaml", "--min-effect-ms", "nan"),
        "--min-effect-ms",
        "under an hour",
    ),
    _flag("master-warmup", ("master", "s.yaml", "--warmup", "5x"), "--warmup", "90s, 2m"),
    _flag(
        "demo-correction", ("demo", "s.yaml", "--correction", "x"), "--correction", "choose from"
    ),
    _flag(
        "demo-inconclusive",
        ("demo", "s.yaml", "--inconclusive", "x"),
        "--inconclusive",
        "choose from",
    ),
    _flag("demo-min-effect", ("demo", "s.yaml", "--min-effect=-5%"), "--min-effect", "0% to 1000%"),
    _flag(
        "demo-min-effect-ms",
        ("demo", "s.yaml", "--min-effect-ms", "fast"),
        "--min-effect-ms",
        "expected milliseconds",
    ),
    _flag("demo-warmup", ("demo", "s.yaml", "--warmup", "2m2m"), "--warmup", "appears twice"),
    _flag(
        "report-confidence",
        ("report", "r", "--confidence", "100%"),
        "--confidence",
        "between 0 and 1",
    ),
    _flag("report-correction", ("report", "r", "--correction", "x"), "--correction", "choose from"),
    _flag(
        "report-inconclusive",
        ("report", "r", "--inconclusive", "x"),
        "--inconclusive",
        "choose from",
    ),
    _flag(
        "report-min-effect-ms",
        ("report", "r", "--min-effect-ms", "4000000"),
        "--min-effect-ms",
        "under an hour",
    ),
    _flag(
        "compare-correction",
        ("compare", "a", "b", "--correction", "x"),
        "--correction",
        "choose from",
    ),
    _flag(
        "compare-min-effect",
        ("compare", "a", "b", "--min-effect", "10"),
        "--min-effect",
        "0% to 1000%",
    ),
    _flag(
        "compare-warmup",
        ("compare", "a", "b", "--warmup", "-1"),
        "--warmup",
        "must not be negative",
    ),
    _flag(
        "history-name-no-runs",
        ("history", "smoke", "--name", "GET /x", "--out", "reports"),
        "smoke",
        "nothing indexed yet",
    ),
    _flag(
        "mocks-port-offset",
        ("mocks", "--check", "--port-offset", "99999999"),
        "--port-offset",
        "-65535..65535",
    ),
    _flag("mocks-processes", ("mocks", "--check", "--processes", "1000"), "--processes", "1..256"),
    _flag(
        "mocks-log-level", ("mocks", "--check", "--log-level", "LOUD"), "--log-level", "choose from"
    ),
    _flag("mocks-only", ("mocks", "--check", "--only", "nope"), "--only", "the config has"),
    _flag("mocks-only-empty", ("mocks", "--check", "--only", ","), "--only", "NAME[,NAME...]"),
    _flag(
        "mocks-config-missing",
        ("mocks", "--check", "--config", "nope.yaml"),
        "nope.yaml",
        "cannot read",
    ),
    _flag("mocks-unknown-flag", ("mocks", "--chek"), "--chek", "did you mean --check"),
    _flag("suite-type", ("suite", "s.yaml", "--type", "spike"), "--type", "choose from"),
    _flag("suite-confidence", ("suite", "s.yaml", "--confidence", "0"), "--confidence", "between"),
    _flag("suite-warmup", ("suite", "s.yaml", "--warmup", "soon"), "--warmup", "90s, 2m"),
    _flag("suite-min-effect", ("suite", "s.yaml", "--min-effect", "-1"), "--min-effect", "0%"),
    _flag(
        "suite-min-effect-ms", ("suite", "s.yaml", "--min-effect-ms", "x"), "--min-effect-ms", "1"
    ),
    _flag("suite-correction", ("suite", "s.yaml", "--correction", "no"), "--correction", "choose"),
    _flag(
        "suite-inconclusive", ("suite", "s.yaml", "--inconclusive", "x"), "--inconclusive", "choose"
    ),
    _flag(
        "suite-suite-dir",
        ("suite", "s.yaml", "--report-only", "--suite-dir", "afile"),
        "afile/suite.json",
        "not a suite folder",
    ),
    _flag(
        "suite-file-is-a-scenario",
        ("suite", "s.yaml"),
        "s.yaml:1:1",
        "unknown key 'host'",
    ),
    _query("query-from-after-to", ("--from", "2m", "--to", "1m"), "--from 2:00", "not before"),
    _query("query-from", ("--from", "soon"), "--from", "mm:ss"),
    _query("query-to", ("--to", "1:99"), "--to", "below 60"),
    _query("query-from-past-end", ("--from", "1h"), "--from 60:00", "end of the run"),
    _query("query-phase", ("--phase", "warm"), "'warm'", "the phases of this run: 'ramp-up'"),
    _query("query-name", ("--name", "/zz*"), "--name", "its names: 'GET /a'"),
    _query("query-by", ("--by", "host"), "'host'", "choose from name, phase, fault"),
    _query("query-every", ("--every", "0.5s"), "--every", "whole seconds"),
    _query("query-metric", ("--metric", "p95,p42"), "'p42'", "choose from count, rps"),
    _query("query-where", ("--where", "model"), "--where 'model'", "DIMENSION=VALUE"),
    _query("query-group-by", ("--group-by", "a-b"), "--group-by 'a-b'", "dimension name"),
    _query("query-custom-metric", ("--metric", "detector.x"), "'detector.x'", "no custom metric"),
    _query("query-format", ("--format", "xml"), "--format", "choose from"),
    _query("query-confidence", ("--confidence", "2"), "--confidence", "between 0 and 1"),
    _flag("try-requests-zero", ("try", "s.yaml", "--requests", "0"), "--requests", "1..10000"),
    _flag("try-body-limit", ("try", "s.yaml", "--body-limit", "-1"), "--body-limit", "0..1000"),
    _flag("try-user", ("try", "s.yaml", "--user", "uu"), "--user 'uu'", "entries: u"),
    _flag(
        "try-set-unknown-key",
        ("try", "s.yaml", "--set", "load.userz=5"),
        "s.yaml: --set load.userz: unknown key 'userz'",
        "did you mean 'users'?",
    ),
    _flag("query-unknown-run", ("query", "run-x", "--out", "."), "'run-x'", "a run id"),
]

OVERRIDE_CASES = [
    _flag(
        "run-set-unknown-key",
        ("run", "s.yaml", "--set", "load.userz=5"),
        "s.yaml: --set load.userz: unknown key 'userz'",
        "did you mean 'users'? Allowed: model, shape, users, spawn_rate, duration.",
    ),
    _flag(
        "run-set-wrong-type",
        ("run", "s.yaml", "--set", "load.users=lots"),
        "s.yaml: --set load.users: ",
        "valid integer, unable to parse string as an integer (found 'lots')",
    ),
    _flag(
        "run-set-index-out-of-range",
        ("run", "s.yaml", "--set", "users.3.weight=2"),
        "s.yaml: --set users.3.weight: ",
        "index 3 is out of range: users has 1 entry (index 0)",
    ),
    _flag(
        "run-set-through-a-plain-value",
        ("run", "s.yaml", "--set", "load.users.max=2"),
        "--set load.users.max",
        "load.users is a number (1), not a mapping or a list",
    ),
    _flag("run-set-no-equals", ("run", "s.yaml", "--set", "load.users"), "--set", "PATH=VALUE"),
    _flag("run-time-scale-zero", ("run", "s.yaml", "--time-scale", "0"), "--time-scale", "> 0"),
    _flag(
        "run-time-scale-too-small",
        ("run", "s.yaml", "--time-scale", "0.01"),
        "--time-scale 0.01",
        "leaves 0.05 s of a 5 s plan; a run needs at least 1 s (--time-scale 0.2 or more)",
    ),
    _flag(
        "master-set-below-minimum",
        ("master", "s.yaml", "--set", "load.users=-1"),
        "s.yaml: --set load.users: ",
        "greater than or equal to 1",
    ),
    _flag("master-scale-text", ("master", "s.yaml", "--time-scale", "x"), "--time-scale", "> 0"),
    _flag(
        "validate-set-not-yaml",
        ("validate", "s.yaml", "--set", "load.users=[1"),
        "--set",
        "is not a YAML value",
    ),
    _flag(
        "validate-set-empty-part",
        ("validate", "s.yaml", "--set", "load..users=1"),
        "--set",
        "empty or malformed part",
    ),
    _flag(
        "validate-scale-inf", ("validate", "s.yaml", "--time-scale", "inf"), "--time-scale", "> 0"
    ),
    _flag(
        "plan-set-unknown-name",
        ("plan", "s.yaml", "--set", "users.uu.weight=2"),
        "s.yaml: --set users.uu.weight: users has no entry named 'uu'",
        "did you mean 'u'? Give an index (index 0) or a name: u.",
    ),
    _flag("plan-time-scale-nan", ("plan", "s.yaml", "--time-scale", "nan"), "--time-scale", "> 0"),
]
"""``--set`` and ``--time-scale``: each problem names the flag (and the path), not a line."""

CASES = [*SCENARIO_CASES, *BUDGET_CASES, *DATA_CASES, *MOCK_CASES, *FLAG_CASES, *OVERRIDE_CASES]


@pytest.fixture(autouse=True)
def _nothing_runs(monkeypatch):
    """A malformed input must stop before any load: starting a run, a demo or workers fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("a malformed input reached the point of starting processes")

    monkeypatch.setattr("framework.run.runner.run_scenario", refuse)
    monkeypatch.setattr("framework.run.demo.run_demo", refuse)
    monkeypatch.setattr("framework.run.worker.run_workers", refuse)
    monkeypatch.setattr("mock_detectors.service.Service.run", refuse)


def _run(case: Case, tmp_path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWARM_HOST", raising=False)
    for name, content in case.files.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    try:
        code = main(list(case.argv))
    except SystemExit as exc:  # argparse ends a bad command line this way
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_corpus_covers_every_file_kind_and_at_least_80_inputs() -> None:
    assert len(CASES) >= 80
    assert len({case.id for case in CASES}) == len(CASES)
    assert all([SCENARIO_CASES, BUDGET_CASES, DATA_CASES, MOCK_CASES, FLAG_CASES])


def _options_that_take_a_value() -> set[tuple[str, str]]:
    """``(command, flag)`` for every flag that takes a value, in every command and subcommand."""
    found: set[tuple[str, str]] = set()

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}".strip())
            elif action.option_strings and action.nargs != 0 and action.dest != "help":
                found.add((prefix, action.option_strings[0]))

    walk(build_parser(), "")
    return found


def test_every_flag_that_takes_a_value_has_a_malformed_case() -> None:
    """A flag added later without a case here fails this test, not a user's CI run."""
    covered = {
        (" ".join(c.argv[:2] if c.argv[0] == "runs" else c.argv[:1]), arg.split("=")[0])
        for c in (*FLAG_CASES, *OVERRIDE_CASES)
        for arg in c.argv
        if arg.startswith("--")
    }
    free_text = {
        "--out",
        "--run-id",
        "--web-host",
        "--bind-host",
        "--status",
        "--scenario",
        "--output",
        "--html",
        "--baseline",
        "--budgets",
        "--compare",
        "--host",
        "--master-host",
        "--metrics-host",
        "--influx-org",
        "--influx-token",
    }
    missing = sorted(
        (command, flag)
        for command, flag in _options_that_take_a_value()
        if (command, flag) not in covered and flag not in free_text
    )
    assert not missing, f"flags without a malformed case: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_input_is_invalid_input_with_place_and_hint(
    case: Case, tmp_path, monkeypatch, capsys
) -> None:
    code, output = _run(case, tmp_path, monkeypatch, capsys)
    assert code == 2, output
    assert "Traceback" not in output
    assert case.where in output, output
    assert case.hint in output, output
    assert len(output) < 10_000, "a message never echoes a long input back whole"
