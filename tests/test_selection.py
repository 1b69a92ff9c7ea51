"""Stage 1 of the decomposition (selection LP + rounding) and stage 2's day parts as pure jobs."""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections import Counter

import numpy as np
import pytest
from helpers import as_scenario, make_scenario, solve_and_check, want

from matchmaker.instance.candidates import build_instance
from matchmaker.io.generate import generate_scenario
from matchmaker.pipeline import SolveOptions
from matchmaker.relax.selection import lp_bounds, select_days, selection_program
from matchmaker.solver.decompose import day_part, greedy_day, run_parts, solve_day
from matchmaker.solver.greedy import greedy_schedule


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


def _optimum(program, objective: str = "objective") -> float:
    """The LP optimum by HiGHS over the whole program, independently of SelectionProgram.solve."""
    from scipy.optimize import linprog

    lp = program.lp(objective)
    result = linprog(
        -lp.gain, A_ub=lp.a_ub, b_ub=lp.b_ub, A_eq=lp.a_eq if lp.b_eq.size else None,
        b_eq=lp.b_eq if lp.b_eq.size else None, bounds=np.column_stack([np.zeros(lp.columns), lp.upper]), method="highs",
    )
    assert result.status == 0
    return -result.fun


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lagrangian_bound_from_any_nonnegative_duals_is_above_the_lp_optimum(seed: int):
    """Weak duality: random duals (>= 0 on <= rows, free on equalities) never bound below the optimum; optimal ones are tight."""
    instance = build_instance(generate_scenario("tiny", seed), candidates_per_meeting=None)
    program = selection_program(instance)
    lp = program.lp("objective")
    optimum = _optimum(program)
    rng = np.random.default_rng(seed)
    for scale in (0.0, 0.1, 1.0, 10.0, 100.0):
        y_ub = scale * rng.random(lp.b_ub.size)
        y_eq = scale * rng.normal(size=lp.b_eq.size)
        assert lp.bound(y_ub, y_eq) >= optimum - 1e-6
    # With the simplex's duals the bound is the optimum itself (so the signs are right).
    x = program.solve("objective", math.inf, method="highs")
    assert x is not None and program.bound == pytest.approx(optimum, abs=1e-6)
    eq_tags = set(program.eq_tags)
    assert all(d >= 0 for tag, d in program.duals.items() if tag not in eq_tags)
    # The tagged duals alone (walking cuts at 0, as pricing.price prices them) still bound it.
    y_ub = np.array([program.duals.get(tag, 0.0) if tag is not None else 0.0 for tag in program.row_tags])
    y_eq = np.array([program.duals.get(tag, 0.0) if tag is not None else 0.0 for tag in program.eq_tags])
    assert lp.bound(y_ub, y_eq) >= optimum - 1e-6
    with pytest.raises(ValueError):
        lp.bound(-np.ones(lp.b_ub.size), np.zeros(lp.b_eq.size))


@pytest.mark.parametrize("seed", [0, 3])
def test_pdlp_path_bounds_the_optimum_and_rounds_to_a_valid_selection(seed: int):
    """Forced PDLP on a tiny fair: its bound is >= the HiGHS optimum, and its rounding keeps every count rule."""
    instance = build_instance(generate_scenario("tiny", seed), candidates_per_meeting=None)
    highs = select_days(instance, method="highs")
    pdlp = select_days(instance, method="pdlp")
    assert pdlp.bound >= highs.bound - 1e-6
    assert pdlp.bound <= highs.bound * 1.01  # approximate duals, but close
    program = selection_program(instance)
    chosen = set(pdlp.day_of.items())
    for columns, capacity in program.limits:
        assert sum(program.keys[col] in chosen for col in columns) <= capacity
    assert pdlp.objective == _score(instance, pdlp.day_of)
    assert pdlp.objective >= 0.97 * highs.objective  # the restricted vertex rounds about as well as the simplex's
    committed = {c.index for c in instance.candidates if c.request_level == "must" or c.pinned_slot is not None}
    assert committed <= set(pdlp.day_of)
    again = select_days(instance, method="pdlp")  # deterministic
    assert again.day_of == pdlp.day_of and again.bound == pdlp.bound


def test_pdlp_is_the_fallback_when_highs_fails(monkeypatch):
    """A HiGHS solve that does not finish leaves the LP to PDLP, which still bounds and rounds."""
    from matchmaker.relax.selection import SelectionProgram

    instance = build_instance(generate_scenario("tiny", 0), candidates_per_meeting=None)
    optimum = _optimum(selection_program(instance))
    monkeypatch.setattr(SelectionProgram, "solve_highs", lambda self, lp, time_limit: None)
    selection = select_days(instance, time_limit=60.0)
    assert selection.bound is not None and selection.bound >= optimum - 1e-6
    assert selection.day_of and selection.objective <= selection.bound + 1e-6


def test_large_programs_go_to_pdlp(monkeypatch, caplog):
    import logging

    import matchmaker.relax.selection as selection_module

    monkeypatch.setattr(selection_module, "PDLP_COLUMNS", 0)
    instance = build_instance(generate_scenario("tiny", 1), candidates_per_meeting=None)
    with caplog.at_level(logging.INFO, logger="matchmaker.relax.selection"):
        selection = select_days(instance)
    assert "PDLP" in caplog.text and "restricted HiGHS" in caplog.text
    assert selection.bound >= _optimum(selection_program(instance)) - 1e-6
    bounds = lp_bounds(instance)
    assert bounds is not None and bounds.value >= math.floor(_optimum(selection_program(instance), "value") + 1e-6)


def test_a_day_without_time_for_its_selection_still_improves_on_the_greedy():
    """No time for the attempt with the selection required: the fallback keeps the greedy's meetings (its hint is
    complete) and adds more with the compaction's borrowed time; before, such a day kept the greedy's timetable."""
    instance = build_instance(generate_scenario("anping", 0), candidates_per_meeting=None)
    selection = select_days(instance)
    start = greedy_schedule(instance).placed
    options = SolveOptions(time_limit=2, workers=1, seed=5, deterministic=True)
    part = day_part(instance, 1, selection.day_of, start, options, 0.0, 1.0)  # no value budget at all
    greedy = {c for c, _ in greedy_day(dataclasses.replace(part)).placements}
    schedule = dict(solve_day(dataclasses.replace(part)).placements)
    value = lambda chosen: sum(instance.candidates[c].value for c in chosen)  # noqa: E731
    assert value(schedule) > value(greedy)
    busy = Counter((p, s) for c, s in schedule.items() for p in (instance.candidates[c].buyer, instance.candidates[c].exhibitor))
    assert max(busy.values()) == 1  # one meeting at a time (the pipeline's checker sees the whole schedule)
