"""Load a scenario file: YAML → ``${VAR}`` substitution → validation, every problem in one pass.

Each problem names the file, line and column, the field path, what was found and what is
allowed, so a person can fix the whole file in one go instead of one error per attempt.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from framework.errors import ConfigError, Problem, ScenarioError, UnresolvedVariableError
from framework.limits import YAML_BYTES, InputRefused, read_text
from framework.scenario.budgets import Budgets
from framework.scenario.capacity import load_warnings
from framework.scenario.custom_metrics import metric_problems
from framework.scenario.datafiles import DataSource, read_rows
from framework.scenario.flow_checks import name_problems, sample_vars, var_problems
from framework.scenario.flows import AGGREGATE_POLL, AGGREGATE_TXN, flow_names, walk_steps
from framework.scenario.interpolation import (
    Redactor,
    interpolate,
    mask_secrets,
    mask_url_password,
    secret_variables,
)
from framework.scenario.model import (
    DUPLICATE_USER_NAMES,
    LOAD_TAGS,
    SECRETS_CONTEXT,
    RequestSpec,
    Scenario,
    UserSpec,
    host_url,
)
from framework.scenario.overrides import Override, apply_overrides
from framework.scenario.problems import (
    duplicate_name_problems,
    format_path,
    problem_at,
    validation_problems,
)
from framework.scenario.steps import FLOW_SECTIONS, raw_steps
from framework.scenario.templates import (
    RenderContext,
    TemplateError,
    compile_tree,
    compile_value,
    data_refs,
    describe_render_error,
    is_template,
    string_leaves,
    template_fields,
    var_refs,
)
from framework.scenario.yaml_source import (
    KeyPath,
    Located,
    YamlSyntaxError,
    is_empty,
    load_located,
)
from framework.suggestions import closest, did_you_mean

__all__ = [
    "HOST_ENV_VAR",
    "LoadedScenario",
    "load_budgets",
    "load_scenario",
    "load_scenario_data",
    "read_located",
    "requests_by_user",
    "written_flow_names",
    "written_label",
]

HOST_ENV_VAR = "SWARM_HOST"

_SCENARIO_EXPECTED = (
    "expected a scenario: a YAML mapping with at least name, users and load "
    "(see scenarios/smoke.yaml)"
)
_BUDGETS_EXPECTED = (
    "expected the budgets section on its own: a YAML mapping of tolerance, inconclusive, "
    "overall and requests, e.g. 'overall: {p95_ms: 500, error_rate: 1%}'"
)


def _not_text(exc: UnicodeDecodeError, expected: str) -> str:
    """What to say of a file that is not UTF-8: most often a binary file given by mistake."""
    return f"not UTF-8 text (byte {exc.start} cannot be decoded), so it looks binary; {expected}"


def _byte_position(exc: UnicodeDecodeError) -> tuple[int, int]:
    """The 1-based (line, column) of the byte that could not be decoded."""
    data = exc.object
    line = data.count(b"\n", 0, exc.start) + 1
    return line, exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1


_NOT_A_SCENARIO = "a scenario must be a mapping of fields (name, users, load, ...), found {found}"


def read_located(
    path: Path,
    label: str,
    *,
    expected: str,
    not_mapping: str,
    error: Callable[[list[Problem]], Exception],
) -> Located:
    """A YAML file of fields (a scenario, a suite) read within the size limit, with each key's
    place; anything else raises ``error([problem])`` located where it can be: missing,
    refused, not UTF-8 (the byte's line and column), unreadable, bad YAML, empty, or not a
    mapping (``not_mapping`` formatted with ``found``, the type it is). ``expected`` says
    what the file should hold."""
    try:
        text = read_text(path, YAML_BYTES)
    except FileNotFoundError:
        raise error([Problem(label, None, None, "", "file not found")]) from None
    except InputRefused as exc:
        raise error([Problem(label, None, None, "", str(exc))]) from None
    except UnicodeDecodeError as exc:
        msg = _not_text(exc, expected)
        raise error([Problem(label, *_byte_position(exc), "", msg)]) from None
    except OSError as exc:
        raise error([Problem(label, None, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, col = exc.position or (None, None)
        raise error([Problem(label, line, col, "", str(exc))]) from None
    if is_empty(located):
        msg = f"the file is empty (no YAML, only blanks or comments); {expected}"
        raise error([Problem(label, 1, None, "", msg)])
    if not isinstance(located.data, dict):
        msg = not_mapping.format(found=type(located.data).__name__)
        raise error([Problem(label, 1, 1, "", msg)])
    return located


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario plus what the run needs around it.

    ``redacted`` is the resolved scenario as plain data with every secret replaced by its
    ``${VAR}`` reference: the only form that may be saved or shown. ``secrets`` are the
    values of the secret variables ``secret_names`` (see ``secret_variables``), which must
    never be written. ``source`` is the file's data before any substitution (references
    intact, ``--set`` overrides applied), which bundles ship to workers. ``overrides`` are
    the ``--set`` texts as given and ``time_scale`` the ``--time-scale`` factor the plan is
    made with (``framework.plan.groups.schedule_for``); the scenario itself is as written.
    ``warnings`` are what is valid but will not run as written (``scenario.capacity``),
    located as problems are; the commands print them and go on. ``mock_urls`` maps each
    mock a fault names to its admin API's base URL (from the ``mocks:`` file; empty for a
    scenario read from data, whose faults the master gets resolved). ``repr()`` masks the
    secret values (in ``scenario`` too) and only counts ``secrets``.
    """

    scenario: Scenario
    path: Path
    redacted: dict[str, Any]
    secrets: frozenset[str]
    host_override: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    secret_names: frozenset[str] = frozenset()
    overrides: tuple[str, ...] = ()
    time_scale: float = 1.0
    warnings: tuple[Problem, ...] = ()
    mock_urls: Mapping[str, str] = field(default_factory=dict)
    located: Located | None = field(default=None, repr=False, compare=False)

    def problem_at(self, path: tuple[Any, ...], message: str) -> Problem:
        """A problem at ``path`` of the scenario file (its line, or the ``--set`` that put
        it there), for checks made after loading (faults against the plan)."""
        located = self.located if self.located is not None else Located(data=self.source)
        return problem_at(str(self.path), located, path, message)

    def __repr__(self) -> str:
        host = self.host_override
        shown_host = mask_url_password(mask_secrets(host, self.secrets)) if host else host
        return (
            f"LoadedScenario(scenario={self.scenario!r}, path={self.path!r}, "
            f"redacted={self.redacted!r}, secrets=<{len(self.secrets)} hidden>, "
            f"host_override={shown_host!r}, source={self.source!r}, "
            f"secret_names={sorted(self.secret_names)!r}, "
            f"overrides={self.shown_overrides!r}, time_scale={self.time_scale!r})"
        )

    @property
    def modified(self) -> bool:
        """Whether the command line changed the scenario (``--set``, ``--time-scale``), so
        that a Locust process must be given it as a bundle rather than read the file."""
        return bool(self.overrides) or self.time_scale != 1.0

    @property
    def shown_overrides(self) -> list[str]:
        """The ``--set`` texts as they may be saved: a secret value in one (a shell that
        expanded ``"${API_KEY}"``) masked; a ``${VAR}`` reference is kept as written."""
        return [self.redactor.text(text) for text in self.overrides]

    @property
    def redactor(self) -> Redactor:
        """What masks this scenario's secret values in any text before it is kept."""
        return Redactor(self.secrets)

    def request_label(self, user_index: int, request_index: int) -> str:
        """The statistics name of a request: its ``name``, else its path as written.

        Read from ``redacted``, so a secret ``${VAR}`` in a path stays a reference in the
        name that Locust, the timeline and every report show.
        """
        label = written_label(self._written_request(user_index, request_index))
        if label is not None:
            return label
        return self.redactor.text(self.scenario.users[user_index].requests[request_index].label)

    def request_path(self, user_index: int, request_index: int) -> str:
        """A request's path as it may be shown: secret ``${VAR}``s as references."""
        path = self._written_request(user_index, request_index).get("path")
        if isinstance(path, str):
            return path.replace("$${", "${")
        return self.redactor.text(self.scenario.users[user_index].requests[request_index].path)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def host(self) -> str | None:
        """The default target: the override, else the scenario's ``host``."""
        return self.host_override or self.scenario.host

    def host_for(self, user: UserSpec) -> str | None:
        """The target of one users entry: the override, its own ``host``, the scenario's."""
        return self.host_override or user.host or self.scenario.host

    def written_step(self, user_index: int, section: str, path: KeyPath) -> dict[str, Any]:
        """A flow step (``section`` ``flow`` or ``on_start``, ``path`` as ``walk_steps``
        gives it) as the redacted scenario writes it, else ``{}``."""
        node: Any = self.redacted.get("users")
        for part in (user_index, section, *path):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return {}
        return node if isinstance(node, dict) else {}

    def step_label(self, user_index: int, section: str, path: KeyPath) -> str:
        """The statistics name of a request step, as ``request_label`` gives a request's:
        a secret ``${VAR}`` in its path stays a reference."""
        label = written_label(self.written_step(user_index, section, path))
        if label is not None:
            return label
        user = self.scenario.users[user_index]
        for found, step in walk_steps(getattr(user, section) or []):
            if found == tuple(path) and isinstance(step, RequestSpec):
                return self.redactor.text(step.label)
        return ""

    def flow_names(self, user_index: int) -> list[tuple[str, str]]:
        """``flows.flow_names`` of one users entry, request steps named by ``step_label``
        (secrets as references): what it records beside its weighted requests."""
        return flow_names(
            self.scenario.users[user_index],
            lambda section, path, _request: self.step_label(user_index, section, path),
        )

    def _written_request(self, user_index: int, request_index: int) -> dict[str, Any]:
        try:
            written = self.redacted["users"][user_index]["requests"][request_index]
        except (KeyError, IndexError, TypeError):
            return {}
        return written if isinstance(written, dict) else {}


def written_label(written: Mapping[str, Any]) -> str | None:
    """The statistics name of one request as the saved scenario writes it: its ``name``,
    else its ``path`` (a secret's escaped ``$${VAR}`` shown as ``${VAR}``); ``None`` when it
    has neither. The one rule for the Locust name and for reading a run folder back."""
    label = written.get("name") or written.get("path")
    return label.replace("$${", "${") if isinstance(label, str) else None


def requests_by_user(redacted: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each ``users`` entry's requests as ``(METHOD, name)``, from a saved scenario's data
    (a run folder's ``scenario.yaml``): which request names a user kind sends, for figures
    per kind. Entries without a name, or not mappings, are left out."""
    found: dict[str, list[tuple[str, str]]] = {}
    users = redacted.get("users")
    for user in users if isinstance(users, list) else ():
        if not isinstance(user, Mapping) or not isinstance(user.get("name"), str):
            continue
        requests = user.get("requests")
        pairs = found.setdefault(user["name"], [])
        for request in requests if isinstance(requests, list) else ():
            if not isinstance(request, Mapping):
                continue
            label = written_label(request)
            method = request.get("method", "GET")
            if label is None or not isinstance(method, str):
                continue
            if (method.upper(), label) not in pairs:
                pairs.append((method.upper(), label))
        pairs += [key for key in written_flow_names(user) if key not in pairs]
    return found


def written_flow_names(user: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``flows.flow_names`` of one users entry as a saved scenario writes it (names of
    request steps by ``written_label``): the whole flow and each transaction as ``TXN``,
    each poll as ``POLL``, each request step as its method."""
    names: list[tuple[str, str]] = []
    if isinstance(user.get("flow"), list) and user["flow"]:
        flow_name = user.get("flow_name") or user.get("name")
        if isinstance(flow_name, str):
            names.append((AGGREGATE_TXN, flow_name))
    for section in FLOW_SECTIONS:
        for _path, kind, step in raw_steps(user.get(section)):
            key: tuple[str, str] | None = None
            if kind == "request":
                label, method = written_label(step), step.get("method", "GET")
                if label is not None and isinstance(method, str):
                    key = (method.upper(), label)
            elif kind == "transaction" and isinstance(step.get("transaction"), str):
                key = (AGGREGATE_TXN, step["transaction"])
            elif kind == "poll":
                poll = step.get("poll")
                request = poll.get("request") if isinstance(poll, Mapping) else None
                inner = written_label(request) if isinstance(request, Mapping) else None
                name = step.get("name") or (f"{inner} (poll)" if inner else None)
                key = (AGGREGATE_POLL, name) if isinstance(name, str) else None
            if key is not None and key not in names:
                names.append(key)
    return names


def load_scenario(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    host: str | None = None,
    require_host: bool = False,
    render_templates: bool = False,
    overrides: Sequence[Override] = (),
    time_scale: float = 1.0,
) -> LoadedScenario:
    """Read and validate ``path``; raise ``ScenarioError`` listing every problem found.

    The target host is, in order: ``host`` (the ``--host`` flag), ``$SWARM_HOST``, the
    scenario's ``host``. ``render_templates`` (``swarm validate``) also renders every
    template once with sample data, to catch what fails only at render time; a run does
    not, since a template that fails now and then is the run's to count, not to refuse.
    ``overrides`` (``--set``) are applied to the file's data before anything else, so they
    are substituted and validated as the file is; a problem in one names its flag.
    ``time_scale`` is only recorded (see ``LoadedScenario``).
    """
    env = os.environ if env is None else env
    file = Path(path)
    label = str(path)
    located = read_located(
        file,
        label,
        expected=_SCENARIO_EXPECTED,
        not_mapping=_NOT_A_SCENARIO,
        error=ScenarioError,
    )
    applied = apply_overrides(located.data, overrides, label)
    located = Located(applied.data, located.values, located.keys, applied.origins)
    loaded = _checked(
        label,
        file,
        located,
        env,
        host=host,
        require_host=require_host,
        render_templates=render_templates,
        problems=applied.problems,
        resolve_mocks=True,
    )
    return replace(loaded, overrides=tuple(o.text for o in overrides), time_scale=time_scale)


def load_scenario_data(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    time_scale: float = 1.0,
) -> LoadedScenario:
    """Validate a scenario that is already plain data (a bundle's JSON), as ``load_scenario``
    does a file, but without reading or parsing YAML.

    ``path`` names the scenario in problems and is where its data files are looked up; every
    ``${VAR}`` is resolved from ``env`` (default ``os.environ``) here, so a worker's secrets
    come from its own environment. Problems name fields but no lines: there is no file.
    ``time_scale`` is the master's ``--time-scale``; a bundle's data has its ``--set``
    overrides applied already.
    """
    env = os.environ if env is None else env
    if not isinstance(data, Mapping):
        found = type(data).__name__
        msg = f"a scenario must be a mapping of fields (name, users, load, ...), found {found}"
        raise ScenarioError([Problem(str(path), None, None, "", msg)])
    loaded = _checked(str(path), Path(path), Located(data=dict(data)), env)
    return replace(loaded, time_scale=time_scale)


def _checked(
    label: str,
    file: Path,
    located: Located,
    env: Mapping[str, str],
    *,
    host: str | None = None,
    require_host: bool = False,
    render_templates: bool = False,
    problems: Sequence[Problem] = (),
    resolve_mocks: bool = False,
) -> LoadedScenario:
    """Resolve ``${VAR}``s in ``located.data`` and validate it; every problem in one error
    (with ``problems`` found before: overrides that could not be applied)."""
    values = interpolate(located.data, env)
    problems = list(problems)
    problems.extend(
        problem_at(
            label,
            located,
            m.path,
            f"${{{m.name}}} is not set and has no default; set {m.name} in the environment "
            f"or write ${{{m.name}:-default}}",
        )
        for m in values.missing
    )
    unresolved = {m.path for m in values.missing}
    scenario: Scenario | None = None
    try:
        context = {SECRETS_CONTEXT: frozenset(values.secrets)}
        scenario = Scenario.model_validate(values.resolved, context=context)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if not _duplicate_users_error(e)]
        problems.extend(
            p
            for p in validation_problems(
                label, located, values.resolved, errors, root=Scenario, tag=LOAD_TAGS
            )
            if p.path not in {format_path(u) for u in unresolved}
        )
    columns, samples, data_problems = _data_columns(label, located, values.resolved, file.parent)
    problems.extend(data_problems)
    template_problems = _template_problems(label, located, values.resolved, columns)
    template_problems += [
        problem_at(label, located, path, message) for path, message in var_problems(values.resolved)
    ]
    problems.extend(template_problems)
    if render_templates and not template_problems and not data_problems:
        problems.extend(_render_problems(label, located, values.resolved, samples))
    problems.extend(_duplicate_user_problems(label, located, values.resolved))
    mock_urls: dict[str, str] = {}
    if scenario is not None:
        problems.extend(_abort_problems(label, located, scenario))
        problems.extend(
            problem_at(label, located, path, message) for path, message in name_problems(scenario)
        )
        if resolve_mocks:
            mock_urls, mock_problems = _mock_urls(label, located, scenario, file.parent)
            problems.extend(mock_problems)

    override = (host or env.get(HOST_ENV_VAR) or "").rstrip("/") or None
    if override is not None:
        try:
            override = host_url(override, given_as="--host" if host else HOST_ENV_VAR)
        except ValueError as exc:
            problems.append(Problem(label, None, None, "host", str(exc)))
    if scenario is not None:  # a gauge's path needs a host where the run needs one
        has_host = bool(override or scenario.host) or not require_host
        problems.extend(
            problem_at(label, located, path, message)
            for path, message in metric_problems(scenario, has_host=has_host)
        )
    needs_host = scenario is not None and any(u.host is None for u in scenario.users)
    if needs_host and require_host and not (override or scenario.host):
        message = (
            f"no target host; set 'host' in the scenario, pass --host URL or set {HOST_ENV_VAR}"
        )
        problems.append(Problem(label, None, None, "host", message))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        if len(problems) == len(values.missing):  # nothing but the unset variables
            raise UnresolvedVariableError(problems, variables=[m.name for m in values.missing])
        raise ScenarioError(problems)
    assert scenario is not None
    return LoadedScenario(
        scenario=scenario,
        path=file.resolve(),
        redacted=values.redacted,
        secrets=frozenset(values.secrets),
        host_override=override,
        source=located.data,
        secret_names=secret_variables(located.data),
        warnings=tuple(
            problem_at(label, located, path, message) for path, message in load_warnings(scenario)
        ),
        mock_urls=mock_urls,
        located=located,
    )


def load_budgets(path: str | os.PathLike[str]) -> Budgets:
    """Read a ``--budgets`` file (the ``budgets:`` section on its own); every problem at once."""
    label = str(path)
    try:
        text = read_text(path, YAML_BYTES)
    except InputRefused as exc:
        raise ConfigError(f"{label}: {exc}", file=label) from None
    except OSError as exc:
        raise ConfigError(
            f"{label}: cannot read budgets file: {exc.strerror}", file=label
        ) from None
    except UnicodeDecodeError as exc:
        line, col = _byte_position(exc)
        message = _not_text(exc, _BUDGETS_EXPECTED)
        where = f"{label}:{line}:{col}"
        raise ConfigError(f"{where}: {message}", file=label) from None
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        line, col = exc.position or (None, None)
        raise ConfigError(str(Problem(label, line, col, "", str(exc))), file=label) from None
    if is_empty(located):
        message = (
            f"the budgets file is empty (no YAML, only blanks or comments); {_BUDGETS_EXPECTED}"
        )
        raise ConfigError(f"{label}:1: {message}", file=label)
    if not isinstance(located.data, dict):
        message = f"a budgets file must be a mapping, found {type(located.data).__name__}"
        raise ConfigError(f"{label}:1:1: {message}; {_BUDGETS_EXPECTED}", file=label)
    try:
        return Budgets.model_validate(located.data)
    except ValidationError as exc:
        problems = validation_problems(
            label,
            located,
            located.data,
            exc.errors(include_url=False),
            root=Budgets,
            tag="shape",
        )
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(
            f"{len(problems)} problem(s) in budgets file:\n"
            + "\n".join(f"  {p}" for p in problems),
            file=label,
            flag="--budgets",
        ) from None


def _template_problems(
    label: str,
    located: Located,
    data: dict[str, Any],
    columns: dict[str, tuple[str, ...]],
) -> list[Problem]:
    """Compile every template in the raw data, so template errors show beside schema errors."""
    data_files = data.get("data")
    names = [str(k) for k in data_files] if isinstance(data_files, dict) else []
    problems = []
    for path, value in template_fields(data):
        broken = False
        for leaf_path, text in _leaves(path, value) if not isinstance(value, str) else ():
            try:
                compile_value(text, native=True, data_names=names)
            except TemplateError as exc:
                problems.append(problem_at(label, located, leaf_path, str(exc)))
                broken = True
        try:
            if isinstance(value, str):
                compile_value(value, data_names=names)
            elif not broken:
                compile_tree(value, data_names=names)
        except TemplateError as exc:
            problems.append(problem_at(label, located, path, str(exc)))
            continue
        if broken:
            continue
        for text in string_leaves(value):
            for name, column in sorted(data_refs(text), key=str):
                known = columns.get(name)
                if column is not None and known is not None and column not in known:
                    message = (
                        f"data file {name!r} has no column {column!r}; columns: {', '.join(known)}"
                    )
                    problems.append(problem_at(label, located, path, message))
    return problems


def _render_problems(
    label: str,
    located: Located,
    data: dict[str, Any],
    samples: dict[str, tuple[str, dict[str, str]]],
) -> list[Problem]:
    """Render every template once with sample data: user 1, the first row of each data
    file, the helpers' own random values, a sample of each captured var (``sample_vars``).
    Catches what only fails when rendered (``{{ 1 // 0 }}``, an attribute a value does not
    have) with the field's place."""
    names = list(samples)
    sources = {name: DataSource(name, [row], order) for name, (order, row) in samples.items()}
    claimed = {name: row for name, (order, row) in samples.items() if order == "unique"}
    captured = sample_vars(data)
    problems = []
    for path, text in (leaf for found in template_fields(data) for leaf in _leaves(*found)):
        if not is_template(text):
            continue
        context = RenderContext(user_id=1, sources=sources, claimed=claimed, vars=captured)
        try:
            compile_value(text, native=True, data_names=names)(context)
        except Exception as exc:  # any error a template raises is the template's problem
            sample_vars_note = ", a sample of each captured var" if var_refs(text) else ""
            message = (
                "template fails when rendered with sample data (user_id 1, the first row "
                f"of each data file{sample_vars_note}): {describe_render_error(exc)}"
            )
            problems.append(problem_at(label, located, path, message))
    return problems


def _leaves(path: tuple[Any, ...], value: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Every string leaf of a field's value, with its key path (a json body's own keys)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves((*path, k), v)]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves((*path, i), v)]
    return []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _duplicate_users_error(error: ErrorDetails) -> bool:
    """Whether ``error`` is the model's duplicate-name error, which has no place in the file.

    ``_duplicate_user_problems`` reports it instead, where the second name is written.
    """
    return error["type"] == DUPLICATE_USER_NAMES


def _duplicate_user_problems(label: str, located: Located, data: dict[str, Any]) -> list[Problem]:
    message = "two users entries are named {name}; names must be unique"
    return duplicate_name_problems(label, located, data, "users", message)


def _abort_problems(label: str, located: Located, scenario: Scenario) -> list[Problem]:
    """Abort rules that could never trip as written: on a request name the scenario does
    not send, or a second ``target_down`` item (which one would hold?)."""
    recorded = {(r.method, r.label) for u in scenario.users for r in u.requests}
    recorded |= {key for u in scenario.users for key in flow_names(u)}
    names = {name for _method, name in recorded}
    keys = sorted(names | {f"{method} {name}" for method, name in recorded})
    problems = []
    seen_target_down = False
    for i, rule in enumerate(scenario.abort):
        if rule.request is not None and rule.request not in keys:
            close = closest(rule.request, keys)
            hint = f" ({did_you_mean(close)})" if close else ""
            message = (
                f"no request of the scenario is named {rule.request!r}{hint}, so this rule "
                f"would never trip; request names: {', '.join(sorted(names))} (or 'METHOD name')"
            )
            problems.append(problem_at(label, located, ("abort", i, "request"), message))
        if rule.target_down is not None:
            if seen_target_down:
                message = "target_down is given twice; keep one item (true with its for, or false)"
                problems.append(problem_at(label, located, ("abort", i, "target_down"), message))
            seen_target_down = True
    return problems


def _data_columns(
    label: str, located: Located, data: dict[str, Any], base: Path
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, dict[str, str]]], list[Problem]]:
    """Read each declared data file's columns and (order, first row); problems for files
    that cannot be used.

    Runs on the raw data, so a missing file is reported beside schema problems.
    """
    files = data.get("data")
    columns: dict[str, tuple[str, ...]] = {}
    samples: dict[str, tuple[str, dict[str, str]]] = {}
    problems = []
    for name, spec in files.items() if isinstance(files, dict) else ():
        relative = spec.get("file") if isinstance(spec, dict) else None
        if not isinstance(relative, str) or not relative:
            continue
        file = (base / relative).resolve()
        path = ("data", name, "file")
        try:
            rows = read_rows(file)
        except FileNotFoundError:
            problems.append(problem_at(label, located, path, f"data file not found: {file}"))
        except UnicodeDecodeError as exc:
            message = _not_text(exc, "expected a CSV text file with a header line")
            problems.append(problem_at(label, located, path, f"data file {file}: {message}"))
        except (OSError, ValueError, csv.Error) as exc:
            problems.append(problem_at(label, located, path, f"cannot use data file: {exc}"))
        else:
            columns[str(name)] = tuple(rows[0].keys())
            order = spec.get("order", "sequential")
            samples[str(name)] = (order if isinstance(order, str) else "sequential", rows[0])
    return columns, samples, problems


def _mock_urls(
    label: str, located: Located, scenario: Scenario, base: Path
) -> tuple[dict[str, str], list[Problem]]:
    """The admin URL of every mock a fault names, from the ``mocks:`` file (relative to the
    scenario; default the packaged one); a problem for an unknown name (naming the known
    ones) or a mocks file that cannot be used."""
    wanted = [(i, f.mock) for i, f in enumerate(scenario.faults) if f.mock is not None]
    if not wanted:
        return {}, []
    from mock_detectors.loader import DEFAULT_CONFIG_PATH, DetectorConfigError, load_config

    file = (base / scenario.mocks).resolve() if scenario.mocks else DEFAULT_CONFIG_PATH
    try:
        config = load_config(file)
    except DetectorConfigError as exc:
        first = exc.problems[0] if exc.problems else None
        why = str(first) if first is not None else str(exc)
        message = f"cannot use the mocks file {file}: {why}"
        return {}, [problem_at(label, located, ("mocks",), message)]
    host = "127.0.0.1" if config.host in ("", "0.0.0.0", "::", "*") else config.host
    host = f"[{host}]" if ":" in host else host
    urls: dict[str, str] = {}
    problems = []
    known = list(config.detectors)
    for i, name in wanted:
        if name in config.detectors:
            urls[name] = f"http://{host}:{config.port_of(name)}"
            continue
        close = closest(name, known)
        hint = f" ({did_you_mean(close)})" if close else ""
        message = f"no mock detector is named {name!r} in {file}{hint}; known: {', '.join(known)}"
        problems.append(problem_at(label, located, ("faults", i, "mock"), message))
    return urls, problems
