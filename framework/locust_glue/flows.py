"""Run a users entry's flow in Locust: requests in order, captures, polls, repeats, transactions.

A flow is compiled once per process (``compile_steps``) into a tree of small step objects,
and one ``FlowRunner`` per users entry turns them into closures, once, and runs them:
``on_start`` once per user, the flow once per iteration. Every request step goes through
the same pieces as a weighted request's task (``compiler.request_parts`` renders it,
``sending`` times it out and records it), so a flow's requests are named, checked,
redacted and recorded exactly like other requests.

What a flow adds is recorded through the same ``request`` event:

- each transaction — the whole flow (``flow_name``, default the users entry's name) and
  every ``transaction:`` group — with ``request_type="TXN"``: its response time is the wall
  time of its steps without their think steps, and it fails when any step in it failed;
- each poll's total time with ``request_type="POLL"`` under its name (failed on timeout),
  besides each of its requests, recorded as a normal request.

Those two request types are aggregates of other requests: the overall figures leave them
out (``framework.timeline.endpoints.is_aggregate``), their own names keep them.

A capture that finds nothing (and has no ``default``) fails its request with the message
``capture 'token': $.token found nothing`` (a failed check, kind ``expectation``) and,
unless ``on_capture_failure: continue``, ends the iteration: the steps after it would send
requests built from a value that does not exist. A poll that times out ends it too.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import gevent
from jsonpath_ng.ext import parse as parse_jsonpath
from locust.stats import StatsError

from framework.locust_glue.checks import compile_expect
from framework.locust_glue.control import wait_while_paused
from framework.locust_glue.flow_source import PlainFlow, PlainRequest, compile_plain_flow
from framework.locust_glue.sending import RequestTimeout, fire_timeout, template_failure
from framework.scenario.interpolation import Redactor
from framework.scenario.templates import TemplateRenderError, compile_value
from framework.timeline.endpoints import AGGREGATE_METHODS

if TYPE_CHECKING:
    from framework.locust_glue.compiler import RequestParts

__all__ = [
    "AGGREGATE_POLL",
    "AGGREGATE_TXN",
    "CompiledCapture",
    "FlowPoll",
    "FlowRepeat",
    "FlowRequest",
    "FlowRunner",
    "FlowStep",
    "FlowThink",
    "FlowTracer",
    "FlowTransaction",
    "PollTimeout",
    "PollUnsent",
    "StepFailed",
    "compile_capture",
    "compile_captures",
    "compile_steps",
    "keep_aggregates_out_of_locust_total",
    "simple_json_path",
    "truthy",
]

AGGREGATE_TXN = "TXN"
"""The ``request_type`` a transaction is recorded with."""
AGGREGATE_POLL = "POLL"
"""The ``request_type`` a poll's total time is recorded with."""


class FlowTracer(Protocol):
    """What ``swarm try`` (or any caller) is shown of a flow as it runs.

    Every value is masked by the scenario's redactor before it gets here. ``step_path``
    locates the step in the scenario (``users[0].flow[2].steps[1]``).
    """

    def request(
        self,
        step_path: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: str | None,
    ) -> None:
        """A request is about to be sent, rendered."""

    def response(
        self,
        step_path: str,
        status: int,
        elapsed_ms: float,
        headers: Mapping[str, str],
        body: str,
    ) -> None:
        """Its response came (status 0: none, the connection failed or timed out)."""

    def capture(self, var: str, value: Any | None, source: str) -> None:
        """A capture ran: ``value`` is ``None`` when it found nothing (and had no default)."""

    def check(self, what: str, ok: bool, message: str | None) -> None:
        """A check ran (``what``: the request, poll or transaction name); ``message`` says
        why it failed."""

    def note(self, text: str) -> None:
        """Anything else worth a line: a think step, a repeat's end, a poll's wait."""


class StepFailed(Exception):
    """A transaction's failure: some step in it failed. Its text names the first one."""


class PollTimeout(Exception):
    """A poll's failure: its ``until`` did not hold within its ``timeout`` (kind ``timeout``)."""


class PollUnsent(Exception):
    """A poll's failure: its request's template could not be rendered, so polling again
    would only fail again until the timeout."""


# ----------------------------------------------------------------------------- captures


_NOTHING = object()


@dataclass(frozen=True)
class CompiledCapture:
    """One capture, compiled: ``extract(status, headers, document)`` gives its value or
    ``_NOTHING``. ``source`` says where it looks (``$.token``, ``header ETag``)."""

    var: str
    source: str
    extract: Callable[[int, Mapping[str, str], _Body], Any]
    default: Any = None
    has_default: bool = False
    reads_body: bool = False

    def value(self, status: int, headers: Mapping[str, str], body: _Body) -> Any:
        """The captured value, the default, or ``None`` when found nothing."""
        found = self.extract(status, headers, body)
        if found is _NOTHING:
            return self.default if self.has_default else None
        return found

    def message(self) -> str:
        """The failure message of a capture that found nothing."""
        return f"capture {self.var!r}: {self.source} found nothing"


class _Body:
    """A response body read once: its text and, on first use, its JSON."""

    __slots__ = ("_document", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._document: Any = _NOTHING

    @property
    def document(self) -> Any:
        """The parsed JSON, or ``_NOTHING`` when the body is not JSON."""
        if self._document is _NOTHING:
            try:
                self._document = json.loads(self.text)
            except ValueError:
                self._document = None
                return _NOTHING
        return self._document


def compile_capture(
    var: str,
    *,
    json_path: str | None = None,
    regex: str | None = None,
    header: str | None = None,
    status: bool = False,
    default: Any = None,
    has_default: bool = False,
) -> CompiledCapture:
    """Compile one capture (exactly one of ``json_path``, ``regex``, ``header``, ``status``).

    JSONPath (jsonpath-ng's extended syntax) takes the first match; a regex the first
    group of its first match (the whole match when it has no group); a header is found
    case-insensitively; the status is the code (nothing when no response came).

    >>> c = compile_capture("token", json_path="$.token")
    >>> c.value(200, {}, _Body('{"token": "t-1"}')), c.value(200, {}, _Body("{}"))
    ('t-1', None)
    """
    if json_path is not None:
        keys = simple_json_path(json_path)
        expression = parse_jsonpath(json_path) if keys is None else None

        def from_json(_status: int, _headers: Mapping[str, str], body: _Body) -> Any:
            document = body.document
            if document is _NOTHING:
                return _NOTHING
            if keys is not None:
                return _follow(document, keys)
            assert expression is not None
            matches = expression.find(document)
            return matches[0].value if matches else _NOTHING

        return CompiledCapture(var, json_path, from_json, default, has_default, True)
    if regex is not None:
        pattern = re.compile(regex)

        def from_regex(_status: int, _headers: Mapping[str, str], body: _Body) -> Any:
            match = pattern.search(body.text)
            if match is None:
                return _NOTHING
            return match.group(1) if pattern.groups else match.group(0)

        return CompiledCapture(var, f"regex {regex!r}", from_regex, default, has_default, True)
    if header is not None:
        wanted = header.lower()

        def from_header(_status: int, headers: Mapping[str, str], _body: _Body) -> Any:
            found = headers.get(header)  # a response's headers: any case
            if found is not None:
                return found
            for key, value in headers.items():  # a plain mapping
                if key.lower() == wanted:
                    return value
            return _NOTHING

        return CompiledCapture(var, f"header {header}", from_header, default, has_default)
    if status:

        def from_status(code: int, _headers: Mapping[str, str], _body: _Body) -> Any:
            return code if code else _NOTHING

        return CompiledCapture(var, "status", from_status, default, has_default)
    raise ValueError(f"capture {var!r}: give one of json, regex, header or status")


_SIMPLE_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\['([^'\\]*)'\]")


def simple_json_path(path: str) -> tuple[str | int, ...] | None:
    """The keys of a JSONPath that only names fields and indexes (``$.items[0].id``), else
    ``None``: such a path is followed in plain Python (~1 µs) instead of by jsonpath-ng
    (~30 µs), with the same first match.

    >>> simple_json_path("$.items[0]['the id']"), simple_json_path("$..id")
    (('items', 0, 'the id'), None)
    """
    if not path.startswith("$"):
        return None
    keys: list[str | int] = []
    at = 1
    while at < len(path):
        match = _SIMPLE_STEP.match(path, at)
        if match is None:
            return None
        field, index, quoted = match.groups()
        keys.append(int(index) if index is not None else (field if field is not None else quoted))
        at = match.end()
    return tuple(keys)


def _follow(document: Any, keys: tuple[str | int, ...]) -> Any:
    current = document
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, list) or not -len(current) <= key < len(current):
                return _NOTHING
        elif not isinstance(current, dict) or key not in current:
            return _NOTHING
        current = current[key]
    return current


_FALSE_WORDS = frozenset({"", "0", "false", "no", "none", "null", "off"})


def truthy(value: Any) -> bool:
    """Whether a rendered ``while`` / ``until`` holds: a template renders to text, so the
    words ``false``, ``0``, ``no``, ``none``, ``null``, ``off`` and the empty text are false.

    >>> truthy(True), truthy("False"), truthy("done"), truthy(0), truthy([])
    (True, False, True, False, False)
    """
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class FlowRequest:
    """A request step: its compiled request and captures."""

    path: str
    parts: RequestParts
    captures: tuple[CompiledCapture, ...] = ()
    reads_body: bool = field(init=False)
    """Whether its check or a capture reads the response body (decoding it costs)."""
    failed: str = field(init=False)
    """What a transaction around it fails with when it fails: ``step 'login' failed``."""

    def __post_init__(self) -> None:
        reads = self.parts.needs_body or any(c.reads_body for c in self.captures)
        object.__setattr__(self, "reads_body", reads)
        object.__setattr__(self, "failed", f"step {self.parts.name!r} failed")


@dataclass(frozen=True)
class FlowThink:
    """A pause; ``seconds()`` draws its length."""

    path: str
    seconds: Callable[[], float]


@dataclass(frozen=True)
class FlowRepeat:
    """``times`` passes, or while / until ``condition`` holds, at most ``max_passes``."""

    path: str
    steps: tuple[FlowStep, ...]
    times: int | None = None
    condition: Callable[[Mapping[str, Any]], Any] | None = None
    until: bool = False
    max_passes: int = 100


@dataclass(frozen=True)
class FlowPoll:
    """A request sent every ``every_s`` until ``until`` holds or ``timeout_s`` passes."""

    path: str
    name: str
    request: FlowRequest
    every_s: float
    timeout_s: float
    until: Callable[[int, str, float], str | None]


@dataclass(frozen=True)
class FlowTransaction:
    """Steps also timed as a whole and recorded as ``TXN`` under ``name``."""

    path: str
    name: str
    steps: tuple[FlowStep, ...]


FlowStep = FlowRequest | FlowThink | FlowRepeat | FlowPoll | FlowTransaction


# ----------------------------------------------------------------------------- running

_NO_HEADERS: Mapping[str, str] = {}


@dataclass(slots=True)
class _Frame:
    """An open transaction: when it started, the think time inside it, its first failure."""

    name: str
    started_perf: float
    started_at: float
    think_s: float = 0.0
    failure: str | None = None


@dataclass(slots=True)
class _Iteration:
    """The state of one run of steps: its variables, tracer and open transactions."""

    user: Any
    vars: dict[str, Any]
    tracer: FlowTracer | None
    frames: list[_Frame] = field(default_factory=list)
    due: float | None = None
    """An open-model arrival's due time (``perf_counter``): the first request and the whole
    flow are timed from it (their latency includes the arrival's lag); every later record
    from its own start, or step 3 would count steps 1 and 2 as its latency."""
    sent: bool = False

    def own_timing(self) -> None:
        """Time the next record from its own start (open model; nothing otherwise)."""
        if self.due is not None:
            self.user.swarm_due = time.perf_counter()

    def failed(self, what: str) -> None:
        for frame in self.frames:
            if frame.failure is None:
                frame.failure = what


class _EndIteration(Exception):
    """Raised inside a run to skip the rest of its steps."""


_Run = Callable[["_Iteration"], None]
"""A step, or a sequence of steps, compiled for one ``FlowRunner``: run it on an iteration."""
_RunRequest = Callable[["_Iteration"], bool]
"""A request step compiled: True when it succeeded (for a poll's request: ``until`` held)."""


class FlowRunner:
    """Runs compiled flow steps for one users entry.

    ``on_start`` runs once per user (its captures last for the user's life), ``flow`` once
    per iteration, already wrapped in the whole flow's transaction. ``sleep`` and ``clock``
    are gevent's and ``time.perf_counter`` unless a test passes its own.

    Each step becomes a closure here, once (``_compile``): its kind, request, captures,
    names and messages are bound when the runner is made, so an iteration runs a chain of
    plain calls, with no dispatch on the kind of step and no lookups of what was compiled.
    """

    def __init__(
        self,
        flow: Sequence[FlowStep],
        on_start: Sequence[FlowStep] = (),
        *,
        end_on_capture_failure: bool = True,
        redactor: Redactor | None = None,
        sleep: Callable[[float], None] = gevent.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.flow = tuple(flow)
        self.on_start = tuple(on_start)
        self.end_on_capture_failure = end_on_capture_failure
        self.redactor = redactor or Redactor()
        self._sleep = sleep
        self._clock = clock
        self._run_flow = self._compile(self.flow)
        self._run_on_start = self._compile(self.on_start)
        self.plain: PlainFlow | None = self._compile_plain(self.flow)
        """``self.flow`` as one function when it is plain (``_compile_plain``), else
        ``None``; ``run`` runs it for an untraced closed-model iteration."""

    def __repr__(self) -> str:
        return (
            f"FlowRunner({len(self.flow)} steps, {len(self.on_start)} on_start, "
            f"end_on_capture_failure={self.end_on_capture_failure})"
        )

    def run(
        self,
        user: Any,
        steps: Sequence[FlowStep],
        vars: dict[str, Any],
        tracer: FlowTracer | None = None,
    ) -> bool:
        """Run ``steps`` (``self.flow``, ``self.on_start``, or any part) for ``user``, top to
        bottom; captures are written into ``vars``. False when the iteration ended early
        (a capture found nothing, a poll timed out); the open transactions are then
        recorded as failed.

        ``user`` is a ``FastHttpUser`` of the compiled class (``client``, ``environment``,
        ``context()``, ``swarm_user_id``, ``swarm_rows``). ``self.flow`` and
        ``self.on_start`` were compiled with the runner; any other steps are compiled here.
        """
        if steps is self.flow:
            plain = self.plain
            if plain is not None and tracer is None and not getattr(user, "swarm_due", None):
                return plain(user, vars)
            body = self._run_flow
        elif steps is self.on_start:
            body = self._run_on_start
        else:
            body = self._compile(tuple(steps))
        state = _Iteration(user, vars, tracer, due=getattr(user, "swarm_due", None) or None)
        try:
            body(state)
        except _EndIteration:
            return False
        return True

    # -- compiling steps into closures

    def _compile(self, steps: Sequence[FlowStep]) -> _Run:
        """Steps run top to bottom, as one closure."""
        runs = tuple(self._compile_step(step) for step in steps)
        if len(runs) == 1:
            return runs[0]

        def run_steps(state: _Iteration) -> None:
            for run in runs:
                run(state)

        return run_steps

    def _compile_plain(self, flow: tuple[FlowStep, ...]) -> PlainFlow | None:
        """A plain flow written out as one function (``flow_source``), or ``None`` when
        ``flow`` is not plain.

        Plain is the common case: the whole flow's transaction around requests only (no
        think, repeat, poll or group; no request ``timeout`` or ``metrics``), run untraced
        in the closed model. Every other case, and ``swarm try``, runs the chain of
        closures; both record the same events (``tests/unit/locust_glue/test_flows.py``).
        """
        if len(flow) != 1 or not isinstance(flow[0], FlowTransaction):
            return None
        whole = flow[0]
        requests = [step for step in whole.steps if isinstance(step, FlowRequest)]
        plain = all(
            step.parts.timeout_s is None and step.parts.metrics is None for step in requests
        )
        if not requests or len(requests) != len(whole.steps) or not plain:
            return None
        return compile_plain_flow(
            whole.path,
            whole.name,
            [PlainRequest(step, self._compile_judges(step, None)[0]) for step in requests],
            end_on_missing=self.end_on_capture_failure,
            runtime={
                "clock": self._clock,
                "wall": time.time,
                "redact": self.redactor.text,
                "StepFailed": StepFailed,
                "TXN": AGGREGATE_TXN,
                "NOTHING": _NOTHING,
                "Body": _Body,
                "NO_BODY": _NO_BODY,
                "NO_HEADERS": _NO_HEADERS,
            },
        )

    def _compile_step(self, step: FlowStep) -> _Run:
        if isinstance(step, FlowRequest):
            return self._compile_request(step)  # its bool is for polls; a step ignores it
        if isinstance(step, FlowTransaction):
            return self._compile_transaction(step)
        if isinstance(step, FlowThink):
            return partial(self._think, step=step)
        if isinstance(step, FlowRepeat):
            return partial(self._repeat, step=step, body=self._compile(step.steps))
        if isinstance(step, FlowPoll):
            send = self._compile_request(step.request, poll_until=step.until)
            return partial(self._poll, step=step, send=send)
        raise TypeError(f"not a flow step: {step!r}")

    # -- steps

    def _think(self, state: _Iteration, step: FlowThink) -> None:
        seconds = max(0.0, step.seconds())
        if state.tracer is not None:
            state.tracer.note(f"think {seconds * 1000:.0f} ms")
        started = self._clock()
        self._sleep(seconds)
        waited = self._clock() - started
        for frame in state.frames:
            frame.think_s += waited

    def _compile_transaction(self, step: FlowTransaction) -> _Run:
        body, name, clock, wall = self._compile(step.steps), step.name, self._clock, time.time

        def transaction(state: _Iteration) -> None:
            frame = _Frame(name, clock(), wall())
            frames = state.frames
            frames.append(frame)
            try:
                body(state)
            except _EndIteration:
                frames.pop()
                self._end_transaction(state, frame)
                raise
            except BaseException:
                # the user is stopping (GreenletExit, StopUser): an unfinished transaction
                # is not recorded, as an unsent request is not
                frames.pop()
                raise
            frames.pop()
            self._end_transaction(state, frame)

        return transaction

    def _end_transaction(self, state: _Iteration, frame: _Frame) -> None:
        """Record a finished (or ended) transaction: its time without think steps."""
        elapsed_ms = max(0.0, (self._clock() - frame.started_perf - frame.think_s) * 1000)
        failure = StepFailed(frame.failure) if frame.failure is not None else None
        if state.due is None:  # closed model: every record is timed from its own start
            pass
        elif state.frames:
            state.own_timing()
        else:  # the whole flow of an arrival: from when it was due, think steps left out
            state.user.swarm_due = state.due + frame.think_s
        self._record(state, AGGREGATE_TXN, frame.name, elapsed_ms, frame.started_at, failure)

    def _repeat(self, state: _Iteration, step: FlowRepeat, body: _Run) -> None:
        limit = step.times if step.times is not None else step.max_passes
        for done in range(limit):
            checks_before = step.condition is not None and not step.until
            if checks_before and not truthy(self._condition(state, step)):
                return
            body(state)
            checks_after = step.condition is not None and step.until
            if checks_after and truthy(self._condition(state, step)):
                return
            if step.times is None and done + 1 == limit and state.tracer is not None:
                state.tracer.note(f"{step.path}: repeat stopped at max {limit} passes")

    def _condition(self, state: _Iteration, step: FlowRepeat) -> Any:
        assert step.condition is not None
        try:
            return step.condition(state.vars)
        except Exception as exc:  # a condition that cannot render ends the repeat, visibly
            message = f"{step.path}: condition failed: {exc}"
            state.failed(message)
            if state.tracer is not None:
                state.tracer.check(step.path, False, self.redactor.text(message))
            return not step.until

    def _poll(self, state: _Iteration, step: FlowPoll, send: _RunRequest) -> None:
        started, started_at = self._clock(), time.time()
        deadline = started + step.timeout_s
        failure: BaseException | None = None
        while True:
            try:
                outcome = send(state)
            except PollUnsent as exc:
                failure = exc
                break
            if outcome:
                break
            if self._clock() + step.every_s > deadline:
                failure = PollTimeout(f"'until' did not hold within {step.timeout_s:g} s")
                break
            if state.tracer is not None:
                state.tracer.note(f"{step.name}: not yet, again in {step.every_s:g} s")
            self._sleep(step.every_s)
        elapsed_ms = (self._clock() - started) * 1000
        state.own_timing()
        self._record(state, AGGREGATE_POLL, step.name, elapsed_ms, started_at, failure)
        if state.tracer is not None:
            state.tracer.check(step.name, failure is None, str(failure) if failure else None)
        if failure is not None:
            why = "timed out" if isinstance(failure, PollTimeout) else "could not send its request"
            state.failed(f"poll {step.name!r} {why}")
            raise _EndIteration

    # -- one request

    def _compile_request(
        self,
        step: FlowRequest,
        poll_until: Callable[[int, str, float], str | None] | None = None,
    ) -> _RunRequest:
        """One request step as a closure: render (or take the ready request), send, judge,
        capture; True when it succeeded (for a poll's request: when its ``until`` held).

        What the step is made of is bound here, once: the request's method, name, check,
        captures and its failure message; whether anything reads the body. The exchange
        (``exchange``) is the part a request ``timeout`` wraps.
        """
        parts = step.parts
        method, name, render, static = parts.method, parts.name, parts.render, parts.static
        redactor, end_on_missing = self.redactor, self.end_on_capture_failure
        judge, settle = self._compile_judges(step, poll_until)
        settles = poll_until is None and parts.metrics is None  # else only ``judge`` can

        def exchange(state: _Iteration, user: Any, url: str, kwargs: dict[str, Any]) -> _Outcome:
            """Send the request and judge its response: a load's in few steps (``settle``),
            a traced, polled or measured one every way (``judge``)."""
            with user.client.request(method, url, catch_response=True, **kwargs) as response:
                if settles and state.tracer is None:
                    return settle(response, state.vars)
                return judge(state.vars, state.tracer, response)

        if parts.timeout_s is not None:
            exchange = partial(self._exchange_within, step=step, exchange=exchange)

        def request(state: _Iteration) -> bool:
            user = state.user
            wait_while_paused(user.environment)
            if static is not None:  # nothing to render: the same pair every time
                url, kwargs = static
            else:
                try:
                    url, kwargs = render(user, state.vars)
                except TemplateRenderError as exc:
                    return self._unrendered(state, step, exc, poll_until)
            tracer = state.tracer
            if tracer is not None:
                self._trace_request(tracer, step, url, kwargs)
            if state.sent and state.due is not None:
                state.own_timing()
            state.sent = True
            failure, missing, until_held = exchange(state, user, url, kwargs)
            if failure is not None:
                state.failed(step.failed)
                if tracer is not None:
                    tracer.check(name, False, redactor.text(failure))
            elif tracer is not None:
                tracer.check(name, True, None)
            if missing and end_on_missing:
                raise _EndIteration
            return failure is None and (poll_until is None or until_held)

        return request

    def _compile_judges(
        self,
        step: FlowRequest,
        poll_until: Callable[[int, str, float], str | None] | None,
    ) -> tuple[_Judge, _Settle]:
        """How a response to ``step`` is judged and captured: ``judge`` decides every case
        (traced, polled, no response, Locust's own failure); ``settle`` is a load's path,
        which takes a response that came without Locust's own failure in few steps and
        hands anything else to ``judge``. Both return the step's ``_Outcome`` and write the
        captured values into ``vars``."""
        parts = step.parts
        check, metrics = parts.check, parts.metrics  # ``metrics:`` is ``None`` for most
        captures = step.captures
        body_captures = any(capture.reads_body for capture in captures)
        reads_body, watched = step.reads_body, poll_until is not None
        redactor = self.redactor

        def judge(vars: dict[str, Any], tracer: FlowTracer | None, response: Any) -> _Outcome:
            """A tuple, not an object, is returned: the common outcome, ``_SUCCEEDED``, is
            made once."""
            status = response.status_code or 0
            meta = response.request_meta
            if status and (reads_body or watched or tracer is not None):
                text = response.text or ""
            else:
                text = ""
            # not ``response.headers or ...``: the truth of geventhttpclient's Headers
            # counts every value (~2 µs a request)
            headers = response.headers if status else None
            if headers is None:
                headers = _NO_HEADERS
            if tracer is not None:
                tracer.response(
                    step.path,
                    status,
                    meta["response_time"],
                    # geventhttpclient's Headers: items() gives (name, value) pairs
                    redactor.value(dict(headers.items())),
                    redactor.text(text),
                )
            # Locust's own outcome (no response, an error status without a check) is
            # recorded as it is today, with its failure kind; ours only when it has none
            problem: str | None = None
            locusts = False
            if status == 0:
                exception = meta.get("exception")
                problem = f"no response: {type(exception).__name__}" if exception else "no response"
                locusts = True
            elif check is not None:
                problem = check(status, text, meta["response_time"])
            elif meta.get("exception") is not None:
                problem = f"status {status}"
                locusts = True
            missing = False
            if captures:
                body = _Body(text) if body_captures else _NO_BODY
                for capture in captures:
                    value = capture.extract(status, headers, body)  # capture.value, inline
                    if value is _NOTHING:
                        value = capture.default if capture.has_default else None
                    if tracer is not None:
                        shown = redactor.value(value) if value is not None else None
                        tracer.capture(capture.var, shown, capture.source)
                    if value is None:
                        missing = True
                        problem = problem or capture.message()
                    else:
                        vars[capture.var] = value
            if metrics is not None and status:
                metrics.record_parts(headers, response.content or b"")
            until_held = False
            if poll_until is not None and status:
                until_held = poll_until(status, text, meta["response_time"]) is None
            if locusts:
                return problem, missing, until_held
            if problem is None:
                if check is not None:  # it may pass a status Locust counts as an error
                    response.success()
                return _SUCCEEDED if not until_held else _UNTIL_HELD
            response.failure(redactor.text(problem))
            return problem, missing, until_held

        def settle(response: Any, vars: dict[str, Any]) -> _Outcome:
            status = response.status_code
            meta = response.request_meta
            if not status or (check is None and meta["exception"] is not None):
                return judge(vars, None, response)
            text = (response.text or "") if reads_body else ""
            failure = None if check is None else check(status, text, meta["response_time"])
            missing = False
            if captures:
                headers = response.headers
                if headers is None:
                    headers = _NO_HEADERS
                body = _Body(text) if body_captures else _NO_BODY
                for capture in captures:
                    value = capture.extract(status, headers, body)
                    if value is _NOTHING:
                        value = capture.default if capture.has_default else None
                    if value is None:
                        missing = True
                        failure = failure or capture.message()
                    else:
                        vars[capture.var] = value
            if failure is None:
                if check is not None:
                    response.success()
                return _SUCCEEDED
            response.failure(redactor.text(failure))
            return failure, missing, False

        return judge, settle

    def _unrendered(
        self,
        state: _Iteration,
        step: FlowRequest,
        exc: TemplateRenderError,
        poll_until: Callable[[int, str, float], str | None] | None,
    ) -> bool:
        """Record a request whose template failed as failed, unsent."""
        parts = step.parts
        template_failure(state.user, parts.method, parts.name, exc)
        state.failed(step.failed)
        if state.tracer is not None:
            state.tracer.check(parts.name, False, self.redactor.text(str(exc)))
        if poll_until is not None:
            raise PollUnsent(f"its request could not be rendered: {exc}") from None
        return False

    def _exchange_within(
        self,
        state: _Iteration,
        user: Any,
        url: str,
        kwargs: dict[str, Any],
        *,
        step: FlowRequest,
        exchange: Callable[[_Iteration, Any, str, dict[str, Any]], _Outcome],
    ) -> _Outcome:
        """``exchange`` under the request's ``timeout``: no response in time fails it."""
        parts = step.parts
        assert parts.timeout_s is not None
        started_perf, started_at = time.perf_counter(), time.time()
        try:
            with gevent.Timeout(parts.timeout_s, RequestTimeout):
                return exchange(state, user, url, kwargs)
        except RequestTimeout:
            fire_timeout(
                user, parts.method, parts.name, url, parts.timeout_s, started_perf, started_at
            )
            if state.tracer is not None:
                state.tracer.response(step.path, 0, parts.timeout_s * 1000, {}, "")
            return f"no response within {parts.timeout_s:g} s", False, False

    def _record(
        self,
        state: _Iteration,
        request_type: str,
        name: str,
        elapsed_ms: float,
        started_at: float,
        failure: BaseException | None,
    ) -> None:
        user = state.user
        user.client.request_event.fire(
            request_type=request_type,
            name=name,
            response_time=elapsed_ms,
            response_length=0,
            response=None,
            context=user.context(),
            exception=failure,
            start_time=started_at,
            url="",
        )
        if state.tracer is not None and request_type == AGGREGATE_TXN:
            state.tracer.check(name, failure is None, str(failure) if failure else None)

    def _trace_request(
        self, tracer: FlowTracer, step: FlowRequest, url: str, kwargs: Mapping[str, Any]
    ) -> None:
        if "json" in kwargs:
            body: str | None = json.dumps(kwargs["json"])
        elif "data" in kwargs:
            body = str(kwargs["data"])
        else:
            body = None
        redact = self.redactor
        tracer.request(
            step.path,
            step.parts.method,
            redact.text(url),
            redact.value(dict(kwargs.get("headers") or {})),
            redact.text(body) if body is not None else None,
        )


_Outcome = tuple[str | None, bool, bool]
"""What one request step came to: its failure, whether a capture found nothing, whether a
poll's ``until`` held."""
_Judge = Callable[[dict[str, Any], "FlowTracer | None", Any], _Outcome]
"""Judges a response every way (``vars``, the tracer, the response)."""
_Settle = Callable[[Any, dict[str, Any]], _Outcome]
"""Judges a load's response (the response, ``vars``)."""
_SUCCEEDED: _Outcome = (None, False, False)
_UNTIL_HELD: _Outcome = (None, False, True)
_NO_BODY = _Body("")
"""What captures that do not read the body are given for it."""


# ----------------------------------------------------------------------------- compiling


def think_seconds(
    fixed_ms: float | None, uniform_ms: tuple[float, float] | None
) -> Callable[[], float]:
    """A think step's length in seconds, drawn per pass (``uniform_ms``) or fixed."""
    if uniform_ms is not None:
        low, high = uniform_ms[0] / 1000, uniform_ms[1] / 1000
        return lambda: random.uniform(low, high)
    seconds = (fixed_ms or 0.0) / 1000
    return lambda: seconds


def compile_condition(text: str) -> Callable[[Mapping[str, Any]], Any]:
    """A ``while`` / ``until`` template, rendered against the flow's variables."""
    render = compile_value(text, native=True)
    return lambda vars: render({"vars": vars})


def compile_until(expect: Any, redactor: Redactor) -> Callable[[int, str, float], str | None]:
    """A poll's ``until`` (the ``expect`` format) as a check: ``None`` when it holds."""
    return compile_expect(expect, redactor)


def _field(model: Any, *names: str) -> Any:
    """The first of ``names`` the model has (a Python keyword is spelt with ``_``)."""
    for name in names:
        if hasattr(model, name):
            return getattr(model, name)
    return None


def compile_captures(captures: Sequence[Any]) -> tuple[CompiledCapture, ...]:
    """The ``capture:`` list of a request step (``framework.scenario.flows.Capture``)."""
    compiled = []
    for capture in captures:
        has_default = "default" in getattr(capture, "model_fields_set", ())
        compiled.append(
            compile_capture(
                capture.var,
                json_path=_field(capture, "json_path", "json_", "json"),
                regex=capture.regex,
                header=capture.header,
                status=bool(capture.status),
                default=capture.default,
                has_default=has_default or capture.default is not None,
            )
        )
    return tuple(compiled)


def compile_steps(
    steps: Sequence[Any],
    where: str,
    parts_for: Callable[[Any, str], RequestParts],
    redactor: Redactor,
) -> tuple[FlowStep, ...]:
    """Compile the scenario's steps (``framework.scenario.flows.Step``) found at ``where``
    (``users[0].flow``); ``parts_for(request, where)`` compiles one request as the
    compiler does for a weighted one."""
    from framework.scenario import flows as model  # P's models; until merged, at call time

    compiled: list[FlowStep] = []
    for i, step in enumerate(steps):
        at = f"{where}[{i}]"
        if isinstance(step, model.ThinkStep):
            think = step.think
            compiled.append(FlowThink(at, think_seconds(think.fixed_ms, think.uniform_ms)))
        elif isinstance(step, model.TransactionStep):
            inner = compile_steps(step.steps, f"{at}.steps", parts_for, redactor)
            compiled.append(FlowTransaction(at, step.transaction, inner))
        elif isinstance(step, model.RepeatStep):
            spec = step.repeat
            inner = compile_steps(step.steps, f"{at}.steps", parts_for, redactor)
            while_text = _field(spec, "while_", "while_condition", "while")
            until_text = spec.until
            text = while_text if while_text is not None else until_text
            compiled.append(
                FlowRepeat(
                    at,
                    inner,
                    times=spec.times,
                    condition=compile_condition(text) if text is not None else None,
                    until=until_text is not None,
                    max_passes=_field(spec, "max", "max_passes") or 100,
                )
            )
        elif isinstance(step, model.PollStep):
            spec = step.poll
            request = spec.request
            request_at = f"{at}.poll.request"
            parts = parts_for(request, request_at)
            name = step.name or f"{parts.name} (poll)"
            compiled.append(
                FlowPoll(
                    at,
                    name,
                    FlowRequest(request_at, parts, compile_captures(request.capture)),
                    every_s=float(spec.every),
                    timeout_s=float(spec.timeout),
                    until=compile_until(spec.until, redactor),
                )
            )
        else:
            parts = parts_for(step, at)
            compiled.append(FlowRequest(at, parts, compile_captures(step.capture)))
    return tuple(compiled)


def keep_aggregates_out_of_locust_total(environment: Any) -> None:
    """Make Locust's own statistics keep ``TXN`` and ``POLL`` rows out of their
    ``Aggregated`` row (the web UI's table, the console summary, the CSVs), as swarm's
    figures do: each keeps its own row. Call it on ``init`` in every process that runs users
    (a worker's total is what its master adds up)."""
    stats = environment.stats
    if getattr(stats, "swarm_aggregates_apart", False):
        return
    log_request, log_error = stats.log_request, stats.log_error

    def request_apart(method: str, name: str, response_time: int, content_length: int) -> None:
        if method in AGGREGATE_METHODS:
            stats.entries[(name, method)].log(response_time, content_length)
        else:
            log_request(method, name, response_time, content_length)

    def error_apart(method: str, name: str, error: Exception | str | None) -> None:
        if method not in AGGREGATE_METHODS:
            log_error(method, name, error)
            return
        stats.entries[(name, method)].log_error(error)  # as Locust does, but for the total
        key = StatsError.create_key(method, name, error)
        if key not in stats.errors:
            stats.errors[key] = StatsError(method, name, error)
        stats.errors[key].occurred()

    stats.log_request, stats.log_error = request_apart, error_apart
    stats.swarm_aggregates_apart = True
