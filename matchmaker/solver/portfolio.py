"""Portfolios: members racing on one instance on a Dask cluster; the first proof wins and stops the rest.

Used for the one-model solves when ``SolveOptions.cluster`` is set: the monolithic CP-SAT
model of small fairs, and the brokerage stages of objective "breaks" (``brokerage.solve_breaks``,
whose local search and CP-SAT stages both depend on the seed). Member k solves with seed + k;
in feasibility stages (brokerage stage 1) its full searches are the lone solve's rotated by k
(``run.lead_subsolvers``), so that members of one core each split what a lone solve's workers
run side by side: one finds a schedule, the other refutes.

When no member proves its answer optimal, the best answer wins and the tightest bound of
all members is kept (each member's bound holds for the instance); a best answer that meets
that bound is optimal too. Each member is a pure task (``Member`` in, ``Answer`` out).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ..errors import InfeasibleError, MatchmakerError
from ..instance.candidates import Instance
from ..spec.schedule import SolverInfo
from . import brokerage
from .budget import MAX_PORTFOLIO, MIN_STAGE_SECONDS, TASK_STARTUP, share
from .diagnose import place_commitments
from .executor import ClusterTasks, TaskContext, either_stop
from .greedy import greedy_schedule
from .model import build_model
from .run import Run, SolveOptions
from .solution import total_idle_gaps

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """One solve of the instance: its placement (None: nothing found), status, objective and bound
    (to maximize: the monolithic model's scaled objective; breaks: minus the total breaks)."""

    placed: dict[int, int] | None
    status: str
    objective: float | None = None
    bound: float | None = None
    fallback: bool = False
    greedy_meetings: int | None = None

    @property
    def proven(self) -> bool:
        return self.status == "OPTIMAL"


@dataclass
class Member:
    """A portfolio member's task: the instance, its start (hint), options (seed, member index) and seconds."""

    instance: Instance
    start: dict[int, int]
    options: SolveOptions
    seconds: float


def members(run: Run, tasks: ClusterTasks) -> int:
    """Members of a portfolio: ``options.portfolio``, or one per task slot of the cluster (at most MAX_PORTFOLIO).

    Deterministic runs race no seeds: one member, the lone solve a local run would make.
    """
    if run.options.deterministic:
        return 1
    return max(1, min(MAX_PORTFOLIO, run.options.portfolio or tasks.capacity.slots))


def _member_options(run: Run, k: int, size: int) -> SolveOptions:
    """Member k's options: seed + k, subsolvers rotated by k (a portfolio of one is the lone solve)."""
    return dataclasses.replace(
        run.options, seed=run.options.seed + k, member=k if size > 1 else None,
        on_progress=None, started=None, cluster=None, portfolio=None,
    )


def _context_options(member: Member, context: TaskContext) -> tuple[SolveOptions, float]:
    """The member's options on the cores it was given, and its seconds (less when it waited or was re-run)."""
    options = dataclasses.replace(member.options, workers=context.cores, stop=either_stop(member.options.stop, context.stop))
    seconds = member.seconds
    if context.seconds is not None and not options.deterministic:
        seconds = min(seconds, context.seconds)
    return dataclasses.replace(options, time_limit=seconds), seconds


def _race(run: Run, tasks: ClusterTasks, instance: Instance, start: dict[int, int], seconds: float, task, label: str) -> list[Answer]:
    size = members(run, tasks)
    payloads = [Member(instance, start, _member_options(run, k, size), seconds) for k in range(size)]
    names = [f"{label} member {k} (seed {payload.options.seed})" for k, payload in enumerate(payloads)]
    budget = None if run.options.deterministic else seconds + TASK_STARTUP
    logger.info("%s: a portfolio of %d on %s", label, size, tasks.engine)
    answers = tasks.race(task, payloads, names, budget, proven=lambda answer: answer.proven)
    return [answer for answer in answers if answer is not None]


# --------------------------------------------------------------------------------------------
# The monolithic model
# --------------------------------------------------------------------------------------------


def monolithic(instance: Instance, start: dict[int, int], run: Run, budget: float, stage: str = "cp-sat") -> Answer:
    """The monolithic CP-SAT model, hinted with ``start``: the small fairs' one solve."""
    built = build_model(instance)
    built.vars.hint_placement(built.model, start)
    # Objective "breaks": the LP-heavy worker proves break bounds the default pair does not.
    solver, status = run.run(built.model, budget, stage, lp_heavy=instance.scenario.objective == "breaks")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Answer(None, solver.status_name(status))
    mv = built.vars
    placed = {mv.cand_of[v]: mv.slot_of[v] for v, var in enumerate(mv.x) if solver.boolean_value(var)}
    return Answer(placed, solver.status_name(status), solver.objective_value, solver.best_objective_bound)


def monolithic_member(member: Member, context: TaskContext) -> Answer:
    """A portfolio member of the monolithic model (a task)."""
    options, seconds = _context_options(member, context)
    if seconds < MIN_STAGE_SECONDS:
        return Answer(None, "UNKNOWN")
    return monolithic(member.instance, member.start, Run(options), seconds, f"cp-sat member {options.member or 0}")


def race_monolithic(instance: Instance, start: dict[int, int], run: Run, tasks: ClusterTasks) -> Answer:
    """The monolithic model as a portfolio on the cluster: the first proof, else the best answer."""
    seconds = run.budget(share("monolithic"), 1.0)
    if not run.options.deterministic:  # the members' answers must be back by the end of the stage
        seconds = max(MIN_STAGE_SECONDS, seconds - TASK_STARTUP)
    answers = _race(run, tasks, instance, start, seconds, monolithic_member, "cp-sat")
    if any(answer.status == "INFEASIBLE" for answer in answers):
        return Answer(None, "INFEASIBLE")
    return _best(answers, maximize=True)


# --------------------------------------------------------------------------------------------
# Brokerage: objective "breaks" with every meeting committed
# --------------------------------------------------------------------------------------------


def breaks(instance: Instance, run: Run, start, preferred=()) -> Answer:
    """``brokerage.solve_breaks`` as an Answer: objective minus the total breaks, bound minus the proven lower bound."""
    info = SolverInfo(status="UNKNOWN", seconds=0.0, seed=run.options.seed, workers=run.options.num_workers,
                      time_limit=run.options.time_limit)
    placed = brokerage.solve_breaks(instance, start, run, info)
    return Answer(
        placed, info.status, -float(_breaks_of(instance, placed)), info.best_bound, info.fallback, getattr(info, "greedy_meetings", None)
    )


def breaks_member(member: Member, context: TaskContext) -> Answer:
    """A portfolio member of the brokerage stages (a task); builds its own start schedule when it needs one."""
    options, _ = _context_options(member, context)
    run = Run(options)
    instance = member.instance
    made: list[int] = []

    def start() -> dict[int, int]:
        """Commitments placed by CP-SAT, then the greedy (as the engine's start schedule)."""
        greedy = greedy_schedule(instance, place_commitments(instance, run))
        if not greedy.complete:
            raise MatchmakerError(
                f"could not place every must request and pinned meeting within {member.options.time_limit:g}s; raise --time-limit"
            )
        made.append(len(greedy.placed))
        return greedy.placed

    try:
        answer = breaks(instance, run, start)
    except InfeasibleError:
        raise  # a proof: the commitments conflict
    except MatchmakerError as error:  # e.g. no start schedule in this member's time: no answer, not the race's end
        logger.info("%s: %s", f"breaks member {options.member or 0}", error)
        return Answer(None, "UNKNOWN")
    answer.greedy_meetings = made[0] if made else None
    return answer


def race_breaks(instance: Instance, run: Run, tasks: ClusterTasks) -> Answer:
    """The brokerage stages as a portfolio on the cluster: the first proven optimum, else the fewest breaks.

    An infeasibility proof from any member (the commitments conflict) is raised as it arrives.
    """
    if run.options.deterministic:
        seconds = run.options.time_limit
    else:
        seconds = max(MIN_STAGE_SECONDS, run.remaining() - TASK_STARTUP)
    answers = _race(run, tasks, instance, {}, seconds, breaks_member, "breaks")
    best = _best(answers, maximize=True)
    placed = [answer.greedy_meetings for answer in answers if answer.greedy_meetings is not None]
    best.greedy_meetings = placed[0] if placed else None
    return best


def _best(answers: list[Answer], maximize: bool) -> Answer:
    """The proven answer, else the best objective; the tightest bound of all (each member's holds)."""
    found = [answer for answer in answers if answer.placed is not None]
    if not found:
        return Answer(None, answers[0].status if answers else "UNKNOWN", fallback=True)
    sign = 1.0 if maximize else -1.0
    best = max(found, key=lambda answer: (answer.proven, sign * (answer.objective if answer.objective is not None else -math.inf * sign)))
    bounds = [answer.bound for answer in answers if answer.bound is not None]
    bound = (min(bounds) if maximize else max(bounds)) if bounds else best.bound
    status = best.status
    if bound is not None and best.objective is not None and sign * (bound - best.objective) <= 1e-6:
        status = "OPTIMAL"  # one member's answer meets another's bound
    return dataclasses.replace(best, bound=bound, status=status)


def _breaks_of(instance: Instance, placed: dict[int, int]) -> int:
    slots_by_party: dict[int, list[int]] = defaultdict(list)
    for c, s in placed.items():
        slots_by_party[instance.candidates[c].buyer].append(s)
        slots_by_party[instance.candidates[c].exhibitor].append(s)
    return total_idle_gaps(instance, slots_by_party)
