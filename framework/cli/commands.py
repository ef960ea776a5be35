"""What each ``swarm`` command does, once ``framework.cli.main`` has parsed its arguments.

Heavy modules (the statistics pull in SciPy) are imported inside the commands that need
them, so ``swarm validate`` and ``swarm --help`` start quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.cli import store_commands as cli_store
from framework.cli.store_commands import record_run, resolve_baseline, resolve_baseline_for_run
from framework.errors import ExitCode, NoBaselineError, ScenarioError, SwarmError, UsageError
from framework.live.influx import ENV_BUCKET, ENV_ORG, ENV_TOKEN, ENV_URL, influx_settings
from framework.run.demo import DEFAULT_DEMO_SCENARIO, DEMO_MOCK_PORT
from framework.run.folder import RunFolder, settle_abandoned, validate_run_id
from framework.run.runner import RunOptions
from framework.scenario.loader import LoadedScenario, load_budgets, load_scenario

if TYPE_CHECKING:
    from framework.verdicts.builder import ReportOptions

__all__ = ["DEFAULT_DEMO_SCENARIO", "DEMO_MOCK_PORT", "MIN_SCALED_PLAN_S", "dispatch"]

MIN_SCALED_PLAN_S = 1.0
"""Shortest plan ``--time-scale`` may leave: Locust's shape is asked once a second, and the
timeline counts whole seconds, so less would measure nothing."""


def dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the parsed command; return its exit code."""
    if args.command in cli_store.COMMANDS:
        return cli_store.dispatch(args)
    if args.command == "schema":
        from framework.scenario.model import Scenario

        schema = Scenario.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "swarm scenario"
        print(json.dumps(schema, indent=2))
        return ExitCode.OK
    if args.command == "validate":
        from framework.plan.summary import describe_scenario

        loaded = _load(args, host=args.host, render_templates=True)
        print(describe_scenario(loaded))
        return ExitCode.OK
    if args.command == "plan":
        from framework.plan.chart import render_schedule
        from framework.plan.groups import schedule_for
        from framework.plan.summary import search_note

        loaded = _load(args)
        schedule = schedule_for(loaded.scenario, time_scale=loaded.time_scale)
        count = len(schedule.groups)
        if not schedule.engine:
            print(f"{loaded.scenario.name}: users over time")
        elif count == 1:
            print(f"{loaded.scenario.name}: arrivals per second over time (open load)")
        else:
            print(
                f"{loaded.scenario.name}: {count} load groups over time "
                f"(closed in users, open in arrivals/s)"
            )
        names = [user.name for user in loaded.scenario.users]
        print(render_schedule(schedule, width=args.width, height=args.height, user_names=names))
        note = search_note(schedule)
        if note:
            print(f"\n{note}")
        if loaded.scenario.faults:
            from framework.plan.faults import planned_faults, render_faults

            faults = planned_faults(loaded, schedule, time_scale=loaded.time_scale)
            print()
            print(render_faults(faults, schedule.duration_s, width=args.width))
        return ExitCode.OK
    if args.command == "ctl":
        from framework.cli.ctl import run_ctl

        return run_ctl(args)
    if args.command == "init":
        from framework.cli.init_command import run_init

        return run_init(args)
    if args.command == "query":
        from framework.cli.query_command import run_query

        return run_query(args)
    if args.command == "try":
        from framework.cli.try_command import run_try

        return run_try(args)
    if args.command in ("run", "master"):
        return _run(args, extra)
    if args.command == "alerts":
        return _alerts(args)
    if args.command == "suite":
        return _suite(args)
    if args.command == "report":
        from framework.reports.run_report import resolve_run

        if args.compare:
            return _compare_report(args)
        if args.run_dir is None or args.output:
            raise UsageError(
                "swarm report: give RUN_DIR, or --compare RUN RUN [--output FILE]",
                flag="--output" if args.output else "RUN_DIR",
            )
        run_dir = resolve_run(args.run_dir, Path(args.out))
        settle_abandoned(run_dir)  # a run whose swarm was killed is reported interrupted
        return _report(args, run_dir, Path(args.out))
    if args.command == "compare":
        return _compare(args)
    if args.command == "worker":
        from framework.run.worker import run_workers

        return run_workers(args.master_host, args.master_port, args.processes)
    if args.command == "demo":
        from framework.run.demo import run_demo

        _check_reports_folder(args.out)
        report_options = _report_options(args)
        baselines: list[Path | None] = []

        def resolve_first(loaded: LoadedScenario) -> None:
            baselines.append(_baseline_before_run(args, loaded.scenario.name))

        outcome = run_demo(
            Path(args.scenario),
            reports_dir=Path(args.out),
            port_offset=args.port_offset,
            workers=args.workers,
            locust_args=tuple(extra),
            before_run=resolve_first,
        )
        code = _report(
            args,
            outcome.run_dir,
            Path(args.out),
            options=report_options,
            baseline=baselines[0] if baselines else None,
            baseline_resolved=True,
            scenario=outcome.scenario,
        )
        html = outcome.run_dir / "report.html"
        final = html if html.exists() else outcome.run_dir / "results.json"
        print(f"swarm demo: run {outcome.status}; report: {final}")
        return outcome.exit_code or code
    raise AssertionError(args.command)


def _check_reports_folder(out: str) -> None:
    """``--out`` names a folder that runs go into: an existing file there is a mistake."""
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(
            f"--out {out}: is a file, not a folder; give the folder run folders go into "
            "(default ./reports)",
            flag="--out",
            value=out,
        )


def _load(args: argparse.Namespace, **options: Any) -> LoadedScenario:
    """The scenario as the command line has it: the file with ``--set`` applied and
    ``--time-scale`` recorded; a scale that leaves less than a second of plan is refused."""
    from framework.plan.faults import fault_problems
    from framework.plan.groups import schedule_for

    loaded = load_scenario(
        args.scenario, overrides=args.overrides, time_scale=args.time_scale, **options
    )
    if loaded.scenario.faults:
        errors, late = fault_problems(
            loaded, schedule_for(loaded.scenario, time_scale=loaded.time_scale)
        )
        if errors:
            raise ScenarioError(errors)
        loaded = replace(loaded, warnings=(*loaded.warnings, *late))
    for warning in loaded.warnings:
        print(f"swarm: warning: {warning}", file=sys.stderr)
    if loaded.time_scale != 1.0:
        scaled = schedule_for(loaded.scenario, time_scale=loaded.time_scale).duration_s
        if scaled < MIN_SCALED_PLAN_S:
            whole = schedule_for(loaded.scenario).duration_s
            raise UsageError(
                f"--time-scale {loaded.time_scale:g} leaves {scaled:g} s of a {whole:g} s plan; "
                f"a run needs at least {MIN_SCALED_PLAN_S:g} s (--time-scale "
                f"{MIN_SCALED_PLAN_S / whole:.3g} or more)",
                flag="--time-scale",
                value=loaded.time_scale,
            )
    return loaded


def _alerts(args: argparse.Namespace) -> int:
    """``swarm alerts SCENARIO``: Prometheus alerting rules from the scenario's budgets."""
    from framework.live.alert_rules import render_alert_rules
    from framework.plan.groups import schedule_for

    loaded = load_scenario(args.scenario)
    if args.window < 1:
        raise UsageError(f"--window must be at least 1s, got {args.window:g}s", flag="--window")
    endpoints = {(r.method, r.label) for u in loaded.scenario.users for r in u.requests}
    schedule = schedule_for(loaded.scenario)
    text = render_alert_rules(
        loaded.scenario.name,
        loaded.scenario.budgets,
        endpoints=sorted(endpoints),
        for_s=args.for_s,
        window_s=args.window,
        open_groups=[g.name for g in schedule.groups if g.model == "open"],
        validation=loaded.scenario.validation,
    )
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"-o {args.output}: cannot write: {exc.strerror or exc}", flag="--output"
            ) from None
        print(f"swarm: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def _analysis_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The analysis flags given to ``swarm suite``, as every ``swarm run`` of it takes them
    (those left at their defaults are left out; ``--budgets`` goes into the targets)."""
    given: list[str] = []
    for flag, value, default in (
        ("--confidence", args.confidence, 0.95),
        ("--warmup", args.warmup, None),
        ("--baseline", args.baseline, None),
        ("--min-effect", args.min_effect, 0.05),
        ("--min-effect-ms", args.min_effect_ms, 1.0),
        ("--correction", args.correction, "holm"),
        ("--inconclusive", args.inconclusive, None),
    ):
        if value is not None and value != default:
            given += [flag, value if isinstance(value, str) else repr(value)]
    if args.require_valid:
        given.append("--require-valid")
    return tuple(given)


def _suite(args: argparse.Namespace) -> int:
    """``swarm suite FILE``: run the suite's tests, or (``--report-only``) rebuild its report."""
    from framework.suites import (
        SuiteOptions,
        latest_suite_dir,
        load_suite,
        read_suite,
        rebuild_suite_report,
        run_suite,
    )

    _check_reports_folder(args.out)
    reports_dir = Path(args.out)
    if args.suite_dir and not args.report_only:
        raise UsageError("--suite-dir goes with --report-only", flag="--suite-dir")
    if args.report_only:
        if args.suite_dir:
            folder = Path(args.suite_dir)
        else:
            folder = latest_suite_dir(reports_dir, read_suite(args.suite).name)
        outcome = rebuild_suite_report(folder, confidence=args.confidence)
        _print_suite(outcome)
        return ExitCode.OK if outcome.result.exit_code == ExitCode.OK else ExitCode.CHECK_FAILED
    budgets_data = None
    if args.budgets:
        import yaml

        load_budgets(args.budgets)  # every problem of the file, before anything runs
        budgets_data = yaml.safe_load(Path(args.budgets).read_text(encoding="utf-8"))
    loaded = load_suite(args.suite, budgets_data=budgets_data)
    options = SuiteOptions(
        reports_dir=reports_dir,
        test_type=args.test_type,
        keep_going=args.keep_going,
        analysis_args=_analysis_args(args),
        confidence=args.confidence,
        quiet=args.quiet,
    )
    outcome = run_suite(loaded, options)
    _print_suite(outcome)
    return outcome.exit_code


def _print_suite(outcome: Any) -> None:
    """One line per test and where the suite report is."""
    result = outcome.result
    for test in result.tests:
        entry = test.to_dict(outcome.folder)
        code = "" if entry["exit_code"] is None else f" (exit {entry['exit_code']})"
        where = f": {(outcome.folder / entry['report']).resolve()}" if entry["report"] else ""
        print(f"  {test.status:<8} {test.type:<16} {test.name}{code}{where}")
    summary = result.summary()
    state = " (interrupted)" if result.interrupted else ""
    print(
        f"swarm suite: {result.name}{state}: {summary['passed']} passed, {summary['failed']} "
        f"failed, {summary['skipped']} skipped of {summary['total']}"
    )
    print(f"swarm suite: report {outcome.files['suite.html']}")
    print(f"swarm suite: wrote {outcome.files['suite.json']}")
    print(f"swarm suite: wrote {outcome.files['suite.md']}")


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    _check_reports_folder(args.out)
    if args.run_id is not None:
        try:
            # with --web the id names the session, and its runs are <id>-1, <id>-2, ...
            validate_run_id(args.run_id + ("-9999" if args.web else ""))
        except ValueError as exc:
            raise UsageError(f"--run-id: {exc}", flag="--run-id", value=args.run_id) from None
    from framework.run.progress import progress_interval_s

    loaded = _load(args, host=args.host, require_host=True)
    report_options = _report_options(args)
    common = {
        "env": _influx_env(args),
        "reports_dir": Path(args.out),
        "run_id": args.run_id,
        "web": args.web,
        "web_host": args.web_host,
        "web_port": args.web_port,
        "locust_args": tuple(extra),
        "allow_worker_loss": args.allow_worker_loss,
        "metrics_host": args.metrics_host,
        "metrics_port": args.metrics_port or 0,
        "plugins": _plugins(args.plugin),
        "progress": not args.quiet and not args.web,
        "progress_interval_s": progress_interval_s(),
        "budgets": report_options.budgets,
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
        if args.web:
            print(
                f"swarm: web UI session folder {folder.path}; each start in the UI is a run "
                f"with a folder of its own: {folder.path}-1, {folder.path}-2, ...",
                file=sys.stderr,
            )
        else:
            print(f"swarm: run folder {folder.path}", file=sys.stderr)
        if args.command == "master":
            print(
                f"swarm: waiting for {args.workers} worker(s): "
                f"swarm worker --master-host <this host> --master-port {args.master_port}",
                file=sys.stderr,
            )
        if args.web:
            print(f"swarm: web UI at http://{args.web_host}:{args.web_port}", file=sys.stderr)
        if folder.record.metrics_url:
            print(f"swarm: Prometheus metrics at {folder.record.metrics_url}", file=sys.stderr)

    from framework.run.runner import run_scenario

    baseline = _baseline_before_run(args, loaded.scenario.name)
    if args.web:
        return _web_session(args, loaded, options, announce, report_options)
    outcome = run_scenario(loaded, options, on_start=announce)
    shown = ("failed", "aborted")
    why = f": {outcome.message}" if outcome.message and outcome.status in shown else ""
    print(f"swarm: run {outcome.status}{why}; results in {outcome.run_dir}", file=sys.stderr)
    code = _report_ended_run(args, outcome.run_dir, outcome.scenario, report_options, baseline)
    return outcome.exit_code or (code or 0)


def _report_ended_run(
    args: argparse.Namespace,
    run_dir: Path,
    scenario: Mapping[str, Any] | None,
    report_options: ReportOptions,
    baseline: Path | None,
) -> int | None:
    """The reports and index entry of a run that has ended; ``None`` when it has no timeline
    to report on (it never started: only its index entry is written)."""
    if not (run_dir / "timeline.jsonl").exists():
        record_run(run_dir, Path(args.out))
        return None
    return _report(
        args,
        run_dir,
        Path(args.out),
        options=report_options,
        baseline=baseline,
        baseline_resolved=True,
        scenario=scenario,
    )


_INFLUX_FLAGS = (
    ("--influx-url", "influx_url", ENV_URL),
    ("--influx-org", "influx_org", ENV_ORG),
    ("--influx-bucket", "influx_bucket", ENV_BUCKET),
    ("--influx-token", "influx_token", ENV_TOKEN),
)


def _influx_env(args: argparse.Namespace) -> dict[str, str]:
    """The InfluxDB sink's settings for Locust: the flags given, as influxdb-client's own
    variables (so the token is on no command line and in no file). Settings that cannot
    work stop here, before any load is sent."""
    given = {env: getattr(args, attr) for _flag, attr, env in _INFLUX_FLAGS}
    given = {env: value for env, value in given.items() if value is not None}
    try:
        influx_settings({**os.environ, **given})
    except ValueError as exc:
        env, flag = next(
            ((e, f) for f, _a, e in _INFLUX_FLAGS if str(exc).startswith(e)), (None, None)
        )
        where = f" ({flag} sets {env})" if flag else ""
        raise UsageError(f"InfluxDB sink: {exc}{where}", flag=flag, value=None) from None
    return given


def _plugins(given: list[str]) -> tuple[Path, ...]:
    """``--plugin`` files, checked before anything starts: each an existing ``.py`` file."""
    found = []
    for text in given:
        path = Path(text)
        if path.suffix != ".py" or not path.is_file():
            what = "is not a .py file" if path.is_file() else "does not exist"
            raise UsageError(
                f"--plugin {text}: {what}; give a Python file (e.g. "
                "examples/plugins/slack_like_notifier.py)",
                flag="--plugin",
                value=text,
            )
        found.append(path.resolve())
    return tuple(found)


def _web_session(
    args: argparse.Namespace,
    loaded: LoadedScenario,
    options: RunOptions,
    announce: Callable[[RunFolder], None],
    report_options: ReportOptions,
) -> int:
    """``swarm run --web``: every run the session makes gets its report and index entry as
    soon as it ends (``--baseline`` is looked up for each run: ``latest`` is then the run
    before it); the session's exit code is ``run_scenario``'s (see the README)."""
    from framework.run.runner import RunEnd, run_scenario

    _baseline_before_run(args, loaded.scenario.name)  # a wrong --baseline stops it at once

    def report(end: RunEnd) -> int | None:
        baseline = None
        if args.baseline and (end.run_dir / "timeline.jsonl").exists():
            try:
                baseline = resolve_baseline_for_run(args.baseline, end.run_dir, Path(args.out))
            except SwarmError as exc:
                print(f"swarm: warning: {exc}; not comparing", file=sys.stderr)
        return _report_ended_run(args, end.run_dir, end.scenario, report_options, baseline)

    outcome = run_scenario(loaded, options, on_start=announce, on_run_end=report)
    why = f" ({outcome.message})" if outcome.message and outcome.status != "finished" else ""
    print(
        f"swarm: web UI session {outcome.status}{why}: {len(outcome.runs)} run(s); "
        f"session folder {outcome.run_dir}",
        file=sys.stderr,
    )
    return outcome.exit_code


def _baseline_before_run(args: argparse.Namespace, scenario_name: str) -> Path | None:
    """``--baseline`` resolved before any load is sent, so a wrong one stops the run at once.

    ``latest`` with no earlier run of the scenario is the one exception, a warning: a first
    run in CI has nothing to compare with yet.
    """
    if not args.baseline:
        return None
    try:
        return resolve_baseline(args.baseline, scenario_name, Path(args.out))
    except NoBaselineError as exc:
        if exc.reference != "latest":
            raise
        print(f"swarm: warning: {exc}; not comparing", file=sys.stderr)
        return None


def _report_options(args: argparse.Namespace) -> ReportOptions:
    from framework.verdicts.analysis import AnalysisSettings
    from framework.verdicts.builder import ReportOptions

    return ReportOptions(
        analysis=AnalysisSettings(confidence=args.confidence, warmup_s=args.warmup),
        budgets=load_budgets(args.budgets) if args.budgets else None,
        inconclusive=args.inconclusive,
        min_effect=args.min_effect,
        min_effect_ms=args.min_effect_ms,
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
    baseline_resolved: bool = False,
    scenario: Mapping[str, Any] | None = None,
) -> int:
    """Analyse ``run_dir`` and write its reports; ``baseline_resolved`` says ``baseline`` was
    looked up before the run (``None`` then means: nothing to compare with)."""
    from framework.reports.console import summarise
    from framework.reports.run_report import report_run

    options = options or _report_options(args)
    if baseline is None and args.baseline and not baseline_resolved:
        baseline = resolve_baseline_for_run(args.baseline, run_dir, reports_dir)
    outcome = report_run(run_dir, options, baseline=baseline, scenario=scenario)
    record_run(run_dir, reports_dir)
    print(summarise(outcome.results))
    for name, path in outcome.files.items():
        print(f"swarm: wrote {path}" if name != "report.html" else f"swarm: report {path}")
    return ExitCode.CHECK_FAILED if outcome.failed else ExitCode.OK


def _compare_report(args: argparse.Namespace) -> int:
    """``swarm report --compare BASE CAND [CAND ...]``: compare.html, compare.md, a summary."""
    from datetime import UTC, datetime

    from framework.reports.compare import build_comparison, summarise_comparison, write_comparison
    from framework.reports.run_report import resolve_run
    from framework.verdicts.builder import load_run

    if args.run_dir is not None or args.baseline:
        extra = "--baseline" if args.baseline else repr(args.run_dir)
        raise UsageError(
            f"--compare takes all its runs (the first is the baseline); drop {extra}",
            flag="--compare",
        )
    runs = [load_run(resolve_run(ref, Path(args.out))) for ref in args.compare]
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    comparison = build_comparison(runs, _report_options(args), created_at=created)
    html, md = write_comparison(comparison, Path(args.output or runs[-1].path / "compare.html"))
    print(summarise_comparison(comparison))
    print(f"swarm: compare report {html}\nswarm: wrote {md}")
    return ExitCode.CHECK_FAILED if comparison.regressed else ExitCode.OK


def _compare(args: argparse.Namespace) -> int:
    from framework.reports.run_report import resolve_run
    from framework.verdicts.analysis import AnalysisSettings
    from framework.verdicts.builder import load_run
    from framework.verdicts.comparison import compare_run_metrics, compare_runs, overhead_test

    reports_dir = Path(args.out)
    base = load_run(resolve_run(args.baseline, reports_dir))
    cand = load_run(resolve_run(args.candidate, reports_dir))
    settings = AnalysisSettings(confidence=args.confidence, warmup_s=args.warmup)
    if args.max_overhead is not None:
        test = overhead_test(base, cand, settings, args.metric, args.max_overhead)
        print(test)
        return ExitCode.OK if test.startswith("pass") else ExitCode.CHECK_FAILED
    rows = compare_runs(
        base,
        cand,
        settings,
        min_effect=args.min_effect,
        min_effect_ms=args.min_effect_ms,
        correction=args.correction,
    )
    print(
        f"swarm compare: {cand.path.name} against {base.path.name} (baseline → candidate, "
        f"candidate ÷ baseline with its {args.correction}-adjusted interval; a change must "
        f"clear {args.min_effect:.0%} and {args.min_effect_ms:g} ms)"
    )
    for row in rows:
        print(f"  {row.message}")
    metric_rows = compare_run_metrics(
        base, cand, settings, min_effect=args.min_effect, correction=args.correction
    )
    if metric_rows:
        print(
            "swarm compare: custom metrics (higher is worse for histograms, timers and gauges; "
            "a counter's or meter's rate is only 'changed')"
        )
        for row in metric_rows:
            print(f"  {row.message}")
    rows = [*rows, *metric_rows]
    regressions = [r for r in rows if r.verdict == "regression"]
    print(f"swarm compare: {len(regressions)} regression(s) in {len(rows)} comparisons")
    return ExitCode.CHECK_FAILED if regressions else ExitCode.OK
