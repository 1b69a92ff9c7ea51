"""Two-stage solve for fairs too large for one monolithic model.

Stage 1 (selection) decides which pairs meet on which day, with every count
rule aggregated per day; it is a relaxation of the full problem, so its
optimum bounds the meeting value of every schedule. Stage 2 (timetabling) puts
each day's selected meetings into slots with every hard rule, one small CP-SAT
model per day; days are independent once stage 1 has fixed the selection.
Whatever stage 2 cannot place is handed back to a greedy fill.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from .candidates import Instance, restrict
from .greedy import greedy_schedule
from .model import build_model
from .schedule import SolverInfo

if TYPE_CHECKING:
    from .solver import Run

logger = logging.getLogger(__name__)

SELECTION_SHARE = 0.3  # of the time left after the greedy, for stage 1
DAYS_SHARE = 0.6  # of the limit, split over the days (deterministic runs only)
VALUE_PHASE_SHARE = 0.6  # of a day's time: the rest re-slots the same meetings compactly
SPARES_PER_BUYER = 3  # unselected pairs a day's timetable may use instead of selected ones


@dataclass
class SelectionResult:
    day_of: dict[int, int]  # candidate -> day
    status: str
    objective: float | None
    bound: float | None


def selection_model(instance: Instance) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """Stage 1: y[c, d] = 1 when candidate c meets on day d (slot conflicts aggregated per day)."""
    model = cp_model.CpModel()
    grid = instance.grid
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    by_party_day: dict[tuple[int, int], list] = defaultdict(list)
    slots_of_party_day: dict[tuple[int, int], set[int]] = defaultdict(set)
    by_location_day: dict[tuple[int, int], list] = defaultdict(list)
    by_language_day: dict[tuple[int, int], list] = defaultdict(list)
    exhibitors_at: dict[int, set[int]] = defaultdict(set)
    for c in instance.candidates:
        exhibitors_at[c.location].add(c.exhibitor)
        days = sorted({grid.slots[s].day for s in c.slots})
        if c.pinned_slot is not None:
            days = [grid.slots[c.pinned_slot].day]
        own = []
        for d in days:
            var = model.new_bool_var("")
            y[(c.index, d)] = var
            own.append(var)
            for party in (c.buyer, c.exhibitor):
                by_party_day[(party, d)].append(var)
                slots_of_party_day[(party, d)].update(s for s in c.slots if grid.slots[s].day == d)
            by_location_day[(c.location, d)].append(var)
            if c.interpreter is not None:
                by_language_day[(c.interpreter, d)].append(var)
        if c.request_level == "must" or c.pinned_slot is not None:
            model.add_exactly_one(own)
        elif len(own) > 1:
            model.add_at_most_one(own)

    by_party: dict[int, list] = defaultdict(list)
    for (party, d), day_vars in by_party_day.items():
        info = instance.parties[party]
        limit = len(slots_of_party_day[(party, d)])
        if info.max_per_day is not None:
            limit = min(limit, info.max_per_day)
        if len(day_vars) > limit:
            model.add(sum(day_vars) <= limit)
        by_party[party].extend(day_vars)
    for party, party_vars in by_party.items():
        if len(party_vars) > instance.parties[party].max_meetings:
            model.add(sum(party_vars) <= instance.parties[party].max_meetings)
    for (location, d), loc_vars in by_location_day.items():
        if len(exhibitors_at[location]) > instance.location_tables[location]:
            model.add(sum(loc_vars) <= instance.location_tables[location] * len(grid.by_day[d]))
    for (language, d), lang_vars in by_language_day.items():
        model.add(sum(lang_vars) <= sum(instance.interpreter_capacity[language][s] for s in grid.by_day[d]))

    value = cp_model.LinearExpr.weighted_sum(
        [y[k] for k in y], [instance.candidates[k[0]].value for k in y]
    )
    shortfalls = []
    for party, info in enumerate(instance.parties):
        if info.min_meetings > 0:
            shortfall = model.new_int_var(0, info.min_meetings, "")
            model.add(sum(by_party.get(party, [])) + shortfall >= info.min_meetings)
            shortfalls.append(shortfall)
    weights = instance.weights
    model.maximize(weights.value_scale() * (value - weights.min_shortfall * sum(shortfalls)))
    return model, y


def select_meetings(
    instance: Instance, hint: dict[int, int], configure: Callable[[cp_model.CpSolver, float], None], time_limit: float
) -> SelectionResult:
    """Solve stage 1, hinted with a complete schedule (candidate -> slot)."""
    model, y = selection_model(instance)
    for (c, d), var in y.items():
        slot = hint.get(c)
        model.add_hint(var, slot is not None and instance.grid.slots[slot].day == d)
    solver = cp_model.CpSolver()
    configure(solver, time_limit)
    status = solver.solve(model)
    name = solver.status_name(status)
    logger.info("selection: %s, objective %s, bound %s", name, solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None, solver.best_objective_bound)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SelectionResult({}, name, None, None)
    day_of = {c: d for (c, d), var in y.items() if solver.boolean_value(var)}
    return SelectionResult(day_of, name, solver.objective_value, solver.best_objective_bound)


def solve_decomposed(instance: Instance, start: dict[int, int], run: Run, info: SolverInfo) -> dict[int, int]:
    """Selection, then each day's timetable, then a safe merge with the greedy ``start`` schedule."""
    selection = select_meetings(
        instance, start, lambda solver, budget: run.configure(solver, budget, lp_heavy=True), run.budget(SELECTION_SHARE, SELECTION_SHARE)
    )
    info.stage_status = {"selection": selection.status}
    if selection.objective is None:
        info.status = selection.status
        info.fallback = True
        return start
    info.best_bound = selection.bound
    chosen_by_day: dict[int, list[int]] = defaultdict(list)
    for c_index, day in sorted(selection.day_of.items()):
        chosen_by_day[day].append(c_index)
    preferred: list[tuple[int, int]] = []
    statuses = []
    days = sorted(chosen_by_day)
    for position, day in enumerate(days):
        budget = run.budget(DAYS_SHARE / len(days), 1.0 / (len(days) - position))
        timetabled, status = _timetable_day(instance, day, selection.day_of, start, run, budget)
        statuses.append(status)
        info.stage_status[f"day{day + 1}"] = status
        preferred += timetabled
    proven = selection.status == "OPTIMAL" and all(s == "OPTIMAL" for s in statuses)
    info.status = "FEASIBLE" if preferred or not chosen_by_day else "UNKNOWN"
    info.fallback = not preferred and bool(chosen_by_day)
    # Merge through the greedy's feasibility check: commitments first (the days'
    # own placements, then the greedy's for any day that failed), then the days'
    # other meetings, then a greedy fill. Spare pairs of several days may together
    # exceed a participant's total cap; the check drops the excess.
    def committed(c: int) -> bool:
        return instance.candidates[c].request_level == "must" or instance.candidates[c].pinned_slot is not None

    order = (
        [(c, s) for c, s in preferred if committed(c)]
        + [(c, s) for c, s in sorted(start.items()) if committed(c)]
        + [(c, s) for c, s in preferred if not committed(c)]
        + sorted(start.items())
    )
    final = greedy_schedule(instance, order)
    info.proven_optimal_parts = proven
    if not final.complete:  # a failed day's commitments clashed with another day's: keep the safe schedule
        logger.warning("decomposition lost a must/pinned meeting; returning the greedy schedule")
        info.fallback = True
        return start
    return final.placed


def _timetable_day(
    instance: Instance, day: int, day_of: dict[int, int], start: dict[int, int], run: Run, budget: float
) -> tuple[list[tuple[int, int]], str]:
    """Stage 2 for one day, lexicographically: first the most valuable timetable, then the most compact one.

    Solving value and compactness together stalls: the idle-gap helper variables
    weaken the LP that proves the value part. So phase A maximizes value alone,
    and phase B keeps exactly phase A's meetings and only re-slots them.
    """
    label = str(instance.grid.slots[instance.grid.by_day[day][0]].date)
    sub, original = _day_problem(instance, day, day_of)
    value_only = dataclasses.replace(sub, weights=sub.weights.model_copy(update={"idle_gap": 0}))
    built = build_model(value_only)
    hint = greedy_schedule(sub, [(i, start[c]) for i, c in enumerate(original) if c in start]).placed
    built.vars.hint_placement(built.model, hint)
    solver, status = run.run(built.model, budget * VALUE_PHASE_SHARE, f"day {label} value", lp_heavy=True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [], solver.status_name(status)
    mv = built.vars
    placed = {mv.cand_of[v]: mv.slot_of[v] for v, var in enumerate(mv.x) if solver.boolean_value(var)}
    value_status = solver.status_name(status)
    logger.info("day %s: %d candidates, greedy placed %d, value phase placed %d", label, len(original), len(hint), len(placed))
    if sub.weights.idle_gap == 0 or not placed:
        return [(original[c], s) for c, s in placed.items()], value_status

    # Phase B: the same meetings, all required (marked must in this private copy), re-slotted compactly.
    kept = sorted(placed)
    compact, back = restrict(sub, kept)
    compact.candidates = [dataclasses.replace(c, request_level="must") for c in compact.candidates]
    built = build_model(compact)
    built.vars.hint_placement(built.model, {i: placed[c] for i, c in enumerate(back)})
    solver, status = run.run(built.model, budget * (1 - VALUE_PHASE_SHARE), f"day {label} compact", lp_heavy=False)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [(original[c], s) for c, s in placed.items()], value_status
    mv = built.vars
    slots = [(original[back[mv.cand_of[v]]], mv.slot_of[v]) for v, var in enumerate(mv.x) if solver.boolean_value(var)]
    return slots, value_status if status == cp_model.OPTIMAL else "FEASIBLE"


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
    sub, original = restrict(instance, sorted(chosen), day_slots, min_shortfall=0)
    parties = [dataclasses.replace(p, max_meetings=max(0, p.max_meetings - elsewhere[i])) for i, p in enumerate(instance.parties)]
    return dataclasses.replace(sub, parties=parties), original
