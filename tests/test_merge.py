"""The decomposition's merge: every must/pinned meeting keeps a slot even when its preferred one clashes."""

from __future__ import annotations

from helpers import as_scenario, make_scenario, must

from matchmaker.instance.candidates import build_instance
from matchmaker.solver.decompose import place_commitments_first


def test_a_must_whose_preferred_slot_clashes_still_gets_one():
    # B1 must meet E1 and E2; both preferred in slot 0 (as when one day failed and the
    # greedy start had the meeting elsewhere): the second must move to a free slot.
    data = make_scenario(["B1"], ["E1", "E2"], slots=3, requests=[must("B1", "E1"), must("B1", "E2")])
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    order = [(c.index, 0) for c in instance.candidates]
    placed = dict(place_commitments_first(instance, order))
    assert set(placed) == {c.index for c in instance.candidates}
    assert len(set(placed.values())) == 2 and 0 in placed.values()


def test_no_commitments_means_nothing_to_place():
    data = make_scenario(["B1"], ["E1"], slots=2)
    instance = build_instance(as_scenario(data), candidates_per_meeting=None)
    assert place_commitments_first(instance, [(c.index, 0) for c in instance.candidates]) == []
