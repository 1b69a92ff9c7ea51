"""The "total breaks <= k?" loop (matchmaker/solver/breaks_exact.py) on tiny instances: feasible, refuted, infeasible."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from helpers import solve_and_check
from ortools.sat.python import cp_model
from test_brokerage import brokerage, must

from matchmaker.errors import InfeasibleError
from matchmaker.instance.candidates import build_instance
from matchmaker.io.b2bsp import load_b2bsp
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.solver import breaks_exact
from matchmaker.solver.brokerage import break_cap, fewest_breaks
from matchmaker.spec.scenario import parse_scenario

TINY = Path(__file__).parent / "data" / "b2bsp" / "tiny.dzn"


def _instance(data):
    return build_instance(parse_scenario(data), candidates_per_meeting=None)


def _ask(instance, start=None, split=None, undecided=(), asked=None, slow=()):
    """The loop with one-worker questions; the stages in ``undecided`` come back UNKNOWN, ``asked`` collects every stage.

    The stages in ``slow`` (in a race) run until their lane is stopped, as a long search would.
    """
    fewest = fewest_breaks(instance)
    cap = break_cap(instance, breaks_exact.own_meetings(instance))

    def solve_one(model, stage, most, lane, above=False):
        if asked is not None:
            asked.append(stage)
        solver = cp_model.CpSolver()
        if stage in undecided:
            return solver, cp_model.UNKNOWN
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = 10
        if lane is not None and not lane.started(solver):
            return None, cp_model.UNKNOWN
        if stage in slow:
            while not lane.stopped:
                time.sleep(0.01)
            return solver, cp_model.UNKNOWN
        return solver, solver.solve(model)

    return breaks_exact.ask_loop(instance, fewest.floor, cap, solve_one, lambda: 1.0, start, split=split)


def _triangle(slots=3, **overrides):
    # A triangle in three slots: the three meetings take the three slots, and whoever meets in the first and the last has a break.
    return brokerage(["A", "B", "C"], [must("A", "B"), must("A", "C"), must("B", "C")], slots=slots, **overrides)


def test_triangle_needs_one_break():
    asked = _ask(_instance(_triangle()))
    assert asked.total == 1 and asked.lower == 1 and not asked.refuted_all
    assert sorted(asked.placed.values()) == [0, 1, 2]


def test_a_split_question_finds_who_takes_the_break():
    # "Total <= 1?" undecided whole: asked per participant, A first (same meetings: by index), and A can take it.
    stages = []
    split = breaks_exact.Split(whole=1.0, first=1.0)
    asked = _ask(_instance(_triangle()), split=split, undecided={"breaks <= 1?"}, asked=stages)
    assert asked.total == 1 and asked.lower == 1
    assert stages == ["breaks <= 0?", "breaks <= 1?", "breaks <= 1, only A above its floor?"]
    assert split.begun and not split.refuted


def test_a_split_question_is_refuted_when_every_participant_is():
    # Two triangles in three slots need a break each: nobody alone can take "the" break, so 1 is refuted
    # participant by participant, and 2 (two above their floor: asked whole) is the optimum.
    data = brokerage(
        ["A", "B", "C", "D", "E", "F"],
        [must("A", "B"), must("A", "C"), must("B", "C"), must("D", "E"), must("D", "F"), must("E", "F")], slots=3,
    )
    stages = []
    split = breaks_exact.Split(whole=1.0, first=1.0)
    asked = _ask(_instance(data), split=split, undecided={"breaks <= 1?"}, asked=stages)
    assert asked.total == 2 and asked.lower == 2
    assert len(split.refuted) == 6 and sum("above its floor" in stage for stage in stages) == 6
    assert stages[-1] == "breaks <= 2?"


def test_an_undecided_participant_is_asked_again_with_twice_the_budget():
    stages = []
    split = breaks_exact.Split(whole=1.0, first=1.0)
    undecided = {"breaks <= 1?", "breaks <= 1, only A above its floor?"}
    asked = _ask(_instance(_triangle()), split=split, undecided=undecided, asked=stages)
    # A undecided (budget 2 now), B found next: the smaller budget per meeting goes first.
    assert asked.total == 1 and stages[-1] == "breaks <= 1, only B above its floor?"
    assert split.budget[0] == 2.0


def test_a_race_of_questions_stops_the_others_once_one_is_found():
    # Two questions at a time: A's runs until it is stopped, B's finds the schedule and stops it.
    stages = []
    split = breaks_exact.Split(whole=1.0, first=1.0, lanes=2)
    started = time.monotonic()
    asked = _ask(_instance(_triangle()), split=split, undecided={"breaks <= 1?"}, asked=stages,
                 slow={"breaks <= 1, only A above its floor?"})
    assert asked.total == 1 and asked.lower == 1
    assert set(stages[2:]) == {"breaks <= 1, only A above its floor?", "breaks <= 1, only B above its floor?"}
    assert time.monotonic() - started < 5  # A's question would never end unless stopped
    assert not split.refuted and split.budget[0] == 1.0  # a stopped question is neither refuted nor doubled


def test_a_race_refutes_when_every_participant_is_refuted():
    data = brokerage(
        ["A", "B", "C", "D", "E", "F"],
        [must("A", "B"), must("A", "C"), must("B", "C"), must("D", "E"), must("D", "F"), must("E", "F")], slots=3,
    )
    split = breaks_exact.Split(whole=1.0, first=1.0, lanes=2)
    asked = _ask(_instance(data), split=split, undecided={"breaks <= 1?"})
    assert asked.total == 2 and asked.lower == 2 and len(split.refuted) == 6


def test_path_has_no_break():
    data = brokerage(["A", "B", "C", "D"], [must("A", "B"), must("B", "C"), must("C", "D")], slots=4)
    asked = _ask(_instance(data))
    assert asked.total == 0 and asked.lower == 0


def _breaks(instance, placed) -> int:
    own = breaks_exact.own_meetings(instance)
    total = 0
    for meetings in own:
        busy = sorted(placed[c] for c in meetings)
        total += sum(1 for a, b in zip(busy, busy[1:]) if b - a > 1)
    return total


@pytest.mark.parametrize("k", [0, 1, 2])
def test_lean_model_counts_breaks_exactly(k):
    # Every schedule of a 4-participant instance in 5 slots: the lean model with "total <= k" is feasible exactly when one has <= k breaks.
    data = brokerage(
        ["A", "B", "C", "D"], [must("A", "B"), must("A", "C"), must("A", "D"), must("B", "C"), must("C", "D")], slots=5, tables=2
    )
    instance = _instance(data)
    meetings = list(range(len(instance.candidates)))
    best = None
    for slots in itertools.product(range(5), repeat=len(meetings)):
        placed = dict(zip(meetings, slots))
        at = {}
        ok = True
        for c, s in placed.items():
            cand = instance.candidates[c]
            for party in (cand.buyer, cand.exhibitor):
                ok &= (party, s) not in at
                at[party, s] = c
        ok &= all(list(slots).count(s) <= 2 for s in set(slots))
        if ok:
            best = _breaks(instance, placed) if best is None else min(best, _breaks(instance, placed))
    lean = breaks_exact.build_lean(instance, {}, k)
    solver = cp_model.CpSolver()
    status = solver.solve(lean.model)
    assert (status in (cp_model.OPTIMAL, cp_model.FEASIBLE)) == (best <= k)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed = {lean.mv.cand_of[v]: lean.mv.slot_of[v] for v, var in enumerate(lean.mv.x) if solver.boolean_value(var)}
        assert _breaks(instance, placed) == sum(solver.value(e) for e in lean.breaks.values()) <= k


def test_fairness_zero_refutes_every_k():
    # With a participant of one meeting, d = 0 caps everyone at 0 breaks; the triangle needs 1: no schedule at all.
    data = brokerage(
        ["A", "B", "C", "D", "E"], [must("A", "B"), must("A", "C"), must("B", "C"), must("D", "E")], slots=3,
        fairness={"max_break_spread": 0},
    )
    asked = _ask(_instance(data))
    assert asked.placed is None and asked.refuted_all
    # The meetings fit without the rule, so the rule is named as the cause (not a list of meetings).
    with pytest.raises(InfeasibleError, match=r"the fairness rule cannot hold \(fairness.max_break_spread = 0"):
        solve(parse_scenario(data), SolveOptions(time_limit=10, workers=1))


def test_pipeline_proves_the_triangle_with_the_loop(caplog):
    with caplog.at_level("INFO", logger="matchmaker"):
        schedule = solve_and_check(_triangle())
    # Refuted at 0; then a quick question at the LP bound 1 settles it, before the local search runs.
    assert "breaks <= 0?: INFEASIBLE" in caplog.text and "breaks <= 1?: OPTIMAL" in caplog.text
    assert "break search" not in caplog.text
    assert schedule.stats.idle_gaps == 1 and schedule.solver.status == "OPTIMAL"


def test_the_first_question_takes_the_floor_patterns(monkeypatch):
    # k = floor sum: every participant's whole floor-pattern list goes into the lean model; above it, counters.
    real = breaks_exact.build_lean
    listed = []

    def recording(instance, patterns, *args, **kwargs):
        listed.append(sorted(patterns))
        return real(instance, patterns, *args, **kwargs)

    monkeypatch.setattr(breaks_exact, "build_lean", recording)
    schedule = solve_and_check(_triangle())
    assert listed[0] == [0, 1, 2]  # "breaks <= 0?": A, B and C each one block (refuted)
    assert listed[1] == []  # "breaks <= 1?"
    assert schedule.stats.idle_gaps == 1 and schedule.solver.status == "OPTIMAL"


def test_pipeline_splits_the_question_it_cannot_decide_whole(caplog, monkeypatch):
    # As on forum-13crafc, where "total <= 1?" stays undecided whole: the questions per participant settle it.
    import matchmaker.solver.brokerage as brokerage_module

    real = brokerage_module.run_stage

    def whole_undecided(run, model, budget, stage, *args, **kwargs):
        if stage == "breaks <= 1?":
            return cp_model.CpSolver(), cp_model.UNKNOWN
        return real(run, model, budget, stage, *args, **kwargs)

    monkeypatch.setattr(brokerage_module, "run_stage", whole_undecided)
    with caplog.at_level("INFO", logger="matchmaker"):
        schedule = solve_and_check(_triangle())
    assert "breaks <= 1, only A above its floor?: OPTIMAL" in caplog.text
    assert schedule.stats.idle_gaps == 1 and schedule.solver.status == "OPTIMAL"


def test_tiny_b2bsp_instance():
    schedule = solve(load_b2bsp(TINY, 2), SolveOptions(time_limit=10, workers=1))
    assert schedule.stats.idle_gaps == 1 and schedule.solver.status == "OPTIMAL"


def test_tiny_b2bsp_instance_without_breaks_is_infeasible():
    # d = 0 with a participant of one meeting: nobody may have a break, and company 1's meetings cannot be adjacent.
    with pytest.raises(InfeasibleError, match="fairness rule"):
        solve(load_b2bsp(TINY, 0), SolveOptions(time_limit=10, workers=1))


def test_tiny_b2bsp_with_contradicting_fixed_meetings_is_infeasible(tmp_path):
    # Meeting 4 (companies 3 and 5) must follow meeting 1 (companies 1 and 2), but is fixed before it.
    text = TINY.read_text().replace("fixed = [0,0,0,0,4];", "fixed = [2,0,0,1,4];")
    path = tmp_path / "clash.dzn"
    path.write_text(text)
    with pytest.raises(InfeasibleError, match="these must/pinned meetings cannot all take place"):
        solve(load_b2bsp(path, 2), SolveOptions(time_limit=10, workers=1))
