"""Synthetic run folders for tests and benchmarks: ``run.json``, ``scenario.yaml``, a timeline.

``write_run`` lays out exactly what ``swarm run`` leaves behind (``run.json`` with its
``running`` phase and the plan, the scenario copy with optional ``budgets:`` and
``validation:`` sections, and ``timeline.jsonl`` written by ``TimelineWriter``), from a
latency model whose truth is known, so tests can say what the report must conclude.

Latency of each request name is lognormal around a per-second level: ``log(latency_ms) =
log(median_ms) + level_t + sigma * z``, where ``level_t`` is an AR(1) process (``phi``,
stationary standard deviation ``level_sd``) that makes neighbouring seconds alike, as queues
and GC pauses do in real runs. ``step_at_s``/``step_factor`` add a step change and ``scale``
any load-dependent multiplier. Requests per second are Poisson, failures binomial.

Generation is vectorised: latencies are drawn with numpy for many seconds at once, turned
into HdrHistogram bucket indexes with the same arithmetic HdrHistogram uses, counted per
second with ``np.unique``, and written straight into one scratch histogram's counts array
before it is encoded -- no Python loop per request, so hour-long runs with millions of
requests take seconds. The same ``seed`` gives byte-identical timelines.

Example::

    run = write_run(tmp_path / "run", seconds=300, names=("GET /a",),
                    latency=Latency(median_ms=40), rps=100,
                    budgets={"overall": {"p95_ms": 200}})
    assert main(["report", str(run)]) == 0
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from framework.plan import shapes
from framework.plan.load_plan import plan_record  # re-exported: tests build plan records too
from framework.plan.record import PlanRecord
from framework.plan.shapes import LoadPlan
from framework.run.folder import RunRecord
from framework.timeline.records import (
    FILE_NAME,
    HISTOGRAM_HIGHEST_US,
    RequestSecond,
    Second,
    encode_histogram,
    new_histogram,
)
from framework.timeline.writer import TimelineWriter

__all__ = [
    "START_S",
    "Latency",
    "bucket_indexes",
    "plan_record",
    "users_over_time",
    "write_run",
]

START_S = 1_700_000_000
"""Default first second of a synthetic run (2023-11-14T22:13:20Z)."""

Rate = float | Mapping[str, float] | Callable[[str, int, int], float]
"""Requests per second of each name: one number for all, one per name, or a function of
``(name, second index, users)``."""


@dataclass(frozen=True)
class Latency:
    """The latency model of one request name (see the module docstring).

    ``median_ms`` and ``sigma`` are the lognormal's median and log-scale spread; ``phi`` and
    ``level_sd`` the AR(1) per-second level (``level_sd=0`` makes seconds independent);
    from second ``step_at_s`` (counted from the run's start) latencies are ``step_factor``
    times larger; ``scale(second_index, users)`` multiplies latencies too (e.g. a service
    slowing down past some load).
    """

    median_ms: float = 50.0
    sigma: float = 0.5
    phi: float = 0.0
    level_sd: float = 0.0
    step_at_s: int | None = None
    step_factor: float = 1.0
    scale: Callable[[int, int], float] | None = None

    def p(self, level: float) -> float:
        """The model's true percentile (0-100) in ms, ignoring AR(1) level, step and scale."""
        from scipy.stats import norm

        return float(self.median_ms * math.exp(self.sigma * norm.ppf(level / 100)))


def users_over_time(plan: LoadPlan, seconds: int) -> list[int]:
    """Users in each second when Locust follows ``plan`` (ramping at the spawn rate)."""
    out, current = [], 0.0
    last = plan.stage_at(0) or shapes.Stage(0, 1.0)
    for i in range(seconds):
        stage = plan.stage_at(i) if i < plan.duration_s else None
        stage = stage or last
        last = stage
        step = stage.spawn_rate
        if current < stage.users:
            current = min(float(stage.users), current + step)
        elif current > stage.users:
            current = max(float(stage.users), current - step)
        out.append(round(current))
    return out


def bucket_indexes(values_us: np.ndarray) -> np.ndarray:
    """HdrHistogram counts-array index of each value (µs), for the timeline's layout.

    The same arithmetic as ``HdrHistogram._counts_index_for`` (lowest value 1, 3 significant
    digits: unit magnitude 0, sub-bucket half-count magnitude 10), vectorised.
    """
    v = np.asarray(values_us, dtype=np.int64)
    bucket = np.frexp((v | 2047).astype(np.float64))[1] - 11  # bit length of v | mask, minus 11
    sub = v >> bucket
    return ((bucket + 1) << 10) + sub - 1024


def _per_name(value: Any, names: Sequence[str], what: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(f"{what}: no entry for {', '.join(missing)}")
        return {n: value[n] for n in names}
    return dict.fromkeys(names, value)


def _split(key: str) -> tuple[str, str]:
    method, _, name = key.partition(" ")
    return (method, name) if name else ("", key)


def _iso(t_s: float) -> str:
    text = datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class _Encoder:
    """Encodes (bucket index, count) pairs as timeline blobs through one scratch histogram."""

    def __init__(self) -> None:
        self.histogram = new_histogram()
        self.counts = np.ctypeslib.as_array(self.histogram.counts)

    def encode(self, index: np.ndarray, counts: np.ndarray) -> str:
        h = self.histogram
        self.counts[index] = counts
        h.total_count = int(counts.sum())
        h.min_value = h.get_value_from_index(int(index[0]))
        h.max_value = h.get_highest_equivalent_value(h.get_value_from_index(int(index[-1])))
        blob = encode_histogram(h)
        self.counts[index] = 0
        return blob


def _levels(model: Latency, seconds: int, rng: np.random.Generator) -> np.ndarray:
    """log-scale level of each second: the AR(1) process plus the step change."""
    level = np.zeros(seconds)
    if model.level_sd > 0:
        shocks = rng.normal(0.0, model.level_sd * math.sqrt(1 - model.phi**2), seconds)
        level[0] = rng.normal(0.0, model.level_sd)
        for i in range(1, seconds):
            level[i] = model.phi * level[i - 1] + shocks[i]
    if model.step_at_s is not None:
        level[model.step_at_s :] += math.log(model.step_factor)
    return level


def _name_records(
    key: str,
    model: Latency,
    counts: np.ndarray,
    fail_counts: np.ndarray,
    users: Sequence[int],
    start_s: int,
    failure_kind: str,
    rng: np.random.Generator,
    encoder: _Encoder,
    chunk: int = 4_000_000,
) -> list[RequestSecond | None]:
    """One record per second for one name (``None`` when no request completed)."""
    seconds = counts.size
    level = _levels(model, seconds, rng) + math.log(model.median_ms * 1000.0)  # log µs
    if model.scale is not None:
        level += np.log([model.scale(i, users[i]) for i in range(seconds)])
    method, name = _split(key)
    out: list[RequestSecond | None] = [None] * seconds
    first = 0
    while first < seconds:  # chunks of whole seconds, about `chunk` requests each
        cum = np.cumsum(counts[first:])
        last = first + max(1, int(np.searchsorted(cum, chunk, side="right")))
        n = counts[first:last]
        row = np.repeat(np.arange(last - first), n)
        draws = rng.standard_normal(row.size) * model.sigma + level[first + row]
        us = np.clip(np.rint(np.exp(draws)), 0, HISTOGRAM_HIGHEST_US).astype(np.int64)
        sum_us, sumsq_us = _sums(us, n)
        keys = row.astype(np.int64) * (1 << 20) + bucket_indexes(us)
        unique, per = np.unique(keys, return_counts=True)
        rows = unique >> 20
        bounds = np.searchsorted(rows, np.arange(last - first + 1))
        for j in range(last - first):
            if not n[j]:
                continue
            lo, hi = bounds[j], bounds[j + 1]
            blob = encoder.encode(unique[lo:hi] & ((1 << 20) - 1), per[lo:hi])
            i = first + j
            failures = {failure_kind: int(fail_counts[i])} if fail_counts[i] else {}
            out[i] = RequestSecond(
                t=start_s + i,
                method=method,
                name=name,
                count=int(n[j]),
                failures=failures,
                bytes=int(n[j]) * 200,
                sum_us=sum_us[j],
                sumsq_us=sumsq_us[j],
                hist_blobs=(blob,),
                # the model draws every request's latency, failed ones included
                failures_in_latency=bool(failures),
            )
        first = last
    return out


def _sums(us: np.ndarray, n: np.ndarray) -> tuple[list[int], list[int]]:
    """Exact per-second sums and sums of squares of ``us`` (rows of ``n`` values each)."""
    sums, squares = [0] * n.size, [0] * n.size
    nonzero = np.flatnonzero(n)
    if nonzero.size == 0:
        return sums, squares
    starts = np.concatenate([[0], np.cumsum(n)])[nonzero]
    if int(us.max()) ** 2 * int(n.max()) < 2**62:
        s1 = np.add.reduceat(us, starts)
        s2 = np.add.reduceat(us * us, starts)
        for i, a, b in zip(nonzero.tolist(), s1.tolist(), s2.tolist(), strict=True):
            sums[i], squares[i] = a, b
    else:  # squares would overflow int64: exact Python integers
        bounds = [*starts.tolist(), us.size]
        values = us.tolist()
        for k, i in enumerate(nonzero.tolist()):
            part = values[bounds[k] : bounds[k + 1]]
            sums[i], squares[i] = sum(part), sum(v * v for v in part)
    return sums, squares


def write_run(
    folder: Path | str,
    *,
    seconds: int,
    names: Sequence[str] = ("GET /detect",),
    latency: Latency | Mapping[str, Latency] = Latency(),
    rps: Rate = 50.0,
    error_rate: float | Mapping[str, float] = 0.0,
    users: int | Sequence[int] | None = None,
    plan: LoadPlan | Mapping[str, Any] | None = None,
    budgets: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    scenario: Mapping[str, Any] | None = None,
    start_s: int = START_S,
    seed: int = 0,
    run_id: str | None = None,
    status: str = "finished",
    failure_kind: str = "HTTP 500",
) -> Path:
    """Write a complete run folder at ``folder`` (created; must not hold a timeline yet).

    ``seconds`` is the timeline's length, starting at ``start_s`` (the ``running`` phase);
    ``names`` are endpoint keys (``"GET /detect"``). ``plan`` is a ``LoadPlan`` or the plan
    record itself (default: a constant plan of 10 users over ``seconds`` with a 10 s ramp);
    ``users`` defaults to following the plan. ``budgets``, ``validation`` and ``scenario``
    (any other top-level keys) go into ``scenario.yaml``. Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(names)
    if isinstance(plan, LoadPlan) or plan is None:
        plan_obj = plan or shapes.constant(users=10, spawn_rate=1, duration_s=seconds)
        record = plan_record(plan_obj)
        per_second_users = users_over_time(plan_obj, seconds)
    else:
        record = dict(plan)
        per_second_users = [int(record.get("peak_users") or 1)] * seconds
    if users is not None:
        per_second_users = [users] * seconds if isinstance(users, int) else list(users)
    if len(per_second_users) != seconds:
        raise ValueError(f"users: expected {seconds} values, got {len(per_second_users)}")

    models = _per_name(latency, names, "latency")
    rates = rps if callable(rps) else _per_name(rps, names, "rps")
    errors = _per_name(error_rate, names, "error_rate")
    rng = np.random.default_rng(seed)
    encoder = _Encoder()
    columns: list[list[RequestSecond | None]] = []
    for key in names:
        if callable(rates):
            lam = np.array([rates(key, i, per_second_users[i]) for i in range(seconds)], float)
        else:
            lam = np.full(seconds, float(rates[key]))
        counts = rng.poisson(np.maximum(lam, 0.0))
        fails = rng.binomial(counts, min(max(float(errors[key]), 0.0), 1.0))
        columns.append(
            _name_records(
                key, models[key], counts, fails, per_second_users, start_s,
                failure_kind, rng, encoder,
            )
        )  # fmt: skip

    with TimelineWriter(folder / FILE_NAME, created_s=float(start_s)) as writer:
        for i in range(seconds):
            found = sorted((c[i] for c in columns if c[i] is not None), key=lambda r: r.key)
            writer.write_second(
                Second(t=start_s + i, users=per_second_users[i], workers=1, requests=tuple(found))
            )
        writer.close(ended_s=start_s + seconds + 0.2, reason="quit")

    identifier = run_id or folder.name
    run = RunRecord(
        run_id=identifier,
        scenario="synthetic",
        scenario_file=str(folder / "scenario.yaml"),
        host="http://synthetic.invalid",
        started_at=_iso(start_s - 2),
        ended_at=_iso(start_s + seconds + 1),
        status=status,
        exit_code=0,
        phases=[
            {"name": "starting", "at": _iso(start_s - 2)},
            {"name": "running", "at": _iso(start_s)},
            {"name": "stopping", "at": _iso(start_s + seconds)},
            {"name": status, "at": _iso(start_s + seconds + 1)},
        ],
        plan=PlanRecord.from_record(record),
        swarm_version="synthetic",
    )
    (folder / "run.json").write_text(json.dumps(run.to_record(), indent=2) + "\n", encoding="utf-8")
    doc: dict[str, Any] = {"name": "synthetic", **dict(scenario or {})}
    if budgets is not None:
        doc["budgets"] = dict(budgets)
    if validation is not None:
        doc["validation"] = dict(validation)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder
