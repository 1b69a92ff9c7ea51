"""The idle-gap local search: fewer gaps, the same meetings, every rule kept, pins untouched."""

from __future__ import annotations

import pytest

from helpers import as_scenario, make_scenario, only_slot, pin, slot_start, want
from matchmaker.candidates import build_instance
from matchmaker.checker import check_schedule
from matchmaker.generate import generate_scenario
from matchmaker.greedy import greedy_schedule
from matchmaker.polish import close_idle_gaps
from matchmaker.schedule import SolverInfo
from matchmaker.solution import build_schedule, idle_gaps


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
    return idle_gaps(instance, slots)


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
