"""Solve: scenario in, Schedule out.

Steps: candidate matching → commitments (must requests and pins) placed by a
small exact model, which also proves infeasibility → greedy completion (the
hint and the fallback) → CP-SAT: one monolithic model when it is small, else
the two-stage decomposition of ``decompose.py`` → schedule with stats.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InfeasibleError, MatchmakerError
from ..instance.candidates import (
    DEFAULT_CANDIDATES_PER_MEETING,
    Instance,
    build_instance,
    prune_instance,
)
from ..relax.pricing import generate_columns, pooled_instance
from ..spec.scenario import Scenario
from ..spec.schedule import Schedule, SolverInfo
from . import bounds, brokerage, portfolio
from .budget import FLOW_MIN_ROUNDS, FLOW_ROUND_PER_PAIR, after_engine_seconds, share
from .decompose import solve_decomposed
from .diagnose import impossible_commitments, place_commitments
from .executor import tasks_for
from .greedy import greedy_schedule
from .run import Run, SolveOptions
from .solution import build_schedule

logger = logging.getLogger(__name__)

BOUND_ITERATIONS = 12  # subgradient rounds of the flow bound; each is one min-cost flow
MONOLITHIC_MAX_VARIABLES = 40_000  # above this, presolve alone eats a 2-core budget
UNCAPPED_GUESS = 16  # meetings of a participant without max_meetings, for the reserve before the greedy ran
GREEDY_TO_FINAL_MEETINGS = 1.15  # the final schedule's meetings per greedy meeting, at most (xl: 1.10), for the reserve
STREAMING_PAIRS = 4_000_000  # buyers x exhibitors above which pairs are matched as a pair table (xl: 10M)


@dataclass
class Solved:
    """The engine's result, before the pipeline checks and explains it.

    ``fallback`` builds the start schedule (commitments and greedy) that every
    stage improved on: what the pipeline returns if the final schedule fails the
    checker, which would be a bug. None when no start schedule was made.
    """

    schedule: Schedule
    instance: Instance
    fallback: Callable[[], Schedule] | None = None
    bounds: bounds.Bounds | None = None  # what stats.upper_bound_* were filled from


def _solve_monolithic(instance: Instance, start: dict[int, int], run: Run, info: SolverInfo) -> dict[int, int]:
    tasks = tasks_for(run)
    if tasks.remote:  # seeds racing on the cluster's workers; the first proof wins
        answer = portfolio.race_monolithic(instance, start, run, tasks)
    else:
        answer = portfolio.monolithic(instance, start, run, run.budget(share("monolithic"), 1.0))
    info.status = answer.status
    if answer.status == "INFEASIBLE":  # commitments were placeable, so this means a modelling bug
        raise MatchmakerError("the model is infeasible although the must requests fit; please report this scenario")
    if answer.placed is None:
        info.fallback = True
        return start
    info.best_bound = answer.bound
    return answer.placed


def _solve_breaks(instance: Instance, start: Callable[[], dict[int, int]], run: Run, info: SolverInfo) -> dict[int, int]:
    """The brokerage stages (brokerage.py): here, or as a portfolio on the cluster."""
    tasks = tasks_for(run)
    if not tasks.remote:
        return brokerage.solve_breaks(instance, start, run, info)
    answer = portfolio.race_breaks(instance, run, tasks)
    if answer.placed is None:  # no member answered in time: the start schedule, made here
        info.status, info.fallback = answer.status, True
        return start()
    info.status, info.best_bound, info.fallback = answer.status, answer.bound, answer.fallback
    if answer.greedy_meetings is not None:
        info.greedy_meetings = answer.greedy_meetings
    return answer.placed


def solve_scenario(scenario: Scenario, options: SolveOptions) -> Solved:
    """Find a conflict-free schedule that is as valuable as possible within the time limit.

    Raises InfeasibleError (with the conflicting must/pinned meetings named) when
    the commitments cannot all be met. Otherwise always returns a schedule, even
    when time runs out: the greedy schedule is the floor. ``pipeline.solve`` is
    the public entry, which checks and explains what this returns.
    """
    run = Run(options)
    # Until the greedy tells how many meetings there will be: the most the caps allow.
    run.reserve = after_engine_seconds(len(scenario.buyers) + len(scenario.exhibitors), _most_meetings(scenario))
    if options.strategy != "monolithic" and len(scenario.buyers) * len(scenario.exhibitors) > STREAMING_PAIRS:
        # Millions of matching pairs: all held as arrays, each buyer's best as candidates;
        # column generation adds those the selection LP's duals price in, and bounds them all.
        pooled = pooled_instance(scenario, options.candidates_per_meeting or DEFAULT_CANDIDATES_PER_MEETING)
        budget = math.inf if options.deterministic else share("column_generation") * run.remaining()
        return solve_instance(generate_columns(pooled, budget), dataclasses.replace(options, strategy="decompose"), run)
    every_pair = build_instance(scenario, candidates_per_meeting=None)
    instance = every_pair
    if options.candidates_per_meeting is not None:
        instance = prune_instance(every_pair, options.candidates_per_meeting)
    if options.strategy == "decompose" or (options.strategy == "auto" and _variables(instance) > MONOLITHIC_MAX_VARIABLES):
        # The decomposition's selection LP prices every matching pair at little
        # cost, so pruning would only lose value (about 1% at Anping size).
        instance = every_pair
    return solve_instance(instance, options, run, every_pair=every_pair)


def _most_meetings(scenario: Scenario) -> int:
    """Meetings the participants' caps allow at most (no cap: UNCAPPED_GUESS, before the slots are known)."""
    def caps(people) -> int:
        return sum(UNCAPPED_GUESS if p.max_meetings is None else p.max_meetings for p in people)

    return min(caps(scenario.buyers), caps(scenario.exhibitors))


def _variables(instance: Instance) -> int:
    """(pair, slot) variables a monolithic model of ``instance`` would have."""
    return sum(len(c.slots) for c in instance.candidates)


def solve_instance(
    instance: Instance, options: SolveOptions, run: Run | None = None, preferred: list[tuple[int, int]] = (),
    every_pair: Instance | None = None,
) -> Solved:
    """Solve a prepared candidate instance; ``preferred`` placements (e.g. a previous schedule) guide the hint.

    ``every_pair``: the scenario's unpruned instance, when the caller built it (the flow bound's).
    """
    run = run or Run(options)
    scenario = instance.scenario
    impossible = impossible_commitments(instance)
    if impossible:
        raise InfeasibleError(impossible)

    variables = _variables(instance)
    strategy = options.strategy
    if strategy == "auto":
        strategy = "monolithic" if variables <= MONOLITHIC_MAX_VARIABLES else "decompose"
    info = SolverInfo(
        status="UNKNOWN",
        seconds=0.0,
        seed=options.seed,
        workers=options.num_workers,
        time_limit=options.time_limit,
        deterministic=options.deterministic,
        strategy=strategy,
    )

    started: list[dict[int, int]] = []  # the start schedule, once made

    def start() -> dict[int, int]:
        """Commitments placed by CP-SAT, then the greedy fills the rest: the schedule every stage improves."""
        base = place_commitments(instance, run)
        before = run.elapsed()
        greedy = greedy_schedule(instance, base + list(preferred))
        run.measured["greedy"] = run.elapsed() - before
        if not greedy.complete:
            raise MatchmakerError(
                f"could not place every must request and pinned meeting within {options.time_limit:g}s; raise --time-limit"
            )
        info.greedy_meetings = len(greedy.placed)
        run.reserve = after_engine_seconds(len(instance.parties), math.ceil(GREEDY_TO_FINAL_MEETINGS * len(greedy.placed)))
        started.append(dict(greedy.placed))
        run.report("start schedule", value=sum(instance.candidates[c].value for c in greedy.placed))
        return greedy.placed

    found = bounds.Bounds()  # upper bounds over every schedule of the instance (solver/bounds.py)
    if brokerage.applies(instance):
        # Objective "breaks" with every meeting committed: the pattern stages, whose
        # first stage usually settles the instance before any start schedule is needed.
        logger.info("strategy brokerage patterns for %d meeting variables", variables)
        placed = _solve_breaks(instance, start, run, info)
        if options.bound:  # meetings and value are fixed; the breaks' bound is solver.best_bound
            found = bounds.fixed(instance)
    else:
        first = start()

        def flow() -> bounds.Bounds:
            """The flow bound, for small fairs (it models buyers and exhibitors only), in its time share."""
            if not (options.bound and bounds.flow_applies(instance)):
                return bounds.Bounds()
            # A wall-clock budget would make the reported bound vary between deterministic runs.
            budget = math.inf if options.deterministic else min(share("flow_bound") * options.time_limit, run.remaining())
            if budget < FLOW_MIN_ROUNDS * FLOW_ROUND_PER_PAIR * instance.candidates_before_pruning:
                logger.info("flow bound: %.1fs is too little for its rounds; skipped (the counting and LP bounds stand)", budget)
                return bounds.Bounds()
            greedy_value = sum(instance.candidates[c].value for c in first)
            return bounds.flow(instance, BOUND_ITERATIONS, greedy_value, budget, every_pair)

        # The flow bound is the tightest on meeting value (the bundled Anping fair: 51,478 against the
        # selection LP's 52,192; the LP's is on value less shortfall penalties), the LP on the score.
        found = flow()
        run.report("flow bound", value=sum(instance.candidates[c].value for c in first), value_bound=found.value)
        logger.info("strategy %s for %d meeting variables; greedy placed %d", strategy, variables, len(first))
        if strategy == "monolithic":
            placed = _solve_monolithic(instance, first, run, info)
        else:
            from_lp: list[bounds.Bounds] = []
            placed = solve_decomposed(instance, first, run, info, from_lp)
            if options.bound:
                for more in from_lp:
                    found = found.merge(more)
        if options.bound:
            found = found.merge(bounds.counting(instance))

    tasks = tasks_for(run)
    info.engine, info.tasks = tasks.engine, tasks.sent
    tasks.close()
    schedule = build_schedule(instance, placed, info)
    stats, weights = schedule.stats, instance.weights
    bounds.fill(stats, weights, found)
    if scenario.objective == "breaks":
        info.objective = -stats.idle_gaps
    else:
        info.objective = bounds.scaled_objective(weights, stats.value, stats.min_meetings_shortfall, stats.idle_gaps)
    # CP-SAT's own gap, in its scaled units: internal (the schedule's gap is stats.gap_percent).
    if info.best_bound is not None and info.best_bound > 0:
        info.gap_percent = max(0.0, bounds.gap_percent(info.best_bound, info.objective))
    info.seconds = round(run.elapsed(), 3)
    info.message = _summary_message(info)

    def fallback() -> Schedule:
        fallback_info = info.model_copy(update={"fallback": True, "best_bound": None, "gap_percent": None})
        made = build_schedule(instance, started[0], fallback_info)
        bounds.fill(made.stats, weights, found)  # the same bounds hold for every schedule of the instance
        return made

    return Solved(schedule, instance, fallback if started else None, found)


def _summary_message(info: SolverInfo) -> str:
    if info.fallback:
        return "the optimizer found nothing better in time; this is the greedy schedule (raise --time-limit)"
    if info.status == "OPTIMAL":
        return "proven optimal for the candidate pairs considered"
    return "time limit reached or decomposed; best schedule found, see gap_percent for how far it may be from the bound"
