"""What the organizer's desk does, for the API and the pages alike.

Every operation takes the workspace's ids and uploaded bytes, never a path:
nothing a request says names a file. Uploaded spreadsheets are written to a
private temporary folder, under fixed names, only for the importer to read, and
the folder is removed afterwards; problems are reported under the uploaded
file's name (``buyers.xlsx:4:C: problem``), not the temporary path.

A bad upload raises InputError (``error.lines()``: one ``file:row:column:
problem`` line each) and stores nothing.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..analysis.diff import diff_schedules
from ..errors import InputError, MatchmakerError, Problem, ScenarioError
from ..io.export import FORMATS
from ..spec.scenario import Scenario, parse_scenario
from ..spec.schedule import Schedule
from . import edits
from .edits import FairReport, HandEdit, ScenarioComparison
from .jobs import JobRunner
from .workspace import (
    Conflict,
    Event,
    Job,
    JobConflict,
    NotFound,
    ScheduleVersion,
    Workspace,
)

SCENARIO_FIELD = "scenario"
IMPORT_FIELDS = ("event", "buyers", "exhibitors", "requests", "blocked")
REQUIRED_IMPORT_FIELDS = ("event", "buyers", "exhibitors")
UPLOAD_FIELDS = (SCENARIO_FIELD, *IMPORT_FIELDS)
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt")
MAX_LABEL_CHARS = 120
MAX_SOURCE_CHARS = 500

Policy = Literal["keep", "minimal", "full"]

EXPORT_MEDIA = {
    "ics": ("application/zip", "calendars.zip"),
    "agendas": ("application/zip", "agendas.zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "schedule.xlsx"),
    "csv": ("text/csv; charset=utf-8", "meetings.csv"),
    "html": ("text/html; charset=utf-8", "report.html"),
}


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser gave (a label only, never a path) and its bytes."""

    filename: str | None
    data: bytes


@dataclass
class Imported:
    """A validated scenario from an upload, with the text to store and the import's warnings."""

    scenario: Scenario
    text: str
    source: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exported:
    data: bytes
    media_type: str
    filename: str  # made of ids only: safe in a Content-Disposition header


def upload_label(filename: str | None, fallback: str) -> str:
    """The name to show for an uploaded file: its base name, printable, short; ``fallback`` if none."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_LABEL_CHARS] or fallback


def _problem(label: str, message: str) -> InputError:
    return InputError([Problem("", message)], label)


# --------------------------------------------------------------------------------------------
# Reading uploads
# --------------------------------------------------------------------------------------------


def read_upload(uploads: Mapping[str, Upload | None]) -> Imported:
    """A scenario from either a scenario JSON file or event TOML + spreadsheets; InputError if unusable."""
    given = {name: upload for name, upload in uploads.items() if upload is not None}
    unknown = sorted(set(given) - set(UPLOAD_FIELDS))
    if unknown:
        raise InputError([Problem("", f"unknown upload field {name!r}") for name in unknown], "upload")
    if SCENARIO_FIELD in given:
        others = sorted(set(given) - {SCENARIO_FIELD})
        if others:
            raise InputError(
                [Problem("", f"send either a scenario file or event + spreadsheets, not both (also got {', '.join(others)})")],
                "upload",
            )
        return _read_scenario_json(given[SCENARIO_FIELD])
    missing = [name for name in REQUIRED_IMPORT_FIELDS if name not in given]
    if missing:
        raise InputError(
            [
                Problem(
                    "",
                    "send a scenario file (field 'scenario'), or an event file with buyers and exhibitors spreadsheets "
                    f"(fields 'event', 'buyers', 'exhibitors'; optional 'requests', 'blocked'); missing: {', '.join(missing)}",
                )
            ],
            "upload",
        )
    return _import_spreadsheets(given)


def _read_scenario_json(upload: Upload) -> Imported:
    label = upload_label(upload.filename, "scenario.json")
    try:
        text = upload.data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _problem(label, f"not UTF-8 text: {error}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise _problem(label, "JSON is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise ScenarioError([Problem(f"line {error.lineno} column {error.colno}", f"malformed JSON: {error.msg}")], label) from None
    scenario = parse_scenario(data, label)
    return Imported(scenario, text, f"upload {label}")


def _spreadsheet_suffix(upload: Upload) -> str:
    suffix = Path(upload_label(upload.filename, "")).suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        return suffix  # an unsupported one is reported by the importer, under the upload's name
    return ".xlsx" if upload.data[:2] == b"PK" else ".csv"


def _import_spreadsheets(given: Mapping[str, Upload]) -> Imported:
    from ..io.importer import ImportFileError, ImportProblem, import_scenario

    labels: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="matchmaker-upload-") as folder:
        base = Path(folder)
        paths: dict[str, Path] = {}
        for name in IMPORT_FIELDS:
            upload = given.get(name)
            if upload is None:
                continue
            suffix = ".toml" if name == "event" else _spreadsheet_suffix(upload)
            path = base / f"{name}{suffix}"  # fixed names: nothing from the request reaches the file system
            path.write_bytes(upload.data)
            paths[name] = path
            labels[str(path)] = upload_label(upload.filename, path.name)

        def shown(text: str) -> str:
            for temporary, label in labels.items():
                text = text.replace(temporary, label)
            return text.replace(str(base) + "/", "").replace(str(base), "upload")

        def relabel(problem: ImportProblem) -> ImportProblem:
            return ImportProblem(shown(problem.file), problem.where, shown(problem.message), problem.order)

        try:
            result = import_scenario(paths["event"], paths["buyers"], paths["exhibitors"], paths.get("requests"), paths.get("blocked"))
        except ImportFileError as error:
            raise ImportFileError([relabel(p) for p in error.import_problems]) from None
        except InputError as error:
            raise InputError([Problem(p.path, shown(p.message)) for p in error.problems], shown(error.file or "upload")) from None
        warnings = [relabel(w).render() for w in result.warnings]
    text = json.dumps(result.to_json_data(), indent=1, ensure_ascii=False) + "\n"
    source = "import " + ", ".join(labels.values())
    return Imported(result.scenario, text, source, warnings)


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


class Service:
    """The desk's operations over one workspace (and its job runner)."""

    def __init__(self, workspace: Workspace, runner: JobRunner | None = None):
        self.workspace = workspace
        self.runner = runner
        # Edits read the latest scenario version and store the next one: one at a time, so that
        # two edits at once cannot each build on the same version and lose the other's change.
        self._edit_lock = threading.Lock()

    # --- events and scenarios ---

    def events(self) -> list[Event]:
        return self.workspace.events()

    def create_event(self, uploads: Mapping[str, Upload | None]) -> tuple[int, int, list[str]]:
        """A new event from an upload: (event id, scenario version 1, import warnings)."""
        imported = read_upload(uploads)
        if not imported.scenario.name.strip():
            raise InputError([Problem("name", "an event needs a name")], imported.source.split(" ", 1)[-1])
        event_id, version = self.workspace.create_event(imported.scenario.name, imported.text, imported.source)
        return event_id, version, imported.warnings

    def add_scenario_version(self, event_id: int, uploads: Mapping[str, Upload | None]) -> tuple[int, list[str]]:
        """A new scenario version of an event (the same fair: its name must not change)."""
        event = self.workspace.event(event_id)  # 404 before reading the upload
        imported = read_upload(uploads)
        current = self.current_scenario(event_id)
        if imported.scenario.name != current.name:
            raise InputError(
                [Problem("name", f"the upload is for {imported.scenario.name!r}, not {current.name!r} (event {event.id}); "
                                 "create a new event for another fair")],
                imported.source.split(" ", 1)[-1],
            )
        version = self.workspace.add_scenario_version(event_id, imported.text, imported.source)
        return version, imported.warnings

    def scenario(self, event_id: int, version: int) -> Scenario:
        return parse_scenario(json.loads(self.workspace.scenario_json(event_id, version)), f"scenario version {version}")

    def current_scenario(self, event_id: int) -> Scenario:
        return self.scenario(event_id, self.workspace.latest_scenario_version(event_id).version)

    def event_summary(self, event_id: int) -> dict[str, Any]:
        ws = self.workspace
        event = ws.event(event_id)
        published = ws.latest_published(event_id)
        return {
            "id": event.id,
            "name": event.name,
            "created_at": event.created_at.isoformat(),
            "scenario_versions": [
                {"version": s.version, "source": s.source, "fingerprint": s.fingerprint, "sha256": s.sha256,
                 "created_at": s.created_at.isoformat()}
                for s in ws.scenario_versions(event_id)
            ],
            "schedule_versions": [schedule_summary(s) for s in ws.schedule_versions(event_id)],
            "latest_published": published.version if published else None,
            "jobs": [job_summary(j) for j in ws.jobs(event_id)],
        }

    # --- solving ---

    def start_solve(
        self,
        event_id: int,
        time_limit: float,
        seed: int = 0,
        policy: Policy = "keep",
        previous: int | None = None,
        max_changes_per_participant: int | None = None,
        freeze_before: str | None = None,
        during_fair: dict[str, Any] | None = None,
    ) -> int:
        """Queue a solve of the event's latest scenario (a re-plan against ``previous``, by default the
        latest published version when there is one); returns the job id. JobConflict while one is active.

        ``during_fair``: what the organizer reported (``start_during_fair``), kept in the job's params."""
        if self.runner is None:
            raise MatchmakerError("this desk does not run jobs")
        ws = self.workspace
        scenario_version = ws.latest_scenario_version(event_id).version
        if previous is None:
            published = ws.latest_published(event_id)
            previous = published.version if published is not None else None
        else:
            ws.schedule_version(event_id, previous)  # NotFound
        if freeze_before is not None:
            from ..solver.replan import Moment

            try:
                Moment.parse(freeze_before)
            except MatchmakerError as error:
                raise InputError([Problem("freeze_before", str(error).removeprefix("--freeze-before "))], "request") from None
        if previous is None and (policy != "keep" or max_changes_per_participant is not None or freeze_before):
            raise InputError(
                [Problem("", "policy, max_changes_per_participant and freeze_before need a previous schedule version")], "request"
            )
        params = {
            "scenario_version": scenario_version,
            "time_limit": float(time_limit),
            "seed": int(seed),
            "previous": previous,
            "policy": policy,
            "max_changes_per_participant": max_changes_per_participant,
            "freeze_before": freeze_before,
        }
        if during_fair is not None:
            params["during_fair"] = during_fair
        return self.runner.submit(event_id, "replan" if previous is not None else "solve", params)

    def stop_job(self, job_id: int) -> Job:
        if self.runner is None:
            return self.workspace.job(job_id)
        return self.runner.stop(job_id)

    def job(self, job_id: int) -> Job:
        return self.workspace.job(job_id)

    def start_during_fair(
        self,
        event_id: int,
        version: int,
        now: str,
        cancelled: list[tuple[str, str]],
        no_shows: list[tuple[str, str]],
        gone: list[tuple[str, str]],
        time_limit: float,
        seed: int = 0,
    ) -> Job:
        """Re-plan schedule ``version`` after what happened during the fair, freezing everything before ``now``.

        ``now``: 'YYYY-MM-DD HH:MM' (local time, a day of the fair); ``cancelled``: (buyer,
        exhibitor) meetings of the schedule that start at or after ``now`` and are called off;
        ``no_shows``: meetings that started before ``now`` without one side; ``gone``:
        (participant id, 'YYYY-MM-DD'): gone for the rest of that day. What each does to the
        scenario is in ``edits.during_fair``: cancelled pairs are blocked (never placed again),
        no-shows stay in the schedule as the past they are, the gone are made unavailable.

        A new scenario version (the latest one changed so) is stored when the scenario
        changes, then a re-plan job is queued: ``previous=version``, policy ``keep``,
        ``freeze_before=now`` (meetings before ``now`` never change and nothing new goes
        before it). Bad input raises InputError with one line per problem and stores
        nothing; an unfinished job of the event raises JobConflict before anything is stored.
        """
        if self.runner is None:
            raise MatchmakerError("this desk does not run jobs")
        ws = self.workspace
        ws.schedule_version(event_id, version)  # NotFound
        report = FairReport(now, tuple(cancelled), tuple(no_shows), tuple(gone))
        with self._edit_lock:
            self._no_active_job(event_id)
            base, data, scenario = self._latest_scenario(event_id)
            schedule = self._schedule(event_id, version)
            changes = edits.during_fair(data, scenario, schedule, report)
            if changes.scenario_data is not None:
                text = _scenario_text(changes.scenario_data)
                self._add_edited_scenario(event_id, base, text, f"{changes.summary} (schedule version {version})")
            note = {**report.to_json_data(), "musts_made_wants": [list(p) for p in changes.downgraded]}
            job_id = self.start_solve(
                event_id, time_limit, seed, "keep", previous=version, freeze_before=report.now.strip(), during_fair=note
            )
        return ws.job(job_id)

    # --- comparing and editing ---

    def compare_scenarios(self, event_id: int, old_version: int, new_version: int) -> ScenarioComparison:
        """Scenario ``new_version`` against ``old_version``: buyers, exhibitors (and brokerage
        participants) added, removed and changed, each change a short phrase, plus event-wide changes."""
        old = self.scenario(event_id, old_version)  # NotFound
        new = self.scenario(event_id, new_version)
        return edits.compare_scenarios(old, new, old_version, new_version)

    def default_comparison_base(self, event_id: int, version: int) -> int:
        """What a scenario version is compared against by default: the scenario version of the latest
        published schedule (what participants were told), else the version before; InputError for none."""
        self.workspace.scenario_version(event_id, version)  # NotFound
        published = self.workspace.latest_published(event_id)
        if published is not None:
            return published.scenario_version
        if version > 1:
            return version - 1
        raise InputError([Problem("against", "scenario version 1 has nothing before it and nothing is published; "
                                             "name a version to compare against")], "request")

    def edit_schedule(self, event_id: int, version: int, edit: HandEdit) -> ScheduleVersion:
        """Apply a hand edit to schedule ``version``; returns the new draft schedule version.

        Semantics per kind in ``edits.HandEdit``: ``pin`` / ``unpin`` add / remove the pair's
        pin (a new scenario version, meetings unchanged); ``block`` adds the pair to the
        blocked pairs (a new scenario version) and drops their meeting; ``move`` moves the
        meeting to ``date`` ``start`` (a new scenario version only when it was pinned: the
        pin moves along). The edit builds on the event's latest scenario version, so that
        no later upload is undone.

        Before anything is stored, the edited schedule is checked by the independent
        checker against the (new) scenario: a violation raises InputError, one
        ``rule: message`` line each, and nothing is stored. The new draft's parent is
        ``version``; it carries a change report (who must be told what), recomputed
        stats and explanations, and keeps the parent's upper bound when it still holds
        (not after an unpin, nor when the parent was made from an older scenario version).
        """
        ws = self.workspace
        record = ws.schedule_version(event_id, version)  # NotFound
        parent_text = ws.schedule_json(event_id, version)
        parent = self._schedule(event_id, version, parent_text)
        with self._edit_lock:
            base, data, scenario = self._latest_scenario(event_id)
            hint = None
            if record.scenario_version != base:
                hint = (f"schedule version {version} was made from scenario version {record.scenario_version}, and the "
                        f"latest is {base}: re-plan it against the latest scenario first")
            try:
                outcome = edits.apply_edit(data, scenario, parent, edit)
            except ScenarioError as error:  # the edited scenario is invalid (a pin where someone is away ...)
                if hint is None:
                    raise
                raise ScenarioError([*error.problems, Problem("", hint)], error.file) from None
            edits.check_edit(outcome.scenario, outcome.schedule, edit.label, hint)
            note = f"schedule version {version} edited by hand: {outcome.description}"
            schedule = edits.finish_schedule(
                outcome.schedule, outcome.scenario, parent, version, record.sha256,
                keep_bounds=edit.kind != "unpin" and record.scenario_version == base,
                touched={edit.buyer, edit.exhibitor}, note=note,
            )
            changes = diff_schedules(parent, schedule, outcome.reasons)
            # Everything is checked above; the scenario and the draft are stored in one transaction.
            text = _scenario_text(outcome.scenario_data) if outcome.scenario_data is not None else None
            source = f"hand edit of schedule version {version}: {outcome.description}"[:MAX_SOURCE_CHARS]
            _, new = ws.add_edited_versions(
                event_id, base, text, source, schedule.to_json(), parent=version, changes_json=changes.to_json()
            )
        return ws.schedule_version(event_id, new)

    def _latest_scenario(self, event_id: int) -> tuple[int, dict[str, Any], Scenario]:
        """The latest scenario version: its number, its stored JSON data and the parsed scenario."""
        base = self.workspace.latest_scenario_version(event_id).version
        data = json.loads(self.workspace.scenario_json(event_id, base))
        return base, data, parse_scenario(data, f"scenario version {base}")

    def _schedule(self, event_id: int, version: int, text: str | None = None) -> Schedule:
        return Schedule.model_validate_json(text if text is not None else self.workspace.schedule_json(event_id, version))

    def _add_edited_scenario(self, event_id: int, base: int, text: str, source: str) -> int:
        """Store an edited scenario as the next version; Conflict if a version was added after ``base``
        (an upload meanwhile), which the edit would silently undo."""
        latest = self.workspace.latest_scenario_version(event_id).version
        if latest != base:
            raise Conflict(f"event {event_id}: scenario version {latest} was added meanwhile; make the change again on it")
        return self.workspace.add_scenario_version(event_id, text, source[:MAX_SOURCE_CHARS])

    def _no_active_job(self, event_id: int) -> None:
        for job in self.workspace.jobs(event_id):
            if job.active:
                raise JobConflict(event_id, job.id)

    # --- schedules ---

    def schedule_json(self, event_id: int, version: int) -> str:
        return self.workspace.schedule_json(event_id, version)

    def publish(self, event_id: int, version: int) -> ScheduleVersion:
        return self.workspace.publish(event_id, version)

    def changes_json(self, event_id: int, version: int) -> str:
        text = self.workspace.schedule_changes(event_id, version)
        if text is None:
            raise NotFound(f"schedule version {version} of event {event_id} is not a re-plan: it has no change report")
        return text

    def export(self, event_id: int, version: int, fmt: str) -> Exported:
        """One export format as bytes; ``ics`` and ``agendas``: every calendar or agenda page in one zip.

        Calendars of a re-plan are exported after its ancestors' (parent
        versions) into the same private folder, so a moved meeting keeps its UID
        and gets a higher SEQUENCE, as ``matchmaker export`` into one folder does.
        """
        from ..io.export import export_schedule
        from ..spec.schedule import Schedule

        if fmt not in FORMATS:
            raise NotFound(f"no export format {fmt!r} (choose from {', '.join(FORMATS)})")
        ws = self.workspace
        chain = [ws.schedule_version(event_id, version)]
        if fmt == "ics":
            seen = {version}
            while chain[0].parent is not None and chain[0].parent not in seen:
                seen.add(chain[0].parent)
                chain.insert(0, ws.schedule_version(event_id, chain[0].parent))
        media_type, name = EXPORT_MEDIA[fmt]
        with tempfile.TemporaryDirectory(prefix="matchmaker-export-") as folder:
            out = Path(folder)
            written: list[Path] = []
            for record in chain:
                schedule = Schedule.model_validate_json(ws.schedule_json(event_id, record.version))
                scenario = self.scenario(event_id, record.scenario_version)
                written = export_schedule(
                    schedule, scenario, [fmt], out, schedule_file=f"schedule version {record.version}", allow_other_event=True
                )
            if fmt in ("ics", "agendas"):  # one file per participant: all of them in one zip
                data = _zip(out, sorted(written))
            else:
                data = written[0].read_bytes()
        return Exported(data, media_type, f"event-{event_id}-schedule-{version}-{name}")


def _scenario_text(data: dict[str, Any]) -> str:
    """A scenario version's text, written as the importer writes it."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _zip(root: Path, files: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# JSON views
# --------------------------------------------------------------------------------------------


def schedule_summary(s: ScheduleVersion) -> dict[str, Any]:
    return {
        "version": s.version,
        "scenario_version": s.scenario_version,
        "status": s.status,
        "parent": s.parent,
        "has_changes": s.has_changes,
        "sha256": s.sha256,
        "created_at": s.created_at.isoformat(),
        "published_at": s.published_at.isoformat() if s.published_at else None,
    }


def job_summary(job: Job) -> dict[str, Any]:
    """A job as the API shows it. ``progress.gap_of`` says what the gap measures: ``schedule`` (the
    schedule's meeting value against its upper bound, as stats.gap_percent) once the job has a schedule,
    ``solver`` (CP-SAT's internal objective against its bound) while it runs."""
    progress = None
    if job.progress is not None:
        p = job.progress
        progress = {
            "stage": p.stage,
            "seconds": p.seconds,
            "value": p.value,
            "bound": p.bound,
            "gap_percent": p.gap_percent,
            "gap_of": None if p.gap_percent is None else ("schedule" if p.value is not None else "solver"),
        }
    return {
        "id": job.id,
        "event": job.event_id,
        "kind": job.kind,
        "status": job.status,
        "params": job.params,
        "progress": progress,
        "schedule_version": job.schedule_version,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
