"""Stage 1 of the decomposition (selection LP + rounding) and stage 2's day parts as pure jobs."""

from __future__ import annotations

import dataclasses
from collections import Counter
import datetime

import pytest

from matchmaker.candidates import build_instance
from matchmaker.decompose import day_part, run_parts, solve_day
from matchmaker.generate import generate_scenario
from matchmaker.greedy import greedy_schedule
from matchmaker.selection import PricedBound, lp_bounds, select_days, selection_program
from matchmaker.solver import SolveOptions

from helpers import as_scenario, make_scenario, solve_and_check, want


def _score(instance, placed) -> int:
    """value - min_shortfall x shortfall, recounted here independently of selection.score."""
    met = Counter(p for c in placed for p in (instance.candidates[c].buyer, instance.candidates[c].exhibitor))
    short = sum(max(0, party.min_meetings - met[i]) for i, party in enumerate(instance.parties))
    return sum(instance.candidates[c].value for c in placed) - instance.weights.min_shortfall * short


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selection_bound_is_above_every_schedule(seed: int):
    """The LP optimum over every pair bounds the objective of the greedy and of a full solve."""
    scenario = generate_scenario("tiny", seed)
    instance = build_instance(scenario, candidates_per_meeting=None)
    selection = select_days(instance)
    assert selection.bound is not None
    greedy = greedy_schedule(instance).placed
    assert _score(instance, greedy) <= selection.bound + 1e-6
    schedule = solve_and_check(scenario, time_limit=3, workers=2)
    achieved = schedule.stats.value - scenario.weights.min_shortfall * schedule.stats.min_meetings_shortfall
    assert achieved <= selection.bound + 1e-6
    bounds = lp_bounds(instance)
    assert bounds is not None
    assert schedule.stats.value <= bounds.value and schedule.stats.meetings <= bounds.meetings


@pytest.mark.parametrize("seed", [0, 3])
def test_rounded_selection_respects_every_count_rule(seed: int):
    """Rounding never puts more pairs in a count row than its capacity, and a pair on at most one day."""
    instance = build_instance(generate_scenario("tiny", seed), candidates_per_meeting=None)
    program = selection_program(instance)
    selection = select_days(instance)
    chosen = {(c, d) for c, d in selection.day_of.items()}
    for columns, capacity in program.limits:
        assert sum(program.keys[col] in chosen for col in columns) <= capacity
    assert selection.objective == _score(instance, selection.day_of)
    assert selection.objective <= selection.bound + 1e-6


def test_selection_takes_the_most_valuable_pairs_within_a_cap():
    """One buyer with room for 2 meetings and three requested exhibitors: the two asked for by both sides win."""
    data = make_scenario(
        [{"id": "B1", "max_meetings": 2}], ["E1", "E2", "E3"], slots=3,
        requests=[want("B1", "E1", by="both"), want("B1", "E2"), want("B1", "E3", by="both")],
    )
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    selection = select_days(instance)
    ids = {instance.parties[instance.candidates[c].exhibitor].id for c in selection.day_of}
    assert ids == {"E1", "E3"}
    assert selection.objective == pytest.approx(selection.bound)


def test_day_parts_give_the_same_timetables_in_processes_and_in_process():
    """Day parts are pure: solved in two spawned processes or here, deterministically, they agree."""
    one_day = generate_scenario("tiny", 4)
    first = one_day.days[0]
    second = first.model_copy(update={"date": first.date + datetime.timedelta(days=1)})
    scenario = one_day.model_copy(update={"days": [first, second]})
    instance = build_instance(scenario, candidates_per_meeting=None)
    selection = select_days(instance)
    start = greedy_schedule(instance).placed
    options = SolveOptions(time_limit=2, workers=1, seed=5, deterministic=True)
    days = sorted(set(selection.day_of.values()))
    assert len(days) >= 2
    parts = [day_part(instance, d, selection.day_of, start, options, 1.0, 1.0) for d in days]
    here = [solve_day(dataclasses.replace(p)) for p in parts]
    there = run_parts(parts, processes=2)
    assert [sorted(r.placements) for r in here] == [sorted(r.placements) for r in there]
    assert all(r.placements for r in here)


def test_pruning_while_matching_keeps_each_buyers_best_and_every_request():
    scenario = generate_scenario("anping", 0)
    every = build_instance(scenario, candidates_per_meeting=None)
    kept = build_instance(scenario, 3, prune_while_matching=True)
    assert kept.candidates_before_pruning == len(every.candidates) > len(kept.candidates)
    ids = lambda inst, c: (inst.parties[c.buyer].id, inst.parties[c.exhibitor].id)  # noqa: E731
    kept_pairs = {ids(kept, c) for c in kept.candidates}
    assert {ids(every, c) for c in every.candidates if c.request_level} <= kept_pairs
    for b, party in enumerate(every.parties[: every.num_buyers]):
        own = sorted((c for c in every.candidates if c.buyer == b), key=lambda c: -c.value)
        if len(own) > 3 * party.max_meetings:
            threshold = own[3 * party.max_meetings - 1].value
            assert all(c.value >= threshold or c.request_level for c in kept.candidates if c.buyer == b)


def test_priced_bound_covers_pairs_the_lp_never_saw():
    """Duals of an LP over a buyer's best pairs, priced over every pair, bound the LP over every pair."""
    scenario = generate_scenario("anping", 0)
    full_lp = select_days(build_instance(scenario, candidates_per_meeting=None)).bound
    kept = select_days(build_instance(scenario, 3, prune_while_matching=True))
    assert kept.bound < full_lp  # the kept pairs alone miss value ...
    priced = PricedBound(kept.program)
    attractive = build_instance(scenario, candidates_per_meeting=None, per_buyer=priced.visit).candidates
    assert priced.value >= full_lp  # ... which pricing every pair accounts for
    assert attractive  # and it names the pairs worth adding


def test_streaming_path_solves_and_bounds(monkeypatch, caplog):
    """Forced at Anping size: prune while matching, column generation, priced bound; schedule checks clean."""
    import logging

    import matchmaker.solver as solver_module

    monkeypatch.setattr(solver_module, "STREAMING_PAIRS", 0)
    scenario = generate_scenario("anping", 0)
    with caplog.at_level(logging.INFO, logger="matchmaker"):
        schedule = solve_and_check(scenario, time_limit=10, workers=2)
    assert "column generation:" in caplog.text and "priced bound over all" in caplog.text
    stats = schedule.stats
    assert schedule.solver.strategy == "decompose"
    assert stats.upper_bound_objective is not None
    assert stats.value - scenario.weights.min_shortfall * stats.min_meetings_shortfall <= stats.upper_bound_objective
