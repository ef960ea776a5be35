"""A run's seconds with what ``swarm query`` labels them by: elapsed time, phase, fault.

``swarm query`` and ``framework.run_frame`` read one run folder (a path, a run id in the
reports folder, or ``latest``) and need, for every second of its timeline, how long after
the run's start it began, which phase of the plan holds it, which fault was in force, and
whether it counts (a paused second does not). They are worked out once here, from
``run.json`` and the timeline, with the analysis's own clock (``run_start_s``,
``paused_spans``, ``wall_time_s``), so a phase's seconds are exactly those the report
analyses for it:

- **phase**: a second belongs to a phase of the plan when it lies wholly inside it, after
  the pauses before it pushed it later (the report's rule for a phase's window); a second a
  phase boundary cuts — the run rarely starts on a whole second — has no phase (``None``),
  nor has the last second, which the stop cut short;
- **fault**: a second carries a fault's name when the fault was in force at any moment of
  it (``started_at`` to ``ended_at`` of run.json's ``faults``, what actually happened; a
  fault that never started marks nothing, one never ended lasts to the end of the run),
  so seconds without one are free of every fault; two at once are joined with ``+``.

Example::

    seconds = RunSeconds.load(resolve_run_dir("latest", Path("reports")))
    seconds.phase_of(1_700_000_042), seconds.elapsed_s(1_700_000_042)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.errors import ReportError, UsageError
from framework.run.folder import RUN_FILE, RunRecord, read_run_record
from framework.suggestions import closest, did_you_mean
from framework.timeline.columns import TimelineColumns
from framework.timeline.records import Timeline
from framework.verdicts.analysis import iso_seconds, paused_spans, run_start_s, wall_time_s
from framework.verdicts.builder import load_run

__all__ = ["RunSeconds", "parse_offset", "resolve_run_dir"]

LATEST = "latest"


def resolve_run_dir(run: str | Path, reports_dir: str | Path = "reports") -> Path:
    """The run folder ``run`` names: a folder, a run id in ``reports_dir``, or ``latest``
    (the run there that started last and recorded a timeline).

    ``UsageError`` (exit 2) when there is no such run, with the closest run ids.
    """
    reports = Path(reports_dir)
    text = str(run)
    if text == LATEST and not Path(text).is_dir():
        return _latest(reports)
    for folder in (Path(text), reports / text):
        if (folder / RUN_FILE).is_file():
            return folder
    close = closest(text, _run_ids(reports))
    hint = did_you_mean(close) if close else ""
    raise UsageError(
        f"no run {text!r} (looked at {text} and {reports / text}); give a run folder, a run "
        f"id in {reports} (--out), or '{LATEST}'" + (f"; {hint}" if hint else ""),
        flag="RUN",
        value=text,
    )


def _run_ids(reports: Path) -> list[str]:
    return sorted(p.parent.name for p in reports.glob(f"*/{RUN_FILE}")) if reports.is_dir() else []


def _latest(reports: Path) -> Path:
    found: list[tuple[str, str, Path]] = []
    for name in _run_ids(reports):
        folder = reports / name
        if not (folder / "timeline.jsonl").is_file():
            continue
        try:
            record = read_run_record(folder)
        except ReportError:
            continue
        found.append((record.started_at, name, folder))
    if not found:
        raise UsageError(
            f"no run with a timeline in {reports}; give a run folder or a run id",
            flag="RUN",
            value=LATEST,
        )
    return max(found)[2]


def parse_offset(value: float | str, what: str) -> float:
    """A time from the run's start in seconds: a number, a duration (``90s``, ``5m``,
    ``1h2m``) or a clock reading (``mm:ss``, ``hh:mm:ss``). ``UsageError`` naming ``what``
    (the flag) and the formats otherwise.

    >>> parse_offset("5m", "--from"), parse_offset("02:30", "--to"), parse_offset(1, "start")
    (300.0, 150.0, 1.0)
    """
    from framework.durations import DURATION_FORMATS, parse_duration

    if isinstance(value, str) and ":" in value:
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts[:-1]):
            try:
                tail = float(parts[-1])
            except ValueError:
                tail = math.nan
            head = [int(p) for p in parts[:-1]]
            if math.isfinite(tail) and tail >= 0 and all(n < 60 for n in head[1:]) and tail < 60:
                return float(sum(n * 60 ** (len(head) - i) for i, n in enumerate(head)) + tail)
        raise UsageError(
            f"{what} {value!r}: expected mm:ss or hh:mm:ss (seconds and minutes below 60), "
            f"or {DURATION_FORMATS}",
            flag=what,
            value=str(value),
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}; or mm:ss", flag=what, value=str(value)) from None


@dataclass(frozen=True)
class RunSeconds:
    """A run folder read once: its timeline (and the columns the analysis reads it by),
    ``run.json``, and every second's labels (see the module docstring).

    ``start_s`` is the run's start (unix seconds, the ``running`` phase: what elapsed time
    counts from); ``phases`` the plan's phase names in order; ``faults`` the fault names in
    run.json's order.
    """

    path: Path
    run: Mapping[str, Any]
    record: RunRecord
    timeline: Timeline
    columns: TimelineColumns
    start_s: float
    phases: tuple[str, ...]
    faults: tuple[str, ...]
    _phase_spans: tuple[tuple[str, int, int], ...]
    _fault_spans: tuple[tuple[str, float, float], ...]

    @classmethod
    def load(cls, run_dir: Path) -> RunSeconds:
        """Read ``run_dir``; ``ReportError`` (exit 3) when its files cannot be read."""
        data = load_run(run_dir, scenario={})
        record, timeline = data.record, data.timeline
        start = run_start_s(record, timeline)
        spans = paused_spans(record)
        stopped = (timeline.end_s or 0) - 1  # the last second is cut short by the stop
        phases = tuple(
            (
                p.name,
                math.ceil(wall_time_s(start, float(p.start_s), spans)),
                min(math.floor(wall_time_s(start, float(p.end_s), spans)), stopped),
            )
            for p in record.plan.phases
        )
        faults = _fault_spans(data.run.get("faults"))
        return cls(
            path=run_dir,
            run=data.run,
            record=record,
            timeline=timeline,
            columns=TimelineColumns(timeline),
            start_s=start,
            phases=tuple(dict.fromkeys(p.name for p in record.plan.phases)),
            faults=tuple(dict.fromkeys(name for name, _, _ in faults)),
            _phase_spans=phases,
            _fault_spans=faults,
        )

    @property
    def end_s(self) -> int:
        """One past the last second recorded, counted or paused (unix seconds)."""
        last = [s.t for s in (*self.timeline.seconds[-1:], *self.timeline.paused[-1:])]
        return max(last) + 1 if last else math.ceil(self.start_s)

    def elapsed_s(self, t: int) -> float:
        """When second ``t`` began, in seconds after the run's start (pauses included)."""
        return round(t - self.start_s, 3)

    def phase_of(self, t: int) -> str | None:
        """The phase holding the whole of second ``t``, or ``None``."""
        for name, first, last in self._phase_spans:
            if first <= t < last:
                return name
        return None

    def fault_of(self, t: int) -> str | None:
        """The fault(s) in force at some moment of second ``t`` (``"a+b"``), or ``None``."""
        found = [name for name, lo, hi in self._fault_spans if lo < t + 1 and t < hi]
        return "+".join(dict.fromkeys(found)) if found else None


def _fault_spans(faults: Any) -> tuple[tuple[str, float, float], ...]:
    """``(name, started, ended)`` of each fault in run.json that started (unix seconds;
    ``inf``: never ended). A malformed entry is skipped: it marks no second."""
    if not isinstance(faults, Sequence) or isinstance(faults, str):
        return ()
    spans = []
    for i, fault in enumerate(faults):
        if not isinstance(fault, Mapping):
            continue
        started = iso_seconds(fault.get("started_at"))
        if started is None:
            continue
        ended = iso_seconds(fault.get("ended_at"))
        name = fault.get("name") if isinstance(fault.get("name"), str) else f"fault-{i + 1}"
        spans.append((name, started, math.inf if ended is None else ended))
    return tuple(spans)
