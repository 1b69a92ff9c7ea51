"""Solve jobs: queued in the workspace, run in worker processes, never in the web process.

``JobRunner`` owns the workspace's jobs while the server runs (the process
holding the workspace's runner lock). At most ``max_parallel`` jobs run at once;
the rest wait, queued, in submission order. Each job runs in its own process,
started with multiprocessing's ``spawn`` method (a fresh interpreter: no copy of
the server's threads, sockets or SQLite connection); a thread of the server
watches it and does every workspace write:

- progress: the solver's ``on_progress`` callback reports each stage reached (with
  the meeting value so far and, once the selection LP or a bound is known, the most
  possible: ``value``, ``bound``, ``gap_percent`` in the schedule's units) and each
  better CP-SAT solution (its internal gap only: objective against bound, in its
  scaled units); the worker sends them up a pipe and the watcher records at most
  PROGRESS_WRITES_PER_SECOND of them, and at least one a second (HEARTBEAT_SECONDS:
  the seconds move on between reports). ``seconds`` are the job's own, from its
  start. Once a schedule exists, value, bound and gap are the schedule's
  (``stats.value``, ``stats.upper_bound_value``, ``stats.gap_percent``).
- the result: the checked schedule is stored as a draft schedule version (with
  its parent version and change report for a re-plan) and the job is done;
- errors: the job fails with the library's message lines (``InfeasibleError``:
  the conflicting must/pinned meetings; a bad previous schedule: its problems);
- a worker that dies (killed, out of memory) fails the job with its exit code.

Stopping (``stop``): a queued job is cancelled; a running one is asked to stop
through a flag file in a private temporary folder (``SolveOptions.stop``): the
running CP-SAT stage stops with its best solution, later stages get no time,
and the pipeline still checks and explains what it returns, so the job ends
``done`` with the best valid schedule found so far (progress stage
STOPPED_STAGE), or ``cancelled`` with the reason when there was none yet.
A worker whose server is gone (``kill -9``) stops the same way and exits; the
next server marks the job ``interrupted`` when it opens the workspace.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .workspace import (
    JobKind,
    JobStateError,
    Progress,
    Workspace,
    WorkspaceBusy,
    WorkspaceError,
)

logger = logging.getLogger(__name__)

PROGRESS_WRITES_PER_SECOND = 2
HEARTBEAT_SECONDS = 0.5  # at most this long between progress writes while a job runs (the page polls once a second)
WORKER_SENDS_PER_SECOND = 10
POLL_SECONDS = 0.2
STOPPED_STAGE = "stopped early"
STOPPING_SUFFIX = " (stopping)"
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class StopFlag:
    """``SolveOptions.stop`` of a job: true once the flag file exists. Pickles, so day parts solved in
    further processes stop too."""

    path: str

    def __call__(self) -> bool:
        return os.path.exists(self.path)

    def set(self) -> None:
        Path(self.path).touch()


@dataclass
class _Running:
    job_id: int
    folder: Path
    flag: StopFlag
    stop_requested: bool = False
    thread: threading.Thread | None = None
    process: Any = None


class JobRunner:
    """Runs a workspace's jobs in worker processes, at most ``max_parallel`` at once."""

    def __init__(self, workspace: Workspace, max_parallel: int = 1, solver_workers: int | None = None, cluster: str | None = None):
        if max_parallel < 1:
            raise ValueError("at least one job must be able to run")
        if not workspace.runs_jobs:
            raise WorkspaceError(
                f"{workspace.path}: another process runs this workspace's jobs (is another matchmaker serve using it?)"
            )
        self.workspace = workspace
        self.max_parallel = max_parallel
        # CP-SAT threads per job: the cores shared by the jobs that may run together.
        self.solver_workers = solver_workers or max(1, (os.cpu_count() or 1) // max_parallel)
        # A Dask scheduler's address: each job then runs as one task on its workers (solver/executor.run_job).
        self.cluster = cluster
        self._context = multiprocessing.get_context("spawn")
        self._queue: deque[int] = deque()
        self._running: dict[int, _Running] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="matchmaker-jobs", daemon=True)
        self._dispatcher.start()

    # --- the API ---

    def submit(self, event_id: int, kind: JobKind, params: dict[str, Any]) -> int:
        """Queue a job (JobConflict while the event has one queued or running); returns its id."""
        with self._cond:
            if self._closing:
                raise WorkspaceBusy("the server is stopping; no new jobs")
            job_id = self.workspace.create_job(event_id, kind, params)
            self._queue.append(job_id)
            self._cond.notify_all()
        return job_id

    def stop(self, job_id: int):
        """Cancel a queued job, ask a running one to stop; a finished job is returned as it is."""
        with self._cond:
            if job_id in self._queue:
                self._queue.remove(job_id)
                return self.workspace.finish_job(job_id, "cancelled", error="stopped before it started")
            running = self._running.get(job_id)
            if running is not None:
                running.stop_requested = True
                running.flag.set()
        job = self.workspace.job(job_id)
        if running is not None and job.status == "running":
            try:  # shown at once, not only when the solver next reports
                self.workspace.update_progress(job_id, _stopping(job.progress or Progress(stage="starting"), running))
            except JobStateError:
                pass
            job = self.workspace.job(job_id)
        return job

    def active(self) -> list[int]:
        with self._cond:
            return list(self._queue) + list(self._running)

    def shutdown(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Cancel queued jobs, stop running ones (each keeps its best schedule), wait ``grace`` seconds."""
        with self._cond:
            self._closing = True
            queued = list(self._queue)
            self._queue.clear()
            running = list(self._running.values())
            for item in running:
                item.stop_requested = True
                item.flag.set()
            self._cond.notify_all()
        for job_id in queued:
            try:
                self.workspace.finish_job(job_id, "cancelled", error="the server stopped before this job started")
            except WorkspaceError:  # pragma: no cover - closing
                pass
        deadline = time.monotonic() + grace
        for item in running:
            if item.thread is not None:
                item.thread.join(max(0.0, deadline - time.monotonic()))
        for item in running:
            if item.process is not None and item.process.is_alive():
                item.process.kill()
            if item.thread is not None:
                item.thread.join(2.0)

    # --- dispatching ---

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (not self._queue or len(self._running) >= self.max_parallel):
                    self._cond.wait()
                if self._closing:
                    return
                job_id = self._queue.popleft()
                folder = Path(tempfile.mkdtemp(prefix=f"matchmaker-job-{job_id}-"))
                running = _Running(job_id, folder, StopFlag(str(folder / "stop")))
                running.thread = threading.Thread(target=self._watch, args=(running,), name=f"matchmaker-job-{job_id}", daemon=True)
                self._running[job_id] = running
                # Started under the lock: a shutdown that sees the job in _running can always join its thread.
                running.thread.start()

    def _watch(self, running: _Running) -> None:
        try:
            self._run(running)
        except Exception:  # a job's failure must not take the runner down
            logger.exception("job %d: the runner failed", running.job_id)
            try:
                self.workspace.finish_job(running.job_id, "failed", error="internal error while running the job (logged)")
            except Exception:
                logger.exception("job %d: cannot mark it failed", running.job_id)
        finally:
            with self._cond:
                self._running.pop(running.job_id, None)
                self._cond.notify_all()
            shutil.rmtree(running.folder, ignore_errors=True)

    def _run(self, running: _Running) -> None:
        ws, job_id = self.workspace, running.job_id
        job = ws.start_job(job_id)
        params = job.params
        task = {
            "scenario_json": ws.scenario_json(job.event_id, params["scenario_version"]),
            "previous_json": ws.schedule_json(job.event_id, params["previous"]) if params.get("previous") else None,
            "previous_version": params.get("previous"),
            "time_limit": params["time_limit"],
            "seed": params.get("seed", 0),
            "workers": self.solver_workers,
            "policy": params.get("policy", "keep"),
            "max_changes_per_participant": params.get("max_changes_per_participant"),
            "freeze_before": params.get("freeze_before"),
            "job_id": job_id,
            "cluster": self.cluster,
        }
        job_started = time.monotonic()
        # The task goes by file, not as the process' arguments: a fair's JSON (1 MB at Anping) through the
        # spawn pipe blocks start() until the new interpreter has started and read it (seconds on a busy
        # machine), with no progress written meanwhile.
        task_file = running.folder / "task.json"
        task_file.write_text(json.dumps(task), encoding="utf-8")
        ws.update_progress(job_id, _stopping(Progress(stage="starting", seconds=0.0), running))
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main, args=(sender, str(task_file), running.flag, os.getpid()), name=f"matchmaker-job-{job_id}", daemon=False
        )
        running.process = process
        process.start()
        sender.close()

        result: tuple | None = None
        latest = Progress(stage="starting")
        fresh = False  # a report not written yet
        last_write = time.monotonic()
        while True:
            message = None
            try:
                if receiver.poll(POLL_SECONDS):
                    message = receiver.recv()
            except (EOFError, OSError):
                break  # the worker is gone (exited or killed)
            if message is not None:
                if message[0] == "progress":
                    latest, fresh = _solver_progress(message[1], latest), True
                else:
                    result = message
                    break
            now = time.monotonic()
            since = now - last_write
            if (fresh and since >= 1.0 / PROGRESS_WRITES_PER_SECOND) or since >= HEARTBEAT_SECONDS:
                try:
                    ws.update_progress(job_id, _stopping(replace(latest, seconds=round(now - job_started, 1)), running))
                except JobStateError:
                    pass
                fresh, last_write = False, now
            if message is None and not process.is_alive():
                break
        receiver.close()
        process.join(5.0)
        if process.is_alive():  # sent its answer but hangs on exit
            process.kill()
            process.join()

        if result is None:
            code = process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            ws.finish_job(job_id, "failed", error=f"the solver process ended unexpectedly ({how})")
            return
        if result[0] == "error":
            lines: list[str] = result[1]
            if running.stop_requested:
                ws.finish_job(job_id, "cancelled", error="\n".join(["stopped before a schedule was found:", *lines]))
            else:
                ws.finish_job(job_id, "failed", error="\n".join(lines))
            return
        _, schedule_json, changes_json, stats = result
        version = ws.add_schedule_version(
            job.event_id, params["scenario_version"], schedule_json, parent=params.get("previous"), changes_json=changes_json
        )
        final = Progress(
            stage=STOPPED_STAGE if running.stop_requested else "done",
            seconds=stats.get("seconds"),
            value=stats.get("value"),
            bound=stats.get("upper_bound_value"),
            gap_percent=stats.get("gap_percent"),
        )
        try:
            ws.update_progress(job_id, final)
        except (JobStateError, ValueError):
            pass
        ws.finish_job(job_id, "done", schedule_version=version)


def _solver_progress(data: dict[str, Any], before: Progress) -> Progress:
    """Progress as the solver reported it. A stage report carries the meeting value so far and the
    most possible, kept until the next one; a CP-SAT report moves the stage on, and gives its internal
    gap (objective against bound, in its scaled units) only before any stage report gave a value."""
    value, bound = data.get("value"), data.get("value_bound")
    if value is None:
        gap = before.gap_percent
        if before.value is None and data.get("objective") is not None:
            gap = _gap(data.get("bound"), data.get("objective"))
        return Progress(stage=data.get("stage"), value=before.value, bound=before.bound, gap_percent=gap)
    bound = bound if bound is not None else before.bound
    return Progress(stage=data.get("stage"), value=value, bound=bound, gap_percent=_gap(bound, value))


def _gap(bound: Any, achieved: Any) -> float | None:
    """As solver.bounds.gap_percent (not imported: it would load OR-Tools into the web process)."""
    if not (isinstance(achieved, int | float) and isinstance(bound, int | float) and math.isfinite(achieved) and math.isfinite(bound)):
        return None
    if bound > 0:
        return max(0.0, round(100.0 * (bound - achieved) / bound, 3))
    return 0.0 if achieved >= bound else None


def _stopping(progress: Progress, running: _Running) -> Progress:
    if running.stop_requested and not (progress.stage or "").endswith(STOPPING_SUFFIX):
        return replace(progress, stage=f"{progress.stage}{STOPPING_SUFFIX}")
    return progress


# --------------------------------------------------------------------------------------------
# The worker process
# --------------------------------------------------------------------------------------------


def _watch_parent(parent_pid: int, flag: StopFlag) -> None:
    """Stop the solve when the server that started this worker is gone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            try:
                flag.set()
            except OSError:  # the folder is gone too
                pass
            return


def worker_main(conn, task_file: str, flag: StopFlag, parent_pid: int) -> None:
    """Solve or re-plan ``task`` and send ("result", schedule json, changes json | None, stats) or
    ("error", lines) up ``conn``; progress goes up as ("progress", {...})."""
    threading.Thread(target=_watch_parent, args=(parent_pid, flag), daemon=True).start()
    task: dict[str, Any] = json.loads(Path(task_file).read_text(encoding="utf-8"))
    last = [0.0]

    def on_progress(progress) -> None:
        now = time.monotonic()
        if progress.value is None and now - last[0] < 1.0 / WORKER_SENDS_PER_SECOND:
            return  # CP-SAT's improvements are thinned; a stage reached always goes up
        last[0] = now
        try:
            conn.send(("progress", {"stage": progress.stage, "objective": progress.objective, "bound": progress.bound,
                                    "value": progress.value, "value_bound": progress.value_bound}))
        except OSError:
            pass  # the server is gone; the parent watcher stops the solve

    try:
        if task.get("cluster"):  # the whole job on a cluster worker; progress and stop travel through the scheduler
            from ..solver.executor import run_job

            message = run_job(task["cluster"], _solve_task, task, f"solve job {task.get('job_id')}", flag, on_progress)
        else:
            message = _solve_task(task, flag, on_progress)
    except Exception as error:  # noqa: BLE001 - every failure becomes the job's error
        message = ("error", _error_lines(error))
    try:
        conn.send(message)
        conn.close()
    except OSError:
        pass


def _solve_task(task: dict[str, Any], flag, on_progress, cores: int | None = None, started: float | None = None) -> tuple:
    """The job itself (here, or on a cluster worker: then ``cores`` are the ones its task reserves and
    ``started`` is when it first started there)."""
    import hashlib
    import json

    from ..pipeline import SolveOptions, reschedule, solve
    from ..solver.replan import Moment, check_same_event
    from ..spec.scenario import parse_scenario
    from ..spec.schedule import Schedule

    started = started if started is not None else time.monotonic()
    scenario = parse_scenario(json.loads(task["scenario_json"]), "scenario")
    options = SolveOptions(
        time_limit=task["time_limit"], workers=cores or task["workers"], seed=task["seed"], on_progress=on_progress, stop=flag,
        started=started,  # the limit counts from the worker's start: loading is part of the job
    )
    changes = None
    if task["previous_json"] is None:
        schedule = solve(scenario, options)
    else:
        previous = Schedule.model_validate_json(task["previous_json"])
        check_same_event(scenario, previous)
        freeze = Moment.parse(task["freeze_before"]) if task.get("freeze_before") else None
        replan = reschedule(
            scenario,
            previous,
            options,
            policy=task["policy"],
            max_changes_per_participant=task.get("max_changes_per_participant"),
            freeze_before=freeze,
            previous_sha256=hashlib.sha256(task["previous_json"].encode("utf-8")).hexdigest(),
            previous_file=f"schedule version {task['previous_version']}",
        )
        schedule, changes = replan.schedule, replan.changes.to_json()
    stats = {
        "value": schedule.stats.value,
        "upper_bound_value": schedule.stats.upper_bound_value,
        "gap_percent": schedule.stats.gap_percent,
        "seconds": round(time.monotonic() - started, 3),  # the whole job in its worker: loading, solving, checking
    }
    return ("result", schedule.to_json(), changes, stats)


def _error_lines(error: Exception) -> list[str]:
    from ..errors import InfeasibleError, InputError, MatchmakerError

    if isinstance(error, InputError):
        return error.lines()
    if isinstance(error, InfeasibleError):
        return ["the must requests and pinned meetings cannot all be met:", *[f"  {r}" for r in error.reasons]]
    if isinstance(error, MatchmakerError):
        return str(error).splitlines() or [type(error).__name__]
    logger.error("job failed: %s", "".join(traceback.format_exception(error)))
    return [f"internal error: {type(error).__name__}: {error}"]
