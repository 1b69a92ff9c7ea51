"""Tier 1: every constraint family on tiny hand-made fairs.

For each hard-rule family there is a feasible fair and a minimally different
infeasible one, where must requests and/or pins collide only because of that
family. Each infeasible fair is checked three ways: the raw CP-SAT model is
INFEASIBLE, switching the family's constraint adder off makes it feasible (so the
family really is the cause), and ``solve`` raises InfeasibleError naming the
meetings involved. Soft terms are checked through ``solve`` on fairs where the
preferred schedule is unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from helpers import (
    DAY,
    DAY2,
    assert_feasible,
    assert_infeasible,
    make_scenario,
    meetings_of,
    must,
    only_slot,
    pairs_of,
    pin,
    session,
    slot_start,
    solve_and_check,
    want,
    window,
)

from matchmaker.errors import InfeasibleError, ScenarioError
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.spec.scenario import parse_scenario


@dataclass(frozen=True)
class Family:
    """A feasible and an infeasible fair for one constraint family."""

    id: str
    feasible: dict
    infeasible: dict
    because: str  # the constraint adder whose removal makes ``infeasible`` feasible
    named: tuple[str, ...]  # strings InfeasibleError's reasons must contain


def _one_at_a_time(exhibitor_slots: int) -> dict:
    # B1 must meet E1 and E2; the exhibitors are free in slot 0 only (or in both slots).
    avail = only_slot(0) if exhibitor_slots == 1 else None
    return make_scenario(
        ["B1"],
        [{"id": "E1", "availability": avail}, {"id": "E2", "availability": avail}],
        slots=2,
        requests=[must("B1", "E1"), must("B1", "E2")],
    )


def _must(buyer_slots: int) -> dict:
    # E1 is pinned with B2 at 09:00; B1 must meet E1 but is free at 09:00 only (or in both slots).
    return make_scenario(
        [{"id": "B1", "availability": only_slot(0) if buyer_slots == 1 else None}, "B2"],
        ["E1"],
        slots=2,
        requests=[must("B1", "E1")],
        pinned=[pin("B2", "E1", slot_start(0))],
    )


def _pinned(pinned_slot: int) -> dict:
    # B1 is pinned with E1; B1 must also meet E2, who is free at 09:00 only.
    return make_scenario(
        ["B1"],
        ["E1", {"id": "E2", "availability": only_slot(0)}],
        slots=2,
        requests=[must("B1", "E2")],
        pinned=[pin("B1", "E1", slot_start(pinned_slot))],
    )


def _tables(lounge_tables: int) -> dict:
    # E1 and E2 have no booth and share the lounge; both must meet a buyer in the only slot they are free.
    return make_scenario(
        ["B1", "B2"],
        [{"id": "E1", "location": None, "availability": only_slot(0)},
         {"id": "E2", "location": None, "availability": only_slot(0)}],
        slots=2,
        lounge_tables=lounge_tables,
        requests=[must("B1", "E1"), must("B2", "E2")],
    )


def _max_meetings(cap: int) -> dict:
    return make_scenario(
        [{"id": "B1", "max_meetings": cap}],
        ["E1", "E2"],
        slots=2,
        requests=[must("B1", "E1"), must("B1", "E2")],
    )


def _max_per_day(days: int) -> dict:
    # B1 takes at most one meeting a day and must meet E1 and E2: fine over two days, not in one.
    fair_days = [{"date": d, "sessions": [session(2)]} for d in (DAY, DAY2)[:days]]
    return make_scenario(
        [{"id": "B1", "max_meetings_per_day": 1}],
        ["E1", "E2"],
        days=fair_days,
        requests=[must("B1", "E1"), must("B1", "E2")],
    )


def _walking(walk_minutes: int) -> dict:
    # Slots 09:00 and 09:25 (5-minute changeover); E1 is in hall H1, E2 in H2.
    return make_scenario(
        ["B1"],
        [{"id": "E1", "hall": "H1"}, {"id": "E2", "hall": "H2"}],
        slots=2,
        changeover=5,
        halls=["H1", "H2"],
        walking={("H1", "H2"): walk_minutes},
        requests=[must("B1", "E1"), must("B1", "E2")],
    )


def _interpreters(count: int) -> dict:
    # Two Russian-speaking buyers must meet Chinese-speaking exhibitors; interpreters work slot 0 only.
    return make_scenario(
        [{"id": "B1", "languages": ["ru"]}, {"id": "B2", "languages": ["ru"]}],
        [{"id": "E1", "languages": ["zh"]}, {"id": "E2", "languages": ["zh"]}],
        slots=2,
        interpreters=[{"language": "ru", "count": count, "availability": only_slot(0)}],
        requests=[must("B1", "E1"), must("B2", "E2")],
    )


FAMILIES = [
    Family("one-meeting-at-a-time", _one_at_a_time(2), _one_at_a_time(1), "add_one_meeting_at_a_time", ("B1-E1", "B1-E2")),
    Family("must-request", _must(2), _must(1), "add_must_requests", ("B1-E1", "B2-E1")),
    Family("pinned", _pinned(1), _pinned(0), "add_pinned", ("B1-E1", "B1-E2")),
    Family("table-capacity", _tables(2), _tables(1), "add_table_capacity", ("B1-E1", "B2-E2")),
    Family("max-meetings", _max_meetings(2), _max_meetings(1), "add_meeting_caps", ("B1", "max_meetings")),
    Family("max-meetings-per-day", _max_per_day(2), _max_per_day(1), "add_meeting_caps", ("B1-E1", "B1-E2")),
    Family("walking", _walking(4), _walking(10), "add_walking_time", ("B1-E1", "B1-E2")),
    Family("interpreters", _interpreters(2), _interpreters(1), "add_interpreter_capacity", ("B1-E1", "B2-E2")),
]
BY_ID = pytest.mark.parametrize("family", FAMILIES, ids=[f.id for f in FAMILIES])


@BY_ID
def test_feasible_fair_has_a_solution(family: Family):
    """The raw model of the feasible fair is solvable and ``solve`` returns a checker-clean schedule."""
    assert_feasible(family.feasible)
    schedule = solve_and_check(family.feasible)
    scenario = parse_scenario(family.feasible)
    committed = {(r.buyer, r.exhibitor) for r in scenario.requests if r.level == "must"}
    committed |= {(p.buyer, p.exhibitor) for p in scenario.pinned}
    assert committed <= pairs_of(schedule)


@BY_ID
def test_infeasible_fair_is_infeasible_because_of_its_family(family: Family):
    """The raw model is INFEASIBLE, and feasible again once the family's constraints are switched off."""
    assert_infeasible(family.infeasible, because=family.because)


@BY_ID
def test_solve_names_the_conflicting_meetings(family: Family):
    """``solve`` raises InfeasibleError whose reasons name the colliding pairs (or participant and rule)."""
    with pytest.raises(InfeasibleError) as caught:
        solve(parse_scenario(family.infeasible), SolveOptions(time_limit=5, workers=1))
    text = "\n".join(caught.value.reasons)
    for expected in family.named:
        assert expected in text, f"{expected!r} not named in:\n{text}"


# ---------------------------------------------------------------------------
# Families whose feasible/infeasible pair needs a different shape
# ---------------------------------------------------------------------------


def _force_pair_meetings(count: int):
    def extra(instance, built):
        (candidate,) = instance.candidates
        built.model.add(sum(built.vars.of_candidate(candidate.index)) == count)

    return extra


def test_pair_meets_at_most_once_in_the_model():
    """Forcing one pair into two slots is INFEASIBLE only because of the pair-at-most-once rule."""
    fair = make_scenario(["B1"], [{"id": "E1", "offers": ["x"]}], slots=3)
    fair["buyers"][0]["interests"] = {"x": 5}
    assert_feasible(fair, extra=_force_pair_meetings(1))
    assert_infeasible(fair, because="add_pair_at_most_once", extra=_force_pair_meetings(2))


def test_pair_meets_once_even_with_free_slots_left():
    """A valuable pair with three common free slots and nothing else to do still meets exactly once."""
    fair = make_scenario(["B1"], ["E1"], slots=3, requests=[want("B1", "E1", by="both")])
    schedule = solve_and_check(fair)
    assert [(m.buyer, m.exhibitor) for m in schedule.meetings] == [("B1", "E1")]


@pytest.mark.parametrize("overlap", [True, False], ids=["overlapping", "disjoint"])
def test_availability_windows(overlap: bool):
    """A must meeting lands where both are free; with no common slot ``solve`` names the pair."""
    fair = make_scenario(
        [{"id": "B1", "availability": [window("09:00", "09:40")]}],
        [{"id": "E1", "availability": [window("09:20" if overlap else "09:40", "10:00")]}],
        slots=3,
        requests=[must("B1", "E1")],
    )
    if overlap:
        assert meetings_of(solve_and_check(fair)) == {("B1", "E1", "09:20")}
        return
    with pytest.raises(InfeasibleError) as caught:
        solve(parse_scenario(fair), SolveOptions(time_limit=5, workers=1))
    text = "\n".join(caught.value.reasons)
    assert "B1-E1" in text and "never available" in text, text


def test_blocked_pair_never_meets():
    """A want request on a blocked pair is not scheduled, even as the buyer's best match, and says why."""
    fair = make_scenario(
        [{"id": "B1", "interests": {"x": 5}}],
        [{"id": "E1", "offers": ["x"]}, {"id": "E2", "offers": ["x"]}],
        slots=2,
        requests=[want("B1", "E1", by="both")],
        blocked=[{"buyer": "B1", "exhibitor": "E1", "reason": "competitors"}],
    )
    schedule = solve_and_check(fair)
    assert ("B1", "E1") not in pairs_of(schedule)
    assert ("B1", "E2") in pairs_of(schedule)  # the buyer is otherwise schedulable
    (unscheduled,) = schedule.unscheduled_requests
    assert (unscheduled.buyer, unscheduled.exhibitor, unscheduled.level) == ("B1", "E1", "want")
    assert "blocked" in unscheduled.reason


def test_must_request_on_blocked_pair_is_rejected():
    """A must request on a blocked pair is a scenario error, caught before any solving."""
    fair = make_scenario(
        ["B1"], ["E1"], requests=[must("B1", "E1")], blocked=[{"buyer": "B1", "exhibitor": "E1"}]
    )
    with pytest.raises(ScenarioError, match="blocked pair"):
        parse_scenario(fair)


# ---------------------------------------------------------------------------
# Soft terms: the objective prefers the right schedule when only one fits
# ---------------------------------------------------------------------------


def _optimal(fair: dict, **options):
    schedule = solve_and_check(fair, **options)
    assert schedule.solver is not None and schedule.solver.status == "OPTIMAL", schedule.solver
    return schedule


@pytest.mark.parametrize(
    ("b1_sides", "b2_sides", "winner"),
    [
        (("both",), ("buyer",), "B1"),
        (("exhibitor",), ("both",), "B2"),
        (("buyer",), ("buyer", "exhibitor"), "B2"),  # two one-sided requests merge into "both"
        (("organizer",), ("exhibitor",), "B1"),
        (("organizer",), ("both",), "B2"),
    ],
)
def test_request_bonus_decides_who_gets_the_only_slot(b1_sides, b2_sides, winner):
    """Of two buyers wanting E1's only slot, the one with the larger request bonus gets it."""
    requests = [want("B1", "E1", by=by) for by in b1_sides] + [want("B2", "E1", by=by) for by in b2_sides]
    fair = make_scenario(["B1", "B2"], ["E1"], slots=1, requests=requests)
    schedule = _optimal(fair)
    assert pairs_of(schedule) == {(winner, "E1")}
    loser = "B2" if winner == "B1" else "B1"
    assert [(u.buyer, u.level) for u in schedule.unscheduled_requests] == [(loser, "want")]


@pytest.mark.parametrize(("min_meetings", "winner"), [(0, "B1"), (1, "B2")])
def test_min_meetings_outweighs_meeting_value(min_meetings: int, winner: str):
    """B2's min_meetings wins it E1's only slot over B1's far more valuable requested meeting."""
    fair = make_scenario(
        [{"id": "B1", "priority": 5}, {"id": "B2", "priority": 1, "interests": {"x": 1}, "min_meetings": min_meetings}],
        [{"id": "E1", "offers": ["x"]}],
        slots=1,
        requests=[want("B1", "E1", by="both")],  # value (20) x 5 = 100 against 1 x 1 for B2
    )
    schedule = _optimal(fair)
    assert pairs_of(schedule) == {(winner, "E1")}
    assert schedule.stats.min_meetings_shortfall == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compact_agenda_has_no_idle_gap(seed: int):
    """A buyer with 2 meetings in 4 slots gets them back to back, although the greedy start leaves a gap."""
    # The greedy places the more valuable E1 first, at 09:00, then E2 (free 09:40-10:20 only) at 09:40:
    # a gap. The only gap-free schedules put E1 next to E2, at 09:20 or 10:00.
    fair = make_scenario(
        ["B1"],
        ["E1", {"id": "E2", "availability": [window("09:40", "10:20")]}],
        slots=4,
        requests=[want("B1", "E1", by="both"), want("B1", "E2")],
    )
    schedule = _optimal(fair, seed=seed)
    assert schedule.stats.idle_gaps == 0
    starts = sorted(m.start for m in schedule.meetings)
    assert len(starts) == 2 and starts in (["09:20", "09:40"], ["09:40", "10:00"]), starts


def test_pinned_meeting_keeps_its_slot():
    """A pinned meeting is scheduled exactly at its pinned time even when an earlier slot is free."""
    fair = make_scenario(["B1"], ["E1"], slots=3, pinned=[pin("B1", "E1", slot_start(2))])
    solved = assert_feasible(fair)
    assert solved.meetings() == {("B1", "E1", "09:40")}
    assert meetings_of(solve_and_check(fair)) == {("B1", "E1", "09:40")}
