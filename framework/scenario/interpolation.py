"""``${VAR}`` and ``${VAR:-default}`` substitution from the environment, with redaction.

Values that come from the environment are treated as secrets (API keys, tokens): they are
used in requests, but every saved copy of the scenario shows ``${VAR}`` instead. Defaults
are written in the file, so they are not secret. Host fields are the one exception: the
target address is needed in reports, so it is kept, with any URL password masked.
Write ``$${`` for a literal ``${``.

Objects that hold resolved values (``Interpolated``, the scenario models, the loaded
scenario) show them through ``mask_secrets`` in their ``repr()``, so printing one in a
debugger, a log line or a traceback does not reveal a key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from framework.scenario.templates import string_leaves, template_fields

__all__ = [
    "MASK",
    "MIN_MASKED_CHARS",
    "SECRETS_KEY",
    "Interpolated",
    "MissingVariable",
    "Redactor",
    "interpolate",
    "mask_secrets",
    "mask_url_password",
    "secret_variables",
    "variable_names",
]

MASK = "***"
"""What a secret value is replaced with wherever it would be shown."""

# Shorter values are still never saved (copies show ``${VAR}``), but masking every "x" in
# a log would destroy it, so they are not searched for in free text.
MIN_MASKED_CHARS = 3

SECRETS_KEY = "secrets"
"""The scenario's top-level key listing further secret variables by name."""

_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _is_public(path: tuple[str | int, ...]) -> bool:
    """Only the target fields are public: the scenario's ``host`` and ``users[i].host``."""
    return path == ("host",) or (len(path) == 3 and path[0] == "users" and path[2] == "host")


KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class MissingVariable:
    """A reference to a variable that is unset and has no default."""

    path: KeyPath
    name: str


@dataclass
class Interpolated:
    """The data with variables resolved, a copy safe to save, and the secret values used.

    Its ``repr()`` shows ``resolved`` with the secrets masked and only how many there are.
    """

    resolved: Any
    redacted: Any
    secrets: set[str] = field(default_factory=set)
    missing: list[MissingVariable] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Interpolated(resolved={mask_secrets(self.resolved, self.secrets)!r}, "
            f"redacted={self.redacted!r}, secrets=<{len(self.secrets)} hidden>, "
            f"missing={self.missing!r})"
        )


def mask_secrets(value: Any, secrets: Collection[str]) -> Any:
    """``value`` with every secret inside its strings replaced by ``MASK``, for a repr.

    Walks dicts (values, not keys: keys are never substituted), lists and tuples; other
    values are returned as they are. Longer secrets go first, so a secret that contains
    another is masked whole.

    >>> mask_secrets({"Authorization": "Bearer s3cret"}, {"s3cret"})
    {'Authorization': 'Bearer ***'}
    """
    if not secrets:
        return value
    return Redactor(secrets).value(value)


class Redactor:
    """Replaces secret values by ``MASK`` in text, before the text is kept anywhere.

    One per process, built from the secrets the loader found; falsy when there is nothing
    to hide, so callers on a hot path can skip it. Longer secrets go first, so a secret
    that contains another is masked whole. Its ``repr()`` counts the secrets only.

    >>> Redactor({"s3cret"}).text("401: bad key s3cret")
    '401: bad key ***'
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Collection[str] = ()) -> None:
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds any secret value."""
        return any(secret in text for secret in self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret value replaced by ``MASK``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with secrets masked in its strings, walking dicts, lists and tuples."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        return value


def variable_names(text: str) -> set[str]:
    """The names of the ``${VAR}`` references in ``text`` (``$${`` escapes excluded).

    >>> sorted(variable_names("Bearer ${TOKEN}-${ENV:-dev} $${NOT}"))
    ['ENV', 'TOKEN']
    """
    return {m.group(1) for m in _REF.finditer(text) if m.group(1)}


def secret_variables(data: Any) -> frozenset[str]:
    """The variables of scenario ``data`` (as written) whose values are secrets.

    A variable is secret when a request sends it — it is referenced in a header (of the
    scenario, a users entry or a request), a request's path, a query value or a body — or
    when the scenario lists it under ``secrets:``. Everything else is configuration.

    >>> sorted(secret_variables({
    ...     "headers": {"X-Key": "${API_KEY}"},
    ...     "tags": {"build": "${BUILD_ID}"},
    ...     "secrets": ["TENANT"],
    ... }))
    ['API_KEY', 'TENANT']
    """
    if not isinstance(data, Mapping):
        return frozenset()
    names = {
        name
        for _path, value in template_fields(data)
        for text in string_leaves(value)
        for name in variable_names(text)
    }
    declared = data.get(SECRETS_KEY)
    if isinstance(declared, list):
        names.update(n for n in declared if isinstance(n, str))
    return frozenset(names)


def mask_url_password(url: str) -> str:
    """``http://u:pw@h/`` → ``http://u:***@h/``; other strings unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def interpolate(data: Any, env: Mapping[str, str]) -> Interpolated:
    """Resolve every ``${VAR}`` in the string leaves of ``data`` (keys are left alone).

    Only the variables of :func:`secret_variables` are secrets: their values are collected
    in ``secrets`` and shown as ``${VAR}`` in ``redacted``; other values are kept there as
    resolved. The ``secrets:`` list itself holds names, not references, and is not resolved.
    """
    out = Interpolated(resolved=None, redacted=None)
    secret_names = secret_variables(data)
    if isinstance(data, Mapping) and SECRETS_KEY in data:
        body = {k: v for k, v in data.items() if k != SECRETS_KEY}
        resolved, redacted = _walk(body, (), env, secret_names, out)
        out.resolved = {k: resolved.get(k, v) for k, v in data.items()}
        out.redacted = {k: redacted.get(k, v) for k, v in data.items()}
    else:
        out.resolved, out.redacted = _walk(data, (), env, secret_names, out)
    for name in secret_names:
        value = env.get(name)
        if value is not None and len(value) >= MIN_MASKED_CHARS:
            out.secrets.add(value)
    return out


def _walk(
    value: Any,
    path: KeyPath,
    env: Mapping[str, str],
    secret_names: frozenset[str],
    out: Interpolated,
) -> tuple[Any, Any]:
    if isinstance(value, dict):
        resolved, redacted = {}, {}
        for key, item in value.items():
            resolved[key], redacted[key] = _walk(item, (*path, key), env, secret_names, out)
        return resolved, redacted
    if isinstance(value, list):
        pairs = [_walk(item, (*path, i), env, secret_names, out) for i, item in enumerate(value)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if isinstance(value, str) and "$" in value:
        return _substitute(value, path, env, secret_names, out)
    if isinstance(value, str) and _is_public(path):
        return value, mask_url_password(value)
    return value, value


def _substitute(
    text: str,
    path: KeyPath,
    env: Mapping[str, str],
    secret_names: frozenset[str],
    out: Interpolated,
) -> tuple[str, str]:
    public = _is_public(path)
    resolved: list[str] = []
    redacted: list[str] = []
    last = 0
    for match in _REF.finditer(text):
        resolved.append(text[last : match.start()])
        redacted.append(text[last : match.start()])
        last = match.end()
        if match.group(0) == "$${":
            resolved.append("${")
            redacted.append("$${")
            continue
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is not None and (value != "" or default is None):
            resolved.append(value)
            if name in secret_names:
                redacted.append("${" + name + "}")
            else:
                redacted.append(value.replace("${", "$${"))
        elif default is not None:
            resolved.append(default)
            redacted.append(default)
        else:
            out.missing.append(MissingVariable(path, name))
            resolved.append("")
            redacted.append("${" + name + "}")
    resolved.append(text[last:])
    redacted.append(text[last:])
    final, saved = "".join(resolved), "".join(redacted)
    if public:
        saved = mask_url_password(saved)
        password = _url_password(final)
        if password and len(password) >= MIN_MASKED_CHARS:
            out.secrets.add(password)
    return final, saved
