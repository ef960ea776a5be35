"""Synthetic open-model run folders (timeline version 3) whose figures are known by construction.

``write_open_run`` writes what an open-model ``swarm run`` leaves behind: ``run.json`` (with
``plan.groups`` when given), ``scenario.yaml`` and a timeline whose ``req`` lines carry the
response time from the intended start in the main latency fields and the service time in
the ``svc_*`` ones, plus one ``arr`` line per second and load group. Every value is a
literal function of the arguments (no randomness):

- each second, each name gets ``rate`` successful requests, service times spread evenly
  over ``service_ms * [0.8, 1.2)``;
- a request's schedule lag is ``lag_ms``, except in the ``stalled`` seconds (indexes),
  where the generator fell behind: the k-th of n requests started ``stall_ms * (1 - k/n)``
  late, so its response time from the intended start is long while its service time is not;
- ``dropped`` arrivals per second per group could not start; ``cpu`` is the busiest load
  generator's CPU in every second;
- in the ``short`` seconds (indexes) only ``1 - short_by`` of each name's arrivals were due
  (a load generator's share lost: neither sent nor counted); with ``poisson_seed`` each
  second's count is instead drawn from a Poisson law of mean ``rate`` (seeded);
- the ``paused`` seconds (indexes) are marked paused, with no arrival, and ``run.json``'s
  phases pause the run over them: the plan's clock stands still there, so the plan
  (``run.json``, and the ``scenario``'s ``load`` a caller gives) lasts
  ``seconds - len(paused)`` s; ``workers`` is how many workers each second reports
  (``worker_events`` go into ``run.json``).

Example::

    folder = write_open_run(tmp_path / "run", stalled=range(10, 13))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from framework.plan.record import PlanRecord
from framework.plan.shapes import Phase
from framework.run.folder import RunRecord
from framework.timeline.arrivals import ArrivalSecond
from framework.timeline.records import FILE_NAME, RequestSecond, Second
from framework.timeline.writer import TimelineWriter
from tests.synthetic import START_S, _iso

__all__ = ["write_open_run"]


def _split(key: str) -> tuple[str, str]:
    method, _, name = key.partition(" ")
    return method, name


def write_open_run(
    folder: Path | str,
    *,
    seconds: int = 60,
    rate: int = 100,
    names: Sequence[str] = ("GET /orders",),
    groups: Mapping[str, Sequence[str]] | None = None,
    service_ms: float = 10.0,
    lag_ms: float = 1.0,
    stalled: Iterable[int] = (),
    stall_ms: float = 800.0,
    dropped: int = 0,
    cpu: float | None = 30.0,
    closed_names: Sequence[str] = (),
    plan_groups: Sequence[Mapping[str, Any]] | None = None,
    scenario: Mapping[str, Any] | None = None,
    start_s: int = START_S,
    short: Iterable[int] = (),
    short_by: float = 0.5,
    poisson_seed: int | None = None,
    paused: Iterable[int] = (),
    workers: Mapping[int, int] | None = None,
    worker_events: Sequence[Mapping[str, str]] = (),
) -> Path:
    """Write the run folder (see the module) and return it.

    ``groups`` maps each open load group to its names (default: one group ``"scenario"``
    holding ``names``); ``closed_names`` are closed-model requests (no service time, no
    arrivals) at ``rate`` per second with ``service_ms`` latencies. ``plan_groups`` go
    into ``run.json``'s plan as ``groups``; ``scenario`` is ``scenario.yaml`` (besides its
    ``name``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = dict(groups or {"scenario": tuple(names)})
    stalled, short, paused = set(stalled), set(short), set(paused)
    draws = np.random.default_rng(poisson_seed) if poisson_seed is not None else None
    with TimelineWriter(folder / FILE_NAME, created_s=float(start_s)) as writer:
        for i in range(seconds):
            t = start_s + i
            requests, arrivals = [], []
            for group, keys in sorted(groups.items()):
                lags_all: list[float] = []
                for key in keys:
                    n = rate
                    if draws is not None:
                        n = int(draws.poisson(rate))
                    elif i in short:
                        n = round(rate * (1 - short_by))
                    if i in paused or not n:
                        continue
                    svc = [service_ms * (0.8 + 0.4 * k / n) for k in range(n)]
                    if i in stalled:
                        lags = [stall_ms * (1 - k / n) for k in range(n)]
                    else:
                        lags = [lag_ms] * n
                    response = [s + lag for s, lag in zip(svc, lags, strict=True)]
                    method, name = _split(key)
                    requests.append(
                        RequestSecond.from_latencies(t, method, name, response, service_ms=svc)
                    )
                    lags_all += lags
                if i not in paused:
                    arrivals.append(
                        ArrivalSecond.from_lags(
                            t, group, lags_all, dropped=dropped, in_flight_max=len(keys) * 2
                        )
                    )
            for key in closed_names:
                method, name = _split(key)
                latencies = [service_ms * (0.8 + 0.4 * k / rate) for k in range(rate)]
                requests.append(RequestSecond.from_latencies(t, method, name, latencies))
            writer.write_second(
                Second(
                    t=t,
                    users=0,
                    workers=(workers or {}).get(i, 1),
                    requests=tuple(sorted(requests, key=lambda r: r.key)),
                    cpu_percent=cpu,
                    arrivals=tuple(arrivals),
                    paused=i in paused,
                )
            )
        writer.close(ended_s=start_s + seconds + 0.2, reason="quit")

    plan_s = seconds - len(paused)
    plan = PlanRecord(
        shape="constant",
        duration_s=plan_s,
        peak_users=None,
        phases=(Phase("steady", 0, plan_s, 0, "plateau", rate=float(rate)),),
        model="open",
    )
    pauses = []
    for i in sorted(paused):
        if i - 1 not in paused:
            pauses.append({"name": "paused", "at": _iso(start_s + i)})
        if i + 1 not in paused:
            pauses.append({"name": "running", "at": _iso(start_s + i + 1)})
    run = RunRecord(
        run_id=folder.name,
        scenario="open synthetic",
        scenario_file=str(folder / "scenario.yaml"),
        host="http://synthetic.invalid",
        started_at=_iso(start_s - 2),
        ended_at=_iso(start_s + seconds + 1),
        status="finished",
        exit_code=0,
        phases=[
            {"name": "starting", "at": _iso(start_s - 2)},
            {"name": "running", "at": _iso(start_s)},
            *pauses,
            {"name": "stopping", "at": _iso(start_s + seconds)},
            {"name": "finished", "at": _iso(start_s + seconds + 1)},
        ],
        plan=plan,
        worker_events=[dict(e) for e in worker_events],
        swarm_version="synthetic",
    ).to_record()
    if plan_groups is not None:
        run["plan"]["model"] = "mixed"
        run["plan"]["groups"] = [dict(g) for g in plan_groups]
    (folder / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    doc = {"name": "open synthetic", **dict(scenario or {})}
    (folder / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder
