"""The run folder ``reports/<run_id>/``: the redacted scenario, ``run.json``, Locust's files.

``run.json`` is rewritten atomically at every phase change, so whatever stops the run —
the end of the plan, Ctrl-C, a crash of Locust — the folder always holds a valid record
of what ran. Run ids are checked so that no id can name a path outside the reports folder.

Only a SIGKILL (or a crash) of swarm itself leaves ``run.json`` saying ``running``: it
records the swarm process (pid, host and start time, which tells a reused pid apart), so
a later swarm command on the same host can see that process is gone and record the run
as ``interrupted`` (``settle_abandoned``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import psutil
import yaml

from framework.errors import ExitCode, ReportError, RunError, UsageError
from framework.limits import JSON_BYTES, read_bytes
from framework.plan.record import PlanRecord
from framework.run.revision import recorded_revision

__all__ = [
    "ACTIVE_STATUSES",
    "RESERVE_FILE",
    "RUN_FILE",
    "RUN_FORMAT_VERSION",
    "SESSION_FILE",
    "RunFolder",
    "RunRecord",
    "SessionFolder",
    "create_run_folder",
    "new_run_id",
    "read_json_object",
    "read_run_json",
    "read_run_record",
    "settle_abandoned",
    "swarm_process",
    "swarm_process_gone",
    "validate_run_id",
    "write_atomically",
    "write_failure",
]

RUN_FILE = "run.json"
SESSION_FILE = "session.json"
"""A web-UI session's record (``swarm run --web``): laid out as run.json, but a session is
no run, so the results index (which looks for run.json) leaves its folder out."""
RUN_FORMAT_VERSION = 1
RESERVE_FILE = ".swarm-reserve"
"""Space set aside in every run folder and given back once Locust has exited, just before
run.json is written for the last time: a full disk still leaves it saying ``failed`` and
why."""
RESERVE_BYTES = 256 * 1024


def write_failure(path: Path | str, exc: OSError) -> str:
    """``cannot write reports/r1/timeline.jsonl: no space left on device``: which file, why."""
    reason = exc.strerror or str(exc)
    return f"cannot write {path}: {reason[:1].lower()}{reason[1:]}"


def write_atomically(target: Path, text: str) -> None:
    """Write ``target`` through ``target.tmp`` and a rename, so a reader finds the old file
    or the new one, never half of one; on failure the ``.tmp`` is removed and the
    ``OSError`` raised again."""
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ACTIVE_STATUSES = frozenset(
    {"starting", "web-ui", "waiting-for-workers", "running", "paused", "stopping"}
)
"""Statuses of a run still going; every other status is how a run ended."""
_SAME_START_S = 1.0  # two start times of one pid further apart than this are two processes


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a plain folder name; raise ``ValueError`` otherwise."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ValueError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'"
        )
    return run_id


def new_run_id(scenario_name: str, now: datetime) -> str:
    """``20261127T094512Z-detectors-peak``: sortable by time, readable by scenario."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", scenario_name).strip("-").lower()[:60] or "run"
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{slug}"


@dataclass
class RunRecord:
    """What ``run.json`` holds; ``phases`` lists each phase with its UTC start time.

    ``to_record`` is the file's JSON layout and ``from_record`` reads it back; every reader
    of ``run.json`` goes through :func:`read_run_record` (or ``from_record``), so the plan
    arrives as a :class:`PlanRecord` and an older or partial file reads with empty values
    (``""``, ``None``, ``[]``) where it says nothing.
    """

    run_id: str
    scenario: str
    scenario_file: str | None
    host: str | None
    started_at: str
    tags: dict[str, Any] = field(default_factory=dict)
    git_revision: str | None = None
    ended_at: str | None = None
    status: str = "starting"
    exit_code: int | None = None
    phases: list[dict[str, str]] = field(default_factory=list)
    plan: PlanRecord = field(default_factory=PlanRecord)
    overrides: list[str] = field(default_factory=list)
    time_scale: float = 1.0
    mode: str = "headless"
    workers: int = 0
    master: str | None = None
    worker_events: list[dict[str, str]] = field(default_factory=list)
    worker_processes: list[dict[str, Any]] = field(default_factory=list)
    locust_args: list[str] = field(default_factory=list)
    message: str | None = None
    swarm_process: dict[str, Any] = field(default_factory=dict)
    swarm_version: str = ""
    locust_version: str = ""
    # abort guards (F): the guard that stopped the run, its rule and the figures that
    # tripped it (``status`` is then ``aborted``); ``None`` when no guard tripped
    abort: dict[str, Any] | None = None
    # shape: find_capacity (issue 16): how the capacity search went — {"steps_run",
    # "stopped_at_step", "reason", "stopped_at"}; ``None`` for any other shape
    capacity_search: dict[str, Any] | None = None
    # Live Prometheus /metrics (owner: H): where the run could be scraped while it ran.
    metrics_url: str | None = None
    # Live sinks (InfluxDB): each sink's name -> where it wrote, its status ("ok",
    # "failed", "failing" while the run goes on), points written and dropped, the error.
    sinks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # pause / resume (issue 13): the running master's control endpoint (``swarm ctl``), and
    # every state the master's run moved to, with its time and reason
    control: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    # Web mode (swarm run --web): in a run's run.json, the session it was started in
    # ({"id", "folder", "run", "log"}); in session.json, {"id", "runs": [{"run_id", ...}]}.
    session: dict[str, Any] = field(default_factory=dict)
    # Scheduled faults (issue 16): each fault's plan and what happened to it, rewritten as
    # they start and end (``framework.plan.faults.fault_record``); [] without faults
    faults: list[dict[str, Any]] = field(default_factory=list)
    format_version: int = RUN_FORMAT_VERSION

    def to_record(self) -> dict[str, Any]:
        """The JSON object ``run.json`` holds, keys in field order."""
        record = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        record["plan"] = self.plan.to_record()
        return record

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RunRecord:
        """Read a ``run.json`` object, tolerating older and partial files.

        A missing or mistyped field reads as empty (``status`` as ``""``, not ``"starting"``,
        so a reader can tell "unknown" apart); an older ``git.revision`` or ``git.commit``
        reads as ``git_revision``; unknown keys are ignored.
        """
        return cls(
            run_id=_text(data.get("run_id")) or "",
            scenario=_text(data.get("scenario")) or "",
            scenario_file=_text(data.get("scenario_file")),
            host=_text(data.get("host")),
            started_at=_text(data.get("started_at")) or "",
            tags=dict(_typed(data.get("tags"), dict, {})),
            git_revision=_text(recorded_revision(data)),
            ended_at=_text(data.get("ended_at")),
            status=_text(data.get("status")) or "",
            exit_code=_typed(data.get("exit_code"), int, None),
            phases=_mappings(data.get("phases")),
            plan=PlanRecord.from_record(data.get("plan")),
            overrides=[str(o) for o in _typed(data.get("overrides"), list, [])],
            time_scale=_scale(data.get("time_scale")),
            mode=_text(data.get("mode")) or "",
            workers=_typed(data.get("workers"), int, 0),
            master=_text(data.get("master")),
            worker_events=_mappings(data.get("worker_events")),
            worker_processes=_mappings(data.get("worker_processes")),
            locust_args=[str(a) for a in _typed(data.get("locust_args"), list, [])],
            message=_text(data.get("message")),
            swarm_process=dict(_typed(data.get("swarm_process"), dict, {})),
            swarm_version=_text(data.get("swarm_version")) or "",
            locust_version=_text(data.get("locust_version")) or "",
            abort=_typed(data.get("abort"), dict, None),
            capacity_search=_typed(data.get("capacity_search"), dict, None),
            metrics_url=_text(data.get("metrics_url")),
            sinks={
                str(k): dict(v)
                for k, v in _typed(data.get("sinks"), dict, {}).items()
                if isinstance(v, Mapping)
            },
            control=_text(data.get("control")),
            transitions=_mappings(data.get("transitions")),
            session=dict(_typed(data.get("session"), dict, {})),
            faults=_mappings(data.get("faults")),
            format_version=_typed(data.get("format_version"), int, RUN_FORMAT_VERSION),
        )


def _text(value: Any) -> str | None:
    """Text as written; a number as its text; nothing (``None``, ``0``, a list) as ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        return str(value)
    return None


def _scale(value: Any) -> float:
    """``time_scale`` as written, else 1 (an older run.json: the plan ran as written)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 1.0


def _typed(value: Any, kind: type, default: Any) -> Any:
    return value if isinstance(value, kind) else default


def _mappings(value: Any) -> list[dict[str, Any]]:
    return (
        [dict(item) for item in value if isinstance(item, Mapping)]
        if isinstance(value, list)
        else []
    )


def read_run_json(run_dir: Path) -> dict[str, Any]:
    """The JSON object of ``run_dir/run.json`` as written; ``ReportError`` naming the file
    when it is missing, unreadable or not an object. Use it only to copy the file verbatim;
    :func:`read_run_record` reads it for use."""
    path = Path(run_dir) / RUN_FILE
    try:
        return read_json_object(path)
    except FileNotFoundError:
        raise ReportError(f"{path}: missing; is {run_dir} a swarm run folder?", path=path) from None


def read_json_object(path: Path, *, advice: str = "") -> dict[str, Any]:
    """The JSON object in ``path``; ``ReportError`` (with ``advice``) when it is unreadable or
    not an object. ``FileNotFoundError`` is left to the caller: a missing file means
    something different to each (no run folder; a run not reported yet)."""
    try:
        data = json.loads(read_bytes(path, JSON_BYTES))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:  # InputRefused is a ValueError
        hint = f"; {advice}" if advice else ""
        raise ReportError(f"{path}: unreadable ({exc}){hint}", path=path) from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, found {type(data).__name__}", path=path)
    return data


def read_run_record(run_dir: Path) -> RunRecord:
    """``run_dir/run.json`` as a typed record; ``ReportError`` as :func:`read_run_json`."""
    return RunRecord.from_record(read_run_json(run_dir))


class RunFolder:
    """One run's folder; the only writer of ``run.json``.

    ``write_failures`` lists what could not be written into the folder (first first): a
    run that lost a file to a full disk is ``failed`` with that reason.
    """

    file_name: ClassVar[str] = RUN_FILE

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record
        self.write_failures: list[str] = []

    def note_write_failure(self, message: str) -> None:
        """Remember that a file of the run could not be written (once per message)."""
        if message not in self.write_failures:
            self.write_failures.append(message)

    def release_reserve(self) -> bool:
        """Give the reserved space back to the disk; ``True`` if there was some to give."""
        try:
            (self.path / RESERVE_FILE).unlink()
        except OSError:
            return False
        return True

    @property
    def run_json(self) -> Path:
        return self.path / self.file_name

    def phase(self, name: str, at: datetime) -> None:
        """Enter phase ``name`` at ``at`` and save ``run.json`` at once."""
        self.record.phases.append({"name": name, "at": _utc_iso(at)})
        self.record.status = name
        self.save()

    def finish(self, status: str, exit_code: int, at: datetime, message: str | None = None) -> None:
        """Record how the run ended; the reserve is given back first, so that this last
        save of run.json finds room even on a full disk."""
        self.release_reserve()
        self.record.ended_at = _utc_iso(at)
        self.record.exit_code = exit_code
        self.record.message = message
        self.phase(status, at)

    def save(self) -> None:
        """Rewrite ``run.json`` atomically; ``RunError`` naming the file and the reason (and
        noted in ``write_failures``) if it cannot be written. The reserve is not touched
        here: while Locust runs it would fill it; ``release_reserve`` before the last save.
        """
        text = json.dumps(self.record.to_record(), indent=2) + "\n"
        try:
            write_atomically(self.run_json, text)
        except OSError as exc:
            message = write_failure(self.run_json, exc)
            self.note_write_failure(message)
            raise RunError(message, path=self.run_json) from None

    def write_scenario(self, redacted: dict[str, Any], comment: Sequence[str] = ()) -> Path:
        """Save the resolved scenario with secrets replaced by their ``${VAR}`` names;
        ``comment`` lines go first, as YAML comments (how the command line changed it)."""
        target = self.path / "scenario.yaml"
        text = yaml.safe_dump(redacted, sort_keys=False, allow_unicode=True)
        lines = (line.replace("\r", "\\r").replace("\n", "\\n") for line in comment)
        text = "".join(f"# {line}\n" for line in lines) + text
        target.write_text(text, encoding="utf-8")
        return target


class SessionFolder(RunFolder):
    """A web-UI session's folder: ``session.json`` (a ``RunRecord`` of the session: its
    phases, how it ended, ``session["runs"]``) beside the session's whole Locust log; each
    start in the UI is a run folder of its own beside it (``<session>-1``, ``<session>-2``)."""

    file_name: ClassVar[str] = SESSION_FILE


def create_run_folder(
    reports_dir: Path,
    run_id: str,
    record: RunRecord,
    *,
    started: datetime,
    adopt: bool = False,
    kind: type[RunFolder] = RunFolder,
) -> RunFolder:
    """Make ``reports_dir/run_id`` (never outside ``reports_dir``, never reusing a folder).

    ``adopt`` takes a folder that exists already but holds no record yet (the Locust master
    of a web-UI session makes each run's folder, with its timeline, and ``swarm run`` then
    writes its ``run.json``). ``kind`` is ``SessionFolder`` for a session.
    """
    try:
        validate_run_id(run_id)
    except ValueError as exc:
        raise UsageError(str(exc), flag="--run-id", value=run_id) from None
    root = reports_dir.resolve()
    target = (root / run_id).resolve()
    if target.parent != root:
        raise RunError(f"run id {run_id!r} would leave the reports folder {root}", path=target)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        what = "is a file" if isinstance(exc, FileExistsError) else "is inside a file"
        raise UsageError(
            f"reports folder {root} {what}, not a folder; give --out a folder",
            flag="--out",
            value=str(reports_dir),
        ) from None
    except OSError as exc:
        raise RunError(f"cannot create reports folder {root}: {exc.strerror}", path=root) from None
    try:
        target.mkdir(exist_ok=adopt)
        if adopt and (target / kind.file_name).exists():
            raise FileExistsError(target)
    except FileExistsError:
        raise RunError(
            f"run folder {target} already exists; choose another --run-id", path=target
        ) from None
    except OSError as exc:
        raise RunError(f"cannot create run folder {target}: {exc.strerror}", path=target) from None
    record.started_at = _utc_iso(started)
    folder = kind(target, record)
    folder.save()
    with contextlib.suppress(OSError):  # no reserve on a disk already full: save() said so
        (target / RESERVE_FILE).write_bytes(bytes(RESERVE_BYTES))
    return folder


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (unix s), or ``None`` if it is gone (or a zombie)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except psutil.Error:
        return None


def swarm_process() -> dict[str, Any]:
    """This process as ``run.json``'s ``swarm_process``: ``{pid, host, started}``."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": _process_started(pid)}


def swarm_process_gone(record: RunRecord) -> bool:
    """Whether the swarm process that ran ``record`` has ended, as far as this host can tell.

    ``False`` when it cannot tell: no process recorded (an older run.json) or another host.
    A live process with the recorded pid but another start time is a reused pid: gone.
    """
    owner = record.swarm_process
    pid, started = owner.get("pid"), owner.get("started")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    if owner.get("host") != socket.gethostname():
        return False
    now_started = _process_started(pid)
    if now_started is None:
        return True
    return isinstance(started, int | float) and abs(now_started - started) > _SAME_START_S


def settle_abandoned(run_dir: Path, *, now: datetime | None = None) -> RunRecord | None:
    """Record a run whose swarm process died without finishing it as ``interrupted``.

    A run's ``run.json`` says ``running`` (or another ``ACTIVE_STATUSES``) until swarm
    finishes it; if swarm was SIGKILLed, nothing ever will. When the recorded process is
    gone, the run ends ``interrupted`` with exit code 130, at the last time anything in its
    folder was written. Returns the new record, or ``None`` when there was nothing to do
    (or ``run.json`` is unreadable, or another command rewrote it first).
    """
    try:
        record = read_run_record(run_dir)
    except ReportError:
        return None
    if record.status not in ACTIVE_STATUSES or not swarm_process_gone(record):
        return None
    last_write = max(
        (
            entry.stat().st_mtime
            for entry in Path(run_dir).iterdir()
            if entry.is_file() and entry.name != RESERVE_FILE  # made with the folder
        ),
        default=None,
    )
    ended = datetime.fromtimestamp(last_write, UTC) if last_write else (now or datetime.now(UTC))
    message = (
        f"swarm (pid {record.swarm_process['pid']}) ended without finishing the run "
        "(killed?); a later swarm command found it gone and recorded the run as interrupted"
    )
    folder = RunFolder(Path(run_dir), record)
    with contextlib.suppress(OSError):  # another command settling it at the same moment
        folder.finish("interrupted", ExitCode.INTERRUPTED, ended, message)
        return folder.record
    return None
