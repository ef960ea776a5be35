"""The one live feed of a run: closed seconds and state changes in, hooks out.

The master's telemetry calls ``add_second`` for every second the merger closes (in order,
as it is written to the timeline) and ``move`` on every change of the run's state; every
live consumer — terminal progress, web UI tab, InfluxDB and Prometheus sinks, abort guards,
plugins — listens to the hooks and reads ``statistics``, never Locust's own numbers.

    >>> from framework.timeline.records import RequestSecond, Second
    >>> feed = LiveFeed(started_s=100.0)
    >>> _ = feed.move("running", 100.5)
    >>> seen = []
    >>> _ = feed.second_closed.add_listener(lambda *, second, **_kw: seen.append(second.t))
    >>> feed.add_second(Second(t=101, users=1, workers=1,
    ...     requests=(RequestSecond.from_latencies(101, "GET", "/x", [2.0, 4.0]),)))
    >>> seen, feed.statistics.snapshot().count
    ([101], 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from framework.live.arrivals import GroupArrivals, planned_rate
from framework.live.hooks import Hook
from framework.live.state import RunState, State, Transition
from framework.live.statistics import LiveStatistics
from framework.plan.rates import RatePlan
from framework.timeline.records import ArrivalSecond, Second

__all__ = ["LiveFeed"]


class LiveFeed:
    """Hooks (keyword-only payloads, each also given ``feed=self``):

    - ``second_closed(second, counted)``: a second of the merged timeline has closed;
      ``counted`` is false when the run was paused in it (left out of every statistic).
    - ``state_changed(state, previous, at_s, reason)``: the run moved to ``state``.
    - ``run_finished(state)``: the run has ended (``finished``, ``failed``, ``aborted`` or
      ``interrupted``); fired once, after the last second.
    - ``arrival_late(arrival, counted)``: an ``ArrivalSecond`` due in a second already
      closed (its arrivals started after the second was written: a late ``arr`` line of the
      timeline), added into that second's arrival figures when ``counted``.
    - ``run_started(run_id)``: ``start_run`` began another run in the same process (each
      start in the web UI is a run of its own); statistics and state start afresh.

    One feed lives as long as its Locust process, so listeners are added once.
    """

    def __init__(
        self,
        *,
        started_s: float,
        run_id: str | None = None,
        statistics: LiveStatistics | None = None,
    ) -> None:
        self.run_id = run_id
        self.statistics = statistics or LiveStatistics()
        self.run_state = RunState.starting(started_s)
        self.latest: Second | None = None
        self.second_closed = Hook("second_closed")
        self.state_changed = Hook("state_changed")
        self.run_finished = Hook("run_finished")
        self.run_started = Hook("run_started")
        self.arrival_late = Hook("arrival_late")

    def start_run(self, started_s: float, run_id: str | None = None) -> None:
        """Begin the next run in this process: fresh statistics and state, same listeners."""
        self.run_id = run_id
        self.statistics = LiveStatistics(
            recent_s=self.statistics.recent_s, max_rows=self.statistics.max_rows
        )
        self.run_state = RunState.starting(started_s)
        self.latest = None
        self.run_started.fire(run_id=run_id, feed=self)

    def __repr__(self) -> str:
        return f"LiveFeed(state={self.state!r}, seconds={self.statistics.seconds})"

    @property
    def state(self) -> State:
        return self.run_state.state

    def add_second(self, second: Second, *, counted: bool | None = None) -> None:
        """Take a closed second; by default it counts unless the run was paused in it
        (``Second.paused``, as the master marks it before writing, or ``paused_in``)."""
        if counted is None:
            counted = not (second.paused or self.paused_in(second.t))
        self.latest = second
        self.statistics.add_second(second, counted=counted)
        self.second_closed.fire(second=second, counted=counted, feed=self)

    def add_late_arrivals(self, arrivals: Iterable[ArrivalSecond]) -> None:
        """Take arrivals due in seconds already closed (a correction, as the timeline's late
        ``arr`` lines); those of a second the run was paused in count nowhere, as their
        second does not."""
        for record in arrivals:
            counted = not self.paused_in(record.t)
            if counted:
                self.statistics.add_late_arrival(record)
            self.arrival_late.fire(arrival=record, counted=counted, feed=self)

    def group_arrivals(
        self, rates: Mapping[str, RatePlan] | None = None, *, window_s: int = 10
    ) -> tuple[GroupArrivals, ...]:
        """Each open load group's arrivals (those with a plan in ``rates``, and any the
        timeline has shown), sorted by name: the last ``window_s`` counted seconds against
        the plan's rate over the same stretch of plan time, and the run so far. Empty for a
        closed-model run."""
        rates = rates or {}
        arrivals = self.statistics.arrivals
        names = sorted({*rates, *arrivals.groups()})
        last_t = self.statistics.last_t
        found = []
        for name in names:
            recent = arrivals.figures(name, window_s=window_s)
            plan = rates.get(name)
            planned = None
            if plan is not None and last_t is not None and recent.seconds:
                end_s = self.plan_elapsed_s(float(last_t + 1))
                planned = planned_rate(plan, end_s=end_s, seconds=recent.seconds)
            found.append(GroupArrivals(name, planned, recent, arrivals.figures(name)))
        return tuple(found)

    def move(self, state: State, at_s: float, reason: str | None = None) -> Transition:
        """Change the run's state (``IllegalTransition`` says why not) and tell listeners."""
        previous = self.state
        transition = self.run_state.move(state, at_s, reason)
        self.state_changed.fire(state=state, previous=previous, at_s=at_s, reason=reason, feed=self)
        if self.run_state.ended:
            self.run_finished.fire(state=state, feed=self)
        return transition

    def paused_in(self, t: int) -> bool:
        """Whether the run was paused at any moment of the second ``[t, t + 1)``: such a
        second is marked paused in the timeline and left out of every statistic."""
        return self.run_state.was_in("paused", float(t), float(t + 1))

    def plan_elapsed_s(self, now_s: float) -> float:
        """Where the load plan is: time since the run first started running, less the time
        it has spent paused (pausing freezes the plan's clock); it stops where the run
        began stopping."""
        history = self.run_state.history
        started = next((t.at_s for t in history if t.state == "running"), None)
        if started is None:
            return 0.0
        stopped = next((t.at_s for t in history if t.state == "stopping"), None)
        if stopped is not None:
            now_s = min(now_s, stopped)
        return max(0.0, now_s - started - self.run_state.seconds_in("paused", now_s))
