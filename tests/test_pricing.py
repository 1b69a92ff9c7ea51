"""The pair table (every matching pair as arrays) and column generation over it (pricing.py)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import DAY, as_scenario, make_scenario, solve_and_check, want, window
from scipy.optimize import linprog

from matchmaker.instance.candidates import build_instance
from matchmaker.instance.pair_table import PairTable, match_pairs
from matchmaker.io.generate import generate_scenario
from matchmaker.relax.pricing import generate_columns, pooled_instance, price
from matchmaker.relax.selection import select_days, selection_program


def _special(scenario) -> set[tuple[str, str]]:
    return (
        {(r.buyer, r.exhibitor) for r in scenario.requests}
        | {(p.buyer, p.exhibitor) for p in scenario.pinned}
        | {(b.buyer, b.exhibitor) for b in scenario.blocked}
    )


def _as_tuples(instance, candidates) -> dict[tuple[int, int], tuple]:
    return {(c.buyer, c.exhibitor): (c.value, c.location, c.hall, c.interpreter, tuple(c.slots)) for c in candidates}


def _table_matches_build_instance(scenario) -> PairTable:
    every = build_instance(scenario, candidates_per_meeting=None)
    special = _special(scenario)
    table = match_pairs(scenario, every, special)
    reference = _as_tuples(
        every, [c for c in every.candidates if (every.parties[c.buyer].id, every.parties[c.exhibitor].id) not in special]
    )
    assert _as_tuples(every, table.candidates(every, np.arange(len(table)), 0)) == reference
    return table


@pytest.mark.parametrize(("preset", "seed"), [("tiny", 0), ("tiny", 1), ("tiny", 2), ("anping", 0), ("anping", 2)])
def test_table_has_exactly_the_pairs_build_instance_makes(preset: str, seed: int):
    """Same pairs, values, locations, interpreters and slots as the Python matching (availability, languages, pools)."""
    table = _table_matches_build_instance(generate_scenario(preset, seed))
    assert len(table) > 0
    if preset == "anping":
        assert np.any(table.interpreter >= 0) and np.any(table.slot_counts() < table.slot_counts().max())


def test_table_handles_languages_without_a_pool_and_days_longer_than_one_mask_word():
    """A needed language with no interpreter pool drops the pair; a 100-slot day spans two 64-bit words."""
    data = make_scenario(
        [
            {"id": "B1", "interests": {"mesh": 3}, "languages": ["ru"]},  # ru pool: needs it with E1
            {"id": "B2", "interests": {"mesh": 3}, "languages": ["ar"]},  # no ar pool: never meets E1
            {"id": "B3", "interests": {"mesh": 3}, "languages": ["ar"], "own_interpreter": True},
            {"id": "B4", "interests": {"mesh": 3}},  # no languages listed: assumed fine
        ],
        [{"id": "E1", "offers": ["mesh"], "languages": ["zh"]}, {"id": "E2", "offers": ["mesh"], "languages": ["ar"]}],
        slot_minutes=5, days=[{"date": DAY, "sessions": [{"start": "09:00", "end": "17:20"}]}],  # 100 slots
        interpreters=[{"language": "ru", "count": 1, "availability": [window("14:00", "17:20")]}],
    )
    scenario = as_scenario(data)
    table = _table_matches_build_instance(scenario)
    pairs = {(int(b), int(e)) for b, e in zip(table.buyer, table.exhibitor)}
    assert (1, 4) not in pairs and (0, 4) in pairs and (2, 4) in pairs and (3, 4) in pairs
    assert table.masks.shape[2] == 2 and table.slot_counts().max() == 100


def test_pooled_instance_keeps_every_request_and_each_buyers_best():
    scenario = generate_scenario("anping", 0)
    every = build_instance(scenario, candidates_per_meeting=None)
    pooled = pooled_instance(scenario, 3)
    assert pooled.candidates_before_pruning == len(every.candidates) == len(pooled.pool.table) > len(pooled.candidates)
    ids = lambda inst, c: (inst.parties[c.buyer].id, inst.parties[c.exhibitor].id)  # noqa: E731
    kept = {ids(pooled, c): c for c in pooled.candidates}
    assert {ids(every, c) for c in every.candidates if c.request_level} <= set(kept)
    assert [c.index for c in pooled.candidates] == list(range(len(pooled.candidates)))
    for b, party in enumerate(every.parties[: every.num_buyers]):
        plain = sorted((c.value for c in every.candidates if c.buyer == b and not c.request_level and c.pinned_slot is None), reverse=True)
        kept_plain = [c.value for c in pooled.candidates if c.buyer == b and not c.request_level and c.pinned_slot is None]
        assert len(kept_plain) == min(len(plain), 3 * party.max_meetings)
        if kept_plain:
            assert min(kept_plain) >= plain[len(kept_plain) - 1]


def _optimum(program) -> float:
    lp = program.lp("objective")
    result = linprog(
        -lp.gain, A_ub=lp.a_ub, b_ub=lp.b_ub, A_eq=lp.a_eq if lp.b_eq.size else None,
        b_eq=lp.b_eq if lp.b_eq.size else None, bounds=np.column_stack([np.zeros(lp.columns), lp.upper]), method="highs",
    )
    assert result.status == 0
    return -result.fun


def test_column_generation_reaches_the_lp_over_every_pair_and_bounds_it():
    """Anping: the kept pairs' LP falls short; the rounds close that and the priced bound covers every pair."""
    scenario = generate_scenario("anping", 0)
    full_lp = select_days(build_instance(scenario, candidates_per_meeting=None), method="highs").bound
    pooled = pooled_instance(scenario, 1)
    assert select_days(pooled, method="highs").bound < full_lp - 100
    generated = generate_columns(pooled, float("inf"))
    assert len(generated.candidates) > len(pooled.candidates)
    assert generated.candidates[: len(pooled.candidates)] == pooled.candidates  # indices of earlier pairs stay valid
    final = select_days(generated, method="highs")
    assert final.bound == pytest.approx(full_lp, rel=1e-3)
    assert generated.pool.bound >= full_lp - 1e-6
    assert generated.pool.bound <= full_lp * 1.01


@pytest.mark.parametrize("seed", [2, 3])
def test_priced_bound_from_any_duals_bounds_the_lp_over_every_pair(seed: int):
    """Weak duality for both forms: arbitrary tagged duals (>= 0, free on equalities), priced over every pair, never
    fall below the LP optimum over every pair without walking cuts (which the bound drops)."""
    scenario = generate_scenario("tiny", seed)
    every = build_instance(scenario, candidates_per_meeting=None)
    optimum = _optimum(selection_program(every, walking_cuts=False))
    pooled = pooled_instance(scenario, 1)
    program = selection_program(pooled, walking_cuts=False)
    tags = [t for t in program.row_tags if t is not None] + [t for t in program.eq_tags if t is not None]
    eq_tags = set(program.eq_tags)
    rng = np.random.default_rng(seed)
    for scale in (0.0, 1.0, 5.0, 30.0):
        program.duals = {t: (rng.normal() if t in eq_tags else rng.random()) * scale for t in tags}
        assert price(pooled.pool.table, program).bound >= optimum - 1e-6


def test_priced_bound_keeps_a_buyers_cap_without_its_dual():
    """With no duals at all, a buyer's part of the bound is its cap's worth of best pairs, not every pair."""
    data = make_scenario(
        [{"id": "B1", "max_meetings": 2}], ["E1", "E2", "E3"], slots=3,
        requests=[want("B1", "E1", by="both"), want("B1", "E2"), want("B1", "E3", by="both")],
    )
    scenario = as_scenario(data)
    instance = build_instance(scenario, candidates_per_meeting=None)
    optimum = select_days(instance, method="highs").bound
    program = selection_program(instance)
    program.duals = {}
    table = PairTable.from_candidates(instance, instance.candidates)
    assert price(table, program).bound == pytest.approx(optimum)


def test_pricing_adds_at_most_a_buyers_cap_of_pairs_outside_the_program():
    scenario = generate_scenario("anping", 0)
    pooled = pooled_instance(scenario, 1)
    program = selection_program(pooled)
    program.solve("objective", float("inf"), method="highs")
    pricing = price(pooled.pool.table, program)
    table = pooled.pool.table
    assert pricing.additions.size > 0 and pricing.positive >= pricing.additions.size
    in_program = {(c.buyer, c.exhibitor) for c in pooled.candidates}
    assert not {(int(table.buyer[r]), int(table.exhibitor[r])) for r in pricing.additions} & in_program
    per_buyer = np.bincount(table.buyer[pricing.additions], minlength=pooled.num_buyers)
    assert all(per_buyer[b] <= pooled.parties[b].max_meetings for b in range(pooled.num_buyers))


def test_streaming_path_solves_and_bounds(monkeypatch, caplog):
    """Forced at Anping size: the pair table, column generation, the bound over all pairs; schedule checks clean."""
    import matchmaker.solver.engine as solver_module

    monkeypatch.setattr(solver_module, "STREAMING_PAIRS", 0)
    scenario = generate_scenario("anping", 0)
    with caplog.at_level(logging.INFO, logger="matchmaker"):
        schedule = solve_and_check(scenario, time_limit=10, workers=2)
    assert "column generation round 2" in caplog.text and "bound over all" in caplog.text
    stats = schedule.stats
    assert schedule.solver.strategy == "decompose"
    assert stats.upper_bound_objective is not None
    full_lp = select_days(build_instance(scenario, candidates_per_meeting=None), method="highs").bound
    assert stats.upper_bound_objective >= full_lp - 1
    assert stats.value - scenario.weights.min_shortfall * stats.min_meetings_shortfall <= stats.upper_bound_objective
