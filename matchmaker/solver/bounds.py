"""The upper bounds a schedule reports and its gap: each defined once, here (docs/model.md, "Bounds").

For a schedule S of an instance (a re-plan's instance includes the published
meetings it keeps):

- ``upper_bound_meetings``: no schedule has more meetings than this;
- ``upper_bound_value``: no schedule has more meeting value (sum of pair values);
- ``upper_bound_objective``: no schedule has a higher score, ``objective_part`` =
  value − min_shortfall × shortfall (``stats.score``), what the solver maximizes
  besides compact agendas;
- ``gap_percent`` = (upper_bound_value − value) / upper_bound_value × 100, the one
  figure every display shows ("meeting value V of at most U (within G%)"). It is
  on value, not on the score: a shortfall penalty can make a small fair's score
  negative, where a percentage means nothing.
- ``objective_gap_percent`` = (upper_bound_objective − score) / upper_bound_objective × 100:
  the score's own gap, what the solver closes (docs/performance.md's figure).

Sources, the smallest of each kind kept: the flow bound (``relax/flow_bound.py``)
over every matching pair plus the instance's own pairs, for fairs of up to
FLOW_MAX_PAIRS pairs; the selection LP's bound and duals (``relax/selection.py``)
over an unpruned instance, priced over every pair (``relax/pricing.py``) at xl;
``counting`` (each participant's cap's worth of its best pairs) on every path;
for objective "breaks" with every meeting committed, the schedule itself (all
meetings are must, so meetings and value are fixed). Null only when bounds are
switched off (``SolveOptions.bound``): every display then says "no bound".
CP-SAT's own bound (``solver.best_bound``) is in its scaled units and is not used here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..instance.candidates import Instance, build_instance
from ..relax.flow_bound import upper_bounds
from ..spec.scenario import Weights
from ..spec.schedule import Stats

logger = logging.getLogger(__name__)

FLOW_MAX_PAIRS = 100_000  # the flow bound's first round: 0.5 s at Anping (29k pairs), 17 s at `large` (394k)
TOLERANCE = 1e-6  # LP bounds are floats: 51278.9999999 counts as 51279


@dataclass(frozen=True)
class Bounds:
    """Upper bounds over every schedule of an instance; None where unknown."""

    meetings: int | None = None
    value: int | None = None
    objective: int | None = None  # on objective_part
    source: str = ""
    # True when the bound covers every schedule of the instance's pairs whatever their pins and
    # slots (flow, counting: over the scenario's pairs): a re-plan may reuse it for another policy.
    any_pins: bool = False
    pin_free: Bounds | None = None  # of a merge that is not any_pins: the part that is

    def robust(self) -> Bounds:
        """The part of these bounds that holds whatever is pinned or fixed."""
        if self.any_pins or not self.source:
            return self
        return self.pin_free or Bounds()

    def merge(self, other: Bounds) -> Bounds:
        """The smaller of each bound (both are valid)."""
        def low(a, b):
            return b if a is None else a if b is None else min(a, b)

        sources = " + ".join(s for s in (self.source, other.source) if s)
        any_pins = all(b.any_pins for b in (self, other) if b.source)
        pin_free = None if any_pins else self.robust().merge(other.robust())
        return Bounds(low(self.meetings, other.meetings), low(self.value, other.value), low(self.objective, other.objective),
                      sources, any_pins, pin_free)


def objective_part(weights: Weights, value: int, shortfall: int) -> int:
    """value − min_shortfall × shortfall: what the objective maximizes besides compactness."""
    return value - weights.min_shortfall * shortfall


def scaled_objective(weights: Weights, value: int, shortfall: int, idle_gaps: int) -> int:
    """The CP-SAT objective (objective "meetings"): value_scale × objective_part − idle_gap × idle gaps."""
    return weights.value_scale() * objective_part(weights, value, shortfall) - weights.idle_gap * idle_gaps


def gap_percent(bound: float | None, achieved: float) -> float | None:
    """(bound − achieved) / bound × 100, rounded to 3 decimals; None without a bound."""
    if bound is None:
        return None
    if bound <= 0:
        return 0.0 if achieved >= bound else None
    return round(100.0 * (bound - achieved) / bound, 3)


def floor(bound: float | None) -> int | None:
    return None if bound is None or not math.isfinite(bound) else math.floor(bound + TOLERANCE)


def fill(stats: Stats, weights: Weights, bounds: Bounds | None) -> None:
    """Write the bounds and the gap into ``stats`` (nulls without bounds)."""
    bounds = bounds or Bounds()
    achieved = objective_part(weights, stats.value, stats.min_meetings_shortfall)
    objective = bounds.objective
    if bounds.value is not None:  # objective_part <= value for every schedule
        objective = bounds.value if objective is None else min(objective, bounds.value)
    stats.upper_bound_meetings = _at_least(bounds.meetings, stats.meetings, "meetings", bounds.source)
    stats.upper_bound_value = _at_least(bounds.value, stats.value, "meeting value", bounds.source)
    stats.upper_bound_objective = _at_least(objective, achieved, "value less shortfall penalty", bounds.source)
    stats.score = achieved
    stats.gap_percent = gap_percent(stats.upper_bound_value, stats.value)
    # A negative score (shortfall penalties of a small fair) makes a percentage meaningless.
    stats.objective_gap_percent = gap_percent(stats.upper_bound_objective, achieved) if achieved >= 0 else None


def _at_least(bound: int | None, achieved: int, what: str, source: str) -> int | None:
    """A bound is never below the schedule it bounds: a lower one is a bug, logged and raised to the schedule."""
    if bound is not None and bound < achieved:
        logger.warning("bug: the %s bound %d (%s) is below the schedule's %d; reporting %d", what, bound, source, achieved, achieved)
        return achieved
    return bound


def fixed(instance: Instance) -> Bounds:
    """Every candidate committed (objective "breaks", brokerage): every schedule has all of them."""
    count = np.zeros(len(instance.parties), dtype=np.int64)
    for c in instance.candidates:
        count[c.buyer] += 1
        count[c.exhibitor] += 1
    value = sum(c.value for c in instance.candidates)
    shortfall = int(sum(max(0, p.min_meetings - int(count[i])) for i, p in enumerate(instance.parties)))
    return Bounds(len(instance.candidates), value, objective_part(instance.weights, value, shortfall), "fixed: every meeting is committed")


def unpruned(instance: Instance) -> bool:
    """The instance holds every matching pair (its LP bounds every schedule of it)."""
    return instance.pool is not None or len(instance.candidates) >= instance.candidates_before_pruning


def flow_applies(instance: Instance) -> bool:
    return instance.pool is None and not instance.scenario.participants and instance.candidates_before_pruning <= FLOW_MAX_PAIRS


def flow(
    instance: Instance, iterations: int, value_target: float | None, time_budget: float, every: Instance | None = None
) -> Bounds:
    """The flow bound over every matching pair of the scenario plus the instance's own pairs, all their slots.

    Re-plans keep published meetings whose pair may no longer match (forced
    pairs): they are in the bound too. Pins, frozen slots and the re-plan
    policies only restrict schedules, so the bound holds for every policy.
    ``every``: that instance when the caller has it already (a fresh solve's
    unpruned instance, before any pin or freeze: building it again costs 0.5 s at Anping).
    """
    if every is None:
        ids = instance.parties
        pairs = {(ids[c.buyer].id, ids[c.exhibitor].id) for c in instance.candidates}
        every = build_instance(instance.scenario, candidates_per_meeting=None, forced_pairs=pairs)
    found = upper_bounds(every, iterations=iterations, value_target=value_target, time_budget=time_budget)
    return Bounds(found.meetings, found.value, None, "flow", any_pins=True)


def _every_pair(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buyer, exhibitor, value) of every pair a schedule of ``instance`` may use: every matching pair and its own."""
    if instance.pool is not None:
        table = instance.pool.table
        return np.asarray(table.buyer), np.asarray(table.exhibitor), np.asarray(table.value, dtype=np.int64)
    candidates = instance.candidates
    if not unpruned(instance):
        ids = instance.parties
        pairs = {(ids[c.buyer].id, ids[c.exhibitor].id) for c in candidates}
        candidates = build_instance(instance.scenario, candidates_per_meeting=None, forced_pairs=pairs).candidates
    return (
        np.array([c.buyer for c in candidates], dtype=np.int64),
        np.array([c.exhibitor for c in candidates], dtype=np.int64),
        np.array([c.value for c in candidates], dtype=np.int64),
    )


def _caps(instance: Instance) -> np.ndarray:
    """Most meetings of each participant: its cap, and its free slots under its daily cap."""
    days = len(instance.grid.by_day)
    day_of = np.array([s.day for s in instance.grid.slots], dtype=np.int64)
    caps = np.zeros(len(instance.parties), dtype=np.int64)
    for i, p in enumerate(instance.parties):
        per_day = np.bincount(day_of[np.asarray(p.free, dtype=np.int64)], minlength=days)
        if p.max_per_day is not None:
            per_day = np.minimum(per_day, p.max_per_day)
        caps[i] = min(p.max_meetings, int(per_day.sum()))
    return caps


def counting(instance: Instance) -> Bounds:
    """Each side's participants, each with its cap's worth of its best pairs: meetings and value, summed.

    Every meeting has one buyer and one exhibitor, and a pair meets at most once,
    so a participant's meetings are worth at most its ``cap`` most valuable
    pairs; the smaller side's sum bounds every schedule. Cheap (0.2 s at `large`)
    and close to the flow bound's first round (large: 363,001 against 362,960);
    it ignores tables, interpreters and timing.
    """
    buyer, exhibitor, value = _every_pair(instance)
    caps = _caps(instance)
    meetings, worth = [], []
    for party in (buyer, exhibitor):
        pairs = np.bincount(party, minlength=caps.size)
        meetings.append(int(np.minimum(caps, pairs).sum()))
        order = np.lexsort((-value, party))
        grouped = party[order]
        first = np.searchsorted(grouped, grouped, side="left")  # start of each participant's run
        rank = np.arange(grouped.size) - first
        worth.append(int(value[order][rank < caps[grouped]].sum()))
    return Bounds(min(meetings), min(worth), None, "caps", any_pins=True)


def selection(instance: Instance, program, objective_bound: float) -> Bounds:
    """From the decomposition's selection LP: its bound on objective_part and, from its duals, on value.

    Over a pruned instance the LP bounds only the candidates, not every
    schedule: nothing is taken from it then.
    """
    if not unpruned(instance):
        return Bounds()
    if instance.pool is not None:
        from ..relax.pricing import value_bound_over_pool

        value = value_bound_over_pool(instance, program)
        source = "selection LP priced over every pair"
    else:
        value = program.dual_bound("value")
        source = "selection LP"
    return Bounds(None, floor(value), floor(objective_bound), source)
