"""Jinja2 templates in request fields, compiled once and rendered per request.

Plain strings (no ``{{`` or ``{%``) are returned as they are, so a scenario without
templates costs nothing per request. A JSON leaf that is exactly one ``{{ expression }}``
keeps the expression's type (``"{{ random_int(1, 9) }}"`` sends a number).

Helpers available in every template:
``random_id()`` (32 hex chars), ``random_int(a, b)``, ``random_text(n)``, ``choice(items)``,
``now()`` (ISO-8601 UTC), ``user_id`` (this simulated user's number), ``data.<file>.<column>``,
``vars.<name>`` (a value a flow step captured, ``framework.scenario.flows``).

The helpers check their arguments (``random_text`` makes at most ``MAX_RANDOM_TEXT``
characters, ``random_int`` needs whole numbers with ``a <= b``, ``choice`` a non-empty
list): written as literals they are checked when the scenario loads, otherwise the request
that passes a bad one fails as a template error.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from framework.scenario.datafiles import DataExhaustedError, DataSource
from framework.scenario.steps import FLOW_SECTIONS, raw_steps
from framework.scenario.yaml_source import KeyPath

__all__ = [
    "HELPERS",
    "MAPPING_TEMPLATE_KEYS",
    "MAX_RANDOM_TEXT",
    "REPEAT_TEMPLATE_KEYS",
    "REQUEST_TEMPLATE_KEYS",
    "RenderContext",
    "TemplateError",
    "TemplateRenderError",
    "compile_tree",
    "compile_value",
    "data_refs",
    "describe_render_error",
    "is_template",
    "reads_only_vars",
    "request_template_fields",
    "string_leaves",
    "template_fields",
    "var_refs",
    "vars_pieces",
]

_TEXT_ALPHABET = string.ascii_letters + string.digits + "      "
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)


MAX_RANDOM_TEXT = 1 << 20
"""Most characters ``random_text`` makes (1 MiB, the mock detectors' default body limit):
``random_text(1e8)`` once turned a 5 s plan into 34 s of making text."""
_MAX_INT = 2**63
"""``random_int`` bounds stay within what a JSON consumer reads as a 64-bit integer."""


def _whole(helper: str, name: str, value: Any) -> int:
    """``value`` as an ``int``: a whole number, not a bool; ``ValueError`` naming the helper."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{helper}: {name} must be a whole number, got {value!r}"[:200])
    if not -_MAX_INT <= value <= _MAX_INT:
        raise ValueError(f"{helper}: {name} must be within ±2**63, got {value:g}")
    return int(value)


def _random_text(n: Any) -> str:
    count = _whole("random_text(n)", "n", n)
    if not 0 <= count <= MAX_RANDOM_TEXT:
        raise ValueError(f"random_text(n): n must be 0..{MAX_RANDOM_TEXT} characters, got {count}")
    return "".join(random.choices(_TEXT_ALPHABET, k=count))


def _random_int(a: Any, b: Any) -> int:
    low, high = _whole("random_int(a, b)", "a", a), _whole("random_int(a, b)", "b", b)
    if high < low:
        raise ValueError(f"random_int(a, b): a must be <= b, got a={low}, b={high}")
    return random.randint(low, high)


def _choice(items: Any) -> Any:
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise ValueError(f"choice(items): items must be a non-empty list, got {items!r}"[:200])
    return random.choice(items)


def _random_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now(UTC).isoformat()


HELPERS: dict[str, Callable[..., Any]] = {
    "random_id": _random_id,
    "random_int": _random_int,
    "random_text": _random_text,
    "choice": _choice,
    "now": _now,
}
_USAGE = {
    "random_id": "no arguments: random_id()",
    "random_int": "two whole numbers: random_int(a, b)",
    "random_text": "one length: random_text(n)",
    "choice": "one list: choice(items)",
    "now": "no arguments: now()",
}
_CONTEXT_NAMES = frozenset({"user_id", "data", "vars"})


class TemplateError(ValueError):
    """A template does not compile or names something that does not exist.

    Not a ``SwarmError``: templates are compiled while the scenario loads, and the loader
    turns each one into a ``Problem`` of its ``ScenarioError`` at the template's line.
    """


class TemplateRenderError(Exception):
    """A request's template raised while rendering (``{{ 1 // 0 }}``, an unknown attribute,
    a ``unique`` data file with no row left): that request fails, unsent.

    Not a ``SwarmError``: raised per request inside a Locust task, where the compiler
    reports it to Locust as the request's failure (kind ``template`` in the timeline), so
    it is counted and shown in the report and the user's loop goes on.
    ``field`` names the request field (``"json"``, ``"headers.X-Id"``); the message is
    the field and the template's own error, never the rendered values.
    """

    def __init__(self, field: str, cause: BaseException) -> None:
        self.field = field
        super().__init__(f"template error in {field}: {describe_render_error(cause)}")


def describe_render_error(exc: BaseException) -> str:
    """One line for a template that failed to render: Jinja's own message for an undefined
    name or attribute, else the exception's class and message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, jinja2.UndefinedError | TemplateRenderError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
_ENV.globals.update(HELPERS)


REQUEST_TEMPLATE_KEYS = ("path", "body", "json")
"""Request fields that are one template each (``json`` one per string leaf)."""

MAPPING_TEMPLATE_KEYS = ("query", "headers")
"""Request fields whose every value is a template; scenario and users hold ``headers`` too."""

REPEAT_TEMPLATE_KEYS = ("while", "until")
"""A flow's ``repeat`` fields that are one template each (a condition)."""


def template_fields(data: Mapping[str, Any]) -> list[tuple[KeyPath, Any]]:
    """Every field of scenario data (as written, keys as in YAML) that may hold templates,
    with its key path: each header of the scenario, of a users entry and of a request, each
    query value, and a request's path, body and json; the same of every request step of
    ``on_start`` and ``flow`` (a poll's request too), and a repeat's ``while``/``until``.

    The loader compiles these to report template errors in place, and the compiler reads
    them to know which data files a user draws from; both take the fields from here, so a
    field that holds templates holds them for both.

    >>> template_fields({"headers": {"A": "x"}, "users": [{"requests": [{"path": "/p"}]}]})
    [(('headers', 'A'), 'x'), (('users', 0, 'requests', 0, 'path'), '/p')]
    """
    fields = _mapping_fields(data, ("headers",))
    for u, user in enumerate(_list(data.get("users"))):
        if not isinstance(user, Mapping):
            continue
        fields += _mapping_fields(user, ("users", u, "headers"))
        for r, req in enumerate(_list(user.get("requests"))):
            if isinstance(req, Mapping):
                fields += request_template_fields(req, ("users", u, "requests", r))
        for section in FLOW_SECTIONS:
            for path, kind, step in raw_steps(user.get(section), ("users", u, section)):
                if kind == "request":
                    fields += request_template_fields(step, path)
                elif kind == "repeat" and isinstance(step.get("repeat"), Mapping):
                    fields += [
                        ((*path, "repeat", key), value)
                        for key, value in step["repeat"].items()
                        if key in REPEAT_TEMPLATE_KEYS
                    ]
    return fields


def request_template_fields(request: Mapping[str, Any], base: KeyPath) -> list[tuple[KeyPath, Any]]:
    """The template fields of one request (or request step) as written at ``base``."""
    fields = [((*base, key), request[key]) for key in REQUEST_TEMPLATE_KEYS if key in request]
    for key in MAPPING_TEMPLATE_KEYS:
        fields += _mapping_fields(request, (*base, key))
    return fields


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping_fields(owner: Mapping[str, Any], path: KeyPath) -> list[tuple[KeyPath, Any]]:
    """``(path + (key,), value)`` for each entry of the mapping at ``owner[path[-1]]``."""
    mapping = owner.get(str(path[-1]))
    if not isinstance(mapping, Mapping):
        return []
    return [((*path, k), v) for k, v in mapping.items()]


def string_leaves(value: Any) -> list[str]:
    """Every string leaf of a JSON-like value (where templates can hide)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in string_leaves(item)]
    if isinstance(value, list):
        return [s for item in value for s in string_leaves(item)]
    return []


def is_template(text: str) -> bool:
    """Whether a string needs rendering at all."""
    return "{{" in text or "{%" in text


class _DataRows:
    """``data`` in templates: draws a row per file on first use within one request."""

    __slots__ = ("_claimed", "_drawn", "_sources")

    def __init__(self, sources: Mapping[str, DataSource], claimed: Mapping[str, dict[str, str]]):
        self._sources = sources
        self._claimed = claimed
        self._drawn: dict[str, dict[str, str]] = {}

    def __getattr__(self, name: str) -> dict[str, str]:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> dict[str, str]:
        if name in self._claimed:
            return self._claimed[name]
        if name not in self._drawn:
            if name not in self._sources:
                raise jinja2.UndefinedError(f"no data file named {name!r}")
            source = self._sources[name]
            if source.order == "unique":  # this user could not claim a row of its own
                raise DataExhaustedError(source.exhausted_message())
            self._drawn[name] = source.next_row()
        return self._drawn[name]


class RenderContext(dict):
    """The variables of one request's templates (a fresh one per request).

    ``vars`` are the values this simulated user's flow captured so far (``{{ vars.token }}``):
    the executor passes its live mapping, so a value captured by one step is read by the
    next; a name not in it fails the render as any undefined name does.
    """

    def __init__(
        self,
        *,
        user_id: int,
        sources: Mapping[str, DataSource],
        claimed: Mapping[str, dict[str, str]],
        vars: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            user_id=user_id, data=_DataRows(sources, claimed), vars={} if vars is None else vars
        )


Renderer = Callable[[RenderContext], Any]


def _key(node: nodes.Node) -> str | None:
    """The constant name read by ``x.name`` or ``x['name']``, else ``None``."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        value = node.arg.value
        return value if isinstance(value, str) else None
    return None


def _data_refs(parsed: nodes.Template) -> set[tuple[str, str | None]]:
    """``(file, column)`` pairs a template reads as ``data.<file>.<column>``; column may be None."""
    refs: set[tuple[str, str | None]] = set()
    seen_inner: set[int] = set()
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node
        if isinstance(inner, nodes.Getattr | nodes.Getitem):
            target = inner.node
            if isinstance(target, nodes.Name) and target.name == "data" and _key(inner):
                refs.add((_key(inner) or "", _key(node)))
                seen_inner.add(id(inner))
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "data" and id(node) not in seen_inner:
            name = _key(node)
            if name:
                refs.add((name, None))
    return refs


def data_refs(source: str) -> set[tuple[str, str | None]]:
    """The ``(data file, column)`` pairs a template string reads (empty for plain strings)."""
    if not is_template(source):
        return set()
    try:
        return _data_refs(_ENV.parse(source))
    except jinja2.TemplateSyntaxError:
        return set()


def var_refs(source: str) -> set[str]:
    """The captured variables a template string reads as ``vars.NAME`` or ``vars['NAME']``
    (empty for plain strings and for templates that do not parse).

    >>> sorted(var_refs("Bearer {{ vars.token }}/{{ vars['id'] }}"))
    ['id', 'token']
    """
    if not is_template(source):
        return set()
    try:
        parsed = _ENV.parse(source)
    except jinja2.TemplateSyntaxError:
        return set()
    return {
        name
        for node in parsed.find_all((nodes.Getattr, nodes.Getitem))
        if isinstance(node.node, nodes.Name)
        and node.node.name == "vars"
        and (name := _key(node)) is not None
    }


def _data_files_used(parsed: nodes.Template) -> set[str]:
    """Names of data files a template reads, as ``data.<name>`` or ``data['name']``."""
    return {name for name, _column in _data_refs(parsed)}


def _check_names(source: str, data_names: Sequence[str]) -> None:
    try:
        parsed = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None
    unknown = meta.find_undeclared_variables(parsed) - set(HELPERS) - _CONTEXT_NAMES
    if unknown:
        allowed = ", ".join(sorted([*HELPERS, *_CONTEXT_NAMES]))
        raise TemplateError(f"unknown template name(s) {sorted(unknown)}; allowed: {allowed}")
    _check_literal_calls(parsed)
    for name in sorted(_data_files_used(parsed)):
        if name not in data_names:
            known = ", ".join(data_names) or "none are declared under 'data:'"
            raise TemplateError(f"template uses data file {name!r}; known data files: {known}")


def _check_literal_calls(parsed: nodes.Template) -> None:
    """Call each helper whose arguments are all literals once, so ``random_text(1e8)`` or
    ``random_int(9, 1)`` is refused when the scenario loads, not per request."""
    for call in parsed.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name in HELPERS):
            continue
        if call.kwargs or call.dyn_args is not None or call.dyn_kwargs is not None:
            continue
        if not all(isinstance(arg, nodes.Const | nodes.List) for arg in call.args):
            continue
        try:
            args = [arg.as_const() for arg in call.args]
        except nodes.Impossible:
            continue
        try:
            HELPERS[call.node.name](*args)
        except TypeError:
            usage = _USAGE[call.node.name]
            raise TemplateError(
                f"{call.node.name} takes {usage}, got {len(args)} argument(s)"
            ) from None
        except ValueError as exc:
            raise TemplateError(str(exc)) from None


def _direct_call(expression: str) -> Renderer | None:
    """``helper(<literals>)`` as a plain Python call, else ``None`` (Jinja renders it).

    The same value without Jinja's per-render context and sandbox checks (~55 µs per
    request, most of a templated request's overhead). Only swarm's own ``HELPERS`` with
    literal arguments qualify, so there is nothing for the sandbox to guard.
    """
    body = _ENV.parse("{{" + expression + "}}").body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    call = body[0].nodes[0]
    if not (
        isinstance(call, nodes.Call)
        and isinstance(call.node, nodes.Name)
        and call.node.name in HELPERS
        and not call.kwargs
        and call.dyn_args is None
        and call.dyn_kwargs is None
        and all(isinstance(arg, nodes.Const) for arg in call.args)
    ):
        return None
    helper, args = HELPERS[call.node.name], tuple(arg.value for arg in call.args)
    return lambda _ctx: helper(*args)


_VARS_REF = re.compile(r"\{\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _var(ctx: Mapping[str, Any], name: str) -> Any:
    """``vars.<name>`` as Jinja reads it, with Jinja's own messages when it is not there."""
    try:
        found = ctx["vars"]
    except KeyError:
        raise jinja2.UndefinedError("'vars' is undefined") from None
    try:
        return found[name]
    except KeyError:
        raise jinja2.UndefinedError(f"'dict object' has no attribute '{name}'") from None


def vars_pieces(text: str) -> tuple[list[str], list[str]] | None:
    """The literal pieces and variable names of text whose only templates are
    ``{{ vars.NAME }}``, else ``None``: ``literals[0] names[0] literals[1] …``, one more
    literal than names. How such text renders: each name's value, formatted as by an
    f-string (``str`` when there are several), between its literals; a lone reference with
    blank literals keeps the value's type where the field is native (a JSON leaf).

    >>> vars_pieces("Bearer {{ vars.token }}"), vars_pieces("{{ vars.a | upper }}")
    ((['Bearer ', ''], ['token']), None)
    """
    pieces = _VARS_REF.split(text)
    literals, names = pieces[0::2], pieces[1::2]
    if not names or any("{{" in p or "{%" in p or "{#" in p for p in literals):
        return None
    return literals, names


def _direct_vars(text: str, native: bool) -> Renderer | None:
    """Text whose only templates are ``{{ vars.NAME }}`` (``"Bearer {{ vars.token }}"``) as
    plain Python, else ``None`` (Jinja renders it).

    The same value without a Jinja render (~20 µs per field): a flow passes captured values
    along in most of its requests, so this is most of a flow's own cost per request.
    """
    found = vars_pieces(text)
    if found is None:
        return None
    literals, names = found
    if len(names) == 1:  # the common "/items/{{ vars.id }}": one f-string, no join
        name = names[0]
        head, tail = literals
        if native and not head.strip() and not tail.strip():
            return lambda ctx: _var(ctx, name)
        return lambda ctx: f"{head}{_var(ctx, name)}{tail}"
    pairs = list(zip(literals, [*names, None], strict=True))

    def render(ctx: Mapping[str, Any]) -> str:
        parts = []
        for literal, name in pairs:
            parts.append(literal)
            if name is not None:
                parts.append(str(_var(ctx, name)))
        return "".join(parts)

    return render


def reads_only_vars(text: str) -> bool:
    """Whether ``text``'s renderer reads nothing but ``vars`` (a plain string reads nothing):
    a request whose fields all do can render from ``{"vars": ...}`` instead of building a
    whole ``RenderContext`` per request.

    >>> reads_only_vars("/items/{{ vars.id }}"), reads_only_vars("{{ data.users.name }}")
    (True, False)
    """
    if not is_template(text):
        return True
    single = _SINGLE_EXPRESSION.match(text)
    if single and _direct_call(single.group("expr")) is not None:
        return False
    return _direct_vars(text, native=False) is not None


def compile_value(text: str, *, native: bool = False, data_names: Sequence[str] = ()) -> Renderer:
    """Compile one string; ``native`` keeps the type of a lone ``{{ expression }}``."""
    if not is_template(text):
        return lambda _ctx: text
    _check_names(text, data_names)
    single = _SINGLE_EXPRESSION.match(text)
    direct = _direct_call(single.group("expr")) if single else None
    if direct is not None:
        return direct if native else (lambda ctx: str(direct(ctx)))
    fast = _direct_vars(text, native)
    if fast is not None:
        return fast
    if single and native:
        expression = _ENV.compile_expression(single.group("expr"), undefined_to_none=False)

        def render_native(ctx: RenderContext) -> Any:
            value = expression(**ctx)
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
            return value

        return render_native
    template = _ENV.from_string(text)
    return lambda ctx: template.render(ctx)


def compile_tree(value: Any, *, data_names: Sequence[str] = ()) -> tuple[Renderer, bool]:
    """Compile every string leaf of a JSON-like tree; also say whether any leaf is a template."""
    if isinstance(value, str):
        return compile_value(value, native=True, data_names=data_names), is_template(value)
    if isinstance(value, dict):
        parts = {k: compile_tree(v, data_names=data_names) for k, v in value.items()}
        if not any(dynamic for _, dynamic in parts.values()):
            return (lambda _ctx: value), False
        renderers = [(k, render) for k, (render, _) in parts.items()]
        return (lambda ctx: {k: render(ctx) for k, render in renderers}), True
    if isinstance(value, list):
        items = [compile_tree(v, data_names=data_names) for v in value]
        if not any(dynamic for _, dynamic in items):
            return (lambda _ctx: value), False
        return (lambda ctx: [render(ctx) for render, _ in items]), True
    return (lambda _ctx: value), False
