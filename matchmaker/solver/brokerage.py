"""Brokerage solving for the ``breaks`` objective: busy patterns per participant, an LP bound and a local search.

When every candidate meeting is committed (must or pinned, as in a brokerage event), each
participant's number of meetings n_p is fixed, so its day is one *busy pattern*: the set of
n_p slots it meets in. The extended formulation picks one pattern per participant
(z_{p,P} = 1), ties the patterns to the meeting variables (busy_{p,s} = sum of z whose
pattern holds s) and counts breaks exactly as sum_P breaks(P) z_{p,P}. Its LP relaxation
is what proves break lower bounds; the time-indexed model's LP does not.

1. "Total breaks <= sum_p m_p?" (m_p: the fewest breaks p can have at all) on the lean model
   of ``breaks_exact``: a schedule found there is a proven optimum. When no total meets the
   fairness cap, the error names the fairness rule (if the meetings fit without it) or the
   conflicting commitments.
2. The pattern LP over all patterns (CLP): a lower bound, the optimum on tic-13crafc.
3. Kempe-chain annealing (``break_search``) from the greedy towards that bound; reaching it
   proves the schedule optimal. Then a start schedule, and "total breaks <= k?" for k = the
   bound, k + 1, ... (``breaks_exact``).
4. Otherwise CP-SAT minimizes total breaks over all patterns, hinted with the best schedule;
   with precedences or a large pattern model, the *generic* model (the block-start counter
   of ``model/breaks.py`` for everyone) with core-based search instead.

The commitments model (first schedule, infeasibility proof) runs only when the first
question does not settle the instance. See docs/brokerage.md for the measurements behind each choice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from ..errors import InfeasibleError, MatchmakerError
from ..instance.candidates import Instance
from ..spec.schedule import SolverInfo
from . import break_search, breaks_exact
from .budget import share
from .diagnose import conflicting_commitments
from .greedy import greedy_schedule
from .model.breaks import party_break_var
from .model.fairness import add_break_fairness
from .model.precedence import precedence_pairs
from .model.variables import MeetingVars
from .run import ProgressCallback, lead_subsolvers

logger = logging.getLogger(__name__)

PATTERN_CAP = 4000  # patterns per participant above which it keeps the block-start counter
TOTAL_PATTERN_CAP = 60_000  # patterns in one model
LARGE_PATTERNS = 10_000  # patterns above which stage 2 uses the generic model
# Local search between the first question and stage 2 (tic-13crafc: the optimum 4 in 1-3 s, where stage 2 alone took 17-60 s).
SEARCH_ITERATIONS = 250_000
# Generic-model workers, best first (with 2 workers only the first is a full search, the other thread runs
# neighbourhoods): core-based search raises the bound from the LP's 17 to fixed020's optimum 20 in 3-5 s,
# where max_lp first stays at 17 for 40 s.
GENERIC_SUBSOLVERS = ["core", "max_lp", "reduced_costs", "default_lp", "quick_restart", "pseudo_costs", "no_lp", "lb_tree_search"]
# Stage-2 workers, best first: the strong LP proves the bound (tic-13crafc: 4 in 1.1 s), neighbourhoods find schedules.
PATTERN_SUBSOLVERS = ["max_lp", "core", "quick_restart", "default_lp", "reduced_costs", "pseudo_costs", "no_lp", "lb_tree_search"]


class TooManyPatterns(Exception):
    pass


@dataclass
class PartyPatterns:
    """One participant's busy patterns (slot tuples) and their break counts; ``complete`` = none left out."""

    party: int
    meetings: int
    patterns: list[tuple[int, ...]] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)
    complete: bool = True
    literals: list = field(default_factory=list)  # z per pattern, once linked into a model

    @property
    def fewest(self) -> int | None:
        return min(self.breaks, default=None)


@dataclass
class Fewest:
    """Per participant: patterns with its fewest breaks, that number (a proven lower bound), and whether the list is whole."""

    patterns: dict[int, PartyPatterns]
    floor: dict[int, int]
    exact: bool

    def listed(self, leave_out: int | None = None) -> dict[int, PartyPatterns]:
        """The whole lists (a participant cut at the cap keeps the counter), without ``leave_out``'s."""
        return {party: listed for party, listed in self.patterns.items() if listed.complete and party != leave_out}


def applies(instance: Instance) -> bool:
    """The pattern path: objective "breaks", every candidate committed, nothing to re-plan against."""
    return (
        instance.scenario.objective == "breaks"
        and bool(instance.candidates)
        and all(
            c.committed and c.previous_slot is None for c in instance.candidates
        )
    )


def _positions(instance: Instance, party: int, own: list[int]) -> list[tuple[int, int, int]]:
    """(day, position in the day, slot) of every slot where ``party`` may meet, in time order."""
    usable = {s for c in own for s in _domain(instance, c)}
    return [(d, i, s) for d, day in enumerate(instance.grid.by_day) for i, s in enumerate(day) if s in usable]


def _domain(instance: Instance, c: int) -> list[int]:
    candidate = instance.candidates[c]
    if candidate.pinned_slot is not None:
        return [candidate.pinned_slot] if candidate.pinned_slot in candidate.slots else []
    return candidate.slots


def enumerate_patterns(
    items: list[tuple[int, int, int]], n: int, most_breaks: int, cap: int, required: set[int] = frozenset()
) -> Iterator[tuple[tuple[int, ...], int]]:
    """Every n-subset of ``items`` (day, position, slot) holding the ``required`` slots, with at most ``most_breaks`` breaks.

    Yields (slots, breaks). Built run by run: a run is a block of adjacent positions of
    one day; a run after another run of the same day is a break. Raises TooManyPatterns past
    ``cap`` patterns.
    """
    size = len(items)
    slots = tuple(item[2] for item in items)
    days = [item[0] for item in items]
    # segment_end[i]: where the block of adjacent positions holding item i ends (exclusive), so that a run from i
    # is one slice and the run after it starts past a gap. Slices and tuples, not per-item lists, and no generator
    # per run: ticf-13crafc's patterns with up to one break above the floor (14,894) are listed in 0.075 s, not 0.22 s.
    segment_end = [size] * size
    for i in range(size - 2, -1, -1):
        adjacent = items[i + 1][0] == items[i][0] and items[i + 1][1] == items[i][1] + 1
        segment_end[i] = segment_end[i + 1] if adjacent else i + 1
    needed = sorted(i for i, slot in enumerate(slots) if slot in required)
    found: list[tuple[tuple[int, ...], int]] = []

    def runs(first: int, left: int, breaks: int, last_day: int | None, chosen: tuple[int, ...]) -> None:
        last = size - left  # the last position a run may start at and still leave room for the rest
        if needed:
            skipped = [r for r in needed if r >= first - 1 and (r >= first or slots[r] not in chosen)]
            if skipped and skipped[0] == first - 1:
                return  # the gap after the last run holds a required slot
            last = min(last, skipped[0]) if skipped else last  # a run starting after a required slot leaves it out
        for start in range(first, last + 1):
            extra = breaks + (days[start] == last_day)
            if extra > most_breaks:
                continue
            top = min(segment_end[start], start + left)
            for end in range(start + 1, top + 1):
                taken = chosen + slots[start:end]
                if end - start == left:
                    if needed and not all(slots[r] in taken for r in needed):
                        continue
                    found.append((taken, extra))
                    if len(found) > cap:
                        raise TooManyPatterns
                else:
                    following = end + 1 if end < segment_end[start] else end
                    if following < size:
                        runs(following, left - (end - start), extra, days[start], taken)

    if n == 0:  # the empty pattern
        if not needed:
            yield (), 0
        return
    try:
        runs(0, n, 0, None, ())
    except TooManyPatterns:
        yield from found[:cap]
        raise
    yield from found


HALL_GROUPS = 6  # distinct slot sets among a participant's meetings up to which _Filling checks Hall's condition


class _Filling:
    """Whether a participant's meetings can fill exactly a pattern's slots (a perfect matching), within its daily cap.

    Slot sets are bitmasks. With few distinct slot sets among the meetings (sessions, forbidden slots), Hall's
    condition over their unions decides it: for every group of meetings, the pattern holds at least as many slots
    its meetings may use. Otherwise augmenting paths. The pattern enumeration calls it for every pattern
    (forum-13crafc: 40,691, all listed in 0.9 s with this, 1.9 s with augmenting paths over Python sets).
    """

    def __init__(self, domains: list[list[int]], days: list[list[int]], per_day: int | None):
        """``domains``: each meeting's usable slots; ``days``: the slots of each day (for the daily cap)."""
        self.domains = [sum(1 << s for s in domain) for domain in domains]
        self.per_day = per_day
        self.days = [sum(1 << s for s in day) for day in days] if per_day is not None else []
        groups = Counter(self.domains)
        self.hall: list[tuple[int, int]] | None = None
        if len(groups) <= HALL_GROUPS:
            needs: dict[int, int] = {}  # union of slot sets -> most meetings that must fit in it
            items = list(groups.items())
            for chosen in range(1, (1 << len(items)) - 1):  # the full set always holds: the pattern is n usable slots
                union = need = 0
                for i, (mask, count) in enumerate(items):
                    if chosen >> i & 1:
                        union |= mask
                        need += count
                needs[union] = max(need, needs.get(union, 0))
            self.hall = [
                (union, need) for union, need in needs.items()
                if not any(other != union and other & union == other and more >= need for other, more in needs.items())
            ]

    def __call__(self, pattern: tuple[int, ...]) -> bool:
        """``pattern``: as many slots as meetings, each usable by some meeting (as enumerate_patterns makes them)."""
        slots = 0
        for s in pattern:
            slots |= 1 << s
        if any((slots & day).bit_count() > self.per_day for day in self.days):
            return False
        if self.hall is not None:
            return all((slots & union).bit_count() >= need for union, need in self.hall)
        holder: dict[int, int] = {}  # slot -> meeting (index into own)

        def augment(c: int, seen: int) -> tuple[bool, int]:
            free = self.domains[c] & slots & ~seen
            while free:
                bit = free & -free
                free ^= bit
                seen |= bit
                s = bit.bit_length() - 1
                if s not in holder:
                    holder[s] = c
                    return True, seen
                moved, seen = augment(holder[s], seen)
                if moved:
                    holder[s] = c
                    return True, seen
            return False, seen

        return all(augment(c, 0)[0] for c in range(len(self.domains)))


def party_patterns(instance: Instance, party: int, own: list[int], most_breaks: int, cap: int = PATTERN_CAP) -> PartyPatterns:
    """The participant's valid patterns with at most ``most_breaks`` breaks (``complete`` False past ``cap``)."""
    result = PartyPatterns(party, len(own))
    items = _positions(instance, party, own)
    per_day = instance.parties[party].max_per_day
    same = all(set(_domain(instance, c)) == {s for _, _, s in items} for c in own)
    fits = _Filling([_domain(instance, c) for c in own], instance.grid.by_day, per_day)
    try:
        required = {instance.candidates[c].pinned_slot for c in own if instance.candidates[c].pinned_slot is not None}
        for pattern, breaks in enumerate_patterns(items, len(own), most_breaks, cap, required):
            if (same and per_day is None) or fits(pattern):
                result.patterns.append(pattern)
                result.breaks.append(breaks)
    except TooManyPatterns:
        result.complete = False
    return result


def fewest_patterns(instance: Instance, party: int, own: list[int], most_breaks: int) -> tuple[PartyPatterns, int]:
    """The participant's valid patterns with the fewest breaks k it can have, and k (a proven lower bound).

    Levels are tried k = 0, 1, ...; a level cut off at the cap with nothing valid yet
    stops the search there: k is still a lower bound, the list is empty and incomplete.
    """
    for k in range(most_breaks + 1):
        found = party_patterns(instance, party, own, k)
        keep = [i for i, b in enumerate(found.breaks) if b == k]
        if keep or not found.complete:
            return PartyPatterns(party, len(own), [found.patterns[i] for i in keep], [k] * len(keep), found.complete), k
    return PartyPatterns(party, len(own)), most_breaks + 1


def break_cap(instance: Instance, own_of: list[list[int]]) -> int | None:
    """Most breaks any participant may have: d when someone can never have a break (fairness, L = 0), else None."""
    spread = instance.scenario.fairness.max_break_spread
    if spread is not None and any(len(own) <= 1 for own in own_of):
        return spread
    return None


@dataclass
class PatternModel:
    model: cp_model.CpModel
    mv: MeetingVars
    total: cp_model.LinearExprT
    pattern_parties: int
    fallback_parties: int


def build_pattern_model(
    instance: Instance, chosen: dict[int, PartyPatterns], lower: int = 0
) -> PatternModel:
    """Every hard rule, then per participant the pattern link (or the block-start counter), fairness and total breaks.

    ``chosen`` maps participants to their patterns; the others get ``party_break_var``.
    ``lower`` is a known lower bound on the total.
    """
    model, mv = breaks_exact.committed_model(instance)
    breaks: dict[int, cp_model.IntVar] = {}
    objective = []
    fallback = 0
    for party in range(len(instance.parties)):
        patterns = chosen.get(party)
        if patterns is None:
            var = party_break_var(model, instance, mv, party)
            if var is not None:
                breaks[party] = var
                objective.append(var)
                fallback += 1
            continue
        breaks[party], terms = _link_patterns(model, instance, mv, patterns)
        objective.extend(terms)
    mv._party_breaks = breaks  # type: ignore[attr-defined]
    add_break_fairness(model, instance, mv)
    if instance.precedences:
        _add_scheduling_view(model, instance, mv, chosen)
    total = sum(objective)
    if lower > 0:
        model.add(total >= lower)
    return PatternModel(model, mv, total, len(chosen), fallback)


def _add_scheduling_view(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, chosen: dict[int, PartyPatterns]) -> None:
    """Implied: meeting times t_c = sum_s s x_cs, all different per participant, inside its pattern's first..last slot.

    Slot indices are in time order. The pattern literals z give first_p = sum min(P) z_P
    and last_p = sum max(P) z_P; first_p <= t_c <= last_p for each meeting c of p. This
    interval view propagates windows (a participant without breaks fills first..last).
    """
    time_of = {}
    for c in instance.candidates:
        own = mv.by_candidate[c.index]
        if not own:
            continue
        t = model.new_int_var_from_domain(cp_model.Domain.from_values(sorted(mv.slot_of[v] for v in own)), "")
        model.add(t == sum(mv.slot_of[v] * mv.x[v] for v in own))
        mv.derive(t, lambda active, own=own: next((mv.slot_of[v] for v in own if v in active), mv.slot_of[own[0]]))
        time_of[c.index] = t
    meetings: dict[int, list[int]] = {}
    for c in instance.candidates:
        if c.index in time_of:
            meetings.setdefault(c.buyer, []).append(c.index)
            meetings.setdefault(c.exhibitor, []).append(c.index)
    for party, own in meetings.items():
        if len(own) > 1:
            model.add_all_different([time_of[c] for c in own])
        patterns = chosen.get(party)
        if patterns is None or not patterns.patterns:
            continue
        z = patterns.literals
        first = sum(min(p) * var for p, var in zip(patterns.patterns, z))
        last = sum(max(p) * var for p, var in zip(patterns.patterns, z))
        for c in own:
            model.add(time_of[c] >= first)
            model.add(time_of[c] <= last)
    for a, b in precedence_pairs(instance):  # every meeting of a repeated pair
        if a in time_of and b in time_of:
            model.add(time_of[a] < time_of[b])


def _link_patterns(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, patterns: PartyPatterns):
    """Hard (exact reformulation): the participant's busy slots are exactly one of its patterns.

    Returns its break count and that count as a sum of pattern literals (the objective
    is stated over the literals: core-based search works on them).
    """
    party = patterns.party
    busy_of = _busy_of(instance, mv, party)
    z = [
        mv.derive(model.new_bool_var(""), lambda active, members=frozenset(pattern): int(busy_of(active) == members))
        for pattern in patterns.patterns
    ]
    model.add_exactly_one(z)
    patterns.literals = z
    holding: dict[int, list] = {}
    for var, pattern in zip(z, patterns.patterns):
        for s in pattern:
            holding.setdefault(s, []).append(var)
    for s in instance.grid.slots:
        own = mv.by_party_slot.get((party, s.index))
        if own:
            model.add(sum(mv.x[v] for v in own) == sum(holding.get(s.index, [])))
    position = {s: (d, i) for d, day in enumerate(instance.grid.by_day) for i, s in enumerate(day)}

    def count(active) -> int:
        per_day: dict[int, list[int]] = {}
        for s in busy_of(active):
            d, i = position[s]
            per_day.setdefault(d, []).append(i)
        return sum(sum(1 for a, b in zip(p, p[1:]) if b - a > 1) for p in (sorted(x) for x in per_day.values()))

    terms = [b * var for b, var in zip(patterns.breaks, z) if b]
    breaks = mv.derive(model.new_int_var(min(patterns.breaks), max(patterns.breaks), ""), count)
    model.add(breaks == sum(terms))
    return breaks, terms


def _busy_of(instance: Instance, mv: MeetingVars, party: int):
    """The slots ``party`` meets in, from a set of active x indices (for hints; remembers the last set)."""
    own = sorted({v for (p, _s), vs in mv.by_party_slot.items() if p == party for v in vs})
    last: list = [None, frozenset()]

    def busy(active) -> frozenset[int]:
        if last[0] is not active:
            last[0], last[1] = active, frozenset(mv.slot_of[v] for v in own if v in active)
        return last[1]

    return busy


def fewest_breaks(instance: Instance) -> Fewest:
    """Stage-1 data: per participant with two or more meetings, its fewest-break patterns and floor."""
    own_of = breaks_exact.own_meetings(instance)
    cap = break_cap(instance, own_of)
    result = Fewest({}, {}, True)
    for party, own in enumerate(own_of):
        if len(own) < 2:
            continue
        most = breaks_exact.most_breaks(own, cap)
        patterns, floor = fewest_patterns(instance, party, own, most)
        result.floor[party] = floor
        if patterns.patterns:
            result.patterns[party] = patterns
        result.exact &= patterns.complete
    return result


def all_patterns(instance: Instance, stop_above: int | None = None) -> dict[int, PartyPatterns] | None:
    """Stage-2 data: every valid pattern up to the fairness cap, for the participants where the list is whole and small.

    With ``stop_above``: None as soon as the model is known to be large (more patterns than that, or a participant
    whose list is cut at the cap or empty), which the caller then does not need (forum-13crafc: 0.04 s, not 0.9 s).
    """
    own_of = breaks_exact.own_meetings(instance)
    cap = break_cap(instance, own_of)
    found: dict[int, PartyPatterns] = {}
    total = 0
    for party, own in enumerate(own_of):
        if len(own) < 2:
            continue
        most = breaks_exact.most_breaks(own, cap)
        patterns = party_patterns(instance, party, own, most, cap=PATTERN_CAP if stop_above is None else min(PATTERN_CAP, stop_above - total + 1))
        total += len(patterns.patterns)
        if patterns.complete and patterns.patterns:
            found[party] = patterns
        elif stop_above is not None:
            return None
        if stop_above is not None and total > stop_above:
            return None
    for party in sorted(found, key=lambda p: (-len(found[p].patterns), p)):
        if total <= TOTAL_PATTERN_CAP:
            break
        total -= len(found.pop(party).patterns)
    return found


def pattern_lp_bound(instance: Instance, patterns: dict[int, PartyPatterns]) -> int | None:
    """A proven lower bound on total breaks: the pattern formulation's LP (CLP's dual simplex), rounded up; None if
    it is infeasible.

    Columns x_{c,s} (meeting c in slot s) and z_{p,P} (participant p busy exactly in
    pattern P); rows: each meeting once, tables per location and slot, busy_{p,s} =
    sum of p's patterns holding s, one pattern per listed participant, one meeting
    per slot for the others. Precedences, fairness beyond the pattern cap and the
    breaks of unlisted participants are left out, which only loosens it. It is the
    bound CP-SAT's LP worker reaches after presolve (tic-13crafc: 4.0), in a tenth of
    the time, so the local search knows when to stop.
    """
    # CLP through OR-Tools' linear solver wrapper: loaded in 0.06 s where scipy's linprog took 0.35-0.45 s to
    # import, and 0.4 s on ticf-13crafc's 17,348 columns against HiGHS' 1.0 s (interior point; its simplex 1.6 s).
    from ortools.linear_solver import linear_solver_pb2, pywraplp

    lp = linear_solver_pb2.MPModelProto()

    def column(cost: float) -> int:
        lp.variable.add(lower_bound=0.0, upper_bound=1.0, objective_coefficient=cost)
        return len(lp.variable) - 1

    def row(terms: list[tuple[int, float]], low: float, high: float) -> None:
        constraint = lp.constraint.add(lower_bound=low, upper_bound=high)
        constraint.var_index.extend(col for col, _ in terms)
        constraint.coefficient.extend(coef for _, coef in terms)

    at: dict[tuple[int, int], list[int]] = defaultdict(list)  # (party or -1 - location, slot) -> x columns
    for c in instance.candidates:
        own = []
        for s in _domain(instance, c.index):
            own.append(column(0.0))
            for key in ((c.buyer, s), (c.exhibitor, s), (-1 - c.location, s)):
                at[key].append(own[-1])
        row([(col, 1.0) for col in own], 1.0, 1.0)
    for (owner, s), members in at.items():
        if owner < 0:
            row([(col, 1.0) for col in members], 0.0, float(instance.location_tables[-1 - owner]))
        elif owner not in patterns and len(members) > 1:
            row([(col, 1.0) for col in members], 0.0, 1.0)
    for party, listed in patterns.items():
        holding: dict[int, list[int]] = defaultdict(list)
        first = len(lp.variable)
        for pattern, breaks in zip(listed.patterns, listed.breaks):
            col = column(float(breaks))
            for s in pattern:
                holding[s].append(col)
        row([(col, 1.0) for col in range(first, len(lp.variable))], 1.0, 1.0)
        for s in set(holding) | {s for (p, s) in at if p == party}:
            row([(col, 1.0) for col in at.get((party, s), [])] + [(col, -1.0) for col in holding.get(s, [])], 0.0, 0.0)
    solver = pywraplp.Solver.CreateSolver("CLP") or pywraplp.Solver.CreateSolver("GLOP")  # GLOP: a build without CLP
    if problem := solver.LoadModelFromProto(lp):
        raise RuntimeError(f"pattern LP: {problem}")  # a defect of the rows above, not of the input
    parameters = pywraplp.MPSolverParameters()
    parameters.SetIntegerParam(parameters.LP_ALGORITHM, parameters.DUAL)
    status = solver.Solve(parameters)
    if status == pywraplp.Solver.INFEASIBLE:  # no schedule uses only these patterns
        return None
    return math.ceil(solver.Objective().Value() - 1e-4) if status == pywraplp.Solver.OPTIMAL else 0


def solve_breaks(instance: Instance, start: Callable[[], dict[int, int]], run, info: SolverInfo) -> dict[int, int]:
    """Fewest total breaks for an all-committed instance (see the module docstring); returns candidate -> slot.

    ``start`` builds a complete schedule (commitments, then greedy) and is called only
    when the first question does not settle the instance. ``run`` is the solver's Run (clock,
    budgets, CP-SAT configuration); ``info`` gets status and bound. Time running out
    returns the best schedule found, ``start()`` at worst.
    """
    best = _Best(start)
    fewest = fewest_breaks(instance)
    best.lower = sum(fewest.floor.values())
    logger.info(
        "breaks: lower bound %d from the fewest-breaks patterns (%d, %s)",
        best.lower, sum(len(p.patterns) for p in fewest.patterns.values()), "whole" if fewest.exact else "cut at the cap",
    )
    used = 0.0  # shares of the limit spent (deterministic budgets)
    # "Total breaks <= k?" for k = the floor sum (breaks_exact.py): settles most real events at once.
    spent = [0.0]  # by the questions so far (their share of the limit is shared)
    asked = _ask(instance, run, fewest, spent, questions=1, most=share("breaks_first_question"))
    if _settled(asked, best):
        return best.finish(info)
    if asked.refuted_all:
        _no_schedule(instance, run, best)
    limit = run.options.time_limit
    near = _Near(instance, fewest)
    split = breaks_exact.Split(
        share("breaks_whole_question") * limit, share("breaks_alone_question") * limit, near.alone,
        lanes=1 if run.options.deterministic or run.options.num_workers < 2 else 2,  # threads make the order vary
    )
    patterns = all_patterns(instance, stop_above=LARGE_PATTERNS)
    large = patterns is None
    if not large:
        bound = pattern_lp_bound(instance, patterns)
        if bound is None:
            best.schedule()  # no schedule at all: CP-SAT's commitments step names the conflict and raises
        best.lower = max(best.lower, bound or 0)
        if not instance.precedences:  # with precedences the search needs the commitments' schedule: the questions first
            # A few quick questions from the LP bound first: they settle most events whose first question was
            # refuted, where the search may spend its whole share far from the bound.
            # Above the floor sum with the light presolve: probing is what refutes the first question of the 21-slot
            # events at once, but above it, on these smaller models, it only took time (tic-13crafc, d = 1-3, medians of
            # seeds 0-2: 1.2, 1.1 and 1.1 s against 1.3, 1.6 and 2.6 s).
            asked = _ask(
                instance, run, fewest, spent, start=best.lower, most=share("breaks_quick_question"), split=split,
                light_above_floor=True,
            )
            if _settled(asked, best):
                return best.finish(info)
            if asked.refuted_all:
                _no_schedule(instance, run, best)
            if not split.begun:  # else the questions per participant go on: they settle the instances the search cannot
                _local_search(instance, run, best)
                if best.proven:
                    return best.finish(info)
        used += share("breaks_search")
        _start_schedule(best)
        asked = _ask(instance, run, fewest, spent, start=best.lower, split=split, light_above_floor=True)
        if _settled(asked, best):
            return best.finish(info)
        if asked.refuted_all:
            _no_schedule(instance, run, best)
        if instance.precedences:
            _local_search(instance, run, best)
            if best.proven:
                return best.finish(info)
    elif best.lower == sum(fewest.floor.values()) + 1:
        # Large, the first question refuted: only the question "floor sum + 1?" (one participant above its floor),
        # per participant; the generic model follows (forum-13crafc: 1 break, proven, where the generic model ended
        # at 5-12 after 16 s). The LP over the patterns that question allows may refute it at once, where the split
        # would only refute, one participant at a time (forum-13.fixed020-Forb: LP 17 against 13, 0.5 s; 58
        # questions in 4.4 s).
        near_bound = pattern_lp_bound(instance, near.everyone())
        if near_bound is None or near_bound > best.lower:
            logger.info("breaks <= %d?: refuted by the LP of its patterns (%s)", best.lower, near_bound)
            best.lower += 1
        else:
            # Asked whole only briefly, and only with precedences: on large models it was never found whole, but
            # refuted in 0.1-0.3 s with precedences (the 21-slot prec15/prec25 variants, where 58 questions per
            # participant took 4.9 s). Without them it stayed undecided: after 1 s (the usual budget) in every run on
            # forum-13crafc and ticf-13crafc, and after 0.4 s on all five forbidden-slot variants that came here.
            split.whole = share("breaks_whole_large") * limit if instance.precedences else 0.0
            if instance.precedences:  # the commitments' schedule first: made after the questions, it had too little
                _start_schedule(best)  # time (ticf-13crafc.prec15: exit 3), and the local search cannot start without it
            asked = _ask(instance, run, fewest, spent, start=best.lower, questions=1, most=share("breaks_alone_large"), split=split)
            if _settled(asked, best):
                return best.finish(info)
            if asked.refuted_all:
                _no_schedule(instance, run, best)
            if split.begun:  # undecided: the local search makes the generic model's hint, where the commitments'
                # schedule is far off (forum-13crafc.forb0007: 9 breaks at 20 s with it, 25-29 without)
                _local_search(instance, run, best)
                if best.proven:
                    return best.finish(info)
    used += share("breaks_alone_large" if large else "breaks_exact")
    if instance.precedences or large:
        # With precedences the pattern stages find schedules slowly, and a big pattern model (forum-13.fixed020:
        # 26,666 patterns, 15 participants on the counter) neither improves the schedule nor the LP bound 17:
        # the generic model with core-based search proves fixed020's 20 in 3-5 s and tic-13.prec15's 0 in 2-13 s.
        _generic(instance, run, best, max(0.1, share("breaks_total") - used))
        return best.finish(info)
    stage2 = build_pattern_model(instance, patterns, lower=best.lower)
    logger.info(
        "breaks stage 2: %d participants with %d patterns, %d with the block-start counter, total >= %d",
        stage2.pattern_parties, sum(len(p.patterns) for p in patterns.values()), stage2.fallback_parties, best.lower,
    )
    stage2.model.minimize(stage2.total)
    stage2.mv.hint_placement(stage2.model, best.schedule())
    solver, status = run_stage(run, stage2.model, run.budget(max(0.1, share("breaks_total") - used), 1.0), "breaks stage 2", PATTERN_SUBSOLVERS)
    best.absorb(stage2, solver, status, instance, run)
    return best.finish(info)


def _ask(
    instance: Instance, run, fewest: Fewest, spent: list[float], start: int | None = None, questions: int | None = None,
    most: float | None = None, split: breaks_exact.Split | None = None, light_above_floor: bool = False,
) -> breaks_exact.Asked:
    """The feasibility loop of ``breaks_exact``; all its calls in one solve share ``breaks_exact`` of the limit,
    ``spent`` (seconds, or deterministic time units) being what the earlier calls used.

    ``most``: this call's share of the limit at most (the first question keeps time for the fallback stages);
    ``split``: the progress of the questions asked per participant (see ``breaks_exact.Split``);
    ``light_above_floor``: questions asked whole above the floor sum get the light presolve.

    Every question runs without inprocessing: with it, the questions took longer whichever way they ended.
    ``ticf-13crafc`` per participant (one worker, seeds 0-3): found for P27 in 0.24-0.26 s against 0.85-2.5 s, P49
    in 0.9-1.0 s against 2.7-3.3 s or undecided at 4 s; refuted P53 in 0.5-0.6 s against 0.9 s. The first question
    (2 workers, seeds 0-4): ``ticf-13crafa`` found in 0.58-0.61 s against 0.68-1.34 s, ``forum-13`` 0.25-0.34 s
    against 0.30-0.41 s; the same on the others measured.
    """
    limit = share("breaks_exact") * run.options.time_limit
    if most is not None:
        limit = min(limit, spent[0] + most * run.options.time_limit)
    clock = threading.Lock()  # questions of a race add to ``spent`` from their threads

    def left() -> float:
        if run.options.deterministic:
            return limit - spent[0]
        return min(limit - spent[0], run.remaining())

    def ask(model: cp_model.CpModel, stage: str, at_most: float | None, lane: breaks_exact.Lane | None = None, above: bool = False):
        began = time.monotonic()
        budget = left() if at_most is None else min(at_most, left())
        solver, status = run_stage(
            run, model, max(0.1, budget), stage, breaks_exact.LEAN_SUBSOLVERS, every_worker_full=True, lane=lane,
            light_presolve=above and light_above_floor, inprocessing=False,
        )
        with clock:
            if run.options.deterministic:
                spent[0] += solver.deterministic_time
            else:  # lanes run side by side: each adds its part of the wall time
                spent[0] += (time.monotonic() - began) / (lane.lanes if lane else 1)
        return solver, status

    cap = break_cap(instance, breaks_exact.own_meetings(instance))
    return breaks_exact.ask_loop(instance, fewest.floor, cap, ask, left, start, questions, split, at_floor=fewest.listed())


def _start_schedule(best: _Best) -> None:
    """A complete schedule before questions that may use their whole share undecided: the stages after them need it
    as a hint, and a solve that runs out of time returns it (made later, the commitments model had too little time:
    ticf-13crafc.prec15 ended with exit 3). When the commitments model cannot make one in its share (precedences:
    forumt-14crafe.prec25-s1), the questions may still find the optimum."""
    try:
        best.schedule()
    except InfeasibleError:
        raise
    except MatchmakerError as undecided:  # the commitments model found nothing in its share: the questions may
        logger.info("no start schedule yet (%s); the questions first", undecided)


class _Near:
    """Each participant's patterns with at most one break above its floor (complete lists only), made when first
    asked for: a schedule with total breaks <= the floor sum + 1 uses no others."""

    def __init__(self, instance: Instance, fewest: Fewest):
        self.instance, self.fewest = instance, fewest
        self.own_of = breaks_exact.own_meetings(instance)
        self.cap = break_cap(instance, self.own_of)
        self.lists: dict[int, PartyPatterns | None] = {}

    def of(self, party: int) -> PartyPatterns | None:
        if party not in self.lists:
            own = self.own_of[party]
            most = min(breaks_exact.most_breaks(own, self.cap), self.fewest.floor[party] + 1)
            mine = party_patterns(self.instance, party, own, most)
            self.lists[party] = mine if mine.complete and mine.patterns else None
        return self.lists[party]

    def everyone(self) -> dict[int, PartyPatterns]:
        return {party: listed for party in self.fewest.floor if (listed := self.of(party)) is not None}

    def alone(self, party: int) -> dict[int, PartyPatterns]:
        """For the question "only p above its floor?": the others' floor patterns and p's up to one break more."""
        chosen = self.fewest.listed(leave_out=party)
        if (mine := self.of(party)) is not None:
            chosen[party] = mine
        return chosen


def _settled(asked: breaks_exact.Asked, best: _Best) -> bool:
    """Keep what the questions proved and found; whether they found the optimum."""
    best.lower = max(best.lower, asked.lower)
    if asked.placed is None:
        return False
    best.offer(asked.placed, asked.total)
    return True


def _no_schedule(instance: Instance, run, best: _Best) -> None:
    """Every total of breaks within the fairness cap was refuted: raise the infeasibility with its cause."""
    # When the meetings fit without the rule, the rule is the cause: say so at once (forum-13crafc, d = 0: the
    # commitments' diagnosis took 10 s to name 30 meetings instead).
    if _fits_without_fairness(instance, run):
        spread = instance.scenario.fairness.max_break_spread
        raise InfeasibleError([
            f"the fairness rule cannot hold (fairness.max_break_spread = {spread}: the breaks of any two participants"
            f" differ by at most {spread}): every schedule of the must requests and pinned meetings breaks it, although"
            " they can all take place without it; try a larger value"
        ])
    best.schedule()  # the commitments step names the conflict and raises


def _fits_without_fairness(instance: Instance, run) -> bool:
    """Whether every committed meeting can take place when the fairness rule is left out (a short feasibility solve;
    undecided counts as no, and the usual diagnosis follows)."""
    lean = breaks_exact.build_lean(instance, {}, None, fairness=False)
    most = share("breaks_without_fairness") * run.options.time_limit
    budget = most if run.options.deterministic else max(0.1, min(most, run.remaining()))
    # The light presolve: a schedule is all this asks for, and probing took half the time (ticf-13crafc, d = 0: 0.14-0.20 s
    # against 0.34-0.36 s; forum-13crafc 0.12-0.13 s against 0.37-0.46 s; one worker each, seeds 0-2).
    _, status = run_stage(
        run, lean.model, budget, "without fairness", breaks_exact.LEAN_SUBSOLVERS, every_worker_full=True, light_presolve=True
    )
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def _local_search(instance: Instance, run, best: _Best) -> None:
    """Kempe-chain annealing from the best schedule towards the lower bound (see break_search)."""
    if not break_search.applies(instance):
        return
    cap = break_cap(instance, breaks_exact.own_meetings(instance))
    deadline = None if run.options.deterministic else time.monotonic() + min(share("breaks_search") * run.options.time_limit, run.remaining())
    # The greedy alone leaves meetings out (tic-13crafc: 13 of 180) and the search puts them in, which
    # spares the CP-SAT commitments step; with precedences it starts from that step's valid schedule.
    first = best.schedule() if best.placed is not None or instance.precedences else greedy_schedule(instance, []).placed
    found = break_search.improve_breaks(
        instance, first, SEARCH_ITERATIONS, run.options.seed, cap=cap, target=best.lower, deadline=deadline
    )
    if found.placed is None:
        return
    best.offer(found.placed, found.breaks)  # every rule holds: the moves go through rules.Occupancy, fairness included


@dataclass
class _Best:
    """The best schedule so far, its breaks (None: not known, e.g. the greedy one) and the proven lower bound.

    ``start`` builds a first complete schedule when one is needed and none was found yet.
    """

    start: Callable[[], dict[int, int]]
    placed: dict[int, int] | None = None
    total: int | None = None
    lower: int = 0
    status: str = "UNKNOWN"

    @property
    def proven(self) -> bool:
        return self.total is not None and self.total <= self.lower

    def schedule(self) -> dict[int, int]:
        if self.placed is None:
            self.placed = self.start()
        return self.placed

    def offer(self, placed: dict[int, int], total: int) -> None:
        if self.total is None or total < self.total:
            self.placed, self.total = placed, total

    def absorb(self, built: PatternModel, solver: cp_model.CpSolver, status: int, instance: Instance, run) -> None:
        """Take a minimizing solve's schedule and bound; its infeasibility means the commitments conflict."""
        self.status = solver.status_name(status)
        if status == cp_model.INFEASIBLE:
            raise InfeasibleError(conflicting_commitments(instance, run))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.offer(_placed(built.mv, solver), round(solver.objective_value))
            self.lower = max(self.lower, round(solver.best_objective_bound))

    def finish(self, info: SolverInfo) -> dict[int, int]:
        info.best_bound = -float(self.lower)
        if self.proven:
            info.status = "OPTIMAL"
        elif self.total is not None:
            info.status = "FEASIBLE"
        else:
            info.status, info.fallback = self.status, True
        return self.schedule()


def _generic(instance: Instance, run, best: _Best, share: float) -> None:
    """The block-start counter for every participant (the monolithic model's breaks), minimized from the best schedule.

    Gets all the wall time left (deterministic runs: ``share`` of the limit).
    """
    generic = build_pattern_model(instance, {}, lower=best.lower)
    generic.model.minimize(generic.total)
    generic.mv.hint_placement(generic.model, best.schedule())
    solver, status = run_stage(run, generic.model, run.budget(share, 1.0), "breaks: generic model", GENERIC_SUBSOLVERS)
    best.absorb(generic, solver, status, instance, run)


def _placed(mv: MeetingVars, solver: cp_model.CpSolver) -> dict[int, int]:
    return {mv.cand_of[v]: mv.slot_of[v] for v, var in enumerate(mv.x) if solver.boolean_value(var)}


def run_stage(
    run, model: cp_model.CpModel, budget: float, stage: str, subsolvers: list[str], every_worker_full: bool = False,
    lane: breaks_exact.Lane | None = None, light_presolve: bool = False, inprocessing: bool = True,
) -> tuple[cp_model.CpSolver | None, int]:
    """One CP-SAT call under the run's configuration, with ``subsolvers`` first (one worker: the LP-heavy one).

    By default CP-SAT on 2 workers runs only the first subsolver as a full search and
    gives the other thread to neighbourhood search, which minimizing needs;
    ``every_worker_full`` makes each worker a full search (feasibility stages). With a ``lane`` (a race of
    questions) the call gets its share of the workers, the first subsolvers; (None, UNKNOWN) when the race ended first.
    ``light_presolve``: one presolve round without probing (see ``Run.configure``); ``inprocessing``: CP-SAT's
    clause database simplification between restarts.
    """
    solver = cp_model.CpSolver()
    run.configure(solver, budget, light_presolve=light_presolve)
    solver.parameters.use_sat_inprocessing = inprocessing
    if lane is not None:
        solver.parameters.num_workers = max(1, run.options.num_workers // lane.lanes)
        # As a portfolio member of that many workers: one worker runs the first subsolver by name (no_lp finds the
        # schedules: ticf-13crafc, P40 in 0.7-1.3 s alone; max_lp or core alone found none in 3 s).
        lead_subsolvers(solver.parameters, subsolvers, 0, every_worker_full)
        if not lane.started(solver):
            return None, cp_model.UNKNOWN
    else:
        # One worker (a one-core portfolio member, --workers 1) runs the stage's lead by name: `core` proves
        # forum-13.fixed020's 20 where the LP-led worker left the greedy's 82 breaks in 30 s.
        lead_subsolvers(solver.parameters, subsolvers, run.options.member, every_worker_full, one_worker_leads=True)
    options = run.options
    callback = ProgressCallback(stage, run.started, options.on_progress) if options.on_progress else None
    status = solver.solve(model, callback)
    logger.info("%s: %s in %.2fs", stage, solver.status_name(status), solver.wall_time)
    return solver, status
