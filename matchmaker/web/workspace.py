"""The event workspace: one SQLite file holding events, their versions and solve jobs.

Layout: ``<workspace dir>/workspace.sqlite3`` (the folder defaults to
``./matchmaker-workspace`` and is created if missing), plus
``workspace.sqlite3.runner-lock``, an advisory lock held by the process that
runs jobs (see "Jobs" below).

History is append-only. A scenario version and a schedule version keep their
text forever; a version number names one text for good (numbers are 1, 2, ...
per event, allocated inside the inserting transaction, never reused because
versions are never deleted). Publishing flips a draft's status; a published
version can be neither changed nor deleted. SQL triggers enforce this too, so
even a hand-typed ``UPDATE`` or ``DELETE`` fails.

Concurrency: the connection runs in autocommit mode; every state change is one
explicit ``BEGIN IMMEDIATE`` transaction (writers queue on SQLite's busy
timeout), every multi-statement read one deferred transaction (a consistent
snapshot; WAL lets readers run beside a writer). One ``Workspace`` may be shared
by the threads of a process: a lock serialises their use of the connection.

Jobs: at most one queued or running job per event (``JobConflict`` otherwise,
and a partial unique index as backstop). The first ``Workspace`` to open a
folder takes the runner lock (``flock``; the kernel drops it when the process
dies, even on ``kill -9``) and marks every job still queued or running as
``interrupted``: whoever held the lock before is gone. A process that opens the
workspace while another holds the lock (a CLI beside a running server) leaves
the jobs alone and cannot start jobs itself, so a live server's jobs are never
marked interrupted and every running job belongs to a live runner.

Schema changes: ``MIGRATIONS`` lists SQL scripts; script ``i`` brings the file
from ``PRAGMA user_version`` ``i`` to ``i + 1``. Opening applies the missing
ones in one transaction; a file from a newer matchmaker is refused. Append
scripts, never edit the released ones.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Self, get_args

from ..errors import (
    DifferentEventError,
    MatchmakerError,
    Problem,
    ScenarioError,
    ScheduleFileError,
)
from ..spec.scenario import parse_scenario, validation_problems
from ..spec.schedule import Schedule

try:  # POSIX; elsewhere every opener is a runner (see _take_runner_lock)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_DIR = Path("matchmaker-workspace")
DB_NAME = "workspace.sqlite3"
LOCK_NAME = DB_NAME + ".runner-lock"
APPLICATION_ID = 0x4D4D5753  # "MMWS" in the SQLite header: this file is a matchmaker workspace
BUSY_TIMEOUT_SECONDS = 10.0
INTERRUPTED_ERROR = "the server stopped during this job"

Status = Literal["draft", "published"]
JobKind = Literal["solve", "replan"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
ACTIVE_JOB_STATUSES = ("queued", "running")
FINAL_JOB_STATUSES = ("done", "failed", "cancelled")  # the ones finish_job sets

# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------

_SCHEMA_1 = f"""
PRAGMA application_id = {APPLICATION_ID};

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) > 0),
    created_at  TEXT NOT NULL
);

CREATE TABLE scenario_versions (
    event_id    INTEGER NOT NULL REFERENCES events (id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    json        TEXT NOT NULL,               -- the text as uploaded or imported, byte for byte
    fingerprint TEXT NOT NULL,               -- Scenario.fingerprint(): what schedule.scenario.sha256 names
    sha256      TEXT NOT NULL,               -- sha256 of the text's UTF-8 bytes
    source      TEXT NOT NULL CHECK (length(source) > 0),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (event_id, version)
);

CREATE TABLE schedule_versions (
    event_id          INTEGER NOT NULL REFERENCES events (id),
    version           INTEGER NOT NULL CHECK (version >= 1),
    scenario_version  INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    json              TEXT NOT NULL,
    sha256            TEXT NOT NULL,         -- sha256 of the text's UTF-8 bytes
    parent_version    INTEGER CHECK (parent_version IS NULL OR parent_version < version),
    changes_json      TEXT,                  -- the change report of a re-plan
    created_at        TEXT NOT NULL,
    published_at      TEXT,
    PRIMARY KEY (event_id, version),
    FOREIGN KEY (event_id, scenario_version) REFERENCES scenario_versions (event_id, version),
    FOREIGN KEY (event_id, parent_version) REFERENCES schedule_versions (event_id, version),
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    event_id          INTEGER NOT NULL REFERENCES events (id),
    kind              TEXT NOT NULL CHECK (kind IN ('solve', 'replan')),
    params_json       TEXT NOT NULL DEFAULT '{{}}',
    status            TEXT NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    progress_json     TEXT,                  -- {{stage, seconds, value, bound, gap_percent}}
    schedule_version  INTEGER,
    error             TEXT,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    FOREIGN KEY (event_id, schedule_version) REFERENCES schedule_versions (event_id, version),
    CHECK ((status IN ('queued', 'running')) = (finished_at IS NULL))
);

CREATE UNIQUE INDEX jobs_one_active_per_event ON jobs (event_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_event ON jobs (event_id, id);

CREATE TRIGGER events_kept BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events cannot be deleted: their versions are kept');
END;

CREATE TRIGGER scenario_versions_immutable BEFORE UPDATE ON scenario_versions
BEGIN
    SELECT RAISE(ABORT, 'scenario versions cannot be changed: add a new version');
END;

CREATE TRIGGER scenario_versions_kept BEFORE DELETE ON scenario_versions
BEGIN
    SELECT RAISE(ABORT, 'scenario versions cannot be deleted');
END;

CREATE TRIGGER schedule_published_frozen BEFORE UPDATE ON schedule_versions
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'published schedule versions cannot be changed');
END;

CREATE TRIGGER schedule_draft_text_immutable
BEFORE UPDATE OF event_id, version, scenario_version, json, sha256, parent_version, changes_json, created_at
ON schedule_versions
WHEN OLD.status <> 'published'
BEGIN
    SELECT RAISE(ABORT, 'schedule versions cannot be changed: add a new version');
END;

CREATE TRIGGER schedule_published_kept BEFORE DELETE ON schedule_versions
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'published schedule versions cannot be deleted');
END;

CREATE TRIGGER schedule_draft_kept BEFORE DELETE ON schedule_versions
WHEN OLD.status <> 'published'
BEGIN
    SELECT RAISE(ABORT, 'schedule versions cannot be deleted: version numbers are never reused');
END;

CREATE TRIGGER jobs_finished_frozen BEFORE UPDATE ON jobs
WHEN OLD.status NOT IN ('queued', 'running')
BEGIN
    SELECT RAISE(ABORT, 'finished jobs cannot be changed');
END;
"""

MIGRATIONS: tuple[str, ...] = (_SCHEMA_1,)
SCHEMA_VERSION = len(MIGRATIONS)

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class WorkspaceError(MatchmakerError):
    """The workspace file cannot be used: not a workspace, too new, closed, busy."""


class WorkspaceBusy(WorkspaceError):
    """Another process held the write lock for longer than the busy timeout (an API answers 503)."""


class NotFound(MatchmakerError):
    """An unknown event, version or job id (an API answers 404)."""


class Conflict(MatchmakerError):
    """The request clashes with the workspace's current state (an API answers 409)."""


class JobConflict(Conflict):
    """The event already has a queued or running job."""

    def __init__(self, event_id: int, job_id: int):
        self.event_id = event_id
        self.job_id = job_id
        super().__init__(f"event {event_id} already has an unfinished job ({job_id})")


class JobStateError(Conflict):
    """A job is not in a state that allows this step (e.g. progress on an interrupted job)."""


class PublishConflict(Conflict):
    """Publishing a draft older than the latest published version."""


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ScenarioVersion:
    event_id: int
    version: int
    fingerprint: str  # Scenario.fingerprint() of the parsed text
    sha256: str  # of the stored text's UTF-8 bytes
    source: str
    created_at: datetime


@dataclass(frozen=True)
class ScheduleVersion:
    event_id: int
    version: int
    scenario_version: int
    status: Status
    sha256: str  # of the stored text's UTF-8 bytes
    parent: int | None
    has_changes: bool
    created_at: datetime
    published_at: datetime | None

    @property
    def published(self) -> bool:
        return self.status == "published"


@dataclass(frozen=True)
class Progress:
    """How far a running solve is; every field optional."""

    stage: str | None = None
    seconds: float | None = None
    value: float | None = None
    bound: float | None = None
    gap_percent: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True, allow_nan=False)


@dataclass(frozen=True)
class Job:
    id: int
    event_id: int
    kind: JobKind
    params_json: str
    status: JobStatus
    progress: Progress | None
    schedule_version: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.params_json)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


# --------------------------------------------------------------------------------------------
# The workspace
# --------------------------------------------------------------------------------------------


class Workspace:
    """One open workspace. Use ``Workspace.open(folder)``, as a context manager or with ``close()``."""

    def __init__(self, folder: Path, conn: sqlite3.Connection, runner_lock: IO[bytes] | None, recovered: tuple[int, ...]):
        self.folder = folder
        self.path = folder / DB_NAME
        self._conn: sqlite3.Connection | None = conn
        self._runner_lock = runner_lock
        self._lock = threading.RLock()
        #: ids of the jobs this open marked interrupted
        self.recovered = recovered

    # --- opening and closing ---

    @classmethod
    def open(cls, folder: str | os.PathLike[str] | None = None) -> Workspace:
        """Open (creating or migrating if needed) the workspace in ``folder`` (default ./matchmaker-workspace)."""
        folder = Path(folder) if folder is not None else DEFAULT_DIR
        if folder.exists() and not folder.is_dir():
            raise WorkspaceError(f"{folder}: not a folder (a workspace is a folder holding {DB_NAME})")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise WorkspaceError(f"{folder}: cannot create the workspace folder: {error}") from None
        path = folder / DB_NAME
        conn = _connect(path)
        runner_lock = None
        try:
            _migrate(conn, MIGRATIONS, str(path))
            runner_lock = _take_runner_lock(folder / LOCK_NAME)
            recovered = _interrupt_leftover_jobs(conn, str(path)) if runner_lock is not None else ()
        except BaseException:
            conn.close()
            if runner_lock is not None:
                runner_lock.close()
            raise
        return cls(folder, conn, runner_lock, recovered)

    @property
    def runs_jobs(self) -> bool:
        """True when this process holds the runner lock (it may start jobs)."""
        return self._runner_lock is not None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._runner_lock is not None:
                self._runner_lock.close()  # releases the flock
                self._runner_lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- events and scenario versions ---

    def create_event(self, name: str, scenario_json: str | bytes, source: str) -> tuple[int, int]:
        """A new event with its first scenario version; returns (event id, 1)."""
        name = name.strip()
        if not name:
            raise ValueError("an event needs a name")
        text, fingerprint = _scenario_text(scenario_json, source)
        with self._write() as conn:
            now = _now()
            event_id = conn.execute("INSERT INTO events (name, created_at) VALUES (?, ?)", (name, now)).lastrowid
            version = self._insert_scenario(conn, event_id, text, fingerprint, source, now)
        return event_id, version

    def add_scenario_version(self, event_id: int, scenario_json: str | bytes, source: str) -> int:
        """Store a new scenario version of an event; returns its number."""
        text, fingerprint = _scenario_text(scenario_json, source)
        with self._write() as conn:
            _require_event(conn, event_id)
            return self._insert_scenario(conn, event_id, text, fingerprint, source, _now())

    @staticmethod
    def _insert_scenario(conn: sqlite3.Connection, event_id: int, text: str, fingerprint: str, source: str, now: str) -> int:
        version = _next_version(conn, "scenario_versions", event_id)
        conn.execute(
            "INSERT INTO scenario_versions (event_id, version, json, fingerprint, sha256, source, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, version, text, fingerprint, _sha256(text), source, now),
        )
        return version

    def events(self) -> list[Event]:
        with self._read() as conn:
            return [_event(row) for row in conn.execute("SELECT id, name, created_at FROM events ORDER BY id")]

    def event(self, event_id: int) -> Event:
        with self._read() as conn:
            return _event(_require_event(conn, event_id))

    def scenario_versions(self, event_id: int) -> list[ScenarioVersion]:
        with self._read() as conn:
            _require_event(conn, event_id)
            rows = conn.execute(
                f"SELECT {_SCENARIO_COLUMNS} FROM scenario_versions WHERE event_id = ? ORDER BY version", (event_id,)
            )
            return [_scenario_version(row) for row in rows]

    def scenario_version(self, event_id: int, version: int) -> ScenarioVersion:
        with self._read() as conn:
            return _scenario_version(_require_scenario(conn, event_id, version, _SCENARIO_COLUMNS))

    def scenario_json(self, event_id: int, version: int) -> str:
        """The stored scenario text, exactly as it was added."""
        with self._read() as conn:
            return _require_scenario(conn, event_id, version, "json")[0]

    def latest_scenario_version(self, event_id: int) -> ScenarioVersion:
        with self._read() as conn:
            _require_event(conn, event_id)
            row = conn.execute(
                f"SELECT {_SCENARIO_COLUMNS} FROM scenario_versions WHERE event_id = ? ORDER BY version DESC LIMIT 1",
                (event_id,),
            ).fetchone()
            return _scenario_version(row)  # create_event always stores version 1

    # --- schedule versions ---

    def add_schedule_version(
        self,
        event_id: int,
        scenario_version: int,
        schedule_json: str | bytes,
        parent: int | None = None,
        changes_json: str | None = None,
    ) -> int:
        """Store a draft schedule solved from ``scenario_version`` (re-planned from ``parent``); returns its number.

        The text must be a valid schedule.json made from that scenario version
        (its ``scenario.sha256`` is the scenario's fingerprint); it is stored
        byte for byte.
        """
        text, schedule, changes_json = _schedule_texts(schedule_json, changes_json)
        with self._write() as conn:
            _require_event(conn, event_id)
            return self._insert_schedule(conn, event_id, scenario_version, text, schedule, parent, changes_json)

    def add_edited_versions(
        self,
        event_id: int,
        base_scenario_version: int,
        scenario_json: str | None,
        source: str,
        schedule_json: str,
        parent: int,
        changes_json: str | None = None,
    ) -> tuple[int, int]:
        """A hand edit, in one transaction: the edited scenario (if any) as the next scenario version and the
        schedule made from it as a draft; returns (scenario version, schedule version).

        Conflict, and nothing stored, when a scenario version was added after ``base_scenario_version``
        (an upload meanwhile, which the edit would silently undo).
        """
        text, schedule, changes_json = _schedule_texts(schedule_json, changes_json)
        scenario = _scenario_text(scenario_json, source) if scenario_json is not None else None
        with self._write() as conn:
            _require_event(conn, event_id)
            latest = conn.execute(
                "SELECT MAX(version) FROM scenario_versions WHERE event_id = ?", (event_id,)
            ).fetchone()[0]
            if latest != base_scenario_version:
                raise Conflict(f"event {event_id}: scenario version {latest} was added meanwhile; make the change again on it")
            scenario_version = base_scenario_version
            if scenario is not None:
                scenario_version = self._insert_scenario(conn, event_id, scenario[0], scenario[1], source, _now())
            version = self._insert_schedule(conn, event_id, scenario_version, text, schedule, parent, changes_json)
            return scenario_version, version

    @staticmethod
    def _insert_schedule(
        conn: sqlite3.Connection, event_id: int, scenario_version: int, text: str, schedule: Schedule,
        parent: int | None, changes_json: str | None,
    ) -> int:
        fingerprint = _require_scenario(conn, event_id, scenario_version, "fingerprint")[0]
        if schedule.scenario.sha256 != fingerprint:
            raise DifferentEventError(
                f"the schedule was made from another scenario (sha256 {schedule.scenario.sha256[:12]}…),"
                f" not from scenario version {scenario_version} of event {event_id} ({fingerprint[:12]}…)"
            )
        if parent is not None:
            _require_schedule(conn, event_id, parent, "version")
        version = _next_version(conn, "schedule_versions", event_id)
        conn.execute(
            "INSERT INTO schedule_versions"
            " (event_id, version, scenario_version, status, json, sha256, parent_version, changes_json, created_at)"
            " VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?)",
            (event_id, version, scenario_version, text, _sha256(text), parent, changes_json, _now()),
        )
        return version

    def schedule_versions(self, event_id: int) -> list[ScheduleVersion]:
        with self._read() as conn:
            _require_event(conn, event_id)
            rows = conn.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedule_versions WHERE event_id = ? ORDER BY version", (event_id,)
            )
            return [_schedule_version(row) for row in rows]

    def schedule_version(self, event_id: int, version: int) -> ScheduleVersion:
        with self._read() as conn:
            return _schedule_version(_require_schedule(conn, event_id, version, _SCHEDULE_COLUMNS))

    def schedule_json(self, event_id: int, version: int) -> str:
        """The stored schedule text, exactly as it was added."""
        with self._read() as conn:
            return _require_schedule(conn, event_id, version, "json")[0]

    def schedule_changes(self, event_id: int, version: int) -> str | None:
        """The change report stored with a re-planned version, or None."""
        with self._read() as conn:
            return _require_schedule(conn, event_id, version, "changes_json")[0]

    def publish(self, event_id: int, version: int) -> ScheduleVersion:
        """Mark a draft published. Publishing a published version again changes nothing.

        Raises PublishConflict for a draft older than the latest published
        version: participants have seen the newer one (to go back, add the old
        text as a new version and publish that).
        """
        with self._write() as conn:
            status = _require_schedule(conn, event_id, version, "status")[0]
            if status == "draft":
                latest = conn.execute(
                    "SELECT max(version) FROM schedule_versions WHERE event_id = ? AND status = 'published'", (event_id,)
                ).fetchone()[0]
                if latest is not None and latest > version:
                    raise PublishConflict(
                        f"event {event_id}: version {version} is older than the published version {latest}"
                    )
                conn.execute(
                    "UPDATE schedule_versions SET status = 'published', published_at = ?"
                    " WHERE event_id = ? AND version = ? AND status = 'draft'",
                    (_now(), event_id, version),
                )
            return _schedule_version(_require_schedule(conn, event_id, version, _SCHEDULE_COLUMNS))

    def latest_published(self, event_id: int) -> ScheduleVersion | None:
        """The highest published version of an event, or None."""
        with self._read() as conn:
            _require_event(conn, event_id)
            row = conn.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedule_versions WHERE event_id = ? AND status = 'published'"
                " ORDER BY version DESC LIMIT 1",
                (event_id,),
            ).fetchone()
            return _schedule_version(row) if row is not None else None

    # --- jobs ---

    def create_job(self, event_id: int, kind: JobKind, params: Mapping[str, Any] | None = None) -> int:
        """Queue a job; raises JobConflict while the event has a queued or running job."""
        if kind not in get_args(JobKind):
            raise ValueError(f"unknown job kind {kind!r} (expected one of {', '.join(get_args(JobKind))})")
        params_json = json.dumps(dict(params or {}), sort_keys=True, allow_nan=False)
        with self._write() as conn:
            _require_event(conn, event_id)
            active = conn.execute(
                "SELECT id FROM jobs WHERE event_id = ? AND status IN ('queued', 'running')", (event_id,)
            ).fetchone()
            if active is not None:
                raise JobConflict(event_id, active[0])
            return conn.execute(
                "INSERT INTO jobs (event_id, kind, params_json, status, created_at) VALUES (?, ?, ?, 'queued', ?)",
                (event_id, kind, params_json, _now()),
            ).lastrowid

    def start_job(self, job_id: int) -> Job:
        """queued → running. Only the process holding the runner lock may run jobs."""
        if not self.runs_jobs:
            raise WorkspaceError(f"{self.path}: another process runs this workspace's jobs")
        with self._write() as conn:
            _require_job_status(conn, job_id, ("queued",), "start")
            conn.execute("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", (_now(), job_id))
            return _job(_require_job(conn, job_id))

    def update_progress(self, job_id: int, progress: Progress | Mapping[str, Any]) -> None:
        """Record how far a running job is. JobStateError once the job is no longer running."""
        if not isinstance(progress, Progress):
            unknown = set(progress) - set(Progress.__dataclass_fields__)
            if unknown:
                raise ValueError(f"unknown progress fields: {', '.join(sorted(unknown))}")
            progress = Progress(**progress)
        for name in ("seconds", "value", "bound", "gap_percent"):
            number = getattr(progress, name)
            if number is not None and not (isinstance(number, int | float) and math.isfinite(number)):
                raise ValueError(f"progress {name} must be a finite number, got {number!r}")
        text = progress.to_json()
        with self._write() as conn:
            _require_job_status(conn, job_id, ("running",), "report progress on")
            conn.execute("UPDATE jobs SET progress_json = ? WHERE id = ?", (text, job_id))

    def finish_job(
        self,
        job_id: int,
        status: Literal["done", "failed", "cancelled"],
        schedule_version: int | None = None,
        error: str | None = None,
    ) -> Job:
        """running → done (naming the schedule version it made) | failed (with an error) | cancelled.

        A queued job can only be cancelled.
        """
        if status not in FINAL_JOB_STATUSES:
            raise ValueError(f"a job finishes as {', '.join(FINAL_JOB_STATUSES)}, not {status!r}")
        if status == "done" and schedule_version is None:
            raise ValueError("a done job names the schedule version it made")
        if status != "done" and schedule_version is not None:
            raise ValueError("only a done job names a schedule version")
        if status == "failed" and not error:
            raise ValueError("a failed job carries an error message")
        with self._write() as conn:
            allowed = ("queued", "running") if status == "cancelled" else ("running",)
            event_id = _require_job_status(conn, job_id, allowed, f"mark {status}")
            if schedule_version is not None:
                _require_schedule(conn, event_id, schedule_version, "version")
            conn.execute(
                "UPDATE jobs SET status = ?, schedule_version = ?, error = ?, finished_at = ? WHERE id = ?",
                (status, schedule_version, error, _now(), job_id),
            )
            return _job(_require_job(conn, job_id))

    def job(self, job_id: int) -> Job:
        with self._read() as conn:
            return _job(_require_job(conn, job_id))

    def jobs(self, event_id: int) -> list[Job]:
        """An event's jobs, oldest first."""
        with self._read() as conn:
            _require_event(conn, event_id)
            rows = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE event_id = ? ORDER BY id", (event_id,))
            return [_job(row) for row in rows]

    # --- transactions ---

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise WorkspaceError(f"{self.path}: the workspace is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One state change: BEGIN IMMEDIATE (takes the write lock up front, waits on the busy timeout) … COMMIT."""
        with self._lock:
            conn = self._connection()
            with _transaction(conn, "BEGIN IMMEDIATE", str(self.path)):
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs."""
        with self._lock:
            conn = self._connection()
            with _transaction(conn, "BEGIN", str(self.path)):
                yield conn


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_SCENARIO_COLUMNS = "event_id, version, fingerprint, sha256, source, created_at"
_SCHEDULE_COLUMNS = (
    "event_id, version, scenario_version, status, sha256, parent_version, changes_json IS NOT NULL, created_at, published_at"
)
_JOB_COLUMNS = (
    "id, event_id, kind, params_json, status, progress_json, schedule_version, error, created_at, started_at, finished_at"
)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise WorkspaceError(f"{path}: cannot open: {error}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise WorkspaceError(f"{path}: cannot switch to WAL mode (journal mode stays {mode}); use a local disk")
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise WorkspaceError(f"{path}: not a matchmaker workspace ({error})") from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str, label: str) -> Iterator[None]:
    try:
        conn.execute(begin)
    except sqlite3.OperationalError as error:
        raise WorkspaceBusy(f"{label}: the workspace is busy ({error}); try again") from None
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (``executescript`` would COMMIT first; migrations run in one transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""
    if any(line.strip() and not line.strip().startswith("--") for line in pending.splitlines()):
        raise ValueError(f"incomplete SQL statement in a migration: {pending.strip()[:80]!r}")


def _check_schema_version(conn: sqlite3.Connection, target: int, label: str) -> int:
    current = _user_version(conn)
    if current > target:
        raise WorkspaceError(
            f"{label}: made by a newer matchmaker (workspace schema {current}, this version knows up to {target});"
            " upgrade matchmaker to open it"
        )
    if current > 0 and conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise WorkspaceError(f"{label}: not a matchmaker workspace (another application's SQLite file)")
    return current


def _migrate(conn: sqlite3.Connection, migrations: Sequence[str], label: str) -> None:
    """Bring the file to ``len(migrations)``: apply the missing scripts in one transaction."""
    target = len(migrations)
    try:
        if _check_schema_version(conn, target, label) == target:
            return
        with _transaction(conn, "BEGIN IMMEDIATE", label):
            current = _check_schema_version(conn, target, label)  # again: another process may have migrated meanwhile
            if current == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise WorkspaceError(f"{label}: not a matchmaker workspace (it holds other tables)")
            for script in migrations[current:]:
                for statement in _statements(script):
                    conn.execute(statement)
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise WorkspaceError(f"{label}: migration to schema {target} broke a foreign key; nothing was changed")
            conn.execute(f"PRAGMA user_version = {int(target)}")
    except sqlite3.DatabaseError as error:
        raise WorkspaceError(f"{label}: cannot read or migrate the workspace ({error})") from None


def _take_runner_lock(path: Path) -> IO[bytes] | None:
    """The open lock file if this process is now the workspace's job runner, else None."""
    handle = open(path, "a+b")  # noqa: SIM115 - kept open while the workspace is
    if fcntl is None:  # pragma: no cover - no advisory locks: every opener recovers jobs
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process
        handle.close()
        return None
    return handle


def _interrupt_leftover_jobs(conn: sqlite3.Connection, label: str) -> tuple[int, ...]:
    with _transaction(conn, "BEGIN IMMEDIATE", label):
        ids = tuple(row[0] for row in conn.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY id"))
        conn.execute(
            "UPDATE jobs SET status = 'interrupted', finished_at = ?, error = ? WHERE status IN ('queued', 'running')",
            (_now(), INTERRUPTED_ERROR),
        )
    return ids


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: str | bytes, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"the {what} is not UTF-8 text: {error}") from None
    if not isinstance(value, str):
        raise TypeError(f"the {what} must be JSON text (str or bytes), not {type(value).__name__}")
    return value


def _scenario_text(value: str | bytes, source: str) -> tuple[str, str]:
    """The text and its Scenario.fingerprint(); ScenarioError if it is not a valid scenario."""
    if not source or not source.strip():
        raise ValueError("a scenario version needs a source (e.g. 'upload scenario.json')")
    text = _text(value, "scenario")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ScenarioError([Problem("", "JSON is nested too deeply")], source) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ScenarioError([Problem(where, f"malformed JSON: {error.msg}")], source) from None
    return text, parse_scenario(data, source).fingerprint()


def _schedule_texts(schedule_json: str | bytes, changes_json: str | None) -> tuple[str, Schedule, str | None]:
    """A schedule's text and model, and its change report's text (checked to be JSON)."""
    text = _text(schedule_json, "schedule")
    schedule = _parse_schedule(text)
    if changes_json is not None:
        changes_json = _text(changes_json, "change report")
        try:
            json.loads(changes_json)
        except ValueError as error:
            raise ValueError(f"the change report is not JSON: {error}") from None
    return text, schedule, changes_json


def _parse_schedule(text: str) -> Schedule:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ScheduleFileError([Problem("", "JSON is nested too deeply")], "schedule") from None
    except json.JSONDecodeError as error:
        raise ScheduleFileError(
            [Problem(f"line {error.lineno} column {error.colno}", f"malformed JSON: {error.msg}")], "schedule"
        ) from None
    try:
        return Schedule.model_validate(data)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        if hasattr(error, "errors"):
            raise ScheduleFileError(validation_problems(error), "schedule") from None  # type: ignore[arg-type]
        raise


def _next_version(conn: sqlite3.Connection, table: str, event_id: int) -> int:
    """max + 1, inside the caller's write transaction (the UNIQUE key backs it up)."""
    return conn.execute(f"SELECT coalesce(max(version), 0) + 1 FROM {table} WHERE event_id = ?", (event_id,)).fetchone()[0]


def _require_event(conn: sqlite3.Connection, event_id: int) -> tuple:
    row = conn.execute("SELECT id, name, created_at FROM events WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise NotFound(f"no event {event_id}")
    return row


def _require_scenario(conn: sqlite3.Connection, event_id: int, version: int, columns: str) -> tuple:
    sql = f"SELECT {columns} FROM scenario_versions WHERE event_id = ? AND version = ?"
    row = conn.execute(sql, (event_id, version)).fetchone()
    if row is None:
        _require_event(conn, event_id)
        raise NotFound(f"event {event_id} has no scenario version {version}")
    return row


def _require_schedule(conn: sqlite3.Connection, event_id: int, version: int, columns: str) -> tuple:
    sql = f"SELECT {columns} FROM schedule_versions WHERE event_id = ? AND version = ?"
    row = conn.execute(sql, (event_id, version)).fetchone()
    if row is None:
        _require_event(conn, event_id)
        raise NotFound(f"event {event_id} has no schedule version {version}")
    return row


def _require_job(conn: sqlite3.Connection, job_id: int) -> tuple:
    row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFound(f"no job {job_id}")
    return row


def _require_job_status(conn: sqlite3.Connection, job_id: int, allowed: tuple[str, ...], action: str) -> int:
    """The job's event id, or JobStateError if the job's status is not one of ``allowed``."""
    row = _require_job(conn, job_id)
    status = row[4]
    if status not in allowed:
        raise JobStateError(f"cannot {action} job {job_id}: it is {status}")
    return row[1]


def _event(row: tuple) -> Event:
    return Event(id=row[0], name=row[1], created_at=_time(row[2]))


def _scenario_version(row: tuple) -> ScenarioVersion:
    event_id, version, fingerprint, sha256, source, created_at = row
    return ScenarioVersion(event_id, version, fingerprint, sha256, source, _time(created_at))


def _schedule_version(row: tuple) -> ScheduleVersion:
    event_id, version, scenario_version, status, sha256, parent, has_changes, created_at, published_at = row
    return ScheduleVersion(
        event_id, version, scenario_version, status, sha256, parent, bool(has_changes),
        _time(created_at), _time(published_at),
    )


def _job(row: tuple) -> Job:
    job_id, event_id, kind, params_json, status, progress_json, schedule_version, error, created, started, finished = row
    progress = Progress(**json.loads(progress_json)) if progress_json is not None else None
    return Job(
        job_id, event_id, kind, params_json, status, progress, schedule_version, error,
        _time(created), _time(started), _time(finished),
    )
