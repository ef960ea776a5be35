"""Checks of a flow that span its steps: which ``vars`` a template may read, and names.

The models (``flows``) check each step on its own; what a step may read depends on what was
captured before it, and a transaction's name on every request's, so those checks walk the
whole users entry. ``var_problems`` walks the data as written (before, and whether or not,
the models validate), so an unknown variable is listed beside every other problem.

The rule a person can keep in their head: a template may read ``vars.NAME`` when a step
*written before it* captures ``NAME`` — in ``on_start``, earlier in the flow (inside a
repeat, a transaction or a poll too), never its own step or a later one. A repeat's
``while`` is tested before its steps, its ``until`` after them. The weighted ``requests``
run after the flow, so they read what on_start and the flow capture; headers of the
scenario or of a users entry are sent with every request, the first login too, so they
read none.

    >>> user = {"flow": [{"path": "/a/{{ vars.id }}"}, {"path": "/b", "capture": [
    ...     {"var": "id", "json": "$.id"}]}]}
    >>> [message for _path, message in var_problems({"users": [user]})]  # doctest: +ELLIPSIS
    ["{{ vars.id }}: no step before this one captures 'id'; nothing is captured before..."]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from framework.scenario.flows import (
    AGGREGATE_POLL,
    PollStep,
    RequestStep,
    TransactionStep,
    walk_steps,
)
from framework.scenario.model import Scenario
from framework.scenario.steps import FLOW_SECTIONS, step_kind
from framework.scenario.templates import request_template_fields, var_refs
from framework.scenario.yaml_source import KeyPath
from framework.suggestions import closest, did_you_mean

__all__ = ["SampleValue", "name_problems", "sample_vars", "var_problems"]

Problems = list[tuple[KeyPath, str]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _leaves(path: KeyPath, value: Any) -> Iterator[tuple[KeyPath, str]]:
    """Every string leaf of a field's value with its path (a json body's own keys)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves((*path, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves((*path, i), item)


def _unknown(name: str, available: list[str], where: str) -> str:
    close = closest(name, available)
    hint = f" ({did_you_mean(close)})" if close else ""
    if available:
        listing = f"captured before here: {', '.join(sorted(set(available)))}"
    else:
        listing = (
            "nothing is captured before here (a step's capture: [...] sets vars for the "
            "steps after it; on_start's, for the whole flow)"
        )
    return f"{{{{ vars.{name} }}}}: {where} captures {name!r}{hint}; {listing}"


def _check_fields(
    fields: list[tuple[KeyPath, Any]], available: list[str], where: str, problems: Problems
) -> None:
    for field_path, value in fields:
        for leaf_path, text in _leaves(field_path, value):
            for name in sorted(var_refs(text)):
                if name not in available:
                    problems.append((leaf_path, _unknown(name, available, where)))


def _captures(step: Mapping[str, Any], path: KeyPath, problems: Problems) -> list[str]:
    """The vars ``step`` captures, once each; a problem for a var captured twice in it."""
    names: list[str] = []
    for j, capture in enumerate(_list(step.get("capture"))):
        var = capture.get("var") if isinstance(capture, Mapping) else None
        if not isinstance(var, str):
            continue
        if var in names:
            first = names.index(var)
            problems.append(
                (
                    (*path, "capture", j, "var"),
                    f"var {var!r} is captured twice in this step (capture[{first}] too); a "
                    f"step stores one value per var: rename one",
                )
            )
            continue
        names.append(var)
    return names


_BEFORE = "no step before this one"


def _walk(steps: Any, base: KeyPath, available: list[str], problems: Problems) -> None:
    """Check the steps in the order they are written, adding each step's captures to
    ``available`` once its own templates are checked."""
    for i, step in enumerate(_list(steps)):
        kind = step_kind(step)
        path: KeyPath = (*base, i)
        if kind == "request":
            _check_fields(request_template_fields(step, path), available, _BEFORE, problems)
            available.extend(_captures(step, path, problems))
        elif kind == "poll":
            poll = step.get("poll")
            request = poll.get("request") if isinstance(poll, Mapping) else None
            if isinstance(request, Mapping):
                where = (*path, "poll", "request")
                _check_fields(request_template_fields(request, where), available, _BEFORE, problems)
                available.extend(_captures(request, where, problems))
        elif kind in ("repeat", "transaction"):
            spec = step.get("repeat") if kind == "repeat" else None
            spec = spec if isinstance(spec, Mapping) else {}
            if "while" in spec:
                field = [((*path, "repeat", "while"), spec["while"])]
                _check_fields(field, available, _BEFORE, problems)
            _walk(step.get("steps"), (*path, "steps"), available, problems)
            if "until" in spec:
                field = [((*path, "repeat", "until"), spec["until"])]
                _check_fields(field, available, "no step up to here", problems)


def var_problems(data: Mapping[str, Any]) -> Problems:
    """``(path, message)`` for each ``vars.NAME`` a template reads where nothing captured
    ``NAME`` before it (see the module's rule), and each var captured twice in one step."""
    problems: Problems = []
    headers = [(("headers", k), v) for k, v in _mapping(data.get("headers")).items()]
    for u, user in enumerate(_list(data.get("users"))):
        if not isinstance(user, Mapping):
            continue
        headers += [
            (("users", u, "headers", k), v) for k, v in _mapping(user.get("headers")).items()
        ]
        available: list[str] = []
        for section in FLOW_SECTIONS:
            _walk(user.get(section), ("users", u, section), available, problems)
        for r, request in enumerate(_list(user.get("requests"))):
            if isinstance(request, Mapping):
                fields = request_template_fields(request, ("users", u, "requests", r))
                _check_fields(fields, available, "no step of on_start or the flow", problems)
    for path, value in headers:
        for leaf_path, text in _leaves(path, value):
            if var_refs(text):
                problems.append(
                    (
                        leaf_path,
                        "headers of the scenario or of a users entry are sent with every "
                        "request, on_start's first one too, before anything is captured: "
                        "put a header that reads vars on the steps that send it",
                    )
                )
    return problems


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class SampleValue(str):
    """The sample a JSONPath capture without a default stands for in ``swarm validate``'s
    render check: its JSON type is not known until the target answers, so it passes for a
    string, a number (arithmetic gives itself) or an object (any attribute or item is
    itself), and only an error no value could avoid is reported."""

    __slots__ = ()

    def __getattr__(self, name: str) -> SampleValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> SampleValue:  # type: ignore[override]
        return self

    def _same(self, *_: Any) -> SampleValue:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same


def sample_vars(data: Mapping[str, Any]) -> dict[str, Any]:
    """A sample value for every var the scenario captures, for the render check: the
    capture's ``default`` where written, ``200`` for a status, a string for a regex or a
    header (what they give), a ``SampleValue`` for a JSONPath."""
    samples: dict[str, Any] = {}
    for user in _list(data.get("users")):
        if not isinstance(user, Mapping):
            continue
        for section in FLOW_SECTIONS:
            for step in _requests(user.get(section)):
                for capture in _list(step.get("capture")):
                    if not isinstance(capture, Mapping) or not isinstance(capture.get("var"), str):
                        continue
                    var = capture["var"]
                    if "default" in capture:
                        value: Any = capture["default"]
                    elif capture.get("status") is True:
                        value = 200
                    elif "json" in capture:
                        value = SampleValue(f"sample-{var}")
                    else:
                        value = f"sample-{var}"
                    samples.setdefault(var, value)
    return samples


def _requests(steps: Any) -> Iterator[Mapping[str, Any]]:
    for step in _list(steps):
        kind = step_kind(step)
        if kind == "request":
            yield step
        elif kind == "poll" and isinstance(step.get("poll"), Mapping):
            request = step["poll"].get("request")
            if isinstance(request, Mapping):
                yield request
        elif kind in ("repeat", "transaction"):
            yield from _requests(step.get("steps"))


def name_problems(scenario: Scenario) -> Problems:
    """``(path, message)`` for each transaction or poll whose name is also a request's
    (or a poll's also a transaction's): budgets, abort rules and comparisons pick figures
    by name, so one name must mean one thing."""
    requests: set[str] = set()
    transactions: set[str] = set()
    for user in scenario.users:
        requests |= {r.label for r in user.requests}
        if user.flow:
            transactions.add(user.flow_name or user.name)
        for section in FLOW_SECTIONS:
            for _path, step in walk_steps(getattr(user, section) or []):
                if isinstance(step, TransactionStep):
                    transactions.add(step.transaction)
                elif isinstance(step, RequestStep):
                    requests.add(step.label)
    problems: Problems = []
    for u, user in enumerate(scenario.users):
        if user.flow:
            name = user.flow_name or user.name
            if name in requests:
                key = "flow_name" if user.flow_name else "name"
                problems.append(
                    (
                        ("users", u, key),
                        f"the flow is recorded as a transaction named {name!r} (flow_name, "
                        f"default the users entry's name), which is also a request's name; "
                        f"one name must mean one thing: set flow_name to another",
                    )
                )
        for section in FLOW_SECTIONS:
            for path, step in walk_steps(getattr(user, section) or []):
                base = ("users", u, section, *path)
                if isinstance(step, TransactionStep) and step.transaction in requests:
                    problems.append(
                        (
                            (*base, "transaction"),
                            f"transaction {step.transaction!r} has the name of a request; "
                            f"one name must mean one thing: rename one",
                        )
                    )
                elif isinstance(step, PollStep):
                    label = step.label
                    clash = "a request" if label in requests else None
                    clash = clash or ("a transaction" if label in transactions else None)
                    if clash:
                        problems.append(
                            (
                                (*base, "name" if step.name else "poll"),
                                f"poll {label!r} ({AGGREGATE_POLL}) has the name of {clash}; "
                                f"one name must mean one thing: give the poll another name",
                            )
                        )
    return problems
