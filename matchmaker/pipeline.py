"""The library's entry points: solve and re-plan, each schedule checked before it leaves.

The engine (``solver/``) builds a schedule; this layer runs the independent
checker (``analysis/checker.py``) on it, explains what is missing and, when
re-planning, writes the change report. A schedule that breaks a hard rule is a
bug: it is logged as an error naming the rules, and the start schedule the
engine improved on (commitments and greedy) is returned instead when that one
is valid. When no valid schedule exists, ``MatchmakerError`` is raised and
nothing is written (CLI exit 3).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .analysis.checker import check_schedule
from .analysis.diff import ChangeReport, change_reason, diff_schedules
from .analysis.explain import explain_schedule
from .errors import MatchmakerError
from .solver.budget import WRITE_SECONDS
from .solver.engine import Solved, solve_scenario
from .solver.executor import connect as connect_cluster
from .solver.replan import Moment, Policy
from .solver.replan import replan as replan_engine
from .solver.run import Progress, SolveOptions
from .spec.scenario import Scenario
from .spec.schedule import Schedule

logger = logging.getLogger(__name__)

__all__ = ["Progress", "Replan", "SolveOptions", "connect_cluster", "reschedule", "solve"]


@dataclass
class Replan:
    schedule: Schedule
    changes: ChangeReport


def solve(scenario: Scenario, options: SolveOptions | None = None) -> Schedule:
    """A checked, explained schedule of ``scenario`` (see ``solver.engine.solve_scenario``)."""
    options = options or SolveOptions()
    started = options.started if options.started is not None else time.monotonic()
    _connect(options)
    solved = solve_scenario(scenario, options)
    schedule = _valid(scenario, solved)
    _explain(scenario, schedule, solved, options, started)
    return schedule


def reschedule(
    scenario: Scenario,
    previous: Schedule,
    options: SolveOptions | None = None,
    policy: Policy = "keep",
    max_changes_per_participant: int | None = None,
    freeze_before: Moment | None = None,
    previous_sha256: str | None = None,
    previous_file: str | None = None,
) -> Replan:
    """Re-plan ``scenario`` against the published ``previous`` schedule: a checked schedule and who must be told what."""
    options = options or SolveOptions()
    started = options.started if options.started is not None else time.monotonic()
    _connect(options)
    replanned = replan_engine(
        scenario, previous, options, policy, max_changes_per_participant, freeze_before, previous_sha256, previous_file
    )
    primary = replanned.solved.schedule
    schedule = _valid(scenario, replanned.solved)
    if schedule is not primary:  # the fallback is a schedule of the same re-plan
        schedule.version, schedule.previous = primary.version, primary.previous
        if schedule.solver is not None and primary.solver is not None:
            schedule.solver.policy = primary.solver.policy
    _explain(scenario, schedule, replanned.solved, options, started)
    report = diff_schedules(previous, schedule, replanned.reasons)
    for change in report.changes:
        if change_reason(replanned.reasons, change) is None:
            default = {"moved": replanned.moved_reason, "cancelled": replanned.cancel_reason}
            change.reason = default.get(change.change, change.reason)
    return Replan(schedule, report)


def _connect(options: SolveOptions) -> None:
    """A cluster that cannot be reached fails before any work is done (ClusterError, CLI exit 2)."""
    if options.cluster:
        connect_cluster(options.cluster)


def _valid(scenario: Scenario, solved: Solved) -> Schedule:
    """The engine's schedule when it passes the checker, else its valid fallback; raise when neither is valid."""
    report = check_schedule(scenario, solved.schedule)
    if report.ok:
        return solved.schedule
    broken = ", ".join(sorted(report.labels()))
    logger.error(
        "bug: the solved schedule breaks %s (%d violations, first: %s); please report this scenario",
        broken, len(report.violations), report.violations[0],
    )
    if solved.fallback is not None:
        fallback = solved.fallback()
        if check_schedule(scenario, fallback).ok:
            if fallback.solver is not None:
                fallback.solver.message = (
                    f"the optimized schedule broke {broken} (a bug, logged); this is the valid start schedule"
                )
            return fallback
    raise MatchmakerError(f"no valid schedule: the solved schedule breaks {broken} (a bug; please report this scenario)")


def _explain(scenario: Scenario, schedule: Schedule, solved: Solved, options: SolveOptions, started: float) -> None:
    """Explanations within the time limit (the engine kept a reserve for them; deterministic runs: all of them)."""
    if options.explain:
        deadline = None if options.deterministic else started + options.time_limit - WRITE_SECONDS
        schedule.explanations = explain_schedule(
            scenario, schedule, options.candidates_per_meeting, instance=solved.instance, deadline=deadline
        )
