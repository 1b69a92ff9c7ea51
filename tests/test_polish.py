"""The idle-gap local search: fewer gaps, the same meetings, every rule kept, pins untouched."""

from __future__ import annotations

import pytest
from helpers import as_scenario, make_scenario, must, only_slot, pin, slot_start, want

from matchmaker.analysis.checker import check_schedule
from matchmaker.instance.candidates import build_instance
from matchmaker.io.generate import generate_scenario
from matchmaker.solver.greedy import greedy_schedule
from matchmaker.solver.polish import close_idle_gaps, insert_meetings
from matchmaker.solver.solution import build_schedule, total_idle_gaps
from matchmaker.spec.schedule import SolverInfo


def _gapped(pinned: bool):
    """B1 meets E1 in slot 0 and E2 (free only in slot 2) in slot 2: one idle gap, closable by moving E1 to slot 1."""
    data = make_scenario(
        ["B1"], ["E1", {"id": "E2", "availability": only_slot(2)}], slots=3,
        requests=[want("B1", "E1"), want("B1", "E2")],
        pinned=[pin("B1", "E1", slot_start(0))] if pinned else [],
    )
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    by_exhibitor = {instance.parties[c.exhibitor].id: c.index for c in instance.candidates}
    placed = {by_exhibitor["E1"]: 0, by_exhibitor["E2"]: 2}
    return instance, placed, by_exhibitor


def _gaps(instance, placed) -> int:
    slots: dict[int, list[int]] = {}
    for c, s in placed.items():
        for party in (instance.candidates[c].buyer, instance.candidates[c].exhibitor):
            slots.setdefault(party, []).append(s)
    return total_idle_gaps(instance, slots)


def test_a_meeting_moves_into_the_gap():
    instance, placed, by_exhibitor = _gapped(pinned=False)
    assert _gaps(instance, placed) == 1
    polished = close_idle_gaps(instance, placed)
    assert _gaps(instance, polished) == 0
    assert polished == {by_exhibitor["E1"]: 1, by_exhibitor["E2"]: 2}


def test_a_pinned_meeting_stays():
    instance, placed, _ = _gapped(pinned=True)
    assert close_idle_gaps(instance, placed) == placed


@pytest.mark.parametrize("seed", [0, 5])  # seeds whose greedy schedule has closable gaps (8 -> 5, 5 -> 2)
def test_polishing_a_generated_fair_keeps_meetings_and_rules(seed: int):
    scenario = generate_scenario("tiny", seed)
    instance = build_instance(scenario)
    placed = greedy_schedule(instance).placed
    polished = close_idle_gaps(instance, placed)
    assert set(polished) == set(placed)
    assert _gaps(instance, polished) < _gaps(instance, placed)
    info = SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0, deterministic=True, strategy="decompose")
    assert check_schedule(scenario, build_schedule(instance, polished, info)).ok


def _chained(pinned: bool):
    """B1 meets E1 in slot 0 and E2 (free only in slot 2) in slot 2; E1 meets B2 in slot 1.

    No single move closes B1's gap (E1 is busy in slot 1); swapping B1-E1 and B2-E1 between
    slots 0 and 1 (a Kempe chain) does.
    """
    data = make_scenario(
        ["B1", "B2"], ["E1", {"id": "E2", "availability": only_slot(2)}], slots=3,
        requests=[want("B1", "E1"), want("B1", "E2"), want("B2", "E1")],
        pinned=[pin("B2", "E1", slot_start(1))] if pinned else [],
    )
    scenario = as_scenario(data)
    instance = build_instance(scenario, candidates_per_meeting=None)
    pair = {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.index for c in instance.candidates}
    placed = {pair[("B1", "E1")]: 0, pair[("B1", "E2")]: 2, pair[("B2", "E1")]: 1}
    return scenario, instance, placed, pair


def test_a_chain_swap_closes_a_gap_no_single_move_can():
    scenario, instance, placed, pair = _chained(pinned=False)
    assert _gaps(instance, placed) == 1
    polished = close_idle_gaps(instance, placed)
    assert _gaps(instance, polished) == 0
    assert polished == {pair[("B1", "E1")]: 1, pair[("B1", "E2")]: 2, pair[("B2", "E1")]: 0}
    info = SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0, deterministic=True, strategy="decompose")
    assert check_schedule(scenario, build_schedule(instance, polished, info)).ok


def test_a_chain_through_a_pinned_meeting_does_not_move():
    _scenario, instance, placed, _pair = _chained(pinned=True)
    assert close_idle_gaps(instance, placed) == placed


def _three_pairs(**overrides):
    """B1-E1 in slot 0 and B2-E2 in slot 1; B2-E1 fits in neither until B1-E1 moves to slot 1."""
    data = make_scenario(["B1", "B2"], ["E1", "E2"], slots=2, **overrides)
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    pair = {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.index for c in instance.candidates}
    return instance, pair


def _valid(instance, placed) -> bool:
    info = SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0, deterministic=True, strategy="decompose")
    return check_schedule(instance.scenario, build_schedule(instance, placed, info)).ok


def test_insertion_makes_room_by_a_chain_swap():
    requests = [want("B1", "E1"), want("B2", "E2"), want("B2", "E1")]
    instance, pair = _three_pairs(requests=requests)
    placed = {pair["B1", "E1"]: 0, pair["B2", "E2"]: 1}
    assert not greedy_schedule(instance, sorted(placed.items())).placed.keys() - placed.keys()  # no direct fit
    result = insert_meetings(instance, placed, [pair["B2", "E1"]])
    assert result == {pair["B1", "E1"]: 1, pair["B2", "E2"]: 1, pair["B2", "E1"]: 0}
    assert _valid(instance, result)


def test_insertion_never_moves_a_pinned_meeting():
    """The chain through B1-E1 is pinned, and B2-E2 cannot move (E2 is there in slot 1 only)."""
    data = make_scenario(
        ["B1", "B2"], ["E1", {"id": "E2", "availability": only_slot(1)}], slots=2,
        requests=[want("B2", "E2"), want("B2", "E1")], pinned=[pin("B1", "E1", slot_start(0))],
    )
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    pair = {(instance.parties[c.buyer].id, instance.parties[c.exhibitor].id): c.index for c in instance.candidates}
    placed = {pair["B1", "E1"]: 0, pair["B2", "E2"]: 1}
    assert insert_meetings(instance, placed, [pair["B2", "E1"]]) == placed


def test_a_more_valuable_meeting_replaces_a_less_valuable_one_of_a_full_participant():
    requests = [want("B1", "E1"), want("B1", "E2", by="both")]  # the second is worth more
    instance, pair = _three_pairs(requests=requests)
    instance.parties[instance.party_index["B1"]].max_meetings = 1
    placed = {pair["B1", "E1"]: 0}
    assert insert_meetings(instance, placed, [pair["B1", "E2"]]) == {pair["B1", "E2"]: 0}


@pytest.mark.parametrize("rule", ["must", "minimum"])
def test_replacing_respects_must_requests_and_minimums(rule: str):
    """A must request is never taken out; nor is a meeting whose loss costs a minimum more than the gain."""
    first = must("B1", "E1") if rule == "must" else want("B1", "E1")
    data = make_scenario(
        [{"id": "B1", "max_meetings": 1}], ["E1", "E2"], slots=2,
        requests=[first, want("B1", "E2", by="both")],
    )
    data["exhibitors"][0]["min_meetings"] = 1 if rule == "minimum" else 0
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    pair = {instance.parties[c.exhibitor].id: c.index for c in instance.candidates}
    placed = {pair["E1"]: 0}
    assert insert_meetings(instance, placed, [pair["E2"]]) == placed


@pytest.mark.parametrize(("preset", "seed"), [("tiny", 0), ("tiny", 4), ("anping", 1)])
def test_insertion_on_a_generated_fair_keeps_rules_commitments_and_never_loses_value(preset: str, seed: int):
    """From a greedy schedule of every other pair, insert the best of the rest: still valid, commitments kept, better."""
    from matchmaker.relax.selection import score

    scenario = generate_scenario(preset, seed)
    instance = build_instance(scenario, candidates_per_meeting=None)
    first_half = [c.index for c in instance.candidates if c.index % 2 == 0 or c.request_level == "must" or c.pinned_slot is not None]
    placed = greedy_schedule(instance, []).placed
    placed = {c: s for c, s in placed.items() if c in set(first_half)}
    rest = sorted((c.index for c in instance.candidates if c.index not in placed), key=lambda c: (-instance.candidates[c].value, c))
    rest = rest[:1500]  # the most valuable: enough to fill many caps, and quick
    result = insert_meetings(instance, placed, rest)
    assert _valid(instance, result)
    committed = {c for c in placed if instance.candidates[c].request_level == "must" or instance.candidates[c].pinned_slot is not None}
    assert all(result.get(c) == placed[c] for c in committed if instance.candidates[c].pinned_slot is not None)
    assert committed <= set(result)
    assert score(instance, result) > score(instance, placed)
    assert insert_meetings(instance, placed, rest) == result  # deterministic
