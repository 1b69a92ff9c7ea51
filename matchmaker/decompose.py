"""Two-stage solve for fairs too large for one monolithic model.

Stage 1 (selection) decides which pairs meet on which day, with every count
rule aggregated per day plus cuts for the walking rule; it is a relaxation of
the full problem, so its optimum bounds the meeting value of every schedule.
Stage 2 (timetabling) puts each day's selected meetings into slots with every
hard rule, one small CP-SAT model per day; days are independent once stage 1
has fixed the selection. Whatever stage 2 cannot place is handed back to a
greedy fill.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from .candidates import Candidate, Instance, restrict
from .greedy import greedy_schedule
from .model import build_model
from .schedule import SolverInfo

if TYPE_CHECKING:
    from .solver import Run

logger = logging.getLogger(__name__)

SELECTION_SHARE = 0.4  # of the time left after the greedy, for stage 1
VALUE_SHARE = 0.5  # of the time left after stage 1, for the days' value phases (they usually stop early)
# Deterministic runs cannot pass time on, so each stage gets a fixed share of the limit.
FIXED_SELECTION_SHARE, FIXED_VALUE_SHARE, FIXED_COMPACT_SHARE = 0.3, 0.4, 0.3
KEEP_SHARE = 0.7  # of what is left of a day's value phase, for one attempt to timetable the selection
MAX_RELEASES = 3  # unsatisfiable cores whose pairs a day may make optional before it gives up on the selection
SPARES_PER_BUYER = 3  # unselected pairs a day's timetable may use instead of selected ones


@dataclass
class SelectionResult:
    day_of: dict[int, int]  # candidate -> day
    status: str
    objective: float | None
    bound: float | None


@dataclass
class DayTimetable:
    """Stage 2's value phase for one day, in the day's sub-instance."""

    sub: Instance
    original: list[int]  # sub candidate -> instance candidate
    placed: dict[int, int]  # sub candidate -> slot
    status: str
    build_seconds: float  # to build the day's model; a compaction with less time left is not worth starting


@dataclass
class SelectionModel:
    """Stage 1's CP-SAT model and its variables."""

    model: cp_model.CpModel
    y: dict[tuple[int, int], cp_model.IntVar]  # (candidate, day) -> meets that day
    # Helper variables and how to compute each from the chosen (candidate, day) keys, for a complete hint.
    derived: list[tuple[cp_model.IntVar, Callable[[set[tuple[int, int]]], int]]]

    def hint(self, chosen: set[tuple[int, int]]) -> None:
        for key, var in self.y.items():
            self.model.add_hint(var, key in chosen)
        for var, value_of in self.derived:
            self.model.add_hint(var, value_of(chosen))


def selection_model(instance: Instance) -> SelectionModel:
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
    selection = SelectionModel(model, y, [])
    _add_walking_cuts(instance, selection)

    value = cp_model.LinearExpr.weighted_sum(
        [y[k] for k in y], [instance.candidates[k[0]].value for k in y]
    )
    keys_of_party: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for c_index, d in y:
        c = instance.candidates[c_index]
        keys_of_party[c.buyer].append((c_index, d))
        keys_of_party[c.exhibitor].append((c_index, d))
    shortfalls = []
    for party, info in enumerate(instance.parties):
        if info.min_meetings > 0:
            shortfall = model.new_int_var(0, info.min_meetings, "")
            model.add(sum(by_party.get(party, [])) + shortfall >= info.min_meetings)
            keys, need = keys_of_party[party], info.min_meetings
            selection.derived.append((shortfall, lambda chosen, keys=keys, need=need: max(0, need - sum(k in chosen for k in keys))))
            shortfalls.append(shortfall)
    weights = instance.weights
    model.maximize(weights.value_scale() * (value - weights.min_shortfall * sum(shortfalls)))
    return selection


def _add_walking_cuts(instance: Instance, selection: SelectionModel) -> None:
    """Per buyer and day, a valid cut for the walking rule, which the per-day meeting counts cannot see.

    In a run of usable slots joined by changeovers too short for some walk, a
    buyer's back-to-back meetings are in halls linked by walks that fit the
    changeover. So meetings in halls that no links connect form separate
    blocks, and two blocks in one run need an idle slot between them:
        meetings + blocks - runs <= usable slots.
    Blocks are at least the halls used minus the linked pairs among them (exact
    when the links form a forest, as halls in a row do). Without the cut the
    selection gives buyers mornings that zigzag between far halls, which no
    timetable can place: most of what Anping's six-slot third day used to lose.
    """
    grid, walking = instance.grid, instance.walking
    model, derived = selection.model, selection.derived
    by_buyer_day: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (c_index, d), var in selection.y.items():
        by_buyer_day[(instance.candidates[c_index].buyer, d)].append((c_index, var))
    for (buyer, d), own in by_buyer_day.items():
        halls = sorted({instance.candidates[c].hall for c, _ in own})
        longest = max((walking[h][k] for h in halls for k in halls), default=0)
        usable = sorted({s for c, _ in own for s in instance.candidates[c].slots if grid.slots[s].day == d})
        # Changeovers between back-to-back usable slots that are too short for some walk between these halls.
        changeovers = [grid.slots[t].start - grid.slots[s].end for s, t in pairwise(usable) if t == s + 1]
        gaps = [gap for gap in changeovers if gap < longest]
        if not gaps:
            continue
        runs = len(usable) - len(gaps)
        info = instance.parties[buyer]
        most = min(len(own), len(usable), info.max_meetings, info.max_per_day or len(usable))
        if most + len(halls) - runs <= len(usable):
            continue  # cannot bind
        keys_in: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for c, _ in own:
            keys_in[instance.candidates[c].hall].append((c, d))
        used: dict[int, cp_model.IntVar] = {}  # hall -> the buyer meets there that day
        for hall, keys in keys_in.items():
            used[hall] = model.new_bool_var("")
            model.add_max_equality(used[hall], [selection.y[key] for key in keys])
            derived.append((used[hall], lambda chosen, keys=keys: any(key in chosen for key in keys)))
        linked = []  # walkable pairs of used halls
        for h, k in combinations(halls, 2):
            if walking[h][k] <= max(gaps):
                both = model.new_bool_var("")
                model.add_implication(both, used[h])
                model.add_implication(both, used[k])
                keys = keys_in[h], keys_in[k]
                derived.append((both, lambda chosen, keys=keys: all(any(key in chosen for key in side) for side in keys)))
                linked.append(both)
        model.add(sum(var for _, var in own) + sum(used.values()) - sum(linked) <= len(usable) + runs)


def select_meetings(
    instance: Instance, hint: dict[int, int], configure: Callable[[cp_model.CpSolver, float], None], time_limit: float
) -> SelectionResult:
    """Solve stage 1, hinted with a complete schedule (candidate -> slot)."""
    selection = selection_model(instance)
    selection.hint({(c, instance.grid.slots[s].day) for c, s in hint.items()})
    solver = cp_model.CpSolver()
    configure(solver, time_limit)
    status = solver.solve(selection.model)
    name = solver.status_name(status)
    logger.info("selection: %s, objective %s, bound %s", name, solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None, solver.best_objective_bound)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SelectionResult({}, name, None, None)
    day_of = {c: d for (c, d), var in selection.y.items() if solver.boolean_value(var)}
    return SelectionResult(day_of, name, solver.objective_value, solver.best_objective_bound)


def solve_decomposed(instance: Instance, start: dict[int, int], run: Run, info: SolverInfo) -> dict[int, int]:
    """Selection, then each day's timetable, then a safe merge with the greedy ``start`` schedule."""
    selection = select_meetings(
        instance, start, lambda solver, budget: run.configure(solver, budget, lp_heavy=True), run.budget(FIXED_SELECTION_SHARE, SELECTION_SHARE)
    )
    info.stage_status = {"selection": selection.status}
    if selection.objective is None:
        info.status = selection.status
        info.fallback = True
        return start
    info.best_bound = selection.bound
    meetings_on: dict[int, int] = defaultdict(int)
    for day in selection.day_of.values():
        meetings_on[day] += 1
    days = sorted(meetings_on)
    total = len(selection.day_of)

    # Every day's meetings first, then every day's compaction: value comes first,
    # and a value phase that finishes early leaves its time to the others. Each
    # phase's time is split over the days in proportion to their meetings.
    timetables: dict[int, DayTimetable] = {}
    for position, day in enumerate(days):
        weight = meetings_on[day] / sum(meetings_on[d] for d in days[position:])
        budget = run.budget(FIXED_VALUE_SHARE * meetings_on[day] / total, VALUE_SHARE * weight)
        timetables[day] = _timetable_day(instance, day, selection.day_of, start, run, budget)
        info.stage_status[f"day{day + 1}"] = timetables[day].status
    preferred: list[tuple[int, int]] = []
    for position, day in enumerate(days):
        weight = meetings_on[day] / sum(meetings_on[d] for d in days[position:])
        budget = run.budget(FIXED_COMPACT_SHARE * meetings_on[day] / total, weight)
        preferred += _compact_day(timetables[day], day, run, budget)

    proven = selection.status == "OPTIMAL" and all(t.status == "OPTIMAL" for t in timetables.values())
    info.status = "FEASIBLE" if preferred or not days else "UNKNOWN"
    info.fallback = not preferred and bool(days)
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
) -> DayTimetable:
    """Stage 2, value phase: the day's most valuable timetable.

    Compactness waits for `_compact_day`: the idle-gap helper variables weaken
    the LP that proves the value part. The selected pairs are required: then
    propagation finds a full timetable within seconds, where a model free to
    drop them searches for minutes. The selection is a relaxation, so they may
    not all fit; the pairs of participants whose day cannot fit even on its own
    become optional at once (the spare pairs may replace them), and then, while
    CP-SAT proves the rest infeasible, those of an unsatisfiable core. Only if
    that fails too does the day fall back to the model where every pair is optional.
    """
    sub, original = _day_problem(instance, day, day_of)
    label = _label(sub, day)
    value_only = dataclasses.replace(sub, weights=sub.weights.model_copy(update={"idle_gap": 0}))
    selected = {c.index for c in sub.candidates if day_of.get(original[c.index]) == day}
    optional = {c for c in selected if sub.candidates[c].request_level != "must" and sub.candidates[c].pinned_slot is None}
    released = _misfits(sub, selected) & optional
    # The hint: the greedy places the required pairs first (fewest options first), then the spares.
    required = selected - released
    hint = greedy_schedule(
        _requiring(value_only, required), [(i, start[c]) for i, c in enumerate(original) if i in required and c in start]
    ).placed
    placed, status, left, build_seconds = None, "UNKNOWN", budget, 0.0
    for _ in range(MAX_RELEASES + 1):
        keep = _requiring(value_only, selected - released)  # the spares stay optional
        placed, status, spent, build_seconds = _solve_value(keep, hint, run, left * KEEP_SHARE, f"day {label} keep")
        left -= spent
        if status != "INFEASIBLE" or left <= 0:
            break
        core, spent = _core(keep, run, left * KEEP_SHARE)
        left -= spent
        if not (core & optional) - released:
            break
        released |= core & optional
    if released and status == "OPTIMAL":
        status = "FEASIBLE"  # optimal for what was kept, not proven for the day
    if placed is None and left > 0:
        placed, status, _, build_seconds = _solve_value(value_only, hint, run, left, f"day {label} value")
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
    solver, status = run.run(built.model, budget, stage, lp_heavy=True)
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
    as_placed = [(original[c], s) for c, s in placed.items()]
    # On very large days, building the model would take all the time (wall-clock runs only).
    too_large = not run.options.deterministic and day_timetable.build_seconds >= budget
    if sub.weights.idle_gap == 0 or not placed or too_large:
        return as_placed
    started = run.elapsed()
    kept = sorted(placed)
    compact, back = restrict(sub, kept)
    built = build_model(_requiring(compact, set(range(len(kept)))))
    built.vars.hint_placement(built.model, {i: placed[c] for i, c in enumerate(back)})
    solver, status = run.run(built.model, max(budget - _used(run, started), 0.1), f"day {_label(sub, day)} compact", lp_heavy=False)
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
    sub, original = restrict(instance, sorted(chosen), day_slots, min_shortfall=0)
    parties = [dataclasses.replace(p, max_meetings=max(0, p.max_meetings - elsewhere[i])) for i, p in enumerate(instance.parties)]
    return dataclasses.replace(sub, parties=parties), original
