"""The run's state machine: which state a run is in, how it got there, and what may follow.

    starting → running ⇄ paused → stopping → finished | failed | aborted | interrupted

A run may also fail, be aborted or be interrupted from any state before it has ended (a
target down while starting, Ctrl-C while paused). Every transition is timestamped; an
illegal one (resuming a run that is not paused, pausing a finished one) is refused with the
reason, which the web UI answers as HTTP 409 and ``swarm ctl`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from framework.errors import UsageError

__all__ = [
    "ENDED",
    "STATES",
    "IllegalTransition",
    "RunState",
    "State",
    "Transition",
]

State = Literal[
    "starting", "running", "paused", "stopping", "finished", "failed", "aborted", "interrupted"
]
STATES: tuple[State, ...] = get_args(State)
ENDED: frozenset[State] = frozenset({"finished", "failed", "aborted", "interrupted"})

_NEXT: dict[State, frozenset[State]] = {
    "starting": frozenset({"running", "stopping", "failed", "aborted", "interrupted"}),
    "running": frozenset({"paused", "stopping", "failed", "aborted", "interrupted"}),
    "paused": frozenset({"running", "stopping", "failed", "aborted", "interrupted"}),
    "stopping": frozenset({"finished", "failed", "aborted", "interrupted"}),
    "finished": frozenset(),
    "failed": frozenset(),
    "aborted": frozenset(),
    "interrupted": frozenset(),
}

_VERBS: dict[State, str] = {"paused": "pause", "running": "resume", "stopping": "stop"}


class IllegalTransition(UsageError):
    """A transition the state machine refuses; ``str()`` says why, for a person."""


@dataclass(frozen=True)
class Transition:
    """One change of state: to ``state`` at unix time ``at_s``, and why (if anyone said)."""

    state: State
    at_s: float
    reason: str | None = None


@dataclass
class RunState:
    """The current state and every transition so far (the first is ``starting``)."""

    history: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.history:
            raise ValueError("a RunState starts with its first transition")

    @classmethod
    def starting(cls, at_s: float) -> RunState:
        return cls([Transition("starting", at_s)])

    @property
    def state(self) -> State:
        return self.history[-1].state

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def allows(self, state: State) -> bool:
        return state in _NEXT[self.state]

    def refusal(self, state: State) -> str | None:
        """Why moving to ``state`` is refused now, or ``None`` if it is allowed."""
        if state not in STATES:
            return f"unknown state {state!r}; states are {', '.join(STATES)}"
        if self.allows(state):
            return None
        verb = _VERBS.get(state, f"move to {state}")
        if self.ended:
            return f"cannot {verb}: the run has already ended ({self.state})"
        if state == self.state:
            return f"cannot {verb}: the run is already {state}"
        allowed = ", ".join(sorted(_NEXT[self.state])) or "none"
        return f"cannot {verb} a run that is {self.state} (from {self.state}: {allowed})"

    def move(self, state: State, at_s: float, reason: str | None = None) -> Transition:
        """Enter ``state``; ``IllegalTransition`` (with the reason) if that is not allowed."""
        refused = self.refusal(state)
        if refused is not None:
            raise IllegalTransition(refused)
        transition = Transition(state, at_s, reason)
        self.history.append(transition)
        return transition

    def seconds_in(self, state: State, now_s: float) -> float:
        """Time spent in ``state`` up to ``now_s`` (the paused time the plan's clock skips)."""
        total = 0.0
        for current, following in zip(self.history, [*self.history[1:], None], strict=True):
            if current.state == state:
                end = following.at_s if following is not None else now_s
                total += max(0.0, end - current.at_s)
        return total

    def spans(self, state: State, now_s: float) -> list[tuple[float, float]]:
        """Each stretch ``(start_s, end_s)`` spent in ``state``; one still going ends at
        ``now_s``. The paused spans are what the timeline marks and the analysis skips."""
        found = []
        for current, following in zip(self.history, [*self.history[1:], None], strict=True):
            if current.state == state:
                end = following.at_s if following is not None else max(now_s, current.at_s)
                found.append((current.at_s, end))
        return found

    def was_in(self, state: State, start_s: float, end_s: float) -> bool:
        """Whether the run was in ``state`` at any moment of ``[start_s, end_s)``: a
        second the run was paused in, even partly, is a paused second."""
        return any(lo < end_s and hi > start_s for lo, hi in self.spans(state, end_s))
