"""Two-stage solve for fairs too large for one monolithic model.

Stage 1 (selection, ``selection.py``) decides which pairs meet on which day:
a linear program with every count rule aggregated per day plus cuts for the
walking rule, rounded to whole meetings. It is a relaxation of the full
problem, so its LP optimum bounds the objective of every schedule.
Stage 2 (timetabling) puts each day's selected meetings into slots with every
hard rule, one small CP-SAT model per day; days are independent once stage 1
has fixed the selection. Whatever stage 2 cannot place is handed back to a
greedy fill.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ..instance.candidates import Candidate, Instance, restrict
from ..relax.pricing import bound_over_pool
from ..relax.selection import Selection, select_days
from ..spec.schedule import SolverInfo
from . import bounds
from .bounds import Bounds
from .budget import (
    MIN_DAY_SECONDS,
    MIN_STAGE_SECONDS,
    PROCESS_STARTUP,
    TASK_STARTUP,
    merge_seconds,
    share,
    statistics_seconds,
)
from .executor import (
    LocalTasks,
    TaskContext,
    either_stop,
    local_processes_allowed,
    tasks_for,
)
from .greedy import greedy_schedule
from .model import build_model
from .polish import close_idle_gaps, insert_meetings
from .run import Run, SolveOptions

logger = logging.getLogger(__name__)

MAX_PROCESSES = 8  # day parts solved at once (one process each)
MAX_RELEASES = 3  # unsatisfiable cores whose pairs a day may make optional before it gives up on the selection
SPARES_PER_BUYER = 3  # unselected pairs a day's timetable may use instead of selected ones
LIGHT_PRESOLVE_MIN_VARIABLES = 30_000  # (pair, slot) variables from which a day model presolves lightly (``_light``)
DAY_MODEL_MAX_VARIABLES = 200_000  # (pair, slot) variables above which a day keeps its greedy timetable


@dataclass
class DayTimetable:
    """Stage 2's value phase for one day, in the day's sub-instance."""

    sub: Instance
    original: list[int]  # sub candidate -> instance candidate
    placed: dict[int, int]  # sub candidate -> slot
    status: str
    build_seconds: float  # to build the day's model; a compaction with less time left is not worth starting


def solve_decomposed(
    instance: Instance, start: dict[int, int], run: Run, info: SolverInfo, found: list[Bounds] | None = None
) -> dict[int, int]:
    """Selection, then each day's timetable, then a safe merge with the greedy ``start`` schedule.

    ``found`` receives the selection LP's bounds (``bounds.selection``), when it solved.
    """
    # The LP gets its share of the time left (a few seconds at Anping, minutes at xl through
    # PDLP); a deterministic run stops it by iteration counts only. Time budgets: budget.SHARES.
    lp_time = share("selection_lp") * run.remaining()
    selection = select_days(instance, math.inf if run.options.deterministic else lp_time, pdlp_share=share("selection_pdlp"))
    info.stage_status = {"selection": selection.status}
    bound = None
    if selection.objective is None:
        # No LP answer in time (a very short limit): the days of the greedy schedule
        # are the selection, so the day parts still improve value and compactness.
        selection = Selection({c: instance.grid.slots[s].day for c, s in start.items()}, "GREEDY", None, None)
        info.stage_status["selection"] = "GREEDY"
    else:
        bound = selection.bound
    if bound is not None and instance.pool is not None and selection.program is not None:
        # The candidates are only some of the fair's pairs, so the LP over them bounds only them:
        # the bound is the best of pricing every pair with this LP's duals and with the rounds'.
        bound = bound_over_pool(instance, selection.program)
        logger.info("bound over all %d pairs: %.1f (LP over the candidates %.1f)", instance.candidates_before_pruning, bound, selection.bound)
    if bound is not None and found is not None:
        found.append(bounds.selection(instance, selection.program, bound))
    run.report("selection LP", value=_value(instance, start), value_bound=found[-1].value if found else None)
    if not selection.day_of:
        info.status, info.fallback = selection.status, True
        return start
    if bound is not None:
        info.best_bound = bound * instance.weights.value_scale()  # in the units of info.objective
    meetings_on: dict[int, int] = defaultdict(int)
    for day in selection.day_of.values():
        meetings_on[day] += 1
    days = sorted(meetings_on)
    total = len(selection.day_of)

    # One pure job per day (its sub-instance and budgets in, placements out), all
    # days at once as tasks (executor.py): days are independent once the selection is
    # fixed. Value first inside each job, then compaction with what is left.
    # Local processes only pay when each part still gets two CP-SAT workers: on 2 cores
    # one process timetabling the days in turn, with both workers, did better. On a
    # cluster every day is a task with the cores a task reserves there (deterministic
    # runs: the solve's workers, so that the schedule is the one a local run makes).
    tasks = tasks_for(run)
    if tasks.remote:
        parallel = len(days)
        workers = run.options.num_workers if run.options.deterministic else tasks.capacity.cores
        waves = math.ceil(len(days) / tasks.capacity.slots)  # days that wait for a free slot get their turn after
        startup = TASK_STARTUP
    else:
        # A whole solve job on a cluster worker (a daemonic process) timetables its days in turn.
        parallel = min(len(days), MAX_PROCESSES, run.options.num_workers // 2) if local_processes_allowed() else 1
        workers = max(1, run.options.num_workers // max(1, parallel))
        waves = 1
        startup = PROCESS_STARTUP if parallel > 1 else 0.0
    reserve = merge_seconds(len(instance.candidates), 0, run.measured.get("greedy", 0.0))
    # A day's clock starts when its part does (started=None), not at the whole solve's start;
    # its tasks never send tasks of their own (cluster=None).
    options = dataclasses.replace(run.options, workers=workers, on_progress=None, started=None, cluster=None, portfolio=None)

    def horizon() -> float:
        """Seconds until every day's timetable must be done (the merge and polish keep the rest)."""
        return max(0.2, run.remaining() - reserve - startup)

    def budgets(day: int, weight: float) -> tuple[float, float]:
        """A day's (value, compaction) budgets, computed once its part is built (building counts)."""
        if run.options.deterministic:
            fraction = meetings_on[day] / total
            return share("fixed_day_value") * fraction * run.options.time_limit, share("fixed_day_compact") * fraction * run.options.time_limit
        whole = horizon() * weight
        return share("day_value") * whole, (1 - share("day_value")) * whole

    def part(day: int) -> DayPart:
        return day_part(instance, day, selection.day_of, start, options, 0.0, 0.0)

    def solved(day: int, weight: float) -> DayResult:
        if not run.options.deterministic and run.remaining() - reserve < MIN_DAY_SECONDS:
            logger.info("day %s: no time left for a day model; its selected pairs slotted greedily", _label(instance, day))
            return greedy_day(part(day))
        job = part(day)
        job.value_budget, job.compact_budget = budgets(day, weight)
        result = solve_day(job)
        run.report(f"day {_label(instance, day)} timetabled")
        return result

    if not run.options.deterministic and run.remaining() - reserve < MIN_DAY_SECONDS * len(days):
        # Building the day models alone would overrun the limit (short limits): the
        # selection's days still lead, each slotted by the greedy (milliseconds a day).
        logger.info("no time left for the day models: the selected pairs slotted greedily, day by day")
        results = [greedy_day(part(day)) for day in days]
    elif tasks.remote or parallel > 1:  # every day at once, each with the whole time left (or its wave's share)
        jobs = [part(day) for day in days]
        for job in jobs:
            job.value_budget, job.compact_budget = budgets(job.day, 1.0 / waves)
        names = [f"day part {_label(instance, day)}" for day in days]
        if tasks.remote:
            deadline = None if run.options.deterministic else horizon()
            answers = tasks.map(solve_day_task, jobs, names, budgets=[deadline] * len(jobs), cores=workers)
            # A part the cluster never answered, with no time left to solve it here: that day keeps the greedy's timetable.
            results = [answer if answer is not None else DayResult([], "UNKNOWN") for answer in answers]
        else:
            results = tasks.map(solve_day_task, jobs, names, processes=parallel, cores=workers)
    else:  # in turn, each day its share of what is left (an early finish passes time on)
        results = [
            solved(day, meetings_on[day] / sum(meetings_on[d] for d in days[position:]))
            for position, day in enumerate(days)
        ]
    preferred: list[tuple[int, int]] = []
    statuses = []
    for day, result in zip(days, results):
        info.stage_status[f"day{day + 1}"] = result.status
        statuses.append(result.status)
        preferred += result.placements

    proven = selection.status == "OPTIMAL" and all(status == "OPTIMAL" for status in statuses)
    info.status = "FEASIBLE" if preferred or not days else "UNKNOWN"
    info.fallback = not preferred and bool(days)
    # Merge through the greedy's feasibility check: commitments first (the days'
    # own placements, then the greedy's for any day that failed), then the days'
    # other meetings, then a greedy fill. Spare pairs of several days may together
    # exceed a participant's total cap; the check drops the excess.
    def committed(c: int) -> bool:
        return instance.candidates[c].committed

    info.proven_optimal_parts = proven
    if not preferred:  # no day timetabled anything: merging would only rebuild the start schedule
        return _polished(instance, dict(start), selection, run)
    commitments = place_commitments_first(
        instance,
        [(c, s) for c, s in preferred if committed(c)] + [(c, s) for c, s in sorted(start.items()) if committed(c)],
    )
    order = commitments + [(c, s) for c, s in preferred if not committed(c)] + sorted(start.items())
    final = greedy_schedule(instance, order)
    info.proven_optimal_parts = proven
    if not final.complete:  # a failed day's commitments clashed with another day's: keep the safe schedule
        logger.warning("decomposition lost a must/pinned meeting; returning the greedy schedule")
        info.fallback = True
        return start
    return _polished(instance, final.placed, selection, run)


def _value(instance: Instance, placed: dict[int, int]) -> int:
    return sum(instance.candidates[c].value for c in placed)


def _polished(instance: Instance, placed: dict[int, int], selection: Selection, run: Run) -> dict[int, int]:
    """After the merge: insertion of the meetings left out, then the idle-gap polish, in the time left
    but what the engine's statistics need."""
    pool_rows = len(instance.pool.table) if instance.pool is not None else 0
    statistics = statistics_seconds(len(instance.candidates), pool_rows)
    # Selected meetings no timetable placed (xl's days of 17,000 meetings keep their greedy
    # timetable) go in by Kempe-chain swaps or in place of less valuable ones, most valuable
    # first; then (runs with a clock) any other pair, as long as the time lasts.
    def by_value(c: int) -> tuple[int, int]:
        return -instance.candidates[c].value, c

    missing = sorted((c for c in selection.day_of if c not in placed), key=by_value)
    if not run.options.deterministic:
        missing += sorted((c.index for c in instance.candidates if c.index not in placed and c.index not in selection.day_of), key=by_value)
    if missing:  # insertion places through rules.Occupancy, precedences included
        budget = math.inf if run.options.deterministic else share("insertion") * max(0.1, run.remaining() - statistics)
        placed = insert_meetings(instance, placed, missing, budget)
    run.report("days merged", value=_value(instance, placed))
    if instance.weights.idle_gap == 0:
        return placed
    budget = math.inf if run.options.deterministic else max(0.1, run.remaining() - statistics)
    return close_idle_gaps(instance, placed, budget)


def place_commitments_first(instance: Instance, order: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every must/pinned meeting placed among the commitments alone: ``order`` first, any free slot for the rest.

    A must whose preferred slot clashes (its day failed, and the greedy start had it on a
    day whose timetable is now full; xl lost one that way) then still finds a slot before
    any optional meeting takes it. Returns (candidate, slot) placements in the full instance.
    """
    committed = sorted({c.index for c in instance.candidates if c.committed})
    if not committed:
        return []
    sub, original = restrict(instance, committed)
    position = {c: i for i, c in enumerate(original)}
    placed = greedy_schedule(sub, [(position[c], s) for c, s in order if c in position]).placed
    return [(original[i], s) for i, s in sorted(placed.items())]


@dataclass
class DayPart:
    """One day's timetabling job: everything it needs, nothing shared.

    ``solve_day`` is a pure function of it, so it runs in a local process or on a
    cluster worker unchanged (``solve_day_task``, executor.py).
    """

    sub: Instance  # the day's pairs (selected + spares), that day's slots, caps left by other days
    original: list[int]  # sub candidate -> instance candidate
    selected: set[int]  # sub candidates the selection put on this day
    start: dict[int, int]  # sub candidate -> slot in the greedy schedule (for the hint)
    day: int
    options: SolveOptions  # seed, workers for this part, determinism
    value_budget: float
    compact_budget: float


@dataclass
class DayResult:
    placements: list[tuple[int, int]]  # (instance candidate, slot)
    status: str


def day_part(
    instance: Instance, day: int, day_of: dict[int, int], start: dict[int, int],
    options: SolveOptions, value_budget: float, compact_budget: float,
) -> DayPart:
    """Cut one day's job out of the whole fair."""
    sub, original = _day_problem(instance, day, day_of)
    selected = {c.index for c in sub.candidates if day_of.get(original[c.index]) == day}
    own_start = {i: start[c] for i, c in enumerate(original) if c in start}
    return DayPart(sub, original, selected, own_start, day, options, value_budget, compact_budget)


def solve_day(part: DayPart) -> DayResult:
    """Timetable one day: its value phase, then compaction. Pure: the part in, placements out."""
    run = Run(dataclasses.replace(part.options, time_limit=part.value_budget + part.compact_budget))
    timetable = _timetable_day(part, run, part.value_budget, part.compact_budget * share("day_fallback_from_compaction"))
    compact_budget = part.compact_budget if run.options.deterministic else run.remaining()
    return DayResult(_compact_day(timetable, part.day, run, compact_budget), timetable.status)


def greedy_day(part: DayPart) -> DayResult:
    """A day's selected pairs slotted by the greedy alone (no time for its model): the value phase's hint."""
    sub = dataclasses.replace(part.sub, weights=part.sub.weights.model_copy(update={"idle_gap": 0}))
    optional = {c for c in part.selected if not part.sub.candidates[c].committed}
    placed = _greedy_timetable(part, sub, part.selected - (_misfits(part.sub, part.selected) & optional))
    return DayResult([(part.original[c], s) for c, s in sorted(placed.items())], "UNKNOWN")


def _greedy_timetable(part: DayPart, sub: Instance, required: set[int]) -> dict[int, int]:
    """The ``required`` pairs first (fewest options first, from their start slots), then the spares."""
    return greedy_schedule(_requiring(sub, required), [(i, part.start[i]) for i in sorted(required) if i in part.start]).placed


def solve_day_task(part: DayPart, context: TaskContext) -> DayResult:
    """``solve_day`` as a task (executor.py): with the cores it was given, within the seconds it has left
    (a part that waited in a cluster's queue, or was re-run after its worker was lost, has less), and
    stopping when told (a user's stop)."""
    options = dataclasses.replace(part.options, workers=context.cores, stop=either_stop(part.options.stop, context.stop))
    part = dataclasses.replace(part, options=options)
    planned = part.value_budget + part.compact_budget
    if context.seconds is not None and not options.deterministic and context.seconds < planned:
        if context.seconds < MIN_DAY_SECONDS:
            logger.info("day %s: no time left for its timetable", _label(part.sub, part.day))
            return DayResult([], "UNKNOWN")
        scale = context.seconds / planned
        part = dataclasses.replace(part, value_budget=part.value_budget * scale, compact_budget=part.compact_budget * scale)
    return solve_day(part)


def run_parts(parts: list[DayPart], processes: int) -> list[DayResult]:
    """Solve the parts, in ``processes`` local processes when more than one (results in order)."""
    if not parts:
        return []
    names = [f"day part {_label(part.sub, part.day)}" for part in parts]
    return LocalTasks(parts[0].options.num_workers).map(solve_day_task, parts, names, processes=processes)


def _timetable_day(part: DayPart, run: Run, budget: float, borrowable: float = 0.0) -> DayTimetable:
    """Stage 2, value phase: the day's most valuable timetable.

    Compactness waits for `_compact_day`: the idle-gap helper variables weaken
    the LP that proves the value part. The selected pairs are required: then
    propagation finds a full timetable within seconds, where a model free to
    drop them searches for minutes. The selection is a relaxation, so they may
    not all fit; the pairs of participants whose day cannot fit even on its own
    become optional at once (the spare pairs may replace them), and then, while
    CP-SAT proves the rest infeasible, those of an unsatisfiable core. Only if
    that fails too does the day fall back to a model that keeps the greedy's
    meetings of the selection (the hint satisfies it) and may add the rest; it
    may borrow ``borrowable`` seconds of the compaction's budget.
    """
    sub, original, selected = part.sub, part.original, part.selected
    label = _label(sub, part.day)
    value_only = dataclasses.replace(sub, weights=sub.weights.model_copy(update={"idle_gap": 0}))
    optional = {c for c in selected if not sub.candidates[c].committed}
    released = _misfits(sub, selected) & optional
    # The hint: the greedy places the required pairs first (fewest options first), then the spares.
    required = selected - released
    hint = _greedy_timetable(part, value_only, required)
    placed, status, left, build_seconds = None, "UNKNOWN", budget, 0.0
    if sum(len(c.slots) for c in sub.candidates) > DAY_MODEL_MAX_VARIABLES:
        # CP-SAT found no timetable for xl's days (27,000 pairs x 15 slots) in a minute each, and
        # building each model took 20 s: the greedy's timetable stands, and the merge's chain
        # insertion (polish.insert_meetings) puts in the selected meetings it left out.
        logger.info("day %s: %d candidates, too many for a day model; greedy placed %d", label, len(original), len(hint))
        return DayTimetable(sub, original, hint, "UNKNOWN", math.inf)
    for _ in range(MAX_RELEASES + 1):
        keep = _requiring(value_only, selected - released)  # the spares stay optional
        placed, status, spent, build_seconds = _solve_value(keep, hint, run, left * share("day_keep_attempt"), f"day {label} keep")
        left -= spent
        if status != "INFEASIBLE" or left <= 0:
            break
        core, spent = _core(keep, run, left * share("day_keep_attempt"))
        left -= spent
        if not (core & optional) - released:
            break
        released |= core & optional
    if released and status == "OPTIMAL":
        status = "FEASIBLE"  # optimal for what was kept, not proven for the day
    if placed is None and left + borrowable > 0:
        # No timetable of the selection (undecided, or not even without its cores): the greedy's
        # required meetings stay required, so the complete hint is a solution from the start
        # and the model only improves on it. Before, the model where every pair is optional got
        # what was left (large seed 0: 0.4 s) and found nothing; compacting the greedy's
        # timetable gains less than the meetings this model adds, hence the borrowed seconds.
        fallback = _requiring(value_only, (selected - released) & set(hint))
        placed, status, _, build_seconds = _solve_value(fallback, hint, run, left + borrowable, f"day {label} greedy kept")
    if placed is None:  # still the optimizer's choice of meetings, only slotted greedily
        placed = hint
    logger.info(
        "day %s: %d candidates, %d selected (%d released), greedy placed %d, value phase placed %d",
        label, len(original), len(selected), len(released), len(hint), len(placed),
    )
    return DayTimetable(sub, original, placed, status, build_seconds)


def _requiring(sub: Instance, required: set[int]) -> Instance:
    """A private copy of ``sub`` in which the ``required`` candidates are must requests."""
    return dataclasses.replace(
        sub, candidates=[dataclasses.replace(c, request_level="must") if c.index in required else c for c in sub.candidates]
    )


def _misfits(sub: Instance, selected: set[int]) -> set[int]:
    """Selected pairs of the participants whose selected meetings do not fit in the day even on their own.

    Cheap to find, and costly for CP-SAT to prove: the typical case is a buyer
    whose day is full of meetings in two far halls, which the selection's
    walking cut misses when the day's sessions are of very different lengths.
    """
    own: dict[int, list[Candidate]] = defaultdict(list)
    for c_index in selected:
        c = sub.candidates[c_index]
        if c.pinned_slot is not None:
            c = dataclasses.replace(c, slots=[c.pinned_slot])
        own[c.buyer].append(c)
        own[c.exhibitor].append(c)
    return {c.index for pairs in own.values() if not _fits_alone(sub, pairs) for c in pairs}


def _fits_alone(instance: Instance, pairs: list[Candidate], max_steps: int = 10_000) -> bool:
    """Whether one participant's meetings fit into distinct slots, walking included, ignoring everyone else.

    Depth-first, most constrained meeting first; a search that runs out of
    steps counts as fitting (CP-SAT will tell).
    """
    grid, walking = instance.grid, instance.walking
    pairs = sorted(pairs, key=lambda c: len(c.slots))
    taken: dict[int, int] = {}  # slot -> hall
    steps = 0

    def walkable(s: int, hall: int) -> bool:
        here = grid.slots[s]
        for t, other in taken.items():
            there = grid.slots[t]
            gap = here.start - there.end if there.start < here.start else there.start - here.end
            if walking[hall][other] > gap:
                return False
        return True

    def place(i: int) -> bool:
        nonlocal steps
        if i == len(pairs):
            return True
        for s in pairs[i].slots:
            steps += 1
            if steps > max_steps:
                return True
            if s not in taken and walkable(s, pairs[i].hall):
                taken[s] = pairs[i].hall
                if place(i + 1):
                    return True
                del taken[s]
        return False

    return place(0)


def _solve_value(
    sub: Instance, hint: dict[int, int], run: Run, budget: float, stage: str
) -> tuple[dict[int, int] | None, str, float, float]:
    """One value-phase solve: the placement (None if none found), its status, the budget it used and the seconds building took."""
    started = run.elapsed()
    built = build_model(sub)
    built.vars.hint_placement(built.model, hint)
    build_seconds = run.elapsed() - started
    solver, status = run.run(built.model, budget, stage, lp_heavy=True, light_presolve=_light(built))
    placed = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        mv = built.vars
        placed = {mv.cand_of[v]: mv.slot_of[v] for v, var in enumerate(mv.x) if solver.boolean_value(var)}
    return placed, solver.status_name(status), _used(run, started, solver), build_seconds


def _core(keep: Instance, run: Run, budget: float) -> tuple[set[int], float]:
    """Required pairs of an infeasible day that cannot all be timetabled together, and the budget used."""
    started = run.elapsed()
    built = build_model(keep, with_assumptions=True, objective=False)
    assert built.assumptions is not None
    solver = cp_model.CpSolver()
    run.configure(solver, budget)
    solver.parameters.num_workers = 1  # cores are reported reliably by a single worker
    status = solver.solve(built.model)
    if status != cp_model.INFEASIBLE:
        return set(), _used(run, started, solver)
    candidate_of = {literal.index: c for c, literal in built.assumptions.items()}
    return {candidate_of[i] for i in solver.sufficient_assumptions_for_infeasibility()}, _used(run, started, solver)


def _light(built) -> bool:
    """Light presolve for big day models only: at `large` (65,000 variables) the default presolve took most of an
    attempt; Anping's days (about 10,000) find their timetables within a second either way, and ended a little
    lower with it (bundled fair at 15 s: meeting value 51,009-51,057 in four runs against 51,130-51,169)."""
    return len(built.vars.x) >= LIGHT_PRESOLVE_MIN_VARIABLES


def _used(run: Run, started: float, solver: cp_model.CpSolver | None = None) -> float:
    """Budget used since ``started``: seconds, model building included, or in deterministic runs the
    solver's deterministic time (fixed budgets must not depend on the clock)."""
    if run.options.deterministic:
        return solver.deterministic_time if solver is not None else 0.0
    return run.elapsed() - started


def _compact_day(day_timetable: DayTimetable, day: int, run: Run, budget: float) -> list[tuple[int, int]]:
    """Stage 2, compaction: the value phase's meetings, all required, re-slotted with few idle gaps.

    Returns (instance candidate, slot) pairs; the value phase's slots if nothing better is found.
    """
    sub, original, placed = day_timetable.sub, day_timetable.original, day_timetable.placed
    if sub.weights.idle_gap == 0 or not placed or day_timetable.build_seconds == math.inf:
        return [(original[c], s) for c, s in placed.items()]  # (days too large for a model: the final polish)
    started = run.elapsed()
    # The moves of the final polish first (a second or two): the model starts from their timetable,
    # and when it finds nothing better in its time, or there is no time for it, the day is still that
    # much more compact (large seed 0: 2,222 -> 1,202 idle gaps on its first day in 1.4 s).
    moves_budget = math.inf if run.options.deterministic else max(MIN_STAGE_SECONDS, budget * share("day_compact_moves"))
    placed = close_idle_gaps(sub, placed, moves_budget)
    as_placed = [(original[c], s) for c, s in placed.items()]
    # On very large days, building the model would take all the time (wall-clock runs only).
    if not run.options.deterministic and day_timetable.build_seconds >= budget - _used(run, started):
        return as_placed
    kept = sorted(placed)
    compact, back = restrict(sub, kept)
    built = build_model(_requiring(compact, set(range(len(kept)))))
    built.vars.hint_placement(built.model, {i: placed[c] for i, c in enumerate(back)})
    solver, status = run.run(built.model, max(budget - _used(run, started), 0.1), f"day {_label(sub, day)} compact", light_presolve=_light(built))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return as_placed
    mv = built.vars
    return [(original[back[mv.cand_of[v]]], mv.slot_of[v]) for v, var in enumerate(mv.x) if solver.boolean_value(var)]


def _label(instance: Instance, day: int) -> str:
    return str(instance.grid.slots[instance.grid.by_day[day][0]].date)


def _day_problem(instance: Instance, day: int, day_of: dict[int, int]) -> tuple[Instance, list[int]]:
    """Stage 2 for one day: the pairs selected for it plus a few spare pairs per buyer.

    The spares (the best unselected pairs that can meet that day) let the
    timetable replace a selected meeting that does not fit at slot level. Caps
    become what the selection left for this day, so days stay independent.
    """
    grid = instance.grid
    day_slots = set(grid.by_day[day])
    elsewhere: dict[int, int] = defaultdict(int)
    for c_index, d in day_of.items():
        if d != day:
            c = instance.candidates[c_index]
            elsewhere[c.buyer] += 1
            elsewhere[c.exhibitor] += 1
    chosen = [c for c, d in day_of.items() if d == day]
    spares_of: dict[int, list] = defaultdict(list)
    for c in instance.candidates:
        if c.index not in day_of and day_slots.intersection(c.slots):
            spares_of[c.buyer].append(c)
    for own in spares_of.values():
        own.sort(key=lambda c: (-c.value, c.index))
        chosen += [c.index for c in own[:SPARES_PER_BUYER]]
    sub, original = restrict(instance, sorted(chosen), day_slots)
    # What the other days leave: caps shrink by their meetings, and so do minimums,
    # so that the day still pays min_shortfall for a meeting a minimum needs.
    parties = [
        dataclasses.replace(
            p, max_meetings=max(0, p.max_meetings - elsewhere[i]), min_meetings=max(0, p.min_meetings - elsewhere[i])
        )
        for i, p in enumerate(instance.parties)
    ]
    return dataclasses.replace(sub, parties=parties), original
