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
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np

from ..instance.candidates import Instance

logger = logging.getLogger(__name__)

# HiGHS' dual simplex solves the whole program up to this many columns (Anping: 67k
# columns, 1 s); above, PDLP first (`large`: 865k columns, HiGHS 30-45 s against
# PDLP + restricted HiGHS 30 s; xl: 442k columns, HiGHS > 300 s against 45 s).
PDLP_COLUMNS = 200_000
PDLP_TOLERANCE = 1e-4  # relative; the bound from its duals was within 0.02% of the optimum at large and xl
PDLP_ITERATIONS = 5_000  # the stop of deterministic runs (large took 704, xl 320)
# PDLP's share of the LP's time is the caller's (solver/budget.py: SHARES["selection_pdlp"]); this default is for direct calls.
DEFAULT_PDLP_SHARE = 0.5
# Measured costs of the steps no clock stops (2 shared cores), to skip an LP that cannot fit its time:
# building the program and its matrices (anping: 0.5 s for 30,965 candidates; large: 9.8 s for 393,500;
# xl: 7.9 s for 241,929) and rounding (large 2.3 s, xl 3.9 s: with a PDLP point), per candidate; and the least time worth giving the solve itself.
BUILD_SECONDS_PER_CANDIDATE = 2.5e-5
ROUND_SECONDS_PER_CANDIDATE = 1.2e-5
MIN_SOLVE_SECONDS = 0.5
MIN_PDLP_SECONDS = 2.0  # below this, no PDLP after a failed HiGHS solve
RESTRICT_MARGIN = 1.0  # columns whose reduced cost under PDLP's duals is above -this join the restricted solve (0.1 missed optimal columns at Anping)
TIE_BREAK = 0.01  # largest perturbation of a column's gain in the restricted solve (values are integers)

@dataclass
class Selection:
    day_of: dict[int, int]  # candidate -> day
    status: str  # OPTIMAL / FEASIBLE / UNKNOWN
    objective: float | None  # value - min_shortfall * shortfall of the selection
    bound: float | None  # no selection (so no schedule over these candidates) does better
    program: SelectionProgram | None = None  # the LP, with the duals of its solve (for pricing.price)


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
        self.dual_vectors: tuple[np.ndarray, np.ndarray] | None = None  # (<= rows, equalities) of the last solve
        self.priced_value_bound: float | None = None  # pricing.value_bound_over_pool, once computed
        self.bound: float | None = None  # of the last solve: no point of the LP does better

    def column(self, upper: float = 1.0, value: float = 0.0, penalty: float = 0.0) -> int:
        self.columns_upper.append(upper)
        self.value.append(value)
        self.penalty.append(penalty)
        return len(self.columns_upper) - 1

    def at_most(self, terms: list[tuple[int, float]], rhs: float, tag: tuple | None = None) -> None:
        """sum coef x <= rhs; ``tag`` names rows whose dual prices pairs outside the program (see pricing.price)."""
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

    def lp(self, objective: str) -> LinearProgram:
        """The program as matrices: maximize "objective" (value - penalties), "value" or "meetings"."""
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
        a_eq = coo_matrix((np.ones(len(eq_cols)), (eq_rows, eq_cols)), shape=(len(self._eq), n)).tocsr()
        return LinearProgram(
            gain, a_ub, np.array(self._upper, dtype=float), a_eq,
            np.array([rhs for _cols, rhs in self._eq], dtype=float), np.array(self.columns_upper, dtype=float),
        )

    def solve(
        self, objective: str, time_limit: float, method: str = "auto", duals_only: bool = False,
        pdlp_share: float = DEFAULT_PDLP_SHARE,
    ) -> np.ndarray | None:
        """Maximize "objective", "value" or "meetings"; the column values to round, or None.

        Sets ``bound`` (no point of the LP does better) and ``duals``. "highs" is
        HiGHS' dual simplex on the whole program, "pdlp" the first-order path of
        `_solve_pdlp`; "auto" takes HiGHS up to PDLP_COLUMNS columns (and PDLP
        with any time it leaves if it fails), PDLP above. ``duals_only``: the
        caller only prices with the duals, so PDLP skips its vertex for rounding.
        ``time_limit`` counts building the matrices; ``pdlp_share`` of what is left then is PDLP's.
        """
        started = time.monotonic()
        lp = self.lp(objective)
        time_limit -= time.monotonic() - started
        started = time.monotonic()
        if method == "auto":
            method = "pdlp" if lp.columns > PDLP_COLUMNS else "highs"
        if method == "highs":
            x = self.solve_highs(lp, time_limit)
            left = time_limit - (time.monotonic() - started)
            if x is not None or left < MIN_PDLP_SECONDS:
                return x
            logger.info("selection LP: HiGHS did not finish; PDLP with the %.1fs left", left)
            time_limit = left
        return self._solve_pdlp(lp, time_limit, duals_only, pdlp_share)

    def dual_bound(self, objective: str, scale: float = 1.0) -> float | None:
        """Weak duality with the last solve's duals times ``scale`` for another objective ("value", "meetings").

        Any duals (clipped to >= 0 on the <= rows) bound every objective of the
        same rows (`LinearProgram.bound`), so the duals of the "objective" solve
        also bound the meeting value and, scaled, the number of meetings. None
        before a solve.
        """
        if self.dual_vectors is None:
            return None
        y_ub, y_eq = self.dual_vectors
        return self.lp(objective).bound(scale * y_ub, scale * y_eq)

    def solve_highs(self, lp: LinearProgram, time_limit: float) -> np.ndarray | None:
        result = _highs(lp, np.arange(lp.columns), lp.gain, time_limit)
        if result.status != 0:
            logger.info("selection LP: %s", result.message)
            return None
        # linprog minimizes -gain: the max problem's duals are the negated marginals.
        self._set_duals(-result.ineqlin.marginals, -result.eqlin.marginals if lp.b_eq.size else np.zeros(0))
        self.bound = float(np.dot(result.x, lp.gain))
        return result.x

    def _solve_pdlp(
        self, lp: LinearProgram, time_limit: float, duals_only: bool = False, pdlp_share: float = DEFAULT_PDLP_SHARE
    ) -> np.ndarray | None:
        """PDLP for duals and the bound, then HiGHS over the columns those duals price near zero.

        A first-order method gives approximate duals fast where the simplex stalls
        (xl: 9 s against more than 300 s), but its primal is the middle of a
        huge optimal face (pairs split across days, ties between equal values),
        which rounds 1.6% below the bound. So a vertex for rounding comes from
        HiGHS over the columns whose reduced cost is near zero or better (xl:
        174k of 442k, about 35 s), with tiny per-column perturbations of the gain
        that break the ties (degeneracy is what stalls the simplex). The bound
        is always the Lagrangian of clipped duals (`LinearProgram.bound`), valid
        however far PDLP got; PDLP's own objective is never used.
        """
        from ortools.pdlp import solve_log_pb2, solvers_pb2
        from ortools.pdlp.python import pdlp
        from scipy.sparse import vstack

        started = time.monotonic()
        qp = pdlp.QuadraticProgram()
        qp.objective_vector = -lp.gain
        qp.constraint_matrix = vstack([lp.a_ub, lp.a_eq]).tocsc()
        qp.constraint_lower_bounds = np.concatenate([np.full(lp.b_ub.size, -np.inf), lp.b_eq])
        qp.constraint_upper_bounds = np.concatenate([lp.b_ub, lp.b_eq])
        qp.variable_lower_bounds = np.zeros(lp.columns)
        qp.variable_upper_bounds = lp.upper
        params = solvers_pb2.PrimalDualHybridGradientParams()
        params.num_threads = 1  # deterministic, and the machine may be shared
        criteria = params.termination_criteria
        criteria.simple_optimality_criteria.eps_optimal_relative = PDLP_TOLERANCE
        criteria.simple_optimality_criteria.eps_optimal_absolute = PDLP_TOLERANCE
        criteria.iteration_limit = PDLP_ITERATIONS
        if math.isfinite(time_limit):
            # PDLP gets part of the time; the restricted HiGHS solve the rest.
            criteria.time_sec_limit = max(0.1, pdlp_share * (time_limit - (time.monotonic() - started)))
        result = pdlp.primal_dual_hybrid_gradient(qp, params)
        log = result.solve_log
        if log.iteration_count == 0 and lp.columns:
            # Out of time before the first iteration: its "duals" are zeros, which bound nothing
            # useful, price in every pair and round to an arbitrary selection.
            logger.info("selection LP (PDLP): no iteration in %.1fs; no answer", log.solve_time_sec)
            return None
        # PDLP minimizes -gain with l <= Ax <= u: the max problem's duals are the negated ones.
        duals = -np.asarray(result.dual_solution)
        y_ub, y_eq = np.maximum(duals[: lp.b_ub.size], 0.0), duals[lp.b_ub.size :]
        self.bound = lp.bound(y_ub, y_eq)
        self._set_duals(y_ub, y_eq)
        logger.info(
            "selection LP (PDLP): %s after %d iterations, %.1fs; bound %.1f",
            solve_log_pb2.TerminationReason.Name(log.termination_reason), log.iteration_count, log.solve_time_sec, self.bound,
        )
        x = np.clip(np.asarray(result.primal_solution), 0.0, lp.upper)
        if lp.columns == 0 or duals_only:
            return x
        # Restricted program: columns priced near zero or better, every helper column (some enter
        # rows with -1 and keep it feasible), every column of an equality row.
        reduced = lp.reduced(y_ub, y_eq)
        keep = reduced >= -RESTRICT_MARGIN
        keep[len(self.keys) :] = True
        keep[lp.a_eq.indices] = True
        columns = np.flatnonzero(keep)
        # Deterministic ties-breaking perturbation in [0, TIE_BREAK): never reorders different integer values.
        perturbed = lp.gain[columns] + TIE_BREAK * ((columns * 0.6180339887498949) % 1.0) * (columns < len(self.keys))
        left = time_limit - (time.monotonic() - started)
        restricted = _highs(lp, columns, perturbed, left)
        if restricted.status != 0:
            logger.info("selection LP: restricted HiGHS over %d columns: %s; rounding PDLP's point", columns.size, restricted.message)
            return x
        x = np.zeros(lp.columns)
        x[columns] = restricted.x
        # Its duals, extended to every column, are another valid bound: keep the better.
        y_ub2 = np.maximum(-restricted.ineqlin.marginals, 0.0)
        y_eq2 = -restricted.eqlin.marginals if lp.b_eq.size else np.zeros(0)
        other = lp.bound(y_ub2, y_eq2)
        logger.info("restricted duals price in %d excluded columns", int(np.sum((lp.reduced(y_ub2, y_eq2) > 1e-9) & ~keep)))
        if other < self.bound:
            self.bound = other
            self._set_duals(y_ub2, y_eq2)
        logger.info(
            "selection LP: restricted HiGHS over %d of %d columns, value %.1f; bound %.1f; %.1fs in all",
            columns.size, lp.columns, float(np.dot(x, lp.gain)), self.bound, time.monotonic() - started,
        )
        return x

    def _set_duals(self, y_ub: np.ndarray, y_eq: np.ndarray) -> None:
        """Tag -> dual of the max problem (>= 0 on <= rows, free on equalities), for pricing.price."""
        self.dual_vectors = (np.maximum(np.asarray(y_ub, dtype=float), 0.0), np.asarray(y_eq, dtype=float))
        self.duals = {tag: float(d) for tag, d in zip(self.row_tags, y_ub) if tag is not None and abs(d) > 1e-12}
        self.duals.update({tag: float(d) for tag, d in zip(self.eq_tags, y_eq) if tag is not None})


@dataclass
class LinearProgram:
    """max gain.x  s.t.  a_ub x <= b_ub,  a_eq x = b_eq,  0 <= x <= upper."""

    gain: np.ndarray
    a_ub: object  # scipy CSR matrices
    b_ub: np.ndarray
    a_eq: object
    b_eq: np.ndarray
    upper: np.ndarray

    @property
    def columns(self) -> int:
        return self.gain.size

    def reduced(self, y_ub: np.ndarray, y_eq: np.ndarray) -> np.ndarray:
        return self.gain - self.a_ub.T @ y_ub - self.a_eq.T @ y_eq

    def bound(self, y_ub: np.ndarray, y_eq: np.ndarray) -> float:
        """Weak duality: for y_ub >= 0 and any y_eq, no feasible x does better than this.

        gain.x = y.Ax + (gain - A'y).x <= y_ub.b_ub + y_eq.b_eq + sum_j upper_j max(0, reduced_j),
        because a_ub x <= b_ub with y_ub >= 0 and 0 <= x <= upper. Valid for any
        such vector, so for the approximate duals of a first-order method too.
        """
        if np.any(y_ub < 0):
            raise ValueError("duals of <= rows must be non-negative")
        reduced = self.reduced(y_ub, y_eq)
        return float(np.dot(self.b_ub, y_ub) + np.dot(self.b_eq, y_eq) + np.dot(self.upper, np.maximum(reduced, 0.0)))


def _highs(lp: LinearProgram, columns: np.ndarray, gain: np.ndarray, time_limit: float):
    """HiGHS' dual simplex over ``columns`` of ``lp`` (the others fixed at 0), maximizing ``gain``; scipy's result."""
    from scipy.optimize import linprog

    options = {"time_limit": max(0.1, time_limit)} if math.isfinite(time_limit) else {}
    everything = columns.size == lp.columns
    return linprog(
        -gain,
        A_ub=lp.a_ub if everything else lp.a_ub[:, columns], b_ub=lp.b_ub,
        A_eq=(lp.a_eq if everything else lp.a_eq[:, columns]) if lp.b_eq.size else None,
        b_eq=lp.b_eq if lp.b_eq.size else None,
        bounds=np.column_stack([np.zeros(columns.size), lp.upper[columns]]), method="highs-ds", options=options,
    )


def selection_program(instance: Instance, walking_cuts: bool = True) -> SelectionProgram:
    """The selection's linear program: y[c, d] in [0, 1] is how much of pair c meets on day d.

    ``walking_cuts=False`` leaves out the walking cuts (valid but not needed): the LP
    that the priced bound (``relax/pricing.py``) bounds, which drops them.
    """
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
        if c.committed:
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
    if walking_cuts:
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


def lp_bounds(instance: Instance, time_limit: float = math.inf, method: str = "auto") -> LpBounds | None:
    """Upper bounds from the selection LP over ``instance``: most meetings and most value.

    Over an unpruned instance (every matching pair) they bound every schedule of
    the fair. None if an LP did not finish in time.
    """
    started = time.monotonic()
    program = selection_program(instance)
    found = []
    for objective in ("value", "meetings"):
        x = program.solve(objective, time_limit - (time.monotonic() - started), method)
        if x is None:
            return None
        found.append(math.floor(program.bound + 1e-6))
    bounds = LpBounds(meetings=found[1], value=found[0], seconds=round(time.monotonic() - started, 3))
    logger.info("LP bound: %d meetings, value %d (%d pairs, %.2fs)", bounds.meetings, bounds.value, len(instance.candidates), bounds.seconds)
    return bounds


def select_days(
    instance: Instance, time_limit: float = math.inf, method: str = "auto", pdlp_share: float = DEFAULT_PDLP_SHARE
) -> Selection:
    """Solve the selection LP (see `SelectionProgram.solve`) and round it to whole meetings.

    The simplex answer is integral for all but a few dozen pairs at Anping size
    (a flow with a few side constraints). Rounding keeps every pair at 1, then
    adds the others by LP value and meeting value while every count rule has
    room: a valid selection within a hair of the LP bound, found in a second
    where a MIP search took minutes. Deterministic (no wall-clock stop unless
    the LP itself runs out of time). ``time_limit`` is for all of it: building, solving
    and rounding (which follows the solve, in the caller's remaining time); when the
    estimated building and rounding alone do not fit, no LP is built and the selection
    is empty (status UNKNOWN).
    """
    started = time.monotonic()
    rounding = 0.0
    if math.isfinite(time_limit):
        rounding = ROUND_SECONDS_PER_CANDIDATE * len(instance.candidates)
        needed = BUILD_SECONDS_PER_CANDIDATE * len(instance.candidates) + rounding + MIN_SOLVE_SECONDS
        if time_limit < needed:
            logger.info("selection: %.1fs is too little for the LP over %d candidates (about %.1fs); none", time_limit, len(instance.candidates), needed)
            return Selection({}, "UNKNOWN", None, None)
    program = selection_program(instance)
    logger.info("selection LP built (%d columns) in %.2fs", len(program.columns_upper), time.monotonic() - started)
    x = program.solve("objective", time_limit - (time.monotonic() - started), method, pdlp_share=pdlp_share)
    if x is None:
        return Selection({}, "UNKNOWN", None, None)
    bound = program.bound
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
        return instance.candidates[c].committed

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
