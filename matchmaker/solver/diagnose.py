"""Commitments (must requests and pins): placed by a small exact model, or why they cannot all take place."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

from ortools.sat.python import cp_model

from ..errors import InfeasibleError
from ..instance.candidates import Candidate, Instance, restrict
from .budget import (
    DIAGNOSIS_MIN_SECONDS,
    DIAGNOSIS_SHRINK_SECONDS,
    DIAGNOSIS_SHRINK_TOTAL_SECONDS,
    MIN_STAGE_SECONDS,
    share,
)
from .model import build_model
from .run import Run

logger = logging.getLogger(__name__)

MAX_CORE_TO_SHRINK = 25  # deletion-based shrinking costs one solve per member


def _pair(instance: Instance, c: Candidate) -> str:
    """``B1-E1``, or ``B1-E1 (meeting 2 of 3)`` for one meeting of a repeat request."""
    repeat = f" (meeting {c.repeat + 1} of {c.meetings})" if c.meetings > 1 else ""
    return f"{instance.parties[c.buyer].id}-{instance.parties[c.exhibitor].id}{repeat}"


def _commitment(instance: Instance, c: Candidate) -> str:
    if c.pinned_slot is not None:
        return f"{_pair(instance, c)} (pinned at {instance.grid.slots[c.pinned_slot].label})"
    return f"{_pair(instance, c)} (must)"


def impossible_commitments(instance: Instance) -> list[str]:
    """Commitments that fail on their own, found without a solver."""
    reasons = [
        f"must request {d.buyer}-{d.exhibitor} cannot be scheduled: {d.reason}"
        for d in instance.dropped_requests
        if d.level == "must"
    ]
    for c in instance.candidates:
        if c.pinned_slot is not None and c.pinned_slot not in c.slots:
            when = instance.grid.slots[c.pinned_slot].label
            if c.interpreter is not None:
                why = f"needs an interpreter for {instance.languages[c.interpreter]!r} and none is on duty then"
            else:
                why = "cannot take place then (a participant is unavailable)"
            reasons.append(f"pinned meeting {_pair(instance, c)} at {when} {why}")
    committed: dict[int, list[Candidate]] = defaultdict(list)
    for c in instance.candidates:
        if c.committed:
            committed[c.buyer].append(c)
            committed[c.exhibitor].append(c)
    for party, own in sorted(committed.items()):
        info = instance.parties[party]
        if len(own) > info.max_meetings:
            reasons.append(
                f"{info.id} has {len(own)} must/pinned meetings but can take at most {info.max_meetings} "
                f"(max_meetings or free slots): " + ", ".join(_commitment(instance, c) for c in own)
            )
    return reasons


def place_commitments(instance: Instance, run: Run) -> list[tuple[int, int]]:
    """Place every must request and pin with all hard rules; raise InfeasibleError (naming a conflict) if impossible.

    Returns (candidate, slot) placements; none when the model is undecided in time (the greedy then tries alone).
    """
    committed = [c.index for c in instance.candidates if c.committed]
    if not committed:
        return []
    sub, original = restrict(instance, committed)
    built = build_model(sub, objective=False)
    # Objective "breaks": the LP-heavy worker proves break bounds the default pair does not.
    lp_heavy = instance.scenario.objective == "breaks"
    solver, status = run.run(built.model, run.budget(share("commitments"), share("commitments")), "commitments", lp_heavy=lp_heavy)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError(conflicting_commitments(sub, run))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    mv = built.vars
    return [(original[mv.cand_of[v]], mv.slot_of[v]) for v, var in enumerate(mv.x) if solver.boolean_value(var)]


def _left(run: Run) -> float:
    """Wall seconds of the whole limit left: nothing runs after a failed solve, so the reserve is free."""
    return max(0.0, run.options.time_limit - run.elapsed())


def _is_feasible(instance: Instance, keep: list[int], run: Run, budget: float) -> bool | None:
    """Solve the rules with only the commitments in ``keep``; None when undecided in ``budget``."""
    built = build_model(instance, with_assumptions=True, objective=False)
    assert built.assumptions is not None
    built.model.clear_assumptions()
    built.model.add_assumptions([built.assumptions[c] for c in keep])
    solver = cp_model.CpSolver()
    run.configure(solver, budget)
    solver.parameters.num_workers = 1
    status = solver.solve(built.model)
    if status == cp_model.INFEASIBLE:
        return False
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    return None


def conflicting_commitments(instance: Instance, run: Run) -> list[str]:
    """Name a small set of must/pinned meetings that cannot all take place, and who they share.

    Within the run's limit (budget.SHARES["diagnosis"] for finding a core, the rest for
    shrinking it one solve per member); out of time, the core found so far is named.
    """
    options = run.options
    built = build_model(instance, with_assumptions=True, objective=False)
    assert built.assumptions is not None
    solver = cp_model.CpSolver()
    if options.deterministic:
        run.configure(solver, share("diagnosis") * options.time_limit)
    else:
        run.configure(solver, max(DIAGNOSIS_MIN_SECONDS, share("diagnosis") * _left(run)))
    solver.parameters.num_workers = 1  # cores are reported reliably by a single worker
    if instance.scenario.objective == "breaks":
        solver.parameters.linearization_level = 2  # break-fairness conflicts need the strong LP
    status = solver.solve(built.model)
    if status != cp_model.INFEASIBLE:
        hint = " (or with fairness.max_break_spread)" if instance.scenario.objective == "breaks" else ""
        return [f"the must requests and pinned meetings conflict with each other{hint}, but the solver could not name them in time"]
    literal_to_candidate = {lit.index: c for c, lit in built.assumptions.items()}
    core = sorted(literal_to_candidate[i] for i in solver.sufficient_assumptions_for_infeasibility())
    if len(core) <= MAX_CORE_TO_SHRINK:
        # Deterministic runs: a fixed deterministic time per member; others: what the clock leaves.
        fixed = min(DIAGNOSIS_SHRINK_SECONDS, (1 - share("diagnosis")) * options.time_limit / max(1, len(core)))
        shrink_until = run.elapsed() + DIAGNOSIS_SHRINK_TOTAL_SECONDS
        for member in list(core):
            budget = fixed if options.deterministic else min(DIAGNOSIS_SHRINK_SECONDS, _left(run), shrink_until - run.elapsed())
            if budget < MIN_STAGE_SECONDS:
                logger.info("diagnosis: out of time; naming the %d commitments found so far", len(core))
                break
            trial = [c for c in core if c != member]
            if _is_feasible(instance, trial, run, budget) is False:
                core = trial
    if not core:  # CP-SAT's presolve proved it before any assumption was tried, so it names none
        message = "the must requests and pinned meetings cannot all take place under the hard rules"
        spread = instance.scenario.fairness.max_break_spread
        if instance.scenario.objective == "breaks" and spread is not None:
            message += (
                f"; the likely cause is the fairness rule (fairness.max_break_spread = {spread}: breaks of any two"
                " participants differ by at most that): try a larger value"
            )
        return [message]
    members = [instance.candidates[c] for c in core]
    lines = ["these must/pinned meetings cannot all take place: " + ", ".join(_commitment(instance, c) for c in members)]
    shared = Counter(p for c in members for p in (c.buyer, c.exhibitor))
    for party, count in sorted(shared.items()):
        if count < 2 and len(members) > 1:
            continue
        info = instance.parties[party]
        usable = sorted({s for c in members if party in (c.buyer, c.exhibitor) for s in c.slots})
        labels = ", ".join(instance.grid.slots[s].label for s in usable[:8]) + (" ..." if len(usable) > 8 else "")
        caps = f"max_meetings {info.max_meetings}" + (f", max_meetings_per_day {info.max_per_day}" if info.max_per_day is not None else "")
        lines.append(f"{info.id} is in {count} of them; the slots they could use: {labels} ({caps})")
    logger.info("infeasible commitments: %s", lines[0])
    return lines

