"""An OpenAPI document → the text of a smoke scenario with one request per operation.

What each operation becomes (docs/openapi.md says it for users):

- ``name``: the ``operationId``, else ``METHOD path``;
- ``path``: the server's base path is in ``host``; each path parameter is a template of its
  sample value (``/pets/{{ 42 }}``), ready to be replaced by ``{{ data.pets.id }}`` or a
  captured ``{{ vars.id }}``;
- required query, header and cookie parameters with sample values;
- the body: the media type's example, else one generated from its schema
  (``framework.scenario.samples``); JSON as ``json:``, a form or text as ``body:`` with its
  ``Content-Type``. An operation whose required body is of another type (multipart,
  binary, XML) cannot be written and is skipped with a warning;
- security: the operation's (or the document's) first requirement whose schemes all have
  a header form: ``apiKey`` in a header, query or cookie, ``http`` bearer and basic, and
  OAuth 2 / OpenID Connect as a bearer token, each value a ``${VAR}`` named after the
  scheme (so a secret, never written anywhere). Where the document allows no
  authentication (``{}``) the header is left as a comment;
- ``expect: {status: ...}``: the first documented 2xx (``2XX`` as ``2xx``).

The scenario aims at ``${TARGET_URL:-<servers[0]>}`` with a smoke load: 3 users for 1 min.
Pure: no file is read or written here (``framework.cli`` validates and writes the text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import yaml
from jsonschema_path import SchemaPath

from framework.scenario.openapi_source import OpenApiDocument
from framework.scenario.samples import sample_value, written_example

__all__ = [
    "DEFAULT_TARGET",
    "SMOKE_LOAD",
    "GeneratedScenario",
    "Skipped",
    "scenario_from_openapi",
    "slug",
]

DEFAULT_TARGET = "http://localhost:8080"
"""The target of a document without an absolute ``servers[0].url``."""
SMOKE_LOAD = {"shape": "constant", "users": 3, "spawn_rate": 3, "duration": "1m"}
"""A smoke load: enough to see every request answer, too little to load anything."""
_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SENT_AS_FORM = "application/x-www-form-urlencoded"
_SKIPPED_HEADERS = {"accept", "content-type", "authorization"}  # OpenAPI ignores these


@dataclass(frozen=True)
class Skipped:
    """An operation (``METHOD path``, its ``name``) that could not become a request."""

    operation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.operation}: skipped, {self.reason}"


@dataclass(frozen=True)
class GeneratedScenario:
    """The scenario's YAML ``text``; the request names in order; the ``${VAR}``s its
    security needs (``secrets``, set them before a run); what was ``skipped`` and other
    ``notes`` for the person who runs ``swarm init``."""

    text: str
    names: tuple[str, ...]
    secrets: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Request:
    data: dict[str, Any]
    comment: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """``"Mock Detectors API"`` → ``"mock-detectors-api"``: a scenario and file name."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:80].rstrip("-") or "api"


def scenario_from_openapi(document: OpenApiDocument, *, source: str) -> GeneratedScenario:
    """The scenario for ``document``; ``source`` is the document as the user named it (in
    the header comment)."""
    builder = _Builder(document)
    requests = list(builder.requests())
    if not requests:
        reasons = "; ".join(str(s) for s in builder.skipped) or "the document has no paths"
        builder.notes.append(f"no operation could be made into a request ({reasons})")
    text = _render(document, source, builder, requests)
    return GeneratedScenario(
        text=text,
        names=tuple(r.data["name"] for r in requests),
        secrets=tuple(builder.secrets),
        skipped=tuple(builder.skipped),
        notes=tuple(builder.notes),
    )


class _Builder:
    """Walks the document's operations; collects secrets, skips and notes on the way."""

    def __init__(self, document: OpenApiDocument) -> None:
        self.document = document
        self.root = document.root
        self.secrets: dict[str, None] = {}
        self.skipped: list[Skipped] = []
        self.notes: list[str] = []
        self.host = self._server()

    def requests(self) -> Iterator[_Request]:
        paths = self.document.data.get("paths") or {}
        for path in paths:
            item = self.root / "paths" / path
            with item.open() as contents:
                methods = [m for m in _OPERATIONS if isinstance(contents, dict) and m in contents]
            for method in methods:
                operation = item / method
                label = f"{method.upper()} {path}"
                try:
                    yield self._request(path, method, item, operation)
                except _CannotSend as exc:
                    self.skipped.append(Skipped(label, str(exc)))

    def _server(self) -> str:
        servers = self.document.data.get("servers") or []
        if not servers:
            self.notes.append(
                f"the document names no servers: the scenario aims at {DEFAULT_TARGET} "
                "unless TARGET_URL is set"
            )
            return DEFAULT_TARGET
        server = servers[0]
        url = str(server.get("url", ""))
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        url = url.rstrip("/")
        if re.match(r"^https?://[^/\s]+", url):
            return url
        self.notes.append(
            f"servers[0] is {url or '/'!r}, not an absolute http(s) URL: the scenario aims "
            f"at {DEFAULT_TARGET}{url} unless TARGET_URL is set"
        )
        return DEFAULT_TARGET + url

    def _request(self, path: str, method: str, item: SchemaPath, operation: SchemaPath) -> _Request:
        with operation.open() as contents:
            op = dict(contents)
        if method == "trace":
            raise _CannotSend("swarm sends GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS")
        name = op.get("operationId") or f"{method.upper()} {path}"
        request: dict[str, Any] = {"name": name, "method": method.upper()}
        comment = [line for line in [_one_line(op.get("summary"))] if line]
        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        cookies: list[str] = []
        rendered_path = _literal(path)
        for where, pname, node in self._parameters(item, operation):
            if where == "path":
                value = _parameter_value(node)
                rendered_path = rendered_path.replace("{" + pname + "}", _path_template(value))
                continue
            with node.open() as parameter:
                if not parameter.get("required"):
                    continue
            value = _parameter_value(node)
            if where == "query":
                query[pname] = _query_value(value)
            elif where == "header" and pname.lower() not in _SKIPPED_HEADERS:
                headers[pname] = _literal(_text(value))
            elif where == "cookie":
                cookies.append(f"{pname}={_text(value)}")
        request["path"] = rendered_path
        auth_query, auth_headers, auth_cookies, auth_comment = self._security(op)
        query.update(auth_query)
        headers.update(auth_headers)
        cookies.extend(auth_cookies)
        comment.extend(auth_comment)
        body = self._body(operation, op)
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        if body is not None:
            kind, value, content_type = body
            if content_type:
                headers["Content-Type"] = content_type
            request[kind] = value
        if query:
            request["query"] = query
        if headers:
            request["headers"] = headers
        status = _documented_status(op.get("responses") or {})
        if status is not None:
            request["expect"] = {"status": status}
        else:
            comment.append("no 2xx answer is documented: any status below 400 passes")
        return _Request(request, comment)

    def _parameters(
        self, item: SchemaPath, operation: SchemaPath
    ) -> Iterator[tuple[str, str, SchemaPath]]:
        """Path-level parameters overridden by the operation's, by (name, in)."""
        found: dict[tuple[str, str], SchemaPath] = {}
        for owner in (item, operation):
            with owner.open() as contents:
                count = len(contents.get("parameters") or [])
            for index in range(count):
                node = owner / "parameters" / index
                with node.open() as parameter:
                    found[(str(parameter.get("in")), str(parameter.get("name")))] = node
        for (where, name), node in found.items():
            yield where, name, node

    def _security(
        self, op: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, str], list[str], list[str]]:
        """The first requirement that can be sent: (query, headers, cookies, comment)."""
        requirements = op.get("security", self.document.data.get("security")) or []
        schemes = (self.document.data.get("components") or {}).get("securitySchemes") or {}
        optional = any(not requirement for requirement in requirements)
        for requirement in requirements:
            if not requirement:
                continue
            parts = [_scheme_parts(name, self._scheme(name, schemes)) for name in requirement]
            sendable = [part for part in parts if part is not None]
            if len(sendable) < len(parts):
                continue
            if optional:
                shown = ", ".join(
                    f"{where} {key}: {value}" if where != "header" else f"{key}: {value!r}"
                    for where, key, value, _ in sendable
                )
                note = f"authentication is optional here; to send it, add headers: {{{shown}}}"
                if any(where != "header" for where, *_ in sendable):
                    note = f"authentication is optional here; to send it: {shown}"
                return {}, {}, [], [note]
            query: dict[str, str] = {}
            headers: dict[str, str] = {}
            cookies: list[str] = []
            for where, key, value, variable in sendable:
                self.secrets[variable] = None
                if where == "query":
                    query[key] = value
                elif where == "cookie":
                    cookies.append(f"{key}={value}")
                else:
                    headers[key] = value
            return query, headers, cookies, []
        if requirements and not optional:
            names = ", ".join(sorted({n for r in requirements for n in r}))
            self.notes.append(
                f"{op.get('operationId') or 'an operation'}: security {names} has no header "
                "form swarm can send (mutual TLS, HTTP digest): the request goes without it"
            )
        return {}, {}, [], []

    def _scheme(self, name: str, schemes: dict[str, Any]) -> dict[str, Any]:
        if name not in schemes:
            return {}
        with (self.root / "components" / "securitySchemes" / name).open() as scheme:
            return dict(scheme)

    def _body(self, operation: SchemaPath, op: dict[str, Any]) -> tuple[str, Any, str] | None:
        """(``json`` or ``body``, the value, a ``Content-Type`` to send or ``""``)."""
        if "requestBody" not in op:
            return None
        body = operation / "requestBody"
        with body.open() as contents:
            required = bool(contents.get("required"))
            media_types = list(contents.get("content") or {})
        chosen = _media_type(media_types)
        if chosen is None:
            if required:
                raise _CannotSend(
                    f"its request body is {', '.join(media_types) or 'of no media type'}; "
                    "swarm writes JSON, form (application/x-www-form-urlencoded) and text bodies"
                )
            return None
        media = body / "content" / chosen
        value = written_example(media)
        if value is None:
            with media.open() as contents:
                has_schema = "schema" in contents
            value = sample_value(media / "schema") if has_schema else None
        if value is None:
            return None
        if _is_json(chosen):
            content_type = "" if chosen == "application/json" else chosen
            return "json", _escaped(value), content_type
        if chosen == _SENT_AS_FORM:
            fields = value if isinstance(value, dict) else {"value": value}
            text = urlencode({k: _text(v) for k, v in fields.items()})
            return "body", _literal(text), chosen
        return "body", _literal(_text(value)), chosen


class _CannotSend(Exception):
    """An operation has no request swarm can write (the reason is the message)."""


def _scheme_parts(name: str, scheme: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """(where, key, value, variable) of one security scheme, or ``None`` if it has no form
    swarm can send."""
    variable = _variable(name)
    kind = scheme.get("type")
    if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
        return str(scheme["in"]), str(scheme.get("name")), "${" + variable + "}", variable
    if kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        if http == "bearer":
            return "header", "Authorization", "Bearer ${" + variable + "}", variable
        if http == "basic":
            return "header", "Authorization", "Basic ${" + variable + "}", variable
        return None
    if kind in ("oauth2", "openIdConnect"):
        return "header", "Authorization", "Bearer ${" + variable + "}", variable
    return None


def _variable(name: str) -> str:
    """A scheme's name as an environment variable: ``bearerAuth`` → ``BEARER_AUTH``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    text = re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper()
    return text if re.match(r"^[A-Z_]", text) else f"API_{text}"


def _media_type(media_types: list[str]) -> str | None:
    """JSON first (any ``+json``, ``*/*``), then a form, then text."""
    for test in (
        lambda m: m == "application/json",
        _is_json,
        lambda m: m == _SENT_AS_FORM,
        lambda m: m.startswith("text/"),
    ):
        for media in media_types:
            if test(media.split(";")[0].strip().lower()):
                return media
    return None


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base in ("application/json", "*/*", "application/*") or base.endswith("+json")


def _documented_status(responses: dict[str, Any]) -> int | str | None:
    codes = sorted(str(code) for code in responses if str(code).startswith("2"))
    exact = [code for code in codes if code.isdigit()]
    if exact:
        return int(exact[0])
    return "2xx" if codes else None


def _parameter_value(node: SchemaPath) -> Any:
    """A parameter's example, else its schema's (or its ``content``'s schema's) sample."""
    value = written_example(node)
    if value is not None:
        return value
    with node.open() as parameter:
        has_schema = "schema" in parameter
        media = next(iter(parameter.get("content") or {}), None)
    if has_schema:
        return sample_value(node / "schema")
    if media is not None:
        return sample_value(node / "content" / media / "schema")
    return "sample"


def _path_template(value: Any) -> str:
    """A path parameter as a template of its sample: ``{{ 42 }}``, ``{{ 'abc' }}``."""
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "{{ " + repr(value) + " }}"
    if isinstance(value, list):
        value = ",".join(_text(v) for v in value)
    return "{{ '" + quote(_text(value), safe="-._~!$&()*+,;=:@") + "' }}"


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return _query_value(value[0]) if len(value) == 1 else ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return _literal(yaml.safe_dump(value, default_flow_style=True).strip())
    return _literal(value) if isinstance(value, str) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _literal(text: Any) -> Any:
    """A value as itself: its ``{{``, ``{%`` and ``${`` written so that neither the
    templates nor the ``${VAR}`` substitution read them."""
    if not isinstance(text, str):
        return text
    text = text.replace("{{", "\0o").replace("{%", "\0p")
    text = text.replace("\0o", "{{ '{{' }}").replace("\0p", "{{ '{%' }}")
    return text.replace("${", "$${")


def _escaped(value: Any) -> Any:
    """``_literal`` on every string of a JSON value."""
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return _literal(value)


def _one_line(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    line = " ".join(text.split())
    return line if len(line) <= 96 else line[:95] + "…"


def _dump(data: Any, indent: int) -> str:
    text = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=96, default_flow_style=False
    )
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _render(
    document: OpenApiDocument, source: str, builder: _Builder, requests: list[_Request]
) -> str:
    info = document.data.get("info") or {}
    title = document.title
    version = info.get("version", "")
    secrets = list(builder.secrets)
    lines = [
        f"# Made by `swarm init --from-openapi {source}`: {_one_line(title)} {version}",
        f"# (OpenAPI {document.data.get('openapi')}), one request per operation "
        f"({len(requests)}), bodies from the document's examples or made from its schemas.",
        "# Check it:  swarm validate FILE   Try each request once:  swarm try FILE",
        f"# Aim it elsewhere with TARGET_URL (default {builder.host}).",
    ]
    if secrets:
        lines.append(
            f"# Secrets, read from the environment and never written: {', '.join(secrets)}."
        )
    for skipped in builder.skipped:
        lines.append(f"# Left out: {skipped}.")
    text = "\n".join(lines) + "\n"
    top = {
        "name": slug(title),
        "description": _one_line(f"Smoke test of {title} {version}, from {source}"),
        "host": "${TARGET_URL:-" + builder.host + "}",
        "timeout": "10s",
    }
    text += _dump(top, 0)
    text += "users:\n  - name: client\n    think_time: {uniform_ms: [500, 1500]}\n"
    text += "    requests:\n"
    for request in requests:
        for line in request.comment:
            text += f"      # {line}\n"
        text += _dump([request.data], 6)
    text += _dump({"load": SMOKE_LOAD}, 0)
    text += _dump({"tags": {"kind": "smoke", "source": "openapi"}}, 0)
    return text
