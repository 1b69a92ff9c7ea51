"""Stage 1 of the decomposition: which pairs meet on which day, as a linear program.

The selection aggregates slot conflicts per day: every count rule (caps per
participant and day, tables per location and day, interpreters per language and
day) plus a cut for the walking rule. It is a relaxation of the full problem, so
its linear relaxation over ALL matching pairs bounds the value of every schedule
(see docs/model.md, "Bounds"). It is a network flow with a few side constraints,
so its LP is nearly integral: HiGHS solves it in under a second at Anping size
and rounding loses a few value points, where a CP-SAT selection model spent
most of the time limit without getting close.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np

from .candidates import Instance

logger = logging.getLogger(__name__)



@dataclass
class Selection:
    day_of: dict[int, int]  # candidate -> day
    status: str  # OPTIMAL / FEASIBLE / UNKNOWN
    objective: float | None  # value - min_shortfall * shortfall of the selection
    bound: float | None  # no selection (so no schedule over these candidates) does better
    program: SelectionProgram | None = None  # the LP, with the duals of its solve (for PricedBound)


class SelectionProgram:
    """The selection LP in matrix form: columns are y[(candidate, day)] first, then helper variables.

    Built with plain integer lists and solved by HiGHS through scipy, because a
    Python expression per term (CP-SAT or model_builder style) took 35 s at the
    `large` preset's 860k columns.
    """

    def __init__(self, instance: Instance):
        self.instance = instance
        self.keys: list[tuple[int, int]] = []  # column -> (candidate, day) for the y columns
        self.limits: list[tuple[list[int], int]] = []  # (y columns, capacity) of every count rule, for rounding
        self._rows: list[int] = []
        self._cols: list[int] = []
        self._coefs: list[float] = []
        self._upper: list[float] = []  # right-hand sides of the <= rows
        self._eq: list[tuple[list[int], float]] = []  # sum of columns == rhs
        self.columns_upper: list[float] = []
        self.value: list[float] = []  # meeting value per column (helpers 0)
        self.penalty: list[float] = []  # min_shortfall per shortfall column (others 0)
        self.row_tags: list[tuple | None] = []
        self.eq_tags: list[tuple | None] = []
        self.duals: dict[tuple, float] = {}  # tag -> dual of the last solve (>= 0 for <= rows of the max problem)

    def column(self, upper: float = 1.0, value: float = 0.0, penalty: float = 0.0) -> int:
        self.columns_upper.append(upper)
        self.value.append(value)
        self.penalty.append(penalty)
        return len(self.columns_upper) - 1

    def at_most(self, terms: list[tuple[int, float]], rhs: float, tag: tuple | None = None) -> None:
        """sum coef x <= rhs; ``tag`` names rows whose dual prices pairs outside the program (see PricedBound)."""
        row = len(self._upper)
        self.row_tags.append(tag)
        for col, coef in terms:
            self._rows.append(row)
            self._cols.append(col)
            self._coefs.append(coef)
        self._upper.append(rhs)

    def limit(self, columns: list[int], capacity: int, tag: tuple | None = None) -> None:
        self.at_most([(col, 1.0) for col in columns], capacity, tag)
        self.limits.append((columns, capacity))

    def exactly(self, columns: list[int], rhs: float, tag: tuple | None = None) -> None:
        self._eq.append((columns, rhs))
        self.eq_tags.append(tag)

    def solve(self, objective: str, time_limit: float) -> np.ndarray | None:
        """Maximize "objective" (value - penalties), "value" or "meetings"; the column values, or None."""
        from scipy.optimize import linprog
        from scipy.sparse import coo_matrix

        n = len(self.columns_upper)
        if objective == "meetings":
            gain = np.zeros(n)
            gain[: len(self.keys)] = 1.0
        else:
            gain = np.array(self.value) - (np.array(self.penalty) if objective == "objective" else 0.0)
        a_ub = coo_matrix((self._coefs, (self._rows, self._cols)), shape=(len(self._upper), n)).tocsr()
        eq_rows = [r for r, (cols, _rhs) in enumerate(self._eq) for _ in cols]
        eq_cols = [c for cols, _rhs in self._eq for c in cols]
        a_eq = coo_matrix((np.ones(len(eq_cols)), (eq_rows, eq_cols)), shape=(len(self._eq), n)).tocsr() if self._eq else None
        options = {"time_limit": max(0.1, time_limit)} if math.isfinite(time_limit) else {}
        result = linprog(
            -gain, A_ub=a_ub, b_ub=np.array(self._upper), A_eq=a_eq,
            b_eq=np.array([rhs for _cols, rhs in self._eq]) if self._eq else None,
            bounds=np.column_stack([np.zeros(n), np.array(self.columns_upper)]), method="highs-ds", options=options,
        )
        if result.status != 0:
            logger.info("selection LP (%s): %s", objective, result.message)
            return None
        # linprog minimizes -gain: the max problem's duals are the negated marginals.
        self.duals = {tag: -d for tag, d in zip(self.row_tags, result.ineqlin.marginals) if tag is not None and abs(d) > 1e-12}
        if self._eq:
            self.duals.update({tag: -d for tag, d in zip(self.eq_tags, result.eqlin.marginals) if tag is not None})
        return result.x


def selection_program(instance: Instance) -> SelectionProgram:
    """The selection's linear program: y[c, d] in [0, 1] is how much of pair c meets on day d."""
    program = SelectionProgram(instance)
    grid = instance.grid
    by_party_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    slots_of_party_day: dict[tuple[int, int], set[int]] = defaultdict(set)
    by_location_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_language_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    exhibitors_at: dict[int, set[int]] = defaultdict(set)
    for c in instance.candidates:
        exhibitors_at[c.location].add(c.exhibitor)
        days = sorted({grid.slots[s].day for s in c.slots})
        if c.pinned_slot is not None:
            days = [grid.slots[c.pinned_slot].day]
        own = []
        for d in days:
            col = program.column(value=c.value)
            program.keys.append((c.index, d))
            own.append(col)
            for party in (c.buyer, c.exhibitor):
                by_party_day[(party, d)].append(col)
                slots_of_party_day[(party, d)].update(s for s in c.slots if grid.slots[s].day == d)
            by_location_day[(c.location, d)].append(col)
            if c.interpreter is not None:
                by_language_day[(c.interpreter, d)].append(col)
        # Hard: a must request or pin meets exactly once; any other pair at most once.
        if c.request_level == "must" or c.pinned_slot is not None:
            program.exactly(own, 1.0, ("once", c.index))
        elif len(own) > 1:
            program.at_most([(col, 1.0) for col in own], 1.0, ("once", c.index))

    by_party: dict[int, list[int]] = defaultdict(list)
    for (party, d), day_cols in by_party_day.items():
        info = instance.parties[party]
        limit = len(slots_of_party_day[(party, d)])
        if info.max_per_day is not None:
            limit = min(limit, info.max_per_day)
        if len(day_cols) > limit:  # Hard: one meeting per slot, and the daily cap
            program.limit(day_cols, limit, ("party_day", party, d))
        by_party[party].extend(day_cols)
    for party, party_cols in by_party.items():
        if len(party_cols) > instance.parties[party].max_meetings:  # Hard: the participant's cap
            program.limit(party_cols, instance.parties[party].max_meetings, ("party", party))
    for (location, d), loc_cols in by_location_day.items():
        if len(exhibitors_at[location]) > instance.location_tables[location]:  # Hard: shared tables
            program.limit(loc_cols, instance.location_tables[location] * len(grid.by_day[d]), ("location_day", location, d))
    for (language, d), lang_cols in by_language_day.items():  # Hard: interpreter pool
        program.limit(lang_cols, sum(instance.interpreter_capacity[language][s] for s in grid.by_day[d]), ("language_day", language, d))
    _add_walking_cuts(instance, program)
    for party, info in enumerate(instance.parties):
        if info.min_meetings > 0:  # Soft: each meeting short of the minimum costs min_shortfall
            shortfall = program.column(upper=float(info.min_meetings), penalty=instance.weights.min_shortfall)
            program.at_most([(col, -1.0) for col in by_party.get(party, [])] + [(shortfall, -1.0)], -info.min_meetings, ("short", party))
    return program


def _add_walking_cuts(instance: Instance, program: SelectionProgram) -> None:
    """Hard (a valid cut): per buyer and day, meetings + blocks - runs <= usable slots.

    In a run of usable slots joined by changeovers too short for some walk, a
    buyer's back-to-back meetings are in halls linked by walks that fit the
    changeover. So meetings in halls that no links connect form separate
    blocks, and two blocks in one run need an idle slot between them. Blocks
    are at least the halls used minus the linked pairs among them (exact when
    the links form a forest, as halls in a row do). Without the cut the
    selection gives buyers mornings that zigzag between far halls, which no
    timetable can place.
    """
    grid, walking = instance.grid, instance.walking
    by_buyer_day: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for col, (c_index, d) in enumerate(program.keys):
        by_buyer_day[(instance.candidates[c_index].buyer, d)].append((c_index, col))
    for (buyer, d), own in by_buyer_day.items():
        halls = sorted({instance.candidates[c].hall for c, _ in own})
        longest = max((walking[h][k] for h in halls for k in halls), default=0)
        usable = sorted({s for c, _ in own for s in instance.candidates[c].slots if grid.slots[s].day == d})
        changeovers = [grid.slots[t].start - grid.slots[s].end for s, t in pairwise(usable) if t == s + 1]
        gaps = [gap for gap in changeovers if gap < longest]
        if not gaps:
            continue
        runs = len(usable) - len(gaps)
        info = instance.parties[buyer]
        most = min(len(own), len(usable), info.max_meetings, info.max_per_day or len(usable))
        if most + len(halls) - runs <= len(usable):
            continue  # cannot bind
        in_hall: dict[int, list[int]] = defaultdict(list)
        for c, col in own:
            in_hall[instance.candidates[c].hall].append(col)
        used = {}
        for hall, members in in_hall.items():
            used[hall] = program.column()
            for col in members:  # used[hall] >= each of its meetings (it only ever needs to be that large)
                program.at_most([(col, 1.0), (used[hall], -1.0)], 0.0)
        linked = []
        for h, k in combinations(halls, 2):
            if walking[h][k] <= max(gaps):
                both = program.column()
                program.at_most([(both, 1.0), (used[h], -1.0)], 0.0)
                program.at_most([(both, 1.0), (used[k], -1.0)], 0.0)
                linked.append(both)
        program.at_most(
            [(col, 1.0) for _, col in own] + [(col, 1.0) for col in used.values()] + [(col, -1.0) for col in linked],
            len(usable) + runs,
        )


@dataclass(frozen=True)
class LpBounds:
    meetings: int  # no schedule has more meetings
    value: int  # no schedule has a larger summed meeting value
    seconds: float


def lp_bounds(instance: Instance, time_limit: float = math.inf) -> LpBounds | None:
    """Upper bounds from the selection LP over ``instance``: most meetings and most value.

    Over an unpruned instance (every matching pair) they bound every schedule of
    the fair. None if an LP did not finish in time.
    """
    started = time.monotonic()
    program = selection_program(instance)
    found = []
    for objective in ("value", "meetings"):
        x = program.solve(objective, time_limit - (time.monotonic() - started))
        if x is None:
            return None
        gain = program.value if objective == "value" else [1.0] * len(program.keys)
        found.append(math.floor(float(np.dot(x[: len(gain)], gain)) + 1e-6))
    bounds = LpBounds(meetings=found[1], value=found[0], seconds=round(time.monotonic() - started, 3))
    logger.info("LP bound: %d meetings, value %d (%d pairs, %.2fs)", bounds.meetings, bounds.value, len(instance.candidates), bounds.seconds)
    return bounds


def select_days(instance: Instance, time_limit: float = math.inf) -> Selection:
    """Solve the selection LP (HiGHS dual simplex) and round it to whole meetings.

    The simplex answer is integral for all but a few dozen pairs at Anping size
    (a flow with a few side constraints). Rounding keeps every pair at 1, then
    adds the others by LP value and meeting value while every count rule has
    room: a valid selection within a hair of the LP bound, found in a second
    where a MIP search took minutes. Deterministic (no wall-clock stop unless
    the LP itself runs out of time).
    """
    started = time.monotonic()
    program = selection_program(instance)
    x = program.solve("objective", time_limit - (time.monotonic() - started))
    if x is None:
        return Selection({}, "UNKNOWN", None, None)
    bound = float(np.dot(x, np.array(program.value) - np.array(program.penalty)))
    day_of = _round(instance, program, x)
    objective = score(instance, day_of)
    logger.info("selection: LP %.1f, rounded %.1f (%d pairs), %.2fs", bound, objective, len(day_of), time.monotonic() - started)
    return Selection(day_of, "FEASIBLE", objective, bound, program)


def _round(instance: Instance, program: SelectionProgram, x: np.ndarray) -> dict[int, int]:
    """Whole meetings from LP values: commitments first, then by LP value, then meeting value, while rules allow."""
    room = [capacity for _cols, capacity in program.limits]
    groups_of: dict[int, list[int]] = defaultdict(list)
    for g, (cols, _capacity) in enumerate(program.limits):
        for col in cols:
            groups_of[col].append(g)

    def committed(c: int) -> bool:
        return instance.candidates[c].request_level == "must" or instance.candidates[c].pinned_slot is not None

    order = sorted(
        (col for col, (c, _d) in enumerate(program.keys) if x[col] > 1e-6 or committed(c)),
        key=lambda col: (not committed(program.keys[col][0]), -round(float(x[col]), 6), -program.value[col], program.keys[col]),
    )
    day_of: dict[int, int] = {}
    for col in order:
        c, d = program.keys[col]
        if c in day_of or any(room[g] <= 0 for g in groups_of[col]):
            continue
        day_of[c] = d
        for g in groups_of[col]:
            room[g] -= 1
    return day_of


def score(instance: Instance, chosen: dict[int, int]) -> int:
    """value - min_shortfall * shortfall of chosen candidates (keys: candidate indices; values unused)."""
    count: dict[int, int] = defaultdict(int)
    for c in chosen:
        count[instance.candidates[c].buyer] += 1
        count[instance.candidates[c].exhibitor] += 1
    shortfall = sum(max(0, p.min_meetings - count[i]) for i, p in enumerate(instance.parties))
    return sum(instance.candidates[c].value for c in chosen) - instance.weights.min_shortfall * shortfall


class PricedBound:
    """A bound over EVERY matching pair from the duals of a selection LP over only some of them.

    For multipliers pi >= 0 on valid rows (caps per participant and day, per
    participant, tables and interpreters per day, the minimum-meeting rows, and a
    pair's once-only row where the LP had one), weak duality gives

        objective <= sum_r pi_r b_r + sum_p m_p max(0, pi_short_p - W_min)
                     + sum_{pairs c, days d} max(0, v_c - pi . A_(c,d)),

    whatever pairs the LP saw. Walking cuts are dropped (pi = 0), which only
    loosens it. The right-hand side of a participant's day cap is recomputed
    from all its pairs. Feed every buyer's pairs to ``visit`` (it keeps none),
    e.g. through ``build_instance(..., per_buyer=priced.visit)``, then read ``value``.
    """

    def __init__(self, program: SelectionProgram):
        instance = program.instance
        duals = program.duals
        self._duals = duals
        self._instance = instance
        self._days_of_slot = [slot.day for slot in instance.grid.slots]
        # Per participant and day, what a meeting there pays: its day cap, its cap, minus its minimum's credit.
        self._party_cost: dict[tuple[int, int], float] = defaultdict(float)
        self._party_flat = defaultdict(float)
        for tag, dual in duals.items():
            if tag[0] == "party":
                self._party_flat[tag[1]] += dual
            elif tag[0] == "short":
                self._party_flat[tag[1]] -= dual
        self._in_program = {
            (instance.candidates[c].buyer, instance.candidates[c].exhibitor): c for c, _d in program.keys
        }
        self._usable: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._pairs_value = 0.0

    def visit(self, own: list) -> list:
        """Price one buyer's pairs; returns those outside the LP that a day prices positively (worth adding)."""
        duals, grid_day = self._duals, self._days_of_slot
        attractive = []
        for c in own:
            priced_in = False
            by_day: dict[int, list[int]] = defaultdict(list)
            for s in c.slots:
                by_day[grid_day[s]].append(s)
            known = self._in_program.get((c.buyer, c.exhibitor))
            once = duals.get(("once", known), 0.0) if known is not None else 0.0
            for d, slots in by_day.items():
                self._usable[(c.buyer, d)].update(slots)
                self._usable[(c.exhibitor, d)].update(slots)
                reduced = (
                    c.value - once
                    - duals.get(("party_day", c.buyer, d), 0.0) - duals.get(("party_day", c.exhibitor, d), 0.0)
                    - self._party_flat[c.buyer] - self._party_flat[c.exhibitor]
                    - duals.get(("location_day", c.location, d), 0.0)
                    - (duals.get(("language_day", c.interpreter, d), 0.0) if c.interpreter is not None else 0.0)
                )
                if reduced > 0:
                    self._pairs_value += reduced
                    priced_in = True
            if priced_in and known is None:
                attractive.append(c)
        return attractive

    @property
    def value(self) -> float:
        instance, total = self._instance, self._pairs_value
        for tag, dual in self._duals.items():
            kind = tag[0]
            if kind == "party_day":
                party, d = tag[1], tag[2]
                cap = instance.parties[party].max_per_day
                usable = len(self._usable[(party, d)])
                total += dual * (usable if cap is None else min(cap, usable))
            elif kind == "party":
                total += dual * instance.parties[tag[1]].max_meetings
            elif kind == "location_day":
                total += dual * instance.location_tables[tag[1]] * len(instance.grid.by_day[tag[2]])
            elif kind == "language_day":
                total += dual * sum(instance.interpreter_capacity[tag[1]][s] for s in instance.grid.by_day[tag[2]])
            elif kind == "short":
                minimum = instance.parties[tag[1]].min_meetings
                total += -dual * minimum + minimum * max(0.0, dual - instance.weights.min_shortfall)
            elif kind == "once":
                total += dual
        # A participant with a minimum whose row had no dual still has its shortfall column: worth nothing (>= 0 cost).
        return total
