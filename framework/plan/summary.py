"""The text ``swarm validate`` prints: what the scenario will do, in a few lines."""

from __future__ import annotations

from framework.plan.chart import format_duration
from framework.plan.load_plan import plan_for
from framework.scenario.interpolation import mask_url_password
from framework.scenario.loader import LoadedScenario
from framework.scenario.model import ThinkTime

__all__ = ["describe_scenario"]


def _think(think: ThinkTime | None) -> str:
    if think is None:
        return "no think time"
    if think.fixed_ms is not None:
        return f"think {think.fixed_ms:g} ms"
    if think.uniform_ms is not None:
        return f"think {think.uniform_ms[0]:g}-{think.uniform_ms[1]:g} ms"
    if think.pacing is not None:
        return f"one request every {format_duration(think.pacing)}"
    return f"{think.throughput:g} requests/s per user"


def describe_scenario(loaded: LoadedScenario) -> str:
    """A human summary: target, users and their request mix, the load plan, the secrets.

    Printed to terminals and CI logs, so secret values show as their ``${VAR}``.
    """
    s = loaded.scenario
    redactor = loaded.redactor

    def shown(text: str | None) -> str | None:
        return mask_url_password(redactor.text(text)) if text else text

    plan = plan_for(s.load, time_scale=loaded.time_scale)
    total_user_weight = sum(u.weight for u in s.users)
    lines = [f"{loaded.path.name}: valid scenario {s.name!r}"]
    if s.description:
        lines.append(f"  {redactor.text(s.description.strip().splitlines()[0])}")
    lines.append(f"  target: {shown(loaded.host) or '(none: pass --host or set SWARM_HOST)'}")
    for u, user in enumerate(s.users):
        share = 100 * user.weight / total_user_weight
        host = f", host {shown(loaded.host_for(user))}" if user.host else ""
        lines.append(
            f"  users {user.name}: weight {user.weight} ({share:.0f}%), "
            f"{_think(user.think_time)}{host}"
        )
        total = sum(r.weight for r in user.requests)
        for r, req in enumerate(user.requests):
            expect = ""
            if req.expect and req.expect.status:
                codes = req.expect.status
                expect = (
                    f", expect {codes[0]}"
                    if len(codes) == 1
                    else f", expect {codes[0]}-{codes[-1]}"
                )
            lines.append(
                f"    {req.method:<6} {loaded.request_label(u, r):<24} "
                f"{loaded.request_path(u, r)}  weight {req.weight} "
                f"({100 * req.weight / total:.0f}%){expect}"
            )
    lines.append(
        f"  load: {plan.name}, peak {plan.peak_users} users, {format_duration(plan.duration_s)} "
        f"in {len(plan.phases)} phases"
        + (f" (time scaled by {loaded.time_scale:g})" if loaded.time_scale != 1.0 else "")
    )
    if loaded.overrides:
        lines.append(f"  overrides: {', '.join(f'--set {o}' for o in loaded.shown_overrides)}")
    if s.data:
        lines.append(
            "  data: " + ", ".join(f"{k} ({v.file}, {v.order})" for k, v in s.data.items())
        )
    if loaded.secret_names:
        names = ", ".join(sorted(loaded.secret_names))
        lines.append(f"  secrets (sent, never written): {names}")
    return "\n".join(lines)
