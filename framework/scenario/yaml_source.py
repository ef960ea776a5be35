"""Read YAML into plain Python data while remembering where every value came from.

Pydantic reports problems by key path; people fix them by line and column. Walking
PyYAML's node tree (instead of ``safe_load``) lets us map each key path back to its place
in the file, so every error can say ``scenario.yaml:12:7``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Located", "Position", "YamlSyntaxError", "is_empty", "load_located"]

Position = tuple[int, int]
KeyPath = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data plus the 1-based (line, column) of each value and of each mapping key."""

    data: Any
    values: dict[KeyPath, Position] = field(default_factory=dict)
    keys: dict[KeyPath, Position] = field(default_factory=dict)

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


def load_located(text: str) -> Located:
    """Parse one YAML document; an empty document becomes ``{}`` (see ``is_empty``)."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise _unreadable(text, exc) from None
    try:
        root = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise _unreadable(text, exc) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None
    located = Located(data={})
    if root is None:
        return located
    try:
        built = _build(loader, root, (), located)
        located.data = {} if built is None else built
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    finally:
        loader.dispose()
    return located


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, out: Located) -> Any:
    out.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)
        merged = len(node.value) - explicit
        result: dict[Any, Any] = {}
        from_merge: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise YamlSyntaxError(
                    "invalid YAML: a mapping key must be a scalar", _mark(key_node)
                )
            if index < merged:
                if key in result:
                    continue  # with several merged mappings, the first one wins
                from_merge.add(key)
            elif key in result and key not in from_merge:
                shown = repr(key) if len(repr(key)) <= 60 else repr(key)[:57] + "..."
                raise YamlSyntaxError(f"duplicate key {shown}", _mark(key_node))
            else:
                from_merge.discard(key)
            child = (*path, key)
            out.keys[child] = _mark(key_node)
            result[key] = _build(loader, value_node, child, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), out) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
