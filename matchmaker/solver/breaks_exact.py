"""Exact total breaks by a feasibility loop: "total breaks <= k?" for k = lower bound, k + 1, ...

Used by ``brokerage.solve_breaks`` (objective "breaks", every meeting committed). Each
question is a *lean* CP-SAT model, close to a SAT encoding:

- x_{c,s}: meeting c in slot s (``create_meeting_vars``, every hard rule of ``HARD_RULES``
  except fairness, which is stated here on the break counts);
- busy literals y_{p,s} = sum_c x_{c,s} (0/1 by the one-meeting rule);
- *implied* (the constraints the MaxSAT encoding of Bofill et al. found decisive):
  sum_s y_{p,s} = n_p per participant (its meetings are all committed) and, per slot,
  sum_p y_{p,s} = 2 sum_c x_{c,s} <= 2 * tables;
- per participant its busy patterns with at most floor_p + (k - sum_q floor_q) breaks
  (``brokerage.party_patterns``), one chosen: z_{p,P}, sum_P z = 1, y_{p,s} = sum_{P ni s} z.
  A participant whose list passes the cap keeps an exact block-start counter on y;
- sum_p breaks_p <= k, and fairness L <= breaks_p <= L + d.

When k is small the model is very constrained (k = 0: every participant one block), and
CP-SAT decides it quickly, where the pattern model of ``brokerage`` (the same patterns,
linked to sums of x, without the implied cardinalities) did not: tic-14crafc, k = 0,
0.3 s against nothing in 15 s. The first k found feasible is the optimum, since every
smaller k was refuted (or is below a proven bound).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from ..instance.candidates import Instance
from .model import HARD_RULES
from .model.fairness import add_break_fairness
from .model.pairs import add_must_requests, add_pinned
from .model.variables import MeetingVars, create_meeting_vars

logger = logging.getLogger(__name__)

# Patterns per participant above which it keeps the block-start counter in a lean model.
LEAN_PATTERN_CAP = 4000
# Feasibility workers: search without LP finds schedules, the strong LP refutes a k.
LEAN_SUBSOLVERS = ["no_lp", "max_lp", "quick_restart_no_lp", "default_lp", "core", "quick_restart"]


@dataclass
class LeanModel:
    model: cp_model.CpModel
    mv: MeetingVars
    breaks: dict[int, cp_model.LinearExprT]  # participant -> its break count (expression)
    total: cp_model.LinearExprT


def committed_model(instance: Instance) -> tuple[cp_model.CpModel, MeetingVars]:
    """A model with every hard rule but fairness, every must request and pin. The brokerage models state
    fairness themselves, on their own break counts (patterns, counters or hole literals)."""
    model = cp_model.CpModel()
    mv = create_meeting_vars(model, instance)
    for rule in HARD_RULES:
        if rule is not add_break_fairness:
            rule(model, instance, mv)
    add_must_requests(model, instance, mv)
    add_pinned(model, instance, mv)
    return model, mv


def own_meetings(instance: Instance) -> list[list[int]]:
    """Per participant, the indices of its candidate meetings."""
    own: list[list[int]] = [[] for _ in instance.parties]
    for c in instance.candidates:
        own[c.buyer].append(c.index)
        own[c.exhibitor].append(c.index)
    return own


def build_lean(
    instance: Instance, patterns: dict[int, object], most: int | None, caps: dict[int, int] | None = None, view: bool = False,
    fairness: bool = True,
) -> LeanModel:
    """The lean model: every hard rule, busy literals, implied cardinalities, patterns (or counters), total <= ``most``.

    ``fairness=False`` leaves the fairness rule out (to tell whether it is what makes an instance infeasible).

    ``patterns`` maps participants to their ``brokerage.PartyPatterns`` (the valid patterns
    it may take); participants with two or more meetings and no entry get the counter.
    """
    model, mv = committed_model(instance)
    own_of = own_meetings(instance)
    busy: dict[tuple[int, int], cp_model.IntVar] = {}
    for (party, slot), members in mv.by_party_slot.items():
        if not members:
            continue
        y = mv.derive(model.new_bool_var(""), lambda active, members=members: int(any(v in active for v in members)))
        model.add(sum(mv.x[v] for v in members) == y)
        busy[party, slot] = y
    by_party: dict[int, dict[int, cp_model.IntVar]] = defaultdict(dict)
    by_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (party, slot), y in busy.items():
        by_party[party][slot] = y
        by_slot[slot].append(y)
    # Implied: each participant is busy in exactly n_p slots; each slot holds two busy participants per meeting.
    for party, own in enumerate(own_of):
        if by_party.get(party):
            model.add(sum(by_party[party].values()) == len(own))
    meetings_at: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for v, var in enumerate(mv.x):
        meetings_at[mv.slot_of[v]].append(var)
    tables = sum(instance.location_tables)
    for slot, ys in by_slot.items():
        model.add(sum(ys) == 2 * sum(meetings_at[slot]))
        model.add(sum(ys) <= 2 * tables)
    breaks: dict[int, cp_model.LinearExprT] = {}
    for party, own in enumerate(own_of):
        if len(own) < 2:
            continue
        listed = patterns.get(party)
        if listed is not None:
            breaks[party] = _link(model, mv, by_party[party], listed)
        else:
            breaks[party] = _holes(model, instance, by_party[party])
            if caps is not None and party in caps:
                model.add(breaks[party] <= caps[party])
    if view and len(instance.grid.by_day) == 1:
        _add_view(model, instance, mv, by_party, breaks, own_of)
    total = sum(breaks.values())
    if most is not None:
        model.add(total <= most)
    if fairness:
        _fairness(model, instance, breaks, own_of)
    return LeanModel(model, mv, breaks, total)


def _link(model: cp_model.CpModel, mv: MeetingVars, busy: dict[int, cp_model.IntVar], listed) -> cp_model.LinearExprT:
    """Exactly one pattern: y_{p,s} = sum of the chosen pattern literals holding s; breaks = sum br(P) z_P."""
    members = {s: y for s, y in busy.items()}

    def chosen(active, pattern) -> int:
        return int(all(any(v in active for v in mv.by_party_slot[(listed.party, s)]) for s in pattern))

    z = [mv.derive(model.new_bool_var(""), lambda active, pattern=pattern: chosen(active, pattern)) for pattern in listed.patterns]
    model.add_exactly_one(z)
    holding: dict[int, list] = defaultdict(list)
    for var, pattern in zip(z, listed.patterns):
        for s in pattern:
            holding[s].append(var)
    for s in set(members) | set(holding):
        y = members.get(s)
        if y is None:
            for var in holding[s]:
                model.add(var == 0)
        else:
            model.add(sum(holding.get(s, [])) == y)
    return sum(b * var for b, var in zip(listed.breaks, z) if b)


def _counter(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, busy: dict[int, cp_model.IntVar]) -> cp_model.LinearExprT:
    """Exact breaks on the busy literals: per day, block starts minus one when the day is active."""
    terms = []
    for day in instance.grid.by_day:
        row = [busy.get(s) for s in day]
        if sum(y is not None for y in row) < 2:
            continue
        starts = []
        for i, y in enumerate(row):
            if y is None:
                continue
            before = row[i - 1] if i > 0 else None
            if before is None:
                starts.append(y)
                continue
            start = model.new_bool_var("")
            model.add(start >= y - before)
            model.add(start <= y)
            model.add(start <= 1 - before)
            starts.append(start)
        present = [y for y in row if y is not None]
        active_day = model.new_bool_var("")
        model.add_max_equality(active_day, present)
        terms.append(sum(starts) - active_day)
    return sum(terms)


def _holes(model: cp_model.CpModel, instance: Instance, busy: dict[int, cp_model.IntVar]) -> cp_model.LinearExprT:
    """Exact breaks on the busy literals (the MaxSAT encoding's fromSlot/endHole): a break ends at s when s is idle,
    s + 1 busy and some slot up to s busy."""
    terms = []
    for day in instance.grid.by_day:
        row = [busy.get(s) for s in day]
        if sum(y is not None for y in row) < 2:
            continue
        seen = None  # literal: some slot up to here is busy (None: none can be)
        for i, y in enumerate(row):
            following = row[i + 1] if i + 1 < len(row) else None
            if seen is not None and following is not None:
                hole = model.new_bool_var("")
                parts = [seen, following] + ([~y] if y is not None else [])
                model.add_bool_and(parts).only_enforce_if(hole)
                model.add_bool_or([~p for p in parts] + [hole])
                terms.append(hole)
            if y is not None:
                if seen is None:
                    seen = y
                else:
                    now = model.new_bool_var("")
                    model.add_max_equality(now, [seen, y])
                    seen = now
    return sum(terms)


def _add_view(model, instance, mv, by_party, breaks, own_of) -> None:
    """Implied (one day): meeting times t_c, all different per participant, inside its first..last busy slot,
    whose span is n_p plus its idle slots (= n_p without breaks)."""
    position = {s: i for i, s in enumerate(instance.grid.by_day[0])}
    time_of = {}
    for c in instance.candidates:
        own = mv.by_candidate[c.index]
        if not own:
            continue
        t = model.new_int_var_from_domain(cp_model.Domain.from_values(sorted({position[mv.slot_of[v]] for v in own})), "")
        model.add(t == sum(position[mv.slot_of[v]] * mv.x[v] for v in own))
        time_of[c.index] = t
    last = len(position) - 1
    for party, own in enumerate(own_of):
        ts = [time_of[c] for c in own if c in time_of]
        if len(ts) < 2:
            continue
        model.add_all_different(ts)
        first_busy, last_busy = model.new_int_var(0, last, ""), model.new_int_var(0, last, "")
        for t in ts:
            model.add(first_busy <= t)
            model.add(last_busy >= t)
        model.add_min_equality(first_busy, ts)
        model.add_max_equality(last_busy, ts)
        idle = last_busy - first_busy + 1 - len(ts)
        model.add(idle >= 0)
        if party in breaks:
            model.add(idle >= breaks[party])
            model.add(idle <= (last + 1 - len(ts)) * breaks[party])


def _fairness(model: cp_model.CpModel, instance: Instance, breaks: dict[int, cp_model.LinearExprT], own_of) -> None:
    """Hard: L <= breaks_p <= L + d; L = 0 when some participant can never have a break."""
    spread = instance.scenario.fairness.max_break_spread
    if spread is None or not breaks:
        return
    if len(breaks) < len(instance.parties):
        for expr in breaks.values():
            model.add(expr <= spread)
        return
    floor = model.new_int_var(0, max(len(own) for own in own_of), "")
    for expr in breaks.values():
        model.add(expr >= floor)
        model.add(expr <= floor + spread)


@dataclass
class Asked:
    """The loop's outcome: a schedule with ``total`` breaks (proven optimal) or none; ``lower`` is proven either way."""

    placed: dict[int, int] | None
    total: int | None
    lower: int
    refuted_all: bool  # every k up to the most breaks the caps allow was refuted: no schedule at all


def most_breaks(own: list[int], cap: int | None) -> int:
    """Most breaks a participant with these meetings can have under the per-participant cap (n_p - 1 without one)."""
    return len(own) - 1 if cap is None else min(cap, len(own) - 1)


def most_total(instance: Instance, own_of: list[list[int]], cap: int | None) -> int:
    """Most total breaks any schedule can have under the per-participant cap."""
    return sum(most_breaks(own, cap) for own in own_of if len(own) >= 2)


class Lane:
    """One question of a race (``Split.lanes`` > 1): the solver running it, so that the race can stop it."""

    def __init__(self, lanes: int):
        self.lanes = lanes  # how many run side by side (for the caller's clock)
        self.stopped = False
        self.solver: cp_model.CpSolver | None = None
        self._lock = threading.Lock()

    def started(self, solver: cp_model.CpSolver) -> bool:
        """Register the solver about to run; False when the race is already over (do not run it)."""
        with self._lock:
            self.solver = solver
            return not self.stopped

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self.solver is not None:
                self.solver.stop_search()


@dataclass
class Split:
    """Progress of the questions split by participant, kept across the loop's calls in one solve.

    A question "total <= k?" with k = the floor sum + 1 allows exactly one participant one
    break above its floor. Asked whole, CP-SAT may leave it undecided for minutes
    (forum-13crafc, k = 1: nothing in 60 s with 16 workers), while the question "only p above
    its floor?" is decided in 0.1-4 s for most p (with the floor patterns): fixing who takes the
    break leaves every other participant one busy block, which presolve and search handle well.
    """

    whole: float  # budget of the whole question (0: not asked whole)
    first: float  # budget of each participant's first question
    # participant -> pattern lists for "only it above its floor" (the others' floor patterns, its own up to one more;
    # only complete lists): presolve gets the blocks directly (ticf-13crafc, P40: 0.9 s against nothing in 8 s)
    patterns: Callable[[int], dict[int, object]] | None = None
    budget: dict[int, float] = field(default_factory=dict)  # participant -> its next question's budget (doubles)
    refuted: set[int] = field(default_factory=set)  # participants whose question was refuted
    # Questions asked side by side, each on its share of the workers (wall-clock runs; 1: one at a time).
    # ticf-13crafc, seeds 0-4: the schedule found after 2.9-4.2 s with two questions of one worker each, against
    # 4.8-8.7 s (and once nothing in 20 s) one at a time with both workers.
    lanes: int = 1

    @property
    def begun(self) -> bool:
        return bool(self.budget)


def ask_loop(
    instance: Instance, floor: dict[int, int], cap: int | None,
    solve: Callable[[cp_model.CpModel, str, float | None, Lane | None], tuple[cp_model.CpSolver | None, int]],
    seconds_left: Callable[[], float], start: int | None = None, questions: int | None = None, split: Split | None = None,
    at_floor: dict[int, object] | None = None,
) -> Asked:
    """Ask "a schedule with total breaks <= k?" for k = sum of the floors, +1, ... until one is found.

    ``floor``: per participant with two or more meetings, the fewest breaks it can have (a
    proven lower bound); with ``k`` asked, participant p may have at most
    min(cap, floor_p + k - sum floor) breaks. ``solve(model, stage, most, lane, above)`` runs one CP-SAT
    feasibility call, of at most ``most`` (None: what is left), on all the workers or, with a ``Lane``, on its
    share of them (returning no solver when the lane was stopped first); ``above``: a question asked whole with k
    above the floor sum. ``seconds_left()`` says whether
    another question still fits. Stops at the first k found feasible (the optimum), at an
    undecided k, or when out of time. ``start``: the first k asked (a proven lower bound, e.g.
    the pattern LP's); ``questions``: at most this many. ``split``: a question k = floor sum + 1
    gets ``split.whole``, then is asked per participant (see ``Split``). ``at_floor``: participant -> its whole list
    of patterns with exactly its floor of breaks, for the question k = floor sum.
    """
    own_of = own_meetings(instance)
    base = sum(floor.values())
    ceiling = most_total(instance, own_of, cap)
    k = base if start is None else max(base, start)
    asked = 0
    while k <= ceiling and seconds_left() > 0 and (questions is None or asked < questions):
        asked += 1
        slack = k - base
        caps = {}
        for party, own in enumerate(own_of):
            if len(own) >= 2:
                caps[party] = min(most_breaks(own, cap), floor.get(party, 0) + slack)
        alone = split is not None and slack == 1
        if alone and (split.begun or split.whole <= 0):  # asked whole in an earlier call, undecided (or not at all)
            lean, solver, status = _ask_alone(instance, floor, cap, k, own_of, solve, seconds_left, split)
        else:
            # At k = floor sum every participant is at its floor: its floor patterns are exactly what it may take, and
            # presolve gets the blocks directly (refuted in 0.1 s against 1.0 s with counters on ticf-13crafc; found in
            # 1.1-1.5 s against 0.9-4.5 s on ticf-13crafa, seeds 0-2). Above it, counters: the lists up to floor + slack
            # made the question slower (tic-13crafc, k = 4: 1-8 s or undecided against 0.3-2.5 s, seeds 0-3).
            lean = build_lean(instance, at_floor if slack == 0 and at_floor else {}, k, caps)
            solver, status = solve(lean.model, f"breaks <= {k}?", split.whole if alone else None, None, slack > 0)
            if alone and status not in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE):
                lean, solver, status = _ask_alone(instance, floor, cap, k, own_of, solve, seconds_left, split)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            placed = {lean.mv.cand_of[v]: lean.mv.slot_of[v] for v, var in enumerate(lean.mv.x) if solver.boolean_value(var)}
            total = round(sum(solver.value(expr) for expr in lean.breaks.values()))
            return Asked(placed, total, k, False)
        if status != cp_model.INFEASIBLE:
            return Asked(None, None, k, False)
        k += 1
    return Asked(None, None, k, k > ceiling)


def _ask_alone(
    instance: Instance, floor: dict[int, int], cap: int | None, k: int, own_of: list[list[int]], solve, seconds_left, split: Split,
) -> tuple[LeanModel | None, cp_model.CpSolver | None, int]:
    """Question k (the floor sum + 1) per participant: "only p above its floor?". Next is the smallest budget
    weighted towards the busiest (a break relieves most where a participant has many meetings: 15 meetings weigh
    as 5 times 3); an undecided question comes back with twice the budget. With ``split.lanes`` > 1 that many
    questions run side by side and the first schedule found stops the others. Returns the model and solver of a
    found schedule, or None and INFEASIBLE (every participant refuted) or UNKNOWN (out of time)."""
    pending = [p for p, own in enumerate(own_of) if len(own) >= 2 and floor.get(p, 0) < most_breaks(own, cap) and p not in split.refuted]
    for party in pending:
        split.budget.setdefault(party, split.first)
    floors = {p: min(most_breaks(own, cap), floor.get(p, 0)) for p, own in enumerate(own_of) if len(own) >= 2}

    def ask(party: int, lane: Lane | None) -> tuple[LeanModel, cp_model.CpSolver | None, int]:
        lean = build_lean(instance, split.patterns(party) if split.patterns else {}, k, floors | {party: floors[party] + 1})
        stage = f"breaks <= {k}, only {instance.parties[party].id} above its floor?"
        return (lean, *solve(lean.model, stage, split.budget[party], lane))

    def next_party(busy: set[int]) -> int | None:
        free = [p for p in pending if p not in busy]
        return min(free, key=lambda p: (split.budget[p] / len(own_of[p]), p)) if free else None

    def record(party: int, status: int) -> None:
        if status == cp_model.INFEASIBLE:
            split.refuted.add(party)
            pending.remove(party)
        else:
            split.budget[party] *= 2

    found = None
    if split.lanes <= 1:
        while pending and seconds_left() > 0 and found is None:
            party = next_party(set())
            lean, solver, status = ask(party, None)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                found = lean, solver, status
            else:
                record(party, status)
    else:
        found = _race(pending, seconds_left, split.lanes, ask, next_party, record)
    if found is not None:
        return found
    logger.info("breaks <= %d: %d participants refuted alone, %d undecided", k, len(split.refuted), len(pending))
    return None, None, cp_model.UNKNOWN if pending else cp_model.INFEASIBLE


def _race(pending: list[int], seconds_left, lanes: int, ask, next_party, record):
    """``lanes`` participants' questions at a time (CP-SAT releases the GIL while it solves); the first schedule
    found stops the others. Returns (model, solver, status) of that schedule, or None."""
    running: dict[Future, tuple[int, Lane]] = {}
    with ThreadPoolExecutor(lanes) as pool:
        while True:
            while len(running) < lanes and seconds_left() > 0:
                party = next_party({q for q, _ in running.values()})
                if party is None:
                    break
                lane = Lane(lanes)
                running[pool.submit(ask, party, lane)] = (party, lane)
            if not running:
                return None
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f][0]):
                party, _ = running.pop(future)
                lean, solver, status = future.result()
                if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    while running:  # their outcomes are not needed; a stop may land just before a solve starts,
                        for _, other in running.values():  # so it is repeated until each one has ended
                            other.stop()
                        finished, _ = wait(running, timeout=0.05)
                        for ended in finished:
                            running.pop(ended)
                    return lean, solver, status
                record(party, status)
