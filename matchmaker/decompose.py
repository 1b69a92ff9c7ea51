"""Two-stage solve for fairs too large for one monolithic model.

Stage 1 (selection) decides which pairs meet on which day, with every count
rule aggregated per day; it is a relaxation of the full problem, so its
optimum bounds the meeting value of every schedule. Stage 2 (timetabling) puts
each day's selected meetings into slots with every hard rule, one small CP-SAT
model per day; days are independent once stage 1 has fixed the selection.
Whatever stage 2 cannot place is handed back to a greedy fill.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .candidates import Instance

logger = logging.getLogger(__name__)


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
    model.maximize(value - instance.weights.min_shortfall * sum(shortfalls))
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
