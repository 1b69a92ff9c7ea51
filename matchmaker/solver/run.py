"""A solve's options, clock and CP-SAT configuration: what every stage of the solve shares."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ortools.sat.python import cp_model

from ..instance.candidates import DEFAULT_CANDIDATES_PER_MEETING
from .budget import MIN_STAGE_SECONDS

logger = logging.getLogger(__name__)

# Workers for assignment-like stages, best first (see Run.configure).
LP_HEAVY_SUBSOLVERS = ["max_lp", "reduced_costs", "core", "default_lp", "quick_restart", "pseudo_costs", "no_lp", "lb_tree_search"]


@dataclass(frozen=True)
class Progress:
    """How a solve is going: a CP-SAT stage's new best solution (``objective``/``bound``, in its scaled
    units), or a stage reached (``value``: the schedule's meeting value so far; ``value_bound``: at most
    that much meeting value is possible, as ``stats.upper_bound_value``)."""

    stage: str
    seconds: float
    objective: float | None = None
    bound: float | None = None
    value: int | None = None
    value_bound: int | None = None


@dataclass
class SolveOptions:
    time_limit: float = 45.0
    workers: int | None = None  # None = all cores
    seed: int = 0
    deterministic: bool = False  # deterministic time budget instead of wall time
    candidates_per_meeting: int | None = DEFAULT_CANDIDATES_PER_MEETING
    strategy: Literal["auto", "monolithic", "decompose"] = "auto"
    bound: bool = True  # compute the flow upper bound (a few seconds at Anping size)
    explain: bool = True  # explain unscheduled requests, participants below minimum, idle exhibitors
    on_progress: Callable[[Progress], None] | None = None
    # time.monotonic() reading the time limit counts from (the CLI's start, so loading counts); None = when solving starts
    started: float | None = None
    # Asked about every STOP_POLL_SECONDS while solving (and by Run.remaining): True ends the solve
    # early (a user's "stop"); the running CP-SAT stage keeps its best solution and later stages
    # get no time. Must pickle if the decomposition timetables days in processes.
    stop: Callable[[], bool] | None = None
    # Address of a Dask scheduler (e.g. "tcp://10.0.0.5:8786"): day parts and portfolio members run
    # on its workers (executor.py, docs/cluster.md); None = this machine.
    cluster: str | None = None
    # With a cluster: members racing on the one-model solves (brokerage, small fairs); None = one per task slot.
    portfolio: int | None = None
    # Set on a portfolio member (its index; the race also gives it seed + index): which subsolvers lead
    # its feasibility stages (lead_subsolvers rotates them by it). None = a lone solve.
    member: int | None = None

    @property
    def num_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


class ProgressCallback(cp_model.CpSolverSolutionCallback):
    def __init__(self, stage: str, started: float, report: Callable[[Progress], None]):
        super().__init__()
        self._stage, self._started, self._report = stage, started, report

    def on_solution_callback(self) -> None:
        self._report(Progress(self._stage, time.monotonic() - self._started, self.objective_value, self.best_objective_bound))


class Run:
    """One solve's options, clock and CP-SAT configuration."""

    def __init__(self, options: SolveOptions):
        self.options = options
        self.started = options.started if options.started is not None else time.monotonic()
        # Seconds of the limit kept for what runs after the engine (checker, explanations,
        # writing; see budget.after_engine_seconds): the engine's stages share the rest.
        self.reserve = 0.0
        # Seconds measured for steps that repeat (e.g. "greedy": the start greedy, which the
        # decomposition's merge repeats), to size what later stages must keep for them.
        self.measured: dict[str, float] = {}
        self.tasks = None  # where its tasks run (executor.tasks_for), made on first use


    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def report(self, stage: str, value: int | None = None, value_bound: int | None = None) -> None:
        """Tell ``options.on_progress`` (the dashboard's job, the terminal) that a stage was reached."""
        if self.options.on_progress is not None:
            self.options.on_progress(Progress(stage, self.elapsed(), value=value, value_bound=value_bound))

    def remaining(self) -> float:
        """Wall seconds the engine has left (0 when the limit, less the reserve, is spent, or when stopped)."""
        if self.stopped():
            return 0.0
        return max(0.0, self.options.time_limit - self.reserve - self.elapsed())

    def stopped(self) -> bool:
        """True once ``options.stop`` asked to end the solve early."""
        return self.options.stop is not None and bool(self.options.stop())

    def budget(self, share: float, of_remaining: float = 1.0) -> float:
        """Time for the next stage (shares: ``budget.SHARES``).

        Deterministic runs get a fixed ``share`` of the limit (wall-clock readings
        would make the budget, and so the schedule, vary); others get
        ``of_remaining`` of the wall time left, at least MIN_STAGE_SECONDS.
        """
        if self.options.deterministic:
            return share * self.options.time_limit
        return max(MIN_STAGE_SECONDS, of_remaining * self.remaining())

    def configure(self, solver: cp_model.CpSolver, budget: float, lp_heavy: bool = False, light_presolve: bool = False) -> None:
        params = solver.parameters
        params.num_workers = self.options.num_workers
        if light_presolve:
            # Day models of the decomposition (60,000 pair-slot variables at the large preset): the
            # default presolve (several rounds, with probing) took 4-5 s of a 7 s attempt, and the
            # attempt often ended with no timetable; one round without probing takes 1.5-2.5 s and
            # finds better timetables in the same time (docs/performance.md, "Day models").
            params.max_presolve_iterations = 1
            params.cp_model_probing_level = 0
        if lp_heavy:
            # Assignment-like models: the strong LP (cuts) proves the bound and
            # reduced-cost guided search finds the optimum; the default pair of
            # workers on 2 cores stalls with an LP bound several percent too high.
            lead_subsolvers(params, LP_HEAVY_SUBSOLVERS)
        params.random_seed = self.options.seed
        if self.options.deterministic:
            # Interleaved search is reproducible for a given worker count; the budget
            # is counted in deterministic time units, not wall-clock seconds.
            params.interleave_search = True
            params.max_deterministic_time = budget
        else:
            params.max_time_in_seconds = budget
        params.log_search_progress = logger.isEnabledFor(logging.DEBUG)
        params.log_to_stdout = False
        solver.log_callback = lambda line: logger.debug("cp-sat: %s", line)
        if self.options.stop is not None:
            _watch_stop(self, solver)

    def run(
        self, model: cp_model.CpModel, budget: float, stage: str, lp_heavy: bool = False, light_presolve: bool = False
    ) -> tuple[cp_model.CpSolver, int]:
        solver = cp_model.CpSolver()
        self.configure(solver, budget, lp_heavy, light_presolve)
        callback = ProgressCallback(stage, self.started, self.options.on_progress) if self.options.on_progress else None
        status = solver.solve(model, callback)
        logger.info("%s: %s in %.2fs", stage, solver.status_name(status), solver.wall_time)
        return solver, status


def lead_subsolvers(
    params, subsolvers: list[str], member: int | None = None, every_worker_full: bool = False, one_worker_leads: bool = False
) -> None:
    """Put ``subsolvers`` first among the workers (one worker: the LP-heavy one, ``linearization_level`` 2,
    or with ``one_worker_leads`` the first of them, by name, in an optimizing stage).

    ``every_worker_full``: each worker a full search (feasibility stages; CP-SAT's default on 2
    workers gives the second thread to neighbourhood search, which minimizing needs). There,
    portfolio members rotate the list by their index, so that members of one core each run what
    the workers of a lone solve run side by side (member 0 the first, member 1 the second): on
    brokerage stage 1 one finds a schedule and the other refutes. Optimizing stages keep the
    lone solve's lead in every member (measured: one core of ``core`` search alone left
    tic-13crafc at 5 breaks for 52 s, where the LP-led worker proves 4); members differ by seed.
    """
    if not subsolvers:
        return
    workers = params.num_workers
    if member is not None and every_worker_full:
        shift = member % len(subsolvers)
        subsolvers = subsolvers[shift:] + subsolvers[:shift]
        if workers == 1:  # CP-SAT 9.15 runs the one named subsolver on one worker
            params.subsolvers.append(subsolvers[0])
            return
    if workers >= 2:
        params.subsolvers.extend(subsolvers[:workers])
        if every_worker_full:
            params.num_full_subsolvers = min(workers, len(subsolvers))
    elif one_worker_leads and not every_worker_full:
        params.subsolvers.append(subsolvers[0])
    else:
        params.linearization_level = 2


STOP_POLL_SECONDS = 0.1


def _watch_stop(run: Run, solver: cp_model.CpSolver) -> None:
    """Make ``solver`` (configured next to solve) stop once ``run.options.stop()`` says so.

    Stopped already: no time at all. Otherwise one daemon thread per Run asks
    ``stop`` every STOP_POLL_SECONDS and stops the Run's latest solver (CP-SAT's
    stop_search is thread-safe and keeps the best solution found); it ends with the Run.
    """
    if run.stopped():
        solver.parameters.max_time_in_seconds = 0.0
    run._stop_solver = solver  # the Run's latest solver, for its watcher
    if getattr(run, "_stop_watcher", None) is None:
        run._stop_watcher = threading.Thread(target=_stop_watcher, args=(weakref.ref(run), run.options.stop), daemon=True)
        run._stop_watcher.start()


def _stop_watcher(run_ref: weakref.ref, stop: Callable[[], bool]) -> None:
    while True:
        time.sleep(STOP_POLL_SECONDS)
        run = run_ref()
        if run is None:
            return
        solver = run._stop_solver
        del run
        if stop():
            solver.stop_search()
