"""Load sections that are valid but will not do what they say: warnings, not errors.

An open load starts arrivals on schedule whatever the target does, so when the target
stops answering, arrivals pile up until each times out: by Little's law, up to
``rate × timeout`` of them are in flight at once. ``max_in_flight`` bounds that per load
generator, and an arrival that finds no room is dropped (counted, never silent). A file
whose peak rate times its request timeout is above ``max_in_flight`` is not wrong, since
several workers share the rate and a healthy target answers long before the timeout, so
``swarm validate``, ``swarm plan`` and ``swarm run`` print it as a warning with the
arithmetic, and say how many load generators would hold it::

    >>> from framework.scenario.model import Scenario
    >>> s = Scenario.model_validate({"name": "s", "timeout": 30, "users": [
    ...     {"name": "u", "requests": [{"path": "/"}]}], "load": {"model": "open",
    ...     "shape": "constant", "rate": 100, "duration": 60, "max_in_flight": 500}})
    >>> [(path, text[:47]) for path, text in load_warnings(s)]
    [(('load', 'max_in_flight'), 'peak rate 100 arrivals/s × request timeout 30 s')]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from framework.scenario.flows import request_steps
from framework.scenario.model import Scenario, UserSpec

__all__ = ["effective_timeout_s", "load_warnings"]


def effective_timeout_s(scenario: Scenario, user: UserSpec) -> float:
    """The longest any request of ``user`` may wait for its answer, in seconds: a request's
    ``timeout`` where it is shorter than the connection's (the user's, else the scenario's)."""
    connection = user.timeout or scenario.timeout
    return max(
        min(request.timeout, connection) if request.timeout is not None else connection
        for request in request_steps(user)
    )


def load_warnings(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """``(key path, message)`` for each load section that will not run as written."""
    warnings = []
    shared = [user for user in scenario.users if user.load is None]
    if scenario.load is not None and not shared:
        warnings.append(
            (
                ("load",),
                "every users entry has a load of its own, so this scenario-level load runs "
                "no one; remove it, or remove the load of the entries meant to share it",
            )
        )
    if scenario.load is not None and shared:
        warnings += _in_flight(scenario, ("load",), scenario.load, shared)
    for i, user in enumerate(scenario.users):
        if user.load is not None:
            warnings += _in_flight(scenario, ("users", i, "load"), user.load, [user])
    if scenario.load is not None and scenario.load.shape == "find_capacity":
        warnings += _search_warnings(scenario)
    return warnings


SEARCH_STEP_S = 12
"""The shortest ``step_duration`` whose plateau a capacity search can judge on its budgets:
an interval needs 10 whole seconds of it (``framework.live.capacity_search``), and the
ramp and the run's start within a second take up to two more."""


def _search_warnings(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """What keeps a capacity search from stopping where it should: no budgets to fail, or
    steps too short to judge them on."""
    load = scenario.load
    found: list[tuple[tuple[str | int, ...], str]] = []
    if scenario.budgets is None or not _has_limits(scenario):
        found.append(
            (
                ("load", "shape"),
                "find_capacity without budgets stops only once the fitted USL peak lies "
                "below the next step's load (after at least 4 steps), else runs every step; "
                "add budgets (p95_ms, error_rate, …) to stop at the first step that fails "
                "one with confidence",
            )
        )
    step_s = float(load.step_duration)  # type: ignore[union-attr]
    if step_s < SEARCH_STEP_S:
        found.append(
            (
                ("load", "step_duration"),
                f"step_duration {step_s:g} s is too short for the capacity search to judge "
                f"a step's budgets (a confidence interval needs 10 whole seconds of its "
                f"plateau): make each step at least {SEARCH_STEP_S} s (with --time-scale, "
                f"after scaling)",
            )
        )
    return found


def _has_limits(scenario: Scenario) -> bool:
    budgets = scenario.budgets
    if budgets is None:
        return False
    scoped = [budgets.overall, *budgets.requests.values()]
    return any(
        limits is not None and any(v is not None for k, v in limits if k != "tolerance")
        for limits in scoped
    )


def _in_flight(
    scenario: Scenario, path: tuple[str | int, ...], load: object, users: Sequence[UserSpec]
) -> list[tuple[tuple[str | int, ...], str]]:
    if getattr(load, "model", "closed") != "open":
        return []
    peak = float(load.peak_rate)  # type: ignore[attr-defined]
    limit = int(load.max_in_flight)  # type: ignore[attr-defined]
    timeout = max(effective_timeout_s(scenario, user) for user in users)
    pending = peak * timeout
    if pending <= limit:
        return []
    generators = math.ceil(pending / limit)
    message = (
        f"peak rate {peak:g} arrivals/s × request timeout {timeout:g} s = {pending:g} arrivals "
        f"could be in flight at once while the target does not answer, above max_in_flight "
        f"{limit} per load generator: unless {generators} or more workers share the rate, "
        f"arrivals beyond it are dropped (and counted); raise max_in_flight to "
        f"{math.ceil(pending)} or shorten the timeout to {limit / peak:.3g} s"
    )
    return [((*path, "max_in_flight"), message)]
