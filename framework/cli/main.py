"""The ``swarm`` command: the only place that turns errors into messages and exit codes.

Exit codes (``framework.errors.ExitCode``): 0 passed; 1 the run finished but a check or
budget failed; 2 invalid input (scenario, flags, config); 3 the run itself could not run;
130 interrupted (Ctrl-C/SIGTERM). Which error ends in which code is the one table
``framework.errors.EXIT_CODES`` (by family: ``ScenarioError``, ``ConfigError`` and
``UsageError`` 2, ``RunError`` and ``ReportError`` 3), read here through ``exit_code_for``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from framework import __version__
from framework.cli.commands import DEFAULT_DEMO_SCENARIO, DEMO_MOCK_PORT, dispatch
from framework.cli.ctl import add_command as add_ctl_command
from framework.cli.init_command import add_command as add_init_command
from framework.cli.query_command import add_command as add_query_command
from framework.cli.store_commands import add_commands as add_store_commands
from framework.cli.try_command import add_command as add_try_command
from framework.converters import (
    confidence,
    duration,
    fraction,
    integer,
    milliseconds,
    port,
    processes,
    time_scale,
    workers,
)
from framework.errors import ExitCode, SwarmError, UsageError, exit_code_for
from framework.limits import excerpt
from framework.scenario.metrics import KEY_METRICS
from framework.scenario.overrides import Override, parse_override
from framework.suggestions import did_you_mean, nearest
from framework.suites.model import TEST_TYPES

__all__ = ["build_parser", "main"]

COMMANDS = (
    "run", "master", "worker", "report", "compare", "runs", "history",
    "validate", "plan", "schema", "mocks", "demo", "alerts", "ctl", "suite", "query",
    "try", "init",
)  # fmt: skip
OVERHEAD_METRICS = (*KEY_METRICS, "median", "p50_ms", "p95_ms", "p99_ms")
"""What ``swarm compare --metric`` accepts: the key metrics and their usual other names."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an unknown command suggests the closest real one."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message:
            word = message.split("'")[1] if "'" in message else ""
            guess = nearest(word, COMMANDS)
            if guess:
                message += f"; {did_you_mean([guess])}"
        super().error(message)


def _add_comparison_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """What makes a change worth a verdict, the same for every command that compares runs."""
    parser.add_argument(
        "--min-effect", type=fraction, default=0.05, help="smallest relative change (default 5%%)"
    )
    parser.add_argument(
        "--min-effect-ms",
        type=milliseconds,
        default=1.0,
        help="smallest latency change in ms; a change must clear both (default 1)",
    )
    parser.add_argument("--correction", choices=("holm", "bh"), default="holm")


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis and verdicts")
    group.add_argument("--confidence", type=confidence, default=0.95, help="default 0.95")
    group.add_argument("--warmup", type=duration, help="warm-up to skip (default: the ramp-up)")
    group.add_argument("--budgets", help="budgets YAML file (instead of the scenario's)")
    group.add_argument(
        "--baseline",
        help="compare with a run folder, run id, 'latest' or 'pinned'; regressions fail",
    )
    _add_comparison_options(group)
    group.add_argument(
        "--inconclusive",
        choices=("pass", "fail"),
        help="what an inconclusive budget does (default: the budgets' setting, pass)",
    )
    group.add_argument(
        "--require-valid",
        action="store_true",
        help="also fail when validation rules (sample size, CI width, quality) fail",
    )


def _override(text: str) -> Override:
    """``--set PATH=VALUE`` read at the boundary, so a malformed one stops argparse (exit 2)."""
    try:
        return parse_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_scenario_changes(parser: argparse.ArgumentParser) -> None:
    """``--set`` and ``--time-scale``: for every command that loads a scenario to run or show."""
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_override,
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one value of the scenario, validated as the file is (repeatable): "
        "load.users=50, load.duration=2m, users.0.think_time.fixed_ms=0",
    )
    parser.add_argument(
        "--time-scale",
        type=time_scale,
        default=1.0,
        metavar="F",
        help="multiply every duration of the load plan by F (> 0) and divide its spawn rates "
        "by F: 0.1 runs a 1 h soak in 6 min",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """What ``swarm run`` and ``swarm master`` share: the scenario and its changes, the
    target, the run folder, the web UI, worker loss and the analysis at the end."""
    parser.add_argument("scenario", help="scenario YAML file")
    _add_scenario_changes(parser)
    parser.add_argument("--host", help="target base URL (overrides the scenario and SWARM_HOST)")
    parser.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    parser.add_argument("--run-id", help="name of the run folder (default: <UTC time>-<scenario>)")
    parser.add_argument("--web", action="store_true", help="open the Locust web UI instead")
    parser.add_argument(
        "--web-host", default="127.0.0.1", help="web UI address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--web-port",
        type=port,
        default=8089,
        help="web UI port (default 8089; a port in use: exit 2, before anything starts)",
    )
    parser.add_argument(
        "--allow-worker-loss",
        action="store_true",
        help="exit 0 even if a worker was lost during the run",
    )
    _add_metrics_options(parser)
    _add_influx_options(parser)
    _add_control_options(parser)
    _add_live_options(parser)
    _add_report_options(parser)


def _add_metrics_options(parser: argparse.ArgumentParser) -> None:
    """Live Prometheus ``/metrics`` of the master (with ``--web`` also on the web UI's port)."""
    group = parser.add_argument_group("live Prometheus metrics")
    group.add_argument(
        "--metrics-port",
        type=port,
        default=None,
        help="serve Prometheus /metrics on this port during the run (a port in use: exit 2, "
        "nothing runs); with --web, /metrics is on the web UI's port anyway",
    )
    group.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address of --metrics-port (default 127.0.0.1; 0.0.0.0 for a scraper elsewhere)",
    )


def _add_alerts_command(commands: argparse._SubParsersAction) -> None:
    alerts = commands.add_parser(
        "alerts",
        help="write Prometheus alerting rules from a scenario's budgets",
        description="Write Prometheus alerting rules for the live /metrics of a run of "
        "SCENARIO: one rule per budget (p50/p95/p99 by histogram_quantile, mean, error rate, "
        "throughput floor) and one for a run that stalled. Check them with "
        "'promtool check rules FILE'.",
    )
    alerts.add_argument("scenario", help="scenario YAML file")
    alerts.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    alerts.add_argument(
        "--for",
        dest="for_s",
        type=duration,
        default=60.0,
        help="how long a breach must last before the alert fires (default 1m)",
    )
    alerts.add_argument(
        "--window",
        type=duration,
        default=60.0,
        help="the rate() window of every rule (default 1m; at least 4 scrape intervals)",
    )


def _add_suite_command(commands: argparse._SubParsersAction) -> None:
    suite = commands.add_parser(
        "suite",
        help="run a suite of tests (smoke, load, stress, ...) and write one suite report",
        description="Run the tests of a suite file in order, each as its own 'swarm run' "
        "(own run folder, report and exit code), and write suite.json, suite.md and "
        "suite.html into <out>/suites/<UTC time>-<suite name>/. Exit: 0 all passed, 1 a test "
        "failed, 2 invalid suite (nothing ran), 3 a run could not run, 130 interrupted.",
    )
    suite.add_argument("suite", help="suite YAML file (see docs/suites.md)")
    suite.add_argument(
        "--type",
        dest="test_type",
        choices=(*TEST_TYPES, "all"),
        default="all",
        help="run only the tests of this type (default: all)",
    )
    suite.add_argument(
        "--keep-going",
        action="store_true",
        help="run the remaining tests after one fails (default: stop; the rest are skipped)",
    )
    suite.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: rebuild the suite report from the runs of the newest suite folder",
    )
    suite.add_argument(
        "--suite-dir", metavar="DIR", help="with --report-only: the suite folder to rebuild"
    )
    suite.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    _add_live_options(suite)
    _add_report_options(suite)


def _add_influx_options(parser: argparse.ArgumentParser) -> None:
    """The InfluxDB sink; each flag stands in for influxdb-client's own variable."""
    group = parser.add_argument_group(
        "InfluxDB sink (default: influxdb-client's INFLUXDB_V2_* variables)"
    )
    group.add_argument("--influx-url", help="write the live run to this InfluxDB (v2 write API)")
    group.add_argument("--influx-org", help="its organisation (INFLUXDB_V2_ORG)")
    group.add_argument("--influx-bucket", help="its bucket (INFLUXDB_V2_BUCKET)")
    group.add_argument(
        "--influx-token",
        help="its API token; prefer INFLUXDB_V2_TOKEN: a flag shows in the process list",
    )


def _add_control_options(parser: argparse.ArgumentParser) -> None:
    """Pause / resume and lifecycle hooks: plugins loaded into the master."""
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a Python file Locust loads beside the scenario (repeatable); it can listen to "
        "the run's lifecycle hooks (README: Lifecycle hooks and plugins)",
    )


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    """What a run shows while it goes on (the terminal progress)."""
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress while the run goes on (headless: the live display on a terminal, "
        "a line every 10 s otherwise)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="swarm",
        description="Scenario-driven, distributed load testing on Locust.",
        epilog="Exit codes: 0 passed, 1 a check/budget failed, 2 invalid input, "
        "3 the run could not run, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"swarm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="run a scenario (headless by default); extra arguments go to locust",
        description="Run a scenario. Unknown arguments are passed to locust unchanged "
        "(for example --loglevel DEBUG); put them after '--' to be explicit.",
    )
    _add_run_options(run)
    run.add_argument(
        "--workers",
        type=workers,
        default=0,
        help="run a Locust master and N local worker processes (default 0: one process)",
    )

    report = commands.add_parser(
        "report",
        help="recompute a run's figures, verdicts and reports from its timeline",
        description="Analyse RUN_DIR offline and (re)write results.json and the other reports; "
        "with --compare, compare runs with the first and write compare.html and compare.md.",
    )
    report.add_argument("run_dir", nargs="?", help="run folder (or a run id in --out)")
    report.add_argument("--out", default="reports", help="reports folder for run ids")
    report.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="compare runs instead (folders or run ids): the first is the baseline, each other "
        "a candidate; writes compare.html and compare.md; exit 1 on any regression",
    )
    report.add_argument(
        "--output",
        metavar="FILE",
        help="HTML file --compare writes (default: compare.html in the last run's folder)",
    )
    _add_report_options(report)

    compare = commands.add_parser(
        "compare",
        help="compare a candidate run with a baseline run: ratios, intervals, verdicts",
    )
    compare.add_argument("baseline", help="baseline run folder (or run id)")
    compare.add_argument("candidate", help="candidate run folder (or run id)")
    compare.add_argument("--out", default="reports", help="reports folder for run ids")
    _add_comparison_options(compare)
    compare.add_argument("--confidence", type=confidence, default=0.95, help="default 0.95")
    compare.add_argument("--warmup", type=duration, help="warm-up to skip (default: ramp-up)")
    compare.add_argument(
        "--max-overhead",
        type=fraction,
        help="overhead mode: does the candidate cost less than this much more (e.g. 1%%)?",
    )
    compare.add_argument(
        "--metric",
        default="mean",
        choices=OVERHEAD_METRICS,
        help="metric for --max-overhead (default mean latency)",
    )
    add_store_commands(commands)  # runs list|show|pin|unpin|rm|rebuild, history
    add_ctl_command(commands)  # ctl pause|resume|stop|status RUN
    add_query_command(commands)  # query RUN
    add_try_command(commands)  # try FILE

    master = commands.add_parser(
        "master",
        help="run a scenario as a Locust master and wait for workers from other hosts",
        description="Run a scenario as a Locust master. Start workers elsewhere with "
        "'swarm worker --master-host THIS_HOST'. Unknown arguments go to locust.",
    )
    _add_run_options(master)
    master.add_argument("--workers", type=processes, default=1, help="workers to wait for")
    master.add_argument("--bind-host", default="0.0.0.0", help="address workers connect to")
    master.add_argument("--master-port", type=port, default=5557, help="default 5557")
    master.add_argument(
        "--workers-timeout", type=duration, default=120.0, help="time to wait (default 120 s)"
    )

    worker = commands.add_parser(
        "worker", help="run Locust workers that take their scenario from a master"
    )
    worker.add_argument("--master-host", required=True, help="address of the swarm master")
    worker.add_argument("--master-port", type=port, default=5557, help="default 5557")
    worker.add_argument("--processes", type=processes, default=1, help="worker processes")

    validate = commands.add_parser("validate", help="check a scenario and summarise it")
    validate.add_argument("scenario", help="scenario YAML file")
    validate.add_argument("--host", help="target base URL to check with")
    _add_scenario_changes(validate)

    plan = commands.add_parser("plan", help="draw the users-over-time curve of a scenario")
    plan.add_argument("scenario", help="scenario YAML file")
    _add_scenario_changes(plan)
    plan.add_argument("--width", type=integer(20, 1000), default=72, help="chart width, 20..1000")
    plan.add_argument("--height", type=integer(2, 200), default=12, help="chart height, 2..200")

    commands.add_parser("schema", help="print the JSON Schema of the scenario format")
    add_init_command(commands)  # init [--from-openapi SPEC]
    _add_alerts_command(commands)

    demo = commands.add_parser(
        "demo", help="start a mock detector, run a scenario against it, print the run folder"
    )
    demo.add_argument(
        "scenario", nargs="?", default=str(DEFAULT_DEMO_SCENARIO), help="default: %(default)s"
    )
    demo.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    demo.add_argument(
        "--port-offset",
        type=integer(1 - DEMO_MOCK_PORT, 65535 - DEMO_MOCK_PORT),
        default=0,
        help=f"move the mock off port {DEMO_MOCK_PORT} (the port must stay 1..65535)",
    )
    demo.add_argument(
        "--workers", type=workers, default=2, help="local workers (default 2; 0: one process)"
    )
    _add_report_options(demo)

    _add_suite_command(commands)

    commands.add_parser(
        "mocks",
        help="start the mock detector services (see docs/mock_detectors.md)",
        add_help=False,
    )
    return parser


def _check_reports_folder(out: str | None) -> None:
    """Refuse an ``--out`` that is a file before any command takes it for a folder (and
    reports the run folder or the index inside it as the problem)."""
    if out is not None and os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(
            f"--out {excerpt(out)} is a file, not a folder; --out names the reports folder "
            "that holds the run folders (default: ./reports)",
            flag="--out",
            value=out,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swarm`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["mocks"]:
        from mock_detectors.cli import main as mocks_main

        return mocks_main(args_list[1:])
    parser = build_parser()
    passthrough: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, passthrough = args_list[:cut], args_list[cut + 1 :]
    args, unknown = parser.parse_known_args(args_list)
    if unknown and args.command not in ("run", "master", "demo"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        _check_reports_folder(getattr(args, "out", None))
        return dispatch(args, [*unknown, *passthrough])
    except SwarmError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        print("swarm: interrupted", file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        # The reader went away (``swarm schema | head``); say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
