"""``swarm query RUN``: a run's timeline answered as a table, CSV or JSON, without code.

The figures are ``framework.query_run``'s (pandas, imported only when the command runs, so
``swarm --help`` stays quick); this module parses the flags and writes the rows. Every
bad value — ``--from`` after ``--to``, a range outside the run, an unknown phase or metric,
a glob matching no name, no such run — is a ``UsageError`` (exit 2) raised before anything
is written.

``--metric`` takes either request figures (``p95,error_rate``: a comma-separated list, or
one of ``QUERY_METRICS``) or the name of one custom metric (``detector.server_ms``), whose
rows ``--where`` filters and ``--group-by`` groups by its dimensions.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.converters import confidence
from framework.errors import ExitCode, UsageError
from framework.limits import excerpt
from framework.run.folder import write_atomically

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "add_command", "render", "run_query"]

FORMATS = ("table", "csv", "json")


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``swarm query`` to the ``swarm`` parser's commands."""
    query = commands.add_parser(
        "query",
        help="a run's figures over any time range, phase, names and grouping, with intervals",
        description="Answer questions of a run's timeline: a time range (--from 5m --to 20m) "
        "or a phase, request names by glob, grouped by name, phase or fault or cut into "
        "fixed intervals (--every 30s); every figure with the interval the report computes "
        "(batch means over time). Exit codes: 0 done; 2 invalid input (a flag, no such "
        "run); 3 the run folder cannot be read.",
    )
    query.add_argument("run", help="run folder, run id in --out, or 'latest'")
    query.add_argument("--out", default="reports", help="reports folder for run ids")
    query.add_argument(
        "--from",
        dest="start",
        metavar="TIME",
        help="from this long after the run's start: 90s, 5m, 1h2m or mm:ss (default: its start)",
    )
    query.add_argument(
        "--to", dest="end", metavar="TIME", help="up to this long after the start (default: end)"
    )
    query.add_argument("--phase", help="only the seconds of this phase of the plan ('step 2')")
    query.add_argument(
        "--name",
        dest="names",
        action="append",
        metavar="GLOB",
        help="request names matching this glob, by key ('POST /detect*') or name "
        "('/detect'); repeatable (default: every name)",
    )
    query.add_argument(
        "--by",
        action="append",
        default=[],
        metavar="name|phase|fault",
        help="one row per name, phase and/or fault (repeatable or comma-separated)",
    )
    query.add_argument("--every", metavar="DURATION", help="one row per interval: 30s, 1m")
    query.add_argument(
        "--metric",
        dest="metrics",
        default="count,rps,error_rate,mean,p50,p95,p99",
        metavar="M,M",
        help="request figures: count, rps, error_rate, mean, p50, p95, p99, max (default: all "
        "but max); or the name of a custom metric (detector.server_ms): its figures by kind",
    )
    query.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="with --metric NAME: only its dimension sets with this value (repeatable; the "
        "same dimension twice keeps either value)",
    )
    query.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="DIM",
        help="with --metric NAME: one row per value of this dimension (repeatable or "
        "comma-separated)",
    )
    query.add_argument("--confidence", type=confidence, default=0.95, help="default 0.95")
    query.add_argument("--format", choices=FORMATS, default="table", help="default table")
    query.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")


def run_query(args: argparse.Namespace) -> int:
    """``swarm query``: compute the rows, then print or write them."""
    from framework.store.query import QUERY_METRICS, query_run

    by = [part for given in args.by for part in given.split(",") if part.strip()]
    group_by = [part for given in args.group_by for part in given.split(",") if part.strip()]
    given = args.metrics.strip()
    metric = given if "," not in given and given not in QUERY_METRICS and given else None
    frame = query_run(
        args.run,
        start=args.start,
        end=args.end,
        phase=args.phase,
        names=args.names,
        by=by,
        every=args.every,
        metrics=args.metrics,
        confidence=args.confidence,
        reports_dir=args.out,
        metric=metric,
        where=args.where,
        group_by=group_by,
    )
    text = render(frame, args.format, confidence=args.confidence)
    if args.output is None:
        sys.stdout.write(text)
        return ExitCode.OK
    target = Path(args.output)
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise UsageError(
            f"-o {excerpt(args.output)}: cannot write: {exc.strerror or exc}",
            flag="--output",
            value=args.output,
        ) from None
    print(f"swarm: {len(frame)} row(s) written to {target}", file=sys.stderr)
    return ExitCode.OK


def render(frame: pd.DataFrame, fmt: str, *, confidence: float = 0.95) -> str:
    """The rows as ``fmt``: ``csv`` (numbers to 10 significant digits, beyond any figure's
    precision, without float noise) and ``json`` (a list of objects) carry every column
    (NaN as empty / null, times ISO 8601 UTC); ``table`` puts each interval beside
    its value, for reading."""
    if fmt == "csv":
        return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ", float_format="%.10g")
    if fmt == "json":
        return (
            frame.to_json(orient="records", date_format="iso", double_precision=15, indent=2) + "\n"
        )
    if "metric" in frame.attrs:
        return _metric_table(frame)
    return _table(frame, confidence)


_UNITS = {"mean": "ms", "p50": "ms", "p95": "ms", "p99": "ms", "max": "ms", "rps": "req/s"}


def _table(frame: pd.DataFrame, confidence: float) -> str:
    import pandas as pd

    shown: dict[str, list[str]] = {"from": [_clock(v) for v in frame["elapsed_s"]]}
    for key in ("method", "name", "phase", "fault"):
        if key in frame:
            shown[key] = ["-" if _missing(v) else str(v) for v in frame[key]]
    shown["seconds"] = [str(v) for v in frame["seconds"]]
    for column in frame.columns:
        if column in ("time", "elapsed_s", "method", "name", "phase", "fault", "seconds"):
            continue
        if column.endswith(("_low", "_high")):
            continue
        head = f"{column} {_UNITS[column]}" if column in _UNITS else column.replace("_", " ")
        lows = frame.get(f"{column}_low")
        highs = frame.get(f"{column}_high")
        cells = []
        for i, value in enumerate(frame[column]):
            cell = _number(column, value)
            if lows is not None and highs is not None and not _missing(lows.iloc[i]):
                cell += f" ({_number(column, lows.iloc[i])}–{_number(column, highs.iloc[i])})"
            cells.append(cell)
        shown[head] = cells
    table = pd.DataFrame(shown).to_string(index=False)
    note = f"intervals: {confidence:.0%} confidence, batch means over time (as the report)"
    return f"{table}\n{note}\n"


def _metric_table(frame: pd.DataFrame) -> str:
    """A custom metric's rows: each figure in the metric's unit (a rate per second)."""
    import pandas as pd

    unit = frame.attrs.get("unit", "")
    plain = {"count", "missing", "seconds"}
    shown: dict[str, list[str]] = {"from": [_clock(v) for v in frame["elapsed_s"]]}
    for column in frame.columns:
        if column in ("time", "elapsed_s"):
            continue
        values = frame[column]
        if column in plain:
            shown[column] = [str(int(v)) for v in values]
        elif values.dtype == object:
            shown[column] = ["-" if _missing(v) else str(v) for v in values]
        else:
            head = f"{column} {unit}/s" if column == "rate" else f"{column} {unit}"
            shown[head] = ["-" if _missing(v) else f"{v:.4g}" for v in values]
    table = pd.DataFrame(shown).to_string(index=False)
    kind = frame.attrs.get("kind")
    note = f"{frame.attrs['metric']}: {kind} in {unit}; observed figures (no intervals)"
    if kind in ("histogram", "timer"):
        note += ", percentiles of the merged histograms"
    elif kind == "gauge":
        note += ", mean time-weighted"
    return f"{table}\n{note}\n"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(column: str, value: Any) -> str:
    if _missing(value):
        return "-"
    if column == "count":
        return str(int(value))
    if column == "error_rate":
        return f"{value:.2%}"
    if column == "rps":
        return f"{value:.1f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _clock(elapsed_s: float) -> str:
    sign = "-" if elapsed_s < 0 else ""
    minutes, rest = divmod(abs(elapsed_s), 60)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}:{minutes:02d}" if hours else f"{minutes}"
    return f"{sign}{head}:{rest:04.1f}" if rest != int(rest) else f"{sign}{head}:{int(rest):02d}"
