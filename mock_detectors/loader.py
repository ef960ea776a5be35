"""Read a mock-detector YAML file into a ``MocksConfig``, or say exactly what is wrong.

Why not plain ``yaml.safe_load`` + ``model_validate``: a bare pydantic error gives a
location like ``('detectors', 'x', 'latency', 'uniform', 'max')``, which a person
must translate back into the file. ``framework.scenario.yaml_source`` remembers where every key
was written and ``framework.scenario.problems`` (both shared with the scenario loader)
follows pydantic's location back to it and lists the allowed keys, so each problem reads like
``detectors.yaml:14:7: detectors.x.latency.max: unknown field; did you mean 'max_ms'?
allowed: model, min_ms, max_ms`` — file, line, field path, and what is allowed.
All problems are reported in one pass (``DetectorConfigError.problems``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from framework.errors import DetectorConfigError, Problem
from framework.limits import YAML_BYTES, InputRefused, read_text
from framework.scenario.fields import shown
from framework.scenario.problems import allowed_keys, locate, problem_at, union_tags
from framework.scenario.yaml_source import Located, YamlSyntaxError, is_empty, load_located
from framework.suggestions import did_you_mean, nearest
from mock_detectors.config import MocksConfig

__all__ = ["DEFAULT_CONFIG_PATH", "DetectorConfigError", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("detectors.yaml")
"""The five ready profiles shipped with the package."""


def load_config(path: str | Path) -> MocksConfig:
    """Load and validate the file at ``path``; raise ``DetectorConfigError`` if unusable."""
    path = Path(path)
    try:
        text = read_text(path, YAML_BYTES)
    except InputRefused as exc:
        raise DetectorConfigError([Problem(str(path), None, None, "", str(exc))]) from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        message = (
            f"not UTF-8 text (byte {exc.start} cannot be decoded), so it looks binary; "
            "expected a YAML mapping with 'detectors'"
        )
        raise DetectorConfigError([Problem(str(path), line, None, "", message)]) from None
    except OSError as exc:
        raise DetectorConfigError(
            [Problem(str(path), None, None, "", f"cannot read the file: {exc.strerror}")]
        ) from None
    return parse_config(text, str(path))


def parse_config(text: str, filename: str = "<config>") -> MocksConfig:
    """Validate YAML ``text``; ``filename`` only labels the problems."""
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, column = exc.position or (None, None)
        raise DetectorConfigError([Problem(filename, line, column, "", str(exc))]) from None
    data = located.data
    if is_empty(located):  # nothing but comments and blank lines
        raise DetectorConfigError(
            [
                Problem(
                    filename,
                    1,
                    None,
                    "",
                    "the file is empty; expected a mapping with 'detectors'",
                )
            ]
        )
    if not isinstance(data, dict):
        raise DetectorConfigError(
            [
                Problem(
                    filename,
                    1,
                    1,
                    "",
                    f"expected a mapping with 'detectors' at the top, got {type(data).__name__}",
                )
            ]
        )
    try:
        return MocksConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, located, filename) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line is None, p.line or 0, p.column or 0))
        raise DetectorConfigError(problems) from None


def _problem(error: ErrorDetails, located: Located, filename: str) -> Problem:
    """Turn one pydantic error into a located, readable ``Problem``."""
    loc = tuple(error["loc"])
    path, _ = locate(located.data, loc, MocksConfig, _TAG)
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = allowed_keys(MocksConfig, loc[:-1], _TAG)
        message = f"unknown field {shown(loc[-1])}"
        near = nearest(str(loc[-1]), allowed)
        if near:
            message += f"; {did_you_mean([near])}"
        if allowed:
            message += f" allowed: {', '.join(allowed)}"
    elif kind == "missing":
        message = f"missing required field {loc[-1]!r}"
        path = path[:-1]
    elif kind == "union_tag_not_found":
        tags = error.get("ctx", {}).get("discriminator", f"{_TAG!r}")
        allowed = ", ".join(union_tags(MocksConfig, loc, _TAG))
        message = f"missing {tags}, which picks the kind; allowed: {allowed}"
    elif kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        discriminator = str(ctx.get("discriminator", "kind")).strip("'")
        message = f"unknown {discriminator} {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags')}"
    elif kind in _BOUNDS:
        bound = error.get("ctx", {}).get(_BOUNDS[kind][0])
        message = f"must be {_BOUNDS[kind][1]} {bound}, got {shown(error.get('input'))}"
    elif "input" in error and not isinstance(error["input"], dict | list) and "got " not in message:
        message += f" (got {shown(error['input'])})"
    return problem_at(filename, located, path, message, key=True)


_TAG = "model"
"""The key that picks a latency model (a discriminated union's member)."""

_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}
