"""Read YAML into plain Python data while remembering where every value came from.

Pydantic reports problems by key path; people fix them by line and column. Walking
PyYAML's node tree (instead of ``safe_load``) lets us map each key path back to its place
in the file, so every error can say ``scenario.yaml:12:7``.

Parsing is bounded (``framework.limits``): nesting deeper than ``SWARM_MAX_YAML_DEPTH``
stops the parser where it happens, and a document whose values, ``*alias``es expanded,
number more than ``SWARM_MAX_YAML_VALUES`` (a "billion laughs" bomb) is refused from its
node graph before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from framework.limits import YAML_DEPTH, YAML_VALUES, InputRefused, Limit, excerpt

__all__ = ["Located", "Position", "YamlSyntaxError", "is_empty", "load_located"]

Position = tuple[int, int]
KeyPath = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data plus the 1-based (line, column) of each value and of each mapping key.

    ``origins`` marks the parts of ``data`` that came from the command line instead of the
    file (``--set load.users=50``): the key path where each was put, and the flag that put
    it there. A problem there is reported at that flag, not at a line of the file.
    """

    data: Any
    values: dict[KeyPath, Position] = field(default_factory=dict)
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)

    def origin(self, path: KeyPath) -> str | None:
        """The flag that set ``path`` or an ancestor of it (the nearest), else ``None``."""
        probe = tuple(path)
        while probe:
            if probe in self.origins:
                return self.origins[probe]
            probe = probe[:-1]
        return None

    def origins_below(self, path: KeyPath) -> list[str]:
        """The flags that set something strictly inside ``path``, in the order given."""
        probe = tuple(path)
        return [
            flag
            for at, flag in self.origins.items()
            if len(at) > len(probe) and at[: len(probe)] == probe
        ]

    def position(self, path: KeyPath, *, prefer_key: bool = False) -> Position | None:
        """The closest known place for ``path``: itself, else its nearest ancestor."""
        probe = tuple(path)
        while True:
            if prefer_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; carries the place PyYAML pointed at (``position``).

    Not a ``SwarmError``: the scenario, budgets and mock-detector loaders catch it and
    report it as one located ``Problem`` of their own error, beside the file's name that
    this module never sees.
    """

    def __init__(self, message: str, position: Position | None) -> None:
        self.position = position
        super().__init__(message)


def _mark(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    where = (mark.line + 1, mark.column + 1) if mark else None
    problem = exc.problem or str(exc)
    if exc.context and problem.startswith("but "):
        problem = f"{exc.context}; {problem}"
    return YamlSyntaxError(f"invalid YAML: {problem}", where)


def _position_of(text: str, index: int) -> Position:
    """The 1-based (line, column) of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _unreadable(text: str, exc: yaml.reader.ReaderError) -> YamlSyntaxError:
    """A character YAML does not allow, said plainly: a NUL byte means a binary file."""
    where = _position_of(text, exc.position) if isinstance(exc.position, int) else None
    if exc.character == 0:
        message = (
            "the file holds a NUL byte, so it looks like a binary file; expected YAML text (UTF-8)"
        )
    else:
        message = (
            f"control character U+{exc.character:04X} is not allowed in YAML text; remove "
            f'it, or write it as an escape inside double quotes ("\\x{exc.character:02x}")'
        )
    return YamlSyntaxError(message, where)


def is_empty(located: Located) -> bool:
    """Whether the text held no YAML document at all: nothing but blanks and comments."""
    return () not in located.values


def load_located(text: str, *, values_limit: Limit = YAML_VALUES) -> Located:
    """Parse one YAML document; an empty document becomes ``{}`` (see ``is_empty``).

    ``YamlSyntaxError`` when it is not YAML, or is past the depth or values limit (the
    message then names the limit and its variable). ``values_limit`` is the bound on values
    (``OPENAPI_VALUES`` for an API description, which is far larger than a scenario).
    """
    max_depth, max_values = YAML_DEPTH.value(), values_limit.value()
    _prescan(text, max_depth=max_depth, max_values=max_values, values_limit=values_limit)
    loader: _BoundedLoader | None = None
    try:
        try:
            loader = _BoundedLoader(
                text, max_depth=max_depth, max_values=max_values, values_limit=values_limit
            )
            root = loader.get_single_node()
            if root is not None:
                _check_expansion(
                    root, max_depth=max_depth, max_values=max_values, values_limit=values_limit
                )
        except yaml.reader.ReaderError as exc:
            raise _unreadable(text, exc) from None
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None
        except RecursionError:  # only with SWARM_MAX_YAML_DEPTH raised past Python's stack
            raise _refused(
                YAML_DEPTH.refusal("nested deeper than Python can parse"), None
            ) from None
        located = Located(data={})
        if root is None:
            return located
        try:
            built = _build(loader, root, (), located)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc) from None
        except RecursionError:  # as above
            raise _refused(
                YAML_DEPTH.refusal("nested deeper than Python can parse"), None
            ) from None
        located.data = {} if built is None else built
        return located
    finally:
        if loader is not None:
            loader.dispose()


def _prescan(text: str, *, max_depth: int, max_values: int, values_limit: Limit) -> None:
    """Refuse a document past the depth or values limit in milliseconds, with libyaml's
    event stream (when PyYAML has it), before the pure-Python parser that places every
    value spends up to a second reaching the same limit (it rescans ahead for simple keys).

    Only a refusal comes from here: where libyaml finds the text invalid, the Python
    parser's own message (which the tests and docs quote) is the one reported.
    """
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return
    try:
        scanner = c_loader(text)
    except yaml.YAMLError:
        return
    depth = values = 0
    try:
        while (event := scanner.get_event()) is not None:
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                continue
            if isinstance(event, yaml.NodeEvent):
                values += 1
                if values > max_values:
                    raise _too_many(max_values, _event_mark(event), values_limit)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise _too_deep(max_depth, _event_mark(event))
    except yaml.YAMLError:
        return
    finally:
        scanner.dispose()


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stopped where nesting passes ``max_depth`` or the values
    composed pass ``max_values``: before the composer's recursion reaches Python's limit,
    and before a huge document is held as nodes."""

    def __init__(self, text: str, *, max_depth: int, max_values: int, values_limit: Limit) -> None:
        super().__init__(text)
        self._values_limit = values_limit
        self._depth = 0
        self._composed = 0
        self._max_depth = max_depth
        self._max_values = max_values

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        self._depth += 1
        self._composed += 1
        at = _event_mark(event)
        try:
            if self._depth > self._max_depth and isinstance(event, yaml.CollectionStartEvent):
                raise _too_deep(self._max_depth, at)
            if self._composed > self._max_values:
                raise _too_many(self._max_values, at, self._values_limit)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _event_mark(event: yaml.Event) -> Position | None:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _refused(exc: InputRefused, position: Position | None) -> YamlSyntaxError:
    return YamlSyntaxError(str(exc), position)


def _too_deep(limit: int, position: Position | None, *, aliases: bool = False) -> YamlSyntaxError:
    expanded = " once its aliases are expanded" if aliases else ""
    return _refused(YAML_DEPTH.refusal(f"nested more than {limit} levels deep{expanded}"), position)


def _too_many(
    limit: int, position: Position | None, values_limit: Limit, *, aliases: bool = False
) -> YamlSyntaxError:
    found = f"holds more than {limit:,} values"
    if aliases:
        found = f"its aliases expand to more than {limit:,} values (an alias bomb?)"
    return _refused(values_limit.refusal(found), position)


def _check_expansion(
    root: yaml.Node, *, max_depth: int, max_values: int, values_limit: Limit
) -> None:
    """Refuse a node graph whose tree, aliases expanded, is deeper than ``max_depth`` or
    holds more than ``max_values`` values, or that contains itself (``&a [*a]``).

    Aliases share nodes, so each node's expanded size and height are computed once
    (memoised by identity): linear in the file, however far it would expand.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels of collections)
    active: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:  # depth: collections above
        if depth > max_depth:  # before recursing further
            raise _too_deep(max_depth, _mark(node), aliases=True)
        key = id(node)
        if key in measured:
            values, height = measured[key]
        elif key in active:
            raise YamlSyntaxError(
                "a YAML alias refers to a node that contains it (a recursive alias); "
                "swarm reads only finite documents",
                _mark(node),
            )
        else:
            active.add(key)
            values, height = 1, 0
            for child in _children(node):
                child_values, child_height = measure(child, depth + 1)
                values += child_values
                height = max(height, child_height)
                if values > max_values:
                    raise _too_many(max_values, _mark(node), values_limit, aliases=True)
            height += isinstance(node, yaml.CollectionNode)
            active.discard(key)
            measured[key] = (values, height)
        if depth + height > max_depth:
            raise _too_deep(max_depth, _mark(node), aliases=True)
        return values, height

    measure(root, 0)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A scalar (or a key) as PyYAML's safe constructor makes it; a value its tag cannot
    hold (``!!int abc``, ``2001-13-45``) is a located ``YamlSyntaxError``, not a traceback."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        value = excerpt(repr(node.value)) if isinstance(node, yaml.ScalarNode) else "value"
        reason = f" ({excerpt(str(exc))})" if str(exc) else ""
        raise YamlSyntaxError(
            f"invalid YAML: {value} is not a valid {node.tag.rsplit(':', 1)[-1]}{reason}",
            _mark(node),
        ) from None


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, out: Located) -> Any:
    out.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)
        merged = len(node.value) - explicit
        result: dict[Any, Any] = {}
        from_merge: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = _construct(loader, key_node)
            if not _hashable(key):
                raise YamlSyntaxError(
                    "invalid YAML: a mapping key must be a scalar", _mark(key_node)
                )
            if index < merged:
                if key in result:
                    continue  # with several merged mappings, the first one wins
                from_merge.add(key)
            elif key in result and key not in from_merge:
                raise YamlSyntaxError(f"duplicate key {excerpt(repr(key))}", _mark(key_node))
            else:
                from_merge.discard(key)
            child = (*path, key)
            out.keys[child] = _mark(key_node)
            result[key] = _build(loader, value_node, child, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), out) for i, item in enumerate(node.value)]
    return _construct(loader, node)
