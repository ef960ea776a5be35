"""A plain flow written out as Python source: one function of straight-line code.

A plain flow is the common case: the whole flow's transaction around requests only (no
think, repeat, poll or group; no request ``timeout`` or ``metrics``). A load runs it
millions of times, and at that scale the shape of the code is a cost: run as a chain of
closures (``flows.FlowRunner``), the same requests took ~5 % more of a load generator's CPU
per request than the hand-written ``FastHttpUser`` (benchmarks/README.md, *Flow with
captures*). Written out, each step is what a person would write: the pause check, the call
with its keywords spelled out, the check and the captures inline.

Nothing from the scenario enters the source. Every value (method, URL, names, check and
capture functions, messages) is bound in the function's namespace under a made-up name
(``s0_url``); the source holds only those names, indexes and fixed code. The source is
registered with ``linecache``, so a traceback through it shows its lines.

What each step does is what ``flows.FlowRunner``'s load path does, case by case; the unit
tests run both on the same steps and compare every record.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.locust_glue.control import PAUSE_GATE
from framework.locust_glue.sending import template_failure
from framework.scenario.templates import (
    TemplateRenderError,
    is_template,
    string_leaves,
    vars_pieces,
)

if TYPE_CHECKING:  # ``flows`` imports this module
    from framework.locust_glue.flows import FlowRequest

__all__ = ["PlainRequest", "compile_plain_flow", "plain_flow_source"]

PlainFlow = Callable[[Any, dict[str, Any]], bool]
"""A plain flow compiled: run it for a user on its variables; False when it ended early."""


@dataclass(frozen=True)
class PlainRequest:
    """One request of a plain flow: its step, and ``judge`` (``flows``' judge of every
    case) for a response that did not come or that Locust failed itself."""

    step: FlowRequest
    judge: Callable[[dict[str, Any], None, Any], tuple[str | None, bool, bool]]


def plain_flow_source(
    requests: Sequence[PlainRequest], *, end_on_missing: bool
) -> tuple[str, dict[str, Any]]:
    """The source of ``run_plain(user, vars)`` for ``requests``, and the values its steps
    read by name (``compile_plain_flow`` binds them, and the fixed names, around it)."""
    values: dict[str, Any] = {}
    lines = [
        "def run_plain(user, vars):",
        "    client = user.client",
        "    environment = user.environment",
        "    started_perf = clock()",
        "    started_at = wall()",
        "    failure = None",
        "    completed = True",
        "    while True:  # once: a capture that found nothing breaks out",
    ]
    for index, request in enumerate(requests):
        step = _Step(f"s{index}_", values)
        lines += step.lines(index, request, end_on_missing)
    lines += [
        "        break",
        "    client.request_event.fire(",
        "        request_type=TXN,",
        "        name=txn_name,",
        "        response_time=max(0.0, (clock() - started_perf) * 1000),",
        "        response_length=0,",
        "        response=None,",
        "        context=user.context(),",
        "        exception=None if failure is None else StepFailed(failure),",
        "        start_time=started_at,",
        '        url="",',
        "    )",
        "    return completed",
    ]
    return "\n".join(lines) + "\n", values


def compile_plain_flow(
    where: str,
    txn_name: str,
    requests: Sequence[PlainRequest],
    *,
    end_on_missing: bool,
    runtime: Mapping[str, Any],
) -> PlainFlow:
    """``requests`` as one function, recorded as the transaction ``txn_name``.

    ``runtime`` gives what the code reads from ``flows``: ``clock``, ``wall``, ``redact``,
    ``StepFailed``, ``TXN``, ``NOTHING``, ``Body``, ``NO_BODY``, ``NO_HEADERS``. ``where``
    (``users[0].flow``) names the source in tracebacks.
    """
    source, values = plain_flow_source(requests, end_on_missing=end_on_missing)
    filename = f"<swarm plain flow {where}>"
    namespace: dict[str, Any] = {
        "__name__": __name__,
        **runtime,
        "txn_name": txn_name,
        "PAUSE_GATE": PAUSE_GATE,
        "TemplateRenderError": TemplateRenderError,
        "template_failure": template_failure,
        **values,
    }
    exec(compile(source, filename, "exec"), namespace)  # our own source: no input in it
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    run_plain: PlainFlow = namespace["run_plain"]
    return run_plain


class _Step:
    """Writes one step, binding each value it reads under a name made of ``prefix``."""

    def __init__(self, prefix: str, values: dict[str, Any]) -> None:
        self.prefix, self.values = prefix, values
        self.constants = 0

    def bind(self, key: str, value: Any) -> str:
        """``value``'s name in the source."""
        name = self.prefix + key
        self.values[name] = value
        return name

    def constant(self, value: Any) -> str:
        """A value of the request as written, under a numbered name."""
        self.constants += 1
        return self.bind(f"v{self.constants - 1}", value)

    def lines(self, index: int, request: PlainRequest, end_on_missing: bool) -> list[str]:
        """Step ``index``: wait while paused, render, send, judge and capture."""
        parts = request.step.parts
        method, name = self.bind("method", parts.method), self.bind("name", parts.name)
        failed = self.bind("failed", request.step.failed)
        lines = [
            f"        # step {index}",
            "        gate = getattr(environment, PAUSE_GATE, None)",
            "        if gate is not None and not gate.is_set():",
            "            gate.wait()",
        ]
        if parts.static is not None:
            url, kwargs = parts.static
            url = self.bind("url", url)
            keywords = [f"{key}={self.bind('kw_' + key, value)}" for key, value in kwargs.items()]
            depth = 8
        else:
            url, keywords, depth = "url", [f"name={name}"], 12
            render = self.bind("render", parts.render)
            lines += ["        try:"]
            if parts.written is None:
                lines += [f"            url, kwargs = {render}(user, vars)"]
                keywords += [f'{key}=kwargs["{key}"]' for key in parts.keywords if key != "name"]
            else:
                lines += _indent(self._inline(render, parts.written), 12)
                keywords += [f"{key}=kw_{key}" for key in parts.written if key != "path"]
            lines += [
                "        except TemplateRenderError as exc:",
                f"            template_failure(user, {method}, {name}, exc)",
                "            if failure is None:",
                f"                failure = {failed}",
                "        else:",
            ]
        call = f"client.request({method}, {url}, {', '.join(keywords)}, catch_response=True)"
        step = [f"with {call} as response:", *_judge_lines(self, request)]
        return lines + _indent(step + _after_lines(failed, request, end_on_missing), depth)

    def _inline(self, render: str, written: Mapping[str, Any]) -> list[str]:
        """The request's fields rendered in place; a variable that is not there falls back
        to ``render``, which fails the request with the message it always gives."""
        fields = [key for key in written if key != "path"]
        lines = ["try:", f"    url = {self._text(written['path'], native=False)}"]
        for key in fields:
            native = key == "json"
            lines.append(f"    kw_{key} = {self._tree(written[key], native=native)}")
        lines += ["except KeyError:", f"    url, kwargs = {render}(user, vars)"]
        lines += [f'    kw_{key} = kwargs["{key}"]' for key in fields]
        return lines

    def _text(self, text: str, *, native: bool) -> str:
        """A string field: a constant, or its ``{{ vars.NAME }}`` references in place."""
        found = vars_pieces(text) if is_template(text) else None
        if found is None:
            return self.constant(text)
        literals, names = found
        values = [f"vars[{self.constant(name)}]" for name in names]
        if len(names) == 1:
            head, tail = literals
            if native and not head.strip() and not tail.strip():
                return values[0]  # a lone reference keeps the value's type
            return f'f"{{{self.constant(head)}}}{{{values[0]}}}{{{self.constant(tail)}}}"'
        pieces = [f"{{{self.constant(literals[0])}}}"]
        for value, literal in zip(values, literals[1:], strict=True):
            pieces += [f"{{{value}!s}}", f"{{{self.constant(literal)}}}"]
        return 'f"' + "".join(pieces) + '"'

    def _tree(self, value: Any, *, native: bool) -> str:
        """A header map or body: the parts without templates as they are (one object, as
        ``compile_tree`` keeps them), the rest built anew each time."""
        if not any(is_template(text) for text in string_leaves(value)):
            return self.constant(value)
        if isinstance(value, str):
            return self._text(value, native=native)
        if isinstance(value, dict):
            items = [
                f"{self.constant(k)}: {self._tree(v, native=native)}" for k, v in value.items()
            ]
            return "{" + ", ".join(items) + "}"
        assert isinstance(value, list)
        return "[" + ", ".join(self._tree(item, native=native) for item in value) + "]"


def _judge_lines(step: _Step, request: PlainRequest) -> list[str]:
    """Inside the ``with``: the response judged and captured (``flows``' ``settle``)."""
    check = request.step.parts.check is not None
    captures = request.step.captures
    judge = step.bind("judge", request.judge)
    locusts = "not status" if check else 'not status or meta["exception"] is not None'
    lines = [
        "status = response.status_code",
        "meta = response.request_meta",
        f"if {locusts}:",
        f"    problem, missing, _held = {judge}(vars, None, response)",
        "else:",
    ]
    body: list[str] = []
    reads_text = check or any(capture.reads_body for capture in captures)
    if reads_text:
        body.append('text = (response.text or "")' if request.step.reads_body else 'text = ""')
    if check:
        checked = step.bind("check", request.step.parts.check)
        body.append(f'problem = {checked}(status, text, meta["response_time"])')
    else:
        body.append("problem = None")
    if captures:
        body += [
            "missing = False",
            "headers = response.headers",
            "if headers is None:",
            "    headers = NO_HEADERS",
            "body = Body(text)" if any(c.reads_body for c in captures) else "body = NO_BODY",
        ]
        for number, capture in enumerate(captures):
            c = f"c{number}_"
            default = capture.default if capture.has_default else None
            body += [
                f"value = {step.bind(c + 'extract', capture.extract)}(status, headers, body)",
                "if value is NOTHING:",
                f"    value = {step.bind(c + 'default', default)}",
                "if value is None:",
                "    missing = True",
                "    if problem is None:",
                f"        problem = {step.bind(c + 'message', capture.message())}",
                "else:",
                f"    vars[{step.bind(c + 'var', capture.var)}] = value",
            ]
    if check or captures:  # else nothing can have failed it
        body += ["if problem is not None:", "    response.failure(redact(problem))"]
    if check:
        body += ["else:", "    response.success()"]
    return _indent(lines, 4) + _indent(body, 8)


def _after_lines(failed: str, request: PlainRequest, end_on_missing: bool) -> list[str]:
    """After the ``with``: a failure is the transaction's; a missing capture may end it."""
    lines = ["if problem is not None:", "    if failure is None:", f"        failure = {failed}"]
    if request.step.captures and end_on_missing:
        lines += ["    if missing:", "        completed = False", "        break"]
    return lines


def _indent(lines: list[str], spaces: int) -> list[str]:
    pad = " " * spaces
    return [pad + line for line in lines]
