"""Column generation over every matching pair: price a ``PairTable`` with a selection LP's duals.

Fairs with millions of matching pairs start from each buyer's most valuable
ones. The selection LP over those is solved, every pair of the fair is priced
with its duals (a few numpy passes, where a Python matching pass took 90 s at
xl), the best positively priced pairs join, and the LP is solved again, until
the priced bound meets the LP or the rounds' time is up. Each round's duals
also bound every schedule over all pairs (``Pricing.bound``), so the gap the
solve reports is to the whole fair, not to the pairs the LP saw.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from ..instance.candidates import (
    ColumnPool,
    Instance,
    build_instance,
    raise_exhibitor_minimums,
)
from ..instance.pair_table import PairTable, match_pairs
from ..spec.scenario import MAX_REPEAT_MEETINGS, Scenario
from .selection import selection_program

logger = logging.getLogger(__name__)

PRICE_IN_PER_MEETING = 1  # pairs a round adds per buyer, per meeting of its cap (best reduced cost first)
MAX_ROUNDS = 8  # column generation rounds (the only stop of deterministic runs besides convergence)
CONVERGED = 2e-3  # rounds stop when the priced bound is within this share of the LP over the pairs so far (xl: 3 rounds)
TOLERANCE = 1e-6  # a reduced cost above this prices a pair in
# A round (program, PDLP, pricing every row) is started only when it fits in the rounds' time left:
# the first estimated per candidate (xl: 15 s for 190,039 candidates on 2 shared cores), the
# others as long as the previous one, which a cut-short PDLP would only waste.
ROUND_SECONDS_PER_CANDIDATE = 8e-5
MAX_COPIES = 2 * MAX_REPEAT_MEETINGS  # candidates of one pair: its morning and afternoon meetings


@dataclass
class Pricing:
    bound: float  # no schedule over any pair of the table does better
    additions: np.ndarray  # table rows outside the program worth adding (at most a buyer's cap each)
    positive: int  # rows outside the program with a positive reduced cost on some day
    value_bound: float = float("inf")  # the same duals with W_min = 0: no schedule has more meeting value


def pooled_instance(scenario: Scenario, per_meeting: int) -> Instance:
    """Requests and pins, plus each buyer's ``per_meeting x cap`` most valuable matching pairs; every pair in the pool."""
    special = build_instance(scenario, candidates_per_meeting=None, exhibitors_of=lambda buyer: ())
    excluded = {(r.buyer, r.exhibitor) for r in scenario.requests}
    excluded |= {(p.buyer, p.exhibitor) for p in scenario.pinned} | {(b.buyer, b.exhibitor) for b in scenario.blocked}
    table = match_pairs(scenario, special, excluded)
    # Each buyer's best first: value, then more usable slots, then exhibitor (deterministic).
    order = np.lexsort((table.exhibitor, -table.slot_counts(), -table.value, table.buyer))
    caps = np.array([p.max_meetings for p in special.parties], dtype=np.int64)
    kept = np.sort(order[_ranks(table.buyer[order]) < np.maximum(1, per_meeting * caps[table.buyer[order]])])
    candidates = special.candidates + table.candidates(special, kept, len(special.candidates))
    raise_exhibitor_minimums(scenario, special.parties, set(np.unique(table.exhibitor).tolist()))
    every = PairTable.concat(table, PairTable.from_candidates(special, special.candidates))
    logger.info("candidates: %d matching pairs, %d kept (each buyer's best)", len(every), len(candidates))
    return dataclasses.replace(special, candidates=candidates, candidates_before_pruning=len(every), pool=ColumnPool(every))


def generate_columns(instance: Instance, time_limit: float) -> Instance:
    """Rounds of selection LP, pricing and adding pairs; the instance with the added pairs and the best bound.

    ``time_limit`` is for all rounds (``math.inf``: up to MAX_ROUNDS, for deterministic runs).
    """
    pool = instance.pool
    started = time.monotonic()
    expected = ROUND_SECONDS_PER_CANDIDATE * len(instance.candidates)
    for round_number in range(1, MAX_ROUNDS + 1):
        round_started = time.monotonic()
        left = time_limit - (round_started - started)
        if left <= 0 or left < expected:
            if math.isfinite(time_limit):
                logger.info("column generation: %.1fs left, a round takes about %.1fs; no round %d", max(0.0, left), expected, round_number)
            break
        program = selection_program(instance)
        if program.solve("objective", left, duals_only=True) is None:
            break
        pricing = price(pool.table, program)
        pool.bound = pricing.bound if pool.bound is None else min(pool.bound, pricing.bound)
        logger.info(
            "column generation round %d: LP %.1f over %d pairs, priced bound %.1f, %d pairs price in, %d added (%.1fs)",
            round_number, program.bound, len(instance.candidates), pricing.bound, pricing.positive,
            pricing.additions.size, time.monotonic() - started,
        )
        if pricing.additions.size == 0 or pool.bound <= program.bound * (1 + CONVERGED):
            break
        added = pool.table.candidates(instance, pricing.additions, len(instance.candidates))
        expected = (time.monotonic() - round_started) * (1 + len(added) / max(1, len(instance.candidates)))
        instance = dataclasses.replace(instance, candidates=instance.candidates + added)
    return instance


def _ranks(groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal ``groups`` (which must be sorted)."""
    return np.arange(groups.size) - np.searchsorted(groups, groups, side="left")


def _top_sums(groups: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per group, the sum of its ``counts[group]`` largest positive values."""
    positive = values > 0
    groups, values = groups[positive], values[positive]
    order = np.lexsort((-values, groups))
    groups, values = groups[order], values[order]
    keep = _ranks(groups) < counts[groups]
    return np.bincount(groups[keep], weights=values[keep], minlength=counts.size)


def _program_rows(table: PairTable, instance: Instance) -> np.ndarray:
    """Per table row, the candidate of ``instance`` it is (-1 when the instance does not have it)."""
    parties = len(instance.parties)
    # A pair asked to meet k times has k rows and k candidates (its copies): the n-th row of a
    # pair is its n-th candidate, so each key is (pair, occurrence).
    keys = _with_occurrence(table.keys(parties))
    order = np.argsort(keys, kind="stable")
    candidate_keys = _with_occurrence(np.array([c.buyer * parties + c.exhibitor for c in instance.candidates], dtype=np.int64))
    found = np.searchsorted(keys[order], candidate_keys)
    if candidate_keys.size and (np.any(found >= keys.size) or np.any(keys[order[np.minimum(found, keys.size - 1)]] != candidate_keys)):
        raise ValueError("a candidate is missing from the pair table")
    rows = np.full(keys.size, -1, dtype=np.int64)
    rows[order[found]] = np.arange(candidate_keys.size)
    return rows


def _with_occurrence(keys: np.ndarray) -> np.ndarray:
    """``keys`` made unique by how often each occurred before: key * MAX_COPIES + occurrence."""
    order = np.argsort(keys, kind="stable")
    occurrence = np.empty_like(keys)
    occurrence[order] = _ranks(keys[order])
    return keys * MAX_COPIES + occurrence


def price(table: PairTable, program) -> Pricing:
    """Price every row with the program's duals: a bound over all of them and the rows worth adding.

    For multipliers pi >= 0 on the program's tagged rows (caps per participant
    and day, per participant, tables and interpreters per day, the minimum-meeting
    rows, and a pair's once-only row), weak duality gives

        objective <= sum_r pi_r b_r + sum_p m_p max(0, pi_short_p - W_min)
                     + sum_{pairs c, days d} max(0, v_c - pi . A_(c,d)),

    whatever pairs the LP saw (walking cuts get pi = 0, which only loosens it;
    a participant's day cap is recomputed from all its pairs). A second bound
    keeps each buyer's own rows (its cap, its day caps, a pair once) instead of
    pricing them: its part is at most its cap's worth of best pairs, or each
    day's cap's worth, without its own duals. That is much tighter where the LP
    saw too few of a buyer's pairs to price its cap. The smaller bound counts.
    With W_min = 0 the same duals bound the meeting value alone (``value_bound``):
    only the minimum rows' term changes, to sum_p m_p (max(0, pi_short_p) - pi_short_p) = 0.
    """
    instance: Instance = program.instance
    parties, num_buyers = instance.parties, instance.num_buyers
    num_parties, days = len(parties), len(instance.grid.by_day)
    party_day = np.zeros((num_parties, days))
    cap_dual, short_dual = np.zeros(num_parties), np.zeros(num_parties)
    location_day = np.zeros((len(instance.location_ids), days))
    language_day = np.zeros((len(instance.languages) + 1, days))  # the last row: no interpreter needed
    once = np.zeros(len(instance.candidates))
    for tag, dual in program.duals.items():
        kind = tag[0]
        if kind == "party_day":
            party_day[tag[1], tag[2]] = dual
        elif kind == "party":
            cap_dual[tag[1]] = dual
        elif kind == "short":
            short_dual[tag[1]] = dual
        elif kind == "location_day":
            location_day[tag[1], tag[2]] = dual
        elif kind == "language_day":
            language_day[tag[1], tag[2]] = dual
        elif kind == "once":
            once[tag[1]] = dual
    flat = cap_dual - short_dual  # what one more meeting costs a participant's own cap and minimum rows

    b, e, value = table.buyer, table.exhibitor, table.value.astype(float)
    language = np.where(table.interpreter < 0, len(instance.languages), table.interpreter)
    candidate = _program_rows(table, instance)
    own_once = np.where(candidate >= 0, once[np.maximum(candidate, 0)], 0.0)
    priced = np.zeros(len(table))  # positive reduced costs, summed over days
    best = np.full(len(table), -np.inf)  # best day's reduced cost
    gains = np.zeros((len(table), days))  # per day, the gain with the buyer's own rows kept (positive part)
    usable = np.zeros((num_parties, days), dtype=np.int64)  # slots a participant could meet in, from all its pairs
    for d in range(days):
        has = table.on_day(d)
        others = value - party_day[e, d] - flat[e] - location_day[table.location, d] - language_day[language, d]
        reduced = others - own_once - party_day[b, d] - flat[b]
        priced += np.where(has, np.maximum(reduced, 0.0), 0.0)
        best = np.maximum(best, np.where(has, reduced, -np.inf))
        gains[:, d] = np.where(has, np.maximum(others + short_dual[b], 0.0), 0.0)
        union = np.zeros((num_parties, table.masks.shape[2]), dtype=np.uint64)
        np.bitwise_or.at(union, b, table.masks[:, d, :])
        np.bitwise_or.at(union, e, table.masks[:, d, :])
        usable[:, d] = np.bitwise_count(union).sum(axis=1)
    per_day = np.array([p.max_per_day if p.max_per_day is not None else np.iinfo(np.int64).max for p in parties])
    day_cap = np.minimum(usable, per_day[:, None])
    max_meetings = np.array([p.max_meetings for p in parties], dtype=np.int64)
    minimum = np.array([p.min_meetings for p in parties], dtype=float)

    # Rows whose right-hand side does not depend on whose rows are kept.
    shared = float(
        np.sum(location_day * np.outer(instance.location_tables, [len(slots) for slots in instance.grid.by_day]))
        + sum(
            language_day[k, d] * sum(instance.interpreter_capacity[k][s] for s in instance.grid.by_day[d])
            for k in range(len(instance.languages)) for d in range(days) if language_day[k, d]
        )
    )
    short_term = float(np.sum(-short_dual * minimum + minimum * np.maximum(0.0, short_dual - instance.weights.min_shortfall)))
    value_shift = float(np.sum(-short_dual * minimum + minimum * np.maximum(0.0, short_dual))) - short_term
    shared += short_term
    party_rows = (party_day * day_cap).sum(axis=1) + cap_dual * max_meetings  # sum pi b of each participant's caps
    every_row_priced = priced.sum() + once.sum() + party_rows.sum() + shared

    # Buyers' subproblems: their own rows kept (cap, day caps, once), the rest priced.
    is_buyer = b < num_buyers
    buyers_priced = np.bincount(b[is_buyer], weights=priced[is_buyer] + own_once[is_buyer], minlength=num_buyers)
    dualized = buyers_priced + party_rows[:num_buyers]
    by_cap = _top_sums(b[is_buyer], gains[is_buyer].max(axis=1, initial=0.0), max_meetings[:num_buyers])
    by_days = sum(_top_sums(b[is_buyer], gains[is_buyer, d], day_cap[:num_buyers, d]) for d in range(days))
    subproblems = np.minimum(dualized, np.minimum(by_cap, by_days)).sum() if num_buyers else 0.0
    others_rows = ~is_buyer
    buyers_kept = (
        subproblems + priced[others_rows].sum() + own_once[others_rows].sum() + party_rows[num_buyers:].sum() + shared
    )

    # Pairs worth adding: outside the program, positive on some day; per buyer its cap's worth, best first.
    worth = np.flatnonzero((candidate < 0) & (best > TOLERANCE) & is_buyer)
    order = worth[np.lexsort((table.exhibitor[worth], -value[worth], -best[worth], b[worth]))]
    limit = PRICE_IN_PER_MEETING * max_meetings[b[order]]
    additions = np.sort(order[_ranks(b[order]) < limit])
    bound = float(min(every_row_priced, buyers_kept))
    return Pricing(bound=bound, additions=additions, positive=int(worth.size), value_bound=bound + value_shift)


def bound_over_pool(instance: Instance, program) -> float | None:
    """The best bound over every pair of the instance's pool: the rounds' and this program's duals."""
    pool = instance.pool
    if pool is None:
        return None
    pricing = price(pool.table, program)
    program.priced_value_bound = pricing.value_bound  # for value_bound_over_pool, without pricing again
    return pricing.bound if pool.bound is None else min(pricing.bound, pool.bound)


def value_bound_over_pool(instance: Instance, program) -> float | None:
    """A bound on meeting value alone over every pair of the pool, from this program's duals (W_min = 0)."""
    if instance.pool is None:
        return None
    if program.priced_value_bound is None:
        program.priced_value_bound = price(instance.pool.table, program).value_bound
    return program.priced_value_bound
