"""The text ``swarm validate`` prints: what the scenario will do, in a few lines."""

from __future__ import annotations

from typing import Any

from framework.plan.chart import format_duration
from framework.plan.faults import FaultPlanError, describe_fault, planned_faults
from framework.plan.groups import LoadGroup, LoadSchedule, schedule_for
from framework.plan.load_plan import FIND_CAPACITY
from framework.scenario.flows import (
    AGGREGATE_POLL,
    AGGREGATE_TXN,
    PollStep,
    RepeatStep,
    RequestStep,
    ThinkStep,
    TransactionStep,
    walk_steps,
)
from framework.scenario.interpolation import mask_url_password
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import RequestSpec, ThinkTime
from framework.scenario.yaml_source import KeyPath

__all__ = ["describe_scenario", "search_note"]


def search_note(schedule: LoadSchedule) -> str | None:
    """What ``swarm plan`` and ``swarm validate`` add under a find_capacity plan: it is the
    most the run does, and the capacity search may end it early."""
    if schedule.name != FIND_CAPACITY:
        return None
    steps = sum(1 for p in schedule.phases if p.kind == "plateau")
    return (
        f"find_capacity: at most {steps} steps ({format_duration(schedule.duration_s)}); the "
        f"capacity search stops the run early once a step fails a budget with confidence or "
        f"the fitted USL peak lies below the next step's load"
    )


def _think(think: ThinkTime | None) -> str:
    if think is None:
        return "no think time"
    if think.fixed_ms is not None:
        return f"think {think.fixed_ms:g} ms"
    if think.uniform_ms is not None:
        return f"think {think.uniform_ms[0]:g}-{think.uniform_ms[1]:g} ms"
    if think.pacing is not None:
        pacing = think.pacing
        every = f"{pacing * 1000:g} ms" if pacing < 1 else format_duration(pacing)
        return f"one request every {every}"
    return f"{think.throughput:g} requests/s per user"


def _phases(n: int) -> str:
    return f"{n} phase" if n == 1 else f"{n} phases"


def _group_line(group: LoadGroup, names: list[str]) -> str:
    """One load group: who runs under it, its model, shape, peak and length."""
    plan = group.plan
    if group.model == "open":
        level = (
            f"peak {group.peak:g} arrivals/s, {group.arrivals}, "
            f"max_in_flight {group.max_in_flight} per worker"
        )
    else:
        level = f"peak {int(group.peak)} users"
    return (
        f"group {group.name} ({', '.join(names)}): {group.model} {plan.name}, {level}, "
        f"{format_duration(plan.duration_s)}"
    )


def describe_scenario(loaded: LoadedScenario) -> str:
    """A human summary: target, users and their request mix, the load plan, the secrets.

    Printed to terminals and CI logs, so secret values show as their ``${VAR}``.
    """
    s = loaded.scenario
    redactor = loaded.redactor

    def shown(text: str | None) -> str | None:
        return mask_url_password(redactor.text(text)) if text else text

    schedule = schedule_for(s, time_scale=loaded.time_scale)
    total_user_weight = sum(u.weight for u in s.users if u.load is None)
    lines = [f"{loaded.path.name}: valid scenario {s.name!r}"]
    if s.description:
        lines.append(f"  {redactor.text(s.description.strip().splitlines()[0])}")
    lines.append(f"  target: {shown(loaded.host) or '(none: pass --host or set SWARM_HOST)'}")
    for u, user in enumerate(s.users):
        host = f", host {shown(loaded.host_for(user))}" if user.host else ""
        if user.load is None:
            share = 100 * user.weight / total_user_weight
            runs = f"weight {user.weight} ({share:.0f}%)"
        else:
            runs = "its own load"
        lines.append(f"  users {user.name}: {runs}, {_think(user.think_time)}{host}")
        lines.extend(_flow_lines(loaded, u))
        if user.requests and (user.flow or user.on_start):
            after = ", one after each run of the flow" if user.flow else ""
            lines.append(f"    requests (weighted{after}):")
        total = sum(r.weight for r in user.requests)
        for r, req in enumerate(user.requests):
            expect = _expect(req)
            lines.append(
                f"    {req.method:<6} {loaded.request_label(u, r):<24} "
                f"{loaded.request_path(u, r)}  weight {req.weight} "
                f"({100 * req.weight / total:.0f}%){expect}"
            )
    scaled = f" (time scaled by {loaded.time_scale:g})" if loaded.time_scale != 1.0 else ""
    if not schedule.engine:
        plan = schedule.locust_plan()
        lines.append(
            f"  load: {plan.name}, peak {plan.peak_users} users, "
            f"{format_duration(plan.duration_s)} in {_phases(len(plan.phases))}{scaled}"
        )
    else:
        peaks = []
        if schedule.model != "open":
            peaks.append(f"{schedule.peak_users} users")
        if schedule.model != "closed":
            peaks.append(f"{schedule.peak_rate:g} arrivals/s")
        lines.append(
            f"  load: {schedule.model}, {len(schedule.groups)} group"
            f"{'s' if len(schedule.groups) != 1 else ''}, peak {' and '.join(peaks)}, "
            f"{format_duration(schedule.duration_s)} in {_phases(len(schedule.phases))}{scaled}"
        )
        for group in schedule.groups:
            lines.append(f"    {_group_line(group, [s.users[i].name for i in group.users])}")
    note = search_note(schedule)
    if note:
        lines.append(f"  {note}")
    if loaded.overrides:
        lines.append(f"  overrides: {', '.join(f'--set {o}' for o in loaded.shown_overrides)}")
    if s.data:
        lines.append(
            "  data: " + ", ".join(f"{k} ({v.file}, {v.order})" for k, v in s.data.items())
        )
    if loaded.secret_names:
        names = ", ".join(sorted(loaded.secret_names))
        lines.append(f"  secrets (sent, never written): {names}")
    if s.faults:
        lines.extend(_fault_lines(loaded))
    lines.extend(_metric_lines(loaded))
    return "\n".join(lines)


def _metric_lines(loaded: LoadedScenario) -> list[str]:
    """The scenario's custom metrics (``metrics:`` of requests and steps, ``gauges:``)."""
    found: list[str] = []
    for u, user in enumerate(loaded.scenario.users):
        for r, req in enumerate(user.requests):
            found += [_metric(m, loaded.request_label(u, r)) for m in req.metrics]
        for section in ("on_start", "flow"):
            for path, step in walk_steps(getattr(user, section) or []):
                if isinstance(step, RequestStep):
                    label = loaded.step_label(u, section, path)
                    found += [_metric(m, label) for m in step.metrics]
    gauges = loaded.scenario.gauges
    if not found and not gauges:
        return []
    lines = [f"  custom metrics: {len(found)} from responses, {len(gauges)} polled"]
    lines += [f"    {line}" for line in found]
    for gauge in gauges:
        target = gauge.url or gauge.path
        lines.append(
            f"    {_metric_name(gauge.name, gauge.dims)} (gauge, {gauge.unit}): {gauge.source} "
            f"of GET {target} every {format_duration(gauge.every)}"
        )
    return lines


def _metric(metric: Any, label: str) -> str:
    name = _metric_name(metric.name, metric.dims)
    return f"{name} ({metric.kind}, {metric.unit}): {metric.source} of {label}"


def _metric_name(name: str, dims: dict[str, str]) -> str:
    if not dims:
        return name
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(dims.items())) + "}"


def _expect(req: RequestSpec) -> str:
    if not (req.expect and req.expect.status):
        return ""
    codes = req.expect.status
    return f", expect {codes[0]}" if len(codes) == 1 else f", expect {codes[0]}-{codes[-1]}"


def _step_line(loaded: LoadedScenario, u: int, section: str, path: KeyPath, step: Any) -> str:
    """One step of a flow, as ``swarm validate`` lists it (secrets as references)."""
    if isinstance(step, RequestStep):
        written = loaded.written_step(u, section, path).get("path")
        shown_path = (
            written.replace("$${", "${")
            if isinstance(written, str)
            else loaded.redactor.text(step.path)
        )
        captures = f"  capture {', '.join(c.var for c in step.capture)}" if step.capture else ""
        label = loaded.step_label(u, section, path)
        return f"{step.method:<6} {label:<24} {shown_path}{_expect(step)}{captures}"
    if isinstance(step, ThinkStep):
        return _think(step.think)
    if isinstance(step, RepeatStep):
        spec = step.repeat
        if spec.times is not None:
            return f"repeat {spec.times} times:"
        word = "while" if spec.while_ is not None else "until"
        return f"repeat {word} {loaded.redactor.text(spec.condition)} (at most {spec.max}):"
    if isinstance(step, PollStep):
        poll = step.poll
        name = step.name or f"{loaded.step_label(u, section, (*path, 'poll', 'request'))} (poll)"
        return (
            f"poll {name} ({AGGREGATE_POLL}): every {format_duration(poll.every)}, "
            f"timeout {format_duration(poll.timeout)}:"
        )
    if isinstance(step, TransactionStep):
        return f"transaction {step.transaction} ({AGGREGATE_TXN}):"
    return type(step).__name__


def _flow_lines(loaded: LoadedScenario, u: int) -> list[str]:
    """A users entry's on_start and flow steps, indented by nesting."""
    user = loaded.scenario.users[u]
    lines = []
    for section in ("on_start", "flow"):
        steps = getattr(user, section) or []
        if not steps:
            continue
        if section == "on_start":
            lines.append("    on_start (once per user):")
        else:
            name = user.flow_name or user.name
            lines.append(
                f"    flow {name} ({AGGREGATE_TXN}), every iteration, on capture failure: "
                f"{user.on_capture_failure.replace('_', ' ')}:"
            )
        for path, step in walk_steps(steps):
            depth = sum(1 for part in path if part in ("steps", "poll"))
            lines.append(f"      {'  ' * depth}{_step_line(loaded, u, section, path, step)}")
    return lines


def _fault_lines(loaded: LoadedScenario) -> list[str]:
    """The scheduled faults on the plan's clock (secret values in a command masked)."""
    schedule = schedule_for(loaded.scenario, time_scale=loaded.time_scale)
    try:
        faults = planned_faults(loaded, schedule, time_scale=loaded.time_scale)
    except FaultPlanError as exc:
        return [f"  faults: {len(loaded.scenario.faults)}, not on the plan: {exc}"]
    lines = [f"  faults: {len(faults)} on the plan's clock"]
    lines += [f"    {loaded.redactor.text(describe_fault(f))}" for f in faults]
    return lines
