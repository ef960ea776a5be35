"""The ``swarm`` command: the only place that turns errors into messages and exit codes.

Exit codes: 0 passed; 1 the run finished but a check or budget failed; 2 invalid input
(scenario, flags, config); 3 the run itself could not run; 130 interrupted (Ctrl-C/SIGTERM).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from framework import __version__
from framework.analysis import AnalysisSettings
from framework.comparison import compare_runs, overhead_test
from framework.console import summarise
from framework.demo import DEFAULT_DEMO_SCENARIO, run_demo
from framework.durations import parse_duration
from framework.errors import SwarmError
from framework.loader import load_budgets, load_scenario
from framework.loadplan import plan_for
from framework.plan import render_plan
from framework.report import ReportOptions, load_run
from framework.reporting import report_run, resolve_run
from framework.rundir import RunFolder, validate_run_id
from framework.runner import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK, RunOptions, run_scenario
from framework.scenario import Scenario
from framework.summary import describe_scenario

__all__ = ["build_parser", "main"]

COMMANDS = (
    "run", "master", "worker", "report", "compare", "validate", "plan", "schema", "mocks", "demo",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, but an unknown command suggests the closest real one."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message:
            word = message.split("'")[1] if "'" in message else ""
            guess = difflib.get_close_matches(word, COMMANDS, n=1)
            if guess:
                message += f"; did you mean {guess[0]!r}?"
        super().error(message)


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f"..{maximum}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(f"must be {minimum}{upper}, got {value}")
        return value

    return parse


_non_negative = _integer(0)
_positive = _integer(1)
_port = _integer(1, 65535)


def _fraction(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction or percentage, got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"out of range: {text!r}")
    return value


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis and verdicts")
    group.add_argument("--confidence", type=_fraction, default=0.95, help="default 0.95")
    group.add_argument("--warmup", type=_duration, help="warm-up to skip (default: the ramp-up)")
    group.add_argument("--budgets", help="budgets YAML file (instead of the scenario's)")
    group.add_argument(
        "--baseline", help="compare with this run folder or run id; regressions fail"
    )
    group.add_argument("--min-effect", type=_fraction, default=0.05, help="default 5%%")
    group.add_argument("--correction", choices=("holm", "bh"), default="holm")
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
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--host", help="target base URL (overrides the scenario and SWARM_HOST)")
    run.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    run.add_argument("--run-id", help="name of the run folder (default: <UTC time>-<scenario>)")
    run.add_argument("--web", action="store_true", help="open the Locust web UI instead")
    run.add_argument("--web-host", default="127.0.0.1", help="web UI address (default 127.0.0.1)")
    run.add_argument("--web-port", type=_port, default=8089, help="web UI port (default 8089)")
    run.add_argument(
        "--workers",
        type=_non_negative,
        default=0,
        help="run a Locust master and N local worker processes (default 0: one process)",
    )
    run.add_argument(
        "--allow-worker-loss",
        action="store_true",
        help="exit 0 even if a worker was lost during the run",
    )

    _add_report_options(run)

    report = commands.add_parser(
        "report",
        help="recompute a run's figures, verdicts and reports from its timeline",
        description="Analyse RUN_DIR offline and (re)write results.json and the other reports.",
    )
    report.add_argument("run_dir", help="run folder (or a run id in --out)")
    report.add_argument("--out", default="reports", help="reports folder for run ids")
    _add_report_options(report)

    compare = commands.add_parser(
        "compare",
        help="compare a candidate run with a baseline run: ratios, intervals, verdicts",
    )
    compare.add_argument("baseline", help="baseline run folder (or run id)")
    compare.add_argument("candidate", help="candidate run folder (or run id)")
    compare.add_argument("--out", default="reports", help="reports folder for run ids")
    compare.add_argument("--min-effect", type=_fraction, default=0.05, help="default 5%%")
    compare.add_argument("--correction", choices=("holm", "bh"), default="holm")
    compare.add_argument("--confidence", type=_fraction, default=0.95, help="default 0.95")
    compare.add_argument("--warmup", type=_duration, help="warm-up to skip (default: ramp-up)")
    compare.add_argument(
        "--max-overhead",
        type=_fraction,
        help="overhead mode: does the candidate cost less than this much more (e.g. 1%%)?",
    )
    compare.add_argument(
        "--metric", default="mean", help="metric for --max-overhead (default mean latency)"
    )

    master = commands.add_parser(
        "master",
        help="run a scenario as a Locust master and wait for workers from other hosts",
        description="Run a scenario as a Locust master. Start workers elsewhere with "
        "'swarm worker --master-host THIS_HOST'. Unknown arguments go to locust.",
    )
    master.add_argument("scenario", help="scenario YAML file")
    master.add_argument("--workers", type=_positive, default=1, help="workers to wait for")
    master.add_argument("--bind-host", default="0.0.0.0", help="address workers connect to")
    master.add_argument("--master-port", type=_port, default=5557, help="default 5557")
    master.add_argument("--workers-timeout", type=float, default=120.0, help="seconds to wait")
    master.add_argument("--host", help="target base URL (overrides the scenario)")
    master.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    master.add_argument("--run-id", help="name of the run folder")
    master.add_argument("--web", action="store_true", help="open the Locust web UI instead")
    master.add_argument("--web-host", default="127.0.0.1", help="web UI address")
    master.add_argument("--web-port", type=_port, default=8089, help="web UI port")
    master.add_argument("--allow-worker-loss", action="store_true", help="exit 0 despite loss")
    _add_report_options(master)

    worker = commands.add_parser(
        "worker", help="run Locust workers that take their scenario from a master"
    )
    worker.add_argument("--master-host", required=True, help="address of the swarm master")
    worker.add_argument("--master-port", type=_port, default=5557, help="default 5557")
    worker.add_argument("--processes", type=_positive, default=1, help="worker processes")

    validate = commands.add_parser("validate", help="check a scenario and summarise it")
    validate.add_argument("scenario", help="scenario YAML file")
    validate.add_argument("--host", help="target base URL to check with")

    plan = commands.add_parser("plan", help="draw the users-over-time curve of a scenario")
    plan.add_argument("scenario", help="scenario YAML file")
    plan.add_argument("--width", type=_integer(20), default=72, help="chart width (>= 20)")
    plan.add_argument("--height", type=_integer(2), default=12, help="chart height (>= 2)")

    commands.add_parser("schema", help="print the JSON Schema of the scenario format")

    demo = commands.add_parser(
        "demo", help="start a mock detector, run a scenario against it, print the run folder"
    )
    demo.add_argument(
        "scenario", nargs="?", default=str(DEFAULT_DEMO_SCENARIO), help="default: %(default)s"
    )
    demo.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    demo.add_argument("--port-offset", type=int, default=0, help="move the mock off port 8001")
    demo.add_argument(
        "--workers", type=_non_negative, default=2, help="local workers (default 2; 0: one process)"
    )
    _add_report_options(demo)

    commands.add_parser(
        "mocks",
        help="start the mock detector services (see docs/mock_detectors.md)",
        add_help=False,
    )
    return parser


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
        return _dispatch(args, [*unknown, *passthrough])
    except SwarmError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("swarm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``swarm schema | head``); say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    if args.command == "schema":
        schema = Scenario.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "swarm scenario"
        print(json.dumps(schema, indent=2))
        return EXIT_OK
    if args.command == "validate":
        loaded = load_scenario(args.scenario, host=args.host)
        print(describe_scenario(loaded))
        return EXIT_OK
    if args.command == "plan":
        loaded = load_scenario(args.scenario)
        print(f"{loaded.scenario.name}: users over time")
        print(render_plan(plan_for(loaded.scenario.load), width=args.width, height=args.height))
        return EXIT_OK
    if args.command in ("run", "master"):
        return _run(args, extra)
    if args.command == "report":
        run_dir = resolve_run(args.run_dir, Path(args.out))
        return _report(args, run_dir, Path(args.out))
    if args.command == "compare":
        return _compare(args)
    if args.command == "worker":
        from framework.worker import run_workers

        return run_workers(args.master_host, args.master_port, args.processes)
    if args.command == "demo":
        report_options = _report_options(args)
        outcome = run_demo(
            Path(args.scenario),
            reports_dir=Path(args.out),
            port_offset=args.port_offset,
            workers=args.workers,
            locust_args=tuple(extra),
        )
        code = _report(args, outcome.run_dir, Path(args.out), options=report_options)
        html = outcome.run_dir / "report.html"
        final = html if html.exists() else outcome.run_dir / "results.json"
        print(f"swarm demo: run {outcome.status}; report: {final}")
        return outcome.exit_code or code
    raise AssertionError(args.command)


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    if args.run_id is not None:
        try:
            validate_run_id(args.run_id)
        except ValueError as exc:
            print(f"swarm: --run-id: {exc}", file=sys.stderr)
            return EXIT_INVALID
    loaded = load_scenario(args.scenario, host=args.host, require_host=True)
    common = {
        "reports_dir": Path(args.out),
        "run_id": args.run_id,
        "web": args.web,
        "web_host": args.web_host,
        "web_port": args.web_port,
        "locust_args": tuple(extra),
        "allow_worker_loss": args.allow_worker_loss,
    }
    if args.command == "master":
        options = RunOptions(
            **common,
            expect_workers=args.workers,
            master_bind_host=args.bind_host,
            master_port=args.master_port,
            workers_timeout_s=args.workers_timeout,
        )
    else:
        options = RunOptions(**common, workers=args.workers)

    def announce(folder: RunFolder) -> None:
        print(f"swarm: run folder {folder.path}", file=sys.stderr)
        if args.command == "master":
            print(
                f"swarm: waiting for {args.workers} worker(s): "
                f"swarm worker --master-host <this host> --master-port {args.master_port}",
                file=sys.stderr,
            )
        if args.web:
            print(f"swarm: web UI at http://{args.web_host}:{args.web_port}", file=sys.stderr)

    report_options = _report_options(args)
    baseline = resolve_run(args.baseline, Path(args.out)) if args.baseline else None
    outcome = run_scenario(loaded, options, on_start=announce)
    print(f"swarm: run {outcome.status}; results in {outcome.run_dir}", file=sys.stderr)
    if not (outcome.run_dir / "timeline.jsonl").exists():
        return outcome.exit_code
    code = _report(args, outcome.run_dir, Path(args.out), options=report_options, baseline=baseline)
    return outcome.exit_code or code


def _report_options(args: argparse.Namespace) -> ReportOptions:
    return ReportOptions(
        analysis=AnalysisSettings(confidence=args.confidence, warmup_s=args.warmup),
        budgets=load_budgets(args.budgets) if args.budgets else None,
        inconclusive=args.inconclusive,
        min_effect=args.min_effect,
        correction=args.correction,
        gate_on_validation=args.require_valid,
    )


def _report(
    args: argparse.Namespace,
    run_dir: Path,
    reports_dir: Path,
    *,
    options: ReportOptions | None = None,
    baseline: Path | None = None,
) -> int:
    options = options or _report_options(args)
    if baseline is None and args.baseline:
        baseline = resolve_run(args.baseline, reports_dir)
    outcome = report_run(run_dir, options, baseline=baseline)
    print(summarise(outcome.results))
    for name, path in outcome.files.items():
        print(f"swarm: wrote {path}" if name != "report.html" else f"swarm: report {path}")
    return EXIT_CHECK_FAILED if outcome.failed else EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    reports_dir = Path(args.out)
    base = load_run(resolve_run(args.baseline, reports_dir))
    cand = load_run(resolve_run(args.candidate, reports_dir))
    settings = AnalysisSettings(confidence=args.confidence, warmup_s=args.warmup)
    if args.max_overhead is not None:
        test = overhead_test(base, cand, settings, args.metric, args.max_overhead)
        print(test)
        return EXIT_OK if test.startswith("pass") else EXIT_CHECK_FAILED
    rows = compare_runs(
        base, cand, settings, min_effect=args.min_effect, correction=args.correction
    )
    print(f"swarm compare: {cand.path.name} against {base.path.name}")
    for row in rows:
        print(f"  {row.verdict:<20} {row.message}")
    regressions = [r for r in rows if r.verdict == "regression"]
    print(f"swarm compare: {len(regressions)} regression(s) in {len(rows)} comparisons")
    return EXIT_CHECK_FAILED if regressions else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
