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
from framework.scenario.templates import TemplateRenderError

if TYPE_CHECKING:
    from framework.locust_glue.compiler import RequestParts

__all__ = ["PlainRequest", "compile_plain_flow", "plain_flow_source"]

PlainFlow = Callable[[Any, dict[str, Any]], bool]
"""A plain flow compiled: run it for a user on its variables; False when it ended early."""


@dataclass(frozen=True)
class PlainRequest:
    """One request of a plain flow: its compiled parts and captures, the message its
    transaction fails with, and ``judge`` (``flows``' judge of every case) for a response
    that did not come or that Locust failed itself."""

    parts: RequestParts
    captures: tuple[Any, ...]
    """``flows.CompiledCapture``: ``var``, ``extract``, ``default``, ``has_default``,
    ``reads_body``, ``message()``."""
    reads_body: bool
    failed: str
    judge: Callable[[dict[str, Any], None, Any], tuple[str | None, bool, bool]]


def plain_flow_source(requests: Sequence[PlainRequest], *, end_on_missing: bool) -> str:
    """The source of ``run_plain(user, vars)`` for ``requests``, as ``compile_plain_flow``
    runs it (the names it reads are bound there)."""
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
        lines += _step_lines(index, request, end_on_missing)
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
    return "\n".join(lines) + "\n"


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
    source = plain_flow_source(requests, end_on_missing=end_on_missing)
    filename = f"<swarm plain flow {where}>"
    namespace: dict[str, Any] = {
        "__name__": __name__,
        **runtime,
        "txn_name": txn_name,
        "PAUSE_GATE": PAUSE_GATE,
        "TemplateRenderError": TemplateRenderError,
        "template_failure": template_failure,
    }
    for index, request in enumerate(requests):
        namespace.update(_step_names(index, request))
    exec(compile(source, filename, "exec"), namespace)  # our own source: no input in it
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    run_plain: PlainFlow = namespace["run_plain"]
    return run_plain


def _step_names(index: int, request: PlainRequest) -> dict[str, Any]:
    """The values step ``index`` reads, by their names in the source."""
    parts = request.parts
    prefix = f"s{index}_"
    names: dict[str, Any] = {
        "method": parts.method,
        "name": parts.name,
        "failed": request.failed,
        "judge": request.judge,
        "check": parts.check,
    }
    if parts.static is not None:
        url, kwargs = parts.static
        names["url"] = url
        names |= {f"kw_{key}": value for key, value in kwargs.items()}
    else:
        names["render"] = parts.render
    for number, capture in enumerate(request.captures):
        names |= {
            f"c{number}_extract": capture.extract,
            f"c{number}_default": capture.default if capture.has_default else None,
            f"c{number}_var": capture.var,
            f"c{number}_message": capture.message(),
        }
    return {prefix + key: value for key, value in names.items()}


def _step_lines(index: int, request: PlainRequest, end_on_missing: bool) -> list[str]:
    """Step ``index``: wait while paused, render, send, judge and capture."""
    parts, s = request.parts, f"s{index}_"
    lines = [
        f"        # step {index}",
        "        gate = getattr(environment, PAUSE_GATE, None)",
        "        if gate is not None and not gate.is_set():",
        "            gate.wait()",
    ]
    if parts.static is not None:
        url, keywords = f"{s}url", [f"{key}={s}kw_{key}" for key in parts.static[1]]
        depth = 8
    else:
        url, keywords = "url", [f'{key}=kwargs["{key}"]' for key in parts.keywords]
        depth = 12
        lines += [
            "        try:",
            f"            url, kwargs = {s}render(user, vars)",
            "        except TemplateRenderError as exc:",
            f"            template_failure(user, {s}method, {s}name, exc)",
            "            if failure is None:",
            f"                failure = {s}failed",
            "        else:",
        ]
    call = f"client.request({s}method, {url}, {', '.join(keywords)}, catch_response=True)"
    step = [f"with {call} as response:", *_judge_lines(s, request)]
    return lines + _indent(step + _after_lines(s, request, end_on_missing), depth)


def _judge_lines(s: str, request: PlainRequest) -> list[str]:
    """Inside the ``with``: the response judged and captured (``flows``' ``settle``)."""
    check = request.parts.check is not None
    captures = request.captures
    locusts = "not status" if check else 'not status or meta["exception"] is not None'
    lines = [
        "status = response.status_code",
        "meta = response.request_meta",
        f"if {locusts}:",
        f"    problem, missing, _held = {s}judge(vars, None, response)",
        "else:",
    ]
    body: list[str] = []
    reads_text = check or any(capture.reads_body for capture in captures)
    if reads_text:
        body.append('text = (response.text or "")' if request.reads_body else 'text = ""')
    body.append(
        f'problem = {s}check(status, text, meta["response_time"])' if check else "problem = None"
    )
    if captures:
        body += [
            "missing = False",
            "headers = response.headers",
            "if headers is None:",
            "    headers = NO_HEADERS",
            "body = Body(text)" if any(c.reads_body for c in captures) else "body = NO_BODY",
        ]
        for number, _capture in enumerate(captures):
            c = f"{s}c{number}_"
            body += [
                f"value = {c}extract(status, headers, body)",
                "if value is NOTHING:",
                f"    value = {c}default",
                "if value is None:",
                "    missing = True",
                "    if problem is None:",
                f"        problem = {c}message",
                "else:",
                f"    vars[{c}var] = value",
            ]
    if check or captures:  # else nothing can have failed it
        body += ["if problem is not None:", "    response.failure(redact(problem))"]
    if check:
        body += ["else:", "    response.success()"]
    return _indent(lines, 4) + _indent(body, 8)


def _after_lines(s: str, request: PlainRequest, end_on_missing: bool) -> list[str]:
    """After the ``with``: a failure is the transaction's; a missing capture may end it."""
    lines = ["if problem is not None:", "    if failure is None:", f"        failure = {s}failed"]
    if request.captures and end_on_missing:
        lines += ["    if missing:", "        completed = False", "        break"]
    return lines


def _indent(lines: list[str], spaces: int) -> list[str]:
    pad = " " * spaces
    return [pad + line for line in lines]
