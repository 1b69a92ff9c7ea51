"""The event workspace (matchmaker.web.workspace): real SQLite files in tmp_path, no mocks."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from matchmaker.errors import DifferentEventError, ScenarioError, ScheduleFileError
from matchmaker.spec.scenario import parse_scenario
from matchmaker.spec.schedule import ScenarioRef, Schedule, UnscheduledRequest
from matchmaker.web.workspace import (
    DB_NAME,
    INTERRUPTED_ERROR,
    MIGRATIONS,
    SCHEMA_VERSION,
    Conflict,
    JobConflict,
    JobStateError,
    NotFound,
    Progress,
    PublishConflict,
    Workspace,
    WorkspaceError,
    _migrate,
)

ROOT = Path(__file__).resolve().parent.parent
BASE = json.loads((ROOT / "scenarios" / "demo-small.json").read_text(encoding="utf-8"))


def scenario_text(variant: int = 0) -> str:
    """A valid scenario; each variant has another fingerprint."""
    data = dict(BASE, description=f"variant {variant} — 展会")
    return json.dumps(data, ensure_ascii=False, indent=1)


FINGERPRINTS = {v: parse_scenario(json.loads(scenario_text(v))).fingerprint() for v in range(4)}


def schedule_text(variant: int = 0, mark: int = 0) -> str:
    """A valid schedule.json made from scenario ``variant``; ``mark`` makes the text unique."""
    schedule = Schedule(
        version=mark + 1,
        scenario=ScenarioRef(name=BASE["name"], sha256=FINGERPRINTS[variant]),
        unscheduled_requests=[
            UnscheduledRequest(buyer="B1", exhibitor="E1", level="want", reason=f"note {mark}: 展位已满"),
        ],
    )
    return schedule.model_dump_json(indent=2)  # no trailing newline: stored byte for byte anyway


def raw(folder: Path) -> sqlite3.Connection:
    """A plain second connection, as a person with the sqlite3 shell would have (autocommit)."""
    return sqlite3.connect(folder / DB_NAME, isolation_level=None, timeout=10)


def snapshot(ws: Workspace) -> dict:
    """Everything the API shows, for before/after comparisons."""
    out = {"events": ws.events()}
    for event in ws.events():
        out[event.id] = {
            "scenarios": ws.scenario_versions(event.id),
            "scenario_texts": [ws.scenario_json(event.id, v.version) for v in ws.scenario_versions(event.id)],
            "schedules": ws.schedule_versions(event.id),
            "schedule_texts": [ws.schedule_json(event.id, v.version) for v in ws.schedule_versions(event.id)],
            "jobs": ws.jobs(event.id),
        }
    return out


@pytest.fixture
def ws(tmp_path):
    with Workspace.open(tmp_path / "ws") as workspace:
        yield workspace


# ---------------------------------------------------------------------------------------------
# Opening
# ---------------------------------------------------------------------------------------------


def test_open_creates_the_default_folder_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Workspace.open() as ws:
        assert ws.path == Path("matchmaker-workspace") / DB_NAME
        assert ws.events() == []
        assert ws.runs_jobs
    conn = raw(tmp_path / "matchmaker-workspace")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_open_refuses_a_file_and_a_foreign_database(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        Workspace.open(tmp_path / "file")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="not a matchmaker workspace"):
        Workspace.open(tmp_path / "garbage")
    (tmp_path / "other").mkdir()
    other = raw(tmp_path / "other")
    other.execute("CREATE TABLE invoices (id INTEGER)")
    other.close()
    with pytest.raises(WorkspaceError, match="other tables"):
        Workspace.open(tmp_path / "other")


def test_closed_workspace_refuses_use(tmp_path):
    ws = Workspace.open(tmp_path)
    ws.close()
    ws.close()  # twice is fine
    with pytest.raises(WorkspaceError, match="closed"):
        ws.events()


# ---------------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------------


def test_migrates_an_empty_database_at_user_version_0(tmp_path):
    conn = raw(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.execute("PRAGMA user_version = 0")  # create the (empty) file
    conn.close()
    with Workspace.open(tmp_path) as ws:
        event_id, version = ws.create_event("Fair", scenario_text(), "upload scenario.json")
        assert (event_id, version) == (1, 1)
    assert raw(tmp_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migrates_an_older_schema_keeping_its_data(tmp_path):
    with Workspace.open(tmp_path) as ws:
        ws.create_event("Fair", scenario_text(), "upload scenario.json")
    newer = [*MIGRATIONS, "ALTER TABLE events ADD COLUMN note TEXT;\nCREATE INDEX events_by_name ON events (name);"]
    conn = raw(tmp_path)
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn, newer, "test")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert conn.execute("SELECT name, note FROM events").fetchall() == [("Fair", None)]
    _migrate(conn, newer, "test")  # up to date: nothing to do
    conn.close()


def test_a_failing_migration_changes_nothing(tmp_path):
    with Workspace.open(tmp_path) as ws:
        ws.create_event("Fair", scenario_text(), "upload scenario.json")
    broken = [*MIGRATIONS, "CREATE TABLE extra (id INTEGER);\nINSERT INTO no_such_table VALUES (1);"]
    conn = raw(tmp_path)
    with pytest.raises(WorkspaceError, match="no_such_table"):
        _migrate(conn, broken, "test")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone()[0] == 0
    conn.close()


def test_refuses_a_newer_schema_without_touching_it(tmp_path):
    with Workspace.open(tmp_path) as ws:
        ws.create_event("Fair", scenario_text(), "upload scenario.json")
    conn = raw(tmp_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkspaceError, match=rf"newer matchmaker \(workspace schema {SCHEMA_VERSION + 1}"):
        Workspace.open(tmp_path)
    assert raw(tmp_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------


def test_versions_increment_per_event(ws):
    a, va = ws.create_event("Fair A", scenario_text(0), "upload scenario.json")
    b, vb = ws.create_event("Fair B", scenario_text(1), "import event.toml + buyers.xlsx")
    assert (va, vb) == (1, 1) and a != b
    assert ws.add_scenario_version(a, scenario_text(2), "hand edit: pin B012-E044") == 2
    assert ws.add_scenario_version(b, scenario_text(1), "upload scenario.json") == 2
    assert ws.add_scenario_version(a, scenario_text(0), "upload scenario.json") == 3
    assert [v.version for v in ws.scenario_versions(a)] == [1, 2, 3]
    sources = [v.source for v in ws.scenario_versions(a)]
    assert sources == ["upload scenario.json", "hand edit: pin B012-E044", "upload scenario.json"]
    assert ws.latest_scenario_version(a).version == 3
    assert ws.latest_scenario_version(a).fingerprint == FINGERPRINTS[0]
    assert ws.scenario_json(a, 2) == scenario_text(2)
    assert ws.scenario_version(a, 2).sha256 == hashlib.sha256(scenario_text(2).encode()).hexdigest()

    assert ws.add_schedule_version(a, 1, schedule_text(0, 1)) == 1
    assert ws.add_schedule_version(b, 2, schedule_text(1, 1)) == 1
    assert ws.add_schedule_version(a, 2, schedule_text(2, 2), parent=1, changes_json='{"moved": 3}') == 2
    versions = ws.schedule_versions(a)
    assert [(v.version, v.scenario_version, v.parent, v.status, v.has_changes) for v in versions] == [
        (1, 1, None, "draft", False),
        (2, 2, 1, "draft", True),
    ]
    assert ws.schedule_changes(a, 2) == '{"moved": 3}' and ws.schedule_changes(a, 1) is None
    assert ws.schedule_json(a, 2) == schedule_text(2, 2)
    assert versions[1].sha256 == hashlib.sha256(schedule_text(2, 2).encode()).hexdigest()
    assert [e.name for e in ws.events()] == ["Fair A", "Fair B"] and ws.event(b).name == "Fair B"


def test_bad_input_is_refused_and_stores_nothing(ws):
    with pytest.raises(ScenarioError):
        ws.create_event("Fair", '{"name": "x"}', "upload scenario.json")
    with pytest.raises(ScenarioError, match="malformed JSON"):
        ws.create_event("Fair", "{", "upload scenario.json")
    assert ws.events() == []
    event, _ = ws.create_event("Fair", scenario_text(0).encode("utf-8"), "upload scenario.json")
    with pytest.raises(ScheduleFileError):
        ws.add_schedule_version(event, 1, '{"meetings": 3}')
    with pytest.raises(DifferentEventError, match="another scenario"):
        ws.add_schedule_version(event, 1, schedule_text(variant=1))
    with pytest.raises(ValueError, match="change report"):
        ws.add_schedule_version(event, 1, schedule_text(0), changes_json="not json")
    assert ws.schedule_versions(event) == []


def test_a_hand_edit_stores_its_scenario_and_draft_together_or_nothing(ws):
    event, _ = ws.create_event("Fair", scenario_text(0), "upload scenario.json")
    ws.add_schedule_version(event, 1, schedule_text(0, 1))
    # The draft is of another scenario than the edited one: refused inside the transaction, so
    # the edited scenario version is not stored either.
    with pytest.raises(DifferentEventError):
        ws.add_edited_versions(event, 1, scenario_text(2), "hand edit: pin", schedule_text(1, 2), parent=1)
    assert len(ws.scenario_versions(event)) == 1 and len(ws.schedule_versions(event)) == 1
    assert ws.add_edited_versions(event, 1, scenario_text(2), "hand edit: pin", schedule_text(2, 2), parent=1) == (2, 2)
    assert ws.schedule_version(event, 2).parent == 1 and ws.scenario_version(event, 2).source == "hand edit: pin"
    # An upload after the edit's base: the edit would undo it, so nothing is stored.
    before = snapshot(ws)
    with pytest.raises(Conflict, match="added meanwhile"):
        ws.add_edited_versions(event, 1, None, "hand edit: move", schedule_text(2, 3), parent=2)
    assert snapshot(ws) == before
    assert ws.add_edited_versions(event, 2, None, "hand edit: move", schedule_text(2, 3), parent=2) == (2, 3)


def test_unknown_ids_raise_not_found(ws):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    ws.add_schedule_version(event, 1, schedule_text())
    calls = [
        lambda: ws.event(99),
        lambda: ws.scenario_versions(99),
        lambda: ws.add_scenario_version(99, scenario_text(), "upload"),
        lambda: ws.scenario_json(event, 2),
        lambda: ws.schedule_json(event, 2),
        lambda: ws.schedule_json(99, 1),
        lambda: ws.add_schedule_version(event, 5, schedule_text()),
        lambda: ws.add_schedule_version(event, 1, schedule_text(), parent=7),
        lambda: ws.publish(event, 3),
        lambda: ws.latest_published(99),
        lambda: ws.create_job(99, "solve"),
        lambda: ws.job(42),
        lambda: ws.jobs(99),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_publish_is_idempotent_and_published_text_cannot_change(ws, tmp_path):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    text = schedule_text(0, 1)
    version = ws.add_schedule_version(event, 1, text)
    assert ws.latest_published(event) is None
    first = ws.publish(event, version)
    assert first.published and first.published_at is not None
    assert ws.publish(event, version) == first  # again: nothing changes, not even published_at
    assert ws.latest_published(event) == first

    conn = raw(tmp_path / "ws")
    conn.execute("PRAGMA foreign_keys = ON")
    for sql in [
        "UPDATE schedule_versions SET json = '{}'",
        "UPDATE schedule_versions SET sha256 = 'x'",
        "UPDATE schedule_versions SET status = 'draft', published_at = NULL",
        "DELETE FROM schedule_versions",
        "DELETE FROM events",
    ]:
        with pytest.raises(sqlite3.IntegrityError, match="cannot be (changed|deleted)"):
            conn.execute(sql)
    conn.execute("PRAGMA foreign_keys = OFF")  # no help either
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM schedule_versions WHERE status = 'published'")
    conn.close()
    assert ws.schedule_json(event, version) == text
    assert ws.schedule_versions(event) == [first]


def test_drafts_and_scenarios_are_append_only_too(ws, tmp_path):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    ws.add_schedule_version(event, 1, schedule_text())
    conn = raw(tmp_path / "ws")
    for sql in [
        "UPDATE schedule_versions SET json = '{}'",
        "DELETE FROM schedule_versions",
        "UPDATE scenario_versions SET json = '{}'",
        "DELETE FROM scenario_versions",
    ]:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    conn.close()


def test_publishing_a_draft_older_than_the_published_version_conflicts(ws):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    for mark in range(3):
        ws.add_schedule_version(event, 1, schedule_text(0, mark))
    ws.publish(event, 1)
    ws.publish(event, 3)
    with pytest.raises(PublishConflict, match="older than the published version 3"):
        ws.publish(event, 2)
    assert ws.publish(event, 1).published  # already published: idempotent, no conflict
    assert ws.latest_published(event).version == 3
    assert [v.status for v in ws.schedule_versions(event)] == ["published", "draft", "published"]


def test_reopen_keeps_everything(tmp_path):
    with Workspace.open(tmp_path) as ws:
        event, _ = ws.create_event("Fair", scenario_text(0), "upload scenario.json")
        ws.add_scenario_version(event, scenario_text(1), "hand edit: pin B012-E044")
        ws.add_schedule_version(event, 1, schedule_text(0, 1))
        ws.add_schedule_version(event, 2, schedule_text(1, 2), parent=1, changes_json="[]")
        ws.publish(event, 1)
        job = ws.create_job(event, "replan", {"policy": "keep", "freeze_before": None})
        ws.start_job(job)
        ws.update_progress(job, Progress(stage="solve", seconds=2.5, value=10, bound=12, gap_percent=16.7))
        ws.finish_job(job, "done", schedule_version=2)
        before = snapshot(ws)
    with Workspace.open(tmp_path) as ws:
        assert ws.recovered == ()
        assert snapshot(ws) == before
        assert ws.job(job).params == {"policy": "keep", "freeze_before": None}
        assert ws.job(job).progress.gap_percent == 16.7


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


def test_one_unfinished_job_per_event(ws):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    other, _ = ws.create_event("Other fair", scenario_text(), "upload scenario.json")
    ws.add_schedule_version(event, 1, schedule_text())
    other_job = ws.create_job(other, "solve")  # other events are independent
    for outcome in ["done", "failed", "cancelled", "cancelled-while-queued"]:
        job = ws.create_job(event, "solve", {"seconds": 5})
        with pytest.raises(JobConflict) as conflict:
            ws.create_job(event, "replan")
        assert conflict.value.job_id == job
        if outcome == "cancelled-while-queued":
            ws.finish_job(job, "cancelled")
            continue
        assert ws.start_job(job).status == "running"
        with pytest.raises(JobConflict):
            ws.create_job(event, "solve")
        made = 1 if outcome == "done" else None
        finished = ws.finish_job(job, outcome, schedule_version=made, error="boom" if outcome == "failed" else None)
        assert finished.status == outcome and finished.finished_at is not None and not finished.active
    assert ws.create_job(event, "solve")  # free again
    assert [j.status for j in ws.jobs(event)] == ["done", "failed", "cancelled", "cancelled", "queued"]
    assert ws.job(other_job).status == "queued"


def test_job_state_machine_is_enforced(ws, tmp_path):
    event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    job = ws.create_job(event, "solve")
    with pytest.raises(JobStateError, match="it is queued"):
        ws.update_progress(job, {"stage": "solve"})
    with pytest.raises(JobStateError):
        ws.finish_job(job, "failed", error="x")
    ws.start_job(job)
    with pytest.raises(JobStateError):
        ws.start_job(job)
    with pytest.raises(ValueError, match="unknown progress fields"):
        ws.update_progress(job, {"stage": "solve", "eta": 3})
    with pytest.raises(ValueError, match="finite"):
        ws.update_progress(job, {"gap_percent": float("nan")})
    with pytest.raises(ValueError, match="names the schedule version"):
        ws.finish_job(job, "done")
    with pytest.raises(ValueError):
        ws.finish_job(job, "interrupted")
    with pytest.raises(NotFound):
        ws.finish_job(job, "done", schedule_version=1)
    with pytest.raises(ValueError, match="unknown job kind"):
        ws.create_job(event, "export")
    ws.update_progress(job, {"stage": "solve", "seconds": 1})
    ws.finish_job(job, "failed", error="infeasible")
    with pytest.raises(JobStateError, match="it is failed"):
        ws.update_progress(job, {"stage": "solve"})
    conn = raw(tmp_path / "ws")
    with pytest.raises(sqlite3.IntegrityError, match="finished jobs"):
        conn.execute("UPDATE jobs SET status = 'running', finished_at = NULL")
    with pytest.raises(sqlite3.IntegrityError):  # the partial unique index: one unfinished job per event
        conn.execute("INSERT INTO jobs (event_id, kind, created_at) VALUES (1, 'solve', 'now'), (1, 'solve', 'now')")
    conn.close()


def test_jobs_left_running_or_queued_are_interrupted_on_reopen(tmp_path):
    with Workspace.open(tmp_path) as ws:
        a, _ = ws.create_event("A", scenario_text(), "upload scenario.json")
        b, _ = ws.create_event("B", scenario_text(), "upload scenario.json")
        c, _ = ws.create_event("C", scenario_text(), "upload scenario.json")
        running = ws.create_job(a, "solve")
        ws.start_job(running)
        ws.update_progress(running, {"stage": "solve", "seconds": 3.0})
        queued = ws.create_job(b, "solve")
        done = ws.create_job(c, "solve")
        ws.finish_job(done, "cancelled")
    with Workspace.open(tmp_path) as ws:
        assert ws.recovered == (running, queued)
        for job_id in (running, queued):
            job = ws.job(job_id)
            assert job.status == "interrupted" and job.error == INTERRUPTED_ERROR and job.finished_at is not None
        assert ws.job(running).progress == Progress(stage="solve", seconds=3.0)
        assert ws.job(done).status == "cancelled"
        assert ws.create_job(a, "solve")  # the event is free again


def test_a_second_opener_leaves_a_live_runners_jobs_alone(tmp_path):
    with Workspace.open(tmp_path) as server:
        event, _ = server.create_event("Fair", scenario_text(), "upload scenario.json")
        job = server.create_job(event, "solve")
        server.start_job(job)
        with Workspace.open(tmp_path) as cli:
            assert not cli.runs_jobs and cli.recovered == ()
            assert cli.job(job).status == "running"
            with pytest.raises(WorkspaceError, match="another process runs"):
                cli.start_job(cli.create_job(cli.create_event("Other", scenario_text(), "upload")[0], "solve"))
        server.update_progress(job, {"stage": "polish"})
    with Workspace.open(tmp_path) as ws:
        assert ws.runs_jobs and ws.job(job).status == "interrupted"


def test_threads_share_one_workspace_and_two_connections_interleave(tmp_path):
    with Workspace.open(tmp_path) as ws, Workspace.open(tmp_path) as second:
        event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
        errors = []

        def add(workspace: Workspace, n: int) -> None:
            try:
                for i in range(n):
                    workspace.add_schedule_version(event, 1, schedule_text(0, i))
                    workspace.schedule_versions(event)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=add, args=(w, 8)) for w in (ws, ws, ws, second, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [v.version for v in ws.schedule_versions(event)] == list(range(1, 41))


# ---------------------------------------------------------------------------------------------
# kill -9
# ---------------------------------------------------------------------------------------------

CHILD = r"""
import sys
from pathlib import Path
from matchmaker.web.workspace import Workspace

ws = Workspace.open(sys.argv[1])
version = ws.add_schedule_version(1, 1, Path(sys.argv[2]).read_bytes())
ws.publish(1, version)
job = ws.create_job(1, "solve", {"time_limit": 60})
ws.start_job(job)
print(job, version, flush=True)
n = 0
while True:
    n += 1
    ws.update_progress(job, {"stage": "solve", "seconds": n, "value": n, "bound": 2 * n, "gap_percent": 50.0})
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_mid_progress_keeps_the_published_schedule_and_interrupts_the_job(tmp_path):
    folder = tmp_path / "ws"
    with Workspace.open(folder) as ws:
        event, _ = ws.create_event("Fair", scenario_text(), "upload scenario.json")
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_bytes(schedule_text(0, 7).encode("utf-8"))

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(schedule_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read()
        job, version = map(int, line.split())
        with Workspace.open(folder) as observer:  # the child holds the runner lock: its job stays running
            assert not observer.runs_jobs
            seen = []
            deadline = time.monotonic() + 10
            while len(set(seen)) < 3 and time.monotonic() < deadline:
                current = observer.job(job)
                assert current.status == "running"
                if current.progress is not None:
                    seen.append(current.progress.seconds)
                time.sleep(0.02)
            assert len(set(seen)) >= 3, "the child did not write progress"
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    with Workspace.open(folder) as ws:
        assert ws.recovered == (job,)
        stored = ws.schedule_json(event, version)
        assert stored.encode("utf-8") == schedule_file.read_bytes()
        published = ws.latest_published(event)
        assert published.version == version
        assert published.sha256 == hashlib.sha256(schedule_file.read_bytes()).hexdigest()
        interrupted = ws.job(job)
        assert interrupted.status == "interrupted" and interrupted.error == INTERRUPTED_ERROR
        assert interrupted.progress.seconds >= max(seen)
        assert ws.create_job(event, "replan")
    assert raw(folder).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------
# Random sequences of operations keep the invariants
# ---------------------------------------------------------------------------------------------


class WorkspaceMachine(RuleBasedStateMachine):
    """A model of what the workspace should hold, checked after every step."""

    def __init__(self):
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.folder = Path(self.tmp.name)
        self.ws = Workspace.open(self.folder)
        self.scenarios: dict[int, list[int]] = {}  # event → variant of each version
        self.schedules: dict[int, list[list]] = {}  # event → [text, status] of each version
        self.active: dict[int, tuple[int, str]] = {}  # event → (job id, queued | running)
        self.finished: dict[int, str] = {}  # job id → final status
        self.marks = 0

    def teardown(self):
        self.ws.close()
        self.tmp.cleanup()

    def _event(self, pick: int) -> int:
        return sorted(self.scenarios)[pick % len(self.scenarios)]

    @rule(variant=st.integers(0, 3))
    def create_event(self, variant):
        event, version = self.ws.create_event(f"Fair {len(self.scenarios)}", scenario_text(variant), "upload scenario.json")
        assert version == 1 and event not in self.scenarios
        self.scenarios[event], self.schedules[event] = [variant], []

    @precondition(lambda self: self.scenarios)
    @rule(pick=st.integers(0, 99), variant=st.integers(0, 3))
    def add_scenario_version(self, pick, variant):
        event = self._event(pick)
        assert self.ws.add_scenario_version(event, scenario_text(variant), "hand edit") == len(self.scenarios[event]) + 1
        self.scenarios[event].append(variant)

    @precondition(lambda self: self.scenarios)
    @rule(pick=st.integers(0, 99), scenario_pick=st.integers(0, 99), parent_pick=st.none() | st.integers(0, 99))
    def add_schedule_version(self, pick, scenario_pick, parent_pick):
        event = self._event(pick)
        scenario_version = scenario_pick % len(self.scenarios[event]) + 1
        parent = None if parent_pick is None or not self.schedules[event] else parent_pick % len(self.schedules[event]) + 1
        self.marks += 1
        text = schedule_text(self.scenarios[event][scenario_version - 1], self.marks)
        version = self.ws.add_schedule_version(event, scenario_version, text, parent=parent)
        assert version == len(self.schedules[event]) + 1
        self.schedules[event].append([text, "draft"])

    @precondition(lambda self: any(self.schedules.values()))
    @rule(pick=st.integers(0, 99), version_pick=st.integers(0, 99))
    def publish(self, pick, version_pick):
        event = sorted(e for e in self.schedules if self.schedules[e])[pick % sum(1 for v in self.schedules.values() if v)]
        version = version_pick % len(self.schedules[event]) + 1
        published = [v for v, (_, status) in enumerate(self.schedules[event], 1) if status == "published"]
        if self.schedules[event][version - 1][1] == "draft" and published and max(published) > version:
            try:
                self.ws.publish(event, version)
            except PublishConflict:
                return
            raise AssertionError("publishing an older draft must conflict")
        assert self.ws.publish(event, version).published
        self.schedules[event][version - 1][1] = "published"

    @precondition(lambda self: any(self.schedules.values()))
    @rule(
        pick=st.integers(0, 99),
        sql=st.sampled_from(["UPDATE schedule_versions SET json = 'x'", "DELETE FROM schedule_versions"]),
    )
    def tamper(self, pick, sql):
        event = sorted(e for e in self.schedules if self.schedules[e])[pick % sum(1 for v in self.schedules.values() if v)]
        conn = raw(self.folder)
        try:
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(f"{sql} WHERE event_id = ?", (event,))
        finally:
            conn.close()

    @precondition(lambda self: self.scenarios)
    @rule(pick=st.integers(0, 99), kind=st.sampled_from(["solve", "replan"]))
    def create_job(self, pick, kind):
        event = self._event(pick)
        if event in self.active:
            with pytest.raises(JobConflict):
                self.ws.create_job(event, kind)
        else:
            self.active[event] = (self.ws.create_job(event, kind, {"pick": pick}), "queued")

    @precondition(lambda self: self.active)
    @rule(pick=st.integers(0, 99), outcome=st.sampled_from(["start", "done", "failed", "cancelled"]))
    def advance_job(self, pick, outcome):
        event = sorted(self.active)[pick % len(self.active)]
        job, status = self.active[event]
        if status == "queued" and outcome != "cancelled":
            self.ws.start_job(job)
            self.active[event] = (job, "running")
            self.ws.update_progress(job, {"stage": "solve", "seconds": pick})
            return
        if outcome == "start":
            with pytest.raises(JobStateError):
                self.ws.start_job(job)
            return
        version = (len(self.schedules[event]) or None) if outcome == "done" else None
        if outcome == "done" and version is None:
            outcome = "failed"  # nothing to point at
        self.ws.finish_job(job, outcome, schedule_version=version, error="boom" if outcome == "failed" else None)
        del self.active[event]
        self.finished[job] = outcome

    @rule()
    def reopen(self):
        self.ws.close()
        self.ws = Workspace.open(self.folder)
        assert set(self.ws.recovered) == {job for job, _ in self.active.values()}
        self.finished.update({job: "interrupted" for job, _ in self.active.values()})
        self.active.clear()

    @invariant()
    def matches_the_model(self):
        assert [e.id for e in self.ws.events()] == sorted(self.scenarios)
        for event, variants in self.scenarios.items():
            scenarios = self.ws.scenario_versions(event)
            assert [v.version for v in scenarios] == list(range(1, len(variants) + 1))
            assert [v.fingerprint for v in scenarios] == [FINGERPRINTS[variant] for variant in variants]
            schedules = self.ws.schedule_versions(event)
            assert [v.version for v in schedules] == list(range(1, len(self.schedules[event]) + 1))
            assert [v.status for v in schedules] == [status for _, status in self.schedules[event]]
            for stored, (text, _) in zip(schedules, self.schedules[event]):
                assert stored.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
                if stored.published:
                    assert self.ws.schedule_json(event, stored.version) == text
            published = [v for v in schedules if v.published]
            assert self.ws.latest_published(event) == (published[-1] if published else None)
            jobs = {job.id: job.status for job in self.ws.jobs(event)}
            assert [j for j, status in jobs.items() if status in ("queued", "running")] == (
                [self.active[event][0]] if event in self.active else []
            )
            for job, status in jobs.items():
                assert status == (self.active[event][1] if job not in self.finished else self.finished[job])


WorkspaceMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_random_operations_keep_the_invariants = WorkspaceMachine.TestCase
