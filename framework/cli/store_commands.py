"""The store's commands: ``swarm runs list|show|pin|unpin|rm|rebuild`` and ``swarm history``.

``framework.cli.main`` adds them with ``add_commands(subparsers)`` and hands their parsed
arguments to ``dispatch(args)``.  ``resolve_baseline`` turns ``--baseline latest|pinned|RUN``
into a run folder, and ``record_run`` indexes a run after its report without ever failing
the run.  Exit codes (``framework.errors.EXIT_CODES``): 0 done, 2 bad input (unknown run
id, scenario, request name, metric), 3 the index or a run folder cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TextIO

from framework.converters import rows
from framework.errors import ExitCode, NoBaselineError, ReportError, SwarmError, UsageError
from framework.run.folder import read_run_record
from framework.store.history import Trend, format_value, render_trend, trend
from framework.store.records import KeyFigures, RunDetails, RunSummary
from framework.store.results_store import METRICS, ResultsStore
from framework.timeline.endpoints import OVERALL

__all__ = [
    "COMMANDS",
    "add_commands",
    "dispatch",
    "record_run",
    "resolve_baseline",
    "resolve_baseline_for_run",
]

COMMANDS = ("runs", "history")
RUNS_COMMANDS = ("list", "show", "pin", "unpin", "rm", "rebuild")
HISTORY_METRICS = ("p95", "p50", "p99", "mean", "throughput", "error_rate")
METRIC_KEY = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\{[A-Za-z_][A-Za-z0-9_]*=[^,{}=]+"
    r"(,[A-Za-z_][A-Za-z0-9_]*=[^,{}=]+)*\})?"
)
"""A custom metric's key as ``--metric`` takes it: a name, maybe with dimensions."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``runs`` and ``history`` to the ``swarm`` sub-commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--out", default="reports", help="reports folder holding the runs (default: ./reports)"
    )

    runs = subparsers.add_parser(
        "runs",
        help="list, show, pin and remove the runs in the reports folder",
        description="The index of every run folder (reports/index.sqlite). It follows the "
        "folders by itself; 'rebuild' re-creates it from scratch.",
    )
    actions = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="the newest runs, newest first")
    listing.add_argument("--scenario", help="only runs of this scenario (its name)")
    listing.add_argument("--status", help="only runs with this status (finished, failed, ...)")
    listing.add_argument("--limit", type=rows, default=20, help="at most N runs (default 20)")
    show = actions.add_parser("show", parents=[common], help="one run's details and figures")
    show.add_argument("run", help="run id")
    pin = actions.add_parser(
        "pin", parents=[common], help="make a run its scenario's baseline for --baseline pinned"
    )
    pin.add_argument("run", help="run id")
    unpin = actions.add_parser("unpin", parents=[common], help="remove a run's pin")
    unpin.add_argument("run", help="run id")
    remove = actions.add_parser(
        "rm", parents=[common], help="remove a run from the index (and its folder with --delete)"
    )
    remove.add_argument("run", help="run id")
    remove.add_argument("--delete", action="store_true", help="also delete the run folder")
    actions.add_parser(
        "rebuild", parents=[common], help="re-create the index from every run folder"
    )

    history = subparsers.add_parser(
        "history",
        parents=[common],
        help="one metric across a scenario's runs, with the runs where it changed",
        description="Draw a metric of a scenario across its finished runs and mark the change "
        "points (E-Divisive means with a t-test, as Apache Otava/Hunter).",
    )
    history.add_argument("scenario", help="scenario name (as in 'swarm runs list')")
    history.add_argument(
        "--name", default=OVERALL, help=f"request name or key like 'GET /item' (default {OVERALL})"
    )
    history.add_argument(
        "--metric",
        default="p95",
        help=f"one of {', '.join(HISTORY_METRICS)} (default p95), or a custom metric's key: "
        "its name (detector.server_ms) or one dimension set (detector.score{model=fast})",
    )
    history.add_argument(
        "--figure",
        help="with a custom metric: the figure to follow (mean, p50, p95, p99, max, rate, "
        "total, min, last; default p95 for histograms and timers, rate for counters and "
        "meters, mean for gauges)",
    )
    history.add_argument("--rows", type=rows, default=30, help="table rows (default 30)")
    history.add_argument(
        "--html",
        nargs="?",
        const="",
        metavar="FILE",
        help="also write a self-contained trend page (default: <out>/history-<scenario>.html)",
    )


def dispatch(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run a ``runs`` or ``history`` command; errors print ``swarm: ...`` and give their code."""
    out = out or sys.stdout
    try:
        store = ResultsStore(Path(args.out))
        if args.command == "history":
            return _history(store, args, out)
        return _runs(store, args, out)
    except SwarmError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return exc.exit_code


def resolve_baseline(
    reference: str,
    scenario: str,
    reports_dir: Path,
    *,
    exclude_run_id: str | None = None,
    before: str | None = None,
) -> Path:
    """The run folder ``--baseline`` names: ``latest``, ``pinned``, a run id or a folder.

    ``latest`` is the newest finished run of ``scenario`` that exited 0 (a run that lost a
    worker exited 3 and is skipped) other than ``exclude_run_id``
    (and started before ``before``, an ISO time, when given); ``pinned`` is the run pinned
    with ``swarm runs pin``.  Either raises ``NoBaselineError`` when there is none; an
    unknown run id raises ``UnknownRunError`` with the closest ids.  The words take
    precedence over run folders that happen to be named ``latest`` or ``pinned``.
    """
    store = ResultsStore(reports_dir)
    if reference == "latest":
        found = store.latest(scenario, before=before, exclude_run_id=exclude_run_id)
        if found is None:
            raise NoBaselineError(
                f"no finished run of scenario {scenario!r} that exited 0 in {store.reports_dir} "
                "to use as --baseline latest; run it once first, or give --baseline RUN",
                scenario=scenario,
                reference=reference,
            )
        return found.path
    if reference == "pinned":
        pinned = store.pinned(scenario)
        if pinned is None:
            raise NoBaselineError(
                f"no pinned run for scenario {scenario!r}; pin one with swarm runs pin RUN",
                scenario=scenario,
                reference=reference,
            )
        return pinned.path
    for candidate in (Path(reference), Path(reports_dir) / reference):
        if candidate.is_dir():
            return candidate
    if "/" in reference or "\\" in reference:
        raise ReportError(
            f"no run folder {reference!r}; give a run folder or a run id", path=Path(reference)
        )
    store.show(reference)  # raises UnknownRunError naming the closest run ids
    raise ReportError(
        f"run {reference!r} is indexed but its folder is gone", path=reports_dir / reference
    )


def resolve_baseline_for_run(reference: str, run_dir: Path, reports_dir: Path) -> Path:
    """``resolve_baseline`` for ``swarm report RUN_DIR``: the scenario and time of that run.

    ``latest`` then means the newest finished run of the same scenario started before it.
    """
    run = read_run_record(Path(run_dir))
    return resolve_baseline(
        reference,
        run.scenario,
        reports_dir,
        exclude_run_id=Path(run_dir).resolve().name,
        before=run.started_at or None,
    )


def record_run(run_dir: Path, reports_dir: Path, *, err: TextIO | None = None) -> bool:
    """Index a run after its report; a store problem is a warning, never a failed run."""
    try:
        ResultsStore(reports_dir).index(run_dir)
    except SwarmError as exc:
        print(f"swarm: warning: run not indexed: {exc}", file=err or sys.stderr)
        return False
    return True


def _runs(store: ResultsStore, args: argparse.Namespace, out: TextIO) -> int:
    action = args.runs_command
    if action == "list":
        runs = store.list(args.scenario, limit=args.limit, status=args.status)
        print(_run_table(runs, store), file=out)
    elif action == "show":
        details = store.show(args.run)
        print(_run_details(details), file=out)
    elif action == "pin":
        run = store.pin(args.run)
        print(f"swarm: pinned {run.run_id} as the baseline of scenario {run.scenario!r}", file=out)
    elif action == "unpin":
        run = store.unpin(args.run)
        print(f"swarm: unpinned {run.run_id} (scenario {run.scenario!r})", file=out)
    elif action == "rm":
        folder = store.remove(args.run, delete_folder=args.delete)
        if args.delete:
            print(f"swarm: removed {args.run} and deleted {folder}", file=out)
        else:
            print(
                f"swarm: removed {args.run} from the index; its folder {folder} is kept "
                "(swarm report on it indexes it again)",
                file=out,
            )
    elif action == "rebuild":
        result = store.rebuild()
        print(f"swarm: indexed {result.indexed} run(s) into {store.path}", file=out)
        for folder, reason in result.skipped:
            print(f"swarm: skipped {folder}: {reason}", file=out)
    else:
        raise UsageError(
            f"unknown runs action {action!r}; choose from {RUNS_COMMANDS}", value=action
        )
    return ExitCode.OK


def _history(store: ResultsStore, args: argparse.Namespace, out: TextIO) -> int:
    figure = getattr(args, "figure", None)
    if args.metric in METRICS:
        if figure is not None:
            raise UsageError(
                f"--figure is for a custom metric; {args.metric!r} is a request figure",
                flag="--figure",
                value=figure,
            )
        points = store.history(args.scenario, args.name, args.metric)
        shown = trend(points, metric=args.metric, scenario=args.scenario, name=args.name)
    else:
        shown = _metric_trend(store, args, figure)
    print(render_trend(shown, max_rows=args.rows), file=out)
    if getattr(args, "html", None) is not None:
        from framework.store.history_page import default_path, write_history_page

        target = Path(args.html) if args.html else default_path(Path(args.out), args.scenario)
        print(f"swarm: history page {write_history_page(store, shown, target)}", file=out)
    return ExitCode.OK


def _metric_trend(store: ResultsStore, args: argparse.Namespace, figure: str | None) -> Trend:
    """The trend of a custom metric's figure (``--metric KEY [--figure F]``)."""
    if not METRIC_KEY.fullmatch(args.metric):
        raise UsageError(
            f"unknown --metric {args.metric!r}; choose from {', '.join(HISTORY_METRICS)}, or "
            "give a custom metric's key (detector.server_ms, detector.score{model=fast})",
            flag="--metric",
            value=args.metric,
        )
    if args.name != OVERALL:
        raise UsageError(
            f"--name selects a request; a custom metric {args.metric!r} is selected by its "
            "key alone (its dimensions in braces)",
            flag="--name",
            value=args.name,
        )
    found = store.metric_history(args.scenario, args.metric, figure)
    direction = "higher"
    if found.kind in ("counter", "meter"):
        direction = ""  # a rate has no worse direction of its own (see docs/metrics.md)
    return trend(found.points, metric=found.figure, scenario=args.scenario, name=found.key,
                 unit=found.unit, worse=direction)  # fmt: skip


def _run_table(runs: tuple[RunSummary, ...], store: ResultsStore) -> str:
    if not runs:
        return f"no runs in {store.reports_dir}"
    width = max(len("run"), *(len(r.run_id) for r in runs))
    scenario_width = min(max(len("scenario"), *(len(r.scenario) for r in runs)), 30)
    lines = [
        f"{'run':<{width}}  {'scenario':<{scenario_width}}  {'started (UTC)':<16}  "
        f"{'status':<11}  {'verdict':<12}  {'p95 ms':>8}  {'req/s':>8}  {'errors':>7}  "
        "grade  git"
    ]
    for run in runs:
        figures = run.overall
        p95 = format_value("p95", figures.p95_ms.value) if figures else "-"
        rps = format_value("throughput", figures.throughput_rps.value) if figures else "-"
        errors = format_value("error_rate", figures.error_rate.value) if figures else "-"
        lines.append(
            f"{run.run_id:<{width}}  {run.scenario[:scenario_width]:<{scenario_width}}  "
            f"{run.started_at[:16].replace('T', ' '):<16}  {run.status:<11}  "
            f"{(run.verdict or '-'):<12}  {p95:>8}  {rps:>8}  {errors:>7}  "
            f"{(figures.grade if figures and figures.grade else '-'):<5}  "
            f"{(run.git_revision or '-')[:10]}{'  pinned' if run.pinned else ''}".rstrip()
        )
    return "\n".join(lines)


def _run_details(details: RunDetails) -> str:
    run = details.run
    exit_text = f" (exit {run.exit_code})" if run.exit_code is not None else ""
    source = f"  ({details.scenario_file})" if details.scenario_file else ""
    lines = [
        f"run {run.run_id}{'  (pinned)' if run.pinned else ''}",
        f"  scenario  {run.scenario}{source}",
        f"  folder    {run.path}",
        f"  started   {run.started_at}" + (f"   ended {run.ended_at}" if run.ended_at else ""),
        f"  status    {run.status}{exit_text}, verdict {run.verdict or 'not analysed'}",
        f"  git       {run.git_revision or '-'}",
        f"  host      {run.host or '-'}",
    ]  # fmt: skip
    if run.tags:
        lines.append("  tags      " + ", ".join(f"{k}={v}" for k, v in sorted(run.tags.items())))
    figures = [f for f in (run.overall, *details.endpoints) if f is not None]
    if not figures:
        lines.append("  no figures yet: run 'swarm report' on the folder")
        return "\n".join(lines)
    width = max(len(f.name) for f in figures)
    lines.append("")
    lines.append(
        f"  {'name':<{width}}  {'count':>8}  {'mean ms':>8}  {'p50 ms':>8}  "
        f"{'p95 ms [95% CI]':>26}  {'p99 ms':>8}  {'req/s':>8}  {'errors':>7}  grade"
    )
    lines.extend(_figure_line(f, width) for f in figures)
    return "\n".join(lines)


def _figure_line(figures: KeyFigures, width: int) -> str:
    p95 = figures.p95_ms
    interval = ""
    if p95.low is not None and p95.high is not None:
        interval = f" [{format_value('p95', p95.low)}, {format_value('p95', p95.high)}]"
    return (
        f"  {figures.name:<{width}}  {figures.count:>8}  "
        f"{format_value('mean', figures.mean_ms.value):>8}  "
        f"{format_value('p50', figures.median_ms.value):>8}  "
        f"{format_value('p95', p95.value) + interval:>26}  "
        f"{format_value('p99', figures.p99_ms.value):>8}  "
        f"{format_value('throughput', figures.throughput_rps.value):>8}  "
        f"{format_value('error_rate', figures.error_rate.value):>7}  {figures.grade or '-'}"
    )
