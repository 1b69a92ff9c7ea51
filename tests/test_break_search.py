"""The brokerage local search (Kempe chains) and the pattern LP bound: valid schedules, fewer breaks, sound bounds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers import as_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_brokerage import B2BSP, brokerage, must

from matchmaker.analysis.checker import check_schedule
from matchmaker.instance.candidates import build_instance
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.solver import brokerage as patterns_module
from matchmaker.solver.break_search import improve_breaks
from matchmaker.solver.greedy import greedy_schedule
from matchmaker.solver.solution import build_schedule
from matchmaker.spec.schedule import SolverInfo

INFO = SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0, deterministic=True, strategy="monolithic")


def _instance(data: dict):
    return build_instance(as_scenario(data), candidates_per_meeting=None)


def _by_pair(instance) -> dict[tuple[str, str], int]:
    return {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.index for c in instance.candidates}


def _checked_breaks(data: dict, instance, placed: dict[int, int]) -> int:
    """Breaks of ``placed`` after the independent checker has accepted it."""
    schedule = build_schedule(instance, placed, INFO)
    report = check_schedule(as_scenario(data), schedule)
    assert report.ok, report.violations
    return schedule.stats.idle_gaps


def test_a_break_is_closed_by_moving_a_meeting():
    # A meets B in slot 0 and C in slot 2: one break; C's meeting can move to slot 1.
    data = brokerage(["A", "B", "C"], [must("A", "B"), must("A", "C")], slots=3)
    instance = _instance(data)
    pair = _by_pair(instance)
    start = {pair[("A", "B")]: 0, pair[("A", "C")]: 2}
    assert _checked_breaks(data, instance, start) == 1
    found = improve_breaks(instance, start, iterations=2000, seed=0)
    assert found.breaks == 0 and _checked_breaks(data, instance, found.placed) == 0


def test_unplaced_meetings_are_put_in():
    data = brokerage(["A", "B", "C", "D"], [must("A", "B"), must("A", "C"), must("C", "D"), must("B", "D")], slots=4, tables=2)
    instance = _instance(data)
    found = improve_breaks(instance, {}, iterations=5000, seed=0)
    assert found.placed is not None and len(found.placed) == 4
    assert _checked_breaks(data, instance, found.placed) == found.breaks


def test_the_fairness_cap_is_never_exceeded():
    # A's two meetings are forced two slots apart (one break): with a cap of 0 no schedule qualifies.
    data = brokerage(["A", {"id": "B", "name": "B"}, {"id": "C", "name": "C"}], [must("A", "B"), must("A", "C")], slots=3)
    day = data["days"][0]["date"]
    data["participants"][1]["availability"] = [{"date": day, "start": "09:00", "end": "09:20"}]
    data["participants"][2]["availability"] = [{"date": day, "start": "09:40", "end": "10:00"}]
    instance = _instance(data)
    pair = _by_pair(instance)
    start = {pair[("A", "B")]: 0, pair[("A", "C")]: 2}
    assert improve_breaks(instance, start, iterations=2000, seed=0, cap=0).placed is None
    assert improve_breaks(instance, start, iterations=2000, seed=0, cap=1).breaks == 1


def _random_event(seed: int) -> dict:
    rng = random.Random(seed)
    people = [f"P{i}" for i in range(rng.randint(4, 8))]
    pairs = sorted({tuple(sorted(rng.sample(people, 2))) for _ in range(rng.randint(4, 12))})
    return brokerage(people, [must(a, b) for a, b in pairs], slots=rng.randint(4, 6), tables=rng.randint(2, 4))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), search_seed=st.integers(0, 3))
def test_search_results_pass_the_checker_and_never_lose_breaks(seed: int, search_seed: int):
    data = _random_event(seed)
    instance = _instance(data)
    start = greedy_schedule(instance, []).placed
    found = improve_breaks(instance, start, iterations=3000, seed=search_seed)
    again = improve_breaks(instance, start, iterations=3000, seed=search_seed)
    assert found == again  # deterministic for a seed
    if found.placed is None:
        return
    assert _checked_breaks(data, instance, found.placed) == found.breaks
    if len(start) == len(instance.candidates):
        assert found.breaks <= _checked_breaks(data, instance, start)


@pytest.mark.parametrize("seed", range(6))
def test_pattern_lp_bound_never_exceeds_the_optimum(seed: int):
    data = _random_event(seed)
    instance = _instance(data)
    bound = patterns_module.pattern_lp_bound(instance, patterns_module.all_patterns(instance))
    schedule = solve(as_scenario(data), SolveOptions(time_limit=10, workers=1, explain=False))
    assert schedule.solver.status == "OPTIMAL"
    assert bound is not None and 0 <= bound <= schedule.stats.idle_gaps


def test_pattern_lp_bound_is_none_when_no_schedule_fits():
    # Three meetings, one table, two slots.
    meetings = [must("A", "B"), must("C", "D"), must("E", "F")]
    instance = _instance(brokerage(["A", "B", "C", "D", "E", "F"], meetings, slots=2, tables=1))
    assert patterns_module.pattern_lp_bound(instance, patterns_module.all_patterns(instance)) is None
    roomy = _instance(brokerage(["A", "B", "C", "D", "E", "F"], meetings, slots=3, tables=1))
    assert patterns_module.pattern_lp_bound(roomy, patterns_module.all_patterns(roomy)) == 0


@pytest.mark.skipif(not B2BSP.is_dir(), reason=f"B2BSP data not found at {B2BSP} (not part of the repository)")
def test_tic13crafc_bound_and_search_reach_the_published_optimum():
    from matchmaker.io.b2bsp import load_b2bsp

    instance = build_instance(load_b2bsp(Path(B2BSP / "tic-13crafc.original.dzn"), 2), candidates_per_meeting=None)
    assert patterns_module.pattern_lp_bound(instance, patterns_module.all_patterns(instance)) == 4
    found = improve_breaks(instance, greedy_schedule(instance, []).placed, iterations=250_000, seed=0, cap=2, target=4)
    assert found.breaks == 4
