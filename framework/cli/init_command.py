"""``swarm init [--from-openapi SPEC] [-o FILE] [--force]``: write a scenario to start from.

Without a spec it writes the commented starter (``framework.scenario.starter``); with one,
a smoke scenario with a request per operation of the OpenAPI document
(``framework.scenario.openapi_scenario``). Either way the text is written to a temporary
file beside the target, loaded with ``load_scenario`` as ``swarm validate`` would (every
template rendered once), and only then moved into place in one rename: a scenario that
does not validate is never left behind, and an existing file is replaced only with
``--force``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from framework.errors import ConfigError, ExitCode, OpenApiError, Problem, ScenarioError, UsageError
from framework.limits import YAML_BYTES, YAML_VALUES, excerpt
from framework.scenario.loader import load_scenario
from framework.scenario.starter import STARTER_FILE, STARTER_SCENARIO

__all__ = ["add_command", "run_init", "write_scenario"]

_PLACEHOLDER = "swarm-init-placeholder"
"""The value each secret ``${VAR}`` takes while the written scenario is validated."""


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``swarm init`` to the ``swarm`` parser's commands."""
    init = commands.add_parser(
        "init",
        help="write a starter scenario, or one request per operation of an OpenAPI document",
        description="Write a scenario to start from: a commented starter, or with "
        "--from-openapi a smoke scenario with one request per operation of an OpenAPI 3.0 "
        "or 3.1 document (YAML or JSON; see docs/openapi.md). The scenario is validated "
        "before it is written. Exit codes: 0 written; 2 invalid input (no such file, not "
        "OpenAPI, invalid OpenAPI, the output exists without --force).",
    )
    init.add_argument("--from-openapi", dest="spec", metavar="SPEC", help="an OpenAPI 3.0/3.1 file")
    init.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help=f"the scenario to write (default: {STARTER_FILE}, or <API title>.yaml from a spec)",
    )
    init.add_argument("--force", action="store_true", help="replace FILE if it exists")


def run_init(args: argparse.Namespace) -> int:
    """Write the scenario ``args`` ask for; print what was written and what to do next."""
    if args.spec is None:
        target = Path(args.output or STARTER_FILE)
        write_scenario(target, STARTER_SCENARIO, force=args.force)
        print(f"wrote {target}: a starter scenario aimed at the mock detectors")
        print(f"next: swarm mocks (another terminal), then swarm run {target}")
        return ExitCode.OK

    from framework.scenario.openapi_scenario import scenario_from_openapi, slug
    from framework.scenario.openapi_source import read_openapi

    document = read_openapi(args.spec)
    generated = scenario_from_openapi(document, source=args.spec)
    if not generated.names:
        reasons = "; ".join(str(s) for s in generated.skipped) or "the document has no paths"
        raise OpenApiError(
            [Problem(args.spec, None, None, "paths", f"no operation to request: {reasons}")]
        )
    target = Path(args.output or f"{slug(document.title)}.yaml")
    write_scenario(target, generated.text, force=args.force, secrets=generated.secrets)
    for skipped in generated.skipped:
        print(f"swarm: warning: {skipped}", file=sys.stderr)
    for note in generated.notes:
        print(f"swarm: note: {note}", file=sys.stderr)
    count = len(generated.names)
    print(
        f"wrote {target}: {count} request{'s' if count != 1 else ''} from {args.spec}"
        + (f" ({len(generated.skipped)} operations skipped)" if generated.skipped else "")
    )
    if generated.secrets:
        print(f"set before a run: {', '.join(generated.secrets)}")
    print(f"next: swarm validate {target}; swarm try {target}; swarm run {target}")
    return ExitCode.OK


def write_scenario(
    target: Path, text: str, *, force: bool = False, secrets: tuple[str, ...] = ()
) -> None:
    """Validate ``text`` as a scenario and write it to ``target`` in one rename.

    ``UsageError`` if ``target`` exists and not ``force``, or its folder does not; the
    scenario is loaded with each of ``secrets`` set to a placeholder (their values come
    at run time) and nothing else from the environment, so the defaults are what is
    checked. Nothing is left behind on any failure.
    """
    if target.exists() and not force:
        raise UsageError(
            f"{excerpt(str(target))} exists; pass --force to replace it, or -o FILE",
            flag="--output",
            value=str(target),
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(
            f"cannot write {excerpt(str(target))}: no folder {excerpt(str(folder))}",
            flag="--output",
            value=str(target),
        )
    try:
        handle, name = tempfile.mkstemp(prefix=".swarm-init-", suffix=".yaml", dir=folder)
    except OSError as exc:
        raise UsageError(
            f"cannot write in {excerpt(str(folder))}: {exc.strerror}", flag="--output"
        ) from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o666 & ~umask)  # as a file opened for writing gets (mkstemp: 0600)
        try:
            load_scenario(
                temporary, env=dict.fromkeys(secrets, _PLACEHOLDER), render_templates=True
            )
        except ScenarioError as exc:
            if any(_is_limit(problem.message) for problem in exc.problems):
                raise ConfigError(
                    f"the scenario made for {target} is larger than a scenario may be: "
                    f"{exc.problems[0].message} (for swarm init and every command that reads "
                    "it), or leave operations out of the document",
                    file=str(target),
                ) from None
            raise ConfigError(
                f"the scenario made for {target} does not validate (a bug in swarm init; "
                f"please report it with the document): {exc}",
                file=str(target),
            ) from None
        _move(temporary, target, force=force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _is_limit(message: str) -> bool:
    """Whether a problem is a refusal by one of the YAML limits (the scenario is too big)."""
    return any(limit.env in message for limit in (YAML_BYTES, YAML_VALUES))


def _move(temporary: Path, target: Path, *, force: bool) -> None:
    """Put ``temporary`` at ``target``: a hard link when it must not replace a file that
    appeared meanwhile (atomic, refuses an existing name), else a rename."""
    try:
        if force:
            os.replace(temporary, target)
            return
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise UsageError(
                f"{excerpt(str(target))} exists; pass --force to replace it, or -o FILE",
                flag="--output",
                value=str(target),
            ) from None
        except OSError:  # a file system without hard links
            os.replace(temporary, target)
    except OSError as exc:
        raise UsageError(
            f"cannot write {excerpt(str(target))}: {exc.strerror}", flag="--output"
        ) from None
